//! Lets an API key carry an expiry: from then on it authenticates nothing, as if revoked.

use crate::columns::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = vec![timestamp_with_time_zone_null("expires_at")];
        add_columns(manager, "api_keys", columns).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "api_keys", &["expires_at"]).await
    }
}
