//! A caller's data-protection requests, answered by admins and owners: see everything the clinic
//! holds about one caller ([`record`]), take it away as JSON ([`export`]), erase it ([`erase`]),
//! and restrict its processing ([`restrict`]). The number staff type is normalised with the
//! clinic's region and keyed (under the previous pepper too, during a rotation); it is never
//! stored, logged or answered back. Each request is audited without the number or the key.
//!
//! Erasure deletes the caller's conversations and messages (their sealed number with them), the
//! team's notices about those conversations, worklist dismissals and queued or finished texts,
//! and unlinks their calls, appointments, text-backs and replies: those stay for the figures and
//! the clinic's accounts under one stand-in key that links to nobody, with no tail, no number, no
//! line type and no words (a text-back or reply keeps its kind, time, status and call), and
//! appointments keep their verdict, value and reason. The AI receptionist's steps in the caller's
//! conversations stay for its figures and the month's token count as action, tokens and time
//! only, each conversation's under a stand-in id, their outcomes' words gone (a hand-off's "done"
//! stays: the figures count it). The opt-out and do-not-process lists keep
//! the caller's key if they are on them: they are what honours a STOP or an objection. The daily
//! figures are settled first, and a day computed again later counts the same rows, so they stay
//! as they were. The phone provider's own records of the caller's calls (with the legs they
//! started) and texts are queued to be deleted there
//! ([`ForgetProviderRecords`](crate::jobs::ForgetProviderRecords)), in the same transaction, with
//! a search of its log for what else it holds between the caller and the clinic's numbers
//! ([`ForgetCallerAtProvider`](crate::jobs::ForgetCallerAtProvider)).
//!
//! Cost: indexed reads by `(clinic_id, caller_key)`, bounded by what one caller has within the
//! retention periods; erasure also scans the clinic's outbox payloads once (it is rare, and the
//! outbox is purged after the call retention).

use chrono::{DateTime, Utc};
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;
use ringback_entity::{
    ai_step, appointment, attribution, call, conversation, job_outbox, message, notification,
    worklist_dismissal,
};
use ringback_shared::caller_key::{HIDDEN_TAIL, anonymous_key};
use ringback_shared::metrics::local_day;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::LockType};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::Backend;
use crate::jobs::{forget_caller_at_provider, forget_provider_records};
use crate::service::ai_tools::IntakeDetails;
use crate::service::audit::{self, AuditEvent};
use crate::service::callers::{CallerKeyer, KeyedCaller};
use crate::service::conversations::{self, ShownMessage};
use crate::service::{ai_agent, clinic, messages, metrics, opt_outs, restrictions, sealed_numbers};

/// A conversation with its messages and the intake details the AI saved in it opened (what
/// cannot be opened shows as unreadable).
pub struct HeldConversation {
    pub row: conversation::Model,
    pub messages: Vec<ShownMessage>,
    pub details: IntakeDetails,
    /// What the AI receptionist did in it, step by step (oldest first): the record of automated
    /// processing the caller is owed with their data.
    pub ai_steps: Vec<ai_step::Model>,
    /// The team's notices about it (an AI hand-off's reason), oldest first.
    pub notices: Vec<notification::Model>,
}

/// An appointment with the verdict attribution gave it.
pub struct HeldAppointment {
    pub row: appointment::Model,
    pub verdict: Option<attribution::Model>,
}

/// Everything the clinic holds about one caller.
pub struct CallerRecord {
    pub caller_tail: String,
    /// Newest first; callbacks are calls.
    pub calls: Vec<call::Model>,
    pub conversations: Vec<HeldConversation>,
    pub appointments: Vec<HeldAppointment>,
    pub dismissals: Vec<worklist_dismissal::Model>,
    /// Texts still waiting in the outbox.
    pub queued_texts: u64,
    /// Since when the caller is on the opt-out list (their STOP), if they are.
    pub opted_out_since: Option<DateTime<Utc>>,
    pub restricted_since: Option<DateTime<Utc>>,
}

/// What an erasure did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Erasure {
    pub calls_unlinked: u64,
    pub appointments_unlinked: u64,
    pub conversations_deleted: u64,
    pub messages_deleted: u64,
    /// Text-backs and replies kept for the figures as times only, linked to nobody.
    pub messages_unlinked: u64,
    /// The team's notices about the caller's conversations (an AI hand-off's reason).
    pub notifications_deleted: u64,
    /// The AI's steps in the caller's conversations, kept for its figures as action, tokens and
    /// time, linked to nobody.
    pub ai_steps_unlinked: u64,
    pub dismissals_deleted: u64,
    pub texts_deleted: u64,
    /// The phone provider's records of the caller's calls and texts, queued to be deleted there.
    pub provider_records: u64,
    /// Whether the provider's log is searched for the caller's other calls and texts with the
    /// clinic's numbers (it is unless the clinic has no number there or the deployment no
    /// provider account).
    pub provider_log_searched: bool,
    /// The caller stays on the opt-out list (so that a STOP is still honoured).
    pub kept_opt_out: bool,
    /// The caller stays on the do-not-process list.
    pub kept_restriction: bool,
}

