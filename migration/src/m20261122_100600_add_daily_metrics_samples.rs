//! Lets `daily_metrics` be maintained incrementally: a `stale` flag that writes set on the local
//! days they touch (recomputed before the next read), and the day's time-to-callback samples, so
//! medians over any range come from the daily rows without rescanning calls.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for mut column in [
            boolean("stale").default(false).take(),
            json_null("callback_delays_seconds"),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table("daily_metrics")
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["stale", "callback_delays_seconds"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("daily_metrics")
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
