//! Time-to-text and a reply rate that counts callers: `daily_metrics` keeps each day's
//! time-to-text samples (seconds from the missed call to the provider's acceptance of its
//! text-back), and `replies` (texts received) becomes `replied_text_backs` (text-backs the caller
//! answered, once however many texts they sent). Every stored day is marked stale, so the next
//! read recomputes it under the new rules.

use crate::columns::{add_columns, drop_columns};
use crate::rls::is_postgres;
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Marks every day stale. On PostgreSQL the owner declares maintenance (row-level security is
/// forced), inside one statement so the declaration cannot outlive it.
const MARK_ALL_STALE_POSTGRES: &str = "DO $$ BEGIN \
     PERFORM set_config('app.maintenance', 'on', true); \
     UPDATE daily_metrics SET stale = true, stale_version = stale_version + 1; \
     PERFORM set_config('app.maintenance', '', true); \
     END $$";
const MARK_ALL_STALE: &str =
    "UPDATE daily_metrics SET stale = true, stale_version = stale_version + 1";

async fn rename_replies(manager: &SchemaManager<'_>, from: &str, to: &str) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table("daily_metrics")
                .rename_column(Alias::new(from), Alias::new(to))
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            "daily_metrics",
            vec![json_null("text_back_delays_seconds")],
        )
        .await?;
        rename_replies(manager, "replies", "replied_text_backs").await?;
        let mark = if is_postgres(manager) {
            MARK_ALL_STALE_POSTGRES
        } else {
            MARK_ALL_STALE
        };
        manager.get_connection().execute_unprepared(mark).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        rename_replies(manager, "replied_text_backs", "replies").await?;
        drop_columns(manager, "daily_metrics", &["text_back_delays_seconds"]).await
    }
}
