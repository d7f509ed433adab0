//! Click-to-call without showing the number: in the `text_back` privacy mode a missed call keeps
//! the caller's number sealed with the clinic's data key (`calls.number_sealed`; never in strict
//! mode), so Ringback can connect staff to the caller from inside the server; and each member may
//! set the phone Ringback rings first for their callbacks (`memberships.callback_line_sealed`,
//! with its masked tail), else the clinic's forwarding line is rung.

use crate::columns::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(manager, "calls", vec![blob_null("number_sealed")]).await?;
        add_columns(
            manager,
            "memberships",
            vec![
                blob_null("callback_line_sealed"),
                string_len_null("callback_line_tail", 32),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "calls", &["number_sealed"]).await?;
        drop_columns(
            manager,
            "memberships",
            &["callback_line_sealed", "callback_line_tail"],
        )
        .await
    }
}
