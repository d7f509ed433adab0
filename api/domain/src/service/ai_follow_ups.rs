//! Follow-ups: a caller who went quiet after the text-back or after a question from the AI gets
//! one follow-up text, once the clinic's follow-up wait has passed and the clinic is open. It is
//! queued as a delayed [`AiFollowUp`] job when the text goes out, at the first open moment after
//! the wait; when it comes due everything is checked again, so it is never sent after the caller
//! or staff wrote, after STOP or a restriction, after a booking or a call that reached the caller
//! (since the missed call the texts follow), when staff took the conversation over, when the AI
//! was turned off, or a second time in one conversation. One that finds the clinic closed (it
//! closed before the follow-up ran, or its hours or holidays changed since it was queued) waits
//! for the clinic's next opening.

use chrono::{DateTime, Duration, Utc};
use ringback_core::error::DomainError;
use ringback_core::outbox::{self, NewJob};
use ringback_core::secrets::Secrets;
use ringback_core::tenant::{TenantTxn, in_clinic};
use ringback_entity::{ai_step, call, clinic as clinic_row, conversation, message};
use ringback_shared::metrics::parse_time_zone;
use ringback_shared::sms::{self, Moment};
use ringback_shared::text_back::settled_since;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use crate::jobs::AiFollowUp;
use crate::service::ai_agent::{self, Step};
use crate::service::billing::BillingSettings;
use crate::service::{
    appointments, calls, clinic, conversations, messages, restrictions, text_back,
};

/// The `ai_steps` action of a follow-up.
pub const FOLLOW_UP: &str = "follow_up";
/// How far ahead the first open moment after the wait is looked for.
const LOOK_AHEAD_DAYS: u32 = 14;

/// Queues the one follow-up after `sent` (the text-back or an AI question, sent at `sent_at` in
/// `conversation`), when the clinic's AI is on and follows up; due at the first moment the
/// clinic is open after the wait.
pub async fn queue_after(
    txn: &TenantTxn,
    settings: &clinic_row::Model,
    (conversation, sent): (Uuid, Uuid),
    sent_at: DateTime<Utc>,
) -> Result<(), DomainError> {
    let Some(wait) = settings
        .ai_follow_up_minutes
        .filter(|_| settings.ai_enabled)
    else {
        return Ok(());
    };
    let Some(due) = first_open_after(settings, sent_at + Duration::minutes(i64::from(wait))) else {
        return Ok(());
    };
    let job = NewJob {
        job: AiFollowUp {
            conversation,
            after: sent,
        },
        sealed_number: None,
        body_sealed: None,
        run_at: due,
    };
    outbox::enqueue(txn, job, txn.now()).await?;
    Ok(())
}

/// Why a follow-up is not sent when it could only go too long after its text ([`latest_after`]).
const TOO_LATE: &str = "too long after the text it follows";

/// The latest a follow-up due at `due` (the text's time and the wait) may go: as far ahead as
/// its first opening is looked for ([`LOOK_AHEAD_DAYS`]), so one postponed again and again (the
/// clinic closed for a long holiday) does not ask weeks late whether the caller still wants to
/// book.
fn latest_after(due: DateTime<Utc>) -> DateTime<Utc> {
    due + Duration::days(i64::from(LOOK_AHEAD_DAYS))
}

/// The first instant at or after `at` when the clinic is open, within two weeks.
pub(crate) fn first_open_after(
    settings: &clinic_row::Model,
    at: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let zone = parse_time_zone(&settings.time_zone).ok()?;
    let local = at.with_timezone(&zone).naive_local();
    let opens = clinic::business_hours(settings).next_open(
        &clinic::holidays(settings),
        local,
        LOOK_AHEAD_DAYS,
    )?;
    let instant = opens.and_local_timezone(zone).earliest()?;
    Some(instant.with_timezone(&Utc).max(at))
}

/// The follow-up's words: a short nudge with the booking link, marked automated.
pub fn follow_up_text(settings: &clinic_row::Model) -> String {
    let mut text = format!(
        "Just checking in from {}: would you still like to book? Reply to this text and we will help.",
        settings.name
    );
    if let Some(link) = &settings.booking_link {
        text.push_str(&format!(" You can also book at {link}"));
    }
    sms::with_automated_marker(&text)
}

/// Whether a follow-up is to be sent now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// Everything still holds: it goes now.
    Now,
    /// Everything still holds but the clinic is closed now (it closed before the follow-up ran,
    /// or its hours or holidays changed since it was queued): it waits until the clinic opens.
    WhenOpen(DateTime<Utc>),
    /// It no longer applies, for this reason.
    Never(&'static str),
}

/// Whether `job`'s follow-up is still to be sent now, later or never ([`still_due`]), and when due
/// now whether `billing` lets automated texts go (asked in the job's preparation, which locks no
/// row before it: the gate may take the clinic's lock). [`send`] asks billing again as it queues.
pub async fn due_and_paid_for(
    txn: &TenantTxn,
    billing: Option<&BillingSettings>,
    job: &AiFollowUp,
) -> Result<Due, DomainError> {
    let due = still_due(txn, job).await?;
    if due == Due::Now
        && let Some(why) = text_back::automated_text_held(txn, billing).await?
    {
        return Ok(Due::Never(why));
    }
    Ok(due)
}

