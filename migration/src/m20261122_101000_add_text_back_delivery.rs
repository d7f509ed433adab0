//! What delivering text-backs needs. Clinics: the two templates (business hours and after hours),
//! a booking link, the HELP answer, holidays (closed days) and a monthly SMS allowance. Outbox jobs:
//! the rendered text (sealed), when their outcome became unknown, and the provider's message id.
//! Conversations: the caller's number, sealed, kept only in `text_back` privacy mode. Messages: the
//! call a text-back answers.
//!
//! On PostgreSQL, workers claim due jobs of every clinic through `ringback_claim_jobs`, a
//! `SECURITY DEFINER` function that returns only the claimed jobs' keys: everything else a worker
//! reads or writes goes through the tenant scope and row-level security like any request.

use crate::columns::{add_columns, drop_columns};
use crate::rls::{APP_ROLE, execute_all, is_postgres};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CLINIC_COLUMNS: &[&str] = &[
    "text_back_template_open",
    "text_back_template_closed",
    "booking_link",
    "help_text",
    "holidays",
    "sms_monthly_quota",
];
const JOB_COLUMNS: &[&str] = &["body_sealed", "in_doubt_since", "provider_message_id"];

/// Claims up to `max_jobs` jobs that are due, or whose claim went stale (a worker died mid-job);
/// a stale claim's outcome is unknown, so the job is marked in doubt since that claim.
const CLAIM_FUNCTION: &str = r#"
CREATE OR REPLACE FUNCTION ringback_claim_jobs(
    worker_name text, claim_time timestamptz, stale_before timestamptz, max_jobs integer)
RETURNS TABLE (clinic_id uuid, id uuid)
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    WITH picked AS (
        SELECT j.clinic_id, j.id FROM job_outbox j
        WHERE (j.status = 'pending' AND j.run_at <= claim_time)
           OR (j.status = 'claimed' AND j.claimed_at < stale_before)
        ORDER BY j.run_at
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
    RETURNING j.clinic_id, j.id
$$"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let clinic_columns = vec![
            text_null("text_back_template_open"),
            text_null("text_back_template_closed"),
            string_len_null("booking_link", 300),
            text_null("help_text"),
            json_null("holidays"),
            integer_null("sms_monthly_quota"),
        ];
        add_columns(manager, "clinics", clinic_columns).await?;
        let job_columns = vec![
            blob_null("body_sealed"),
            timestamp_with_time_zone_null("in_doubt_since"),
            string_len_null("provider_message_id", 64),
        ];
        add_columns(manager, "job_outbox", job_columns).await?;
        add_columns(manager, "conversations", vec![blob_null("number_sealed")]).await?;
        add_columns(manager, "messages", vec![uuid_null("call_id")]).await?;
        if is_postgres(manager) {
            execute_all(
                manager,
                &[
                    CLAIM_FUNCTION.to_owned(),
                    "REVOKE ALL ON FUNCTION ringback_claim_jobs(text, timestamptz, timestamptz, integer) FROM PUBLIC".to_owned(),
                    format!("GRANT EXECUTE ON FUNCTION ringback_claim_jobs(text, timestamptz, timestamptz, integer) TO {APP_ROLE}"),
                ],
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if is_postgres(manager) {
            execute_all(
                manager,
                &["DROP FUNCTION IF EXISTS ringback_claim_jobs(text, timestamptz, timestamptz, integer)".to_owned()],
            )
            .await?;
        }
        drop_columns(manager, "messages", &["call_id"]).await?;
        drop_columns(manager, "conversations", &["number_sealed"]).await?;
        drop_columns(manager, "job_outbox", JOB_COLUMNS).await?;
        drop_columns(manager, "clinics", CLINIC_COLUMNS).await
    }
}
