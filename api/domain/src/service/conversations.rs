//! The inbox: conversations with their messages (bodies opened only here, for staff who may read
//! them, and each read recorded in the audit log), staff replies queued through the outbox,
//! assignment to a team member, and closing. A reply needs the caller's number, which only the
//! `text_back` privacy mode keeps; in `strict` mode staff call back instead.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ringback_entity::{clinic as clinic_row, conversation, message};
use ringback_shared::ai::state as ai_state;
use ringback_shared::seal::DataKey;
use sea_orm::sea_query::LockType;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, QueryFilter, QueryOrder, QuerySelect, Select, Set,
};
use serde_json::json;
use uuid::Uuid;

use crate::jobs::StaffReply;
use crate::service::ai_tools::{self, IntakeDetails};
use crate::service::audit::{self, AuditEvent};
use crate::service::messages::{self, NewMessage, Party};
use crate::service::{clinic, in_clinic, keys, opt_outs, restrictions, team, text_back};
use ringback_core::error::DomainError;
use ringback_core::outbox::{self, NewJob};
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;

/// An open conversation.
pub const OPEN: &str = "open";
/// A closed conversation.
pub const CLOSED: &str = "closed";
/// Longest staff reply, in characters (Twilio's limit for one text).
pub const MAX_REPLY_CHARS: usize = 1600;

/// A message with its text, or None when its stored text cannot be opened (a damaged row, say):
/// such a message is logged and shown as unreadable, and the others still show.
#[derive(Clone, Debug)]
pub struct ShownMessage {
    pub row: message::Model,
    pub body: Option<String>,
}

/// Where a page of conversations starts, in the lists' order (latest activity first, then by id):
/// after the conversation last active at `at` whose id is `id`. Without an id, every
/// conversation last active at `at` is skipped too (the lists' older form).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConversationCursor {
    pub at: DateTime<Utc>,
    pub id: Option<Uuid>,
}

impl ConversationCursor {
    /// The conversations after this cursor: a range on the latest activity (which the clinic's
    /// indexes on it answer), and among those sharing its instant, the smaller ids.
    fn condition(self) -> Condition {
        let at = conversation::Column::LastMessageAt;
        match self.id {
            None => Condition::all().add(at.lt(self.at)),
            Some(id) => Condition::all().add(at.lte(self.at)).add(
                Condition::any()
                    .add(at.lt(self.at))
                    .add(conversation::Column::Id.lt(id)),
            ),
        }
    }
}

/// Conversations with `status` (any when `None`), latest activity first, after `cursor`.
pub async fn list(
    txn: &TenantTxn,
    status: Option<&str>,
    cursor: Option<ConversationCursor>,
    limit: u64,
) -> Result<Vec<conversation::Model>, DomainError> {
    list_where(txn, status, cursor, limit, |query| query).await
}

/// As [`list`], narrowed further by `narrow` (the inbox's views).
pub async fn list_where(
    txn: &TenantTxn,
    status: Option<&str>,
    cursor: Option<ConversationCursor>,
    limit: u64,
    narrow: impl FnOnce(Select<conversation::Entity>) -> Select<conversation::Entity>,
) -> Result<Vec<conversation::Model>, DomainError> {
    let mut query = narrow(txn.find::<conversation::Entity>());
    if let Some(status) = status {
        query = query.filter(conversation::Column::Status.eq(status));
    }
    if let Some(cursor) = cursor {
        query = query.filter(cursor.condition());
    }
    Ok(query
        .order_by_desc(conversation::Column::LastMessageAt)
        .order_by_desc(conversation::Column::Id)
        .limit(limit)
        .all(txn.conn())
        .await?)
}

/// One conversation.
pub async fn find(txn: &TenantTxn, id: Uuid) -> Result<conversation::Model, DomainError> {
    in_clinic::<conversation::Entity>(txn, id)
        .await?
        .ok_or(DomainError::NotFound)
}

