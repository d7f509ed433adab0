//! The worklist over GraphQL (receptionists and up): who is waiting for a callback, oldest first.
//! A callback is logged with `logCallback` on the row's `callId`.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use ringback_shared::access::Permission;

use crate::guard::{Access, with_tenant};
use ringback_domain::service::worklist::{self, WaitingCaller as Row};

/// A caller who missed the clinic and has not been spoken with since.
#[derive(SimpleObject)]
pub struct WaitingCaller {
    pub caller_key: String,
    /// e.g. "•••• 123".
    pub caller_tail: String,
    /// The first missed call since the caller was last spoken with.
    pub first_missed_at: DateTime<Utc>,
    pub latest_missed_at: DateTime<Utc>,
    pub missed_calls: i32,
    /// Callback attempts nobody answered since the first missed call.
    pub callback_attempts: i32,
    /// The latest missed call: log the callback against it.
    pub call_id: ID,
    /// What became of the text-back of the latest missed call (or why none was sent).
    pub text_back_status: Option<String>,
    /// Whether the caller texted back since.
    pub replied: bool,
}

impl From<Row> for WaitingCaller {
    fn from(row: Row) -> Self {
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Self {
            caller_key: row.waiting.caller_key,
            caller_tail: row.caller_tail,
            first_missed_at: row.waiting.first_missed_at,
            latest_missed_at: row.waiting.latest_missed_at,
            missed_calls: count(row.waiting.missed_calls),
            callback_attempts: count(row.waiting.attempts),
            call_id: ID(row.waiting.latest_missed.to_string()),
            text_back_status: row.text_back_status,
            replied: row.replied,
        }
    }
}

#[derive(Default)]
pub struct WorklistQuery;

#[Object]
impl WorklistQuery {
    /// Callers waiting for a callback (missed in the last 14 days), longest-waiting first.
    async fn worklist(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 200))] first: i32,
    ) -> async_graphql::Result<Vec<WaitingCaller>> {
        let limit = first.clamp(1, 200) as usize;
        let rows = with_tenant(ctx, Access::Read(Permission::WorkCalls), async |txn, _| {
            worklist::waiting_callers(txn, txn.now(), limit).await
        })
        .await?;
        Ok(rows.into_iter().map(WaitingCaller::from).collect())
    }
}
