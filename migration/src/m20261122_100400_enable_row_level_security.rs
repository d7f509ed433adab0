//! Enables row-level security (PostgreSQL only) on every tenant table that exists at this point,
//! and on `clinics` itself (a clinic sees only its own row). Tables added later enable it in their
//! own migration with [`crate::rls::tenant_policy`].

use crate::rls::{CURRENT_USER, drop_tenant_policy, execute_all, is_postgres, tenant_policy};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tenant tables at this point in the history, with the column naming their clinic.
const TABLES: &[(&str, &str)] = &[
    ("clinics", "id"),
    ("memberships", "clinic_id"),
    ("calls", "clinic_id"),
    ("appointments", "clinic_id"),
    ("attributions", "clinic_id"),
    ("daily_metrics", "clinic_id"),
    ("job_outbox", "clinic_id"),
    ("audit_log", "clinic_id"),
    ("processed_webhooks", "clinic_id"),
    ("refresh_tokens", "clinic_id"),
    ("api_keys", "clinic_id"),
    ("invites", "clinic_id"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        let mut statements: Vec<String> = TABLES
            .iter()
            .flat_map(|(table, column)| tenant_policy(table, column))
            .collect();
        // Signing in reads the user's memberships before a clinic is chosen.
        statements.push(format!(
            "CREATE POLICY own_memberships ON memberships FOR SELECT USING (user_id = {CURRENT_USER})"
        ));
        execute_all(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        let mut statements =
            vec!["DROP POLICY IF EXISTS own_memberships ON memberships".to_owned()];
        statements.extend(
            TABLES
                .iter()
                .flat_map(|(table, _)| drop_tenant_policy(table)),
        );
        execute_all(manager, &statements).await
    }
}
