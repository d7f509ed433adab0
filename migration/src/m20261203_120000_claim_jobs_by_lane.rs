//! `ringback_claim_jobs` claims by lane: a worker names the job kinds of its lane and whether it
//! takes those kinds or every other one. The server runs a quick lane (texts, billing reports,
//! follow-ups) and a lane for the AI receptionist's answers, which wait seconds for a model, so
//! a slow or stalled model never holds back a text-back. Stale claims still become dead letters
//! whatever their lane. SQLite claims with the same filter in its own statement.

use crate::m20261130_090000_harden_row_level_security::{CLAIM_FUNCTION, NEW_CLAIM as OLD_CLAIM};
use crate::rls::{APP_ROLE, execute_all, is_postgres};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

pub(crate) const LANE_CLAIM: &str =
    "ringback_claim_jobs(text, timestamptz, timestamptz, integer, integer, text[], boolean)";

/// As before, with `lane_kinds` and `in_lane`: only jobs whose kind is among `lane_kinds` when
/// `in_lane`, only the others when not (an empty list and `false` claim every kind).
pub(crate) const LANE_CLAIM_FUNCTION: &str = r#"
CREATE OR REPLACE FUNCTION ringback_claim_jobs(
    worker_name text, claim_time timestamptz, stale_before timestamptz, max_jobs integer,
    max_attempts integer, lane_kinds text[], in_lane boolean)
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
        WHERE ((p.status = 'pending' AND p.run_at <= claim_time)
            OR (p.status = 'claimed' AND p.claimed_at < stale_before))
          AND (p.kind = ANY(lane_kinds)) = in_lane
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        let statements = [
            format!("DROP FUNCTION IF EXISTS {OLD_CLAIM}"),
            LANE_CLAIM_FUNCTION.to_owned(),
            format!("REVOKE ALL ON FUNCTION {LANE_CLAIM} FROM PUBLIC"),
            format!("GRANT EXECUTE ON FUNCTION {LANE_CLAIM} TO {APP_ROLE}"),
        ];
        execute_all(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        let statements = [
            format!("DROP FUNCTION IF EXISTS {LANE_CLAIM}"),
            CLAIM_FUNCTION.to_owned(),
            format!("REVOKE ALL ON FUNCTION {OLD_CLAIM} FROM PUBLIC"),
            format!("GRANT EXECUTE ON FUNCTION {OLD_CLAIM} TO {APP_ROLE}"),
        ];
        execute_all(manager, &statements).await
    }
}
