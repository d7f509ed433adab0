//! What a clinic's texts count against its plan, with billing on. Every text handed to the
//! provider (text-backs and staff replies alike) adds its SMS segments to the clinic's counter for
//! the billing period, in the transaction that records the text as sent: a text is counted once
//! however many workers race, because only the claim's owner commits it. A text-back is queued only
//! while billing lets the clinic text and the text fits the period's allowance (sent and still
//! queued texts included); with a plan that bills overage it goes out anyway, and the segments
//! beyond the allowance are reported to Stripe by a [`ReportOverage`] job that the same
//! transaction queues. Staff replies are never refused here; they count all the same.

use chrono::{DateTime, Datelike, Utc};
use ringback_core::error::DomainError;
use ringback_core::outbox::{self, CLAIMED, NewJob, PENDING};
use ringback_core::tenant::TenantTxn;
use ringback_entity::{billing_usage, clinic, job_outbox};
use ringback_shared::billing::{Standing, within_allowance};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, ExprTrait, PaginatorTrait, QueryFilter, Set};
use uuid::Uuid;

use crate::jobs::{ReportOverage, TEXT_JOBS};
use crate::service::billing::{self, BillingSettings};

/// Whether a text-back may be queued, as far as billing goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Billing stopped text-backs (trial over, subscription cancelled or unpaid, grace over).
    Stopped,
    /// The text would go beyond the period's allowance and the plan bills no overage.
    OverAllowance,
}

/// The billing period a clinic's texts count in at `now`: its subscription's, its trial's, or
/// (before either is known) the calendar month.
pub fn period_start(
    clinic: &clinic::Model,
    settings: &BillingSettings,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    start_of(&billing::view(clinic, settings, now), now)
}

/// The start of `view`'s period at `now` (the calendar month's while none is known). A
/// subscription that renews has begun its next period at the stored one's end, before Stripe's
/// renewal is stored: its texts count there, in the new period's allowance, not beyond the old's.
fn start_of(view: &billing::BillingView, now: DateTime<Utc>) -> DateTime<Utc> {
    match view.period {
        Some((_, end)) if now >= end && renews(view) => end,
        Some((start, _)) => start,
        None => month_start(now),
    }
}

/// Whether `view`'s subscription goes on into a next period: paid for and not set to end.
fn renews(view: &billing::BillingView) -> bool {
    !view.cancel_at_period_end
        && matches!(view.standing, Standing::Subscribed { status, .. } if status.is_paid_for())
}

/// The start of `now`'s calendar month, UTC.
pub fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive()
        .with_day(1)
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map_or(now, |start| start.and_utc())
}

/// Segments counted for the clinic in the period starting at `start`.
pub async fn segments_used(txn: &TenantTxn, start: DateTime<Utc>) -> Result<u64, DomainError> {
    Ok(usage_row(txn, start)
        .await?
        .map_or(0, |row| u64::try_from(row.segments).unwrap_or(0)))
}

/// The clinic's counter for the period starting at `start`, if anything was counted.
pub async fn usage_row(
    txn: &TenantTxn,
    start: DateTime<Utc>,
) -> Result<Option<billing_usage::Model>, DomainError> {
    Ok(txn
        .find::<billing_usage::Entity>()
        .filter(billing_usage::Column::PeriodStart.eq(start))
        .one(txn.conn())
        .await?)
}

/// Whether a text-back of `segments` may be queued for `clinic` at `now`.
pub async fn text_back_gate(
    txn: &TenantTxn,
    settings: &BillingSettings,
    clinic: &clinic::Model,
    segments: u64,
    now: DateTime<Utc>,
) -> Result<Gate, DomainError> {
    let view = billing::view(clinic, settings, now);
    if !view.entitlement.may_text() {
        return Ok(Gate::Stopped);
    }
    if view.bills_overage {
        return Ok(Gate::Open);
    }
    // One decision at a time per clinic, so two missed calls cannot both take the last text.
    txn.lock_clinic().await?;
    let start = start_of(&view, now);
    // Texts queued or being sent will count once sent; each is taken to be as long as this one.
    let queued = txn
        .find::<job_outbox::Entity>()
        .filter(job_outbox::Column::Kind.is_in(TEXT_JOBS))
        .filter(job_outbox::Column::Status.is_in([PENDING, CLAIMED]))
        .count(txn.conn())
        .await?;
    let used = segments_used(txn, start)
        .await?
        .saturating_add(queued.saturating_mul(segments));
    Ok(
        if within_allowance(used, segments, u64::from(view.allowance), false) {
            Gate::Open
        } else {
            Gate::OverAllowance
        },
    )
}

