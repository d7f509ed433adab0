//! The audit sweep with a backlog, on PostgreSQL as the application role: 100,000 reads of one
//! clinic waiting outside its hash chain (what an integrator syncing at a raised per-key limit
//! leaves in a few minutes, or the reads of a day while no server swept), sealed by sweep passes
//! until none wait. Prints the entries sealed per second, the passes it took and the longest pass
//! (each batch holds the clinic's audit lock until it commits), then verifies the chain.
//!
//! Needs `RINGBACK_TEST_POSTGRES_URL` (as for the tests); without it the run fails.
//! Run: `cargo bench -p ringback-api --bench audit_sweep`.

#[path = "../tests/all/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::app::TestApp;
use common::figures::{ms, run_on_postgres};
use ringback_api::config::DatabaseKind;
use ringback_api::service::audit;
use sea_orm::ConnectionTrait;

/// Reads waiting when the sweep starts.
const WAITING: i64 = 100_000;
/// Clinics one pass may visit (as the server's sweep).
const CLINICS_PER_PASS: u32 = 200;

fn main() {
    run_on_postgres("audit sweep", run());
}

/// `WAITING` calls-page reads of `clinic`, a millisecond apart, noted as `note_read` notes them.
async fn seed(app: &TestApp) {
    let txn = ringback_api::tenant::begin_maintenance(&app.db.db)
        .await
        .expect("maintenance");
    txn.execute_unprepared(&format!(
        "INSERT INTO audit_pending (clinic_id, id, at, actor_user_id, action, detail) \
         SELECT '{}'::uuid, gen_random_uuid(), now() - (n * interval '1 millisecond'), NULL, \
         'calls.list_read', '{{\"rows\": 51}}'::json FROM generate_series(1, {WAITING}) AS n",
        app.clinic_id
    ))
    .await
    .expect("waiting reads");
    txn.commit().await.expect("commit");
    let analysed = app.db.db.execute_unprepared("ANALYZE audit_pending").await;
    analysed.expect("analyze");
}

async fn run() {
    let app = TestApp::new(DatabaseKind::Postgres).await;
    seed(&app).await;
    let clock = app.state.clock.clone();
    let started = Instant::now();
    let (mut sealed, mut passes, mut longest) = (0, 0, Duration::ZERO);
    loop {
        let pass_started = Instant::now();
        let swept = audit::sweep(&app.state.db, &clock, CLINICS_PER_PASS)
            .await
            .expect("sweep");
        longest = longest.max(pass_started.elapsed());
        if swept.sealed == 0 {
            break;
        }
        sealed += swept.sealed;
        passes += 1;
    }
    let took = started.elapsed();
    println!(
        "audit sweep, PostgreSQL: {sealed} waiting reads sealed in {:.1} s ({:.0} entries/s) \
         over {passes} passes; longest pass {}",
        took.as_secs_f64(),
        sealed as f64 / took.as_secs_f64(),
        ms(longest)
    );
    let report = audit::verify(&app.db.db).await.expect("verify");
    assert!(report.broken.is_empty(), "{report:?}");
    assert!(
        sealed as i64 >= WAITING,
        "every waiting read sealed: {sealed}"
    );
    println!("chain verifies: {} entries", report.entries);
}
