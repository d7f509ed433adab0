//! Creates `daily_metrics`: per clinic-local day counters, maintained incrementally. They hold no
//! caller identifiers, so they survive retention purges.

use crate::columns::{clinic_fk, clinic_id, drop_table, updated_at};
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
                    .table("daily_metrics")
                    .col(clinic_id())
                    .col(date("day"))
                    .col(integer("inbound_calls").default(0))
                    .col(integer("missed_calls").default(0))
                    .col(integer("text_backs_sent").default(0))
                    .col(integer("replies").default(0))
                    .col(integer("callbacks").default(0))
                    .col(integer_null("median_callback_seconds"))
                    .col(integer("recovered_appointments").default(0))
                    .col(big_integer("recovered_revenue_minor").default(0))
                    .col(updated_at())
                    .primary_key(Index::create().col("clinic_id").col("day"))
                    .foreign_key(&mut clinic_fk("daily_metrics"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "daily_metrics").await
    }
}
