//! The member check every signed-in request makes also says whether the request's sign-in has
//! ended, so an access token stops working the moment its sign-in is signed out (or its refresh
//! token is found reused), not up to fifteen minutes later. New three-argument forms of
//! `ringback_session_member` and `ringback_enter_as_member` take the sign-in (the refresh-token
//! family the access token was issued with; NULL for a token issued before tokens named it) and
//! add `sign_in_ended`: a token of that family in this clinic was revoked. The two-argument forms
//! stay for a server of the previous release during a rolling deploy.

use crate::rls::on_postgres;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The body both new functions start with: the clinic named to row-level security, then the
/// member's role, session version and whether the sign-in ended, read under the tenant policies
/// (the revocation is found through the clinic's `(clinic_id, family_id)` index).
const NAME_CLINIC_AND_CHECK_MEMBER: &str = r#"(p_clinic uuid, p_user uuid, p_sign_in uuid)
RETURNS TABLE (member_role text, session_version integer, sign_in_ended boolean)
LANGUAGE plpgsql SET search_path = public AS $$
#variable_conflict use_column
BEGIN
    PERFORM set_config('app.clinic_id', p_clinic::text, true);
    RETURN QUERY
        SELECT m.role::text, u.session_version,
            EXISTS (
                SELECT 1 FROM refresh_tokens r
                WHERE r.clinic_id = p_clinic AND r.family_id = p_sign_in
                    AND r.revoked_at IS NOT NULL
            )
        FROM memberships m JOIN users u ON u.id = m.user_id
        WHERE m.clinic_id = p_clinic AND m.user_id = p_user;
"#;

/// The check on its own, the clinic cleared again after it.
fn session_member() -> String {
    format!(
        "CREATE OR REPLACE FUNCTION ringback_session_member{NAME_CLINIC_AND_CHECK_MEMBER}    \
         PERFORM set_config('app.clinic_id', '', true);\nEND\n$$"
    )
}

/// The check as a tenant transaction's first statement, the clinic left named for the rest.
fn enter_as_member() -> String {
    format!(
        "CREATE OR REPLACE FUNCTION ringback_enter_as_member{NAME_CLINIC_AND_CHECK_MEMBER}END\n$$"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(manager, &[session_member(), enter_as_member()]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let drops = ["ringback_session_member", "ringback_enter_as_member"]
            .map(|name| format!("DROP FUNCTION IF EXISTS {name}(uuid, uuid, uuid)"));
        on_postgres(manager, &drops).await
    }
}
