//! `ringback_claim_jobs` hands a job whose last allowed attempt never settled to the claiming
//! worker to give up, instead of ending it as a dead letter itself: the worker then runs the job
//! type's own records of a dead letter (a text marked failed, an AI answer handed to staff with
//! the fallback text), which the function could not. Such a claim keeps its attempt count and
//! comes back with `give_up` set; if that worker dies too, the next claim hands it on again.
//! SQLite claims the same way in its own statements.

use crate::m20261203_120000_claim_jobs_by_lane::{
    LANE_CLAIM as CLAIM_SIGNATURE, LANE_CLAIM_FUNCTION,
};
use crate::rls::{APP_ROLE, execute_all, is_postgres};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// As before, but returning `give_up` beside each job: `true` for a claim that was stale after
/// the job's last allowed attempt (claimed again without counting an attempt, in doubt since
/// the claim that never settled), `false` for an attempt to make.
pub(crate) const GIVE_UP_CLAIM_FUNCTION: &str = r#"
CREATE FUNCTION ringback_claim_jobs(
    worker_name text, claim_time timestamptz, stale_before timestamptz, max_jobs integer,
    max_attempts integer, lane_kinds text[], in_lane boolean)
RETURNS TABLE (clinic_id uuid, id uuid, give_up boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
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
            WHEN picked.give_up THEN COALESCE(j.in_doubt_since, j.claimed_at)
            WHEN j.status = 'claimed' THEN j.claimed_at
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

/// Replaces the function (its result changes, so it is dropped first) and grants it again.
async fn replace_claim(manager: &SchemaManager<'_>, function: &str) -> Result<(), DbErr> {
    let statements = [
        format!("DROP FUNCTION IF EXISTS {CLAIM_SIGNATURE}"),
        function.to_owned(),
        format!("REVOKE ALL ON FUNCTION {CLAIM_SIGNATURE} FROM PUBLIC"),
        format!("GRANT EXECUTE ON FUNCTION {CLAIM_SIGNATURE} TO {APP_ROLE}"),
    ];
    execute_all(manager, &statements).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        replace_claim(manager, GIVE_UP_CLAIM_FUNCTION).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        replace_claim(manager, LANE_CLAIM_FUNCTION).await
    }
}
