//! Creates `caller_restrictions`: callers (by caller key, so no number is needed) who asked a
//! clinic to restrict the processing of their data. While restricted, a caller gets no text, no AI
//! and no conversation, and their calls are counted but stored under a stand-in key that links to
//! nobody. Like the opt-out list, it outlives every purge and every erasure: it is what honours
//! the request.

use crate::columns::{clinic_fk, clinic_id, created_at, drop_table};
use crate::rls::{execute_all, hardened_tenant_policy, is_postgres};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "caller_restrictions";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TABLE)
                    .col(clinic_id())
                    .col(string_len("caller_key", 80))
                    .col(created_at())
                    .primary_key(Index::create().col("clinic_id").col("caller_key"))
                    .foreign_key(&mut clinic_fk(TABLE))
                    .to_owned(),
            )
            .await?;
        if is_postgres(manager) {
            execute_all(manager, &hardened_tenant_policy(TABLE)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, TABLE).await
    }
}
