//! Billing over GraphQL: `billing` (owners and admins read it; null when billing is off) says the
//! plan, where the clinic stands (trial or the subscription's status), whether text-backs may go
//! out and why not, the allowance, the period and the texts used in it; `plans` lists the
//! catalogue. Owners only: `startCheckout` (a Stripe Checkout page for a plan) and
//! `openBillingPortal` (Stripe's Customer Portal), each audited and at most 10 a minute per owner.
//! Receptionists see nothing of billing.

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use ringback_shared::access::Permission;
use ringback_shared::billing::{Entitlement, Standing, Stopped};

use crate::error::graphql_error;
use crate::guard::{Access, principal, with_tenant};
use ringback_core::error::DomainError;
use ringback_domain::Backend;
use ringback_domain::service::billing::Plan as PlanSettings;
use ringback_domain::service::{billing, clinic, usage};

/// A plan of the catalogue.
#[derive(SimpleObject)]
pub struct Plan {
    pub key: String,
    pub name: String,
    /// SMS segments included per billing period.
    pub sms_per_period: u32,
    /// Whether texts beyond the allowance are sent and billed (else text-backs stop there).
    pub bills_overage: bool,
}

impl From<&PlanSettings> for Plan {
    fn from(plan: &PlanSettings) -> Self {
        Self {
            key: plan.key.clone(),
            name: plan.name.clone(),
            sms_per_period: plan.sms_per_period,
            bills_overage: plan.overage_price.is_some(),
        }
    }
}

/// A clinic's billing.
#[derive(SimpleObject)]
pub struct Billing {
    /// `trial`, or the subscription's Stripe status (`active`, `past_due`, `canceled`, …).
    pub status: String,
    pub plan: Option<Plan>,
    /// When the trial ends (on the trial only).
    pub trial_ends_at: Option<DateTime<Utc>>,
    /// When a plan chosen now would first be paid for: the free trial's end, when choosing a
    /// plan now keeps the rest of the trial (at least two days of it left); null otherwise.
    pub trial_kept_until: Option<DateTime<Utc>>,
    /// The start of the period this period's texts count in.
    pub period_start: Option<DateTime<Utc>>,
    /// Its end; null when the stored period ended and its renewal is not stored yet (the texts
    /// count in the next period from the old one's end).
    pub period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    /// SMS segments included per period.
    pub allowance: u32,
    /// Whether text-backs go out now.
    pub may_text: bool,
    /// Why they do not, in plain words.
    pub stopped_reason: Option<String>,
    /// A payment failed: texting goes on until then (owners and admins see a banner).
    pub grace_until: Option<DateTime<Utc>>,
    /// SMS segments sent this period (text-backs and staff replies).
    pub texts_used: u64,
    /// Segments beyond the allowance this period, billed as overage (plans that bill it).
    pub overage: u64,
    /// Of those, the segments already reported to Stripe.
    pub overage_reported: u64,
    /// Whether a payment needs the owner's attention (failed, overdue or not yet made).
    pub needs_attention: bool,
}

#[derive(Default)]
pub struct BillingQuery;

