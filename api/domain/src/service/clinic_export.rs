//! The clinic's whole data, for its owner to take away: one JSON document per line, each
//! `{"table": …, "row": {…}}`, section by section: the clinic's settings, the team (no password
//! hashes), calls, appointments, attributions, conversations (with the intake details the AI
//! saved opened), messages (their texts opened; one that cannot be opened is exported with
//! `unreadable` and no text, an erased caller's text-back or reply with `erased` and no text), the
//! AI receptionist's steps, the team's notifications, worklist dismissals, the opt-out and
//! do-not-process lists, the texts counted per billing period, the audit log and the daily
//! figures (delay samples that do not decode exported as null). [`NOT_EXPORTED`] names every other
//! table that holds a clinic's rows, and why it stays behind.
//! Sealed values (numbers, keys) are left out: they mean nothing outside the server, and a number
//! never leaves it.
//!
//! The export is read a page at a time ([`next_page`], each page its own short transaction in the
//! download), so a clinic with a year of data does not hold the server's memory: cost is one keyset
//! page of [`PAGE_ROWS`] rows per request to the database, constant memory per download. The
//! counts of [`plan`] let the dashboard show progress; the download's start and end are audited
//! ([`record_start`], [`record`]).

use chrono::{DateTime, NaiveDate, Utc};
use ringback_core::columns::Tolerant;
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::{ClinicOwned, TenantTxn};
use ringback_entity::{
    ai_step, appointment, attribution, audit_log, billing_usage, call, caller_restriction,
    clinic_service, conversation, daily_metric, membership, message, notification, opt_out, user,
    worklist_dismissal,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::service::ai_tools::IntakeDetails;
use crate::service::audit::{self, AuditEvent};
use crate::service::{clinic, conversations, keys, messages};

/// Rows read per page.
pub const PAGE_ROWS: u64 = 500;

/// Columns never exported: sealed values, secrets' hashes and the AI receptionist's mark of an
/// answer under way (working state, not the clinic's data).
const WITHHELD: &[&str] = &[
    "ai_answering_for",
    "ai_answering_since",
    "wrapped_data_key",
    "forwarding_line_sealed",
    "callback_line_sealed",
    "number_sealed",
    "body_sealed",
    "details_sealed",
    "password_hash",
];

/// A part of the export, in the order they are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    Clinic,
    Team,
    PriceList,
    Calls,
    Appointments,
    Attributions,
    Conversations,
    Messages,
    AiSteps,
    Notifications,
    WorklistDismissals,
    OptOuts,
    Restrictions,
    TextsCounted,
    AuditLog,
    DailyFigures,
}

impl Section {
    /// Every section, in export order.
    pub const ALL: [Section; 16] = [
        Section::Clinic,
        Section::Team,
        Section::PriceList,
        Section::Calls,
        Section::Appointments,
        Section::Attributions,
        Section::Conversations,
        Section::Messages,
        Section::AiSteps,
        Section::Notifications,
        Section::WorklistDismissals,
        Section::OptOuts,
        Section::Restrictions,
        Section::TextsCounted,
        Section::AuditLog,
        Section::DailyFigures,
    ];

    /// The name each line of the section carries as `table`.
    pub fn name(self) -> &'static str {
        match self {
            Section::Clinic => "clinic",
            Section::Team => "team",
            Section::PriceList => "price_list",
            Section::Calls => "calls",
            Section::Appointments => "appointments",
            Section::Attributions => "attributions",
            Section::Conversations => "conversations",
            Section::Messages => "messages",
            Section::AiSteps => "ai_steps",
            Section::Notifications => "notifications",
            Section::WorklistDismissals => "worklist_dismissals",
            Section::OptOuts => "opt_outs",
            Section::Restrictions => "caller_restrictions",
            Section::TextsCounted => "texts_counted",
            Section::AuditLog => "audit_log",
            Section::DailyFigures => "daily_figures",
        }
    }

    /// The database table the section reads.
    pub fn table(self) -> &'static str {
        match self {
            Section::Clinic => "clinics",
            Section::Team => "memberships",
            Section::PriceList => "clinic_services",
            Section::TextsCounted => "billing_usage",
            Section::DailyFigures => "daily_metrics",
            other => other.name(),
        }
    }
}

