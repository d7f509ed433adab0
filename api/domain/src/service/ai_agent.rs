//! The AI receptionist's agent: when a caller replies in a conversation of a clinic with the AI
//! on, it answers through the outbox. [`prepare`] reads, in one transaction, what the model may
//! see: the system prompt and the conversation as turns (caller texts with number-like runs
//! removed). [`run`] then asks the model with no transaction open, runs each tool the model asks
//! for in a short transaction of its own (recording each step), and stores the answer and queues
//! its text in the last one — so a worker that dies after the model answered sends at most once:
//! the answer is stored once per caller text, and its text job is written once per message.
//!
//! Without a model, when the model fails, writes nothing, writes an answer cut off or longer than
//! [`MAX_AI_TEXT_CHARS`], or asks for tools in more than
//! [`ai_prompt::MAX_STEPS`] rounds, when the caller writes again more than
//! [`ai_prompt::MAX_TAKEN_IN`] times while it answers, when the month's token budget is spent,
//! when the AI answered the conversation [`ai_prompt::MAX_ANSWERS_A_DAY`] times in 24 hours, or
//! when a text of the conversation cannot be opened (the model would answer on part of it), the
//! caller gets the fallback (the clinic's text-back wording with the booking link, or the booking
//! the AI made and had not confirmed yet) and the conversation goes to staff, with the reason
//! recorded on it. So does a model that, over all its
//! rounds and tries, takes longer than the answer time (`RINGBACK_AI_ANSWER_SECONDS`): a caller
//! is not kept waiting.
//! An answer whose attempts all fail with errors ends the same way once it is given up
//! ([`gave_up`]). STOP and restrictions are checked when the answer is prepared (and before a
//! given-up answer's fallback) and again when its text is sent. Billing's gate for automated texts
//! ([`text_back::automated_text_held`]) is asked when the answer is prepared: held, nothing is
//! sent and the conversation goes to staff with the reason.
//! What happened in the conversation while the model thought is read, under the conversation's
//! row lock, before each tool runs and before the text is stored ([`meanwhile`]): staff taking it
//! over, closing it or replying to the caller, the AI turned off, the caller sending STOP or
//! restricting their data, or another answer of the AI stored stop this one (nothing more runs
//! or goes out: no booking is made for a caller who said stop). A caller who writes again
//! meanwhile is heard: the answer takes their new texts in and asks the model again (the tools it
//! asked for and has not run yet are not run), so one answer, which knows what the AI already
//! did, answers both.
//! The new text's own job does not answer beside it: the answer under way is marked in the
//! conversation while it runs ([`prepare`]), and a job prepared meanwhile ends, its text left to
//! that answer (both decided under the conversation's lock, so the answer's last check sees it);
//! an answer that stops without taking it in, while the AI still answers the conversation, queues
//! an answer for what it left ([`answer_what_is_left`]).
//! Which caller texts are still to be answered is read from what the AI's answers recorded
//! ([`to_answer`]), not from whether the last text stored is the caller's: a text stamped as it
//! arrived while an answer was being stored, and so stamped before it, is still answered.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use ringback_core::error::DomainError;
use ringback_core::outbox::{self, NewJob};
use ringback_core::secrets::Secrets;
use ringback_core::tenant::{TenantScope, TenantTxn, in_clinic};
use ringback_entity::{ai_step, appointment, clinic as clinic_row, conversation, message};
use ringback_providers::anthropic::{
    Block, ConversationModel, MessagesRequest, Role, StopReason, ToolChoice, Turn,
};
use ringback_shared::ai::state as ai_state;
use ringback_shared::metrics::{local_day, parse_time_zone};
use ringback_shared::sms::with_automated_marker;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, Order, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::Value;
use tokio::time::{Instant, timeout_at};
use uuid::Uuid;

use crate::jobs::AiAnswer;
use crate::service::ai_prompt::{self, ClinicFacts, tool};
use crate::service::ai_tools::{self, ToolAnswer};
use crate::service::billing::BillingSettings;
use crate::service::calendar::{CALENDAR_UNCHECKED, CalendarDesk};
use crate::service::messages;
use crate::service::{
    ai_follow_ups, ai_settings, clinic, conversations, keys, restrictions, text_back,
};

/// What the model is asked to answer.
pub struct Answering {
    /// The caller text the answer's job was queued for (it names the answer in the conversation's
    /// mark of an answer under way).
    queued_for: Uuid,
    pub conversation: Uuid,
    /// The caller's latest text (by its stamp), answered with every text of theirs before it that
    /// no answer covered; it moves on when the caller writes again while the model thinks.
    pub answered: Uuid,
    /// When `answered` was stamped.
    answered_at: chrono::DateTime<Utc>,
    system: String,
    turns: Vec<Turn>,
    /// Why the model is not asked at all, when the answer was prepared (the month's token budget
    /// spent, the conversation's answers of the day used up).
    held_back: Option<String>,
    /// Whether a text of the conversation (STOP, START and HELP aside) could not be opened: the
    /// model would see only part of it.
    unreadable: bool,
    /// Every message of the conversation when the answer was prepared: anything else was written
    /// while the model thought ([`written_since`]).
    seen: HashSet<Uuid>,
    /// The clinic's calendar as the answer was prepared.
    calendar: CalendarWhenPrepared,
}

/// The clinic's Google calendar, whose busy times the slot tools keep clear of, and the clinic's
/// day when an answer was prepared (no day out of the tools' reach is asked about).
struct CalendarWhenPrepared {
    /// The calendar the clinic shared; `None`: no calendar is asked.
    id: Option<String>,
    today: NaiveDate,
}

/// How an answer ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answered {
    /// The AI's text is stored and queued.
    Replied { message: Uuid },
    /// The fallback text is stored and queued and the conversation went to staff, for `reason`.
    FellBack {
        message: Option<Uuid>,
        reason: String,
    },
    /// Nothing was to be done (answered before, or the caller cannot be texted).
    Nothing(&'static str),
}

/// Whether the AI answers replies in `thread` of `settings`' clinic now.
pub fn answers(settings: &clinic_row::Model, thread: &conversation::Model) -> bool {
    settings.ai_enabled
        && thread.status == conversations::OPEN
        && thread.number_sealed.is_some()
        && matches!(thread.ai_state.as_deref(), None | Some(ai_state::ACTIVE))
}

/// The clinic's AI switch and whether its month's token budget is spent, as the inbox tells
/// staff whether the AI answers ([`paused_because`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AiSwitch {
    pub enabled: bool,
    pub budget_spent: bool,
}

/// Reads the clinic's [`AiSwitch`]: its settings and the month's tokens (one indexed sum).
pub async fn switch(txn: &TenantTxn) -> Result<AiSwitch, DomainError> {
    let settings = clinic::get(txn).await?;
    Ok(AiSwitch {
        enabled: settings.ai_enabled,
        budget_spent: budget_spent(txn, &settings).await?,
    })
}

/// Why the AI receptionist will not answer the next text in a conversation it answers, in staff's
/// words, when it will not: the clinic turned it off (nobody answers but the team), this server
/// has no model to ask, the month's token budget is spent, or the AI already answered this
/// conversation [`ai_prompt::MAX_ANSWERS_A_DAY`] times in the last day (`day_used_up`,
/// [`day_is_used_up`]; in the last three the caller gets the clinic's fallback text and the
/// conversation goes to the team). `None`: it answers.
pub fn paused_because(
    switch: AiSwitch,
    model_configured: bool,
    day_used_up: bool,
) -> Option<String> {
    let falls_back = "so the caller's next text gets the fallback reply and comes to the team";
    if !switch.enabled {
        Some("the AI receptionist is turned off for the clinic, so the team answers".to_owned())
    } else if !model_configured {
        Some(format!("this server has no AI model, {falls_back}"))
    } else if switch.budget_spent {
        Some(format!(
            "its token budget for the month is spent, {falls_back}"
        ))
    } else if day_used_up {
        Some(format!(
            "it answered this caller {} times in the last day, {falls_back}",
            ai_prompt::MAX_ANSWERS_A_DAY
        ))
    } else {
        None
    }
}

