//! Indexes for the reads whose cost grew with the whole deployment's data:
//! - `idx_job_outbox_waiting`: the outbox claim looks across every clinic for jobs due or whose
//!   claim went stale, oldest first. Every other outbox index leads with `clinic_id`, so each
//!   poll read every job kept (finished ones stay for the call retention); this one holds only
//!   the pending and claimed jobs, in `run_at` order (partial, on both engines).
//! - `idx_memberships_person`: a person's clinics at sign-in and on switching clinic (the
//!   primary key leads with the clinic).
//! - `idx_processed_webhooks_received` and `idx_job_outbox_finished`: the retention purge's
//!   sweeps of provider-event records by receipt and of finished jobs and dead letters by their
//!   last change, oldest first, per clinic.
//!
//! The first two are the deployment-wide indexes `DEPLOYMENT_INDEXES` names: maintenance reads
//! that cross clinics by design, under the owner's role or a security-definer function.

use crate::columns::tenant_index;
use crate::rls::execute_all;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const DEPLOYMENT_WIDE: [&str; 2] = [
    "CREATE INDEX idx_job_outbox_waiting ON job_outbox (run_at) \
     WHERE status IN ('pending', 'claimed')",
    "CREATE INDEX idx_memberships_person ON memberships (user_id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_all(manager, &DEPLOYMENT_WIDE.map(str::to_owned)).await?;
        manager
            .create_index(tenant_index(
                "processed_webhooks",
                "received",
                &["received_at"],
            ))
            .await?;
        manager
            .create_index(tenant_index(
                "job_outbox",
                "finished",
                &["status", "updated_at"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, index) in [
            ("job_outbox", "idx_job_outbox_finished"),
            ("processed_webhooks", "idx_processed_webhooks_received"),
            ("memberships", "idx_memberships_person"),
            ("job_outbox", "idx_job_outbox_waiting"),
        ] {
            manager
                .drop_index(Index::drop().name(index).table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
