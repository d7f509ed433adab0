//! Indexes outbox jobs by clinic, kind and creation time: every missed call counts the clinic's
//! texts of the last 24 hours (and of the month) against its limits, and without this index that
//! count reads every job the clinic ever had.

use crate::columns::tenant_index;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(tenant_index(
                "job_outbox",
                "created",
                &["kind", "created_at"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_job_outbox_created")
                    .table("job_outbox")
                    .to_owned(),
            )
            .await
    }
}
