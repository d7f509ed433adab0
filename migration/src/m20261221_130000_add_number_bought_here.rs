//! `provider_numbers.bought_here`: whether Ringback bought the number for the clinic. Only such a
//! number is released at Twilio when its clinic is deleted; one the clinic took from the account
//! (a practice's own number ported in, say) stays the account's. Rows from before are taken as
//! not bought here, the safe side.

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
            vec![boolean("bought_here").default(false).take()],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "provider_numbers", &["bought_here"]).await
    }
}
