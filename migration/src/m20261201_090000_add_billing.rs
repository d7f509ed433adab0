//! Billing state. Each clinic keeps its Stripe customer and subscription ids, its plan, the
//! subscription's status, current period and cancel-at-period-end, when a payment first failed,
//! and when that state was last applied (so a stale event cannot undo a newer one). A clinic
//! without a subscription is on its trial, which ends a configured number of days after it signed
//! up. `billing_usage` counts the SMS segments a clinic sent per billing period, and how many
//! beyond its allowance were already reported to Stripe as overage.
//!
//! On PostgreSQL a Stripe webhook finds its clinic by customer id before any clinic is set, by
//! naming that id in `app.stripe_customer` (as Twilio's do with `app.routing_key`).

use crate::columns::{add_columns, clinic_fk, clinic_id, drop_columns, drop_table, updated_at};
use crate::rls::{MAINTENANCE, execute_all, is_postgres, tenant_policy};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const CLINIC_COLUMNS: [&str; 9] = [
    "stripe_customer_id",
    "stripe_subscription_id",
    "billing_plan",
    "billing_status",
    "billing_period_start",
    "billing_period_end",
    "billing_cancel_at_period_end",
    "billing_past_due_since",
    "billing_updated_at",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            "clinics",
            vec![
                string_len_null("stripe_customer_id", 64),
                string_len_null("stripe_subscription_id", 64),
                string_len_null("billing_plan", 40),
                string_len_null("billing_status", 24),
                timestamp_with_time_zone_null("billing_period_start"),
                timestamp_with_time_zone_null("billing_period_end"),
                boolean("billing_cancel_at_period_end")
                    .default(false)
                    .take(),
                timestamp_with_time_zone_null("billing_past_due_since"),
                timestamp_with_time_zone_null("billing_updated_at"),
            ],
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_clinics_stripe_customer")
                    .table("clinics")
                    .col("stripe_customer_id")
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("billing_usage")
                    .col(clinic_id())
                    .col(timestamp_with_time_zone("period_start"))
                    .col(big_integer("segments").default(0))
                    .col(big_integer("overage_reported").default(0))
                    .col(updated_at())
                    .primary_key(Index::create().col("clinic_id").col("period_start"))
                    .foreign_key(&mut clinic_fk("billing_usage"))
                    .to_owned(),
            )
            .await?;
        if is_postgres(manager) {
            let mut statements = tenant_policy("billing_usage", "clinic_id");
            statements.extend([
                "ALTER TABLE billing_usage FORCE ROW LEVEL SECURITY".to_owned(),
                format!(
                    "CREATE POLICY owner_maintenance ON billing_usage TO CURRENT_USER \
                     USING ({MAINTENANCE}) WITH CHECK ({MAINTENANCE})"
                ),
                "CREATE POLICY stripe_lookup ON clinics FOR SELECT \
                 USING (stripe_customer_id = current_setting('app.stripe_customer', true))"
                    .to_owned(),
            ]);
            execute_all(manager, &statements).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if is_postgres(manager) {
            execute_all(
                manager,
                &["DROP POLICY IF EXISTS stripe_lookup ON clinics".to_owned()],
            )
            .await?;
        }
        drop_table(manager, "billing_usage").await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_clinics_stripe_customer")
                    .table("clinics")
                    .to_owned(),
            )
            .await?;
        drop_columns(manager, "clinics", &CLINIC_COLUMNS).await
    }
}
