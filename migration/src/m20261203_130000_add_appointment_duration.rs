//! Adds `appointments.duration_minutes`: how long a booked visit takes, when known (the AI
//! receptionist books a service of the price list). A slot search keeps the whole visit busy,
//! not a standard half hour, so a one-hour visit is never double-booked at its half hour.

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
                    .table("appointments")
                    .add_column(integer_null("duration_minutes"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("appointments")
                    .drop_column("duration_minutes")
                    .to_owned(),
            )
            .await
    }
}