/// Counts `segments` of the text job `job_id` just handed to the provider, and queues the report
/// of any segments beyond the allowance when the plan bills overage.
pub async fn count_sent(
    txn: &TenantTxn,
    settings: &BillingSettings,
    job_id: Uuid,
    segments: u64,
) -> Result<(), DomainError> {
    let now = txn.now();
    let clinic = crate::service::clinic::get(txn).await?;
    let view = billing::view(&clinic, settings, now);
    let start = start_of(&view, now);
    let added = i64::try_from(segments).unwrap_or(i64::MAX);
    billing_usage::Entity::insert(billing_usage::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        period_start: Set(start),
        segments: Set(added),
        overage_reported: Set(0),
        updated_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            billing_usage::Column::ClinicId,
            billing_usage::Column::PeriodStart,
        ])
        .value(
            billing_usage::Column::Segments,
            Expr::col((billing_usage::Entity, billing_usage::Column::Segments)).add(added),
        )
        .value(billing_usage::Column::UpdatedAt, Expr::value(now))
        .to_owned(),
    )
    .exec_without_returning(txn.conn())
    .await?;
    // The same rule as the gate: overage only while the subscription carries the metered price.
    if !view.bills_overage {
        return Ok(());
    }
    let total = segments_used(txn, start).await?;
    let beyond = overage_of(total, segments, u64::from(view.allowance));
    if beyond == 0 {
        return Ok(());
    }
    let report = ReportOverage {
        period_start: start,
        segments: beyond,
        at: now,
        identifier: format!("ringback-sms-{job_id}"),
    };
    outbox::enqueue(
        txn,
        NewJob {
            job: report,
            sealed_number: None,
            body_sealed: None,
            run_at: now,
        },
        now,
    )
    .await?;
    Ok(())
}

/// Of the `segments` that brought the period's count to `total`, those beyond `allowance`.
pub fn overage_of(total: u64, segments: u64, allowance: u64) -> u64 {
    std::cmp::Ord::min(total.saturating_sub(allowance), segments)
}

/// Records that `segments` of the period starting at `start` were reported to Stripe.
pub async fn overage_reported(
    txn: &TenantTxn,
    start: DateTime<Utc>,
    segments: u64,
) -> Result<(), DomainError> {
    let added = i64::try_from(segments).unwrap_or(i64::MAX);
    txn.update_many::<billing_usage::Entity>()
        .filter(billing_usage::Column::PeriodStart.eq(start))
        .col_expr(
            billing_usage::Column::OverageReported,
            Expr::col(billing_usage::Column::OverageReported).add(added),
        )
        .col_expr(billing_usage::Column::UpdatedAt, Expr::value(txn.now()))
        .exec(txn.conn())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringback_shared::billing::SubscriptionStatus;

    fn subscribed(
        status: SubscriptionStatus,
        period: (DateTime<Utc>, DateTime<Utc>),
        cancel_at_period_end: bool,
    ) -> billing::BillingView {
        billing::BillingView {
            standing: Standing::Subscribed {
                status,
                past_due_since: None,
            },
            entitlement: ringback_shared::billing::Entitlement::Texting,
            plan: None,
            allowance: 300,
            period: Some(period),
            cancel_at_period_end,
            bills_overage: false,
        }
    }

    #[test]
    fn a_renewing_subscription_counts_in_its_next_period_before_the_renewal_is_stored() {
        let at = |day: u32| {
            chrono::NaiveDate::from_ymd_opt(2026, 3, day)
                .and_then(|date| date.and_hms_opt(9, 0, 0))
                .map(|time| time.and_utc())
                .expect("a date")
        };
        let period = (at(1), at(15));
        let active = subscribed(SubscriptionStatus::Active, period, false);
        assert_eq!(start_of(&active, at(10)), at(1), "within the period");
        assert_eq!(start_of(&active, at(15)), at(15), "renewed at its end");
        assert_eq!(start_of(&active, at(16)), at(15));
        let ending = subscribed(SubscriptionStatus::Active, period, true);
        assert_eq!(
            start_of(&ending, at(16)),
            at(1),
            "set to end: no next period"
        );
        let unpaid = subscribed(SubscriptionStatus::Unpaid, period, false);
        assert_eq!(start_of(&unpaid, at(16)), at(1));
    }

    #[test]
    fn only_segments_beyond_the_allowance_are_overage() {
        assert_eq!(overage_of(299, 1, 300), 0);
        assert_eq!(overage_of(300, 1, 300), 0);
        assert_eq!(overage_of(302, 3, 300), 2, "the text that crosses it");
        assert_eq!(overage_of(310, 2, 300), 2);
    }
}
