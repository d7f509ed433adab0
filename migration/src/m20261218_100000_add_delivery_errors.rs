//! Keeps why a text was not delivered: the provider's error code on the message
//! (`messages.delivery_error`) and on the call a text-back answered (`calls.text_back_error`), so
//! staff read "the phone was off or out of signal" rather than only "Not delivered".

use crate::columns::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(manager, "messages", vec![integer_null("delivery_error")]).await?;
        add_columns(manager, "calls", vec![integer_null("text_back_error")]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "calls", &["text_back_error"]).await?;
        drop_columns(manager, "messages", &["delivery_error"]).await
    }
}
