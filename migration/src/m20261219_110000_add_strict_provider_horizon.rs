//! Remembers, per clinic, up to when Twilio's records of its calls and texts have been queued for
//! deletion early (a clinic in `strict` privacy mode has them deleted a day after, not with the
//! call retention), so that each daily purge queues only what is new; and indexes each clinic's
//! messages by when they were created, the order the purge reads them in.

use crate::columns::{add_columns, drop_columns, tenant_index};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMN: &str = "provider_records_forgotten_before";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            "clinics",
            vec![timestamp_with_time_zone_null(COLUMN)],
        )
        .await?;
        manager
            .create_index(tenant_index("messages", "created", &["created_at"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_messages_created")
                    .table("messages")
                    .to_owned(),
            )
            .await?;
        drop_columns(manager, "clinics", &[COLUMN]).await
    }
}
