//! The clinic's latest activity, for a dashboard that stays current: the newest call recorded (its
//! id: ids are time-ordered, so a call reported late still counts as new) and when its most
//! recently active conversation last had a text. Nothing about anyone, so reading them is not a
//! read of personal data and leaves no audit note; a page that sees them change reloads its list
//! (whose read is audited as usual). Each is one read of the newest entry of an index led by the
//! clinic, whatever the clinic's size.

use chrono::{DateTime, Utc};
use ringback_entity::{call, conversation};
use sea_orm::{QueryOrder, QuerySelect};
use uuid::Uuid;

use ringback_core::error::DomainError;
use ringback_core::tenant::TenantTxn;

/// The clinic's newest call and when it last saw a text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatestActivity {
    /// The newest call recorded.
    pub call_id: Option<Uuid>,
    /// When its most recently active conversation last had a message.
    pub message_at: Option<DateTime<Utc>>,
}

/// The clinic's latest activity.
pub async fn latest(txn: &TenantTxn) -> Result<LatestActivity, DomainError> {
    let call_id: Option<Uuid> = txn
        .find::<call::Entity>()
        .select_only()
        .column(call::Column::Id)
        .order_by_desc(call::Column::Id)
        .limit(1)
        .into_tuple()
        .one(txn.conn())
        .await?;
    let message_at: Option<DateTime<Utc>> = txn
        .find::<conversation::Entity>()
        .select_only()
        .column(conversation::Column::LastMessageAt)
        .order_by_desc(conversation::Column::LastMessageAt)
        .limit(1)
        .into_tuple()
        .one(txn.conn())
        .await?;
    Ok(LatestActivity {
        call_id,
        message_at,
    })
}
