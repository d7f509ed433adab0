//! Creates `appointments`: bookings from staff, integrators or the AI, with their value in minor
//! units of the clinic's currency. The caller is referenced by key, never by number.

use crate::columns::{
    clinic_fk, clinic_id, created_at, drop_table, tenant_index, tenant_unique_index, updated_at,
};
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
                    .table("appointments")
                    .col(clinic_id())
                    .col(uuid("id"))
                    .col(string_len("caller_key", 80))
                    .col(string_len("source", 16))
                    .col(string_null("external_id"))
                    .col(big_integer("value_minor"))
                    .col(timestamp_with_time_zone_null("starts_at"))
                    .col(timestamp_with_time_zone_null("cancelled_at"))
                    .col(created_at())
                    .col(updated_at())
                    .primary_key(Index::create().col("clinic_id").col("id"))
                    .foreign_key(&mut clinic_fk("appointments"))
                    .to_owned(),
            )
            .await?;
        for index in [
            tenant_index("appointments", "caller", &["caller_key", "created_at"]),
            tenant_index("appointments", "created", &["created_at"]),
            tenant_unique_index("appointments", "external", &["source", "external_id"]),
        ] {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "appointments").await
    }
}
