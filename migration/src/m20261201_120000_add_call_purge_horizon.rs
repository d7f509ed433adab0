//! The instant before which a clinic's calls were purged. Daily figures before it (and for the
//! days whose figures reach back to it) are frozen, and appointments booked too soon after it to
//! see all their calls keep the verdict they had, so purging never changes a figure.

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
            vec![timestamp_with_time_zone_null("calls_purged_before")],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "clinics", &["calls_purged_before"]).await
    }
}
