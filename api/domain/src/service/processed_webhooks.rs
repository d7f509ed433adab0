//! Provider events remembered by id (`processed_webhooks`): delivery reports that arrived before
//! their message, call screenings a person accepted, and Stripe events already applied. Remembering is idempotent, so a
//! redelivered webhook changes nothing.

use ringback_entity::processed_webhook;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

use ringback_core::error::DomainError;
use ringback_core::tenant::TenantTxn;

/// Remembers event `event_id` of `provider` for the clinic (once; a repeat is a no-op).
pub async fn remember(txn: &TenantTxn, provider: &str, event_id: &str) -> Result<(), DomainError> {
    if !is_known(txn, provider, event_id).await? {
        processed_webhook::ActiveModel {
            clinic_id: Set(txn.clinic_id()),
            provider: Set(provider.to_owned()),
            event_id: Set(event_id.to_owned()),
            received_at: Set(txn.now()),
        }
        .insert(txn.conn())
        .await?;
    }
    Ok(())
}

/// Whether event `event_id` of `provider` was remembered for the clinic.
pub async fn is_known(
    txn: &TenantTxn,
    provider: &str,
    event_id: &str,
) -> Result<bool, DomainError> {
    Ok(processed_webhook::Entity::find_by_id((
        txn.clinic_id(),
        provider.to_owned(),
        event_id.to_owned(),
    ))
    .one(txn.conn())
    .await?
    .is_some())
}
