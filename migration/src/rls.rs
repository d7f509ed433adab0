//! PostgreSQL row-level security: the second wall between tenants. The application connects as a
//! member of `ringback_app`, which does not own the tables, so policies apply to it; every
//! transaction names its clinic with `set_config('app.clinic_id', …, true)` (a `SET LOCAL`). Without
//! that setting a tenant table shows no rows and accepts no writes. SQLite has no such feature; there
//! the API's tenant scope is the only wall.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// The role the application's login role must be a member of.
pub const APP_ROLE: &str = "ringback_app";

/// The clinic the current transaction acts for, or NULL when unset.
pub const CURRENT_CLINIC: &str = "NULLIF(current_setting('app.clinic_id', true), '')::uuid";

/// The user signing in, for the one read that precedes knowing the clinic (their memberships).
pub const CURRENT_USER: &str = "NULLIF(current_setting('app.user_id', true), '')::uuid";

/// The condition of the owner's maintenance policy: work across clinics (the job claim, audit
/// verification) that the owner declares in its transaction with
/// `set_config('app.maintenance', 'on', true)`. Row-level security is forced, so without it the
/// owner sees no more than the application does.
pub const MAINTENANCE: &str = "current_setting('app.maintenance', true) = 'on'";

/// A function of the tables' owner, `CREATE OR REPLACE FUNCTION signature RETURNS TABLE (columns)`,
/// that answers `query` across clinics: maintenance is declared for the query alone, the function
/// runs as its owner (security definer) with a fixed search path, and `#variable_conflict
/// use_column` lets the query name columns the way the result does.
pub fn maintenance_query_function(signature: &str, columns: &str, query: &str) -> String {
    format!(
        "\nCREATE OR REPLACE FUNCTION {signature}\nRETURNS TABLE ({columns})\n\
         LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$\n\
         #variable_conflict use_column\nBEGIN\n\
         \x20   PERFORM set_config('app.maintenance', 'on', true);\n\
         \x20   RETURN QUERY {query};\n\
         \x20   PERFORM set_config('app.maintenance', '', true);\nEND\n$$"
    )
}

/// True on PostgreSQL, where the statements in this module apply.
pub fn is_postgres(manager: &SchemaManager) -> bool {
    manager.get_database_backend() == DbBackend::Postgres
}

/// Runs each statement in order.
pub async fn execute_all(manager: &SchemaManager<'_>, statements: &[String]) -> Result<(), DbErr> {
    let connection = manager.get_connection();
    for statement in statements {
        connection.execute_unprepared(statement).await?;
    }
    Ok(())
}

/// Runs each statement in order on PostgreSQL; nothing on SQLite, which has no such objects.
pub async fn on_postgres(manager: &SchemaManager<'_>, statements: &[String]) -> Result<(), DbErr> {
    if is_postgres(manager) {
        execute_all(manager, statements).await?;
    }
    Ok(())
}

/// Statements that restrict `table` to rows whose `column` is the current clinic.
pub fn tenant_policy(table: &str, column: &str) -> Vec<String> {
    vec![
        format!("ALTER TABLE {table} ENABLE ROW LEVEL SECURITY"),
        format!(
            "CREATE POLICY tenant_isolation ON {table} USING ({column} = {CURRENT_CLINIC}) \
             WITH CHECK ({column} = {CURRENT_CLINIC})"
        ),
    ]
}

/// [`tenant_policy`] for a table created after the hardening: row-level security applies to the
/// tables' owner too, except for maintenance the owner declares (retention, re-keying).
pub fn hardened_tenant_policy(table: &str) -> Vec<String> {
    let mut statements = tenant_policy(table, "clinic_id");
    statements.push(format!("ALTER TABLE {table} FORCE ROW LEVEL SECURITY"));
    statements.push(format!(
        "CREATE POLICY owner_maintenance ON {table} TO CURRENT_USER \
         USING ({MAINTENANCE}) WITH CHECK ({MAINTENANCE})"
    ));
    statements
}

/// Statements that undo [`tenant_policy`].
pub fn drop_tenant_policy(table: &str) -> Vec<String> {
    vec![
        format!("DROP POLICY IF EXISTS tenant_isolation ON {table}"),
        format!("ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"),
    ]
}

#[cfg(test)]
mod tests {
    use super::maintenance_query_function;

    #[test]
    fn a_maintenance_function_reads_as_the_ones_written_by_hand() {
        let written = maintenance_query_function(
            "ringback_clinics_awaiting_audit(max_clinics integer)",
            "clinic_id uuid",
            "SELECT DISTINCT p.clinic_id FROM audit_pending p LIMIT max_clinics",
        );
        let by_hand = crate::m20261130_090600_create_audit_pending::AWAITING_FUNCTION;
        assert_eq!(written, by_hand);
    }
}
