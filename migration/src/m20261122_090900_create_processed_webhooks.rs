//! Creates `processed_webhooks`: the provider event ids already handled, so that a duplicate
//! delivery changes nothing.

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
                    .table("processed_webhooks")
                    .col(clinic_id())
                    .col(string_len("provider", 32))
                    .col(string("event_id"))
                    .col(timestamp_with_time_zone("received_at"))
                    .primary_key(
                        Index::create()
                            .col("clinic_id")
                            .col("provider")
                            .col("event_id"),
                    )
                    .foreign_key(&mut clinic_fk("processed_webhooks"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "processed_webhooks").await
    }
}
