//! `ringback_clinics_awaiting_audit(max_clinics)` names the clinics whose oldest waiting read has
//! waited longest first. It named them in no particular order (in practice, by clinic id), so
//! with more clinics waiting than one pass of the sweep visits, the same first ones were sealed
//! pass after pass and a clinic further along could wait as long as reads kept coming.

use crate::rls::{maintenance_query_function, on_postgres};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The function, the clinic waiting longest first (then by id, so that the order is whole).
fn oldest_first() -> String {
    maintenance_query_function(
        "ringback_clinics_awaiting_audit(max_clinics integer)",
        "clinic_id uuid",
        "SELECT p.clinic_id FROM audit_pending p GROUP BY p.clinic_id \
         ORDER BY min(p.at), p.clinic_id LIMIT max_clinics",
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(manager, &[oldest_first()]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The function as the migration that created it wrote it.
        let unordered = crate::m20261130_090600_create_audit_pending::AWAITING_FUNCTION;
        on_postgres(manager, &[unordered.to_owned()]).await
    }
}
