//! `ringback_session_member(clinic, user)` (PostgreSQL only): a signed-in member's role and
//! session version in one statement, for the check every dashboard request makes. It names the
//! clinic to row-level security itself (`app.clinic_id`, transaction-local, cleared again), so it
//! runs without a transaction of its own: one round trip instead of five. It runs with the
//! caller's rights, so the tenant policies apply as in any tenant transaction.

use crate::rls::{execute_all, is_postgres};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The body both member functions start with (`ringback_enter_as_member` since the migration of
/// 2026-12-08): the clinic named to row-level security, then the member's role and session
/// version read under the tenant policies.
pub(crate) const NAME_CLINIC_AND_READ_MEMBER: &str = r#"RETURNS TABLE (member_role text, session_version integer)
LANGUAGE plpgsql SET search_path = public AS $$
#variable_conflict use_column
BEGIN
    PERFORM set_config('app.clinic_id', p_clinic::text, true);
    RETURN QUERY
        SELECT m.role::text, u.session_version
        FROM memberships m JOIN users u ON u.id = m.user_id
        WHERE m.clinic_id = p_clinic AND m.user_id = p_user;
"#;

/// The function: the shared body, then the clinic cleared again.
fn function() -> String {
    format!(
        "\nCREATE OR REPLACE FUNCTION ringback_session_member(p_clinic uuid, p_user uuid)\n\
         {NAME_CLINIC_AND_READ_MEMBER}    PERFORM set_config('app.clinic_id', '', true);\nEND\n$$"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        execute_all(manager, &[function()]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        execute_all(
            manager,
            &["DROP FUNCTION IF EXISTS ringback_session_member(uuid, uuid)".to_owned()],
        )
        .await
    }
}
