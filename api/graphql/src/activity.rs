//! The clinic's latest activity over GraphQL (receptionists and up): the newest call recorded,
//! when a text last arrived or went, and the newest dismissal and booking, which the dashboard
//! polls to reload the worklist and the inbox when something new happened. No personal data, so
//! no audit note.

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
    /// The newest worklist dismissal (a colleague's takes the caller off the list).
    pub latest_dismissal_id: Option<ID>,
    /// The newest appointment (a caller booked is no longer waiting).
    pub latest_appointment_id: Option<ID>,
}

impl From<LatestActivity> for Activity {
    fn from(latest: LatestActivity) -> Self {
        Self {
            latest_call_id: latest.call_id.map(|id| ID(id.to_string())),
            latest_message_at: latest.message_at,
            latest_dismissal_id: latest.dismissal_id.map(|id| ID(id.to_string())),
            latest_appointment_id: latest.appointment_id.map(|id| ID(id.to_string())),
        }
    }
}

#[derive(Default)]
pub struct ActivityQuery;

#[Object]
impl ActivityQuery {
    /// The clinic's latest activity: poll it (every few seconds at most) and reload a list when it
    /// changes. Four index reads; nothing about any caller.
    async fn activity(&self, ctx: &Context<'_>) -> async_graphql::Result<Activity> {
        let latest =
            with_tenant_read_only(ctx, Access::Read(Permission::WorkCalls), async |txn, _| {
                activity::latest(txn).await
            })
            .await?;
        Ok(Activity::from(latest))
    }
}
