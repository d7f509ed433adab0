//! Conversations and messages: each caller has one open thread at a time; texts in and out are
//! stored with their bodies sealed, idempotent on the provider's message id. A reply to a text-back
//! is a recovery touch, so recording one re-runs attribution for the caller; text-backs and replies
//! feed the metrics.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use ringback_entity::{conversation, message, processed_webhook};
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, QueryOrder, Set};
use uuid::Uuid;

use crate::service::{attribution, calls, clinic, keys, metrics, processed_webhooks};
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;
use ringback_shared::attribution::ReplyRecord;
use ringback_shared::metrics::TextBackRecord;

/// The first text after a missed call.
pub const KIND_TEXT_BACK: &str = "text_back";
/// A caller's text to the clinic.
pub const KIND_REPLY: &str = "reply";
/// A STOP/START/HELP keyword (not a conversation reply).
pub const KIND_KEYWORD: &str = "keyword";
/// A text a member of staff wrote.
pub const KIND_STAFF: &str = "staff";
/// The AI receptionist's answer.
pub const KIND_AI: &str = "ai";
/// A text the clinic sent (text-back, staff, AI).
pub const OUTBOUND: &str = "outbound";
/// A text the caller sent.
pub const INBOUND: &str = "inbound";
/// The kinds the figures count (text-backs sent, replied, how soon): an erased caller's are kept
/// as times only.
pub const COUNTED_KINDS: [&str; 2] = [KIND_TEXT_BACK, KIND_REPLY];

/// Whether `message` is an erased caller's text-back or reply, kept for the figures without its
/// words.
pub fn is_erased(message: &message::Model) -> bool {
    message.body_sealed.is_empty()
}

/// Who a message is with: the caller key and the masked tail shown to staff.
pub struct Party<'a> {
    pub caller_key: &'a str,
    pub caller_tail: &'a str,
}

/// A message to record.
pub struct NewMessage<'a> {
    pub party: Party<'a>,
    /// [`INBOUND`] or [`OUTBOUND`].
    pub direction: &'static str,
    pub kind: &'static str,
    pub body: &'a str,
    pub at: DateTime<Utc>,
    pub provider_message_id: Option<String>,
    pub status: &'static str,
    /// The missed call a text-back answers.
    pub call_id: Option<Uuid>,
    /// The caller's number sealed with the clinic's data key; the conversation keeps it only in
    /// the `text_back` privacy mode, so staff can answer.
    pub sealed_number: Option<Vec<u8>>,
    /// For an incoming text: the clinic's number it was sent to.
    pub provider_number_id: Option<Uuid>,
}

/// The caller's open conversation, if any (the latest, should there be two).
pub(crate) async fn find_open_conversation(
    txn: &TenantTxn,
    caller_key: &str,
) -> Result<Option<conversation::Model>, DomainError> {
    Ok(txn
        .find::<conversation::Entity>()
        .filter(conversation::Column::CallerKey.eq(caller_key))
        .filter(conversation::Column::Status.eq("open"))
        .order_by_desc(conversation::Column::LastMessageAt)
        .one(txn.conn())
        .await?)
}

/// The caller's open conversation, opened now if there is none. Opening takes the caller's lock
/// and looks again, so two texts of one caller stored side by side (PostgreSQL) share one
/// conversation instead of opening one each.
async fn open_conversation(
    txn: &TenantTxn,
    party: &Party<'_>,
    at: DateTime<Utc>,
) -> Result<conversation::Model, DomainError> {
    if let Some(open) = find_open_conversation(txn, party.caller_key).await? {
        return Ok(open);
    }
    txn.lock_caller(party.caller_key).await?;
    if let Some(open) = find_open_conversation(txn, party.caller_key).await? {
        return Ok(open);
    }
    Ok(conversation::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        id: Set(Uuid::now_v7()),
        caller_key: Set(party.caller_key.to_owned()),
        caller_tail: Set(party.caller_tail.to_owned()),
        status: Set("open".to_owned()),
        assigned_to: Set(None),
        last_message_at: Set(at),
        created_at: Set(at),
        updated_at: Set(at),
        number_sealed: Set(None),
        ai_state: Set(None),
        ai_stopped_reason: Set(None),
        details_sealed: Set(None),
        read_at: Set(None),
        ai_answering_for: Set(None),
        ai_answering_since: Set(None),
    }
    .insert(txn.conn())
    .await?)
}