/// The AI's answers in each of `conversations` in the day before the transaction's now (those
/// with none are left out): what [`ai_prompt::MAX_ANSWERS_A_DAY`] counts. One grouped count over
/// the steps' (conversation) index.
pub async fn answers_in_the_last_day(
    txn: &TenantTxn,
    conversations: &[Uuid],
) -> Result<HashMap<Uuid, u64>, DomainError> {
    let counted: Vec<(Uuid, i64)> = txn
        .find::<ai_step::Entity>()
        .select_only()
        .column(ai_step::Column::ConversationId)
        .column_as(Expr::cust("COUNT(*)"), "answers")
        .filter(ai_step::Column::ConversationId.is_in(conversations.iter().copied()))
        .filter(ai_step::Column::Action.eq(REPLY))
        .filter(ai_step::Column::CreatedAt.gt(txn.now() - chrono::Duration::days(1)))
        .group_by(ai_step::Column::ConversationId)
        .into_tuple()
        .all(txn.conn())
        .await?;
    Ok(counted
        .into_iter()
        .map(|(id, answers)| (id, u64::try_from(answers).unwrap_or(0)))
        .collect())
}

/// Whether `answered` answers in the last day ([`answers_in_the_last_day`]) are all a
/// conversation gets: the model is not asked for another there until one is a day old.
pub fn day_is_used_up(answered: u64) -> bool {
    answered >= ai_prompt::MAX_ANSWERS_A_DAY
}

/// Queues the AI's answer to the caller's text `reply`, in the reply's transaction, when the AI
/// answers its conversation.
pub async fn queue_answer(txn: &TenantTxn, reply: &message::Model) -> Result<(), DomainError> {
    let settings = clinic::get(txn).await?;
    let Some(thread) = in_clinic::<conversation::Entity>(txn, reply.conversation_id).await? else {
        return Ok(());
    };
    if !answers(&settings, &thread) {
        return Ok(());
    }
    let job = NewJob {
        job: AiAnswer {
            conversation: thread.id,
            message: reply.id,
            after: None,
        },
        sealed_number: None,
        body_sealed: None,
        run_at: txn.now(),
    };
    outbox::enqueue(txn, job, txn.now()).await?;
    Ok(())
}

/// Reads what the model may see for `job`, or says why there is nothing to answer, with the
/// conversation locked; marks the answer under way in it ([`another_answer_under_way`]: a caller
/// text arriving meanwhile is taken into this answer, whose answer time is `answer_time`). A
/// conversation staff replied in while the AI was off (no AI state, a staff text) is theirs: it is
/// marked taken over and not answered.
pub async fn prepare(
    txn: &TenantTxn,
    (secrets, billing): (&Secrets, Option<&BillingSettings>),
    job: &AiAnswer,
    answer_time: Duration,
) -> Result<Result<Answering, &'static str>, DomainError> {
    let settings = clinic::get(txn).await?;
    let Some(thread) = conversations::find_locked(txn, job.conversation).await? else {
        return Ok(Err("the conversation is gone"));
    };
    if thread.ai_answering_for == Some(job.message) {
        // A retry of the answer that marked it: the mark is set again below if it answers.
        mark_answering(txn, thread.id, None).await?;
    }
    if !answers(&settings, &thread) {
        return Ok(Err("the AI does not answer this conversation"));
    }
    if another_answer_under_way(&thread, job.message, txn.now(), answer_time) {
        return Ok(Err("an answer under way takes this text in"));
    }
    if !restrictions::may_be_texted(txn, &thread.caller_key).await? {
        return Ok(Err("the caller gets no texts"));
    }
    if already_answered(txn, job.message).await? {
        return Ok(Err("already answered"));
    }
    let Some((shown, latest)) = open_texts(txn, secrets, thread.id).await? else {
        return Ok(Err(ANSWERED_MEANWHILE));
    };
    if thread.ai_state.is_none() && shown.iter().any(|m| m.row.kind == messages::KIND_STAFF) {
        // Staff replied while the AI was off for the clinic: they keep the conversation.
        conversations::take_over_from_ai(txn, &settings, thread, txn.now()).await?;
        return Ok(Err("staff answer this conversation"));
    }
    let answered_at = shown
        .iter()
        .find(|message| message.row.id == latest)
        .map_or(txn.now(), |message| message.row.created_at);
    let unreadable = shown
        .iter()
        .any(|message| message.body.is_none() && message.row.kind != messages::KIND_KEYWORD);
    let seen = shown.iter().map(|message| message.row.id).collect();
    let (opening, turns) = turns_of(&shown);
    let services = ai_settings::services(txn).await?;
    let services: Vec<_> = services.iter().map(ai_settings::as_service).collect();
    let mut system = ai_prompt::system_prompt(
        &ClinicFacts::of(&settings),
        &ai_settings::settings_of(&settings),
        &services,
        today(&settings, txn),
    );
    if let Some(opening) = opening {
        system.push_str(&format!("Your first text to the caller was: {opening}\n"));
    }
    if let Some(why) = text_back::automated_text_held(txn, billing).await? {
        // Nothing is sent: the caller's text goes to staff, who are told why.
        let reason = serde_json::json!({ "reason": why });
        ai_tools::hand_off(txn, thread.clone(), &reason).await?;
        let step = Step {
            action: tool::HAND_OFF,
            outcome: DONE.to_owned(),
            tokens: 0,
            appointment: None,
        };
        record_step(txn, (thread.id, job.message), step).await?;
        return Ok(Err(why));
    }
    let held_back = held_back(txn, &settings, thread.id).await?;
    mark_answering(txn, thread.id, Some((job.message, txn.now()))).await?;
    Ok(Ok(Answering {
        queued_for: job.message,
        conversation: thread.id,
        answered: latest,
        answered_at,
        system,
        turns,
        held_back,
        unreadable,
        seen,
        calendar: CalendarWhenPrepared {
            id: settings.google_calendar_id.clone(),
            today: today(&settings, txn),
        },
    }))
}

/// Whether an answer to another caller text than `own` is under way in `thread` at `now`: marked,
/// and begun less than the `answer_time` and a minute ago (an answer whose worker died stops
/// counting then). Its checks before each tool and before its text ([`meanwhile`]), which read
/// the conversation under the same lock, take the new text in.
fn another_answer_under_way(
    thread: &conversation::Model,
    own: Uuid,
    now: chrono::DateTime<Utc>,
    answer_time: Duration,
) -> bool {
    let still_counts = chrono::Duration::from_std(answer_time)
        .unwrap_or(chrono::Duration::MAX)
        .checked_add(&chrono::Duration::minutes(1))
        .unwrap_or(chrono::Duration::MAX);
    match (thread.ai_answering_for, thread.ai_answering_since) {
        (Some(owner), Some(since)) => owner != own && now - since < still_counts,
        _ => false,
    }
}

/// Marks in `conversation` the answer under way (`Some((the caller text it was queued for, when
/// it began))`), or that none is (`None`).
async fn mark_answering(
    txn: &TenantTxn,
    conversation: Uuid,
    under_way: Option<(Uuid, chrono::DateTime<Utc>)>,
) -> Result<(), DomainError> {
    txn.update_many::<conversation::Entity>()
        .col_expr(
            conversation::Column::AiAnsweringFor,
            Expr::value(under_way.map(|(owner, _)| owner)),
        )
        .col_expr(
            conversation::Column::AiAnsweringSince,
            Expr::value(under_way.map(|(_, since)| since)),
        )
        .filter(conversation::Column::Id.eq(conversation))
        .exec(txn.conn())
        .await?;
    Ok(())
}

