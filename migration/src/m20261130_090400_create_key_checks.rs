//! Creates `key_checks`: for each deployment secret whose loss or change would silently corrupt data
//! (the master key that wraps clinics' data keys, the pepper caller keys are made with), a value
//! derived from it when the database was first served. A server started with a different secret
//! refuses to start instead of failing every open later. The values are keyed hashes of a constant:
//! they reveal nothing of the secrets. The application may add a check, never change one.

use crate::columns::drop_table;
use crate::rls::{APP_ROLE, execute_all, is_postgres};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("key_checks")
                    .col(string_len("name", 32).primary_key())
                    .col(string_len("check_value", 64))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        if is_postgres(manager) {
            execute_all(
                manager,
                &[format!(
                    "REVOKE UPDATE, DELETE ON key_checks FROM {APP_ROLE}"
                )],
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "key_checks").await
    }
}
