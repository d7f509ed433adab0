//! `clinics.billing_trial_started_at`: when the clinic's free trial started — when billing first
//! applied to it. A clinic signed up while billing is on starts its trial then; a clinic that
//! existed before billing was turned on starts it at the first start of a server with billing on
//! (`ringback_clinics_without_trial(after_clinic, max_clinics)` names them, ids only), so turning billing on
//! does not end every older clinic's trial at once. Clinics that already dealt with billing (a
//! Stripe customer, a subscription or counted texts) keep the trial they had, from sign-up.
//! A security-definer function, since no clinic's scope sees the other clinics' rows; SQLite runs
//! the same query itself.

use crate::columns::{add_columns, drop_columns};
use crate::rls::{APP_ROLE, execute_all, is_postgres, maintenance_query_function};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The function's signature.
const WITHOUT_TRIAL: &str = "ringback_clinics_without_trial(uuid, integer)";

/// The clinics whose trial has not started, in id order after `$1` (from the first when null), as
/// both databases read it (`$2`: the most clinics).
pub const CLINICS_WITHOUT_TRIAL: &str = "SELECT c.id AS clinic_id FROM clinics c \
    WHERE c.billing_trial_started_at IS NULL AND ($1 IS NULL OR c.id > $1) ORDER BY c.id LIMIT $2";

/// Clinics that dealt with billing before the column existed keep their trial from sign-up.
const KEEP_TRIALS: &str = "UPDATE clinics SET billing_trial_started_at = created_at \
    WHERE stripe_customer_id IS NOT NULL OR billing_status IS NOT NULL \
    OR EXISTS (SELECT 1 FROM billing_usage u WHERE u.clinic_id = clinics.id)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            "clinics",
            vec![timestamp_with_time_zone_null("billing_trial_started_at")],
        )
        .await?;
        if !is_postgres(manager) {
            manager
                .get_connection()
                .execute_unprepared(KEEP_TRIALS)
                .await?;
            return Ok(());
        }
        execute_all(
            manager,
            &[
                // Row-level security is forced: the owner declares maintenance for this statement.
                format!(
                    "DO $$ BEGIN PERFORM set_config('app.maintenance', 'on', true); {KEEP_TRIALS}; \
                     PERFORM set_config('app.maintenance', '', true); END $$"
                ),
                maintenance_query_function(
                    "ringback_clinics_without_trial(after_clinic uuid, max_clinics integer)",
                    "clinic_id uuid",
                    &CLINICS_WITHOUT_TRIAL
                        .replace("$1", "after_clinic")
                        .replace("$2", "max_clinics"),
                ),
                format!("REVOKE ALL ON FUNCTION {WITHOUT_TRIAL} FROM PUBLIC"),
                format!("GRANT EXECUTE ON FUNCTION {WITHOUT_TRIAL} TO {APP_ROLE}"),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if is_postgres(manager) {
            execute_all(
                manager,
                &[format!("DROP FUNCTION IF EXISTS {WITHOUT_TRIAL}")],
            )
            .await?;
        }
        drop_columns(manager, "clinics", &["billing_trial_started_at"]).await
    }
}
