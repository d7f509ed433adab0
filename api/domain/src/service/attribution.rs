//! Stored attribution: runs the shared engine over a caller's calls and appointments and keeps
//! one row per appointment with its verdict and reason. Recomputed for the callers touched by any
//! change to calls or appointments, and for the whole clinic when its window changes.

use std::collections::BTreeSet;

use chrono::Utc;
use ringback_entity::{appointment, attribution, call};
use ringback_shared::attribution::{
    AppointmentRecord, AttributionOutcome, AttributionWindow, CallRecord, ReplyRecord,
    UnattributedReason, attribute,
};
use ringback_shared::caller_key::{ANONYMOUS_PREFIX, is_anonymous};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, QuerySelect, Set};

use crate::service::calls::FIRST_TO_NAME_ITS_CALL;
use crate::service::clinic;
use ringback_core::error::DomainError;
use ringback_core::tenant::TenantTxn;

/// The stored outcome of an appointment not recovered.
const UNATTRIBUTED: &str = "unattributed";
/// The stored reason of a cancelled appointment's verdict.
const CANCELLED: &str = UnattributedReason::Cancelled.as_str();

/// The clinic's window, as the engine takes it.
async fn window(txn: &TenantTxn) -> Result<AttributionWindow, DomainError> {
    let days = clinic::get(txn).await?.attribution_window_days;
    Ok(u32::try_from(days)
        .ok()
        .and_then(|days| AttributionWindow::from_days(days).ok())
        .unwrap_or_default())
}

fn appointment_record(model: &appointment::Model) -> AppointmentRecord {
    AppointmentRecord {
        id: model.id,
        caller_key: model.caller_key.clone(),
        created_at: model.created_at,
        value_minor: model.value_minor,
        cancelled: model.cancelled_at.is_some(),
    }
}

/// Recomputes and stores attribution for every appointment of `caller_keys`.
pub async fn recompute_callers(
    txn: &TenantTxn,
    caller_keys: &BTreeSet<String>,
) -> Result<(), DomainError> {
    if caller_keys.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = caller_keys.iter().cloned().collect();
    let appointments = txn
        .find::<appointment::Entity>()
        .filter(appointment::Column::CallerKey.is_in(keys.clone()))
        .all(txn.conn())
        .await?;
    // Most calls come from callers who have not booked: nothing to attribute, nothing to load.
    if appointments.is_empty() {
        return Ok(());
    }
    let calls = txn
        .find::<call::Entity>()
        .filter(call::Column::CallerKey.is_in(keys.clone()))
        .all(txn.conn())
        .await?;
    let replies = crate::service::messages::replies_of(txn, keys).await?;
    store(txn, &calls, &replies, &appointments).await
}

/// The appointments whose verdicts a purge froze: booked before the purge horizon plus the
/// window, so some calls or replies their verdict looked at are gone. `None` when nothing was purged.
pub(crate) async fn frozen_before(
    txn: &TenantTxn,
) -> Result<Option<chrono::DateTime<Utc>>, DomainError> {
    let clinic = clinic::get(txn).await?;
    Ok(clinic.calls_purged_before.map(|purged_before| {
        purged_before + chrono::Duration::days(i64::from(clinic.attribution_window_days.max(0)))
    }))
}

/// Callers recomputed together by [`recompute_clinic`]: each pass names them in one list, which
/// the databases bound (SQLite at 32,766 values, PostgreSQL at 65,535).
const CALLERS_PER_PASS: usize = 500;

/// Recomputes every appointment of the clinic that still has its caller (after a window change),
/// [`CALLERS_PER_PASS`] callers at a time (a caller's calls, replies and appointments are always
/// in one pass). Appointments under stand-in keys (erased callers, and bookings retention
/// unlinked, one key each) keep their verdicts: their touches are gone.
pub async fn recompute_clinic(txn: &TenantTxn) -> Result<(), DomainError> {
    let keys: Vec<String> = txn
        .find::<appointment::Entity>()
        .filter(appointment::Column::CallerKey.not_like(format!("{ANONYMOUS_PREFIX}%")))
        .select_only()
        .column(appointment::Column::CallerKey)
        .distinct()
        .into_tuple::<String>()
        .all(txn.conn())
        .await?;
    for callers in keys.chunks(CALLERS_PER_PASS) {
        recompute_callers(txn, &callers.iter().cloned().collect()).await?;
    }
    Ok(())
}

