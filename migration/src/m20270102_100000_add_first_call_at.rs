//! `clinics.first_call_at`: when the first call reached the clinic through its provider's
//! webhooks (the setup's test call). Kept once set, so the setup checklist stays done after the
//! retention purge deletes that call. Existing clinics start without it (the checklist also
//! counts the calls still kept).

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
            vec![timestamp_with_time_zone_null("first_call_at").take()],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(manager, "clinics", &["first_call_at"]).await
    }
}
