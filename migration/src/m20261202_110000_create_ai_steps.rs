//! Creates `ai_steps`: what the AI receptionist did for each caller text it answered, one row per
//! step — a tool it ran (`find_slots`, `book_appointment`, …) with its outcome in plain words, or
//! the reply it wrote, or the fallback it fell back to — with the model tokens the step used (the
//! monthly budget is their sum) and the appointment a booking made. No caller text, no number.

use crate::columns::{clinic_fk, clinic_id, created_at, drop_table, tenant_index};
use crate::rls::{execute_all, hardened_tenant_policy, is_postgres};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "ai_steps";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TABLE)
                    .col(clinic_id())
                    .col(uuid("id"))
                    .col(uuid("conversation_id"))
                    .col(uuid("answered_message_id"))
                    .col(string_len("action", 40))
                    .col(string_len("outcome", 200))
                    .col(big_integer("tokens").default(0))
                    .col(uuid_null("appointment_id"))
                    .col(created_at())
                    .primary_key(Index::create().col("clinic_id").col("id"))
                    .foreign_key(&mut clinic_fk(TABLE))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(tenant_index(TABLE, "created", &["created_at"]))
            .await?;
        manager
            .create_index(tenant_index(TABLE, "answered", &["answered_message_id"]))
            .await?;
        if is_postgres(manager) {
            execute_all(manager, &hardened_tenant_policy(TABLE)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, TABLE).await
    }
}
