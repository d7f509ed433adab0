//! `clinics.ai_standard_visit_value_minor`: what a standard visit the AI receptionist books (one
//! without a service from the price list) is worth to the clinic, in minor units; the value such
//! a booking takes, so that recovered revenue counts it. Clinics start at 0 (no value claimed).

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
            vec![
                big_integer("ai_standard_visit_value_minor")
                    .default(0)
                    .take(),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "clinics", &["ai_standard_visit_value_minor"]).await
    }
}
