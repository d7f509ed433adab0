//! The last provider webhooks refused for a clinic's numbers: which hook, why, and when, never a
//! parameter of the request. A refused request is not verified, so its clinic is only the one its
//! number names; the record says no more than "something reached us for this number and was
//! refused", which is what the guided test call needs to say what to check. Only the newest
//! [`KEPT`] are kept per clinic, so a flood of forged requests costs one bounded table.

use chrono::{DateTime, Utc};
use ringback_entity::webhook_refusal;
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use uuid::Uuid;

use ringback_core::error::DomainError;
use ringback_core::tenant::{TenantScope, TenantTxn};

/// Refusals kept per clinic.
pub const KEPT: u64 = 20;

/// Records that webhook `hook` for the scope's clinic was refused for `reason`, dropping the
/// clinic's older refusals beyond [`KEPT`].
pub async fn record(
    scope: &TenantScope,
    hook: &'static str,
    reason: &'static str,
) -> Result<(), DomainError> {
    let txn = scope.begin().await?;
    webhook_refusal::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        id: Set(Uuid::now_v7()),
        hook: Set(hook.to_owned()),
        reason: Set(reason.to_owned()),
        created_at: Set(txn.now()),
    }
    .insert(txn.conn())
    .await?;
    let beyond: Vec<Uuid> = txn
        .find::<webhook_refusal::Entity>()
        .select_only()
        .column(webhook_refusal::Column::Id)
        .order_by_desc(webhook_refusal::Column::CreatedAt)
        .offset(KEPT)
        .limit(KEPT)
        .into_tuple()
        .all(txn.conn())
        .await?;
    if !beyond.is_empty() {
        txn.delete_many::<webhook_refusal::Entity>()
            .filter(webhook_refusal::Column::Id.is_in(beyond))
            .exec(txn.conn())
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// The clinic's refusals since `since`, newest first.
pub async fn since(
    txn: &TenantTxn,
    since: DateTime<Utc>,
) -> Result<Vec<webhook_refusal::Model>, DomainError> {
    Ok(txn
        .find::<webhook_refusal::Entity>()
        .filter(webhook_refusal::Column::CreatedAt.gte(since))
        .order_by_desc(webhook_refusal::Column::CreatedAt)
        .limit(KEPT)
        .all(txn.conn())
        .await?)
}
