//! Creates the `ringback_app` role (PostgreSQL only) and grants it data access, but not ownership,
//! on every table: row-level security applies to it. The migration history is read-only to it and
//! the audit log is append-only. Deployments make their login role a member:
//! `GRANT ringback_app TO <login role>`. A role created beforehand by a database administrator is
//! used as it is, so the owner role needs no right to create roles then.

use crate::rls::{APP_ROLE, execute_all, is_postgres};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        let statements = [
            format!(
                "DO $$ BEGIN \
                 IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN \
                 CREATE ROLE {APP_ROLE} NOLOGIN; END IF; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            ),
            format!("GRANT USAGE ON SCHEMA public TO {APP_ROLE}"),
            format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}"
            ),
            format!(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"
            ),
            format!("REVOKE INSERT, UPDATE, DELETE ON seaql_migrations FROM {APP_ROLE}"),
            format!("REVOKE UPDATE, DELETE ON audit_log FROM {APP_ROLE}"),
        ];
        execute_all(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        let statements = [
            format!(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {APP_ROLE}"
            ),
            format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}"),
            format!("REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}"),
        ];
        execute_all(manager, &statements).await
    }
}
