//! Creates `job_outbox`: durable work written in the same transaction as the event that owes it.
//! A number a job needs is sealed to the clinic (`sealed_number`) and destroyed when the job is done.

use crate::columns::{
    clinic_fk, clinic_id, created_at, drop_table, tenant_index, tenant_unique_index, updated_at,
};
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
                    .table("job_outbox")
                    .col(clinic_id())
                    .col(uuid("id"))
                    .col(string_len("kind", 32))
                    .col(string("idempotency_key"))
                    .col(json("payload"))
                    .col(blob_null("sealed_number"))
                    .col(string_len("status", 16))
                    .col(integer("attempts").default(0))
                    .col(timestamp_with_time_zone("run_at"))
                    .col(timestamp_with_time_zone_null("claimed_at"))
                    .col(string_null("claimed_by"))
                    .col(text_null("last_error"))
                    .col(created_at())
                    .col(updated_at())
                    .primary_key(Index::create().col("clinic_id").col("id"))
                    .foreign_key(&mut clinic_fk("job_outbox"))
                    .to_owned(),
            )
            .await?;
        for index in [
            tenant_unique_index("job_outbox", "idempotency", &["idempotency_key"]),
            tenant_index("job_outbox", "due", &["status", "run_at"]),
        ] {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, "job_outbox").await
    }
}
