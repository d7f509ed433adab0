//! `ringback_enter_as_member(clinic, user)` in one step: it names the clinic to row-level security
//! and reads the member's role and session version itself, instead of calling
//! `ringback_session_member` (which names the clinic, reads, and clears it again) and naming the
//! clinic a second time. The answer and what the transaction is left with are unchanged; every
//! signed-in request runs it first, and the nested call with its own `search_path` cost more than
//! the read.

use crate::rls::on_postgres;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const ONE_STEP: &str = r#"
CREATE OR REPLACE FUNCTION ringback_enter_as_member(p_clinic uuid, p_user uuid)
RETURNS TABLE (member_role text, session_version integer)
LANGUAGE plpgsql SET search_path = public AS $$
#variable_conflict use_column
BEGIN
    PERFORM set_config('app.clinic_id', p_clinic::text, true);
    RETURN QUERY
        SELECT m.role::text, u.session_version
        FROM memberships m JOIN users u ON u.id = m.user_id
        WHERE m.clinic_id = p_clinic AND m.user_id = p_user;
END
$$"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(manager, &[ONE_STEP.to_owned()]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The function as the migration before this one created it.
        let nested = crate::m20261207_100000_create_enter_as_member_function::FUNCTION;
        on_postgres(manager, &[nested.to_owned()]).await
    }
}
