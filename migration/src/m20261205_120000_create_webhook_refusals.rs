//! Creates `webhook_refusals`: the last provider webhooks refused for one of a clinic's numbers
//! (which hook, why, when; never a parameter of the request), so the guided test call can say
//! what to check when nothing arrives. Kept short: the newest few per clinic.

use crate::columns::{clinic_fk, clinic_id, created_at, drop_table, tenant_index};
use crate::rls::{execute_all, hardened_tenant_policy, is_postgres};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "webhook_refusals";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TABLE)
                    .col(clinic_id())
                    .col(uuid("id"))
                    .col(string_len("hook", 40))
                    .col(string_len("reason", 200))
                    .col(created_at())
                    .primary_key(Index::create().col("clinic_id").col("id"))
                    .foreign_key(&mut clinic_fk(TABLE))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(tenant_index(TABLE, "created", &["created_at"]))
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