/// The tables holding a clinic's rows that the export leaves behind, and why: working state and
/// secrets' hashes, which mean nothing outside the server.
pub const NOT_EXPORTED: &[(&str, &str)] = &[
    (
        "job_outbox",
        "texts and reports waiting to go: working state",
    ),
    (
        "audit_pending",
        "reads waiting to be sealed into the audit log, which is exported",
    ),
    (
        "processed_webhooks",
        "provider event ids applied once: working state",
    ),
    ("refresh_tokens", "session tokens' hashes"),
    ("api_keys", "integrators' keys' hashes"),
    ("invites", "invitation tokens' hashes, valid a few days"),
    (
        "provider_numbers",
        "the texting number, sealed, and its routing key",
    ),
    (
        "webhook_refusals",
        "the last provider requests refused for its numbers: a diagnosis, nothing of the request",
    ),
    (
        "clinic_deletions",
        "the deployment's record of deleted clinics: none while the clinic exists",
    ),
];

/// Where a download is: the section, and the last key read in it.
#[derive(Clone, Debug, Default)]
pub struct ExportCursor {
    section: usize,
    after: Option<sea_orm::Value>,
}

/// One page of the export.
pub struct ExportPage {
    /// JSON lines, each ending in `\n`.
    pub lines: String,
    pub rows: u64,
    /// Where the next page starts; `None` after the last.
    pub next: Option<ExportCursor>,
}

/// How many rows each section holds now.
pub async fn plan(txn: &TenantTxn) -> Result<Vec<(Section, u64)>, DomainError> {
    let mut counts = Vec::with_capacity(Section::ALL.len());
    for section in Section::ALL {
        let rows = match section {
            Section::Clinic => 1,
            Section::Team => count::<membership::Entity>(txn).await?,
            Section::PriceList => count::<clinic_service::Entity>(txn).await?,
            Section::Calls => count::<call::Entity>(txn).await?,
            Section::Appointments => count::<appointment::Entity>(txn).await?,
            Section::Attributions => count::<attribution::Entity>(txn).await?,
            Section::Conversations => count::<conversation::Entity>(txn).await?,
            Section::Messages => count::<message::Entity>(txn).await?,
            Section::AiSteps => count::<ai_step::Entity>(txn).await?,
            Section::Notifications => count::<notification::Entity>(txn).await?,
            Section::WorklistDismissals => count::<worklist_dismissal::Entity>(txn).await?,
            Section::OptOuts => count::<opt_out::Entity>(txn).await?,
            Section::Restrictions => count::<caller_restriction::Entity>(txn).await?,
            Section::TextsCounted => count::<billing_usage::Entity>(txn).await?,
            Section::AuditLog => count::<audit_log::Entity>(txn).await?,
            Section::DailyFigures => count::<daily_metric::Entity>(txn).await?,
        };
        counts.push((section, rows));
    }
    Ok(counts)
}

async fn count<E>(txn: &TenantTxn) -> Result<u64, DomainError>
where
    E: ClinicOwned,
    E::Model: Sync,
{
    Ok(txn.find::<E>().count(txn.conn()).await?)
}

/// The page at `cursor` (the start when default); empty sections are passed over.
pub async fn next_page(
    txn: &TenantTxn,
    secrets: &Secrets,
    cursor: ExportCursor,
) -> Result<ExportPage, DomainError> {
    let mut cursor = cursor;
    while let Some(section) = Section::ALL.get(cursor.section).copied() {
        let (rows, last) = read(txn, secrets, section, cursor.after.clone()).await?;
        let full = rows.len() as u64 == PAGE_ROWS;
        let next = if full {
            ExportCursor {
                section: cursor.section,
                after: last,
            }
        } else {
            ExportCursor {
                section: cursor.section + 1,
                after: None,
            }
        };
        if rows.is_empty() {
            cursor = next;
            continue;
        }
        let mut lines = String::new();
        for row in &rows {
            lines.push_str(&json!({ "table": section.name(), "row": row }).to_string());
            lines.push('\n');
        }
        let more = next.section < Section::ALL.len();
        return Ok(ExportPage {
            lines,
            rows: rows.len() as u64,
            next: more.then_some(next),
        });
    }
    Ok(ExportPage {
        lines: String::new(),
        rows: 0,
        next: None,
    })
}