/// Ends `ready`'s mark as the answer under way in its conversation (unless another answer took
/// the mark after this one stopped counting).
async fn end_answering(txn: &TenantTxn, ready: &Answering) -> Result<(), DomainError> {
    let thread = locked_thread(txn, ready).await?;
    if thread.ai_answering_for == Some(ready.queued_for) {
        mark_answering(txn, ready.conversation, None).await?;
    }
    Ok(())
}

/// An answer whose attempts all failed (errors, not the model's: those fall back): its mark is
/// cleared, and while the AI still answers the conversation and no answer covered the text, the
/// conversation goes to staff with the reason and, unless the caller sent STOP or restricted
/// their data meanwhile, the caller gets the clinic's fallback text, as when the model fails, so
/// that the caller's texts (and those left to this answer) are not left with nobody. The text is
/// stored in a savepoint: when it cannot be (the clinic's key cannot be opened, one way attempts
/// fail; a refused write), that is logged and the hand-over stands without it.
pub async fn gave_up(
    txn: &TenantTxn,
    secrets: &Secrets,
    job: &AiAnswer,
) -> Result<(), DomainError> {
    let Some(thread) = conversations::find_locked(txn, job.conversation).await? else {
        return Ok(());
    };
    if thread.ai_answering_for == Some(job.message) {
        mark_answering(txn, thread.id, None).await?;
    }
    let settings = clinic::get(txn).await?;
    if !answers(&settings, &thread) || already_answered(txn, job.message).await? {
        return Ok(());
    }
    let reason = "the AI could not answer: its attempts failed";
    let caller_key = thread.caller_key.clone();
    ai_tools::hand_off(txn, thread, &serde_json::json!({ "reason": reason })).await?;
    if restrictions::may_be_texted(txn, &caller_key).await? {
        let savepoint = txn.savepoint().await?;
        let text = fallback_words(txn, &settings, job.conversation).await?;
        match send_text(&savepoint, secrets, job.conversation, &text).await {
            Ok(_) => savepoint.keep_in(txn).await?,
            Err(error) => {
                savepoint.undo().await?;
                tracing::warn!(
                    clinic = %txn.clinic_id(),
                    conversation = %job.conversation,
                    %error,
                    "no fallback text for an answer given up: it could not be stored"
                );
            }
        }
    }
    let step = Step {
        action: FALLBACK,
        outcome: reason.to_owned(),
        tokens: 0,
        appointment: None,
    };
    record_step(txn, (job.conversation, job.message), step).await
}

/// Hands `thread` to staff with `reason` (unless the model already handed it to them: its reason
/// and their notice stand) and texts the caller the clinic's fallback text: the stored text, or `None` when the number is not kept or the daily texting limit is reached.
async fn hand_over(
    txn: &TenantTxn,
    secrets: &Secrets,
    settings: &clinic_row::Model,
    thread: conversation::Model,
    reason: &str,
) -> Result<Option<Uuid>, DomainError> {
    let conversation = thread.id;
    if thread.ai_state.as_deref() != Some(ai_state::HANDED_OFF) {
        ai_tools::hand_off(txn, thread, &serde_json::json!({ "reason": reason })).await?;
    }
    let text = fallback_words(txn, settings, conversation).await?;
    send_text(txn, secrets, conversation, &text).await
}

/// What the caller is texted when the AI stops answering `conversation`: the clinic's fallback
/// (its text-back wording with the booking link), unless the AI booked a visit the caller was not
/// yet told of (the model failed or ran out of time after booking): then that booking, so the
/// caller neither misses it nor books again by the link.
async fn fallback_words(
    txn: &TenantTxn,
    settings: &clinic_row::Model,
    conversation: Uuid,
) -> Result<String, DomainError> {
    let Some(starts_at) = untold_booking(txn, conversation).await? else {
        return Ok(clinic::fallback_text(settings, txn.now()));
    };
    let zone = clinic::time_zone(settings)?;
    let at = starts_at.with_timezone(&zone).format("%A %-d %B at %H:%M");
    Ok(format!(
        "{}: you are booked in for {at}. The team will read your messages and reply here.",
        settings.name
    ))
}

/// When the visit starts that the AI booked in `conversation` after its last text to the caller,
/// if it still stands.
async fn untold_booking(
    txn: &TenantTxn,
    conversation: Uuid,
) -> Result<Option<chrono::DateTime<Utc>>, DomainError> {
    let last_told = txn
        .find::<message::Entity>()
        .filter(message::Column::ConversationId.eq(conversation))
        .filter(message::Column::Direction.eq(messages::OUTBOUND))
        .order_by_desc(message::Column::CreatedAt)
        .one(txn.conn())
        .await?
        .map(|text| text.created_at);
    let mut booked = txn
        .find::<ai_step::Entity>()
        .filter(ai_step::Column::ConversationId.eq(conversation))
        .filter(ai_step::Column::AppointmentId.is_not_null());
    if let Some(told) = last_told {
        booked = booked.filter(ai_step::Column::CreatedAt.gt(told));
    }
    let Some(appointment) = booked
        .order_by_desc(ai_step::Column::CreatedAt)
        .one(txn.conn())
        .await?
        .and_then(|step| step.appointment_id)
    else {
        return Ok(None);
    };
    Ok(in_clinic::<appointment::Entity>(txn, appointment)
        .await?
        .filter(|row| row.cancelled_at.is_none())
        .and_then(|row| row.starts_at))
}

/// The clinic-local day at the transaction's now.
fn today(settings: &clinic_row::Model, txn: &TenantTxn) -> NaiveDate {
    parse_time_zone(&settings.time_zone)
        .map(|zone| local_day(txn.now(), zone))
        .unwrap_or_else(|_| txn.now().date_naive())
}

/// The conversation as the model reads it and the caller's latest text to answer, or `None` when
/// every text of the caller's was answered. A caller's text is answered when a staff text follows
/// it, or when an answer of the AI covered it or a later one (`covered`: the texts each answer
/// recorded as answered, with everything before them). The texts still to answer come last, after
/// whatever was stored around them (an answer being sent as they came, a text-back), so the model
/// reads them as what it answers now. STOP, START and HELP are left where they are (the model
/// never reads them).
fn to_answer(
    shown: Vec<conversations::ShownMessage>,
    covered: &HashSet<Uuid>,
) -> Option<(Vec<conversations::ShownMessage>, Uuid)> {
    let is_callers = |message: &conversations::ShownMessage| {
        message.row.direction == messages::INBOUND && message.row.kind != messages::KIND_KEYWORD
    };
    let answered_up_to = shown.iter().rposition(|message| {
        message.row.kind == messages::KIND_STAFF
            || (is_callers(message) && covered.contains(&message.row.id))
    });
    let (mut before, mut open): (Vec<_>, Vec<_>) = (Vec::new(), Vec::new());
    for (index, message) in shown.into_iter().enumerate() {
        if is_callers(&message) && answered_up_to.is_none_or(|up_to| index > up_to) {
            open.push(message);
        } else {
            before.push(message);
        }
    }
    let latest = open.last()?.row.id;
    before.append(&mut open);
    Some((before, latest))
}

/// `conversation` as the model reads it and the caller's latest text still to answer
/// ([`to_answer`]), or `None` when every text of the caller's was answered.
async fn open_texts(
    txn: &TenantTxn,
    secrets: &Secrets,
    conversation: Uuid,
) -> Result<Option<(Vec<conversations::ShownMessage>, Uuid)>, DomainError> {
    let shown = conversations::shown_messages_of(txn, secrets, conversation).await?;
    let covered = texts_answered_by_ai(txn, conversation).await?;
    Ok(to_answer(shown, &covered))
}

