//! The AI receptionist's settings and price list. Each clinic says whether the AI answers its
//! conversations (off until it says so), in which tone, with what description of the business,
//! which intake questions, after how long a quiet caller gets the one follow-up, and how many
//! model tokens a month it may spend. `clinic_services` is the price list the AI quotes from (it
//! never invents a price): a name, a price or range, a duration and what a booking is worth.
//! Each conversation records whether the AI still answers it (`ai_state`: `active`, `handed_off`
//! or `taken_over`, with the plain-words reason it stopped) and, sealed, the intake details the
//! caller gave.

use crate::columns::{
    add_columns, clinic_fk, clinic_id, created_at, drop_columns, drop_table, tenant_unique_index,
    updated_at,
};
use crate::rls::{execute_all, hardened_tenant_policy, is_postgres};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SERVICES: &str = "clinic_services";
const CLINIC_COLUMNS: [&str; 6] = [
    "ai_enabled",
    "ai_tone",
    "ai_business_description",
    "ai_intake_questions",
    "ai_follow_up_minutes",
    "ai_monthly_token_budget",
];
const CONVERSATION_COLUMNS: [&str; 3] = ["ai_state", "ai_stopped_reason", "details_sealed"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(
            manager,
            "clinics",
            vec![
                boolean("ai_enabled").default(false).take(),
                string_len("ai_tone", 20).default("friendly").take(),
                text_null("ai_business_description"),
                json_null("ai_intake_questions"),
                integer_null("ai_follow_up_minutes"),
                big_integer("ai_monthly_token_budget")
                    .default(2_000_000)
                    .take(),
            ],
        )
        .await?;
        add_columns(
            manager,
            "conversations",
            vec![
                string_len_null("ai_state", 20),
                string_len_null("ai_stopped_reason", 200),
                blob_null("details_sealed"),
            ],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(SERVICES)
                    .col(clinic_id())
                    .col(uuid("id"))
                    .col(string_len("name", 80))
                    .col(big_integer("price_from_minor"))
                    .col(big_integer_null("price_to_minor"))
                    .col(integer("duration_minutes"))
                    .col(big_integer("estimated_value_minor"))
                    .col(created_at())
                    .col(updated_at())
                    .primary_key(Index::create().col("clinic_id").col("id"))
                    .foreign_key(&mut clinic_fk(SERVICES))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(tenant_unique_index(SERVICES, "name", &["name"]))
            .await?;
        if is_postgres(manager) {
            execute_all(manager, &hardened_tenant_policy(SERVICES)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, SERVICES).await?;
        drop_columns(manager, "conversations", &CONVERSATION_COLUMNS).await?;
        drop_columns(manager, "clinics", &CLINIC_COLUMNS).await
    }
}
