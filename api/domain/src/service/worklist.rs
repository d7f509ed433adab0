//! The receptionists' worklist: callers who missed the clinic within its attribution window and
//! have not been spoken with, booked, dismissed or restricted since (the shared rule in
//! `ringback_shared::worklist`), longest-waiting first, a page at a time, with what happened to
//! their text-back and whether they replied. Staff dismiss a caller with a reason (audited,
//! counted, undoable); a later missed call puts them back.
//!
//! Cost: one read of the window's calls, the waiting callers' bookings and the window's
//! dismissals per page. At 100× a busy clinic (30,000 calls in a 30-day window) that is one indexed
//! range scan of `calls` by `(clinic_id, started_at)` and a sort in memory, a few MB.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use ringback_entity::{
    appointment, call, caller_restriction, message, worklist_dismissal as dismissal,
};
use ringback_shared::worklist::{self, DismissalReason, WaitEnd, Waiting};
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use uuid::Uuid;

use crate::service::audit::{self, AuditEvent};
use crate::service::{calls, clinic, in_clinic, messages};
use ringback_core::error::DomainError;
use ringback_core::tenant::TenantTxn;

/// A waiting caller, with what staff need to call them back.
pub struct WaitingCaller {
    pub waiting: Waiting,
    pub caller_tail: String,
    pub text_back_status: Option<String>,
    /// Why that text-back was not delivered (the provider's error code), when it was not.
    pub text_back_error: Option<i32>,
    /// Whether they texted back since their first waiting call.
    pub replied: bool,
}

/// Where a worklist page starts: after this caller, in longest-waiting order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorklistCursor {
    pub first_missed_at: DateTime<Utc>,
    pub caller_key: String,
}

impl WorklistCursor {
    /// Opaque text form, to the nanosecond: calls are stored in whole microseconds now
    /// (`stored_instant`), but those recorded before on SQLite kept whatever precision their
    /// source gave, and a rounded cursor could show such a caller twice.
    pub fn encode(&self) -> String {
        let nanos = self
            .first_missed_at
            .timestamp_nanos_opt()
            .unwrap_or(i64::MAX);
        format!("{nanos}_{}", self.caller_key)
    }

    /// Parses [`WorklistCursor::encode`]'s output.
    pub fn decode(text: &str) -> Option<Self> {
        let (nanos, key) = text.split_once('_')?;
        Some(Self {
            first_missed_at: DateTime::from_timestamp_nanos(nanos.parse().ok()?),
            caller_key: key.to_owned(),
        })
    }

    /// The cursor just after `waiting`.
    pub fn of(waiting: &Waiting) -> Self {
        Self {
            first_missed_at: waiting.first_missed_at,
            caller_key: waiting.caller_key.clone(),
        }
    }

    fn precedes(&self, waiting: &Waiting) -> bool {
        (&self.first_missed_at, &self.caller_key) < (&waiting.first_missed_at, &waiting.caller_key)
    }
}

/// One page of the worklist.
pub struct WorklistPage {
    pub callers: Vec<WaitingCaller>,
    pub has_next: bool,
}

/// How far back the worklist looks as of `now`: the clinic's attribution window (a caller missed
/// longer ago can no longer be recovered, so the list would never end).
async fn lookback_start(txn: &TenantTxn, now: DateTime<Utc>) -> Result<DateTime<Utc>, DomainError> {
    let settings = clinic::get(txn).await?;
    Ok(now - Duration::days(i64::from(settings.attribution_window_days)))
}

/// Up to `limit` waiting callers as of `now`, after `after`; the read is audited.
pub async fn waiting_callers(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    now: DateTime<Utc>,
    after: Option<&WorklistCursor>,
    limit: usize,
) -> Result<WorklistPage, DomainError> {
    let since = lookback_start(txn, now).await?;
    let rows = txn
        .find::<call::Entity>()
        .filter(call::Column::StartedAt.gte(since))
        .all(txn.conn())
        .await?;
    let records: Vec<_> = rows.iter().filter_map(calls::call_record).collect();
    let ends = wait_ends(txn, since, &rows).await?;
    let mut list: Vec<Waiting> = worklist::waiting(&records, &ends)
        .into_iter()
        .filter(|waiting| after.is_none_or(|cursor| cursor.precedes(waiting)))
        .take(limit + 1)
        .collect();
    let has_next = list.len() > limit;
    list.truncate(limit);
    let keys: BTreeSet<String> = list.iter().map(|w| w.caller_key.clone()).collect();
    let replies = txn
        .find::<message::Entity>()
        .filter(message::Column::Kind.eq(messages::KIND_REPLY))
        .filter(message::Column::CallerKey.is_in(keys))
        .filter(message::Column::CreatedAt.gte(since))
        .all(txn.conn())
        .await?;
    let callers = list
        .into_iter()
        .filter_map(|waiting| {
            let latest = rows.iter().find(|row| row.id == waiting.latest_missed)?;
            let replied = replies.iter().any(|reply| {
                reply.caller_key == waiting.caller_key
                    && reply.created_at >= waiting.first_missed_at
            });
            Some(WaitingCaller {
                caller_tail: latest.caller_tail.clone(),
                text_back_status: latest.text_back_status.clone(),
                text_back_error: latest.text_back_error,
                replied,
                waiting,
            })
        })
        .collect::<Vec<_>>();
    audit::note_read(
        txn,
        AuditEvent {
            actor,
            action: "worklist.read",
            detail: json!({ "callers": callers.len() }),
        },
    )
    .await?;
    Ok(WorklistPage { callers, has_next })
}