/// The caller's texts the AI's answers in `conversation` recorded as answered (each with the
/// caller's texts before it).
async fn texts_answered_by_ai(
    txn: &TenantTxn,
    conversation: Uuid,
) -> Result<HashSet<Uuid>, DomainError> {
    let answered: Vec<Uuid> = txn
        .find::<ai_step::Entity>()
        .filter(ai_step::Column::ConversationId.eq(conversation))
        .filter(ai_step::Column::Action.is_in(ANSWERS))
        .select_only()
        .column(ai_step::Column::AnsweredMessageId)
        .into_tuple()
        .all(txn.conn())
        .await?;
    Ok(answered.into_iter().collect())
}

/// The step of an answer the model wrote.
pub const REPLY: &str = "reply";
/// The outcome of a tool that did what it was asked (a hand-off counts in the figures by it).
pub const DONE: &str = "done";
/// The step of an answer that fell back to the clinic's wording and staff.
pub const FALLBACK: &str = "fallback";
/// The step of a tool the model asked for that does not exist.
pub const UNKNOWN_TOOL: &str = "unknown_tool";
/// Most characters of an unknown tool's name kept in its refusal.
const MAX_TOOL_NAME_CHARS: usize = 40;
/// Most characters of a text the AI sends (four SMS segments in the GSM alphabet, more with
/// emoji or accents): a longer answer falls back.
pub const MAX_AI_TEXT_CHARS: usize = 480;
/// The steps that answer the caller: each records the caller's latest text it answered.
const ANSWERS: [&str; 2] = [REPLY, FALLBACK];

/// The action a tool step is recorded under: the tool's own name, or [`UNKNOWN_TOOL`] for a name
/// the model made up (which must never pass for one of the answer's own steps, such as a reply).
fn step_action_of(name: &str) -> &'static str {
    ai_prompt::TOOL_NAMES
        .into_iter()
        .find(|tool| *tool == name)
        .unwrap_or(UNKNOWN_TOOL)
}

/// The conversation as the model's turns (caller texts as the user's, every text to the caller as
/// the assistant's, consecutive texts of one side joined, number-like runs removed from both),
/// and the texts to the caller before
/// the caller's first (the model's turns must start with the user's). A text that could not be
/// opened is left out (the answer then falls back: [`run`]).
fn turns_of(shown: &[conversations::ShownMessage]) -> (Option<String>, Vec<Turn>) {
    let mut opening: Vec<String> = Vec::new();
    let mut turns: Vec<Turn> = Vec::new();
    for message in shown {
        let Some(body) = &message.body else {
            continue;
        };
        if message.row.kind == messages::KIND_KEYWORD {
            continue;
        }
        // Texts to the caller lose their number-like runs too (the clinic's wording or a staff
        // reply may give a number); the slots the AI offered ("2026-12-03 10:00") are dates and
        // times, which stay, so a later answer still reads them.
        let role = if message.row.direction == messages::INBOUND {
            Role::User
        } else {
            Role::Assistant
        };
        let text = ai_prompt::text_for_model(body);
        if turns.is_empty() && role == Role::Assistant {
            opening.push(text);
            continue;
        }
        match turns.last_mut() {
            Some(last) if last.role == role => {
                if let Some(Block::Text { text: joined }) = last.content.first_mut() {
                    joined.push('\n');
                    joined.push_str(&text);
                }
            }
            _ => turns.push(Turn {
                role,
                content: vec![Block::Text { text }],
            }),
        }
    }
    let opening = (!opening.is_empty()).then(|| opening.join("\n"));
    (opening, latest_turns(turns, MAX_TURNS))
}

/// Most turns of a conversation the model reads: the latest, so a long conversation costs no more
/// than a short one.
pub const MAX_TURNS: usize = 20;

/// The last `max` turns of `turns`, starting with the caller's (as the model requires).
fn latest_turns(mut turns: Vec<Turn>, max: usize) -> Vec<Turn> {
    let surplus = turns.len().saturating_sub(max);
    turns.drain(..surplus);
    let first_of_caller = turns
        .iter()
        .position(|turn| turn.role == Role::User)
        .unwrap_or(turns.len());
    turns.drain(..first_of_caller);
    turns
}

async fn already_answered(txn: &TenantTxn, answered: Uuid) -> Result<bool, DomainError> {
    Ok(txn
        .find::<ai_step::Entity>()
        .filter(ai_step::Column::AnsweredMessageId.eq(answered))
        .filter(ai_step::Column::Action.is_in(ANSWERS))
        .one(txn.conn())
        .await?
        .is_some())
}

/// What the AI did in each of `conversations`, oldest first (at most [`MAX_STEPS_SHOWN`] each),
/// read in one statement; a conversation without steps is absent.
pub async fn steps_of_each(
    txn: &TenantTxn,
    conversations: &[Uuid],
) -> Result<HashMap<Uuid, Vec<ai_step::Model>>, DomainError> {
    let steps = txn
        .first_of_each::<ai_step::Entity>(
            ai_step::Column::ConversationId.is_in(conversations.iter().copied()),
            ai_step::Column::ConversationId,
            &[
                (ai_step::Column::CreatedAt, Order::Asc),
                (ai_step::Column::Id, Order::Asc),
            ],
            MAX_STEPS_SHOWN,
        )
        .await?;
    let mut of_each: HashMap<Uuid, Vec<ai_step::Model>> = HashMap::new();
    for step in steps {
        of_each.entry(step.conversation_id).or_default().push(step);
    }
    Ok(of_each)
}

/// Most steps one conversation's view lists.
pub const MAX_STEPS_SHOWN: u64 = 200;

/// Model tokens the clinic (of `settings`) used this calendar month (the clinic's local month, as
/// the dashboard's AI figures count it).
pub async fn tokens_this_month(
    txn: &TenantTxn,
    settings: &clinic_row::Model,
) -> Result<i64, DomainError> {
    let month_start = clinic::month_start(settings, txn.now())?;
    // Summed by the database over the (clinic, created_at) index; cast, as PostgreSQL sums
    // bigints into numerics.
    let used: Option<Option<i64>> = txn
        .find::<ai_step::Entity>()
        .filter(ai_step::Column::CreatedAt.gte(month_start))
        .select_only()
        .column_as(Expr::cust("CAST(SUM(tokens) AS BIGINT)"), "used")
        .into_tuple()
        .one(txn.conn())
        .await?;
    Ok(used.flatten().unwrap_or(0))
}

/// Whether the clinic (of `settings`) used its month's token budget: the model is not asked
/// until the next month.
pub async fn budget_spent(
    txn: &TenantTxn,
    settings: &clinic_row::Model,
) -> Result<bool, DomainError> {
    Ok(tokens_this_month(txn, settings).await? >= settings.ai_monthly_token_budget)
}

/// Why an answer falls back when the clinic's token budget for the month is spent.
const BUDGET_SPENT: &str = "the month's AI budget is spent";

/// Whether the clinic's month's token budget is spent, read in a transaction of its own (between
/// an answer's rounds, with none open).
async fn budget_spent_now(scope: &TenantScope) -> Result<bool, DomainError> {
    let txn = scope.begin().await?;
    let spent = budget_spent(&txn, &clinic::get(&txn).await?).await?;
    txn.commit().await?;
    Ok(spent)
}

/// Why the model may not be asked for an answer in `conversation` now: the clinic's token budget
/// for the month is spent, or the AI already answered [`ai_prompt::MAX_ANSWERS_A_DAY`] times in
/// the conversation in the last 24 hours.
async fn held_back(
    txn: &TenantTxn,
    settings: &clinic_row::Model,
    conversation: Uuid,
) -> Result<Option<String>, DomainError> {
    if budget_spent(txn, settings).await? {
        return Ok(Some(BUDGET_SPENT.to_owned()));
    }
    let answered = answers_in_the_last_day(txn, &[conversation]).await?;
    let answered = answered.get(&conversation).copied().unwrap_or(0);
    Ok(day_is_used_up(answered).then(|| {
        format!(
            "the AI answered this caller {} times in a day",
            ai_prompt::MAX_ANSWERS_A_DAY
        )
    }))
}

