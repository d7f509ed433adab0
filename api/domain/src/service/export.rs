//! Exports for a period as CSV (calls, appointments with their attribution, daily metrics), each
//! recorded in the audit log with its kind, range and row count. Callers appear by caller key and
//! masked tail only: an export never holds a number.

use chrono::{DateTime, NaiveDate, Utc};
use ringback_entity::{appointment, attribution, call};
use ringback_shared::metrics::{local_day_bounds_utc, parse_time_zone};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
use serde_json::json;
use uuid::Uuid;

use crate::service::audit::{self, AuditEvent};
use crate::service::{clinic, metrics};
use ringback_core::error::DomainError;
use ringback_core::tenant::TenantTxn;

/// What to export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportKind {
    Calls,
    Appointments,
    Metrics,
}

impl ExportKind {
    fn name(self) -> &'static str {
        match self {
            ExportKind::Calls => "calls",
            ExportKind::Appointments => "appointments",
            ExportKind::Metrics => "metrics",
        }
    }
}

/// A finished export.
pub struct Csv {
    pub filename: String,
    pub content: String,
    pub rows: usize,
}

/// One CSV field, quoted when it holds a comma, quote or line break.
fn field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// A header line and rows, CRLF-terminated as RFC 4180 has it.
fn csv(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = header.join(",");
    out.push_str("\r\n");
    for row in rows {
        let line: Vec<String> = row.iter().map(|value| field(value)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339()
}

fn optional<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// The UTC bounds of clinic days `from..=to`.
async fn bounds(
    txn: &TenantTxn,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(DateTime<Utc>, DateTime<Utc>), DomainError> {
    let settings = clinic::get(txn).await?;
    let zone =
        parse_time_zone(&settings.time_zone).map_err(|e| DomainError::Internal(e.to_string()))?;
    let day =
        |day| local_day_bounds_utc(day, zone).map_err(|e| DomainError::BadUserInput(e.to_string()));
    Ok((day(from)?.start, day(to)?.end))
}

async fn calls(
    txn: &TenantTxn,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Vec<String>>, DomainError> {
    let (start, end) = bounds(txn, from, to).await?;
    let rows = txn
        .find::<call::Entity>()
        .filter(call::Column::StartedAt.gte(start))
        .filter(call::Column::StartedAt.lt(end))
        .order_by_asc(call::Column::StartedAt)
        .all(txn.conn())
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            vec![
                row.id.to_string(),
                instant(row.started_at),
                row.direction,
                row.status,
                row.missed.to_string(),
                row.caller_key,
                row.caller_tail,
                optional(row.line_type),
                optional(row.text_back_status),
                row.provider,
            ]
        })
        .collect())
}

async fn appointments(
    txn: &TenantTxn,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Vec<String>>, DomainError> {
    let (start, end) = bounds(txn, from, to).await?;
    let rows = txn
        .find::<appointment::Entity>()
        .filter(appointment::Column::CreatedAt.gte(start))
        .filter(appointment::Column::CreatedAt.lt(end))
        .order_by_asc(appointment::Column::CreatedAt)
        .all(txn.conn())
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let verdicts = txn
        .find::<attribution::Entity>()
        .filter(attribution::Column::AppointmentId.is_in(ids))
        .all(txn.conn())
        .await?;
    let currency = clinic::get(txn).await?.currency;
    Ok(rows
        .into_iter()
        .map(|row| {
            let verdict = verdicts.iter().find(|v| v.appointment_id == row.id);
            vec![
                row.id.to_string(),
                instant(row.created_at),
                row.caller_key,
                row.value_minor.to_string(),
                currency.clone(),
                optional(row.cancelled_at.map(instant)),
                optional(verdict.map(|v| v.outcome.clone())),
                optional(verdict.map(|v| v.reason.clone())),
                optional(verdict.and_then(|v| v.missed_call_id)),
                optional(verdict.and_then(|v| v.touch_kind.clone())),
            ]
        })
        .collect())
}

async fn daily_metrics(
    txn: &TenantTxn,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Vec<String>>, DomainError> {
    let range = metrics::range(txn, from, to).await?;
    let rate =
        |ratio: ringback_shared::metrics::Ratio| optional(ratio.value().map(|v| format!("{v:.4}")));
    Ok(range
        .days
        .into_iter()
        .map(|day| {
            let m = day.metrics;
            vec![
                day.day.to_string(),
                m.inbound_calls.to_string(),
                m.missed_calls.to_string(),
                rate(m.miss_rate()),
                m.text_backs_sent.to_string(),
                rate(m.reply_rate()),
                m.callbacks.to_string(),
                optional(m.median_time_to_callback_seconds()),
                m.recovered_appointments.to_string(),
                rate(m.recovery_rate()),
                m.recovered_revenue_minor.to_string(),
            ]
        })
        .collect())
}

/// Builds the export and records it in the audit log.
pub async fn export(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    kind: ExportKind,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Csv, DomainError> {
    if to < from || (to - from).num_days() > 366 {
        return Err(DomainError::BadUserInput(
            "choose 1 to 366 days, `from` first".to_owned(),
        ));
    }
    let (header, rows): (&[&str], Vec<Vec<String>>) = match kind {
        ExportKind::Calls => (
            &[
                "id",
                "started_at",
                "direction",
                "status",
                "missed",
                "caller_key",
                "caller_tail",
                "line_type",
                "text_back_status",
                "source",
            ],
            calls(txn, from, to).await?,
        ),
        ExportKind::Appointments => (
            &[
                "id",
                "created_at",
                "caller_key",
                "value_minor",
                "currency",
                "cancelled_at",
                "attribution",
                "reason",
                "missed_call_id",
                "touch_kind",
            ],
            appointments(txn, from, to).await?,
        ),
        ExportKind::Metrics => (
            &[
                "day",
                "inbound_calls",
                "missed_calls",
                "miss_rate",
                "text_backs_sent",
                "reply_rate",
                "callbacks",
                "median_time_to_callback_seconds",
                "recovered_appointments",
                "recovery_rate",
                "recovered_revenue_minor",
            ],
            daily_metrics(txn, from, to).await?,
        ),
    };
    audit::append(
        txn,
        AuditEvent {
            actor,
            action: "export.created",
            detail: json!({ "kind": kind.name(), "from": from, "to": to, "rows": rows.len() }),
        },
    )
    .await?;
    Ok(Csv {
        filename: format!("ringback-{}-{from}-to-{to}.csv", kind.name()),
        content: csv(header, &rows),
        rows: rows.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(
            csv(&["a", "b"], &[vec!["1".into(), "x\ny".into()]]),
            "a,b\r\n1,\"x\ny\"\r\n"
        );
    }
}
