//! The setup checklist over GraphQL (every member reads it; the overview shows it until the clinic
//! is live) and, for admins, the webhooks refused lately for the clinic's numbers, which the guided
//! test call shows when nothing arrives.

use async_graphql::{Context, Enum, Object, SimpleObject};
use chrono::{DateTime, Duration, Utc};
use ringback_shared::access::Permission;

use crate::guard::{Access, with_tenant};
use ringback_core::error::DomainError;
use ringback_domain::Backend;
use ringback_domain::service::setup::{self, SetupStep};
use ringback_domain::service::webhook_refusals;

/// One step of the setup.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum SetupStepKind {
    /// A number callers ring and texts come from.
    TextingNumber,
    /// The line calls are forwarded to.
    ForwardingLine,
    /// Opening hours saved.
    BusinessHours,
    /// The text-back's wording saved.
    TextBackWording,
    /// A call received through the number.
    TestCall,
    /// A plan chosen (with billing on).
    Plan,
}

impl From<SetupStep> for SetupStepKind {
    fn from(step: SetupStep) -> Self {
        match step {
            SetupStep::TextingNumber => SetupStepKind::TextingNumber,
            SetupStep::ForwardingLine => SetupStepKind::ForwardingLine,
            SetupStep::BusinessHours => SetupStepKind::BusinessHours,
            SetupStep::TextBackWording => SetupStepKind::TextBackWording,
            SetupStep::TestCall => SetupStepKind::TestCall,
            SetupStep::Plan => SetupStepKind::Plan,
        }
    }
}

/// A step and whether the server knows it is done.
#[derive(SimpleObject)]
pub struct SetupStepState {
    pub step: SetupStepKind,
    pub done: bool,
}

/// The setup checklist.
#[derive(SimpleObject)]
pub struct SetupChecklist {
    /// Every step is done.
    pub live: bool,
    pub steps: Vec<SetupStepState>,
}

/// A provider webhook refused for one of the clinic's numbers (nothing from the request).
#[derive(SimpleObject)]
pub struct WebhookRefusal {
    /// Which webhook, e.g. `voice`.
    pub hook: String,
    /// Why, e.g. `bad signature`.
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// Longest look back at refused webhooks, in minutes.
const MAX_REFUSAL_MINUTES: i32 = 24 * 60;

#[derive(Default)]
pub struct SetupQuery;

#[Object]
impl SetupQuery {
    /// Where the clinic's setup stands, each step ticked by what the server knows.
    async fn setup_checklist(&self, ctx: &Context<'_>) -> async_graphql::Result<SetupChecklist> {
        let billing_on = ctx.data::<Backend>()?.billing.is_some();
        let checklist = with_tenant(ctx, Access::Read(Permission::WorkCalls), async |txn, _| {
            setup::checklist(txn, billing_on).await
        })
        .await?;
        Ok(SetupChecklist {
            live: checklist.live(),
            steps: checklist
                .steps
                .into_iter()
                .map(|(step, done)| SetupStepState {
                    step: step.into(),
                    done,
                })
                .collect(),
        })
    }

    /// Provider webhooks refused for the clinic's numbers in the last `minutes` (1 to 1440),
    /// newest first, at most 20: what to check when a test call does not arrive.
    async fn webhook_refusals(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] minutes: i32,
    ) -> async_graphql::Result<Vec<WebhookRefusal>> {
        if !(1..=MAX_REFUSAL_MINUTES).contains(&minutes) {
            return Err(crate::error::graphql_error(DomainError::BadUserInput(
                format!("minutes must be between 1 and {MAX_REFUSAL_MINUTES}"),
            )));
        }
        let rows = with_tenant(
            ctx,
            Access::Read(Permission::ManageSettings),
            async |txn, _| {
                let since = txn.now() - Duration::minutes(i64::from(minutes));
                webhook_refusals::since(txn, since).await
            },
        )
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| WebhookRefusal {
                hook: row.hook,
                reason: row.reason,
                at: row.created_at,
            })
            .collect())
    }
}
