//! The receptionists' worklist: callers who missed the clinic in the last two weeks and have not
//! been spoken with since (the shared rule in `ringback_shared::worklist`), longest-waiting first,
//! with what happened to their text-back and whether they replied.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use ringback_entity::{call, message};
use ringback_shared::worklist::{self, Waiting};
use sea_orm::{ColumnTrait, QueryFilter};

use crate::service::{calls, messages};
use ringback_core::error::DomainError;
use ringback_core::tenant::TenantTxn;

/// How far back the worklist looks.
pub const LOOKBACK: Duration = Duration::days(14);

/// A waiting caller, with what staff need to call them back.
pub struct WaitingCaller {
    pub waiting: Waiting,
    pub caller_tail: String,
    pub text_back_status: Option<String>,
    /// Whether they texted back since their first waiting call.
    pub replied: bool,
}

/// Up to `limit` waiting callers as of `now`.
pub async fn waiting_callers(
    txn: &TenantTxn,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<WaitingCaller>, DomainError> {
    let rows = txn
        .find::<call::Entity>()
        .filter(call::Column::StartedAt.gte(now - LOOKBACK))
        .all(txn.conn())
        .await?;
    let records: Vec<_> = rows.iter().filter_map(calls::call_record).collect();
    let mut list = worklist::waiting(&records);
    list.truncate(limit);
    let keys: BTreeSet<String> = list.iter().map(|w| w.caller_key.clone()).collect();
    let replies = txn
        .find::<message::Entity>()
        .filter(message::Column::Kind.eq(messages::KIND_REPLY))
        .filter(message::Column::CallerKey.is_in(keys))
        .filter(message::Column::CreatedAt.gte(now - LOOKBACK))
        .all(txn.conn())
        .await?;
    Ok(list
        .into_iter()
        .filter_map(|waiting| {
            let latest = rows.iter().find(|row| row.id == waiting.latest_missed)?;
            let replied = replies.iter().any(|reply| {
                reply.caller_key == waiting.caller_key
                    && reply.created_at >= waiting.first_missed_at
            });
            Some(WaitingCaller {
                caller_tail: latest.caller_tail.clone(),
                text_back_status: latest.text_back_status.clone(),
                replied,
                waiting,
            })
        })
        .collect())
}
