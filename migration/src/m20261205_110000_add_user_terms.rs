//! Adds `users.terms_version` and `users.terms_accepted_at`: which terms of service and privacy
//! notice an owner accepted at sign-up, and when. Members who joined by invitation have none.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            string_null("terms_version"),
            timestamp_with_time_zone_null("terms_accepted_at"),
        ] {
            let mut column = column;
            manager
                .alter_table(
                    Table::alter()
                        .table("users")
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["terms_accepted_at", "terms_version"] {
            manager
                .alter_table(Table::alter().table("users").drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
