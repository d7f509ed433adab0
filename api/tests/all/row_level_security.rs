//! PostgreSQL row-level security, the second wall between tenants: the application's role, which
//! does not own the tables, sees no rows of a tenant table unless the transaction names its clinic,
//! sees only that clinic's rows when it does, and cannot write rows for another clinic. It is
//! forced, so the owner is held too unless it declares maintenance.

use crate::common::TestDb;
use ringback_api::config::DatabaseKind;
use ringback_api::tenant::begin_maintenance;
use ringback_migration::{ROUTING_TABLES, TENANT_TABLES};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};

const CLINIC_A: &str = "0192f000-0000-7000-8000-00000000000a";
const CLINIC_B: &str = "0192f000-0000-7000-8000-00000000000b";

async fn seed_two_clinics(owner_db: &DatabaseConnection) {
    let owner = begin_maintenance(owner_db).await.expect("maintenance");
    for (clinic, call) in [
        (CLINIC_A, "0192f000-0000-7000-8000-0000000000a1"),
        (CLINIC_B, "0192f000-0000-7000-8000-0000000000b1"),
    ] {
        owner
            .execute_unprepared(&format!(
                "INSERT INTO clinics (id, name, kind, time_zone, default_region, currency, created_at, updated_at) \
                 VALUES ('{clinic}', 'Clinic', 'dental', 'Europe/London', 'GB', 'GBP', now(), now())"
            ))
            .await
            .expect("insert clinic");
        owner
            .execute_unprepared(&format!(
                "INSERT INTO calls (clinic_id, id, provider, external_id, direction, status, missed, caller_key, \
                 caller_tail, started_at, created_at, updated_at) VALUES ('{clinic}', '{call}', 'test', '{call}', \
                 'inbound', 'no-answer', true, 'v1:00', '•••• 123', now(), now(), now())"
            ))
            .await
            .expect("insert call");
    }
    owner.commit().await.expect("commit");
}

async fn count(connection: &impl ConnectionTrait, table: &str) -> i64 {
    let row = connection
        .query_one_raw(Statement::from_string(
            connection.get_database_backend(),
            format!("SELECT count(*) AS n FROM {table}"),
        ))
        .await
        .expect("count runs")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("count")
}

#[tokio::test]
async fn app_role_sees_nothing_without_a_clinic_and_only_its_clinic_with_one() {
    let test_db = TestDb::new(DatabaseKind::Postgres).await;
    seed_two_clinics(&test_db.db).await;
    let app = test_db.app_role_connection().await;

    // Row-level security is forced: the owner sees nothing either, unless it declares
    // maintenance, which the application role cannot use.
    assert_eq!(count(&test_db.db, "calls").await, 0, "forced on the owner");
    let maintenance = begin_maintenance(&test_db.db).await.expect("maintenance");
    assert_eq!(
        count(&maintenance, "calls").await,
        2,
        "the owner's maintenance"
    );
    drop(maintenance);
    let declared = begin_maintenance(&app).await.expect("begin");
    assert_eq!(
        count(&declared, "calls").await,
        0,
        "maintenance is the owner's alone"
    );
    drop(declared);
    assert_eq!(count(&app, "calls").await, 0, "no clinic set: no rows");
    assert_eq!(
        count(&app, "clinics").await,
        0,
        "no clinic set: no clinic rows"
    );

    let txn = app.begin().await.expect("begin");
    txn.execute_raw(Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT set_config('app.clinic_id', $1, true)",
        [CLINIC_A.into()],
    ))
    .await
    .expect("set clinic");
    assert_eq!(count(&txn, "calls").await, 1, "clinic A sees its own call");
    assert_eq!(count(&txn, "clinics").await, 1, "clinic A sees its own row");
    let foreign_write = txn
        .execute_unprepared(&format!(
            "INSERT INTO calls (clinic_id, id, provider, external_id, direction, status, missed, caller_key, \
             caller_tail, started_at, created_at, updated_at) VALUES ('{CLINIC_B}', \
             '0192f000-0000-7000-8000-0000000000b2', 'test', 'x', 'inbound', 'busy', true, 'v1:00', '•••• 1', \
             now(), now(), now())"
        ))
        .await;
    assert!(
        foreign_write.is_err(),
        "writing another clinic's row is refused"
    );
    txn.rollback().await.expect("rollback");

    let setting_is_local = count(&app, "calls").await;
    assert_eq!(setting_is_local, 0, "SET LOCAL ends with the transaction");
    app.close().await.ok();
    test_db.finish().await;
}

