//! Indexes calls and conversations by masked tail, and conversations by last message, within each
//! clinic: the booking form lists the callers a clinic spoke to most recently and finds one by the
//! three digits of its tail, reading only the newest matching rows however long the history.

use crate::columns::tenant_index;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (table, name suffix, columns after the clinic).
const INDEXES: &[(&str, &str, &[&str])] = &[
    ("calls", "tail", &["caller_tail", "started_at"]),
    ("conversations", "tail", &["caller_tail", "last_message_at"]),
    ("conversations", "latest", &["last_message_at"]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for &(table, suffix, columns) in INDEXES {
            manager
                .create_index(tenant_index(table, suffix, columns))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for &(table, suffix, _) in INDEXES {
            let name = format!("idx_{table}_{suffix}");
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
