//! Adds `conversations.read_at`: when someone in the team last opened the thread. A conversation
//! whose latest message is newer is unread (the inbox is shared, as a front desk's is).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("conversations")
                    .add_column(timestamp_with_time_zone_null("read_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("conversations")
                    .drop_column("read_at")
                    .to_owned(),
            )
            .await
    }
}