/// The caller with `number`, keyed with the clinic's region.
async fn keyed(
    txn: &TenantTxn,
    secrets: &Secrets,
    number: &str,
) -> Result<KeyedCaller, DomainError> {
    let settings = clinic::get(txn).await?;
    CallerKeyer::new(secrets, txn, &settings.default_region)?.key(number)
}

/// Everything held about the caller with `number`; the read is audited.
pub async fn record(
    txn: &TenantTxn,
    secrets: &Secrets,
    actor: Option<Uuid>,
    number: &str,
) -> Result<CallerRecord, DomainError> {
    let caller = keyed(txn, secrets, number).await?;
    let found = gather(txn, secrets, &caller).await?;
    note(txn, actor, "caller.record_read", &found).await?;
    Ok(found)
}

/// [`record`] as one JSON document for the caller to take away; audited as an export.
pub async fn export(
    txn: &TenantTxn,
    secrets: &Secrets,
    actor: Option<Uuid>,
    number: &str,
) -> Result<serde_json::Value, DomainError> {
    let caller = keyed(txn, secrets, number).await?;
    let found = gather(txn, secrets, &caller).await?;
    let clinic = clinic::get(txn).await?;
    note(txn, actor, "caller.record_exported", &found).await?;
    Ok(portable(&clinic, &found, txn.now()))
}

async fn note(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    action: &'static str,
    found: &CallerRecord,
) -> Result<(), DomainError> {
    audit::append(
        txn,
        AuditEvent {
            actor,
            action,
            detail: json!({
                "calls": found.calls.len(),
                "conversations": found.conversations.len(),
                "appointments": found.appointments.len(),
            }),
        },
    )
    .await?;
    Ok(())
}

async fn gather(
    txn: &TenantTxn,
    secrets: &Secrets,
    caller: &KeyedCaller,
) -> Result<CallerRecord, DomainError> {
    let keys = caller.keys();
    let calls = txn
        .find::<call::Entity>()
        .filter(call::Column::CallerKey.is_in(keys.clone()))
        .order_by_desc(call::Column::StartedAt)
        .all(txn.conn())
        .await?;
    let threads = txn
        .find::<conversation::Entity>()
        .filter(conversation::Column::CallerKey.is_in(keys.clone()))
        .order_by_desc(conversation::Column::LastMessageAt)
        .all(txn.conn())
        .await?;
    let ids: Vec<Uuid> = threads.iter().map(|row| row.id).collect();
    let mut messages = conversations::shown_messages_of_each(txn, secrets, &ids).await?;
    let mut details = conversations::intake_details_of_each(txn, secrets, &threads).await?;
    let steps = txn
        .find::<ai_step::Entity>()
        .filter(ai_step::Column::ConversationId.is_in(ids.clone()))
        .order_by_asc(ai_step::Column::CreatedAt)
        .all(txn.conn())
        .await?;
    let notices = txn
        .find::<notification::Entity>()
        .filter(notification::Column::ConversationId.is_in(ids.clone()))
        .order_by_asc(notification::Column::CreatedAt)
        .all(txn.conn())
        .await?;
    let conversations = threads
        .into_iter()
        .map(|row| HeldConversation {
            messages: messages.remove(&row.id).unwrap_or_default(),
            details: details.remove(&row.id).unwrap_or(IntakeDetails::None),
            ai_steps: steps
                .iter()
                .filter(|step| step.conversation_id == row.id)
                .cloned()
                .collect(),
            notices: notices
                .iter()
                .filter(|notice| notice.conversation_id == Some(row.id))
                .cloned()
                .collect(),
            row,
        })
        .collect();
    let appointments = appointments_of(txn, &keys).await?;
    let dismissals = txn
        .find::<worklist_dismissal::Entity>()
        .filter(worklist_dismissal::Column::CallerKey.is_in(keys.clone()))
        .order_by_desc(worklist_dismissal::Column::DismissedAt)
        .all(txn.conn())
        .await?;
    let queued_texts = {
        use sea_orm::PaginatorTrait;
        txn.find::<job_outbox::Entity>()
            .filter(sealed_numbers::mentions_any(&keys))
            .filter(job_outbox::Column::Status.is_in([
                ringback_core::outbox::PENDING,
                ringback_core::outbox::CLAIMED,
            ]))
            .count(txn.conn())
            .await?
    };
    Ok(CallerRecord {
        caller_tail: caller.tail.clone(),
        calls,
        conversations,
        appointments,
        dismissals,
        queued_texts,
        opted_out_since: opt_outs::opted_out_since(txn, &keys).await?,
        restricted_since: restrictions::restricted_since(txn, &keys).await?,
    })
}

