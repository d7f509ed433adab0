//! Creates `clinic_deletions`: what remains of a deleted clinic, at the deployment's level (no row
//! level security: it belongs to no clinic). Its id, when it was deleted, and how many rows of
//! each table went; never its name, its members or anything about its callers.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::columns::drop_table;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "clinic_deletions";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TABLE)
                    .col(uuid("clinic_id").primary_key())
                    .col(timestamp_with_time_zone("deleted_at"))
                    .col(json("row_counts"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, TABLE).await
    }
}
