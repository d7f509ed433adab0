//! Creates `notifications`: what staff are told in the dashboard, such as the AI receptionist
//! handing a caller to them. Each says what happened in plain words (number-like runs removed, no
//! caller key), links the conversation, and is read once by anyone in the team.

use crate::columns::{clinic_fk, clinic_id, created_at, drop_table, tenant_index};
use crate::rls::{execute_all, hardened_tenant_policy, is_postgres};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "notifications";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TABLE)
                    .col(clinic_id())
                    .col(uuid("id"))
                    .col(string_len("kind", 40))
                    .col(uuid_null("conversation_id"))
                    .col(string_len("text", 300))
                    .col(created_at())
                    .col(timestamp_with_time_zone_null("read_at"))
                    .col(uuid_null("read_by"))
                    .primary_key(Index::create().col("clinic_id").col("id"))
                    .foreign_key(&mut clinic_fk(TABLE))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(tenant_index(TABLE, "created", &["created_at"]))
            .await?;
        manager
            .create_index(tenant_index(TABLE, "unread", &["read_at", "created_at"]))
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
