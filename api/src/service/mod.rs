//! Business rules, each in its own module, each running in transactions it owns. Services take a
//! tenant transaction (see [`crate::tenant`]) for anything inside a clinic.

use crate::db::DbError;
use crate::error::ApiError;

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