/// A step to record.
pub(crate) struct Step<'a> {
    pub action: &'a str,
    pub outcome: String,
    pub tokens: u64,
    pub appointment: Option<Uuid>,
}

impl Answering {
    /// The conversation and the caller's text this answer is about.
    fn about(&self) -> (Uuid, Uuid) {
        (self.conversation, self.answered)
    }

    /// Takes the caller's `texts`, written while the model thought, into the answer: the latest
    /// is what it answers now. Their words as the model reads them (one line each), or `None`
    /// when one of them cannot be opened.
    fn take_in(&mut self, texts: &[conversations::ShownMessage]) -> Option<String> {
        self.seen.extend(texts.iter().map(|text| text.row.id));
        let stamp = |text: &conversations::ShownMessage| (text.row.created_at, text.row.id);
        if let Some(latest) = texts.iter().map(stamp).max()
            && latest > (self.answered_at, self.answered)
        {
            (self.answered_at, self.answered) = latest;
        }
        let words: Option<Vec<String>> = texts
            .iter()
            .map(|text| text.body.as_deref().map(ai_prompt::text_for_model))
            .collect();
        Some(words?.join("\n"))
    }
}

/// Records `step` of the AI in `conversation`, about message `about`, now.
pub(crate) async fn record_step(
    txn: &TenantTxn,
    about: (Uuid, Uuid),
    step: Step<'_>,
) -> Result<(), DomainError> {
    record_step_at(txn, about, step, txn.now()).await
}

/// Records `step` as taken `at` (earlier than now only for the demo's history).
pub(crate) async fn record_step_at(
    txn: &TenantTxn,
    (conversation, about): (Uuid, Uuid),
    step: Step<'_>,
    at: chrono::DateTime<Utc>,
) -> Result<(), DomainError> {
    ai_step::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        id: Set(Uuid::now_v7()),
        conversation_id: Set(conversation),
        answered_message_id: Set(about),
        action: Set(step.action.chars().take(40).collect()),
        outcome: Set(step.outcome.chars().take(200).collect()),
        tokens: Set(i64::try_from(step.tokens).unwrap_or(i64::MAX)),
        appointment_id: Set(step.appointment),
        created_at: Set(at),
    }
    .insert(txn.conn())
    .await?;
    Ok(())
}

/// Why an answer stops when another answer of the AI to the same texts was stored first.
const ANSWERED_MEANWHILE: &str = "the caller's text was answered meanwhile";

/// Why an answer falls back when a text of its conversation cannot be opened.
const UNREADABLE_TEXT: &str = "a text in this conversation could not be opened";

