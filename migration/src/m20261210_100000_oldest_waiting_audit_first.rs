//! `ringback_clinics_awaiting_audit(max_clinics)` names the clinics whose oldest waiting read has
//! waited longest first. It named them in no particular order (in practice, by clinic id), so
//! with more clinics waiting than one pass of the sweep visits, the same first ones were sealed
//! pass after pass and a clinic further along could wait as long as reads kept coming.

use crate::rls::on_postgres;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The function, the clinic waiting longest first (then by id, so that the order is whole).
const OLDEST_FIRST: &str = r#"
CREATE OR REPLACE FUNCTION ringback_clinics_awaiting_audit(max_clinics integer)
RETURNS TABLE (clinic_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
#variable_conflict use_column
BEGIN
    PERFORM set_config('app.maintenance', 'on', true);
    RETURN QUERY SELECT p.clinic_id FROM audit_pending p GROUP BY p.clinic_id
        ORDER BY min(p.at), p.clinic_id LIMIT max_clinics;
    PERFORM set_config('app.maintenance', '', true);
END
$$"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(manager, &[OLDEST_FIRST.to_owned()]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The function as the migration that created it wrote it.
        let unordered = crate::m20261130_090600_create_audit_pending::AWAITING_FUNCTION;
        on_postgres(manager, &[unordered.to_owned()]).await
    }
}
