//! Creates `worklist_dismissals`: staff taking a caller off the worklist with a reason (spam, a
//! wrong number, no action needed, handled elsewhere). A dismissal covers the caller's missed calls
//! up to its time; a later miss puts them back. Undoing one stamps `undone_at` rather than deleting
//! it, so dismissals stay countable and the audit log's references stay good. Callers appear by
//! caller key and masked tail only.

use crate::columns::{clinic_fk, clinic_id, drop_table, tenant_index};
use crate::rls::{execute_all, is_postgres, tenant_policy};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "worklist_dismissals";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TABLE)
                    .col(clinic_id())
                    .col(uuid("id"))
                    .col(string_len("caller_key", 80))
                    .col(string_len("caller_tail", 32))
                    .col(string_len("reason", 32))
                    .col(uuid_null("dismissed_by"))
                    .col(timestamp_with_time_zone("dismissed_at"))
                    .col(uuid_null("undone_by"))
                    .col(timestamp_with_time_zone_null("undone_at"))
                    .primary_key(Index::create().col("clinic_id").col("id"))
                    .foreign_key(&mut clinic_fk(TABLE))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(tenant_index(TABLE, "caller_key", &["caller_key"]))
            .await?;
        manager
            .create_index(tenant_index(TABLE, "dismissed_at", &["dismissed_at"]))
            .await?;
        if is_postgres(manager) {
            let mut statements = tenant_policy(TABLE, "clinic_id");
            statements.push(format!("ALTER TABLE {TABLE} FORCE ROW LEVEL SECURITY"));
            statements.push(format!(
                "CREATE POLICY owner_maintenance ON {TABLE} TO CURRENT_USER \
                 USING ({m}) WITH CHECK ({m})",
                m = crate::rls::MAINTENANCE
            ));
            execute_all(manager, &statements).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_table(manager, TABLE).await
    }
}
