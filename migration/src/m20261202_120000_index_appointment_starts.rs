//! Indexes appointments by start within each clinic: the AI receptionist's slot search reads the
//! appointments that start in the days it looks at, and without it would read every appointment
//! the clinic ever booked.

use crate::columns::tenant_index;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_appointments_starts";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(tenant_index("appointments", "starts", &["starts_at"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table("appointments").to_owned())
            .await
    }
}
