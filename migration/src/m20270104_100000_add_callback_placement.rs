//! `calls.callback_placement` and `calls.callback_dialled_at`: which placement of a callback the
//! mark on a missed call is (the id its provider webhooks carry in their signed URLs, so that a
//! late or replayed request of an earlier placement neither clears the mark of the current one
//! nor dials the caller), and when the caller was dialled for it (once per placement; a dialled
//! callback stays under way while the conversation lasts). Existing marks have neither: their
//! webhooks' reports still end them and record their outcome; answering one connects nobody.

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
                uuid_null("callback_placement").take(),
                timestamp_with_time_zone_null("callback_dialled_at").take(),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(
            manager,
            "calls",
            &["callback_placement", "callback_dialled_at"],
        )
        .await
    }
}