/// Up to [`PAGE_ROWS`] rows of `section` after `after`, and the last one's key.
async fn read(
    txn: &TenantTxn,
    secrets: &Secrets,
    section: Section,
    after: Option<sea_orm::Value>,
) -> Result<(Vec<Value>, Option<sea_orm::Value>), DomainError> {
    match section {
        // One row, so never a full page: the next page is the next section's.
        Section::Clinic => Ok((vec![shown(&clinic::get(txn).await?)?], None)),
        Section::Team => team(txn, after).await,
        Section::Calls => page::<call::Entity>(txn, call::Column::Id, after, |r| r.id.into()).await,
        Section::Appointments => {
            page::<appointment::Entity>(txn, appointment::Column::Id, after, |r| r.id.into()).await
        }
        Section::Attributions => {
            page::<attribution::Entity>(txn, attribution::Column::AppointmentId, after, |r| {
                r.appointment_id.into()
            })
            .await
        }
        Section::Conversations => conversations_page(txn, secrets, after).await,
        Section::Messages => messages(txn, secrets, after).await,
        Section::AiSteps => {
            page::<ai_step::Entity>(txn, ai_step::Column::Id, after, |r| r.id.into()).await
        }
        Section::Notifications => {
            page::<notification::Entity>(txn, notification::Column::Id, after, |r| r.id.into())
                .await
        }
        Section::TextsCounted => {
            page::<billing_usage::Entity>(txn, billing_usage::Column::PeriodStart, after, |r| {
                r.period_start.into()
            })
            .await
        }
        Section::WorklistDismissals => {
            page::<worklist_dismissal::Entity>(txn, worklist_dismissal::Column::Id, after, |r| {
                r.id.into()
            })
            .await
        }
        Section::PriceList => {
            page::<clinic_service::Entity>(txn, clinic_service::Column::Id, after, |r| r.id.into())
                .await
        }
        Section::OptOuts => {
            page::<opt_out::Entity>(txn, opt_out::Column::CallerKey, after, |r| {
                r.caller_key.clone().into()
            })
            .await
        }
        Section::Restrictions => {
            page::<caller_restriction::Entity>(
                txn,
                caller_restriction::Column::CallerKey,
                after,
                |r| r.caller_key.clone().into(),
            )
            .await
        }
        Section::AuditLog => {
            page::<audit_log::Entity>(txn, audit_log::Column::Seq, after, |r| r.seq.into()).await
        }
        Section::DailyFigures => daily_figures(txn, after).await,
    }
}

/// `row` as JSON, without the withheld columns.
fn shown(row: &impl Serialize) -> Result<Value, DomainError> {
    let mut value = serde_json::to_value(row).map_err(|e| DomainError::Internal(e.to_string()))?;
    if let Some(fields) = value.as_object_mut() {
        for name in WITHHELD {
            fields.remove(*name);
        }
    }
    Ok(value)
}

/// A keyset page of `E` ordered by `key`.
async fn page<E>(
    txn: &TenantTxn,
    key: E::Column,
    after: Option<sea_orm::Value>,
    key_of: impl Fn(&E::Model) -> sea_orm::Value,
) -> Result<(Vec<Value>, Option<sea_orm::Value>), DomainError>
where
    E: ClinicOwned,
    E::Model: Serialize,
{
    let (rows, last) = page_rows::<E>(txn, key, after, key_of).await?;
    let shown = rows.iter().map(shown).collect::<Result<Vec<_>, _>>()?;
    Ok((shown, last))
}

