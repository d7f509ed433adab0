//! Adds the clinic's text-back switch and delay (0–120 seconds before the text goes out).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for mut column in [
            boolean("text_back_enabled").default(true).take(),
            integer("text_back_delay_seconds").default(0).take(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("clinics")
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["text_back_enabled", "text_back_delay_seconds"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("clinics")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