/// Whether `job`'s follow-up is still to be sent now, later (the clinic is closed now), or never.
pub async fn still_due(txn: &TenantTxn, job: &AiFollowUp) -> Result<Due, DomainError> {
    let settings = clinic::get(txn).await?;
    let Some(thread) = in_clinic::<conversation::Entity>(txn, job.conversation).await? else {
        return Ok(Due::Never("the conversation is gone"));
    };
    if !ai_agent::answers(&settings, &thread) || settings.ai_follow_up_minutes.is_none() {
        return Ok(Due::Never("the AI does not follow up in this conversation"));
    }
    let Some(sent) = in_clinic::<message::Entity>(txn, job.after).await? else {
        return Ok(Due::Never("the text is gone"));
    };
    if latest_message(txn, thread.id).await? != Some(sent.id) {
        return Ok(Due::Never("the caller or staff wrote since"));
    }
    if !restrictions::may_be_texted(txn, &thread.caller_key).await? {
        return Ok(Due::Never("the caller gets no texts"));
    }
    if followed_up(txn, thread.id).await? {
        return Ok(Due::Never("followed up before"));
    }
    if settled(txn, &thread, &sent).await? {
        return Ok(Due::Never("the caller booked or spoke with the clinic"));
    }
    let wait = Duration::minutes(i64::from(settings.ai_follow_up_minutes.unwrap_or(0)));
    let latest = latest_after(sent.created_at + wait);
    if txn.now() > latest {
        return Ok(Due::Never(TOO_LATE));
    }
    if clinic::moment_at(&settings, txn.now()) != Moment::BusinessHours {
        // Never sooner than a minute: a job due again at once would be claimed again at once.
        let soonest = txn.now() + Duration::minutes(1);
        return Ok(match first_open_after(&settings, soonest) {
            Some(opens) if opens <= latest => Due::WhenOpen(opens),
            _ => Due::Never(TOO_LATE),
        });
    }
    Ok(Due::Now)
}

/// Sends `job`'s follow-up if it is still due: stores it as the AI's message, queues its text
/// and records the step, all in `txn`; the message, or `None` when it was not due (or the daily
/// texting limit is reached).
pub async fn send(
    txn: &TenantTxn,
    (secrets, billing): (&Secrets, Option<&BillingSettings>),
    job: &AiFollowUp,
) -> Result<Option<Uuid>, DomainError> {
    // Decided under the conversation's lock: a take-over or closing committed meanwhile is read,
    // one under way waits until the follow-up is stored.
    conversations::find_locked(txn, job.conversation).await?;
    if still_due(txn, job).await? != Due::Now {
        return Ok(None);
    }
    // Billing stopped since the preparation asked: checked again without a lock (the clinic's
    // lock here would come after this conversation's row and before today's figures row, the
    // other way round from a booking's; the allowance was decided in the preparation).
    if text_back::billing_stops_texts(txn, billing).await? {
        return Ok(None);
    }
    let text = follow_up_text(&clinic::get(txn).await?);
    let Some(message) = ai_agent::send_text(txn, secrets, job.conversation, &text).await? else {
        return Ok(None);
    };
    let step = Step {
        action: FOLLOW_UP,
        outcome: "sent".to_owned(),
        tokens: 0,
        appointment: None,
    };
    ai_agent::record_step(txn, (job.conversation, job.after), step).await?;
    Ok(Some(message))
}

/// Whether what the follow-up asks about was settled: since the missed call that the texts up to
/// `sent` follow (the last text-back's), the caller was booked (by the AI in this conversation
/// too, seconds before its question) or one of their calls was answered (they rang again and got
/// through, or a callback reached them), as a text-back about to go checks. A conversation the
/// caller began by text looks at bookings since it began.
async fn settled(
    txn: &TenantTxn,
    thread: &conversation::Model,
    sent: &message::Model,
) -> Result<bool, DomainError> {
    let Some(missed) = call_texted_back(txn, thread.id, sent.created_at).await? else {
        return appointments::booked_since(txn, &thread.caller_key, thread.created_at).await;
    };
    let later = calls::of_caller_after(txn, &missed).await?;
    let booked = appointments::booked_since(txn, &missed.caller_key, missed.started_at).await?;
    Ok(settled_since(&later, booked))
}

/// The missed call of the last text-back in `conversation` stored by `until`, if any.
async fn call_texted_back(
    txn: &TenantTxn,
    conversation: Uuid,
    until: DateTime<Utc>,
) -> Result<Option<call::Model>, DomainError> {
    let text_back = txn
        .find::<message::Entity>()
        .filter(message::Column::ConversationId.eq(conversation))
        .filter(message::Column::Kind.eq(messages::KIND_TEXT_BACK))
        .filter(message::Column::CallId.is_not_null())
        .filter(message::Column::CreatedAt.lte(until))
        .order_by_desc(message::Column::CreatedAt)
        .one(txn.conn())
        .await?;
    match text_back.and_then(|text| text.call_id) {
        Some(call) => Ok(in_clinic::<call::Entity>(txn, call).await?),
        None => Ok(None),
    }
}

async fn latest_message(txn: &TenantTxn, conversation: Uuid) -> Result<Option<Uuid>, DomainError> {
    Ok(txn
        .find::<message::Entity>()
        .filter(message::Column::ConversationId.eq(conversation))
        .order_by_desc(message::Column::CreatedAt)
        .order_by_desc(message::Column::Id)
        .one(txn.conn())
        .await?
        .map(|row| row.id))
}

pub(crate) async fn followed_up(txn: &TenantTxn, conversation: Uuid) -> Result<bool, DomainError> {
    Ok(txn
        .find::<ai_step::Entity>()
        .filter(ai_step::Column::ConversationId.eq(conversation))
        .filter(ai_step::Column::Action.eq(FOLLOW_UP))
        .one(txn.conn())
        .await?
        .is_some())
}