/// The conversation `id`, its row locked until the transaction ends: whatever changes the row
/// meanwhile (a take-over, closing it, a new message's update of its latest activity) waits
/// until then, and a change committed before is read. A message is inserted before its
/// conversation's row is updated, so one being stored as the lock is taken may still be missed:
/// readers that must not miss one decide by what was recorded, not by the order of stamps (the AI
/// receptionist's [`crate::service::ai_agent`]). On PostgreSQL a row lock (`NO KEY UPDATE`);
/// SQLite serialises writers anyway. `None` when the clinic holds no such conversation.
pub async fn find_locked(
    txn: &TenantTxn,
    id: Uuid,
) -> Result<Option<conversation::Model>, DomainError> {
    Ok(txn
        .find::<conversation::Entity>()
        .filter(conversation::Column::Id.eq(id))
        .lock(LockType::NoKeyUpdate)
        .one(txn.conn())
        .await?)
}

/// The messages of each of `conversation_ids` the clinic holds, oldest first, with their texts
/// (a text that cannot be opened shows as unreadable: [`ShownMessage`]), in one statement; each
/// conversation is marked read for the team and its read audited (`conversation.read`). An id the
/// clinic does not hold is absent.
pub async fn read_messages_of_each(
    txn: &TenantTxn,
    secrets: &Secrets,
    actor: Option<Uuid>,
    conversation_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<ShownMessage>>, DomainError> {
    let threads = txn
        .find::<conversation::Entity>()
        .filter(conversation::Column::Id.is_in(conversation_ids.iter().copied()))
        .all(txn.conn())
        .await?;
    let found: Vec<Uuid> = threads.iter().map(|thread| thread.id).collect();
    let mut opened = shown_messages_of_each(txn, secrets, &found).await?;
    crate::service::inbox::mark_all_read(txn, &threads, txn.now()).await?;
    for thread in &threads {
        let messages = opened.entry(thread.id).or_default();
        audit::note_read(
            txn,
            AuditEvent {
                actor,
                action: "conversation.read",
                detail: json!({ "conversation": thread.id, "messages": messages.len() }),
            },
        )
        .await?;
    }
    Ok(opened)
}

/// The intake details the AI saved in each of `conversation_ids` the clinic holds, opened (an id
/// it does not hold is absent), in one statement; each read of saved details is audited
/// (`conversation.details_read`, with how many answers, never what they say).
pub async fn read_details_of_each(
    txn: &TenantTxn,
    secrets: &Secrets,
    actor: Option<Uuid>,
    conversation_ids: &[Uuid],
) -> Result<HashMap<Uuid, IntakeDetails>, DomainError> {
    let threads = txn
        .find::<conversation::Entity>()
        .filter(conversation::Column::Id.is_in(conversation_ids.iter().copied()))
        .all(txn.conn())
        .await?;
    let details = intake_details_of_each(txn, secrets, &threads).await?;
    for (conversation, of_one) in &details {
        let answers = match of_one {
            IntakeDetails::None => continue,
            IntakeDetails::Saved(answers) => json!(answers.len()),
            IntakeDetails::Unreadable => json!("unreadable"),
        };
        let detail = json!({ "conversation": conversation, "answers": answers });
        let action = "conversation.details_read";
        audit::note_read(
            txn,
            AuditEvent {
                actor,
                action,
                detail,
            },
        )
        .await?;
    }
    Ok(details)
}

/// The intake details of each of `threads`, opened and in the order the clinic asks its
/// questions (the clinic's row, for its key and questions, is read only when one of them has
/// details).
pub async fn intake_details_of_each(
    txn: &TenantTxn,
    secrets: &Secrets,
    threads: &[conversation::Model],
) -> Result<HashMap<Uuid, IntakeDetails>, DomainError> {
    let opener = if threads.iter().any(|thread| thread.details_sealed.is_some()) {
        Some(ai_tools::DetailsOpener::of_clinic(txn, secrets).await?)
    } else {
        None
    };
    Ok(threads
        .iter()
        .map(|thread| {
            let details = opener
                .as_ref()
                .map_or(IntakeDetails::None, |opener| opener.shown(thread));
            (thread.id, details)
        })
        .collect())
}

/// The messages of conversation `conversation_id`, oldest first, as [`shown_messages_of_each`]
/// gives them.
pub async fn shown_messages_of(
    txn: &TenantTxn,
    secrets: &Secrets,
    conversation_id: Uuid,
) -> Result<Vec<ShownMessage>, DomainError> {
    Ok(shown_messages_of_each(txn, secrets, &[conversation_id])
        .await?
        .remove(&conversation_id)
        .unwrap_or_default())
}

/// The messages of each of `conversation_ids`, oldest first, with their texts (a text that cannot
/// be opened shows as unreadable: [`ShownMessage`]), in one statement (not audited: the caller
/// audits the read it is part of); a conversation without messages is absent. The clinic's row
/// (for its key) is read only when there are messages.
pub async fn shown_messages_of_each(
    txn: &TenantTxn,
    secrets: &Secrets,
    conversation_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<ShownMessage>>, DomainError> {
    let rows = txn
        .find::<message::Entity>()
        .filter(message::Column::ConversationId.is_in(conversation_ids.iter().copied()))
        .order_by_asc(message::Column::CreatedAt)
        .order_by_asc(message::Column::Id)
        .all(txn.conn())
        .await?;
    let mut of_each: HashMap<Uuid, Vec<ShownMessage>> = HashMap::new();
    if rows.is_empty() {
        return Ok(of_each);
    }
    let key = keys::data_key(secrets, &clinic::get(txn).await?)?;
    for row in rows {
        let body = shown_text(&key, txn.clinic_id(), &row);
        let of = of_each.entry(row.conversation_id).or_default();
        of.push(ShownMessage { row, body });
    }
    Ok(of_each)
}

/// `message`'s text, or None when it cannot be opened: logged with the clinic and the message
/// (never what is stored), so that one damaged message does not hide the others.
pub(crate) fn shown_text(
    key: &DataKey,
    clinic_id: Uuid,
    message: &message::Model,
) -> Option<String> {
    match keys::open_message(key, clinic_id, &message.body_sealed) {
        Ok(text) => Some(text),
        Err(_) => {
            tracing::warn!(
                clinic = %clinic_id,
                message = %message.id,
                "a message's stored text could not be opened; it shows as unreadable"
            );
            None
        }
    }
}

/// Queues a staff reply; the message shows as `queued` until the provider reports on it.
pub async fn reply(
    txn: &TenantTxn,
    secrets: &Secrets,
    (actor, conversation_id): (Option<Uuid>, Uuid),
    text: &str,
    now: DateTime<Utc>,
) -> Result<message::Model, DomainError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_REPLY_CHARS {
        return Err(DomainError::BadUserInput(format!(
            "a reply needs 1 to {MAX_REPLY_CHARS} characters"
        )));
    }
    let settings = clinic::get(txn).await?;
    let thread = reopen_for_reply(txn, find(txn, conversation_id).await?, now).await?;
    let thread = take_over_from_ai(txn, &settings, thread, now).await?;
    let Some(sealed_number) = thread.number_sealed.clone() else {
        return Err(DomainError::Conflict(
            "the caller's number is not kept (strict privacy mode): call them back instead"
                .to_owned(),
        ));
    };
    if opt_outs::is_opted_out(txn, &thread.caller_key).await? {
        return Err(DomainError::Conflict(
            "the caller replied STOP: they get no texts until they send START".to_owned(),
        ));
    }
    if restrictions::is_restricted(txn, std::slice::from_ref(&thread.caller_key)).await? {
        return Err(DomainError::Conflict(
            "the caller restricted the processing of their data: they get no texts".to_owned(),
        ));
    }
    if text_back::over_daily_limit(txn, &settings, now).await? {
        return Err(DomainError::Conflict(
            "the daily texting limit is reached; replies can be sent again later today".to_owned(),
        ));
    }
    let stored = queue_text(
        txn,
        (secrets, &settings),
        (&thread, sealed_number),
        (messages::KIND_STAFF, text),
        now,
    )
    .await?;
    staff_action(txn, actor, "conversation.replied", conversation_id).await?;
    let replied = find(txn, conversation_id).await?;
    crate::service::inbox::mark_read(txn, replied, now).await?;
    Ok(stored)
}

/// Stores `text` as an outbound message of `kind` in `thread` and queues its sending to the
/// caller's `sealed_number` (a [`StaffReply`] job, written once per message); the message shows
/// as `queued` until the provider reports on it. Staff replies and the AI's answers both go out
/// this way; the caller checks opt-outs, restrictions and the daily limit first.
pub async fn queue_text(
    txn: &TenantTxn,
    (secrets, settings): (&Secrets, &clinic_row::Model),
    (thread, sealed_number): (&conversation::Model, Vec<u8>),
    (kind, text): (&'static str, &str),
    now: DateTime<Utc>,
) -> Result<message::Model, DomainError> {
    let stored = messages::record(
        txn,
        secrets,
        NewMessage {
            party: Party {
                caller_key: &thread.caller_key,
                caller_tail: &thread.caller_tail,
            },
            direction: messages::OUTBOUND,
            kind,
            body: text,
            at: now,
            provider_message_id: None,
            status: "queued",
            call_id: None,
            sealed_number: None,
            provider_number_id: None,
        },
    )
    .await?;
    let key = keys::data_key(secrets, settings)?;
    let job = NewJob {
        job: StaffReply {
            conversation: thread.id,
            message: stored.id,
            caller_key: thread.caller_key.clone(),
        },
        sealed_number: Some(sealed_number),
        body_sealed: Some(keys::seal_message(&key, txn.clinic_id(), text)?),
        run_at: now,
    };
    outbox::enqueue(txn, job, now).await?;
    Ok(stored)
}

/// Staff writing in a conversation the AI answers, or may start to answer (the AI is on for the
/// clinic and has not texted there yet), take it over: the AI stops there, or never starts, so a
/// caller a person answers gets no automated texts beside theirs. A conversation handed off or
/// taken over already stays as it is.
pub(crate) async fn take_over_from_ai(
    txn: &TenantTxn,
    settings: &clinic_row::Model,
    thread: conversation::Model,
    now: DateTime<Utc>,
) -> Result<conversation::Model, DomainError> {
    let ai_may_answer = match thread.ai_state.as_deref() {
        Some(state) => state == ai_state::ACTIVE,
        None => settings.ai_enabled,
    };
    if !ai_may_answer {
        return Ok(thread);
    }
    stop_ai(txn, thread, "a member of staff replied", now).await
}

/// The AI answers `thread` no more: staff have it, for `reason`.
async fn stop_ai(
    txn: &TenantTxn,
    thread: conversation::Model,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<conversation::Model, DomainError> {
    let mut model: conversation::ActiveModel = thread.into();
    model.ai_state = Set(Some(ai_state::TAKEN_OVER.to_owned()));
    model.ai_stopped_reason = Set(Some(reason.to_owned()));
    model.updated_at = Set(now);
    Ok(model.update(txn.conn()).await?)
}

/// Staff take the conversation over: the AI receptionist stops answering it (or never starts)
/// and its follow-ups are not sent. Audited as `conversation.taken_over`; taking over a
/// conversation already taken over changes nothing.
pub async fn take_over(
    txn: &TenantTxn,
    (actor, conversation_id): (Option<Uuid>, Uuid),
    now: DateTime<Utc>,
) -> Result<conversation::Model, DomainError> {
    let thread = find(txn, conversation_id).await?;
    if thread.ai_state.as_deref() == Some(ai_state::TAKEN_OVER) {
        return Ok(thread);
    }
    let taken = stop_ai(txn, thread, "taken over by staff", now).await?;
    staff_action(txn, actor, "conversation.taken_over", conversation_id).await?;
    Ok(taken)
}

/// A closed conversation opens again for a reply, unless the caller has a newer open one. Under
/// the caller's lock, as a conversation is opened: a text of theirs arriving meanwhile either
/// finds this one open or opened its own first, and the reply is refused.
async fn reopen_for_reply(
    txn: &TenantTxn,
    thread: conversation::Model,
    now: DateTime<Utc>,
) -> Result<conversation::Model, DomainError> {
    if thread.status == OPEN {
        return Ok(thread);
    }
    txn.lock_caller(&thread.caller_key).await?;
    if messages::find_open_conversation(txn, &thread.caller_key)
        .await?
        .is_some()
    {
        return Err(DomainError::Conflict(
            "the caller has a newer open conversation: reply there".to_owned(),
        ));
    }
    set_status(txn, thread, OPEN, now).await
}

/// Sets `thread`'s status, stamped `now` (no audit entry: callers that act for staff add it).
pub(crate) async fn set_status(
    txn: &TenantTxn,
    thread: conversation::Model,
    status: &str,
    now: DateTime<Utc>,
) -> Result<conversation::Model, DomainError> {
    let mut model: conversation::ActiveModel = thread.into();
    model.status = Set(status.to_owned());
    model.updated_at = Set(now);
    Ok(model.update(txn.conn()).await?)
}

/// Assigns the conversation to a member of the team (`None` unassigns it).
pub async fn assign(
    txn: &TenantTxn,
    (actor, conversation_id): (Option<Uuid>, Uuid),
    member: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<conversation::Model, DomainError> {
    let thread = find(txn, conversation_id).await?;
    if let Some(member) = member
        && !is_on_team(txn, member).await?
    {
        return Err(DomainError::BadUserInput(
            "conversations can be assigned to members of the team only".to_owned(),
        ));
    }
    let mut model: conversation::ActiveModel = thread.into();
    model.assigned_to = Set(member);
    model.updated_at = Set(now);
    let updated = model.update(txn.conn()).await?;
    staff_action(txn, actor, "conversation.assigned", conversation_id).await?;
    Ok(updated)
}

/// Whether `member` is on the clinic's team now.
pub async fn is_on_team(txn: &TenantTxn, member: Uuid) -> Result<bool, DomainError> {
    Ok(team::members(txn)
        .await?
        .iter()
        .any(|candidate| candidate.user.id == member))
}

/// Unassigns every conversation `member` held, as they leave the team: assigned to someone
/// nobody can be, they would show under no one's "Mine" nor under "Unassigned". How many.
pub async fn release_assignments_of(txn: &TenantTxn, member: Uuid) -> Result<u64, DomainError> {
    Ok(txn
        .update_many::<conversation::Entity>()
        .col_expr(
            conversation::Column::AssignedTo,
            sea_orm::sea_query::Expr::value(Option::<Uuid>::None),
        )
        .col_expr(
            conversation::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(txn.now()),
        )
        .filter(conversation::Column::AssignedTo.eq(member))
        .exec(txn.conn())
        .await?
        .rows_affected)
}

/// Records what staff member `actor` did to a conversation (no text, no number).
async fn staff_action(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    action: &'static str,
    conversation_id: Uuid,
) -> Result<(), DomainError> {
    audit::append(
        txn,
        AuditEvent {
            actor,
            action,
            detail: json!({ "conversation": conversation_id }),
        },
    )
    .await?;
    Ok(())
}

/// Closes the conversation; the caller's next text opens a new one.
pub async fn close(
    txn: &TenantTxn,
    (actor, conversation_id): (Option<Uuid>, Uuid),
    now: DateTime<Utc>,
) -> Result<conversation::Model, DomainError> {
    let thread = find(txn, conversation_id).await?;
    let closed = set_status(txn, thread, CLOSED, now).await?;
    staff_action(txn, actor, "conversation.closed", conversation_id).await?;
    Ok(closed)
}