/// Answers `ready`: the model's tool-use loop, then the answer stored and queued (or the
/// fallback, when a text of the conversation cannot be opened, there is no model, it fails, the
/// budget is spent, the steps run out or the model's rounds together take longer than `within`).
/// The caller's texts written meanwhile are taken in between rounds ([`meanwhile`]). The slot
/// tools keep clear of what the clinic's Google calendar shows busy (asked through `calendar`).
pub async fn run(
    scope: &TenantScope,
    (secrets, calendar): (&Secrets, Option<&CalendarDesk>),
    (model, within): (Option<Arc<dyn ConversationModel>>, Duration),
    mut ready: Answering,
) -> Result<Answered, DomainError> {
    if ready.unreadable {
        return fall_back(scope, secrets, &mut ready, UNREADABLE_TEXT, 0).await;
    }
    let Some(model) = model else {
        return fall_back(scope, secrets, &mut ready, "no AI model is configured", 0).await;
    };
    if let Some(reason) = ready.held_back.take() {
        return fall_back(scope, secrets, &mut ready, &reason, 0).await;
    }
    let deadline = Instant::now() + within;
    let mut turns = std::mem::take(&mut ready.turns);
    let mut rounds = Rounds::default();
    let mut asked_before = false;
    loop {
        if let Some(reason) = rounds.too_many() {
            return fall_back(scope, secrets, &mut ready, &reason, 0).await;
        }
        // Each round's tokens are recorded with its steps: the budget is asked again before the
        // model is, so a long answer stops where the month's budget ends.
        if asked_before && budget_spent_now(scope).await? {
            return fall_back(scope, secrets, &mut ready, BUDGET_SPENT, 0).await;
        }
        asked_before = true;
        let request = MessagesRequest {
            model: model.model().to_owned(),
            max_tokens: ai_prompt::MAX_TOKENS,
            system: ready.system.clone(),
            messages: turns.clone(),
            tools: ai_prompt::tools(),
            tool_choice: Some(ToolChoice::Auto),
        };
        let response = match timeout_at(deadline, model.complete(&request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => {
                let reason = format!("the AI model could not answer ({error})");
                return fall_back(scope, secrets, &mut ready, &reason, 0).await;
            }
            Err(_) => {
                let reason = format!(
                    "the AI model took longer than {} s to answer",
                    within.as_secs()
                );
                return fall_back(scope, secrets, &mut ready, &reason, 0).await;
            }
        };
        let tokens = response.usage.total();
        let uses: Vec<(String, String, Value)> = response
            .tool_uses()
            .into_iter()
            .map(|(id, name, input)| (id.to_owned(), name.to_owned(), input.clone()))
            .collect();
        if uses.is_empty() || response.stop_reason != Some(StopReason::ToolUse) {
            let text = response.text();
            if let Some(reason) = unsendable(response.stop_reason, &text) {
                return fall_back(scope, secrets, &mut ready, reason, tokens).await;
            }
            let wrote = match reply(scope, secrets, &mut ready, &text, tokens).await? {
                Replying::Ended(answered) => return Ok(answered),
                Replying::CallerWrote(wrote) => wrote,
            };
            let Some(words) = ready.take_in(&wrote) else {
                return fall_back(scope, secrets, &mut ready, UNREADABLE_TEXT, 0).await;
            };
            rounds.taken_in += 1;
            add_to_callers_turn(&mut turns, words);
            continue;
        }
        let asked: Vec<Block> = response
            .content
            .into_iter()
            .filter(|block| !matches!(block, Block::Other))
            .collect();
        turns.push(Turn {
            role: Role::Assistant,
            content: asked,
        });
        let mut results = Vec::with_capacity(uses.len() + 1);
        let mut wrote = None;
        let mut ran_any = false;
        for (index, (id, name, input)) in uses.iter().enumerate() {
            let step_tokens = if index == 0 { tokens } else { 0 };
            if wrote.is_some() {
                results.push(not_run(id));
                continue;
            }
            let tool_use = (id.as_str(), name.as_str(), input);
            let helpers = (secrets, calendar, deadline);
            match run_tool(scope, helpers, &ready, tool_use, step_tokens).await? {
                ToolRun::Ran(result) => {
                    ran_any = true;
                    results.push(result);
                }
                ToolRun::Stopped(why) => return Ok(Answered::Nothing(why)),
                ToolRun::CallerWrote(texts) => {
                    results.push(not_run(id));
                    wrote = Some(texts);
                }
            }
        }
        if ran_any {
            rounds.tools += 1;
        }
        if let Some(texts) = wrote {
            let Some(words) = ready.take_in(&texts) else {
                return fall_back(scope, secrets, &mut ready, UNREADABLE_TEXT, 0).await;
            };
            rounds.taken_in += 1;
            results.push(Block::Text { text: words });
        }
        turns.push(Turn {
            role: Role::User,
            content: results,
        });
    }
}

/// What one answer has asked the model so far, counted for its bounds: rounds in which tools the
/// model asked for ran, and times the caller's new texts were taken in (each asks the model
/// again, so a caller who writes while it thinks does not use up the tools' rounds; a round
/// whose tools the caller's texts kept from running counts as a text taken in only).
#[derive(Default)]
struct Rounds {
    tools: usize,
    taken_in: usize,
}

impl Rounds {
    /// Why the answer may not ask the model again, when a bound is reached.
    fn too_many(&self) -> Option<String> {
        if self.tools >= ai_prompt::MAX_STEPS {
            Some(format!(
                "the AI took more than {} steps",
                ai_prompt::MAX_STEPS
            ))
        } else if self.taken_in > ai_prompt::MAX_TAKEN_IN {
            Some(format!(
                "the caller wrote again more than {} times while the AI answered",
                ai_prompt::MAX_TAKEN_IN
            ))
        } else {
            None
        }
    }
}

/// Adds the caller's `words`, written while the model thought, to the turns, as the caller's:
/// to the last turn when it is theirs (their first texts, or the results of the tools the model
/// asked for), else as a turn of their own.
fn add_to_callers_turn(turns: &mut Vec<Turn>, words: String) {
    let text = Block::Text { text: words };
    match turns.last_mut() {
        Some(last) if last.role == Role::User => last.content.push(text),
        _ => turns.push(Turn {
            role: Role::User,
            content: vec![text],
        }),
    }
}

/// The result of a tool the model asked for and that did not run, because the caller wrote again
/// before it did.
fn not_run(tool_use_id: &str) -> Block {
    Block::ToolResult {
        tool_use_id: tool_use_id.to_owned(),
        content: "not run: the caller wrote again before it ran; read their new text".to_owned(),
        is_error: true,
    }
}

/// How a tool the model asked for came out.
enum ToolRun {
    /// It ran: the result block for the model.
    Ran(Block),
    /// The answer stops here, for this reason ([`meanwhile`]).
    Stopped(&'static str),
    /// The caller wrote these texts meanwhile: the tool did not run.
    CallerWrote(Vec<conversations::ShownMessage>),
}

/// Runs one tool the model asked for in its own transaction and records the step, unless what
/// happened meanwhile ([`meanwhile`]) stops the answer (a `stopped` step keeps `tokens`) or the
/// caller wrote again (a `caller_wrote` step keeps them). A slot tool first asks Google, before
/// the transaction and within the answer's `deadline`, when the clinic's calendar is busy.
async fn run_tool(
    scope: &TenantScope,
    (secrets, calendar, deadline): (&Secrets, Option<&CalendarDesk>, Instant),
    ready: &Answering,
    (id, name, input): (&str, &str, &Value),
    tokens: u64,
) -> Result<ToolRun, DomainError> {
    let prepared = &ready.calendar;
    let asked = ai_tools::busy_in_calendar(
        (calendar, prepared.id.as_deref()),
        (name, input),
        prepared.today,
    );
    let busy_elsewhere = timeout_at(deadline, asked)
        .await
        .unwrap_or_else(|_| Err(CALENDAR_UNCHECKED.to_owned()));
    let txn = scope.begin().await?;
    let thread = locked_thread(&txn, ready).await?;
    let settings = clinic::get(&txn).await?;
    // A calendar chosen (or changed) since the answer was prepared was not the one asked: no
    // time is offered or booked from the one it replaced, or from none.
    let asked_another_calendar = settings.google_calendar_id != prepared.id
        && ai_tools::days_looked_at(name, input, prepared.today).is_some();
    let busy_elsewhere = match asked_another_calendar {
        true => Err(CALENDAR_UNCHECKED.to_owned()),
        false => busy_elsewhere,
    };
    match meanwhile(&txn, secrets, ready, &settings, &thread).await? {
        Meanwhile::Nothing => {}
        Meanwhile::Stop(why) => {
            stopped(txn, secrets, ready, why, tokens).await?;
            return Ok(ToolRun::Stopped(why));
        }
        Meanwhile::CallerWrote(texts) => {
            let outcome = format!("the caller wrote again before {name} ran: asked again");
            caller_wrote(txn, ready, outcome, tokens).await?;
            return Ok(ToolRun::CallerWrote(texts));
        }
    }
    let answer = match (name, busy_elsewhere) {
        (_, Err(refused)) => ToolAnswer::Refused(refused),
        (tool::FIND_SLOTS, Ok(busy)) => ai_tools::find_slots(&txn, input, &busy).await?,
        (tool::QUOTE, _) => ai_tools::quote(&txn, input).await?,
        (tool::BOOK_APPOINTMENT, Ok(busy)) => {
            ai_tools::book_appointment(&txn, secrets, &thread, input, &busy).await?
        }
        (tool::HAND_OFF, _) => ai_tools::hand_off(&txn, thread, input).await?,
        (tool::SAVE_DETAILS, _) => ai_tools::save_details(&txn, secrets, thread, input).await?,
        _ => ToolAnswer::Refused(format!(
            "there is no tool named {}",
            ai_tools::plain(name, MAX_TOOL_NAME_CHARS)
        )),
    };
    let (outcome, content, is_error, appointment) = match answer {
        ToolAnswer::Done(result) => (DONE.to_owned(), result.to_string(), false, None),
        ToolAnswer::Refused(reason) => (format!("refused: {reason}"), reason, true, None),
        ToolAnswer::Booked {
            appointment,
            result,
        } => (
            "booked".to_owned(),
            result.to_string(),
            false,
            Some(appointment.id),
        ),
    };
    let step = Step {
        action: step_action_of(name),
        outcome,
        tokens,
        appointment,
    };
    record_step(&txn, ready.about(), step).await?;
    txn.commit().await?;
    Ok(ToolRun::Ran(Block::ToolResult {
        tool_use_id: id.to_owned(),
        content,
        is_error,
    }))
}

/// `ready`'s conversation, locked until `txn` ends ([`conversations::find_locked`]): what the AI
/// does next is decided on everything written to it so far.
async fn locked_thread(
    txn: &TenantTxn,
    ready: &Answering,
) -> Result<conversation::Model, DomainError> {
    conversations::find_locked(txn, ready.conversation)
        .await?
        .ok_or(DomainError::NotFound)
}

/// How storing the model's answer came out.
enum Replying {
    /// The answer ended: sent, fallen back or stopped.
    Ended(Answered),
    /// Nothing was stored: the caller wrote these texts meanwhile, for the model to be asked again.
    CallerWrote(Vec<conversations::ShownMessage>),
}

/// Stores the AI's `text` (with the automated marker) and queues it, once per caller text; or,
/// when the caller wrote again meanwhile, stores nothing and gives their new texts.
async fn reply(
    scope: &TenantScope,
    secrets: &Secrets,
    ready: &mut Answering,
    text: &str,
    tokens: u64,
) -> Result<Replying, DomainError> {
    let txn = scope.begin().await?;
    let thread = locked_thread(&txn, ready).await?;
    if already_answered(&txn, ready.answered).await? {
        let why = ANSWERED_MEANWHILE;
        return Ok(Replying::Ended(
            stopped(txn, secrets, ready, why, tokens).await?,
        ));
    }
    let settings = clinic::get(&txn).await?;
    match meanwhile(&txn, secrets, ready, &settings, &thread).await? {
        Meanwhile::Nothing => {}
        Meanwhile::Stop(why) => {
            return Ok(Replying::Ended(
                stopped(txn, secrets, ready, why, tokens).await?,
            ));
        }
        Meanwhile::CallerWrote(texts) => {
            let outcome = "the caller wrote again before the answer went out: asked again";
            caller_wrote(txn, ready, outcome.to_owned(), tokens).await?;
            return Ok(Replying::CallerWrote(texts));
        }
    }
    let Some(message) = send_text(&txn, secrets, ready.conversation, text).await? else {
        txn.commit().await?;
        let reason = "the daily texting limit is reached";
        return Ok(Replying::Ended(
            fall_back(scope, secrets, ready, reason, tokens).await?,
        ));
    };
    if asks_something(text) {
        let about = (ready.conversation, message);
        ai_follow_ups::queue_after(&txn, &settings, about, txn.now()).await?;
    }
    let step = Step {
        action: REPLY,
        outcome: "answered".to_owned(),
        tokens,
        appointment: None,
    };
    record_step(&txn, ready.about(), step).await?;
    end_answering(&txn, ready).await?;
    txn.commit().await?;
    Ok(Replying::Ended(Answered::Replied { message }))
}

/// Ends an answer that may no longer be sent (`why`, from [`meanwhile`]): nothing is sent or run,
/// a `stopped` step keeps the `tokens` the model used, which the month's budget counts, and the
/// caller's texts left unanswered get an answer of their own ([`answer_what_is_left`]).
async fn stopped(
    txn: TenantTxn,
    secrets: &Secrets,
    ready: &Answering,
    why: &'static str,
    tokens: u64,
) -> Result<Answered, DomainError> {
    let step = Step {
        action: "stopped",
        outcome: why.to_owned(),
        tokens,
        appointment: None,
    };
    record_step(&txn, ready.about(), step).await?;
    end_answering(&txn, ready).await?;
    answer_what_is_left(&txn, secrets, ready).await?;
    txn.commit().await?;
    Ok(Answered::Nothing(why))
}

/// Whether the answer job of the caller's text `message` waits untried: prepared after this
/// transaction (under the same lock), it finds no answer under way and answers the open texts
/// itself, so a second job for the same text would only ask the model twice. (One already
/// claimed may have left its text to the answer that is ending: then the text needs a job.)
async fn own_answer_waits(
    txn: &TenantTxn,
    conversation: Uuid,
    message: Uuid,
) -> Result<bool, DomainError> {
    let own = AiAnswer {
        conversation,
        message,
        after: None,
    };
    Ok(outbox::written(txn, &own)
        .await?
        .is_some_and(|row| row.status == outbox::PENDING && row.attempts == 0))
}

/// Queues an answer to the caller's texts no answer covered, when the AI still answers
/// `ready`'s conversation and may text the caller: texts left to an answer that stopped without
/// taking them in (another answer of the AI, stored first, stops it yet leaves the AI answering)
/// are still answered. (A caller who sent STOP or restricted their data: their texts are not
/// opened.)
async fn answer_what_is_left(
    txn: &TenantTxn,
    secrets: &Secrets,
    ready: &Answering,
) -> Result<(), DomainError> {
    let settings = clinic::get(txn).await?;
    let thread = locked_thread(txn, ready).await?;
    if !answers(&settings, &thread) || !restrictions::may_be_texted(txn, &thread.caller_key).await?
    {
        return Ok(());
    }
    let Some((_, latest)) = open_texts(txn, secrets, thread.id).await? else {
        return Ok(());
    };
    if own_answer_waits(txn, thread.id, latest).await? {
        return Ok(());
    }
    let job = NewJob {
        job: AiAnswer {
            conversation: thread.id,
            message: latest,
            after: Some(ready.queued_for),
        },
        sealed_number: None,
        body_sealed: None,
        run_at: txn.now(),
    };
    // Once: an answer that stops again with the same text open (or a stopped attempt run twice)
    // finds it queued; decided under the conversation's lock.
    outbox::enqueue_once(txn, job, txn.now()).await?;
    Ok(())
}

/// Records that the caller wrote again while the model thought (`outcome` says where the answer
/// was): a `caller_wrote` step keeps the round's `tokens`; the model is asked again.
async fn caller_wrote(
    txn: TenantTxn,
    ready: &Answering,
    outcome: String,
    tokens: u64,
) -> Result<(), DomainError> {
    let step = Step {
        action: "caller_wrote",
        outcome,
        tokens,
        appointment: None,
    };
    record_step(&txn, ready.about(), step).await?;
    txn.commit().await?;
    Ok(())
}

/// What happened in a conversation while the model thought.
enum Meanwhile {
    /// Nothing that changes the answer.
    Nothing,
    /// The answer may no longer go on, for this reason.
    Stop(&'static str),
    /// The caller wrote these texts (oldest first), while the AI still answers them.
    CallerWrote(Vec<conversations::ShownMessage>),
}

/// What happened in `ready`'s conversation since the answer was prepared (or last took the
/// caller's texts in), read with `thread` locked: staff took it over or closed it, the clinic
/// turned the AI off (`settings`), the caller sent STOP or restricted their data (no tool runs
/// for them and nothing is sent), or something was written that the answer did not see
/// ([`written_since`]). (A hand-off by the model leaves the AI its closing text.)
async fn meanwhile(
    txn: &TenantTxn,
    secrets: &Secrets,
    ready: &Answering,
    settings: &clinic_row::Model,
    thread: &conversation::Model,
) -> Result<Meanwhile, DomainError> {
    Ok(
        if thread.ai_state.as_deref() == Some(ai_state::TAKEN_OVER) {
            Meanwhile::Stop("staff took the conversation over meanwhile")
        } else if thread.status != conversations::OPEN {
            Meanwhile::Stop("the conversation was closed meanwhile")
        } else if !settings.ai_enabled {
            Meanwhile::Stop("the AI was turned off meanwhile")
        } else if let Some(why) = restrictions::why_not_texted(txn, &thread.caller_key).await? {
            Meanwhile::Stop(why)
        } else {
            written_since(txn, secrets, ready, answers(settings, thread)).await?
        },
    )
}

/// What was written in `ready`'s conversation that the answer did not see (STOP, START and HELP
/// aside: their sending is checked on its own; a text-back for a new missed call aside: it
/// answers nothing): a staff reply (one written while the AI was off for the clinic does not mark
/// the conversation taken over) or another answer of the AI stop it; the caller's texts, while the
/// AI still `answers` the conversation, are taken in.
async fn written_since(
    txn: &TenantTxn,
    secrets: &Secrets,
    ready: &Answering,
    answers: bool,
) -> Result<Meanwhile, DomainError> {
    let unseen: Vec<message::Model> = txn
        .find::<message::Entity>()
        .filter(message::Column::ConversationId.eq(ready.conversation))
        .filter(message::Column::Kind.ne(messages::KIND_KEYWORD))
        .order_by_asc(message::Column::CreatedAt)
        .order_by_asc(message::Column::Id)
        .all(txn.conn())
        .await?
        .into_iter()
        .filter(|message| !ready.seen.contains(&message.id))
        .collect();
    let any_of = |kind: &str| unseen.iter().any(|message| message.kind == kind);
    if any_of(messages::KIND_STAFF) {
        return Ok(Meanwhile::Stop("staff replied to the caller meanwhile"));
    }
    if any_of(messages::KIND_AI) {
        return Ok(Meanwhile::Stop(ANSWERED_MEANWHILE));
    }
    let callers: Vec<message::Model> = unseen
        .into_iter()
        .filter(|message| message.direction == messages::INBOUND)
        .collect();
    if callers.is_empty() || !answers {
        return Ok(Meanwhile::Nothing);
    }
    let key = keys::data_key(secrets, &clinic::get(txn).await?)?;
    let texts = callers
        .into_iter()
        .map(|row| {
            let body = conversations::shown_text(&key, txn.clinic_id(), &row);
            conversations::ShownMessage { row, body }
        })
        .collect();
    Ok(Meanwhile::CallerWrote(texts))
}

/// Why the model's finished answer `text` (it stopped for `stop_reason`) is not sent, if it is
/// not: nothing written, an answer cut off or refused, one longer than [`MAX_AI_TEXT_CHARS`], or
/// one that repeats a number the model was only shown as removed (the caller would read
/// "[number removed]" where a number or a link should be).
fn unsendable(stop_reason: Option<StopReason>, text: &str) -> Option<&'static str> {
    if text.trim().is_empty() {
        return Some("the AI model wrote nothing");
    }
    if text.contains(ringback_shared::redact::REMOVED) {
        return Some("the AI model's answer gave a number it was not shown");
    }
    match stop_reason {
        Some(StopReason::EndTurn | StopReason::StopSequence) | None => {}
        Some(StopReason::MaxTokens) => return Some("the AI model's answer was cut off"),
        Some(_) => return Some("the AI model did not finish its answer"),
    }
    (text.trim().chars().count() > MAX_AI_TEXT_CHARS)
        .then_some("the AI model's answer was too long to text")
}

/// Whether the AI's answer asks the caller something (a caller who goes quiet after it gets one
/// follow-up).
fn asks_something(text: &str) -> bool {
    text.trim_end().ends_with('?')
}

/// Hands the conversation to staff for `reason` and sends the fallback text (the clinic's
/// text-back wording with the booking link), once per caller text; the caller's texts written
/// meanwhile are answered by it too.
async fn fall_back(
    scope: &TenantScope,
    secrets: &Secrets,
    ready: &mut Answering,
    reason: &str,
    tokens: u64,
) -> Result<Answered, DomainError> {
    let txn = scope.begin().await?;
    let thread = locked_thread(&txn, ready).await?;
    let settings = clinic::get(&txn).await?;
    match meanwhile(&txn, secrets, ready, &settings, &thread).await? {
        Meanwhile::Nothing => {}
        Meanwhile::Stop(why) => return stopped(txn, secrets, ready, why, tokens).await,
        Meanwhile::CallerWrote(texts) => {
            ready.take_in(&texts);
        }
    }
    if already_answered(&txn, ready.answered).await? {
        return stopped(txn, secrets, ready, ANSWERED_MEANWHILE, tokens).await;
    }
    let message = hand_over(&txn, secrets, &settings, thread, reason).await?;
    let step = Step {
        action: FALLBACK,
        outcome: reason.to_owned(),
        tokens,
        appointment: None,
    };
    record_step(&txn, ready.about(), step).await?;
    end_answering(&txn, ready).await?;
    txn.commit().await?;
    Ok(Answered::FellBack {
        message,
        reason: reason.to_owned(),
    })
}

/// Stores `text` (with the automated marker) as the AI's message and queues its sending; `None`
/// when the daily texting limit is reached or the number is not kept.
pub(crate) async fn send_text(
    txn: &TenantTxn,
    secrets: &Secrets,
    conversation: Uuid,
    text: &str,
) -> Result<Option<Uuid>, DomainError> {
    let settings = clinic::get(txn).await?;
    let thread = conversations::find(txn, conversation).await?;
    let Some(sealed_number) = thread.number_sealed.clone() else {
        return Ok(None);
    };
    if text_back::over_daily_limit(txn, &settings, txn.now()).await? {
        return Ok(None);
    }
    let body = with_automated_marker(text.trim());
    let stored = conversations::queue_text(
        txn,
        (secrets, &settings),
        (&thread, sealed_number),
        (messages::KIND_AI, &body),
        txn.now(),
    )
    .await?;
    mark_ai_active(txn, thread).await?;
    Ok(Some(stored.id))
}

/// The AI answers `thread` from its first text on: a conversation without an AI state becomes
/// `active` (one handed off or taken over keeps its state).
pub(crate) async fn mark_ai_active(
    txn: &TenantTxn,
    thread: conversation::Model,
) -> Result<(), DomainError> {
    if thread.ai_state.is_none() {
        let mut model: conversation::ActiveModel = thread.into();
        model.ai_state = Set(Some(ai_state::ACTIVE.to_owned()));
        model.update(txn.conn()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A conversation's message of `kind` (`direction` follows from it), as read back.
    fn shown(kind: &str) -> conversations::ShownMessage {
        let inbound = kind == messages::KIND_REPLY || kind == messages::KIND_KEYWORD;
        let at = Utc
            .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
            .single()
            .expect("a time");
        conversations::ShownMessage {
            row: message::Model {
                clinic_id: Uuid::nil(),
                id: Uuid::new_v4(),
                conversation_id: Uuid::nil(),
                caller_key: "caller".to_owned(),
                direction: if inbound {
                    messages::INBOUND
                } else {
                    messages::OUTBOUND
                }
                .to_owned(),
                kind: kind.to_owned(),
                body_sealed: Vec::new(),
                provider_message_id: None,
                status: "received".to_owned(),
                created_at: at,
                updated_at: at,
                call_id: None,
                delivery_error: None,
                provider_number_id: None,
                answer_provider_id: None,
            },
            body: Some(kind.to_owned()),
        }
    }

    fn kinds(messages: &[conversations::ShownMessage]) -> Vec<&str> {
        messages
            .iter()
            .map(|message| message.row.kind.as_str())
            .collect()
    }

    #[test]
    fn the_texts_to_answer_are_the_callers_after_the_last_answer_that_covered_them() {
        use messages::{KIND_AI, KIND_KEYWORD, KIND_REPLY, KIND_STAFF, KIND_TEXT_BACK};
        let thread = [
            KIND_TEXT_BACK,
            KIND_REPLY,
            KIND_REPLY,
            KIND_AI,
            KIND_KEYWORD,
        ]
        .map(shown);
        let first_answered = HashSet::from([thread[1].row.id]);
        let (read, latest) = to_answer(thread.to_vec(), &first_answered).expect("one to answer");
        assert_eq!(
            latest, thread[2].row.id,
            "stamped before the answer, not covered by it"
        );
        assert_eq!(
            kinds(&read),
            [
                KIND_TEXT_BACK,
                KIND_REPLY,
                KIND_AI,
                KIND_KEYWORD,
                KIND_REPLY
            ],
            "the text to answer comes last; the keyword stays where it was"
        );
        let both_answered = HashSet::from([thread[2].row.id]);
        assert!(to_answer(thread.to_vec(), &both_answered).is_none());

        let staff_after = [KIND_TEXT_BACK, KIND_REPLY, KIND_STAFF].map(shown);
        assert!(to_answer(staff_after.to_vec(), &HashSet::new()).is_none());
        let only_keywords = [KIND_TEXT_BACK, KIND_KEYWORD].map(shown);
        assert!(to_answer(only_keywords.to_vec(), &HashSet::new()).is_none());
        let never_answered = [KIND_TEXT_BACK, KIND_REPLY, KIND_TEXT_BACK, KIND_REPLY].map(shown);
        let (read, latest) = to_answer(never_answered.to_vec(), &HashSet::new()).expect("both");
        assert_eq!(latest, never_answered[3].row.id);
        assert_eq!(
            kinds(&read),
            [KIND_TEXT_BACK, KIND_TEXT_BACK, KIND_REPLY, KIND_REPLY]
        );
    }

    #[test]
    fn only_the_latest_turns_are_read_and_they_start_with_the_caller() {
        let turns: Vec<Turn> = (0..25)
            .map(|index| {
                if index % 2 == 0 {
                    Turn::user_text(format!("caller {index}"))
                } else {
                    Turn::assistant_text(format!("clinic {index}"))
                }
            })
            .collect();
        let kept = latest_turns(turns.clone(), 20);
        assert_eq!(kept.len(), 19, "the oldest kept turn would be the clinic's");
        assert_eq!(kept[0], turns[6]);
        assert_eq!(kept.last(), turns.last());
        assert_eq!(latest_turns(turns[..3].to_vec(), 20).len(), 3);
    }
}