/// The rows of a keyset page of `E` ordered by `key`, and the key of its last row.
async fn page_rows<E>(
    txn: &TenantTxn,
    key: E::Column,
    after: Option<sea_orm::Value>,
    key_of: impl Fn(&E::Model) -> sea_orm::Value,
) -> Result<(Vec<E::Model>, Option<sea_orm::Value>), DomainError>
where
    E: ClinicOwned,
{
    let mut query = txn.find::<E>();
    if let Some(after) = after {
        query = query.filter(key.gt(after));
    }
    let rows = query
        .order_by_asc(key)
        .limit(PAGE_ROWS)
        .all(txn.conn())
        .await?;
    let last = rows.last().map(&key_of);
    Ok((rows, last))
}

/// A page of conversations, each with the intake details the AI saved in it opened
/// (`intake_details`, as [`IntakeDetails::exported`] writes them).
async fn conversations_page(
    txn: &TenantTxn,
    secrets: &Secrets,
    after: Option<sea_orm::Value>,
) -> Result<(Vec<Value>, Option<sea_orm::Value>), DomainError> {
    let key = conversation::Column::Id;
    let (rows, last) = page_rows::<conversation::Entity>(txn, key, after, |r| r.id.into()).await?;
    let details = conversations::intake_details_of_each(txn, secrets, &rows).await?;
    let mut page = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut exported = shown(row)?;
        let of_row = details
            .get(&row.id)
            .map_or(Value::Null, IntakeDetails::exported);
        exported["intake_details"] = of_row;
        page.push(exported);
    }
    Ok((page, last))
}

ringback_core::row_by_position! {
    /// A day's figures as exported: every column, the delay samples read so that samples which
    /// do not decode (JSON text a bug or a hand edit broke, which SQLite keeps) export as `null`
    /// rather than stopping the download.
    struct ExportedDay {
        clinic_id: Uuid => daily_metric::Column::ClinicId,
        day: NaiveDate => daily_metric::Column::Day,
        inbound_calls: i32 => daily_metric::Column::InboundCalls,
        missed_calls: i32 => daily_metric::Column::MissedCalls,
        text_backs_sent: i32 => daily_metric::Column::TextBacksSent,
        replied_text_backs: i32 => daily_metric::Column::RepliedTextBacks,
        callbacks: i32 => daily_metric::Column::Callbacks,
        median_callback_seconds: Option<i32> => daily_metric::Column::MedianCallbackSeconds,
        recovered_appointments: i32 => daily_metric::Column::RecoveredAppointments,
        recovered_revenue_minor: i64 => daily_metric::Column::RecoveredRevenueMinor,
        updated_at: DateTime<Utc> => daily_metric::Column::UpdatedAt,
        stale: bool => daily_metric::Column::Stale,
        stale_version: i64 => daily_metric::Column::StaleVersion,
        callback_delays_seconds: Tolerant<Value> => daily_metric::Column::CallbackDelaysSeconds,
        text_back_delays_seconds: Tolerant<Value> => daily_metric::Column::TextBackDelaysSeconds,
    }
}

impl ExportedDay {
    /// The day as the export writes it (the columns' names, as every other section).
    fn shown(&self) -> Value {
        let samples = |stored: &Tolerant<Value>| stored.0.clone().ok().flatten();
        json!({
            "clinic_id": self.clinic_id,
            "day": self.day,
            "inbound_calls": self.inbound_calls,
            "missed_calls": self.missed_calls,
            "text_backs_sent": self.text_backs_sent,
            "replied_text_backs": self.replied_text_backs,
            "callbacks": self.callbacks,
            "median_callback_seconds": self.median_callback_seconds,
            "recovered_appointments": self.recovered_appointments,
            "recovered_revenue_minor": self.recovered_revenue_minor,
            "updated_at": self.updated_at,
            "stale": self.stale,
            "stale_version": self.stale_version,
            "callback_delays_seconds": samples(&self.callback_delays_seconds),
            "text_back_delays_seconds": samples(&self.text_back_delays_seconds),
        })
    }
}

