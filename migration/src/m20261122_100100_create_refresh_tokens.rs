//! Creates `refresh_tokens`: dashboard refresh tokens, stored as SHA-256 hashes. Each rotation
//! replaces the token within its family; presenting a replaced token revokes the whole family.

use crate::columns::{
    clinic_fk, clinic_id, created_at, drop_table, tenant_index, tenant_unique_index,
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
                    .table("refresh_tokens")
                    .col(clinic_id())
                    .col(uuid("id"))
                    .col(uuid("user_id"))
                    .col(uuid("family_id"))
                    .col(string_len("token_hash", 64))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("replaced_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .col(created_at())
                    .primary_key(Index::create().col("clinic_id").col("id"))
                    .foreign_key(&mut clinic_fk("refresh_tokens"))
                    .to_owned(),
            )
            .await?;
        for index in [
            tenant_unique_index("refresh_tokens", "hash", &["token_hash"]),
            tenant_index("refresh_tokens", "user", &["user_id"]),
            tenant_index("refresh_tokens", "family", &["family_id"]),
        ] {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "refresh_tokens").await
    }
}
