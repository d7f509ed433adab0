//! `ringback_enter_as_member(clinic, user)` (PostgreSQL only): the first statement of a signed-in
//! request's tenant transaction. It names the clinic to row-level security for the rest of the
//! transaction (`app.clinic_id`, transaction-local) and returns the member's role and session
//! version (read by `ringback_session_member`, which clears the clinic again; this one names it
//! after), so the session check costs no round trip of its own. No row means the session no longer
//! counts, and the caller rolls the transaction back. It runs with the caller's rights, so the
//! tenant policies apply as in any tenant transaction.

use crate::rls::on_postgres;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The function as this migration creates it (the next one restores it when rolled back).
pub(crate) const FUNCTION: &str = r#"
CREATE OR REPLACE FUNCTION ringback_enter_as_member(p_clinic uuid, p_user uuid)
RETURNS TABLE (member_role text, session_version integer)
LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
    RETURN QUERY SELECT * FROM ringback_session_member(p_clinic, p_user);
    PERFORM set_config('app.clinic_id', p_clinic::text, true);
END
$$"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(manager, &[FUNCTION.to_owned()]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let drop = "DROP FUNCTION IF EXISTS ringback_enter_as_member(uuid, uuid)";
        on_postgres(manager, &[drop.to_owned()]).await
    }
}
