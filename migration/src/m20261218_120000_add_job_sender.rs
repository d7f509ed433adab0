//! Pins the clinic's number a queued text goes from (`job_outbox.sender_number_id`), chosen at its
//! first attempt: every later attempt, and the look-up at the provider of an attempt in doubt
//! (which finds a text by recipient and sender), uses the same number.

use crate::columns::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(manager, "job_outbox", vec![uuid_null("sender_number_id")]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "job_outbox", &["sender_number_id"]).await
    }
}
