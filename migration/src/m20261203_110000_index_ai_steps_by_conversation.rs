//! Indexes `ai_steps` by conversation within each clinic: a conversation's view lists its steps
//! and a follow-up checks whether one was sent, neither reading the clinic's other steps.

use crate::columns::tenant_index;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(tenant_index(
                "ai_steps",
                "conversation",
                &["conversation_id", "created_at"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_ai_steps_conversation")
                    .table("ai_steps")
                    .to_owned(),
            )
            .await
    }
}
