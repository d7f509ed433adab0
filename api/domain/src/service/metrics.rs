//! Metrics for a range of clinic-local days, computed with the shared metrics maths from the stored
//! calls and attribution verdicts: totals, a daily series (every day of the range, empty days
//! included) and a monthly series.

use chrono::{DateTime, Utc};
use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use ringback_entity::daily_metric;
use ringback_entity::{appointment, attribution as verdict, call};
use ringback_shared::attribution::{
    Attribution, AttributionOutcome, AttributionReport, CallRecord, MissedCallRef, RecoveryTouch,
    RecoveryTouchKind, UnattributedReason,
};
use ringback_shared::metrics::{
    CALLBACK_LIMIT, DayMetrics, FIGURES_REACH_DAYS, MetricsInput, PeriodMetrics, REPLY_WINDOW,
    aggregate_metrics, callbacks_to_missed_calls, local_day_bounds_utc,
};
use ringback_shared::metrics::{MonthMetrics, local_day, monthly_metrics};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ColumnTrait, EntityTrait, FromJsonQueryResult, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

use crate::service::clinic;
use ringback_core::columns::Tolerant;
use ringback_core::error::DomainError;
use ringback_core::tenant::TenantTxn;

/// Longest range one request may ask for, in days.
pub const MAX_RANGE_DAYS: i64 = 400;

/// Totals and series for a range.
pub struct RangeMetrics {
    pub totals: PeriodMetrics,
    /// Every day of the range, in order.
    pub days: Vec<DayMetrics>,
    /// Whether reading the range recounted days and stored their figures (stale days, or days
    /// whose stored samples did not decode): the read wrote, and its transaction must commit to
    /// keep them. A range of settled days was only read.
    pub recounted_days: bool,
}

impl RangeMetrics {
    /// The local months the range touches, in order, each summed from its days (worked out only
    /// when asked for: the overview shows days).
    pub fn months(&self) -> Vec<MonthMetrics> {
        monthly_metrics(&self.days)
    }
}

