//! Two hardenings of the functions the application's role runs as the tables' owner:
//!
//! - `ringback_claim_jobs` keeps a job's first doubt: a stale claim of a job already in doubt
//!   (an earlier attempt timed out at the provider, say) stays in doubt since then, not since the
//!   claim whose worker died, so a text's search for what may have gone reaches back to the first
//!   attempt that may have sent it. SQLite claims the same way in its own statement.
//! - Every security-definer function searches `public` and then the session's temporary schema,
//!   never the temporary schema first: a session could otherwise shadow a table the function
//!   reads with a temporary table of its own.

use crate::m20261214_100000_claim_jobs_to_give_up::GIVE_UP_CLAIM_FUNCTION;
use crate::rls::on_postgres;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// As before, but a stale claim of a job in doubt keeps the doubt's time.
const FIRST_DOUBT_CLAIM_FUNCTION: &str = r#"
CREATE OR REPLACE FUNCTION ringback_claim_jobs(
    worker_name text, claim_time timestamptz, stale_before timestamptz, max_jobs integer,
    max_attempts integer, lane_kinds text[], in_lane boolean)
RETURNS TABLE (clinic_id uuid, id uuid, give_up boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
    -- The owner's maintenance, for this function's statements only.
    PERFORM set_config('app.maintenance', 'on', true);

    RETURN QUERY
    WITH picked AS (
        SELECT p.clinic_id, p.id,
               (p.status = 'claimed' AND p.attempts >= max_attempts) AS give_up
        FROM job_outbox p
        WHERE ((p.status = 'pending' AND p.run_at <= claim_time)
            OR (p.status = 'claimed' AND p.claimed_at < stale_before))
          AND (p.kind = ANY(lane_kinds)) = in_lane
        ORDER BY p.run_at
        LIMIT max_jobs
        FOR UPDATE SKIP LOCKED)
    UPDATE job_outbox j SET
        in_doubt_since = CASE
            WHEN j.status = 'claimed' THEN COALESCE(j.in_doubt_since, j.claimed_at)
            ELSE j.in_doubt_since END,
        status = 'claimed',
        attempts = CASE WHEN picked.give_up THEN j.attempts ELSE j.attempts + 1 END,
        claimed_at = claim_time,
        claimed_by = worker_name,
        updated_at = claim_time
    FROM picked
    WHERE j.clinic_id = picked.clinic_id AND j.id = picked.id
    RETURNING j.clinic_id, j.id, picked.give_up;

    PERFORM set_config('app.maintenance', '', true);
END
$$"#;

/// Sets `search_path` on every security-definer function of ours in `public`.
fn definer_search_path(path: &str) -> String {
    format!(
        "DO $$ DECLARE f regprocedure; BEGIN \
         FOR f IN SELECT p.oid::regprocedure FROM pg_proc p \
             JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = 'public' AND p.prosecdef AND p.proname LIKE 'ringback\\_%' \
         LOOP EXECUTE format('ALTER FUNCTION %s SET search_path = {path}', f); END LOOP; \
         END $$"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = [
            FIRST_DOUBT_CLAIM_FUNCTION.to_owned(),
            definer_search_path("public, pg_temp"),
        ];
        on_postgres(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The same signature and result: the function before is put back in place.
        let previous =
            GIVE_UP_CLAIM_FUNCTION.replacen("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1);
        on_postgres(manager, &[previous, definer_search_path("public")]).await
    }
}