#[Object]
impl BillingQuery {
    /// The clinic's billing; null when this deployment bills nobody.
    async fn billing(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Billing>> {
        let backend = ctx.data::<Backend>()?;
        let now = backend.clock.now();
        let settings = backend.billing_settings();
        let (row, counted) = with_tenant(
            ctx,
            Access::Read(Permission::ManageSettings),
            async |txn, _| {
                let row = clinic::get(txn).await?;
                let counted = match settings {
                    Some(settings) => {
                        usage::usage_row(txn, usage::period_start(&row, settings, now)).await?
                    }
                    None => None,
                };
                Ok((row, counted))
            },
        )
        .await?;
        let Some(context) = &backend.billing else {
            return Ok(None);
        };
        let view = billing::view(&row, &context.settings, now);
        let counted_from = usage::period_start(&row, &context.settings, now);
        let used = counted
            .as_ref()
            .map_or(0, |row| u64::try_from(row.segments).unwrap_or(0));
        let bills_overage = view.bills_overage;
        let (status, trial_ends_at) = match view.standing {
            Standing::Trial { ends } => ("trial".to_owned(), Some(ends)),
            Standing::Subscribed { status, .. } => (status.as_str().to_owned(), None),
        };
        Ok(Some(Billing {
            status,
            plan: view.plan.as_ref().map(Plan::from),
            trial_ends_at,
            trial_kept_until: billing::trial_left_to_keep(&row, &context.settings, now),
            period_start: view.period.map(|_| counted_from),
            period_end: view
                .period
                .map(|(_, end)| end)
                .filter(|end| *end > counted_from),
            cancel_at_period_end: view.cancel_at_period_end,
            allowance: view.allowance,
            may_text: view.entitlement.may_text(),
            stopped_reason: match view.entitlement {
                Entitlement::Stopped(why) => Some(why.words().to_owned()),
                _ => None,
            },
            grace_until: match view.entitlement {
                Entitlement::Grace { until } => Some(until),
                _ => None,
            },
            texts_used: used,
            overage: if bills_overage {
                used.saturating_sub(u64::from(view.allowance))
            } else {
                0
            },
            overage_reported: counted
                .as_ref()
                .map_or(0, |row| u64::try_from(row.overage_reported).unwrap_or(0)),
            needs_attention: matches!(
                view.entitlement,
                Entitlement::Grace { .. }
                    | Entitlement::Stopped(
                        Stopped::PaymentOverdue | Stopped::Unpaid | Stopped::NotPaidYet
                    )
            ),
        }))
    }

    /// The plans a clinic can choose; empty when this deployment bills nobody.
    async fn plans(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Plan>> {
        let backend = ctx.data::<Backend>()?;
        with_tenant(
            ctx,
            Access::Read(Permission::ManageSettings),
            async |_, _| Ok(()),
        )
        .await?;
        Ok(backend
            .billing
            .as_ref()
            .map(|context| context.settings.plans.iter().map(Plan::from).collect())
            .unwrap_or_default())
    }
}

#[derive(Default)]
pub struct BillingMutation;

#[Object]
impl BillingMutation {
    /// A Stripe Checkout page where the owner pays for plan `plan`; billing starts when Stripe
    /// confirms it, and a clinic still on its free trial keeps the rest of it (`trialKeptUntil`:
    /// the first payment is taken when it ends). Owners only; audited; at most 10 a minute per
    /// owner.
    async fn start_checkout(
        &self,
        ctx: &Context<'_>,
        plan: String,
    ) -> async_graphql::Result<String> {
        stripe_page(ctx, StripePage::Checkout(plan)).await
    }

    /// A Stripe Customer Portal page for cards, invoices, plan changes and cancellation; it
    /// returns to the billing page. Owners only; audited; at most 10 a minute per owner.
    async fn open_billing_portal(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        stripe_page(ctx, StripePage::Portal).await
    }
}

/// A page of Stripe's an owner is sent to.
enum StripePage {
    Checkout(String),
    Portal,
}

/// Opens `page` for the signed-in owner (each is a request to Stripe, so rate-limited); the
/// domain asks Stripe outside any transaction.
async fn stripe_page(ctx: &Context<'_>, page: StripePage) -> async_graphql::Result<String> {
    let backend = ctx.data::<Backend>()?;
    let principal = principal(ctx).await?;
    let opened = async {
        let scope = principal.require_write(Permission::ManageBilling)?;
        let context = billing_on(backend)?;
        let user = principal.user_id()?;
        backend.rate_limits.billing_session(user)?;
        match &page {
            StripePage::Checkout(plan) => billing::start_checkout(scope, context, user, plan).await,
            StripePage::Portal => billing::open_portal(scope, context, user).await,
        }
    };
    opened.await.map_err(graphql_error)
}

/// Billing's context, or a clear error where this deployment bills nobody.
fn billing_on(backend: &Backend) -> Result<&billing::BillingContext, DomainError> {
    backend
        .billing
        .as_deref()
        .ok_or_else(|| DomainError::BadUserInput("billing is off on this server".to_owned()))
}
