//! Adds `provider_numbers.provider_sid`: Twilio's id of the number (`PN…`, not personal data),
//! kept for numbers bought or pointed through Ringback so they can be re-pointed and released
//! without asking Twilio to find them again. Numbers registered by typing them have none.

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
                    .table("provider_numbers")
                    .add_column(string_null("provider_sid"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("provider_numbers")
                    .drop_column("provider_sid")
                    .to_owned(),
            )
            .await
    }
}
