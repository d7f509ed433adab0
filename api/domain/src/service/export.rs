//! Exports for a period as CSV (calls, appointments with their attribution, daily metrics), each
//! recorded in the audit log with its kind, range and row count. Callers appear by caller key and
//! masked tail only: an export never holds a number.
//!
//! An export is read in pages of [`PAGE_ROWS`] rows, in order, each page after the last row of the
//! one before (no offset), in a transaction of its own: a download streams page by page in constant
//! memory however long the period, an appointment page is joined to its attributions through one
//! map (linear), and no `IN` list is ever longer than a page.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use ringback_entity::{appointment, attribution, call};
use ringback_shared::exports;
use ringback_shared::metrics::local_day_bounds_utc;
use sea_orm::sea_query::{Expr, ExprTrait, SimpleExpr};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use uuid::Uuid;

use crate::service::audit::{self, AuditEvent};
use crate::service::{clinic, metrics};
use ringback_core::error::DomainError;
use ringback_core::tenant::TenantTxn;

/// Rows read per page.
pub const PAGE_ROWS: u64 = 500;
/// The longest period one export covers.
pub const MAX_DAYS: i64 = 366;

/// What to export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportKind {
    Calls,
    Appointments,
    Metrics,
}

impl ExportKind {
    /// The kind's name in file names, URLs and the audit log.
    pub fn name(self) -> &'static str {
        match self {
            ExportKind::Calls => "calls",
            ExportKind::Appointments => "appointments",
            ExportKind::Metrics => "metrics",
        }
    }

    /// The kind named `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Calls, Self::Appointments, Self::Metrics]
            .into_iter()
            .find(|kind| kind.name() == name)
    }

    /// The CSV header line's fields.
    fn header(self) -> &'static [&'static str] {
        match self {
            ExportKind::Calls => &[
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
                "text_back_error",
            ],
            ExportKind::Appointments => &[
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
            ExportKind::Metrics => &[
                "day",
                "inbound_calls",
                "missed_calls",
                "miss_rate",
                "text_backs_sent",
                "reply_rate",
                "median_time_to_text_seconds",
                "p90_time_to_text_seconds",
                "callbacks",
                "median_time_to_callback_seconds",
                "recovered_appointments",
                "recovery_rate",
                "recovered_revenue_minor",
            ],
        }
    }
}

/// An export to read: its kind, its clinic days and their UTC bounds.
#[derive(Clone, Debug)]
pub struct ExportPlan {
    pub kind: ExportKind,
    pub from: NaiveDate,
    pub to: NaiveDate,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    currency: String,
}

impl ExportPlan {
    /// The file name a download is saved as.
    pub fn filename(&self) -> String {
        exports::csv_file_name(self.kind.name(), self.from, self.to)
    }

    /// Where the same export is downloaded, streamed (`/export/calls.csv?from=…&to=…`).
    pub fn download_path(&self) -> String {
        exports::csv_download_path(self.kind.name(), self.from, self.to)
    }

    /// The header line, CRLF-terminated.
    pub fn header_line(&self) -> String {
        csv_line(self.kind.header().iter().map(|name| (*name).to_owned()))
    }

    /// A downloaded file's first bytes: the UTF-8 byte-order mark, then the header line. Excel
    /// reads a CSV without the mark in the computer's legacy code page, so a masked number's `•`
    /// or a name's `é` would open garbled; every other reader skips the mark.
    pub fn file_start(&self) -> String {
        format!("{UTF8_BOM}{}", self.header_line())
    }
}

/// The UTF-8 byte-order mark a downloaded CSV starts with (see [`ExportPlan::file_start`]).
pub const UTF8_BOM: char = '\u{feff}';

/// Where the next page starts: after this row (its time and id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    at: DateTime<Utc>,
    id: Uuid,
}

/// A page of CSV lines and where the next one starts (`None`: this was the last).
pub struct Page {
    pub lines: String,
    pub rows: usize,
    pub next: Option<Cursor>,
}

/// A finished export.
pub struct Csv {
    pub filename: String,
    pub content: String,
    pub rows: usize,
}

