//! Billing over GraphQL: `billing` (owners and admins read it; null when billing is off) says the
//! plan, where the clinic stands (trial or the subscription's status), whether text-backs may go
//! out and why not, the allowance and the period; `plans` lists the catalogue. Receptionists see
//! nothing of billing.

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use ringback_shared::access::Permission;
use ringback_shared::billing::{Entitlement, Standing};

use crate::guard::{Access, with_tenant};
use ringback_domain::Backend;
use ringback_domain::service::billing::Plan as PlanSettings;
use ringback_domain::service::{billing, clinic};

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
    pub period_start: Option<DateTime<Utc>>,
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
}

#[derive(Default)]
pub struct BillingQuery;

#[Object]
impl BillingQuery {
    /// The clinic's billing; null when this deployment bills nobody.
    async fn billing(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Billing>> {
        let backend = ctx.data::<Backend>()?;
        let row = with_tenant(
            ctx,
            Access::Read(Permission::ManageSettings),
            async |txn, _| clinic::get(txn).await,
        )
        .await?;
        let Some(context) = &backend.billing else {
            return Ok(None);
        };
        let view = billing::view(&row, &context.settings, backend.clock.now());
        let (status, trial_ends_at) = match view.standing {
            Standing::Trial { ends } => ("trial".to_owned(), Some(ends)),
            Standing::Subscribed { status, .. } => (status.as_str().to_owned(), None),
        };
        Ok(Some(Billing {
            status,
            plan: view.plan.as_ref().map(Plan::from),
            trial_ends_at,
            period_start: view.period.map(|(start, _)| start),
            period_end: view.period.map(|(_, end)| end),
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
