//! Remembers the Checkout Session last opened for each clinic, so that opening another expires it:
//! only the newest Checkout page can be paid, and an owner who opened two (two tabs, a plan chosen
//! again) cannot subscribe twice.

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
            "clinics",
            vec![string_null("billing_checkout_session")],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "clinics", &["billing_checkout_session"]).await
    }
}
