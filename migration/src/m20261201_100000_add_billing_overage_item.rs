//! Whether a clinic's subscription carries its plan's metered overage price (a plan may bill
//! overage, but only a subscription that holds the metered item is charged for it: a plan changed
//! in the Customer Portal may leave it out, so overage is sent and reported only when the
//! subscription has the item), and when Stripe created the subscription (of two running
//! subscriptions of one clinic, the earlier is the clinic's, whatever order their events come in).

use crate::columns::{add_columns, drop_columns};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            "clinics",
            vec![
                boolean("billing_overage_item").default(false).take(),
                timestamp_with_time_zone_null("billing_subscription_created"),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_columns(
            manager,
            "clinics",
            &["billing_overage_item", "billing_subscription_created"],
        )
        .await
    }
}
