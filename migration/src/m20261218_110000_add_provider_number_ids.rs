//! Remembers which of the clinic's numbers each call and each incoming text reached
//! (`calls.provider_number_id`, `messages.provider_number_id`), so that a clinic with several
//! numbers answers a caller from the number they rang or texted rather than its oldest one.

use crate::columns::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(manager, "calls", vec![uuid_null("provider_number_id")]).await?;
        add_columns(manager, "messages", vec![uuid_null("provider_number_id")]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "messages", &["provider_number_id"]).await?;
        drop_columns(manager, "calls", &["provider_number_id"]).await
    }
}
