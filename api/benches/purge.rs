//! The retention purge on a big clinic, PostgreSQL (as the application role, so row-level
//! security applies): 1,000,000 calls over 180 days with their daily figures, of which the purge
//! deletes those beyond the 90-day call retention. Prints the purge's rate (rows per second) and
//! the p50/p99 of the dashboard's overview query over HTTP at a dashboard's pace (8 a second),
//! idle and while the purge runs, with their ratio (the figure to hold: within 2x).
//!
//! Needs `RINGBACK_TEST_POSTGRES_URL` (as for the tests); without it the run fails.
//! Run: `cargo bench -p ringback-api --bench purge`.

#[path = "../tests/all/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::figures::{ms, percentile, run_on_postgres};
use common::graphql::{Browser, SIGN_UP, sign_up_input};
use common::{TestDb, serve};
use ringback_api::config::DatabaseKind;
use ringback_api::service::retention;
use sea_orm::ConnectionTrait;
use serde_json::json;

const CALLS: i64 = 1_000_000;
const DAYS: i64 = 180;
/// Overview queries measured while idle.
const IDLE_QUERIES: usize = 200;
/// A dashboard's pace: one overview query every 125 ms (8 a second, within the 600 requests a
/// minute each address may make).
const QUERY_EVERY: Duration = Duration::from_millis(125);

const OVERVIEW: &str = "query($from: NaiveDate!, $to: NaiveDate!, $pf: NaiveDate!, $pt: NaiveDate!) { \
    current: metrics(from: $from, to: $to) { totals { inboundCalls missedCalls recoveredRevenueMinor } \
    daily { day figures { missedCalls } } } \
    previous: metrics(from: $pf, to: $pt) { totals { inboundCalls missedCalls } } }";

fn main() {
    run_on_postgres("purge", run());
}

/// A million calls (a third of them missed, from 5,000 callers) and a daily figure for each day.
async fn seed(test_db: &TestDb, clinic: &str) {
    let txn = ringback_api::tenant::begin_maintenance(&test_db.db)
        .await
        .expect("maintenance");
    txn.execute_unprepared(&format!(
        "INSERT INTO calls (clinic_id, id, provider, external_id, direction, status, missed, \
         caller_key, caller_tail, line_type, started_at, answered_at, ended_at, text_back_status, \
         number_sealed, created_at, updated_at) \
         SELECT '{clinic}'::uuid, gen_random_uuid(), 'api', 'bench-' || n, 'inbound', \
         CASE WHEN n % 3 = 0 THEN 'no_answer' ELSE 'answered' END, n % 3 = 0, \
         'v1:' || lpad(to_hex(n % 5000), 64, '0'), '•••• 123', 'mobile', \
         now() - (n % ({DAYS} * 1440)) * interval '1 minute', NULL, NULL, NULL, NULL, now(), now() \
         FROM generate_series(1, {CALLS}) AS n"
    ))
    .await
    .expect("calls");
    txn.execute_unprepared(&format!(
        "INSERT INTO daily_metrics (clinic_id, day, inbound_calls, missed_calls, text_backs_sent, \
         replied_text_backs, callbacks, median_callback_seconds, recovered_appointments, \
         recovered_revenue_minor, updated_at, stale, stale_version) \
         SELECT '{clinic}'::uuid, current_date - d, 5555, 1851, 0, 0, 0, NULL, 0, 0, now(), false, 0 \
         FROM generate_series(0, {DAYS}) AS d"
    ))
    .await
    .expect("daily figures");
    txn.commit().await.expect("commit");
    let analysed = test_db.db.execute_unprepared("ANALYZE calls").await;
    analysed.expect("analyze");
}

/// One overview query; how long it took.
async fn overview(http: &reqwest::Client, url: &str, cookie: &str) -> Duration {
    let today = chrono::Utc::now().date_naive();
    let day = |n: i64| (today - chrono::Duration::days(n)).to_string();
    let body = json!({ "query": OVERVIEW, "variables": {
        "from": day(29), "to": day(0), "pf": day(59), "pt": day(30) } });
    let started = Instant::now();
    let response = http
        .post(format!("{url}/graphql"))
        .header("Cookie", cookie)
        .json(&body)
        .send()
        .await
        .expect("answered");
    let answer: serde_json::Value = response.json().await.expect("json");
    assert!(answer["errors"].is_null(), "{answer}");
    started.elapsed()
}

async fn run() {
    let test_db = TestDb::new(DatabaseKind::Postgres).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut owner = Browser::new(test_db.app(web.path()));
    owner.run(SIGN_UP, sign_up_input("purge@clinic.test")).await;
    let clinic = owner.run("{ clinic { id } }", json!({})).await;
    let clinic = clinic["data"]["clinic"]["id"]
        .as_str()
        .expect("clinic id")
        .to_owned();
    let seeding = Instant::now();
    seed(&test_db, &clinic).await;
    println!(
        "seeded {CALLS} calls over {DAYS} days in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let cookie = owner.cookie_header();
    let state = test_db.state(web.path());
    let url = serve(test_db.app(web.path())).await;
    let http = reqwest::Client::new();

    let mut pace = tokio::time::interval(QUERY_EVERY);
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut idle = Vec::with_capacity(IDLE_QUERIES);
    for _ in 0..IDLE_QUERIES {
        pace.tick().await;
        idle.push(overview(&http, &url, &cookie).await);
    }
    idle.sort();

    let purging = Instant::now();
    let purge = tokio::spawn({
        let (db, clock) = (state.db.clone(), state.clock.clone());
        async move { retention::purge_all(&db, &clock, false).await }
    });
    let mut during = Vec::new();
    let mut slowest = Vec::new();
    while !purge.is_finished() {
        pace.tick().await;
        let at = purging.elapsed();
        let took = overview(&http, &url, &cookie).await;
        during.push(took);
        slowest.push((took, at));
    }
    slowest.sort();
    slowest.reverse();
    let report = purge.await.expect("purge ran").expect("purge");
    let elapsed = purging.elapsed();
    during.sort();
    let removed: u64 = report
        .clinics
        .iter()
        .flat_map(|clinic| clinic.purged.iter())
        .map(|kind| kind.rows)
        .sum();
    println!(
        "purge: {removed} rows in {:.1} s = {:.0} rows/s (batches of {})",
        elapsed.as_secs_f64(),
        removed as f64 / elapsed.as_secs_f64(),
        retention::BATCH_ROWS
    );
    let (idle_p99, during_p99) = (percentile(&idle, 99.0), percentile(&during, 99.0));
    println!(
        "overview idle ({} queries): p50 {}, p99 {}",
        idle.len(),
        ms(percentile(&idle, 50.0)),
        ms(idle_p99)
    );
    println!(
        "overview during the purge ({} queries): p50 {}, p99 {}; p99 ratio {:.2}x",
        during.len(),
        ms(percentile(&during, 50.0)),
        ms(during_p99),
        during_p99.as_secs_f64() / idle_p99.as_secs_f64().max(f64::EPSILON)
    );
    for (took, at) in slowest.iter().take(3) {
        println!(
            "  slow: {} at {:.2} s into the purge",
            ms(*took),
            at.as_secs_f64()
        );
    }
    test_db.finish().await;
}