pub async fn find_by_provider_id(
    txn: &TenantTxn,
    provider_message_id: &str,
) -> Result<Option<message::Model>, DomainError> {
    Ok(txn
        .find::<message::Entity>()
        .filter(message::Column::ProviderMessageId.eq(provider_message_id))
        .one(txn.conn())
        .await?)
}

/// Records a message (a repeat of a provider id returns the stored one and changes nothing).
pub async fn record(
    txn: &TenantTxn,
    secrets: &Secrets,
    new: NewMessage<'_>,
) -> Result<message::Model, DomainError> {
    if let Some(provider_id) = &new.provider_message_id
        && let Some(existing) = find_by_provider_id(txn, provider_id).await?
    {
        return Ok(existing);
    }
    let clinic_row = clinic::get(txn).await?;
    let key = keys::data_key(secrets, &clinic_row)?;
    let thread = open_conversation(txn, &new.party, new.at).await?;
    let keep_number = clinic_row.privacy_mode == clinic::TEXT_BACK_MODE;
    let stored = message::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        id: Set(Uuid::now_v7()),
        conversation_id: Set(thread.id),
        caller_key: Set(new.party.caller_key.to_owned()),
        direction: Set(new.direction.to_owned()),
        kind: Set(new.kind.to_owned()),
        body_sealed: Set(keys::seal_message(&key, txn.clinic_id(), new.body)?),
        provider_message_id: Set(new.provider_message_id),
        status: Set(new.status.to_owned()),
        created_at: Set(new.at),
        updated_at: Set(new.at),
        call_id: Set(new.call_id),
        delivery_error: Set(None),
        provider_number_id: Set(new.provider_number_id),
        answer_provider_id: Set(None),
    }
    .insert(txn.conn())
    .await?;
    let mut thread: conversation::ActiveModel = thread.into();
    if keep_number && let Some(sealed) = new.sealed_number {
        thread.number_sealed = Set(Some(sealed));
    }
    thread.last_message_at = Set(new.at);
    thread.updated_at = Set(new.at);
    thread.update(txn.conn()).await?;
    if new.kind == KIND_REPLY {
        attribution::recompute_callers(txn, &BTreeSet::from([stored.caller_key.clone()])).await?;
    }
    if new.kind == KIND_REPLY {
        metrics::mark_reply_stale(txn, stored.created_at).await?;
    } else {
        metrics::mark_stale(txn, [stored.created_at], false).await?;
    }
    Ok(stored)
}

/// Replies from `caller_keys` (all time), as the attribution engine takes them.
pub async fn replies_of(
    txn: &TenantTxn,
    caller_keys: Vec<String>,
) -> Result<Vec<ReplyRecord>, DomainError> {
    let rows = txn
        .find::<message::Entity>()
        .filter(message::Column::Kind.eq(KIND_REPLY))
        .filter(message::Column::CallerKey.is_in(caller_keys))
        .all(txn.conn())
        .await?;
    Ok(rows.iter().map(reply_record).collect())
}

fn reply_record(row: &message::Model) -> ReplyRecord {
    ReplyRecord {
        id: row.id,
        caller_key: row.caller_key.clone(),
        at: row.created_at,
    }
}

