//! Indexes each clinic's calls by start and id, the calls list's whole order (newest first, ties by
//! id). The index by start alone left PostgreSQL sorting each page's calls that share a start,
//! and a page after the first reading every newer call before the ones it shows; this one hands a
//! page its rows in order and starts it where the cursor points. It replaces the index by start,
//! whose every use it serves.

use crate::columns::tenant_index;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "calls";
/// (name suffix, columns after the clinic) of the index made and of the one it replaces.
const BY_START_AND_ID: (&str, &[&str]) = ("newest", &["started_at", "id"]);
const BY_START: (&str, &[&str]) = ("started", &["started_at"]);

/// Creates the index `made`, then drops the index `replaced`.
async fn replace(
    manager: &SchemaManager<'_>,
    made: (&str, &[&'static str]),
    replaced: (&str, &[&'static str]),
) -> Result<(), DbErr> {
    manager
        .create_index(tenant_index(TABLE, made.0, made.1))
        .await?;
    let name = format!("idx_{TABLE}_{}", replaced.0);
    manager
        .drop_index(Index::drop().name(name).table(TABLE).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace(manager, BY_START_AND_ID, BY_START).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace(manager, BY_START, BY_START_AND_ID).await
    }
}
