//! Finding a caller by the number staff have in front of them: the number is normalised and keyed
//! in the server with the clinic's key (under the previous pepper too, during a rotation), used to
//! find the caller's calls and conversations, and forgotten; it is never stored, logged or
//! answered back. Each lookup is audited (without the number) and limited per staff member.
//!
//! Cost: two indexed reads by `(clinic_id, caller_key)`, bounded by [`MAX_CALLS`] and
//! [`MAX_CONVERSATIONS`], whatever the clinic's size.

use ringback_entity::{call, conversation};
use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use uuid::Uuid;

use crate::service::audit::{self, AuditEvent};
use crate::service::callers::CallerKeyer;
use crate::service::clinic;
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;

/// Most calls a lookup returns, newest first.
pub const MAX_CALLS: u64 = 50;
/// Most conversations a lookup returns, newest first.
pub const MAX_CONVERSATIONS: u64 = 5;

/// What the clinic holds about one caller.
pub struct FoundCaller {
    pub caller_key: String,
    pub caller_tail: String,
    /// Newest first.
    pub calls: Vec<call::Model>,
    /// Newest first.
    pub conversations: Vec<conversation::Model>,
}

/// The caller with `number` (any common format, in the clinic's region unless international).
pub async fn find(
    txn: &TenantTxn,
    secrets: &Secrets,
    actor: Option<Uuid>,
    number: &str,
) -> Result<FoundCaller, DomainError> {
    let settings = clinic::get(txn).await?;
    let keyed = CallerKeyer::new(secrets, txn, &settings.default_region)?.key(number)?;
    let keys = keyed.keys();
    let calls = txn
        .find::<call::Entity>()
        .filter(call::Column::CallerKey.is_in(keys.clone()))
        .order_by_desc(call::Column::StartedAt)
        .limit(MAX_CALLS)
        .all(txn.conn())
        .await?;
    let conversations = txn
        .find::<conversation::Entity>()
        .filter(conversation::Column::CallerKey.is_in(keys))
        .order_by_desc(conversation::Column::LastMessageAt)
        .limit(MAX_CONVERSATIONS)
        .all(txn.conn())
        .await?;
    audit::note_read(
        txn,
        AuditEvent {
            actor,
            action: "caller.looked_up",
            detail: json!({ "calls": calls.len(), "conversations": conversations.len() }),
        },
    )
    .await?;
    Ok(FoundCaller {
        caller_key: keyed.caller_key,
        caller_tail: keyed.tail,
        calls,
        conversations,
    })
}