/// A keyset page of the daily figures, by day ([`ExportedDay`]).
async fn daily_figures(
    txn: &TenantTxn,
    after: Option<sea_orm::Value>,
) -> Result<(Vec<Value>, Option<sea_orm::Value>), DomainError> {
    use daily_metric::Column;
    let mut query = ExportedDay::select(txn.find::<daily_metric::Entity>());
    if let Some(after) = after {
        query = query.filter(Column::Day.gt(after));
    }
    let days = query
        .order_by_asc(Column::Day)
        .limit(PAGE_ROWS)
        .into_model::<ExportedDay>()
        .all(txn.conn())
        .await?;
    let last = days.last().map(|day| day.day.into());
    Ok((days.iter().map(ExportedDay::shown).collect(), last))
}

/// Members with their names and e-mail addresses (never a password hash).
async fn team(
    txn: &TenantTxn,
    after: Option<sea_orm::Value>,
) -> Result<(Vec<Value>, Option<sea_orm::Value>), DomainError> {
    let (members, last) =
        page::<membership::Entity>(txn, membership::Column::UserId, after, |r| r.user_id.into())
            .await?;
    let ids: Vec<Uuid> = members
        .iter()
        .filter_map(|member| member["user_id"].as_str()?.parse().ok())
        .collect();
    let users = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(txn.conn())
        .await?;
    let rows = members
        .into_iter()
        .map(|mut member| {
            let person = users
                .iter()
                .find(|user| member["user_id"].as_str() == Some(user.id.to_string().as_str()));
            if let (Some(fields), Some(person)) = (member.as_object_mut(), person) {
                fields.insert("email".to_owned(), json!(person.email));
                fields.insert("display_name".to_owned(), json!(person.display_name));
            }
            member
        })
        .collect();
    Ok((rows, last))
}

/// Messages with their texts opened.
async fn messages(
    txn: &TenantTxn,
    secrets: &Secrets,
    after: Option<sea_orm::Value>,
) -> Result<(Vec<Value>, Option<sea_orm::Value>), DomainError> {
    let mut query = txn.find::<message::Entity>();
    if let Some(after) = after {
        query = query.filter(message::Column::Id.gt(after));
    }
    let rows = query
        .order_by_asc(message::Column::Id)
        .limit(PAGE_ROWS)
        .all(txn.conn())
        .await?;
    let key = keys::data_key(secrets, &clinic::get(txn).await?)?;
    let mut shown_rows = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut value = shown(row)?;
        let erased = messages::is_erased(row);
        let text = if erased {
            None
        } else {
            conversations::shown_text(&key, txn.clinic_id(), row)
        };
        if let Some(fields) = value.as_object_mut() {
            fields.insert("erased".to_owned(), json!(erased));
            fields.insert("unreadable".to_owned(), json!(!erased && text.is_none()));
            fields.insert("text".to_owned(), json!(text));
        }
        shown_rows.push(value);
    }
    Ok((shown_rows, rows.last().map(|row| row.id.into())))
}

/// Records in the audit log that a download of the clinic's data starts, before any of it leaves
/// (a download stopped part-way is then still on record), and names its file after the clinic's
/// own calendar day at `now` (a Sydney clinic's morning is still yesterday in UTC).
pub async fn record_start(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<String, DomainError> {
    let zone = clinic::time_zone(&clinic::get(txn).await?)?;
    audit::append(
        txn,
        AuditEvent {
            actor,
            action: "export.clinic_data_started",
            detail: json!({}),
        },
    )
    .await?;
    Ok(ringback_shared::display::clinic_data_file_name(
        ringback_shared::metrics::local_day(now, zone),
    ))
}

/// Records a finished export of `rows` rows in the audit log.
pub async fn record(txn: &TenantTxn, actor: Option<Uuid>, rows: u64) -> Result<(), DomainError> {
    audit::append(
        txn,
        AuditEvent {
            actor,
            action: "export.clinic_data",
            detail: json!({ "rows": rows }),
        },
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::Iterable;

    #[test]
    fn the_exported_day_reads_every_column_of_the_daily_figures() {
        assert_eq!(ExportedDay::COLUMNS, daily_metric::Column::iter().count());
    }
}
