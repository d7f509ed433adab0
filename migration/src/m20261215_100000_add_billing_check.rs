//! `ringback_clinics_billing_stale(ended_before, checked_before, max_clinics)` names the clinics
//! whose running subscription's period ended before `ended_before` while nothing about it was
//! stored since `checked_before` (ids only, the period that ended first first), for the billing
//! check that asks Stripe what no event told: a renewal's new period, a cancellation whose event
//! was lost. A security-definer function, since no clinic's scope sees the other clinics' rows;
//! SQLite runs the same query itself.

use crate::rls::{APP_ROLE, execute_all, is_postgres, maintenance_query_function};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The function's signature.
const STALE: &str = "ringback_clinics_billing_stale(timestamptz, timestamptz, integer)";

/// The function.
fn stale_function() -> String {
    maintenance_query_function(
        "ringback_clinics_billing_stale(ended_before timestamptz, checked_before timestamptz, \
         max_clinics integer)",
        "clinic_id uuid",
        "SELECT c.id FROM clinics c WHERE c.stripe_subscription_id IS NOT NULL \
         AND c.billing_status NOT IN ('canceled', 'incomplete_expired') \
         AND c.billing_period_end < ended_before \
         AND (c.billing_updated_at IS NULL OR c.billing_updated_at < checked_before) \
         ORDER BY c.billing_period_end, c.id LIMIT max_clinics",
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        execute_all(
            manager,
            &[
                stale_function(),
                format!("REVOKE ALL ON FUNCTION {STALE} FROM PUBLIC"),
                format!("GRANT EXECUTE ON FUNCTION {STALE} TO {APP_ROLE}"),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        execute_all(manager, &[format!("DROP FUNCTION IF EXISTS {STALE}")]).await
    }
}
