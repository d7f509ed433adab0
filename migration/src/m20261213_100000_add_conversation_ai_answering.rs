//! Adds `conversations.ai_answering_for` and `ai_answering_since`: which caller text's answer of
//! the AI receptionist is under way in the conversation, and since when. A caller text arriving
//! meanwhile is taken into that answer instead of being answered on its own, side by side.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            uuid_null("ai_answering_for"),
            timestamp_with_time_zone_null("ai_answering_since"),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("conversations")
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["ai_answering_since", "ai_answering_for"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("conversations")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
