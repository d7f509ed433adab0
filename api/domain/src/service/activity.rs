//! The clinic's latest activity, for a dashboard that stays current: the newest call recorded (its
//! id: ids are time-ordered, so a call reported late still counts as new), when its most recently
//! active conversation last had a text, and the newest dismissal and booking (so a colleague's
//! dismissal or booking takes the caller off everyone's worklist). Nothing about anyone, so
//! reading them is not a read of personal data and leaves no audit note; a page that sees them
//! change reloads its list (whose read is audited as usual). Each is one read of the newest entry
//! of an index led by the clinic, whatever the clinic's size.

use chrono::{DateTime, Utc};
use ringback_entity::{appointment, call, conversation, worklist_dismissal};
use sea_orm::{QueryOrder, QuerySelect};
use uuid::Uuid;

use ringback_core::error::DomainError;
use ringback_core::tenant::{ClinicOwned, TenantTxn};

/// The clinic's newest call, dismissal and booking, and when it last saw a text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatestActivity {
    /// The newest call recorded.
    pub call_id: Option<Uuid>,
    /// When its most recently active conversation last had a message.
    pub message_at: Option<DateTime<Utc>>,
    /// The newest worklist dismissal.
    pub dismissal_id: Option<Uuid>,
    /// The newest appointment.
    pub appointment_id: Option<Uuid>,
}

/// The newest id of `E` (ids are time-ordered), by its clinic-led primary key.
async fn newest_id<E: ClinicOwned>(
    txn: &TenantTxn,
    id: E::Column,
) -> Result<Option<Uuid>, DomainError>
where
    E::Model: Sync,
{
    Ok(txn
        .find::<E>()
        .select_only()
        .column(id)
        .order_by_desc(id)
        .limit(1)
        .into_tuple()
        .one(txn.conn())
        .await?)
}

/// The clinic's latest activity.
pub async fn latest(txn: &TenantTxn) -> Result<LatestActivity, DomainError> {
    let call_id = newest_id::<call::Entity>(txn, call::Column::Id).await?;
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
        dismissal_id: newest_id::<worklist_dismissal::Entity>(txn, worklist_dismissal::Column::Id)
            .await?,
        appointment_id: newest_id::<appointment::Entity>(txn, appointment::Column::Id).await?,
    })
}
