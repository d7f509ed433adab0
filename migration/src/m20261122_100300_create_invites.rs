//! Creates `invites`: a pending team member, with the role they will get and a one-time token
//! (stored hashed) that lets them set their password.

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
                    .table("invites")
                    .col(clinic_id())
                    .col(uuid("id"))
                    .col(string("email"))
                    .col(string("display_name"))
                    .col(string_len("role", 16))
                    .col(string_len("token_hash", 64))
                    .col(uuid("invited_by"))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("accepted_at"))
                    .col(created_at())
                    .primary_key(Index::create().col("clinic_id").col("id"))
                    .foreign_key(&mut clinic_fk("invites"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(tenant_unique_index("invites", "hash", &["token_hash"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "invites").await
    }
}
