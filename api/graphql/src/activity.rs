//! The clinic's latest activity over GraphQL (receptionists and up): the newest call recorded and
//! when a text last arrived or went, which the dashboard polls to reload the worklist and the
//! inbox when something new happened. No personal data, so no audit note.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use ringback_shared::access::Permission;

use crate::guard::{Access, with_tenant_read_only};
use ringback_domain::service::activity::{self, LatestActivity};

/// What changes when something new happens in the clinic.
#[derive(SimpleObject)]
pub struct Activity {
    /// The newest call recorded (ids grow with time, so a call reported late is new too).
    pub latest_call_id: Option<ID>,
    /// When the most recently active conversation last had a text.
    pub latest_message_at: Option<DateTime<Utc>>,
}

impl From<LatestActivity> for Activity {
    fn from(latest: LatestActivity) -> Self {
        Self {
            latest_call_id: latest.call_id.map(|id| ID(id.to_string())),
            latest_message_at: latest.message_at,
        }
    }
}

#[derive(Default)]
pub struct ActivityQuery;

#[Object]
impl ActivityQuery {
    /// The clinic's latest activity: poll it (every few seconds at most) and reload a list when it
    /// changes. Two index reads; nothing about any caller.
    async fn activity(&self, ctx: &Context<'_>) -> async_graphql::Result<Activity> {
        let latest =
            with_tenant_read_only(ctx, Access::Read(Permission::WorkCalls), async |txn, _| {
                activity::latest(txn).await
            })
            .await?;
        Ok(Activity::from(latest))
    }
}
