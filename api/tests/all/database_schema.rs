//! The first schema migrates cleanly on SQLite and PostgreSQL 15, every tenant table carries
//! `clinic_id` and leads every index with it, no column can hold a raw phone number, and the
//! migrations are reversible.

use crate::common::TestDb;
use ringback_api::config::DatabaseKind;
use ringback_migration::{DEPLOYMENT_INDEXES, Migrator, MigratorTrait, TENANT_TABLES};

const ALL_TABLES: &[&str] = &[
    "clinics",
    "users",
    "memberships",
    "calls",
    "appointments",
    "attributions",
    "daily_metrics",
    "job_outbox",
    "audit_log",
    "processed_webhooks",
];

fn columns_sql(kind: DatabaseKind, table: &str) -> String {
    match kind {
        DatabaseKind::Sqlite => {
            format!("SELECT name, lower(type) AS type FROM pragma_table_info('{table}')")
        }
        DatabaseKind::Postgres => format!(
            "SELECT column_name::text AS name, data_type::text AS type FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = '{table}'"
        ),
    }
}

fn leading_index_columns_sql(kind: DatabaseKind, table: &str) -> String {
    match kind {
        DatabaseKind::Sqlite => format!(
            "SELECT il.name AS index_name, ii.name AS first_column \
             FROM pragma_index_list('{table}') AS il, pragma_index_info(il.name) AS ii WHERE ii.seqno = 0"
        ),
        DatabaseKind::Postgres => format!(
            "SELECT i.relname::text AS index_name, a.attname::text AS first_column \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0] WHERE t.relname = '{table}'"
        ),
    }
}

async fn tables_have_expected_shape(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    for table in ALL_TABLES {
        let columns = test_db
            .query_strings(&columns_sql(kind, table), &["name", "type"])
            .await;
        assert!(!columns.is_empty(), "{table} exists on {kind:?}");
        for column in &columns {
            assert_no_raw_number_column(table, &column[0], &column[1]);
        }
        if TENANT_TABLES.contains(table) {
            assert!(
                columns.iter().any(|c| c[0] == "clinic_id"),
                "{table} has clinic_id"
            );
            let indexes = test_db
                .query_strings(
                    &leading_index_columns_sql(kind, table),
                    &["index_name", "first_column"],
                )
                .await;
            assert!(!indexes.is_empty(), "{table} has indexes on {kind:?}");
            for index in indexes {
                if DEPLOYMENT_INDEXES.contains(&(*table, index[0].as_str())) {
                    continue;
                }
                assert_eq!(
                    index[1], "clinic_id",
                    "index {} on {table} must lead with clinic_id",
                    index[0]
                );
            }
        }
    }
    test_db.finish().await;
}

/// Column names that would suggest a stored number; only the sealed (binary) form is allowed, and
/// ids typed as UUIDs (`provider_number_id`: which of the clinic's numbers, never the number).
fn assert_no_raw_number_column(table: &str, name: &str, column_type: &str) {
    let an_id = name.ends_with("_id") && (column_type.contains("uuid") || column_type == "blob");
    let suspicious = !an_id
        && ["phone", "number", "msisdn", "e164", "from", "to_"]
            .iter()
            .any(|word| name.contains(word));
    if name == "sealed_number" || name.ends_with("_sealed") {
        assert!(
            column_type.contains("blob") || column_type.contains("bytea"),
            "{table}.{name} is binary"
        );
    } else {
        assert!(
            !suspicious,
            "{table}.{name} looks like it could hold a raw phone number"
        );
    }
}

async fn migrations_are_reversible(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    assert!(
        Migrator::get_pending_migrations(&test_db.db)
            .await
            .expect("pending")
            .is_empty()
    );
    Migrator::down(&test_db.db, None).await.expect("down");
    let applied = Migrator::get_applied_migrations(&test_db.db)
        .await
        .expect("applied");
    assert!(applied.is_empty(), "everything rolled back on {kind:?}");
    Migrator::up(&test_db.db, None).await.expect("up again");
    test_db.finish().await;
}

on_both_databases!(tables_have_expected_shape, migrations_are_reversible);
