//! Creates `conversations` (one thread per caller, open or closed, optionally assigned) and
//! `messages` (text-backs, replies, staff and automated texts). Message bodies are sealed with the
//! clinic's data key: a caller may type anything, their number included. Idempotent on the
//! provider's message id.

use crate::columns::{
    clinic_fk, clinic_id, created_at, drop_table, tenant_index, tenant_unique_index, updated_at,
};
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
                    .table("conversations")
                    .col(clinic_id())
                    .col(uuid("id"))
                    .col(string_len("caller_key", 80))
                    .col(string_len("caller_tail", 32))
                    .col(string_len("status", 16))
                    .col(uuid_null("assigned_to"))
                    .col(timestamp_with_time_zone("last_message_at"))
                    .col(created_at())
                    .col(updated_at())
                    .primary_key(Index::create().col("clinic_id").col("id"))
                    .foreign_key(&mut clinic_fk("conversations"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("messages")
                    .col(clinic_id())
                    .col(uuid("id"))
                    .col(uuid("conversation_id"))
                    .col(string_len("caller_key", 80))
                    .col(string_len("direction", 16))
                    .col(string_len("kind", 16))
                    .col(blob("body_sealed"))
                    .col(string_null("provider_message_id"))
                    .col(string_len("status", 16))
                    .col(created_at())
                    .col(updated_at())
                    .primary_key(Index::create().col("clinic_id").col("id"))
                    .foreign_key(&mut clinic_fk("messages"))
                    .to_owned(),
            )
            .await?;
        for index in [
            tenant_index("conversations", "caller", &["caller_key"]),
            tenant_index("conversations", "inbox", &["status", "last_message_at"]),
            tenant_index(
                "messages",
                "conversation",
                &["conversation_id", "created_at"],
            ),
            tenant_index("messages", "caller", &["caller_key", "created_at"]),
            tenant_unique_index("messages", "provider", &["provider_message_id"]),
        ] {
            manager.create_index(index).await?;
        }
        if is_postgres(manager) {
            let statements: Vec<String> = ["conversations", "messages"]
                .iter()
                .flat_map(|table| tenant_policy(table, "clinic_id"))
                .collect();
            execute_all(manager, &statements).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if is_postgres(manager) {
            let statements: Vec<String> = ["conversations", "messages"]
                .iter()
                .flat_map(|table| drop_tenant_policy(table))
                .collect();
            execute_all(manager, &statements).await?;
        }
        drop_table(manager, "messages").await?;
        drop_table(manager, "conversations").await
    }
}
