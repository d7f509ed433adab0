//! Adds the clinic's phone settings: business hours (JSON, per weekday), the forwarding line
//! (sealed with the clinic's data key, plus its masked tail) and the ring timeout; and creates
//! `provider_numbers`, the clinic's own provider numbers, each sealed and found by a deployment-wide
//! routing key so a webhook can learn the clinic from its `To` number. On PostgreSQL that one lookup
//! is allowed before a clinic is set, by naming the routing key in `app.routing_key`.

use crate::columns::{add_columns, clinic_fk, clinic_id, created_at, drop_columns, drop_table};
use crate::rls::{drop_tenant_policy, execute_all, is_postgres, tenant_policy};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The new columns of `clinics` (SQLite adds one column per statement).
fn clinic_columns() -> Vec<ColumnDef> {
    vec![
        json_null("business_hours"),
        blob_null("forwarding_line_sealed"),
        string_len_null("forwarding_line_tail", 32),
        integer("ring_timeout_seconds").default(18).take(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_columns(manager, "clinics", clinic_columns()).await?;
        manager
            .create_table(
                Table::create()
                    .table("provider_numbers")
                    .col(clinic_id())
                    .col(uuid("id"))
                    .col(string_len("routing_key", 64))
                    .col(blob("number_sealed"))
                    .col(string_len("tail", 32))
                    .col(created_at())
                    .primary_key(Index::create().col("clinic_id").col("id"))
                    .foreign_key(&mut clinic_fk("provider_numbers"))
                    .to_owned(),
            )
            .await?;
        // A number routes to one clinic only, so this index is deployment-wide by design.
        manager
            .create_index(
                Index::create()
                    .name("idx_provider_numbers_routing")
                    .table("provider_numbers")
                    .col("routing_key")
                    .unique()
                    .to_owned(),
            )
            .await?;
        if is_postgres(manager) {
            let mut statements = tenant_policy("provider_numbers", "clinic_id");
            statements.push(
                "CREATE POLICY routing_lookup ON provider_numbers FOR SELECT \
                 USING (routing_key = current_setting('app.routing_key', true))"
                    .to_owned(),
            );
            execute_all(manager, &statements).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if is_postgres(manager) {
            let mut statements =
                vec!["DROP POLICY IF EXISTS routing_lookup ON provider_numbers".to_owned()];
            statements.extend(drop_tenant_policy("provider_numbers"));
            execute_all(manager, &statements).await?;
        }
        drop_table(manager, "provider_numbers").await?;
        let columns = [
            "business_hours",
            "forwarding_line_sealed",
            "forwarding_line_tail",
            "ring_timeout_seconds",
        ];
        drop_columns(manager, "clinics", &columns).await?;
        Ok(())
    }
}
