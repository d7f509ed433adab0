//! Creates `audit_pending`: reads of personal data noted without taking the clinic's audit lock.
//!
//! Appending to the hash chain needs one writer per clinic, so a read that appended its own entry
//! made every read of a clinic wait for the one before it. A read now inserts a row here (no lock,
//! no chain); the next append to the clinic's chain, the audit-log view, `ringback audit verify`
//! and the server's periodic sweep seal waiting rows into the chain in the order they happened and
//! delete them in the same transaction. The application may insert, read and delete rows here,
//! never change one.
//!
//! On PostgreSQL, `ringback_clinics_awaiting_audit` names the clinics with waiting rows (ids only)
//! for the sweep, which then seals each clinic through its own tenant scope.

use crate::columns::{clinic_fk, clinic_id, drop_table};
use crate::rls::{APP_ROLE, MAINTENANCE, execute_all, is_postgres, tenant_policy};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const AWAITING: &str = "ringback_clinics_awaiting_audit(integer)";

/// The clinics with reads waiting to be sealed into their chain, at most `max_clinics`.
pub(crate) const AWAITING_FUNCTION: &str = r#"
CREATE OR REPLACE FUNCTION ringback_clinics_awaiting_audit(max_clinics integer)
RETURNS TABLE (clinic_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
#variable_conflict use_column
BEGIN
    PERFORM set_config('app.maintenance', 'on', true);
    RETURN QUERY SELECT DISTINCT p.clinic_id FROM audit_pending p LIMIT max_clinics;
    PERFORM set_config('app.maintenance', '', true);
END
$$"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("audit_pending")
                    .col(clinic_id())
                    .col(uuid("id"))
                    .col(timestamp_with_time_zone("at"))
                    .col(uuid_null("actor_user_id"))
                    .col(string_len("action", 64))
                    .col(json("detail"))
                    .primary_key(Index::create().col("clinic_id").col("id"))
                    .foreign_key(&mut clinic_fk("audit_pending"))
                    .to_owned(),
            )
            .await?;
        if !is_postgres(manager) {
            return Ok(());
        }
        let mut statements = tenant_policy("audit_pending", "clinic_id");
        statements.extend([
            "ALTER TABLE audit_pending FORCE ROW LEVEL SECURITY".to_owned(),
            format!(
                "CREATE POLICY owner_maintenance ON audit_pending TO CURRENT_USER \
                 USING ({MAINTENANCE}) WITH CHECK ({MAINTENANCE})"
            ),
            format!("REVOKE UPDATE ON audit_pending FROM {APP_ROLE}"),
            AWAITING_FUNCTION.to_owned(),
            format!("REVOKE ALL ON FUNCTION {AWAITING} FROM PUBLIC"),
            format!("GRANT EXECUTE ON FUNCTION {AWAITING} TO {APP_ROLE}"),
        ]);
        execute_all(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if is_postgres(manager) {
            execute_all(manager, &[format!("DROP FUNCTION IF EXISTS {AWAITING}")]).await?;
        }
        drop_table(manager, "audit_pending").await
    }
}
