//! Lets `daily_metrics` be maintained incrementally: a `stale` flag that writes set on the local
//! days they touch (recomputed before the next read), and the day's time-to-callback samples, so
//! medians over any range come from the daily rows without rescanning calls.

use crate::columns::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = vec![
            boolean("stale").default(false).take(),
            json_null("callback_delays_seconds"),
        ];
        add_columns(manager, "daily_metrics", columns).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(
            manager,
            "daily_metrics",
            &["stale", "callback_delays_seconds"],
        )
        .await
    }
}
