//! Creates `audit_log`: append-only, hash-chained per clinic (`seq` counts up from 1 and each entry
//! stores the hash of the one before), so tampering with history is detectable.

use crate::columns::{clinic_fk, clinic_id, drop_table};
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
                    .table("audit_log")
                    .col(clinic_id())
                    .col(big_integer("seq"))
                    .col(timestamp_with_time_zone("at"))
                    .col(uuid_null("actor_user_id"))
                    .col(string_len("action", 64))
                    .col(json("detail"))
                    .col(string_len("prev_hash", 64))
                    .col(string_len("hash", 64))
                    .primary_key(Index::create().col("clinic_id").col("seq"))
                    .foreign_key(&mut clinic_fk("audit_log"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "audit_log").await
    }
}
