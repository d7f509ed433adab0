//! Retention and the scheduler. Each clinic keeps how long it holds call-related data (at most 90
//! days, the default; conversations have had their own retention since the clinics table began),
//! and when its data was last purged. `scheduled_tasks` is the deployment's record of its periodic work: one row per
//! task with the lease that lets exactly one of several servers run a due task, and the last run's
//! start, end and outcome (no personal data).
//!
//! On PostgreSQL, `ringback_clinic_page` lists clinic ids (a page at a time, in id order) for
//! deployment-wide scheduled work, which then enters each clinic through its audited operator door.

use crate::columns::{add_columns, drop_columns};
use crate::rls::{APP_ROLE, execute_all, is_postgres};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CLINIC_COLUMNS: [&str; 2] = ["call_retention_days", "last_purge_at"];

const PAGE: &str = "ringback_clinic_page(uuid, integer)";

/// Up to `page_size` clinic ids after `after` (all from the start when it is NULL), in id order.
const PAGE_FUNCTION: &str = r#"
CREATE OR REPLACE FUNCTION ringback_clinic_page(after uuid, page_size integer)
RETURNS TABLE (clinic_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
#variable_conflict use_column
BEGIN
    PERFORM set_config('app.maintenance', 'on', true);
    RETURN QUERY SELECT c.id FROM clinics c
        WHERE after IS NULL OR c.id > after ORDER BY c.id LIMIT page_size;
    PERFORM set_config('app.maintenance', '', true);
END
$$"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            "clinics",
            vec![
                integer("call_retention_days").default(90).take(),
                timestamp_with_time_zone_null("last_purge_at"),
            ],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table("scheduled_tasks")
                    .col(string_len("name", 64).primary_key())
                    .col(timestamp_with_time_zone_null("lease_until"))
                    .col(string_len_null("leased_by", 128))
                    .col(timestamp_with_time_zone_null("last_started_at"))
                    .col(timestamp_with_time_zone_null("last_finished_at"))
                    .col(string_len_null("last_outcome", 400))
                    .to_owned(),
            )
            .await?;
        if is_postgres(manager) {
            execute_all(
                manager,
                &[
                    PAGE_FUNCTION.to_owned(),
                    format!("REVOKE ALL ON FUNCTION {PAGE} FROM PUBLIC"),
                    format!("GRANT EXECUTE ON FUNCTION {PAGE} TO {APP_ROLE}"),
                ],
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if is_postgres(manager) {
            execute_all(manager, &[format!("DROP FUNCTION IF EXISTS {PAGE}")]).await?;
        }
        manager
            .drop_table(Table::drop().table("scheduled_tasks").to_owned())
            .await?;
        drop_columns(manager, "clinics", &CLINIC_COLUMNS).await
    }
}
