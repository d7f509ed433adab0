//! Rotating the master key. Every clinic's data key is unwrapped with the current master key and
//! wrapped again with the new one, and the database's key check moves to the new key, all in one
//! transaction of the tables' owner: either every clinic opens with the new key, or nothing
//! changed. Numbers and messages are sealed under the data keys, which stay as they are, so nothing
//! else is rewritten and the cost grows with the number of clinics only.
//!
//! Servers hold the master key in memory: stop them all first, and start them with the new key
//! (a server started with the old one refuses to start, by the key check).

use ringback_entity::clinic;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::db::DbError;
use crate::keys;
use crate::secrets::{Secret, Secrets, move_check};
use crate::tenant::begin_maintenance;

/// Why a rotation was refused or failed; nothing was changed in any case.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("the new master key is the current one")]
    Unchanged,
    #[error("clinic {0}'s data key does not open with the current master key")]
    Unreadable(Uuid),
    #[error("{0}")]
    Database(#[from] DbError),
}

impl From<sea_orm::DbErr> for RotationError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Database(error.into())
    }
}

/// Rewraps every clinic's data key from `current`'s master key to `new_master`, and records
/// `new_master`'s key check; returns how many clinics' keys were rewrapped.
pub async fn rotate_master_key(
    db: &DatabaseConnection,
    current: &Secrets,
    new_master: &Secret,
) -> Result<usize, RotationError> {
    if new_master == &current.master_key {
        return Err(RotationError::Unchanged);
    }
    let next = current.with_master_key(new_master.clone());
    let txn = begin_maintenance(db).await?;
    let wrapped: Vec<(Uuid, Option<Vec<u8>>)> = clinic::Entity::find()
        .select_only()
        .columns([clinic::Column::Id, clinic::Column::WrappedDataKey])
        .order_by_asc(clinic::Column::Id)
        .lock_exclusive()
        .into_tuple()
        .all(&txn)
        .await?;
    let mut rewrapped = 0;
    for (clinic_id, key) in wrapped {
        let Some(key) = key else { continue };
        let data_key = keys::unwrap(current, clinic_id, &key)
            .map_err(|_| RotationError::Unreadable(clinic_id))?;
        let key = keys::wrap(&next, clinic_id, &data_key)
            .map_err(|_| RotationError::Unreadable(clinic_id))?;
        clinic::Entity::update_many()
            .col_expr(clinic::Column::WrappedDataKey, Expr::value(key))
            .filter(clinic::Column::Id.eq(clinic_id))
            .exec(&txn)
            .await?;
        rewrapped += 1;
    }
    move_check(&txn, "master_key", new_master).await?;
    txn.commit().await?;
    Ok(rewrapped)
}