/// Text-backs the provider accepted in `[start, end)`, each with when its missed call ended.
pub async fn text_backs_in(
    txn: &TenantTxn,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<TextBackRecord>, DomainError> {
    let rows = in_range(txn, KIND_TEXT_BACK, start, end).await?;
    let call_ids: Vec<Uuid> = rows.iter().filter_map(|row| row.call_id).collect();
    let missed_at: BTreeMap<Uuid, DateTime<Utc>> = calls::with_ids(txn, &call_ids)
        .await?
        .into_iter()
        .map(|call| (call.id, call.ended_at.unwrap_or(call.started_at)))
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| TextBackRecord {
            missed_at: row.call_id.and_then(|id| missed_at.get(&id).copied()),
            caller_key: row.caller_key,
            at: row.created_at,
        })
        .collect())
}

/// Text-backs accepted in `[start, end)` with their callers and times only (no missed call read:
/// for bounding the replies of earlier text-backs, see `MetricsInput::later_text_backs`).
pub async fn text_back_times_in(
    txn: &TenantTxn,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<TextBackRecord>, DomainError> {
    let rows = in_range(txn, KIND_TEXT_BACK, start, end).await?;
    Ok(rows
        .into_iter()
        .map(|row| TextBackRecord {
            missed_at: None,
            caller_key: row.caller_key,
            at: row.created_at,
        })
        .collect())
}

/// Texts from callers received in `[start, end)`.
pub async fn replies_in(
    txn: &TenantTxn,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<ReplyRecord>, DomainError> {
    let rows = in_range(txn, KIND_REPLY, start, end).await?;
    Ok(rows.iter().map(reply_record).collect())
}

async fn in_range(
    txn: &TenantTxn,
    kind: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<message::Model>, DomainError> {
    Ok(txn
        .find::<message::Entity>()
        .filter(message::Column::CreatedAt.gte(start))
        .filter(message::Column::CreatedAt.lt(end))
        .filter(message::Column::Kind.eq(kind))
        .all(txn.conn())
        .await?)
}

/// Our name for a provider's delivery status (our own names map to themselves).
pub fn delivery_status(provider_status: &str) -> &'static str {
    match provider_status {
        "sending" => "sending",
        "sent" => "sent",
        "delivered" | "read" => "delivered",
        "undelivered" => "undelivered",
        "failed" => "failed",
        "canceled" | "cancelled" => "cancelled",
        _ => "queued",
    }
}

/// How far along a delivery status is; reports arrive out of order and never move a message back.
fn delivery_rank(status: &str) -> u8 {
    match status {
        "queued" => 0,
        "sending" => 1,
        "sent" => 2,
        _ => 3,
    }
}

/// Sets a message's status.
pub async fn set_status(
    txn: &TenantTxn,
    row: message::Model,
    status: &str,
) -> Result<message::Model, DomainError> {
    let mut model: message::ActiveModel = row.into();
    model.status = Set(status.to_owned());
    model.updated_at = Set(txn.now());
    Ok(model.update(txn.conn()).await?)
}

/// A provider's report on a text it took: its status, and why it was not delivered when it was
/// not (the provider's error code, Twilio's `ErrorCode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryReport<'a> {
    pub provider_status: &'a str,
    pub error: Option<i32>,
}

impl DeliveryReport<'_> {
    /// The report as an early report's record (`status` or `status:code`), after the message's
    /// provider id and a colon.
    fn recorded(self) -> String {
        let status = delivery_status(self.provider_status);
        match self.error.filter(|_| is_undelivered(status)) {
            Some(code) => format!("{status}:{code}"),
            None => status.to_owned(),
        }
    }

    /// An early report's record read back: our status and the error code it kept.
    fn from_record(record: &str) -> DeliveryReport<'_> {
        let (status, error) = record.split_once(':').unwrap_or((record, ""));
        DeliveryReport {
            provider_status: status,
            error: error.parse().ok(),
        }
    }
}

/// Whether `status` (ours) says the text will not reach the phone.
fn is_undelivered(status: &str) -> bool {
    matches!(status, "undelivered" | "failed")
}

