//! `TenantScope`: the only door to one clinic's data. It is built from an authenticated session or
//! API key (never from request input), and every transaction it opens names its clinic to
//! PostgreSQL (`set_config('app.clinic_id', …, true)`, a `SET LOCAL`), so row-level security
//! confines it even if a query forgot its `clinic_id` filter. Services take a [`TenantTxn`] and
//! filter by [`TenantTxn::clinic_id`] as well, which is what isolates tenants on SQLite.

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement,
    TransactionTrait,
};
use uuid::Uuid;

use crate::clock::Clock;
use crate::db::DbError;

/// Access to one clinic's data.
#[derive(Clone)]
pub struct TenantScope {
    db: DatabaseConnection,
    clock: Clock,
    clinic_id: Uuid,
}

impl TenantScope {
    /// A scope for `clinic_id`. The id must come from a verified source (a session, an API key,
    /// sign-up, a webhook routed by its provider number, a job row, an operator command), never
    /// from request input; resolvers get their scope from the authenticated caller only.
    /// Its transactions read "now" from `clock`.
    pub fn new(db: DatabaseConnection, clock: Clock, clinic_id: Uuid) -> Self {
        Self {
            db,
            clock,
            clinic_id,
        }
    }

    /// The clinic this scope reaches.
    pub fn clinic_id(&self) -> Uuid {
        self.clinic_id
    }

    /// Opens a transaction confined to this clinic.
    pub async fn begin(&self) -> Result<TenantTxn, DbError> {
        let txn = self.db.begin().await?;
        set_local(&txn, "app.clinic_id", &self.clinic_id.to_string()).await?;
        Ok(TenantTxn {
            txn,
            clock: self.clock.clone(),
            clinic_id: self.clinic_id,
        })
    }
}

/// A transaction inside one clinic. Dropping it without [`TenantTxn::commit`] rolls back.
pub struct TenantTxn {
    txn: DatabaseTransaction,
    clock: Clock,
    clinic_id: Uuid,
}

impl TenantTxn {
    /// The clinic every statement in this transaction must be about.
    pub fn clinic_id(&self) -> Uuid {
        self.clinic_id
    }

    /// The current instant, from the server's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The connection to run statements on.
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Serialises this transaction with others that lock the same clinic, until it ends
    /// (PostgreSQL row lock on the clinic; SQLite serialises all writes anyway). `NO KEY UPDATE`,
    /// so that the key-share locks foreign-key checks take on the clinic never conflict with it.
    pub async fn lock_clinic(&self) -> Result<(), DbError> {
        if self.txn.get_database_backend() == DbBackend::Postgres {
            self.txn
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT id FROM clinics WHERE id = $1 FOR NO KEY UPDATE",
                    [self.clinic_id.into()],
                ))
                .await?;
        }
        Ok(())
    }

    /// Makes the transaction's writes permanent.
    pub async fn commit(self) -> Result<(), DbError> {
        Ok(self.txn.commit().await?)
    }
}

/// The row with `id` in the transaction's clinic, for tables keyed by `(clinic_id, id)`.
pub async fn in_clinic<E>(
    txn: &TenantTxn,
    id: uuid::Uuid,
) -> Result<Option<E::Model>, crate::error::ApiError>
where
    E: sea_orm::EntityTrait,
    (uuid::Uuid, uuid::Uuid): Into<<E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType>,
{
    E::find_by_id((txn.clinic_id(), id))
        .one(txn.conn())
        .await
        .map_err(crate::error::db_error)
}

/// Sets a transaction-local PostgreSQL setting; a no-op on SQLite, which has none.
pub async fn set_local(txn: &DatabaseTransaction, name: &str, value: &str) -> Result<(), DbError> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config($1, $2, true)",
        [name.into(), value.into()],
    ))
    .await?;
    Ok(())
}
