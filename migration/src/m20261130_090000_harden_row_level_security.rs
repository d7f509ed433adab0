//! Row-level security that holds even for the tables' owner, and a job claim that ends in a dead
//! letter (PostgreSQL only).
//!
//! Every table with row-level security now has it forced, so a server started as the owner sees
//! no more than the application role would. The owner's legitimate work across clinics — the
//! job claim below, `ringback audit verify` — declares itself with
//! `set_config('app.maintenance', 'on', true)`, which only the owner's own policy honours.
//!
//! `ringback_claim_jobs` gains `max_attempts`: a claim that went stale after the last allowed
//! attempt is a dead letter (kept in doubt since that claim) instead of being claimed again, so a
//! job whose preparation or settlement keeps failing stops after `max_attempts`.

use crate::rls::{APP_ROLE, MAINTENANCE, execute_all, is_postgres};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

const OLD_CLAIM: &str = "ringback_claim_jobs(text, timestamptz, timestamptz, integer)";
pub(crate) const NEW_CLAIM: &str =
    "ringback_claim_jobs(text, timestamptz, timestamptz, integer, integer)";

/// Claims up to `max_jobs` jobs that are due, or whose claim went stale (a worker died mid-job; the
/// outcome is then unknown, so the job is in doubt since that claim). A stale claim of a job that
/// has had `max_attempts` attempts becomes a dead letter instead.
pub(crate) const CLAIM_FUNCTION: &str = r#"
CREATE OR REPLACE FUNCTION ringback_claim_jobs(
    worker_name text, claim_time timestamptz, stale_before timestamptz, max_jobs integer,
    max_attempts integer)
RETURNS TABLE (clinic_id uuid, id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
#variable_conflict use_column
BEGIN
    -- The owner's maintenance, for this function's statements only.
    PERFORM set_config('app.maintenance', 'on', true);

    UPDATE job_outbox j SET
        status = 'dead',
        in_doubt_since = COALESCE(j.in_doubt_since, j.claimed_at),
        last_error = 'gave up: the last attempt never settled',
        claimed_by = NULL,
        updated_at = claim_time
    WHERE j.status = 'claimed' AND j.claimed_at < stale_before AND j.attempts >= max_attempts;

    RETURN QUERY
    WITH picked AS (
        SELECT p.clinic_id, p.id FROM job_outbox p
        WHERE (p.status = 'pending' AND p.run_at <= claim_time)
           OR (p.status = 'claimed' AND p.claimed_at < stale_before)
        ORDER BY p.run_at
        LIMIT max_jobs
        FOR UPDATE SKIP LOCKED)
    UPDATE job_outbox j SET
        in_doubt_since = CASE WHEN j.status = 'claimed' THEN j.claimed_at ELSE j.in_doubt_since END,
        status = 'claimed',
        attempts = j.attempts + 1,
        claimed_at = claim_time,
        claimed_by = worker_name,
        updated_at = claim_time
    FROM picked
    WHERE j.clinic_id = picked.clinic_id AND j.id = picked.id
    RETURNING j.clinic_id, j.id;

    PERFORM set_config('app.maintenance', '', true);
END
$$"#;

/// The tables of the current schema with row-level security enabled.
async fn secured_tables(manager: &SchemaManager<'_>) -> Result<Vec<String>, DbErr> {
    let connection = manager.get_connection();
    let rows = connection
        .query_all_raw(Statement::from_string(
            manager.get_database_backend(),
            "SELECT c.relname AS name FROM pg_class c \
             WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' \
               AND c.relrowsecurity ORDER BY c.relname",
        ))
        .await?;
    rows.iter().map(|row| row.try_get("", "name")).collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        let mut statements = Vec::new();
        for table in secured_tables(manager).await? {
            statements.push(format!("ALTER TABLE {table} FORCE ROW LEVEL SECURITY"));
            statements.push(format!(
                "CREATE POLICY owner_maintenance ON {table} TO CURRENT_USER \
                 USING ({MAINTENANCE}) WITH CHECK ({MAINTENANCE})"
            ));
        }
        statements.push(format!("DROP FUNCTION IF EXISTS {OLD_CLAIM}"));
        statements.push(CLAIM_FUNCTION.to_owned());
        statements.push(format!("REVOKE ALL ON FUNCTION {NEW_CLAIM} FROM PUBLIC"));
        statements.push(format!(
            "GRANT EXECUTE ON FUNCTION {NEW_CLAIM} TO {APP_ROLE}"
        ));
        execute_all(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        let mut statements = vec![format!("DROP FUNCTION IF EXISTS {NEW_CLAIM}")];
        for table in secured_tables(manager).await? {
            statements.push(format!(
                "DROP POLICY IF EXISTS owner_maintenance ON {table}"
            ));
            statements.push(format!("ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY"));
        }
        execute_all(manager, &statements).await
    }
}