/// Checks the period and works out its bounds in the clinic's time zone.
pub async fn plan(
    txn: &TenantTxn,
    kind: ExportKind,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<ExportPlan, DomainError> {
    if to < from || (to - from).num_days() >= MAX_DAYS {
        return Err(DomainError::BadUserInput(format!(
            "choose 1 to {MAX_DAYS} days, `from` first"
        )));
    }
    let settings = clinic::get(txn).await?;
    let zone = crate::service::clinic::time_zone(&settings)?;
    let day =
        |day| local_day_bounds_utc(day, zone).map_err(|e| DomainError::BadUserInput(e.to_string()));
    Ok(ExportPlan {
        kind,
        from,
        to,
        start: day(from)?.start,
        end: day(to)?.end,
        currency: settings.currency,
    })
}

/// The page of `plan` that starts after `after` (or at the beginning).
pub async fn page(
    txn: &TenantTxn,
    plan: &ExportPlan,
    after: Option<Cursor>,
) -> Result<Page, DomainError> {
    match plan.kind {
        ExportKind::Calls => calls_page(txn, plan, after).await,
        ExportKind::Appointments => appointments_page(txn, plan, after).await,
        ExportKind::Metrics => metrics_page(txn, plan).await,
    }
}

/// Records in the audit log that a download of `plan` starts, before any row leaves (a download
/// stopped part-way is then still on record).
pub async fn record_start(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    plan: &ExportPlan,
) -> Result<(), DomainError> {
    audit::append(
        txn,
        AuditEvent {
            actor,
            action: "export.started",
            detail: json!({ "kind": plan.kind.name(), "from": plan.from, "to": plan.to }),
        },
    )
    .await?;
    Ok(())
}

/// Records a finished export of `rows` rows in the audit log.
pub async fn record(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    plan: &ExportPlan,
    rows: usize,
) -> Result<(), DomainError> {
    audit::append(
        txn,
        AuditEvent {
            actor,
            action: "export.created",
            detail: json!({ "kind": plan.kind.name(), "from": plan.from, "to": plan.to, "rows": rows }),
        },
    )
    .await?;
    Ok(())
}

/// Most pages one GraphQL answer holds: a longer export is refused with the download's address,
/// which streams it page by page (one answer, one transaction, one string would hold the whole
/// period in memory and, on SQLite, keep every other writer waiting).
pub const MAX_PAGES_IN_ONE_ANSWER: usize = 10;

/// The whole export in one transaction and one string (the GraphQL answer), at most `max_pages`
/// pages ([`MAX_PAGES_IN_ONE_ANSWER`]); a download streams the same pages instead.
pub async fn export(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    kind: ExportKind,
    (from, to): (NaiveDate, NaiveDate),
    max_pages: usize,
) -> Result<Csv, DomainError> {
    let plan = plan(txn, kind, from, to).await?;
    let mut content = plan.header_line();
    let mut rows = 0;
    let mut after = None;
    for read in 1.. {
        let next = page(txn, &plan, after).await?;
        content.push_str(&next.lines);
        rows += next.rows;
        match next.next {
            // A full last page names a next one that may be empty: only rows beyond refuse.
            Some(cursor) if read >= max_pages => {
                if page(txn, &plan, Some(cursor)).await?.rows > 0 {
                    return Err(DomainError::BadUserInput(format!(
                        "more than {rows} rows: download it from {} instead, or choose fewer days",
                        plan.download_path()
                    )));
                }
                break;
            }
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    record(txn, actor, &plan, rows).await?;
    Ok(Csv {
        filename: plan.filename(),
        content,
        rows,
    })
}

/// One CSV field, quoted when it holds a comma, quote or line break; a field a spreadsheet would
/// read as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage return) is prefixed with
/// `'` so it stays text.
fn field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// One CSV line, CRLF-terminated as RFC 4180 has it.
pub fn csv_line(fields: impl IntoIterator<Item = String>) -> String {
    let mut out = fields
        .into_iter()
        .map(|value| field(&value))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    out
}

fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339()
}

fn optional<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// Rows after `cursor` in (`at`, `id`) order: the keyset that lets each page start where the last
/// ended without counting rows.
fn past(at: impl ColumnTrait, id: impl ColumnTrait, cursor: Cursor) -> SimpleExpr {
    Expr::tuple([Expr::col(at), Expr::col(id)]).gt(Expr::tuple([
        Expr::value(cursor.at),
        Expr::value(cursor.id),
    ]))
}

/// A page of rows read, and the cursor after its last row when the page was full.
fn finish<T>(rows: &[T], key: impl Fn(&T) -> Cursor, lines: String) -> Page {
    let full = rows.len() as u64 == PAGE_ROWS;
    Page {
        lines,
        rows: rows.len(),
        next: full.then(|| rows.last().map(&key)).flatten(),
    }
}

async fn calls_page(
    txn: &TenantTxn,
    plan: &ExportPlan,
    after: Option<Cursor>,
) -> Result<Page, DomainError> {
    let mut query = txn
        .find::<call::Entity>()
        .filter(call::Column::StartedAt.gte(plan.start))
        .filter(call::Column::StartedAt.lt(plan.end));
    if let Some(after) = after {
        query = query.filter(past(call::Column::StartedAt, call::Column::Id, after));
    }
    let rows = query
        .order_by_asc(call::Column::StartedAt)
        .order_by_asc(call::Column::Id)
        .limit(PAGE_ROWS)
        .all(txn.conn())
        .await?;
    let lines: String = rows
        .iter()
        .map(|row| {
            csv_line([
                row.id.to_string(),
                instant(row.started_at),
                row.direction.clone(),
                row.status.clone(),
                row.missed.to_string(),
                row.caller_key.clone(),
                row.caller_tail.clone(),
                optional(row.line_type.as_ref()),
                optional(row.text_back_status.as_ref()),
                row.provider.clone(),
                optional(row.text_back_error.as_ref()),
            ])
        })
        .collect();
    Ok(finish(
        &rows,
        |row| Cursor {
            at: row.started_at,
            id: row.id,
        },
        lines,
    ))
}

async fn appointments_page(
    txn: &TenantTxn,
    plan: &ExportPlan,
    after: Option<Cursor>,
) -> Result<Page, DomainError> {
    let mut query = txn
        .find::<appointment::Entity>()
        .filter(appointment::Column::CreatedAt.gte(plan.start))
        .filter(appointment::Column::CreatedAt.lt(plan.end));
    if let Some(after) = after {
        query = query.filter(past(
            appointment::Column::CreatedAt,
            appointment::Column::Id,
            after,
        ));
    }
    let rows = query
        .order_by_asc(appointment::Column::CreatedAt)
        .order_by_asc(appointment::Column::Id)
        .limit(PAGE_ROWS)
        .all(txn.conn())
        .await?;
    // At most one page of ids: well inside every database's limit on bound parameters.
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let verdicts: HashMap<Uuid, attribution::Model> = txn
        .find::<attribution::Entity>()
        .filter(attribution::Column::AppointmentId.is_in(ids))
        .all(txn.conn())
        .await?
        .into_iter()
        .map(|verdict| (verdict.appointment_id, verdict))
        .collect();
    let lines: String = rows
        .iter()
        .map(|row| {
            let verdict = verdicts.get(&row.id);
            csv_line([
                row.id.to_string(),
                instant(row.created_at),
                row.caller_key.clone(),
                row.value_minor.to_string(),
                plan.currency.clone(),
                optional(row.cancelled_at.map(instant)),
                optional(verdict.map(|v| v.outcome.clone())),
                optional(verdict.map(|v| v.reason.clone())),
                optional(verdict.and_then(|v| v.missed_call_id)),
                optional(verdict.and_then(|v| v.touch_kind.clone())),
            ])
        })
        .collect();
    Ok(finish(
        &rows,
        |row| Cursor {
            at: row.created_at,
            id: row.id,
        },
        lines,
    ))
}

/// The daily metrics: one row a day, at most [`MAX_DAYS`], so one page.
async fn metrics_page(txn: &TenantTxn, plan: &ExportPlan) -> Result<Page, DomainError> {
    let range = metrics::range(txn, plan.from, plan.to).await?;
    let rate =
        |ratio: ringback_shared::metrics::Ratio| optional(ratio.value().map(|v| format!("{v:.4}")));
    let rows = range.days.len();
    let lines = range
        .days
        .into_iter()
        .map(|day| {
            let m = day.metrics;
            csv_line([
                day.day.to_string(),
                m.inbound_calls.to_string(),
                m.missed_calls.to_string(),
                rate(m.miss_rate()),
                m.text_backs_sent.to_string(),
                rate(m.reply_rate()),
                optional(m.median_time_to_text_seconds()),
                optional(m.p90_time_to_text_seconds()),
                m.callbacks.to_string(),
                optional(m.median_time_to_callback_seconds()),
                m.recovered_appointments.to_string(),
                rate(m.recovery_rate()),
                m.recovered_revenue_minor.to_string(),
            ])
        })
        .collect();
    Ok(Page {
        lines,
        rows,
        next: None,
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
            csv_line(["1".to_owned(), "x\ny".to_owned()]),
            "1,\"x\ny\"\r\n"
        );
    }

    #[test]
    fn formulas_stay_text() {
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("+44"), "'+44");
        assert_eq!(field("@sum"), "'@sum");
    }
}
