//! The clinic's opt-out list, keyed by caller key: STOP puts a caller on it, START takes them off,
//! and no text is ever sent to a caller on it.

use chrono::{DateTime, Utc};
use ringback_entity::opt_out;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use ringback_core::error::DomainError;
use ringback_core::tenant::TenantTxn;

/// Puts `caller_key` on the list (again is fine).
pub async fn opt_out(txn: &TenantTxn, caller_key: &str) -> Result<(), DomainError> {
    let row = opt_out::ActiveModel {
        clinic_id: sea_orm::Set(txn.clinic_id()),
        caller_key: sea_orm::Set(caller_key.to_owned()),
        created_at: sea_orm::Set(txn.now()),
        under_previous_pepper: sea_orm::Set(false),
    };
    opt_out::Entity::insert(row)
        .on_conflict_do_nothing_on([opt_out::Column::ClinicId, opt_out::Column::CallerKey])
        .exec(txn.conn())
        .await?;
    Ok(())
}

/// Takes `caller_key` off the list.
pub async fn opt_in(txn: &TenantTxn, caller_key: &str) -> Result<(), DomainError> {
    txn.delete_many::<opt_out::Entity>()
        .filter(opt_out::Column::CallerKey.eq(caller_key))
        .exec(txn.conn())
        .await?;
    Ok(())
}

/// Since when the caller of any of `caller_keys` (one caller under the current and the previous
/// pepper) is on the list, if they are: the earliest STOP still standing.
pub async fn opted_out_since(
    txn: &TenantTxn,
    caller_keys: &[String],
) -> Result<Option<DateTime<Utc>>, DomainError> {
    Ok(txn
        .find::<opt_out::Entity>()
        .filter(opt_out::Column::CallerKey.is_in(caller_keys.iter().cloned()))
        .all(txn.conn())
        .await?
        .into_iter()
        .map(|row| row.created_at)
        .min())
}

/// Whether `caller_key` asked not to be texted.
pub async fn is_opted_out(txn: &TenantTxn, caller_key: &str) -> Result<bool, DomainError> {
    Ok(
        opt_out::Entity::find_by_id((txn.clinic_id(), caller_key.to_owned()))
            .one(txn.conn())
            .await?
            .is_some(),
    )
}
