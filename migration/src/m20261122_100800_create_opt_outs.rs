//! Creates `opt_outs`: callers (by caller key, so no number is needed) who replied STOP to a clinic
//! and must never be texted by it again until they reply START.

use crate::columns::{clinic_fk, clinic_id, created_at, drop_table};
use crate::rls::{drop_tenant_policy, execute_all, is_postgres, tenant_policy};
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
                    .table("opt_outs")
                    .col(clinic_id())
                    .col(string_len("caller_key", 80))
                    .col(created_at())
                    .primary_key(Index::create().col("clinic_id").col("caller_key"))
                    .foreign_key(&mut clinic_fk("opt_outs"))
                    .to_owned(),
            )
            .await?;
        if is_postgres(manager) {
            execute_all(manager, &tenant_policy("opt_outs", "clinic_id")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if is_postgres(manager) {
            execute_all(manager, &drop_tenant_policy("opt_outs")).await?;
        }
        drop_table(manager, "opt_outs").await
    }
}
