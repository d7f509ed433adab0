//! Creates `attributions`: the stored result of the attribution engine for each appointment, with
//! its reason (which missed call, which recovery touch), so staff can see why it counts.

use crate::columns::{clinic_fk, clinic_id, drop_table, tenant_index};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("attributions")
                    .col(clinic_id())
                    .col(uuid("appointment_id"))
                    .col(string_len("outcome", 16))
                    .col(string_len("reason", 32))
                    .col(uuid_null("missed_call_id"))
                    .col(timestamp_with_time_zone_null("missed_call_at"))
                    .col(string_len_null("touch_kind", 16))
                    .col(uuid_null("touch_id"))
                    .col(timestamp_with_time_zone_null("touch_at"))
                    .col(big_integer("value_minor"))
                    .col(integer("window_days"))
                    .col(timestamp_with_time_zone("computed_at"))
                    .primary_key(Index::create().col("clinic_id").col("appointment_id"))
                    .foreign_key(&mut clinic_fk("attributions"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_attributions_appointment")
                            .from_tbl("attributions")
                            .from_col("clinic_id")
                            .from_col("appointment_id")
                            .to_tbl("appointments")
                            .to_col("clinic_id")
                            .to_col("id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(tenant_index(
                "attributions",
                "missed_call",
                &["missed_call_id"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "attributions").await
    }
}
