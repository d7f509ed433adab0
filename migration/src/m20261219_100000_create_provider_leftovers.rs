//! Creates `provider_leftovers`: the phone provider's records (Twilio's logs of calls and texts,
//! which hold callers' numbers and texts' words) that a deleted clinic left behind, waiting to be
//! deleted at the provider. A clinic's own deletions run as its outbox jobs, but those go with
//! the clinic; these rows outlive it. Each names a provider, a kind (`call`, `message`) and the
//! provider's id, nothing else: no clinic, no number. A row goes once the provider confirms the
//! record is gone; failed attempts wait longer each time.

use crate::columns::drop_table;
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
                    .table("provider_leftovers")
                    .col(string_len("provider", 32))
                    .col(string_len("kind", 16))
                    .col(string_len("sid", 64))
                    .col(integer("attempts").default(0))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(text_null("last_error"))
                    .col(timestamp_with_time_zone("created_at"))
                    .primary_key(Index::create().col("provider").col("kind").col("sid"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_provider_leftovers_due")
                    .table("provider_leftovers")
                    .col("next_attempt_at")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "provider_leftovers").await
    }
}
