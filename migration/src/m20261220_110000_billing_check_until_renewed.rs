//! The billing check asks about a clinic until Stripe shows how its ended period went. Before, a
//! clinic was no longer stale once anything was stored after its period's end: an event that
//! came just after the end (still naming the ended period), or a check's answer while Stripe was
//! still renewing, left the renewal unlearned until some later event. Now a clinic is stale while
//! its stored period ended (less the slack) and no check noted since that Stripe said how it went
//! (the check notes that only when the answer shows a new period, or a subscription that no
//! longer renews).

use crate::m20261215_100000_add_billing_check::{STALE_CLINICS, stale_function};
use crate::rls::on_postgres;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Which clinics are stale, ordered, as both databases read it (`$1`: the period ended before
/// it; `$2`: the most clinics).
pub const STALE_UNTIL_RENEWED: &str = "SELECT c.id AS clinic_id FROM clinics c \
    WHERE c.stripe_subscription_id IS NOT NULL \
    AND c.billing_status NOT IN ('canceled', 'incomplete_expired') \
    AND c.billing_period_end < $1 \
    AND (c.billing_checked_at IS NULL OR c.billing_checked_at < c.billing_period_end) \
    ORDER BY c.billing_period_end DESC, c.id LIMIT $2";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(manager, &[stale_function(STALE_UNTIL_RENEWED)]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        on_postgres(manager, &[stale_function(STALE_CLINICS)]).await
    }
}
