//! `clinics.text_back_wording_saved_at`: when the clinic last saved its text-back wording, its own
//! or the default it keeps (an empty template). The setup checklist's wording step is done once
//! either happened: a clinic happy with the default wording confirms it by saving, without
//! copying the default into its own words (which would stop following its booking link). Rows
//! from before hold none.

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
            vec![timestamp_with_time_zone_null("text_back_wording_saved_at").take()],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "clinics", &["text_back_wording_saved_at"]).await
    }
}
