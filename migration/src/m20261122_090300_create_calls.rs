//! Creates `calls`: every inbound or outbound call, keyed by the caller's HMAC key and shown by a
//! masked tail only. Idempotent on the provider's call id within a clinic.

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
                    .table("calls")
                    .col(clinic_id())
                    .col(uuid("id"))
                    .col(string_len("provider", 32))
                    .col(string("external_id"))
                    .col(string_len("direction", 16))
                    .col(string_len("status", 16))
                    .col(boolean("missed"))
                    .col(string_len("caller_key", 80))
                    .col(string_len("caller_tail", 32))
                    .col(string_len_null("line_type", 32))
                    .col(timestamp_with_time_zone("started_at"))
                    .col(timestamp_with_time_zone_null("answered_at"))
                    .col(timestamp_with_time_zone_null("ended_at"))
                    .col(string_len_null("text_back_status", 32))
                    .col(created_at())
                    .col(updated_at())
                    .primary_key(Index::create().col("clinic_id").col("id"))
                    .foreign_key(&mut clinic_fk("calls"))
                    .to_owned(),
            )
            .await?;
        for index in [
            tenant_unique_index("calls", "external", &["provider", "external_id"]),
            tenant_index("calls", "caller", &["caller_key", "started_at"]),
            tenant_index("calls", "started", &["started_at"]),
        ] {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "calls").await
    }
}
