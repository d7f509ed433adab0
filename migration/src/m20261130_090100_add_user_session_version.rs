//! Gives each user a `session_version` that every access token carries and every request checks:
//! changing the password or signing out everywhere increments it, so access tokens issued before
//! stop working at once instead of at their expiry.

use crate::columns::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = vec![integer("session_version").default(0).take()];
        add_columns(manager, "users", columns).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "users", &["session_version"]).await
    }
}
