//! Gives each `daily_metrics` row a `stale_version` that every write marking the day stale
//! increments, so a refresh clears the stale flag only if no write touched the day after the
//! refresh read it: a write racing a refresh can no longer be lost from the figures.

use crate::columns::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = vec![big_integer("stale_version").default(0).take()];
        add_columns(manager, "daily_metrics", columns).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "daily_metrics", &["stale_version"]).await
    }
}
