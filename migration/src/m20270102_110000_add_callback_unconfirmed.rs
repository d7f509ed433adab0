//! `calls.callback_unconfirmed`: whether the callback marked on a missed call was asked of the
//! provider and its answer never came (it may ring or not), so that the member who placed it may
//! try again after a minute while colleagues still wait. Existing calls start confirmed.

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
            vec![boolean("callback_unconfirmed").default(false).take()],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "calls", &["callback_unconfirmed"]).await
    }
}
