//! `opt_outs.under_previous_pepper` and `caller_restrictions.under_previous_pepper`: whether the
//! row is still keyed under the pepper of before the last rotation. Both lists outlive every
//! purge (they are what honours a STOP or an objection), and a caller key cannot be recomputed, so
//! a row moves to the current pepper only when its caller is met again; until every flagged row
//! has moved, the previous pepper is needed to find them (a server without it refuses to start),
//! and another rotation would strand them (it is refused). A database rotated before this column
//! existed cannot tell which rows moved: its rows start unflagged (flagging them all would keep
//! rows already under the current pepper flagged for good, and stop a server whose operator had
//! removed the previous pepper as the README then said).
//! `ringback_clinics_with_lists_under_previous_pepper()` names the clinics holding flagged rows
//! (ids only), for the start-up check; SQLite runs the same query itself.

use crate::columns::{add_columns, drop_columns};
use crate::rls::{APP_ROLE, execute_all, is_postgres, maintenance_query_function};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The lists keyed by caller key that outlive purges.
pub const LISTS: [&str; 2] = ["opt_outs", "caller_restrictions"];
/// The flag's column.
pub const FLAG: &str = "under_previous_pepper";

/// The function's signature.
const FUNCTION: &str = "ringback_clinics_with_lists_under_previous_pepper()";

/// The clinics with a list row keyed under the previous pepper, as both databases read it.
pub const CLINICS_WITH_LISTS_UNDER_PREVIOUS_PEPPER: &str = "SELECT clinic_id FROM opt_outs \
    WHERE under_previous_pepper UNION SELECT clinic_id FROM caller_restrictions \
    WHERE under_previous_pepper";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in LISTS {
            add_columns(manager, table, vec![boolean(FLAG).default(false).take()]).await?;
        }
        if !is_postgres(manager) {
            return Ok(());
        }
        execute_all(
            manager,
            &[
                maintenance_query_function(
                    FUNCTION,
                    "clinic_id uuid",
                    CLINICS_WITH_LISTS_UNDER_PREVIOUS_PEPPER,
                ),
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
        for table in LISTS {
            drop_columns(manager, table, &[FLAG]).await?;
        }
        Ok(())
    }
}
