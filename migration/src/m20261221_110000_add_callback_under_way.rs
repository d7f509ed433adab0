//! `calls.callback_placed_at` and `calls.callback_placed_by`: when a member last had Ringback
//! place a callback to a missed call's caller, and who, until its dial ends. A second member who
//! clicks "Call back" for the same caller meanwhile is told who is calling instead of ringing the
//! caller a second time.

use crate::columns::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            "calls",
            vec![
                timestamp_with_time_zone_null("callback_placed_at"),
                uuid_null("callback_placed_by"),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(
            manager,
            "calls",
            &["callback_placed_at", "callback_placed_by"],
        )
        .await
    }
}