#[tokio::test]
async fn every_tenant_table_has_row_level_security_enabled_and_forced() {
    let test_db = TestDb::new(DatabaseKind::Postgres).await;
    for table in TENANT_TABLES
        .iter()
        .chain(ROUTING_TABLES)
        .chain(["clinics"].iter())
    {
        let rows = test_db
            .query_strings(
                &format!(
                    "SELECT relrowsecurity::text AS enabled, relforcerowsecurity::text AS forced \
                     FROM pg_class WHERE relname = '{table}'"
                ),
                &["enabled", "forced"],
            )
            .await;
        assert_eq!(
            rows,
            vec![vec!["true".to_owned(), "true".to_owned()]],
            "{table} has row-level security, forced on the owner too"
        );
    }
    test_db.finish().await;
}

/// Every function that runs as the tables' owner searches the session's temporary schema last:
/// a temporary table of the caller's cannot stand in for a table the function reads.
#[tokio::test]
async fn owner_functions_never_search_temporary_tables_first() {
    let test_db = TestDb::new(DatabaseKind::Postgres).await;
    let rows = test_db
        .query_strings(
            "SELECT proname AS name, COALESCE(array_to_string(proconfig, ';'), '') AS config \
             FROM pg_proc WHERE prosecdef AND proname LIKE 'ringback%' ORDER BY proname",
            &["name", "config"],
        )
        .await;
    assert!(
        rows.iter().any(|row| row[0] == "ringback_claim_jobs"),
        "{rows:?}"
    );
    for row in &rows {
        assert_eq!(row[1], "search_path=public, pg_temp", "{row:?}");
    }
    test_db.finish().await;
}

#[tokio::test]
async fn audit_log_is_append_only_for_the_app_role() {
    let test_db = TestDb::new(DatabaseKind::Postgres).await;
    seed_two_clinics(&test_db.db).await;
    let app = test_db.app_role_connection().await;
    let txn = app.begin().await.expect("begin");
    txn.execute_raw(Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT set_config('app.clinic_id', $1, true)",
        [CLINIC_A.into()],
    ))
    .await
    .expect("set clinic");
    txn.execute_unprepared(&format!(
        "INSERT INTO audit_log (clinic_id, seq, at, action, detail, prev_hash, hash) \
         VALUES ('{CLINIC_A}', 1, now(), 'test', '{{}}', '', '')"
    ))
    .await
    .expect("append");
    let update = txn
        .execute_unprepared("UPDATE audit_log SET action = 'changed'")
        .await;
    assert!(update.is_err(), "the app role cannot rewrite history");
    txn.rollback().await.ok();
    app.close().await.ok();
    test_db.finish().await;
}

/// `ringback serve` refuses to run as the tables' owner (row-level security and the append-only
/// audit log would not hold), naming the setting and how to set the roles up; the application role
/// passes.
#[tokio::test]
async fn serving_refuses_the_owner_and_accepts_the_app_role() {
    let test_db = TestDb::new(DatabaseKind::Postgres).await;
    let refused = ringback_api::db::check_serving_role(&test_db.db)
        .await
        .expect_err("the owner is refused");
    let message = refused.to_string();
    assert!(message.contains("owns the tables"), "{message}");
    assert!(message.contains("RINGBACK_DATABASE_URL"), "{message}");
    assert!(message.contains("ringback_app"), "{message}");
    let app = test_db.app_role_connection().await;
    ringback_api::db::check_serving_role(&app)
        .await
        .expect("the application role serves");
    test_db.finish().await;
}

/// The application role records the key checks on a first start and reads them later, but can
/// never change one (so a server with a wrong key cannot overwrite the check and carry on).
#[tokio::test]
async fn the_app_role_records_key_checks_but_cannot_change_them() {
    let test_db = TestDb::new(DatabaseKind::Postgres).await;
    let web = tempfile::tempdir().expect("tempdir");
    let secrets = test_db.state(web.path()).secrets.clone();
    let app = test_db.app_role_connection().await;
    secrets.check_against(&app).await.expect("recorded");
    secrets
        .check_against(&app)
        .await
        .expect("the same keys pass");
    let changed = app
        .execute_unprepared("UPDATE key_checks SET check_value = 'forged'")
        .await;
    assert!(changed.is_err(), "the checks are the owner's to change");
    test_db.finish().await;
}