/// What ended waits since `since`: bookings that stand, dismissals not undone (read by time
/// alone: a list of every caller in the window could outgrow a statement's parameters; each
/// covering the window's `calls` recorded by then: [`covered_until`]), and callers who asked the
/// clinic to restrict the processing of their data (their later calls are stored under stand-in
/// keys; those before go off the list with the request, not on being called back). The
/// do-not-process list is read whole: objections are few.
async fn wait_ends(
    txn: &TenantTxn,
    since: DateTime<Utc>,
    calls: &[call::Model],
) -> Result<Vec<WaitEnd>, DomainError> {
    let mut recorded: BTreeMap<&str, Vec<&call::Model>> = BTreeMap::new();
    for missed in calls.iter().filter(|call| call.missed) {
        recorded.entry(&missed.caller_key).or_default().push(missed);
    }
    let bookings = txn
        .find::<appointment::Entity>()
        .filter(appointment::Column::CreatedAt.gte(since))
        .filter(appointment::Column::CancelledAt.is_null())
        .all(txn.conn())
        .await?
        .into_iter()
        .map(|booking| WaitEnd {
            caller_key: booking.caller_key,
            at: booking.created_at,
        });
    let dismissals = txn
        .find::<dismissal::Entity>()
        .filter(dismissal::Column::DismissedAt.gte(since))
        .filter(dismissal::Column::UndoneAt.is_null())
        .all(txn.conn())
        .await?
        .into_iter()
        .map(|row| WaitEnd {
            at: covered_until(recorded.get(row.caller_key.as_str()), &row),
            caller_key: row.caller_key,
        });
    let restricted = txn
        .find::<caller_restriction::Entity>()
        .all(txn.conn())
        .await?
        .into_iter()
        .map(|row| WaitEnd {
            caller_key: row.caller_key,
            at: row.created_at,
        });
    Ok(bookings.chain(dismissals).chain(restricted).collect())
}

/// How far `dismissal` reaches among its caller's missed calls (`recorded`): the start of the
/// latest one recorded by the time of the dismissal, so that a call reported later (a phone
/// system sending its calls in batches) puts the caller back even when it started before the
/// dismissal; the dismissal's time when none was recorded.
fn covered_until(
    recorded: Option<&Vec<&call::Model>>,
    dismissal: &dismissal::Model,
) -> DateTime<Utc> {
    recorded
        .into_iter()
        .flatten()
        .filter(|call| call.created_at <= dismissal.dismissed_at)
        .map(|call| call.started_at)
        .max()
        .unwrap_or(dismissal.dismissed_at)
}

/// Takes the caller of call `call_id` off the worklist for `reason`, covering their missed calls
/// so far (those recorded by then). Audited.
pub async fn dismiss(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    call_id: Uuid,
    reason: DismissalReason,
) -> Result<dismissal::Model, DomainError> {
    let missed = calls::find(txn, call_id).await?;
    let now = txn.now();
    let row = dismissal::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        id: Set(Uuid::now_v7()),
        caller_key: Set(missed.caller_key),
        caller_tail: Set(missed.caller_tail),
        reason: Set(reason.as_str().to_owned()),
        dismissed_by: Set(actor),
        dismissed_at: Set(now),
        undone_by: Set(None),
        undone_at: Set(None),
    }
    .insert(txn.conn())
    .await?;
    audit::append(
        txn,
        AuditEvent {
            actor,
            action: "worklist.caller_dismissed",
            detail: json!({ "dismissal": row.id, "call": call_id, "reason": reason.as_str() }),
        },
    )
    .await?;
    Ok(row)
}

/// Undoes dismissal `id`: the caller is back on the worklist if still waiting. Undoing twice
/// changes nothing more. Audited.
pub async fn undo_dismissal(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    id: Uuid,
) -> Result<dismissal::Model, DomainError> {
    let row = in_clinic::<dismissal::Entity>(txn, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if row.undone_at.is_some() {
        return Ok(row);
    }
    let mut undone: dismissal::ActiveModel = row.into();
    undone.undone_at = Set(Some(txn.now()));
    undone.undone_by = Set(actor);
    let undone = undone.update(txn.conn()).await?;
    audit::append(
        txn,
        AuditEvent {
            actor,
            action: "worklist.dismissal_undone",
            detail: json!({ "dismissal": id }),
        },
    )
    .await?;
    Ok(undone)
}

/// Dismissals made in the last `days` days as of `now`, newest first, undone ones included.
pub async fn dismissals_since(
    txn: &TenantTxn,
    now: DateTime<Utc>,
    days: i64,
) -> Result<Vec<dismissal::Model>, DomainError> {
    Ok(txn
        .find::<dismissal::Entity>()
        .filter(dismissal::Column::DismissedAt.gte(now - Duration::days(days)))
        .order_by_desc(dismissal::Column::DismissedAt)
        .all(txn.conn())
        .await?)
}
