//! Indexes the reads waiting to be sealed (`audit_pending`) by the order they are sealed in, within
//! each clinic: each batch of the sweep takes a clinic's oldest waiting reads, and without this
//! index it sorted the clinic's whole backlog to find them, so a backlog of n reads cost n² / 500.

use crate::columns::tenant_index;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "audit_pending";
const SUFFIX: &str = "oldest";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(tenant_index(TABLE, SUFFIX, &["at", "id"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let name = format!("idx_{TABLE}_{SUFFIX}");
        manager
            .drop_index(Index::drop().name(name).table(TABLE).to_owned())
            .await
    }
}
