//! Metrics for a range of clinic-local days, computed with the shared metrics maths from the stored
//! calls and attribution verdicts: totals, a daily series (every day of the range, empty days
//! included) and a monthly series.

use chrono::{Duration, NaiveDate};
use ringback_entity::{appointment, attribution as verdict, call};
use ringback_shared::attribution::{
    Attribution, AttributionOutcome, AttributionReport, CallDirection, CallOutcome, CallRecord,
    MissedCallRef, RecoveryTouch, RecoveryTouchKind, UnattributedReason,
};
use ringback_shared::metrics::{
    DayMetrics, MetricsInput, MetricsReport, PeriodMetrics, aggregate_metrics,
    callbacks_to_missed_calls, local_day_bounds_utc, parse_time_zone,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::db::DbError;
use crate::error::ApiError;
use crate::service::clinic;
use crate::tenant::TenantTxn;

/// Longest range one request may ask for, in days.
pub const MAX_RANGE_DAYS: i64 = 400;
/// How long after a miss an outbound call still counts as its callback.
const CALLBACK_LIMIT: Duration = Duration::days(7);

fn db_error(error: sea_orm::DbErr) -> ApiError {
    ApiError::from(DbError::from(error))
}

/// Totals and series for a range.
pub struct RangeMetrics {
    pub totals: PeriodMetrics,
    /// Every day of the range, in order.
    pub days: Vec<DayMetrics>,
    pub report: MetricsReport,
}

fn call_record(model: &call::Model) -> Option<CallRecord> {
    Some(CallRecord {
        id: model.id,
        caller_key: model.caller_key.clone(),
        at: model.started_at,
        direction: CallDirection::parse(&model.direction)?,
        outcome: CallOutcome::parse(&model.status)?,
    })
}

/// The stored verdict of a recovered appointment, in the engine's shape (the metrics only need
/// its time, value and status).
fn as_attribution(appointment: &appointment::Model, row: &verdict::Model) -> Attribution {
    let outcome = match (
        row.outcome.as_str(),
        row.missed_call_id,
        row.missed_call_at,
        row.touch_id,
        row.touch_at,
    ) {
        ("recovered", Some(call_id), Some(at), Some(touch_id), Some(touch_at)) => {
            AttributionOutcome::Recovered {
                missed_call: MissedCallRef { call_id, at },
                touch: RecoveryTouch {
                    kind: RecoveryTouchKind::Callback,
                    id: touch_id,
                    at: touch_at,
                },
            }
        }
        _ => AttributionOutcome::Unattributed {
            reason: UnattributedReason::NoRecoveryTouch,
        },
    };
    Attribution {
        appointment_id: appointment.id,
        created_at: appointment.created_at,
        value_minor: row.value_minor,
        outcome,
    }
}

/// Metrics for the local days `from..=to` of the transaction's clinic.
pub async fn range(
    txn: &TenantTxn,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<RangeMetrics, ApiError> {
    if to < from || (to - from).num_days() >= MAX_RANGE_DAYS {
        return Err(ApiError::BadUserInput(format!(
            "choose 1 to {MAX_RANGE_DAYS} days, from before to"
        )));
    }
    let clinic = clinic::get(txn).await?;
    let zone = parse_time_zone(&clinic.time_zone).map_err(|e| ApiError::Internal(e.to_string()))?;
    let bad_range =
        |e: ringback_shared::metrics::MetricsError| ApiError::BadUserInput(e.to_string());
    let start = local_day_bounds_utc(from, zone).map_err(bad_range)?.start;
    let end = local_day_bounds_utc(to, zone).map_err(bad_range)?.end;

    let calls: Vec<CallRecord> = call::Entity::find()
        .filter(call::Column::ClinicId.eq(txn.clinic_id()))
        .filter(call::Column::StartedAt.gte(start - CALLBACK_LIMIT))
        .filter(call::Column::StartedAt.lt(end))
        .all(txn.conn())
        .await
        .map_err(db_error)?
        .iter()
        .filter_map(call_record)
        .collect();
    let callbacks: Vec<_> = callbacks_to_missed_calls(&calls, CALLBACK_LIMIT)
        .into_iter()
        .filter(|callback| callback.at >= start)
        .collect();
    let in_range: Vec<CallRecord> = calls.into_iter().filter(|call| call.at >= start).collect();

    let appointments = appointment::Entity::find()
        .filter(appointment::Column::ClinicId.eq(txn.clinic_id()))
        .filter(appointment::Column::CreatedAt.gte(start))
        .filter(appointment::Column::CreatedAt.lt(end))
        .all(txn.conn())
        .await
        .map_err(db_error)?;
    let verdicts = verdict::Entity::find()
        .filter(verdict::Column::ClinicId.eq(txn.clinic_id()))
        .filter(
            verdict::Column::AppointmentId
                .is_in(appointments.iter().map(|a| a.id).collect::<Vec<_>>()),
        )
        .all(txn.conn())
        .await
        .map_err(db_error)?;
    let attributions: Vec<Attribution> = appointments
        .iter()
        .filter_map(|appointment| {
            let row = verdicts
                .iter()
                .find(|row| row.appointment_id == appointment.id)?;
            Some(as_attribution(appointment, row))
        })
        .collect();
    let recovered: Vec<&Attribution> = attributions.iter().filter(|a| a.is_recovered()).collect();
    let attribution = AttributionReport {
        recovered_count: recovered.len() as u64,
        recovered_revenue_minor: recovered.iter().map(|a| a.value_minor).sum(),
        attributions,
    };
    let report = aggregate_metrics(
        zone,
        &MetricsInput {
            calls: &in_range,
            text_backs_sent: &[],
            replies: &[],
            callbacks: &callbacks,
            attribution: &attribution,
        },
    );
    Ok(RangeMetrics {
        totals: report.total(),
        days: every_day(&report, from, to),
        report,
    })
}

/// The report's days with the empty ones filled in, so charts have no gaps.
fn every_day(report: &MetricsReport, from: NaiveDate, to: NaiveDate) -> Vec<DayMetrics> {
    from.iter_days()
        .take_while(|day| *day <= to)
        .map(|day| {
            let metrics = report
                .days
                .iter()
                .find(|d| d.day == day)
                .map(|d| d.metrics.clone())
                .unwrap_or_default();
            DayMetrics { day, metrics }
        })
        .collect()
}