async fn store(
    txn: &TenantTxn,
    calls: &[call::Model],
    replies: &[ReplyRecord],
    appointments: &[appointment::Model],
) -> Result<(), DomainError> {
    let window = window(txn).await?;
    let call_records: Vec<CallRecord> = calls
        .iter()
        .filter_map(crate::service::calls::call_record)
        .collect();
    let appointment_records: Vec<AppointmentRecord> =
        appointments.iter().map(appointment_record).collect();
    let report = attribute(window, &call_records, replies, &appointment_records);
    // The engine sees every appointment (so that frozen ones keep the calls they hold), but the
    // verdicts of those frozen by a purge are kept as they were.
    let frozen = frozen_before(txn).await?;
    let unfrozen = |appointment: &appointment::Model| {
        frozen.is_none_or(|before| appointment.created_at >= before)
    };
    // So are those of an erased caller (stored under a stand-in key): their touches are gone. A
    // booking made under a stand-in key (a restricted caller's) is judged once, when made.
    let unjudged = unjudged_stand_ins(txn, appointments.iter().filter(|a| unfrozen(a))).await?;
    let is_open = |appointment: &appointment::Model| {
        unfrozen(appointment)
            && (!is_anonymous(&appointment.caller_key) || unjudged.contains(&appointment.id))
    };
    let (appointments, kept): (Vec<&appointment::Model>, Vec<&appointment::Model>) = appointments
        .iter()
        .partition(|appointment| is_open(appointment));
    settle_kept(txn, &kept).await?;
    let open: std::collections::HashSet<uuid::Uuid> = appointments
        .iter()
        .map(|appointment| appointment.id)
        .collect();
    let ids: Vec<_> = appointments.iter().map(|a| a.id).collect();
    txn.delete_many::<attribution::Entity>()
        .filter(attribution::Column::AppointmentId.is_in(ids))
        .exec(txn.conn())
        .await?;
    let now = txn.now();
    for verdict in report
        .attributions
        .into_iter()
        .filter(|verdict| open.contains(&verdict.appointment_id))
    {
        let mut row = attribution::ActiveModel {
            clinic_id: Set(txn.clinic_id()),
            appointment_id: Set(verdict.appointment_id),
            value_minor: Set(verdict.value_minor),
            window_days: Set(window.days() as i32),
            computed_at: Set(now),
            missed_call_id: Set(None),
            missed_call_at: Set(None),
            touch_kind: Set(None),
            touch_id: Set(None),
            touch_at: Set(None),
            ..Default::default()
        };
        match verdict.outcome {
            AttributionOutcome::Recovered { missed_call, touch } => {
                row.outcome = Set("recovered".to_owned());
                row.reason = Set("recovered".to_owned());
                row.missed_call_id = Set(Some(missed_call.call_id));
                row.missed_call_at = Set(Some(missed_call.at));
                row.touch_kind = Set(Some(touch.kind.as_str().to_owned()));
                row.touch_id = Set(Some(touch.id));
                row.touch_at = Set(Some(touch.at));
            }
            AttributionOutcome::Unattributed { reason } => {
                row.outcome = Set(UNATTRIBUTED.to_owned());
                row.reason = Set(reason.as_str().to_owned());
            }
        }
        row.insert(txn.conn()).await?;
    }
    crate::service::metrics::mark_stale(txn, appointments.iter().map(|a| a.created_at), false).await
}

/// The bookings under stand-in keys among `appointments` that have no verdict yet (a restricted
/// caller's, just made): one indexed read, only when there are such bookings.
async fn unjudged_stand_ins<'a>(
    txn: &TenantTxn,
    appointments: impl Iterator<Item = &'a appointment::Model>,
) -> Result<std::collections::HashSet<uuid::Uuid>, DomainError> {
    let mut stand_ins: std::collections::HashSet<uuid::Uuid> = appointments
        .filter(|appointment| is_anonymous(&appointment.caller_key))
        .map(|appointment| appointment.id)
        .collect();
    if stand_ins.is_empty() {
        return Ok(stand_ins);
    }
    let judged: Vec<uuid::Uuid> = txn
        .find::<attribution::Entity>()
        .select_only()
        .column(attribution::Column::AppointmentId)
        .filter(attribution::Column::AppointmentId.is_in(stand_ins.iter().copied()))
        .into_tuple()
        .all(txn.conn())
        .await?;
    for id in judged {
        stand_ins.remove(&id);
    }
    Ok(stand_ins)
}

