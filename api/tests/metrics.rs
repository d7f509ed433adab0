//! Metrics over the demo clinic's 90 days, on SQLite and PostgreSQL: the API's totals equal counts
//! taken straight from the stored rows, the daily series covers every day and adds up to the
//! totals, and months add up too.

mod common;

use chrono::{DateTime, Utc};
use common::TestDb;
use common::graphql::{Browser, SIGN_IN, error_code};
use ringback_api::config::DatabaseKind;
use ringback_api::demo;
use serde_json::{Value, json};

const METRICS: &str = "query($from: NaiveDate!, $to: NaiveDate!) { metrics(from: $from, to: $to) { \
    totals { inboundCalls missedCalls missRate callbacks medianTimeToCallbackSeconds recoveredAppointments \
    recoveryRate recoveredRevenueMinor } daily { day figures { inboundCalls missedCalls recoveredAppointments \
    recoveredRevenueMinor } } monthly { month figures { inboundCalls recoveredRevenueMinor } } } }";

fn count(rows: &[Vec<String>]) -> u64 {
    rows.first()
        .and_then(|row| row.first())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn sum(series: &Value, field: &str) -> i64 {
    series
        .as_array()
        .expect("series")
        .iter()
        .map(|entry| entry["figures"][field].as_i64().unwrap_or(0))
        .sum()
}

async fn metrics_match_the_stored_rows(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let state = test_db.state(web.path());
    let now: DateTime<Utc> = "2026-11-22T09:00:00Z".parse().expect("time");
    demo::seed(&state.db, &state.secrets, now)
        .await
        .expect("seed");
    let mut owner = Browser::new(test_db.app(web.path()));
    owner
        .run(
            SIGN_IN,
            json!({ "email": demo::DEMO_EMAIL, "password": demo::DEMO_PASSWORD }),
        )
        .await;

    // The demo covers the 90 local days before 2026-11-22; a generous range takes all of it.
    let answer = owner
        .run(METRICS, json!({ "from": "2026-08-01", "to": "2026-11-22" }))
        .await;
    let metrics = &answer["data"]["metrics"];
    assert!(answer["errors"].is_null(), "{answer}");
    let totals = &metrics["totals"];

    let inbound = count(
        &test_db
            .query_strings(
                "SELECT count(*) || '' AS n FROM calls WHERE direction = 'inbound'",
                &["n"],
            )
            .await,
    );
    let missed = count(
        &test_db
            .query_strings(
                "SELECT count(*) || '' AS n FROM calls WHERE missed = true",
                &["n"],
            )
            .await,
    );
    let recovered = count(
        &test_db
            .query_strings(
                "SELECT count(*) || '' AS n FROM attributions WHERE outcome = 'recovered'",
                &["n"],
            )
            .await,
    );
    let revenue = count(
        &test_db
            .query_strings(
                "SELECT coalesce(sum(value_minor), 0) || '' AS n FROM attributions WHERE outcome = 'recovered'",
                &["n"],
            )
            .await,
    );
    assert_eq!(totals["inboundCalls"].as_u64(), Some(inbound), "{totals}");
    assert_eq!(totals["missedCalls"].as_u64(), Some(missed));
    assert_eq!(totals["recoveredAppointments"].as_u64(), Some(recovered));
    assert_eq!(totals["recoveredRevenueMinor"].as_u64(), Some(revenue));
    assert!(totals["callbacks"].as_u64().unwrap_or(0) > 0);
    assert!(totals["medianTimeToCallbackSeconds"].as_i64().unwrap_or(0) > 0);

    let daily = &metrics["daily"];
    assert_eq!(
        daily.as_array().map(Vec::len),
        Some(114),
        "every day from 1 August to 22 November"
    );
    assert_eq!(sum(daily, "inboundCalls") as u64, inbound);
    assert_eq!(sum(daily, "recoveredRevenueMinor") as u64, revenue);
    assert_eq!(sum(&metrics["monthly"], "inboundCalls") as u64, inbound);

    let backwards = owner
        .run(METRICS, json!({ "from": "2026-11-22", "to": "2026-11-01" }))
        .await;
    assert_eq!(error_code(&backwards), Some("BAD_USER_INPUT"));
    test_db.finish().await;
}

#[tokio::test]
async fn sqlite_metrics_match_the_stored_rows() {
    metrics_match_the_stored_rows(DatabaseKind::Sqlite).await;
}

#[tokio::test]
async fn postgres_metrics_match_the_stored_rows() {
    metrics_match_the_stored_rows(DatabaseKind::Postgres).await;
}
