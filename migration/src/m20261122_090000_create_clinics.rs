//! Creates `clinics`: the tenant root. Settings used by the core loop live here; a clinic's data key
//! is stored wrapped by the deployment's master key, so destroying it crypto-shreds the clinic.

use crate::columns::{created_at, drop_table, updated_at};
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
                    .table("clinics")
                    .col(pk_uuid("id"))
                    .col(string("name"))
                    .col(string_len("kind", 16))
                    .col(string_len("time_zone", 64))
                    .col(string_len("default_region", 2))
                    .col(string_len("currency", 3))
                    .col(integer("attribution_window_days").default(7))
                    .col(string_len("privacy_mode", 16).default("strict"))
                    .col(integer("conversation_retention_days").default(365))
                    .col(blob_null("wrapped_data_key"))
                    .col(created_at())
                    .col(updated_at())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "clinics").await
    }
}