/// The stored verdict of a recovered appointment, in the engine's shape (the metrics only need
/// its time, value and status: a recovery whose links to its call or touch were cleared, the call
/// purged, still counts).
fn as_attribution(appointment: &appointment::Model, row: &verdict::Model) -> Attribution {
    let outcome = match (row.outcome.as_str(), row.missed_call_at, row.touch_at) {
        ("recovered", Some(at), Some(touch_at)) => AttributionOutcome::Recovered {
            missed_call: MissedCallRef {
                call_id: row.missed_call_id.unwrap_or_default(),
                at,
            },
            touch: RecoveryTouch {
                kind: RecoveryTouchKind::Callback,
                id: row.touch_id.unwrap_or_default(),
                at: touch_at,
            },
        },
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

fn check_range(from: NaiveDate, to: NaiveDate) -> Result<(), DomainError> {
    if to < from || (to - from).num_days() >= MAX_RANGE_DAYS {
        return Err(DomainError::BadUserInput(format!(
            "choose 1 to {MAX_RANGE_DAYS} days, from before to"
        )));
    }
    Ok(())
}

async fn clinic_zone(txn: &TenantTxn) -> Result<Tz, DomainError> {
    clinic::time_zone(&clinic::get(txn).await?)
}

/// The verdicts of `appointments`, by appointment id: read a bounded list of ids at a time (a
/// range of days may hold more bookings than a statement may name).
async fn verdicts_of(
    txn: &TenantTxn,
    appointments: &[appointment::Model],
) -> Result<std::collections::HashMap<Uuid, verdict::Model>, DomainError> {
    let ids: Vec<Uuid> = appointments.iter().map(|a| a.id).collect();
    let mut verdicts = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(crate::service::calls::IDS_PER_QUERY) {
        let rows = txn
            .find::<verdict::Entity>()
            .filter(verdict::Column::AppointmentId.is_in(chunk.iter().copied()))
            .all(txn.conn())
            .await?;
        verdicts.extend(rows.into_iter().map(|row| (row.appointment_id, row)));
    }
    Ok(verdicts)
}

/// Metrics for the local days `from..=to`, computed in full from calls and verdicts. The API
/// reads the incrementally maintained daily rows instead ([`range`]); this is the reference they
/// must always equal.
pub async fn compute_full(
    txn: &TenantTxn,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<RangeMetrics, DomainError> {
    check_range(from, to)?;
    let zone = clinic_zone(txn).await?;
    let bad_range =
        |e: ringback_shared::metrics::MetricsError| DomainError::BadUserInput(e.to_string());
    let start = local_day_bounds_utc(from, zone).map_err(bad_range)?.start;
    let end = local_day_bounds_utc(to, zone).map_err(bad_range)?.end;

    let calls: Vec<CallRecord> = txn
        .find::<call::Entity>()
        .filter(call::Column::StartedAt.gte(start - CALLBACK_LIMIT))
        .filter(call::Column::StartedAt.lt(end))
        .all(txn.conn())
        .await?
        .iter()
        .filter_map(crate::service::calls::call_record)
        .collect();
    let callbacks: Vec<_> = callbacks_to_missed_calls(&calls, CALLBACK_LIMIT)
        .into_iter()
        .filter(|callback| callback.at >= start)
        .collect();
    let in_range: Vec<CallRecord> = calls.into_iter().filter(|call| call.at >= start).collect();

    let attribution = booked_between(txn, start, end).await?;
    let text_backs = crate::service::messages::text_backs_in(txn, start, end).await?;
    // A text-back near the end of the range may be answered after it, unless its caller was
    // texted back again meanwhile: the reply is then that text-back's.
    let later_text_backs =
        crate::service::messages::text_back_times_in(txn, end, end + REPLY_WINDOW).await?;
    let replies = crate::service::messages::replies_in(txn, start, end + REPLY_WINDOW).await?;
    let report = aggregate_metrics(
        zone,
        &MetricsInput {
            calls: &in_range,
            text_backs: &text_backs,
            later_text_backs: &later_text_backs,
            replies: &replies,
            callbacks: &callbacks,
            attribution: &attribution,
        },
    );
    Ok(RangeMetrics {
        totals: report.total(),
        days: every_day(
            from,
            to,
            &report
                .days
                .iter()
                .map(|d| (d.day, d.metrics.clone()))
                .collect(),
        ),
        recounted_days: false,
    })
}

/// Every day of `from..=to` with its figures (zero where `known` has none), so charts have no gaps.
fn every_day(
    from: NaiveDate,
    to: NaiveDate,
    known: &BTreeMap<NaiveDate, PeriodMetrics>,
) -> Vec<DayMetrics> {
    from.iter_days()
        .take_while(|day| *day <= to)
        .map(|day| DayMetrics {
            day,
            metrics: known.get(&day).cloned().unwrap_or_default(),
        })
        .collect()
}

/// Marks the clinic-local days of `instants` for recomputation before the next read, and the days
/// up to [`CALLBACK_LIMIT`] after each that can change with it: always for `with_following_week`
/// (a miss recorded late changes the callbacks counted after it), and for anything from a day
/// before today (a callback or an answer recorded late ends the run of misses a later callback
/// was counted against). Cheap: one upsert per day.
pub async fn mark_stale(
    txn: &TenantTxn,
    instants: impl IntoIterator<Item = DateTime<Utc>>,
    with_following_week: bool,
) -> Result<(), DomainError> {
    let instants: Vec<DateTime<Utc>> = instants.into_iter().collect();
    if instants.is_empty() {
        return Ok(());
    }
    let clinic = clinic::get(txn).await?;
    mark_stale_of(txn, &clinic, instants, with_following_week).await
}

/// [`mark_stale`] for a caller that has read the transaction's `clinic` already.
pub async fn mark_stale_of(
    txn: &TenantTxn,
    clinic: &ringback_entity::clinic::Model,
    instants: Vec<DateTime<Utc>>,
    with_following_week: bool,
) -> Result<(), DomainError> {
    if instants.is_empty() {
        return Ok(());
    }
    let zone = clinic::time_zone(clinic)?;
    let today = local_day(txn.now(), zone);
    let days: BTreeSet<NaiveDate> = instants
        .into_iter()
        .flat_map(|at| {
            let day = local_day(at, zone);
            // A week of callbacks ends 7 × 24 hours later: a day more across a clock change.
            let last = if with_following_week || day < today {
                local_day(at + CALLBACK_LIMIT, zone)
            } else {
                day
            };
            day.iter_days().take_while(move |next| *next <= last)
        })
        .collect();
    mark_days_stale(txn, clinic, days).await
}

/// After the clinic's time zone changed: every stored day, with the two days either side of it
/// (zones are up to 26 hours apart, so an instant's local day moves by at most two), is recomputed
/// in the new zone before the next read; a day left without anything counts nothing. Days a purge
/// froze keep the zone they were counted in (their calls are gone). One upsert per day touched.
pub async fn restate_in_new_zone(
    txn: &TenantTxn,
    clinic: &ringback_entity::clinic::Model,
) -> Result<(), DomainError> {
    let stored: Vec<NaiveDate> = txn
        .find::<daily_metric::Entity>()
        .select_only()
        .column(daily_metric::Column::Day)
        .into_tuple()
        .all(txn.conn())
        .await?;
    let days = stored
        .into_iter()
        .flat_map(|day| {
            (-2..=2).filter_map(move |offset| day.checked_add_signed(Duration::days(offset)))
        })
        .collect();
    mark_days_stale(txn, clinic, days).await
}

/// Marks for recomputation the days a reply at `at` can change: its own, and those of the
/// text-backs it may answer (up to [`REPLY_WINDOW`] before it).
pub async fn mark_reply_stale(txn: &TenantTxn, at: DateTime<Utc>) -> Result<(), DomainError> {
    let clinic = clinic::get(txn).await?;
    let zone = clinic::time_zone(&clinic)?;
    let (first, last) = (local_day(at - REPLY_WINDOW, zone), local_day(at, zone));
    mark_days_stale(
        txn,
        &clinic,
        first.iter_days().take_while(|day| *day <= last).collect(),
    )
    .await
}

/// The first clinic-local day whose figures may still change after calls before `purged_before`
/// were purged: the days before it either lost calls or reach back (callbacks, replies) to days
/// that did, so their stored figures are final.
pub fn first_open_day(purged_before: DateTime<Utc>, zone: Tz) -> NaiveDate {
    local_day(purged_before, zone) + Duration::days(FIGURES_REACH_DAYS + 1)
}

/// The first day of `clinic` whose figures may still change, if a purge froze the days before it.
fn open_from(clinic: &ringback_entity::clinic::Model) -> Result<Option<NaiveDate>, DomainError> {
    match clinic.calls_purged_before {
        Some(purged_before) => Ok(Some(first_open_day(
            purged_before,
            clinic::time_zone(clinic)?,
        ))),
        None => Ok(None),
    }
}

/// The verdicts of the bookings made in `[start, end)`, and what they recovered.
async fn booked_between(
    txn: &TenantTxn,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<AttributionReport, DomainError> {
    let appointments = txn
        .find::<appointment::Entity>()
        .filter(appointment::Column::CreatedAt.gte(start))
        .filter(appointment::Column::CreatedAt.lt(end))
        .all(txn.conn())
        .await?;
    let verdicts = verdicts_of(txn, &appointments).await?;
    let attributions: Vec<Attribution> = appointments
        .iter()
        .filter_map(|appointment| {
            let row = verdicts.get(&appointment.id)?;
            Some(as_attribution(appointment, row))
        })
        .collect();
    let recovered: Vec<&Attribution> = attributions.iter().filter(|a| a.is_recovered()).collect();
    Ok(AttributionReport {
        recovered_count: recovered.len() as u64,
        recovered_revenue_minor: recovered.iter().map(|a| a.value_minor).sum(),
        attributions,
    })
}

/// Brings the figures of the days bookings were made (`booked`) up to date after their verdicts
/// changed: an open day is marked stale; a day a purge froze keeps its call figures (their calls
/// are gone) and has its recovered bookings recounted from the bookings and verdicts, which are
/// kept. One read and one update per frozen day.
pub async fn verdicts_changed(
    txn: &TenantTxn,
    booked: Vec<DateTime<Utc>>,
) -> Result<(), DomainError> {
    if booked.is_empty() {
        return Ok(());
    }
    let clinic = clinic::get(txn).await?;
    let zone = clinic::time_zone(&clinic)?;
    let open = open_from(&clinic)?;
    let (frozen, live): (Vec<DateTime<Utc>>, Vec<DateTime<Utc>>) = booked
        .into_iter()
        .partition(|at| open.is_some_and(|open| local_day(*at, zone) < open));
    mark_stale_of(txn, &clinic, live, false).await?;
    let days: BTreeSet<NaiveDate> = frozen.iter().map(|at| local_day(*at, zone)).collect();
    for day in days {
        let bounds = local_day_bounds_utc(day, zone)
            .map_err(|e| DomainError::Internal(format!("a booking's day: {e}")))?;
        let recovered = booked_between(txn, bounds.start, bounds.end).await?;
        txn.update_many::<daily_metric::Entity>()
            .col_expr(
                daily_metric::Column::RecoveredAppointments,
                Expr::value(as_count(recovered.recovered_count)),
            )
            .col_expr(
                daily_metric::Column::RecoveredRevenueMinor,
                Expr::value(recovered.recovered_revenue_minor),
            )
            .col_expr(daily_metric::Column::UpdatedAt, Expr::value(txn.now()))
            .filter(daily_metric::Column::Day.eq(day))
            .exec(txn.conn())
            .await?;
    }
    Ok(())
}

/// Recomputes every stale day before `day`, so that the figures frozen by a purge are the ones the
/// purged rows gave.
pub async fn settle_before(txn: &TenantTxn, day: NaiveDate) -> Result<(), DomainError> {
    // Before any clinic existed; early enough for every database's date type.
    let first = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(day);
    match day.pred_opt() {
        Some(last) if last >= first => refresh_stale(txn, first, last).await,
        _ => Ok(()),
    }
}

/// Marks `days` of `clinic` stale, except those a purge froze.
async fn mark_days_stale(
    txn: &TenantTxn,
    clinic: &ringback_entity::clinic::Model,
    days: BTreeSet<NaiveDate>,
) -> Result<(), DomainError> {
    let days: BTreeSet<NaiveDate> = match open_from(clinic)? {
        Some(open) => days.into_iter().filter(|day| *day >= open).collect(),
        None => days,
    };
    if days.is_empty() {
        return Ok(());
    }
    let now = txn.now();
    let rows = days.into_iter().map(|day| daily_metric::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        day: Set(day),
        inbound_calls: Set(0),
        missed_calls: Set(0),
        text_backs_sent: Set(0),
        replied_text_backs: Set(0),
        callbacks: Set(0),
        median_callback_seconds: Set(None),
        recovered_appointments: Set(0),
        recovered_revenue_minor: Set(0),
        updated_at: Set(now),
        stale: Set(true),
        callback_delays_seconds: Set(None),
        stale_version: Set(1),
        text_back_delays_seconds: Set(None),
    });
    // One statement for all the days; an existing day's version moves on, so a refresh that read
    // it before this write will not clear the flag.
    daily_metric::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([daily_metric::Column::ClinicId, daily_metric::Column::Day])
                .update_column(daily_metric::Column::Stale)
                .value(
                    daily_metric::Column::StaleVersion,
                    sea_orm::sea_query::ExprTrait::add(
                        Expr::col((daily_metric::Entity, daily_metric::Column::StaleVersion)),
                        1,
                    ),
                )
                .to_owned(),
        )
        .exec(txn.conn())
        .await?;
    Ok(())
}

fn as_count(value: u64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// Recomputes the stale daily rows in `from..=to`.
async fn refresh_stale(txn: &TenantTxn, from: NaiveDate, to: NaiveDate) -> Result<(), DomainError> {
    let stale = StaleDay::select(txn.find::<daily_metric::Entity>())
        .filter(daily_metric::Column::Stale.eq(true))
        .filter(daily_metric::Column::Day.gte(from))
        .filter(daily_metric::Column::Day.lte(to))
        .into_model::<StaleDay>()
        .all(txn.conn())
        .await?;
    settle_rows(txn, stale).await
}

ringback_core::row_by_position! {
    /// A day read stale: its date and the version it had when read.
    #[derive(Clone, Copy, Debug)]
    pub struct StaleDay {
        pub day: NaiveDate => daily_metric::Column::Day,
        pub version: i64 => daily_metric::Column::StaleVersion,
    }
}

/// Recomputes the daily rows `stale` (read stale): one pass over each run of them that spans fewer
/// than [`MAX_RANGE_DAYS`] days (what [`compute_full`] takes), so stale days years apart (history
/// an integrator sent late) settle too.
async fn settle_rows(txn: &TenantTxn, mut stale: Vec<StaleDay>) -> Result<(), DomainError> {
    stale.sort_by_key(|row| row.day);
    for run in runs_within_range(&stale) {
        settle_run(txn, run).await?;
    }
    Ok(())
}

/// `stale`, sorted by day, cut into runs that each span fewer than [`MAX_RANGE_DAYS`] days.
fn runs_within_range(stale: &[StaleDay]) -> Vec<&[StaleDay]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for (index, row) in stale.iter().enumerate() {
        if (row.day - stale[start].day).num_days() >= MAX_RANGE_DAYS {
            runs.push(&stale[start..index]);
            start = index;
        }
    }
    if start < stale.len() {
        runs.push(&stale[start..]);
    }
    runs
}

/// Recomputes one run of stale days (sorted, spanning fewer than [`MAX_RANGE_DAYS`] days) in one
/// pass: a day's figures need no more history than compute_full loads. Its days run from the
/// first, one per day, so a stale day's figures are found by position.
async fn settle_run(txn: &TenantTxn, run: &[StaleDay]) -> Result<(), DomainError> {
    let (Some(first), Some(last)) = (run.first(), run.last()) else {
        return Ok(());
    };
    let full = compute_full(txn, first.day, last.day).await?;
    for row in run {
        let position = usize::try_from((row.day - first.day).num_days()).ok();
        let Some(fresh) = position
            .and_then(|position| full.days.get(position))
            .filter(|day| day.day == row.day)
            .map(|day| &day.metrics)
        else {
            continue;
        };
        settle_day(txn, *row, fresh).await?;
    }
    Ok(())
}

/// Stores a stale day's recomputed figures and clears its flag, unless a write marked the day
/// stale again after `read` was read (its version moved on): then the row is left alone and the
/// next read recomputes it. Returns whether the day was settled.
pub async fn settle_day(
    txn: &TenantTxn,
    read: StaleDay,
    fresh: &PeriodMetrics,
) -> Result<bool, DomainError> {
    use daily_metric::Column;
    let median = fresh.median_time_to_callback_seconds().map(|s| s as i32);
    let settled = txn
        .update_many::<daily_metric::Entity>()
        .col_expr(
            Column::InboundCalls,
            Expr::value(as_count(fresh.inbound_calls)),
        )
        .col_expr(
            Column::MissedCalls,
            Expr::value(as_count(fresh.missed_calls)),
        )
        .col_expr(
            Column::TextBacksSent,
            Expr::value(as_count(fresh.text_backs_sent)),
        )
        .col_expr(
            Column::RepliedTextBacks,
            Expr::value(as_count(fresh.replied_text_backs)),
        )
        .col_expr(Column::Callbacks, Expr::value(as_count(fresh.callbacks)))
        .col_expr(Column::MedianCallbackSeconds, Expr::value(median))
        .col_expr(
            Column::RecoveredAppointments,
            Expr::value(as_count(fresh.recovered_appointments)),
        )
        .col_expr(
            Column::RecoveredRevenueMinor,
            Expr::value(fresh.recovered_revenue_minor),
        )
        .col_expr(
            Column::CallbackDelaysSeconds,
            Expr::value(serde_json::json!(&fresh.callback_delays_seconds)),
        )
        .col_expr(
            Column::TextBackDelaysSeconds,
            Expr::value(serde_json::json!(&fresh.text_back_delays_seconds)),
        )
        .col_expr(Column::Stale, Expr::value(false))
        .col_expr(Column::UpdatedAt, Expr::value(txn.now()))
        .filter(Column::Day.eq(read.day))
        .filter(Column::StaleVersion.eq(read.version))
        .exec(txn.conn())
        .await?;
    Ok(settled.rows_affected == 1)
}

ringback_core::row_by_position! {
    /// A stored day as a range read needs it: its figures, whether a write marked it stale, and
    /// the version a settle compares. The samples are decoded from their JSON text straight into
    /// numbers; samples that do not decode leave the row readable (see [`days_to_recount`]).
    struct StoredDay {
        day: NaiveDate => daily_metric::Column::Day,
        inbound_calls: i32 => daily_metric::Column::InboundCalls,
        missed_calls: i32 => daily_metric::Column::MissedCalls,
        text_backs_sent: i32 => daily_metric::Column::TextBacksSent,
        replied_text_backs: i32 => daily_metric::Column::RepliedTextBacks,
        callbacks: i32 => daily_metric::Column::Callbacks,
        recovered_appointments: i32 => daily_metric::Column::RecoveredAppointments,
        recovered_revenue_minor: i64 => daily_metric::Column::RecoveredRevenueMinor,
        stale: bool => daily_metric::Column::Stale,
        stale_version: i64 => daily_metric::Column::StaleVersion,
        callback_delays_seconds: Tolerant<Samples> => daily_metric::Column::CallbackDelaysSeconds,
        text_back_delays_seconds: Tolerant<Samples> => daily_metric::Column::TextBackDelaysSeconds,
    }
}

/// A day's delay samples as stored (a JSON array of seconds, ascending).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, FromJsonQueryResult)]
struct Samples(Vec<i64>);

impl StoredDay {
    /// Whether either of the day's delay samples does not decode.
    fn has_unreadable_samples(&self) -> bool {
        self.callback_delays_seconds.0.is_err() || self.text_back_delays_seconds.0.is_err()
    }

    /// The day as read, for recounting it.
    fn as_read(&self) -> StaleDay {
        StaleDay {
            day: self.day,
            version: self.stale_version,
        }
    }

    /// The day's figures. Samples that still do not decode (a day a purge froze, or one a write
    /// marked stale again while it was recounted) count as none.
    fn period(self, clinic_id: Uuid) -> PeriodMetrics {
        let count = |n: i32| n.max(0) as u64;
        let day = self.day;
        PeriodMetrics {
            inbound_calls: count(self.inbound_calls),
            missed_calls: count(self.missed_calls),
            text_backs_sent: count(self.text_backs_sent),
            replied_text_backs: count(self.replied_text_backs),
            text_back_delays_seconds: samples_or_none(
                self.text_back_delays_seconds,
                clinic_id,
                day,
            ),
            callbacks: count(self.callbacks),
            callback_delays_seconds: samples_or_none(self.callback_delays_seconds, clinic_id, day),
            recovered_appointments: count(self.recovered_appointments),
            recovered_revenue_minor: self.recovered_revenue_minor,
        }
    }
}

/// A day's stored samples, or none (with a warning naming the clinic and the day, not what is
/// stored: the decoding error would quote it) when they do not decode.
fn samples_or_none(stored: Tolerant<Samples>, clinic_id: Uuid, day: NaiveDate) -> Vec<i64> {
    match stored.0 {
        Ok(samples) => samples.unwrap_or_default().0,
        Err(_) => {
            tracing::warn!(%clinic_id, %day, "a day's stored delay samples do not decode; read as none");
            Vec::new()
        }
    }
}

/// The days of `rows` to recount before a range read answers: those a write marked stale, and
/// those whose delay samples do not decode, which a recount from the calls rewrites (not a day a
/// purge froze: its calls are gone, so its stored counts stand and its samples read as none).
async fn days_to_recount(
    txn: &TenantTxn,
    rows: &[StoredDay],
) -> Result<Vec<StaleDay>, DomainError> {
    let open = if rows.iter().any(StoredDay::has_unreadable_samples) {
        open_from(&clinic::get(txn).await?)?
    } else {
        None
    };
    let repairable =
        |row: &StoredDay| row.has_unreadable_samples() && open.is_none_or(|open| row.day >= open);
    Ok(rows
        .iter()
        .filter(|row| row.stale || repairable(row))
        .map(StoredDay::as_read)
        .collect())
}

/// The stored daily rows of `from..=to`, oldest first.
async fn daily_rows(
    txn: &TenantTxn,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<StoredDay>, DomainError> {
    use daily_metric::Column;
    Ok(StoredDay::select(txn.find::<daily_metric::Entity>())
        .filter(Column::Day.gte(from))
        .filter(Column::Day.lte(to))
        .order_by_asc(Column::Day)
        .into_model::<StoredDay>()
        .all(txn.conn())
        .await?)
}

/// Metrics for the local days `from..=to`, read from the incrementally maintained daily rows in
/// one query when every day is settled and its samples decode (stale days, and open days whose
/// samples do not, are recomputed first, then read again). Always equal to [`compute_full`] on
/// the days a purge left open; a frozen day's figures are the ones stored when it froze.
pub async fn range(
    txn: &TenantTxn,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<RangeMetrics, DomainError> {
    check_range(from, to)?;
    let mut rows = daily_rows(txn, from, to).await?;
    let recount = days_to_recount(txn, &rows).await?;
    let recounted_days = !recount.is_empty();
    if recounted_days {
        settle_rows(txn, recount).await?;
        rows = daily_rows(txn, from, to).await?;
    }
    let stored: BTreeMap<NaiveDate, PeriodMetrics> = rows
        .into_iter()
        .map(|row| (row.day, row.period(txn.clinic_id())))
        .collect();
    let days = every_day(from, to, &stored);
    let totals = PeriodMetrics::sum(days.iter().map(|day| &day.metrics));
    Ok(RangeMetrics {
        totals,
        days,
        recounted_days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stale(days: &[i64]) -> Vec<StaleDay> {
        let first = NaiveDate::from_ymd_opt(2024, 1, 1).expect("a date");
        days.iter()
            .map(|&offset| StaleDay {
                day: first + Duration::days(offset),
                version: 1,
            })
            .collect()
    }

    fn spans(runs: &[&[StaleDay]]) -> Vec<usize> {
        runs.iter().map(|run| run.len()).collect()
    }

    #[test]
    fn stale_days_are_cut_into_runs_the_recount_accepts() {
        let days = stale(&[0, 5, 399, 400, 799, 800, 2_000]);
        let runs = runs_within_range(&days);
        assert_eq!(spans(&runs), [3, 2, 1, 1]);
        for run in &runs {
            let span = run[run.len() - 1].day - run[0].day;
            assert!(span.num_days() < MAX_RANGE_DAYS, "{run:?}");
        }
        assert!(runs_within_range(&[]).is_empty());
        assert_eq!(spans(&runs_within_range(&stale(&[7]))), [1]);
    }
}