async fn appointments_of(
    txn: &TenantTxn,
    keys: &[String],
) -> Result<Vec<HeldAppointment>, DomainError> {
    let rows = txn
        .find::<appointment::Entity>()
        .filter(appointment::Column::CallerKey.is_in(keys.iter().cloned()))
        .order_by_desc(appointment::Column::CreatedAt)
        .all(txn.conn())
        .await?;
    let verdicts = txn
        .find::<attribution::Entity>()
        .filter(attribution::Column::AppointmentId.is_in(rows.iter().map(|row| row.id)))
        .all(txn.conn())
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| HeldAppointment {
            verdict: verdicts
                .iter()
                .find(|verdict| verdict.appointment_id == row.id)
                .cloned(),
            row,
        })
        .collect())
}

/// The record in the portable shape of an export: plain names and times, texts opened (a text that
/// cannot be opened is `null`, its message `unreadable`), no keys.
fn portable(
    clinic: &ringback_entity::clinic::Model,
    found: &CallerRecord,
    now: DateTime<Utc>,
) -> serde_json::Value {
    json!({
        "clinic": clinic.name,
        "exported_at": now,
        "caller": found.caller_tail,
        "calls": found.calls.iter().map(|call| json!({
            "started_at": call.started_at,
            "answered_at": call.answered_at,
            "ended_at": call.ended_at,
            "direction": call.direction,
            "outcome": call.status,
            "missed": call.missed,
            "line_type": call.line_type,
            "callback_placed_at": call.callback_placed_at,
            "text_back": call.text_back_status,
            "text_back_error": call.text_back_error,
            "number_kept_for_callbacks": call.number_sealed.is_some(),
        })).collect::<Vec<_>>(),
        "conversations": found.conversations.iter().map(|held| json!({
            "status": held.row.status,
            "started_at": held.row.created_at,
            "messages": held.messages.iter().map(|message| json!({
                "at": message.row.created_at,
                "direction": message.row.direction,
                "kind": message.row.kind,
                "status": message.row.status,
                "delivery_error": message.row.delivery_error,
                "text": message.body,
                "unreadable": message.body.is_none(),
            })).collect::<Vec<_>>(),
            "intake_details": held.details.exported(),
            "ai_receptionist": {
                "state": held.row.ai_state,
                "stopped_reason": held.row.ai_stopped_reason,
                "steps": held.ai_steps.iter().map(|step| json!({
                    "at": step.created_at,
                    "action": step.action,
                    "outcome": step.outcome,
                })).collect::<Vec<_>>(),
            },
            "notices_to_the_team": held.notices.iter().map(|notice| json!({
                "at": notice.created_at,
                "text": notice.text,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "appointments": found.appointments.iter().map(|held| json!({
            "booked_at": held.row.created_at,
            "booked_by": held.row.source,
            "starts_at": held.row.starts_at,
            "duration_minutes": held.row.duration_minutes,
            "reference_in_the_clinics_system": held.row.external_id,
            "cancelled_at": held.row.cancelled_at,
            "value_minor": held.row.value_minor,
            "currency": clinic.currency,
            "attribution": held.verdict.as_ref().map(|verdict| json!({
                "outcome": verdict.outcome,
                "reason": verdict.reason,
            })),
        })).collect::<Vec<_>>(),
        "worklist_dismissals": found.dismissals.iter().map(|row| json!({
            "at": row.dismissed_at,
            "reason": row.reason,
            "undone_at": row.undone_at,
        })).collect::<Vec<_>>(),
        "queued_texts": found.queued_texts,
        "opted_out_of_texts": found.opted_out_since.is_some(),
        "opted_out_of_texts_since": found.opted_out_since,
        "restricted_since": found.restricted_since,
    })
}

/// Erases what is held about the caller with `number` (see the module doc); audited with counts.
/// `backend` says whether the deployment has a provider account whose log can be searched.
pub async fn erase(
    txn: &TenantTxn,
    backend: &Backend,
    actor: Option<Uuid>,
    number: &str,
) -> Result<Erasure, DomainError> {
    let secrets = &backend.secrets;
    let caller = keyed(txn, secrets, number).await?;
    let keys = caller.keys();
    // First the caller's conversations, locked: a text being stored in one meanwhile (its
    // conversation's row updated after the message is inserted) is either committed before, and
    // so found and deleted below, or waits and then finds its conversation gone and is refused;
    // never kept in a deleted conversation.
    let threads = lock_conversations(txn, &keys).await?;
    // The figures stay as they are: every stale day is settled while the rows are all there.
    let settings = clinic::get(txn).await?;
    let zone = ringback_shared::metrics::parse_time_zone(&settings.time_zone)
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    metrics::settle_before(txn, local_day(txn.now(), zone) + chrono::Duration::days(1)).await?;
    let stand_in = anonymous_key(Uuid::new_v4());
    let (calls, texts) = held_by_the_provider(txn, &keys).await?;
    let provider_records = forget_provider_records::queue(txn, calls, texts, txn.now()).await?;
    let mut erasure = Erasure {
        provider_records,
        provider_log_searched: forget_caller_at_provider::queue(
            txn,
            secrets,
            &caller.e164,
            backend.provider_records.is_some(),
        )
        .await?,
        calls_unlinked: unlink_calls(txn, &keys, &stand_in).await?,
        appointments_unlinked: unlink_appointments(txn, &keys, &stand_in).await?,
        ..Erasure::default()
    };
    erasure.ai_steps_unlinked = unlink_ai_steps(txn, &threads).await?;
    erasure.notifications_deleted = txn
        .delete_many::<notification::Entity>()
        .filter(notification::Column::ConversationId.is_in(threads))
        .exec(txn.conn())
        .await?
        .rows_affected;
    erasure.messages_unlinked = unlink_counted_messages(txn, &keys, &stand_in).await?;
    erasure.messages_deleted = txn
        .delete_many::<message::Entity>()
        .filter(message::Column::CallerKey.is_in(keys.clone()))
        .exec(txn.conn())
        .await?
        .rows_affected;
    erasure.conversations_deleted = txn
        .delete_many::<conversation::Entity>()
        .filter(conversation::Column::CallerKey.is_in(keys.clone()))
        .exec(txn.conn())
        .await?
        .rows_affected;
    erasure.dismissals_deleted = txn
        .delete_many::<worklist_dismissal::Entity>()
        .filter(worklist_dismissal::Column::CallerKey.is_in(keys.clone()))
        .exec(txn.conn())
        .await?
        .rows_affected;
    erasure.texts_deleted = txn
        .delete_many::<job_outbox::Entity>()
        .filter(sealed_numbers::mentions_any(&keys))
        .exec(txn.conn())
        .await?
        .rows_affected;
    for key in &keys {
        erasure.kept_opt_out |= opt_outs::is_opted_out(txn, key).await?;
    }
    erasure.kept_restriction = restrictions::is_restricted(txn, &keys).await?;
    audit::append(
        txn,
        AuditEvent {
            actor,
            action: "caller.erased",
            detail: serde_json::to_value(&erasure)
                .map_err(|e| DomainError::Internal(e.to_string()))?,
        },
    )
    .await?;
    Ok(erasure)
}

/// The ids of the conversations of the callers with `keys`, their rows locked until the
/// transaction ends (on PostgreSQL; SQLite serialises writers anyway).
async fn lock_conversations(txn: &TenantTxn, keys: &[String]) -> Result<Vec<Uuid>, DomainError> {
    Ok(txn
        .find::<conversation::Entity>()
        .select_only()
        .column(conversation::Column::Id)
        .filter(conversation::Column::CallerKey.is_in(keys.iter().cloned()))
        .lock(LockType::Update)
        .into_tuple()
        .all(txn.conn())
        .await?)
}

/// The provider's ids of the calls (those that came through Twilio) and texts of the callers
/// with `keys`.
async fn held_by_the_provider(
    txn: &TenantTxn,
    keys: &[String],
) -> Result<(Vec<String>, Vec<String>), DomainError> {
    let calls = call::Column::CallerKey.is_in(keys.iter().cloned());
    let texts = message::Column::CallerKey.is_in(keys.iter().cloned());
    Ok((
        forget_provider_records::call_ids(txn, calls).await?,
        forget_provider_records::message_ids(txn, texts).await?,
    ))
}

/// Moves the caller's calls to `stand_in`, dropping their tail, line type and sealed number.
async fn unlink_calls(
    txn: &TenantTxn,
    keys: &[String],
    stand_in: &str,
) -> Result<u64, DomainError> {
    Ok(txn
        .update_many::<call::Entity>()
        .col_expr(call::Column::CallerKey, Expr::value(stand_in))
        .col_expr(call::Column::CallerTail, Expr::value(HIDDEN_TAIL))
        .col_expr(call::Column::LineType, Expr::value(Option::<String>::None))
        .col_expr(
            call::Column::NumberSealed,
            Expr::value(Option::<Vec<u8>>::None),
        )
        .filter(call::Column::CallerKey.is_in(keys.iter().cloned()))
        .exec(txn.conn())
        .await?
        .rows_affected)
}

/// Keeps the caller's text-backs and replies for the figures (how many were sent and answered,
/// how soon after the call) as times only: moved to `stand_in` and out of their (deleted)
/// conversation, their words and the provider's id of the text gone ([`messages::is_erased`]).
async fn unlink_counted_messages(
    txn: &TenantTxn,
    keys: &[String],
    stand_in: &str,
) -> Result<u64, DomainError> {
    Ok(txn
        .update_many::<message::Entity>()
        .col_expr(message::Column::CallerKey, Expr::value(stand_in))
        .col_expr(message::Column::ConversationId, Expr::value(Uuid::nil()))
        .col_expr(message::Column::BodySealed, Expr::value(Vec::<u8>::new()))
        .col_expr(
            message::Column::ProviderMessageId,
            Expr::value(Option::<String>::None),
        )
        .filter(message::Column::CallerKey.is_in(keys.iter().cloned()))
        .filter(message::Column::Kind.is_in(messages::COUNTED_KINDS.iter().copied()))
        .exec(txn.conn())
        .await?
        .rows_affected)
}

/// Keeps the AI's steps in the conversations `threads` for its figures and the month's token
/// count, each conversation's moved to a stand-in conversation id (its figures count
/// conversations apart) and every outcome's words replaced ("done" stays: a hand-off counts by
/// it). One update per conversation: a caller has few.
async fn unlink_ai_steps(txn: &TenantTxn, threads: &[Uuid]) -> Result<u64, DomainError> {
    let mut unlinked = 0;
    for thread in threads {
        unlinked += txn
            .update_many::<ai_step::Entity>()
            .col_expr(ai_step::Column::ConversationId, Expr::value(Uuid::new_v4()))
            .col_expr(
                ai_step::Column::Outcome,
                Expr::case(ai_step::Column::Outcome.eq(ai_agent::DONE), ai_agent::DONE)
                    .finally("erased")
                    .into(),
            )
            .filter(ai_step::Column::ConversationId.eq(*thread))
            .exec(txn.conn())
            .await?
            .rows_affected;
    }
    Ok(unlinked)
}

/// Moves the caller's appointments to `stand_in` (their verdicts stay as they are, a reply's
/// link to the reply kept without its words).
async fn unlink_appointments(
    txn: &TenantTxn,
    keys: &[String],
    stand_in: &str,
) -> Result<u64, DomainError> {
    let ids: Vec<Uuid> = txn
        .find::<appointment::Entity>()
        .filter(appointment::Column::CallerKey.is_in(keys.iter().cloned()))
        .all(txn.conn())
        .await?
        .into_iter()
        .map(|row| row.id)
        .collect();
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(txn
        .update_many::<appointment::Entity>()
        .col_expr(appointment::Column::CallerKey, Expr::value(stand_in))
        .filter(appointment::Column::Id.is_in(ids))
        .exec(txn.conn())
        .await?
        .rows_affected)
}

/// Puts the caller with `number` on the do-not-process list, or takes them off; audited. Going
/// on it also destroys the numbers kept sealed for calling or texting them back.
pub async fn restrict(
    txn: &TenantTxn,
    secrets: &Secrets,
    actor: Option<Uuid>,
    (number, restricted): (&str, bool),
) -> Result<bool, DomainError> {
    let caller = CallerKeyer::new(secrets, txn, &clinic::get(txn).await?.default_region)?
        .meet(txn, number)
        .await?;
    if restricted {
        restrictions::restrict(txn, &caller.caller_key).await?;
        sealed_numbers::forget(txn, sealed_numbers::Whose::Caller(&caller.keys())).await?;
    } else {
        restrictions::lift(txn, &caller.keys()).await?;
    }
    audit::append(
        txn,
        AuditEvent {
            actor,
            action: if restricted {
                "caller.restricted"
            } else {
                "caller.restriction_lifted"
            },
            detail: json!({}),
        },
    )
    .await?;
    Ok(restricted)
}
