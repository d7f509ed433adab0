//! `provider_numbers.stopped_at`: when the clinic stopped using the number. The row stays, held
//! back for the clinic: the routing index keeps another clinic from taking or typing in the
//! number (its callers would otherwise reach a stranger, who could read and answer their texts),
//! no new call or text to it is kept (a STOP is still honoured), the clinic may take it back, and
//! the retention purge frees it after `phone_lines::HELD_BACK_DAYS` days. Rows from before are numbers in use.

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
            "provider_numbers",
            vec![timestamp_with_time_zone_null("stopped_at").take()],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "provider_numbers", &["stopped_at"]).await
    }
}
