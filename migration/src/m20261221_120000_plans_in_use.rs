//! `ringback_billing_plans_in_use()`: the plan keys clinics with a running subscription are on
//! (keys only, no clinic), so that a server refuses to start with a plan catalogue that no longer
//! has one of them (its subscribers would fall to the trial's allowance unseen). A
//! security-definer function, since no clinic's scope sees the other clinics' rows; SQLite runs
//! the same query itself.

use crate::rls::{APP_ROLE, execute_all, is_postgres, maintenance_query_function};
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The function's signature.
const FUNCTION: &str = "ringback_billing_plans_in_use()";

/// The plans of running subscriptions, as both databases read it.
pub const PLANS_IN_USE: &str = "SELECT DISTINCT CAST(billing_plan AS TEXT) AS plan FROM clinics \
    WHERE billing_plan IS NOT NULL AND billing_status IS NOT NULL \
    AND billing_status NOT IN ('canceled', 'incomplete_expired')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !is_postgres(manager) {
            return Ok(());
        }
        execute_all(
            manager,
            &[
                maintenance_query_function(FUNCTION, "plan text", PLANS_IN_USE),
                format!("REVOKE ALL ON FUNCTION {FUNCTION} FROM PUBLIC"),
                format!("GRANT EXECUTE ON FUNCTION {FUNCTION} TO {APP_ROLE}"),
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if is_postgres(manager) {
            execute_all(manager, &[format!("DROP FUNCTION IF EXISTS {FUNCTION}")]).await?;
        }
        Ok(())
    }
}
