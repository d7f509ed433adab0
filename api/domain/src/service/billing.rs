//! Where a clinic stands with billing, read from its stored state with the shared rules
//! (`ringback_shared::billing`): on its trial (from sign-up, for the configured days) or on a
//! subscription with Stripe's status; what it may send now; and its plan and allowance. With
//! billing off (no Stripe key) nothing here applies and every clinic runs without limits.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ringback_entity::clinic;
use ringback_providers::stripe::client::StripeBilling;
pub use ringback_providers::stripe::{BillingSettings, Plan};
use ringback_shared::billing::{Entitlement, Standing, SubscriptionStatus, entitlement};

/// Billing's settings and its Stripe client, when billing is on.
pub struct BillingContext {
    pub settings: BillingSettings,
    pub stripe: Arc<StripeBilling>,
}

/// A clinic's billing, as the dashboard shows it.
pub struct BillingView {
    pub standing: Standing,
    pub entitlement: Entitlement,
    /// The subscribed plan (none on the trial).
    pub plan: Option<Plan>,
    /// SMS segments included per period: the plan's, or the trial's.
    pub allowance: u32,
    pub period: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub cancel_at_period_end: bool,
}

/// Where `clinic` stands: its subscription when it has one, else its trial.
pub fn standing(clinic: &clinic::Model, settings: &BillingSettings) -> Standing {
    match clinic
        .billing_status
        .as_deref()
        .and_then(SubscriptionStatus::parse)
    {
        Some(status) => Standing::Subscribed {
            status,
            past_due_since: clinic.billing_past_due_since,
        },
        None => Standing::Trial {
            ends: clinic.created_at + Duration::days(i64::from(settings.trial_days)),
        },
    }
}

/// `clinic`'s billing at `now`.
pub fn view(clinic: &clinic::Model, settings: &BillingSettings, now: DateTime<Utc>) -> BillingView {
    let standing = standing(clinic, settings);
    let grace = Duration::days(i64::from(settings.grace_days));
    let plan = match standing {
        Standing::Subscribed { .. } => clinic
            .billing_plan
            .as_deref()
            .and_then(|key| settings.plan(key))
            .cloned(),
        Standing::Trial { .. } => None,
    };
    let period = match standing {
        Standing::Trial { ends } => Some((clinic.created_at, ends)),
        Standing::Subscribed { .. } => clinic.billing_period_start.zip(clinic.billing_period_end),
    };
    BillingView {
        entitlement: entitlement(standing, now, grace),
        allowance: plan
            .as_ref()
            .map_or(settings.trial_sms, |plan| plan.sms_per_period),
        plan,
        standing,
        period,
        cancel_at_period_end: clinic.billing_cancel_at_period_end,
    }
}