/// Verdicts kept as they were (frozen by a purge, or an erased caller's) still follow what the
/// booking itself says now: cancelled, it takes no credit (DESIGN: cancelled appointments take
/// none, and its missed call is free for a later booking, as the engine already counted it); its
/// value is the one stored now. The figures of the days of those changed follow
/// ([`metrics::verdicts_changed`](crate::service::metrics::verdicts_changed)).
async fn settle_kept(txn: &TenantTxn, kept: &[&appointment::Model]) -> Result<(), DomainError> {
    if kept.is_empty() {
        return Ok(());
    }
    let by_id: std::collections::HashMap<uuid::Uuid, &appointment::Model> = kept
        .iter()
        .map(|appointment| (appointment.id, *appointment))
        .collect();
    let stored = txn
        .find::<attribution::Entity>()
        .filter(attribution::Column::AppointmentId.is_in(by_id.keys().copied()))
        .all(txn.conn())
        .await?;
    let mut changed = Vec::new();
    for verdict in stored {
        let Some(booking) = by_id.get(&verdict.appointment_id) else {
            continue;
        };
        let cancelled = booking.cancelled_at.is_some();
        let now_cancelled = cancelled && verdict.reason != CANCELLED;
        if !now_cancelled && verdict.value_minor == booking.value_minor {
            continue;
        }
        let mut row: attribution::ActiveModel = verdict.into();
        row.value_minor = Set(booking.value_minor);
        row.computed_at = Set(txn.now());
        if now_cancelled {
            row.outcome = Set(UNATTRIBUTED.to_owned());
            row.reason = Set(CANCELLED.to_owned());
            row.missed_call_id = Set(None);
            row.missed_call_at = Set(None);
            row.touch_kind = Set(None);
            row.touch_id = Set(None);
            row.touch_at = Set(None);
        }
        row.update(txn.conn()).await?;
        changed.push(booking.created_at);
    }
    crate::service::metrics::verdicts_changed(txn, changed).await
}

/// Everything the attribution of appointments booked in `[start, end)` depends on, by caller key
/// only: calls and replies since twice the longest window before `start`, appointments since one
/// longest window before it (an earlier booking cannot take a missed call a booking in the period
/// could use). The dashboard runs the shared engine over these for its what-if preview.
pub struct PeriodEvents {
    pub calls: Vec<CallRecord>,
    pub replies: Vec<ReplyRecord>,
    pub appointments: Vec<AppointmentRecord>,
}

/// The events behind the attribution of appointments booked in `[start, end)`; the read is
/// audited.
pub async fn period_events(
    txn: &TenantTxn,
    actor: Option<uuid::Uuid>,
    start: chrono::DateTime<Utc>,
    end: chrono::DateTime<Utc>,
) -> Result<PeriodEvents, DomainError> {
    let longest = chrono::Duration::days(i64::from(ringback_shared::attribution::MAX_WINDOW_DAYS));
    let calls = txn
        .find::<call::Entity>()
        .filter(call::Column::StartedAt.gte(start - longest * 2))
        .filter(call::Column::StartedAt.lt(end))
        .all(txn.conn())
        .await?;
    let appointments = txn
        .find::<appointment::Entity>()
        .filter(appointment::Column::CreatedAt.gte(start - longest))
        .filter(appointment::Column::CreatedAt.lt(end))
        .all(txn.conn())
        .await?;
    let replies = crate::service::messages::replies_in(txn, start - longest * 2, end).await?;
    crate::service::audit::note_read(
        txn,
        crate::service::audit::AuditEvent {
            actor,
            action: "attribution.events_read",
            detail: serde_json::json!({ "calls": calls.len(), "appointments": appointments.len() }),
        },
    )
    .await?;
    Ok(PeriodEvents {
        calls: calls
            .iter()
            .filter_map(crate::service::calls::call_record)
            .collect(),
        replies,
        appointments: appointments.iter().map(appointment_record).collect(),
    })
}

/// The attributions that credit the missed calls among `call_ids`: one per call (the rules credit
/// a call once; should two ever name it, the first by appointment id, as a calls page shows it).
pub async fn crediting_calls(
    txn: &TenantTxn,
    call_ids: &[uuid::Uuid],
) -> Result<Vec<attribution::Model>, DomainError> {
    Ok(txn
        .find::<attribution::Entity>()
        .filter(attribution::Column::MissedCallId.is_in(call_ids.iter().copied()))
        .filter(Expr::cust(FIRST_TO_NAME_ITS_CALL))
        .all(txn.conn())
        .await?)
}
