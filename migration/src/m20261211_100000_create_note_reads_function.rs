//! `ringback_note_reads(clinic, notes)` (PostgreSQL only): writes reads' notes into
//! `audit_pending` in one statement, without a transaction of its own. The server writes the notes
//! of reads that ended without a commit this way, several requests' notes at a time (see
//! `ringback_core::read_notes`). Like `ringback_enter_as_member`, it names the clinic to row-level
//! security itself (`app.clinic_id`, transaction-local, cleared again) and runs with the caller's
//! rights, so the tenant policies hold each row to that clinic as in any tenant transaction.

use crate::rls::on_postgres;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The function. `notes` is a JSON array of `{id, at, actor, action, detail}`; `at` is an
/// RFC 3339 instant with microseconds, and `detail` is stored as the `json` the table holds.
const FUNCTION: &str = r#"
CREATE OR REPLACE FUNCTION ringback_note_reads(p_clinic uuid, p_notes jsonb)
RETURNS void
LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
    PERFORM set_config('app.clinic_id', p_clinic::text, true);
    INSERT INTO audit_pending (clinic_id, id, at, actor_user_id, action, detail)
        SELECT p_clinic, (n->>'id')::uuid, (n->>'at')::timestamptz, (n->>'actor')::uuid,
               n->>'action', (n->'detail')::json
        FROM jsonb_array_elements(p_notes) AS n;
    PERFORM set_config('app.clinic_id', '', true);
END
$$"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(manager, &[FUNCTION.to_owned()]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(
            manager,
            &["DROP FUNCTION IF EXISTS ringback_note_reads(uuid, jsonb)".to_owned()],
        )
        .await
    }
}
