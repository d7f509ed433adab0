//! The billing check (a scheduled task): Stripe is asked about every clinic whose running
//! subscription's period ended a while ago with nothing stored about it since, and the answer is
//! applied as an event's would be. Events can be late or lost (an endpoint down for longer than
//! Stripe retries): without the check, a renewal's new period would not start (texts counting
//! against the old period's allowance, and as overage) and a lost cancellation would leave the
//! clinic texting as if it paid.
//!
//! Who: the scheduler only (an operator task, each clinic opened through the audited operator
//! door). How often: once an hour; a clinic is asked about once after each period's end (again
//! only while Stripe cannot be asked, or still shows a running subscription's ended period).
//! Audit: `operator.access` (task `billing check`) in each clinic asked about, and
//! `billing.subscription_changed` when the answer changed its status or plan. Cost:
//! one scan of the clinics table per run (ids only, by a security-definer function on
//! PostgreSQL), then one Stripe request and two short transactions per stale clinic, at most
//! [`MAX_CLINICS`] per run.

use chrono::{DateTime, Duration, Utc};
use ringback_core::clock::Clock;
use ringback_core::error::DomainError;
use ringback_core::schedule;
use ringback_core::tenant::TenantScope;
use ringback_entity::clinic;
use ringback_migration::m20261220_110000_billing_check_until_renewed::STALE_UNTIL_RENEWED;
use ringback_providers::stripe::client::SubscriptionState;
use ringback_shared::billing::SubscriptionStatus;
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};
use uuid::Uuid;

use crate::service::billing::{self, Applied, BillingContext, EventStamp};
use crate::service::clinic as clinic_settings;

/// How long after a period's end its renewal may still arrive as an event before Stripe is asked.
pub const RENEWAL_SLACK: Duration = Duration::minutes(15);
/// The most clinics one run asks about (the rest wait for the next run).
pub const MAX_CLINICS: u32 = 200;
/// The stamp the applied answers carry in the audit log, where an event's id would be.
pub const CHECK_STAMP: &str = "billing_check";

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checked {
    /// Clinics whose subscription Stripe was asked about.
    pub asked: usize,
    /// Of those, the ones whose answer was stored (an event stored a newer one meanwhile in the
    /// others, or Stripe could not be asked).
    pub applied: usize,
    /// Clinics Stripe could not be asked about, or whose answer could not be stored (logged).
    pub failed: usize,
}

/// Asks Stripe about every clinic whose subscription's state is stale at the clock's now.
pub async fn check_all(
    db: &DatabaseConnection,
    clock: &Clock,
    context: &BillingContext,
) -> Result<Checked, DomainError> {
    let now = clock.now();
    let mut checked = Checked::default();
    for clinic_id in stale_clinics(db, now).await? {
        checked.asked += 1;
        let opened =
            TenantScope::for_operator(db.clone(), clock.clone(), clinic_id, "billing check").await;
        let outcome = match opened {
            Ok(scope) => check_clinic(&scope, context).await,
            Err(error) => Err(error.into()),
        };
        match outcome {
            Ok(applied) => checked.applied += usize::from(applied),
            Err(error) => {
                checked.failed += 1;
                tracing::warn!(clinic = %clinic_id, %error, "a billing check could not be made; the next run tries again");
            }
        }
    }
    Ok(checked)
}

/// Up to [`MAX_CLINICS`] clinics whose running subscription's stored period ended before `now`
/// less [`RENEWAL_SLACK`] with no check since that learned how it went, the period that ended
/// last first (one that keeps failing does not hold back those ending after it).
async fn stale_clinics(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, DomainError> {
    Ok(schedule::clinic_ids(
        db,
        "ringback_clinics_billing_stale($1, $2)",
        STALE_UNTIL_RENEWED,
        vec![(now - RENEWAL_SLACK).into(), (MAX_CLINICS as i32).into()],
    )
    .await?)
}

/// Asks Stripe about the scope's clinic's subscription (outside any transaction), stores the
/// answer unless something was stored meanwhile (an event's answer, as new or newer), and notes
/// that Stripe said how the ended period went (`billing_checked_at`: the clinic is not asked
/// again about this period); whether the answer was stored. A failure to ask leaves no note: the
/// next run asks again.
async fn check_clinic(scope: &TenantScope, context: &BillingContext) -> Result<bool, DomainError> {
    let txn = scope.begin().await?;
    let read = clinic_settings::get(&txn).await?;
    txn.commit().await?;
    let Some(subscription_id) = read.stripe_subscription_id.clone() else {
        return Ok(false);
    };
    let current = context.stripe.subscription(&subscription_id).await?;
    let running = billing::running_besides(context, &current).await?;
    let txn = scope.begin().await?;
    let stamp = EventStamp {
        id: CHECK_STAMP,
        created: txn.now(),
        reports_failed_payment: false,
        stored_when_asked: read.billing_updated_at,
    };
    let outcome = billing::apply_subscription(&txn, &context.settings, &current, stamp).await?;
    let applied = outcome == Applied::Updated;
    if applied {
        billing::adopt_running(&txn, &context.settings, &running, CHECK_STAMP).await?;
    }
    // An answer older than what was stored meanwhile settles nothing: the next run asks again.
    if outcome != Applied::Outdated && settles_the_ended_period(&current, txn.now()) {
        let mut checked: clinic::ActiveModel = clinic_settings::get(&txn).await?.into();
        checked.billing_checked_at = Set(Some(txn.now()));
        checked.update(txn.conn()).await?;
    }
    txn.commit().await?;
    Ok(applied)
}

/// Whether Stripe's answer says how the period that ended went: a subscription whose periods
/// roll on (active, trialing, past due) has a period that ends after `now`, or the subscription
/// no longer rolls on (cancelled, paused, unpaid, …). A rolling one still showing the period that
/// ended is being renewed as we ask: the next run asks again.
fn settles_the_ended_period(current: &SubscriptionState, now: DateTime<Utc>) -> bool {
    let rolls_on = matches!(
        SubscriptionStatus::parse(&current.status),
        Some(
            SubscriptionStatus::Active | SubscriptionStatus::Trialing | SubscriptionStatus::PastDue
        )
    );
    !rolls_on || current.period.is_some_and(|(_, end)| end > now.timestamp())
}
