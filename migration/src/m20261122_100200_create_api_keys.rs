//! Creates `api_keys`: integrator keys, shown once and stored as SHA-256 hashes, scoped `read` or
//! `write`, with their last use, revocable.

use crate::columns::{clinic_fk, clinic_id, created_at, drop_table, tenant_unique_index};
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
                    .table("api_keys")
                    .col(clinic_id())
                    .col(uuid("id"))
                    .col(string("name"))
                    .col(string_len("scope", 16))
                    .col(string_len("prefix", 16))
                    .col(string_len("secret_hash", 64))
                    .col(uuid("created_by"))
                    .col(timestamp_with_time_zone_null("last_used_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .col(created_at())
                    .primary_key(Index::create().col("clinic_id").col("id"))
                    .foreign_key(&mut clinic_fk("api_keys"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(tenant_unique_index("api_keys", "hash", &["secret_hash"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "api_keys").await
    }
}
