//! Adds the clinic's text-back switch and delay (0–120 seconds before the text goes out).

use crate::columns::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = vec![
            boolean("text_back_enabled").default(true).take(),
            integer("text_back_delay_seconds").default(0).take(),
        ];
        add_columns(manager, "clinics", columns).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(
            manager,
            "clinics",
            &["text_back_enabled", "text_back_delay_seconds"],
        )
        .await
    }
}
