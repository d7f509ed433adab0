//! The billing check: `clinics.billing_checked_at` (when Stripe last answered the check about the
//! clinic's subscription) and `ringback_clinics_billing_stale(ended_before, max_clinics)`, which
//! names the clinics whose running subscription's period ended before `ended_before` with
//! neither an event's state nor a check's answer stored since (ids only, the period that ended
//! last first), for the check that asks Stripe what no event told: a renewal's new period, a
//! cancellation whose event was lost. A security-definer function, since no clinic's scope sees
//! the other clinics' rows; SQLite runs the same query itself.

use crate::columns::{add_columns, drop_columns};
use crate::rls::{APP_ROLE, execute_all, is_postgres, maintenance_query_function};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The function's signature.
const STALE: &str = "ringback_clinics_billing_stale(timestamptz, integer)";

/// Which clinics are stale, ordered, as both databases read it (`$1`: the period ended before
/// it; `$2`: the most clinics).
pub const STALE_CLINICS: &str = "SELECT c.id AS clinic_id FROM clinics c \
    WHERE c.stripe_subscription_id IS NOT NULL \
    AND c.billing_status NOT IN ('canceled', 'incomplete_expired') \
    AND c.billing_period_end < $1 \
    AND (c.billing_updated_at IS NULL OR c.billing_updated_at < c.billing_period_end) \
    AND (c.billing_checked_at IS NULL OR c.billing_checked_at < c.billing_period_end) \
    ORDER BY c.billing_period_end DESC, c.id LIMIT $2";

/// The function running `query` (a later migration changes which clinics are stale).
pub(crate) fn stale_function(query: &str) -> String {
    maintenance_query_function(
        "ringback_clinics_billing_stale(ended_before timestamptz, max_clinics integer)",
        "clinic_id uuid",
        &query
            .replace("$1", "ended_before")
            .replace("$2", "max_clinics"),
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            "clinics",
            vec![timestamp_with_time_zone_null("billing_checked_at")],
        )
        .await?;
        if !is_postgres(manager) {
            return Ok(());
        }
        execute_all(
            manager,
            &[
                stale_function(STALE_CLINICS),
                format!("REVOKE ALL ON FUNCTION {STALE} FROM PUBLIC"),
                format!("GRANT EXECUTE ON FUNCTION {STALE} TO {APP_ROLE}"),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if is_postgres(manager) {
            execute_all(manager, &[format!("DROP FUNCTION IF EXISTS {STALE}")]).await?;
        }
        drop_columns(manager, "clinics", &["billing_checked_at"]).await
    }
}
