//! Business rules, each in its own module, each running in transactions it owns. Services take a
//! tenant transaction (see [`crate::tenant`]) for anything inside a clinic.

use crate::db::DbError;
use crate::error::ApiError;

/// The row with `id` in the transaction's clinic, for tables keyed by `(clinic_id, id)`.
pub(crate) async fn in_clinic<E>(
    txn: &crate::tenant::TenantTxn,
    id: uuid::Uuid,
) -> Result<Option<E::Model>, ApiError>
where
    E: sea_orm::EntityTrait,
    (uuid::Uuid, uuid::Uuid): Into<<E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType>,
{
    E::find_by_id((txn.clinic_id(), id))
        .one(txn.conn())
        .await
        .map_err(db_error)
}

/// A database failure as the API reports it (logged in full, shown as `INTERNAL`).
pub(crate) fn db_error(error: sea_orm::DbErr) -> ApiError {
    ApiError::from(DbError::from(error))
}

pub mod account;
pub mod api_keys;
pub mod appointments;
pub mod attribution;
pub mod audit;
pub mod callers;
pub mod calls;
pub mod clinic;
pub mod conversations;
pub mod export;
pub mod keys;
pub mod messages;
pub mod metrics;
pub mod opt_outs;
pub mod phone_lines;
pub mod team;
pub mod text_back;
pub mod worklist;