/// Stores the provider's id for a message we queued, and its first status.
pub async fn set_provider_id(
    txn: &TenantTxn,
    row: message::Model,
    provider_message_id: &str,
    status: &str,
) -> Result<message::Model, DomainError> {
    let mut model: message::ActiveModel = row.into();
    model.provider_message_id = Set(Some(provider_message_id.to_owned()));
    model.status = Set(status.to_owned());
    model.updated_at = Set(txn.now());
    Ok(model.update(txn.conn()).await?)
}

/// Where reports that arrive before their message is recorded wait (the provider may report
/// `sent` before the worker has stored the provider's answer).
const EARLY_REPORTS: &str = "twilio:sms-status";

/// Applies a provider's delivery report to the message it names; a report that would move the
/// message backwards (or repeats) changes nothing. A report for a message not recorded yet is kept
/// until it is ([`catch_up_reports`]). Returns the message when it changed.
pub async fn report_delivery(
    txn: &TenantTxn,
    provider_message_id: &str,
    report: DeliveryReport<'_>,
) -> Result<Option<message::Model>, DomainError> {
    // Serialised with `catch_up_reports`, so an early report is either seen there or finds the
    // message here.
    txn.lock_clinic().await?;
    let Some(row) = find_by_provider_id(txn, provider_message_id).await? else {
        keep_early_report(txn, provider_message_id, report).await?;
        return Ok(None);
    };
    advance(txn, row, report).await
}

/// Moves `row` on to the status `report` gives (with its error code when it was not delivered),
/// unless that would move it back.
async fn advance(
    txn: &TenantTxn,
    row: message::Model,
    report: DeliveryReport<'_>,
) -> Result<Option<message::Model>, DomainError> {
    let status = delivery_status(report.provider_status);
    if delivery_rank(status) <= delivery_rank(&row.status) {
        return Ok(None);
    }
    let mut model: message::ActiveModel = row.into();
    model.status = Set(status.to_owned());
    model.delivery_error = Set(report.error.filter(|_| is_undelivered(status)));
    model.updated_at = Set(txn.now());
    Ok(Some(model.update(txn.conn()).await?))
}

async fn keep_early_report(
    txn: &TenantTxn,
    provider_message_id: &str,
    report: DeliveryReport<'_>,
) -> Result<(), DomainError> {
    let event_id = format!("{provider_message_id}:{}", report.recorded());
    processed_webhooks::remember(txn, EARLY_REPORTS, &event_id).await
}

/// Applies the reports that arrived before the message with this provider id was recorded;
/// returns the message when it changed.
pub async fn catch_up_reports(
    txn: &TenantTxn,
    provider_message_id: &str,
) -> Result<Option<message::Model>, DomainError> {
    let prefix = format!("{provider_message_id}:");
    txn.lock_clinic().await?;
    let early = txn
        .find::<processed_webhook::Entity>()
        .filter(processed_webhook::Column::Provider.eq(EARLY_REPORTS))
        .filter(processed_webhook::Column::EventId.starts_with(&prefix))
        .all(txn.conn())
        .await?;
    let Some(furthest) = early
        .iter()
        .filter_map(|report| report.event_id.strip_prefix(&prefix))
        .map(DeliveryReport::from_record)
        .max_by_key(|report| {
            let rank = delivery_rank(delivery_status(report.provider_status));
            (rank, report.error.is_some())
        })
    else {
        return Ok(None);
    };
    txn.delete_many::<processed_webhook::Entity>()
        .filter(processed_webhook::Column::Provider.eq(EARLY_REPORTS))
        .filter(processed_webhook::Column::EventId.starts_with(&prefix))
        .exec(txn.conn())
        .await?;
    let Some(row) = find_by_provider_id(txn, provider_message_id).await? else {
        return Ok(None);
    };
    advance(txn, row, furthest).await
}
