//! Proof under faults, with the real binary and the fake Twilio over HTTP. Each run sends signed
//! Twilio webhooks from 16 senders: missed calls (the `voice` webhook, then the `dial-status`
//! no-answer) from 1,000 callers in the UK's fiction range, each delivery retried until it is
//! acknowledged, as Twilio's connection overrides retry (`#rc=…&rp=all`). Texts go out through the
//! server's own outbox worker to the fake.
//!
//! - **Crash**: once 10% of the deliveries are acknowledged, the server is killed with `SIGKILL`
//!   and started again on the same database (embedded SQLite; and PostgreSQL as the application
//!   role when `RINGBACK_TEST_POSTGRES_URL` names a server).
//! - **Two instances** (PostgreSQL): two `ringback serve` processes on one database share the
//!   load, deliveries alternating between them; then one instance alone on a fresh database, for
//!   the figures to compare.
//!
//! After each run: every acknowledged call is stored as missed, every caller got exactly one text
//! (their later calls are skipped as texted in the last 24 hours), no job is left open. A broken
//! property fails the run; the figures are printed.
//!
//! Run: `cargo build --release -p ringback-api && cargo bench -p ringback-e2e --bench faults`
//! (`RINGBACK_FAULT_DELIVERIES`, default 10,000, sets the webhook deliveries per run).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ringback_api::config::DatabaseKind;
use ringback_api::fakes::twilio::{ACCOUNT_SID, FakeTwilio};
use ringback_e2e::server::{Data, RingbackServer, post_twilio_to};
use ringback_e2e::sign_up_variables;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

const PUBLIC_URL: &str = "https://ringback.example";
const AUTH_TOKEN: &str = "fault-run-auth-token";
const CLINIC_NUMBER: &str = "+447700900777";
const CALLERS: usize = 1_000;
const SENDERS: usize = 16;
/// The share of deliveries acknowledged before the crash: early, while first calls are still
/// being texted, so that the kill finds texts claimed and in flight.
const CRASH_AT: f64 = 0.1;
/// How long a text may take after the last delivery: a job claimed by the killed process waits
/// for its lease (two minutes) before another worker takes it over.
const TEXTS_DEADLINE: Duration = Duration::from_secs(300);

/// What one run measured and found.
#[derive(Debug, Default, PartialEq, Eq)]
struct Findings {
    calls_stored_missed: usize,
    callers_texted: usize,
    texted_twice: usize,
    jobs_open: usize,
    jobs_dead: usize,
}

struct Figures {
    deliveries: usize,
    attempts: usize,
    elapsed: Duration,
    downtime: Option<Duration>,
    texts_done_after: Duration,
}

/// Where the servers of a run keep their data.
enum Store {
    Embedded,
    Postgres(PgDatabase),
}

/// A fresh PostgreSQL database, migrated by its owner and served by a login role that is only a
/// member of `ringback_app`.
struct PgDatabase {
    admin_url: String,
    name: String,
    owner_url: String,
    app_url: String,
}

fn deliveries() -> usize {
    std::env::var("RINGBACK_FAULT_DELIVERIES")
        .ok()
        .and_then(|value| value.parse::<usize>().ok())
        .map_or(10_000, |n| n.max(2 * CALLERS) / 2 * 2)
}

fn caller(call: usize) -> String {
    format!("+447700900{:03}", call % CALLERS)
}

fn server_env(fake: &FakeTwilio, store: &Store) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("RINGBACK_PUBLIC_URL", PUBLIC_URL),
        ("RINGBACK_TWILIO_ACCOUNT_SID", ACCOUNT_SID),
        ("RINGBACK_TWILIO_AUTH_TOKEN", AUTH_TOKEN),
        ("RINGBACK_TWILIO_API_URL", fake.api_url()),
        ("RINGBACK_LOG", "warn"),
    ]
    .iter()
    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
    .collect();
    if let Store::Postgres(pg) = store {
        for (name, value) in [
            ("RINGBACK_DATABASE_URL", pg.app_url.clone()),
            ("RINGBACK_PEPPER", "41".repeat(32)),
            ("RINGBACK_MASTER_KEY", "42".repeat(32)),
            ("RINGBACK_SESSION_SECRET", "43".repeat(32)),
        ] {
            env.push((name.to_owned(), value));
        }
    }
    env
}

fn start(env: &[(String, String)]) -> RingbackServer {
    let borrowed: Vec<(&str, &str)> = env
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    RingbackServer::start_with_env(Data::Empty, &borrowed).unwrap_or_else(|e| panic!("{e}"))
}

/// Signs a clinic up on `server` and gives it the provider number, a forwarding line and room
/// to text every caller of the run.
fn set_up_clinic(server: &RingbackServer) {
    let signed_up = server
        .graphql_as(
            None,
            "mutation($input: SignUpInput!) { signUp(input: $input) { role } }",
            sign_up_variables(
                "Harbour Plumbing",
                "trade",
                "Fault Run",
                "faults@clinic.test",
                "correct horse battery",
            ),
        )
        .unwrap_or_else(|e| panic!("{e}"))
        .1;
    assert!(signed_up["errors"].is_null(), "{signed_up}");
    let cookie = server
        .api_session("faults@clinic.test", "correct horse battery")
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, setup) = server
        .graphql_as(
            Some(&cookie),
            "mutation { addProviderNumber(number: \"07700 900777\") { id } \
             setForwardingLine(number: \"020 7946 0123\") { forwardingLineTail } \
             updatePhoneSettings(input: { smsDailyLimit: 10000 }) { smsDailyLimit } }",
            serde_json::json!({}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(setup["errors"].is_null(), "{setup}");
}

/// Delivery `index`: even ones are a call's `voice` webhook, odd ones its dial outcome.
fn delivery(index: usize) -> (&'static str, Vec<(&'static str, String)>) {
    let call = index / 2;
    let mut params = vec![
        ("CallSid", format!("CA{call:032x}")),
        ("From", caller(call)),
        ("To", CLINIC_NUMBER.to_owned()),
        ("Direction", "inbound".to_owned()),
    ];
    if index.is_multiple_of(2) {
        params.push(("CallStatus", "ringing".to_owned()));
        ("/webhooks/twilio/voice", params)
    } else {
        params.push(("DialCallStatus", "no-answer".to_owned()));
        ("/webhooks/twilio/dial-status", params)
    }
}

/// Sends delivery `index` to `base_url` until it is acknowledged; returns the attempts made. A
/// refusal that no retry can change (a 4xx) fails the run.
fn deliver(base_url: &str, index: usize) -> usize {
    let (path, params) = delivery(index);
    let params: Vec<(&str, &str)> = params
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    for attempt in 1.. {
        match post_twilio_to(base_url, PUBLIC_URL, AUTH_TOKEN, path, &params) {
            Ok((status, _)) if status.contains(" 200 ") => return attempt,
            Ok((status, body)) if status.contains(" 4") && !status.contains(" 429 ") => {
                panic!("delivery {index} refused for good: {status} {body}")
            }
            // Refused connection, a cut response, 429 or 5xx: the provider tries again.
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    unreachable!("the loop returns")
}

/// Delivers `total` webhooks from [`SENDERS`] threads, each call's two webhooks in order, the calls
/// spread over `targets`; returns the attempts made. `acknowledged` counts as they land.
fn send_all(targets: &[String], total: usize, acknowledged: &Arc<AtomicUsize>) -> usize {
    let next_call = Arc::new(AtomicUsize::new(0));
    let attempts = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (targets, next_call, attempts, acknowledged) = (
                targets.to_vec(),
                next_call.clone(),
                attempts.clone(),
                acknowledged.clone(),
            );
            std::thread::spawn(move || {
                loop {
                    let call = next_call.fetch_add(1, Ordering::SeqCst);
                    if 2 * call >= total {
                        return;
                    }
                    let target = &targets[call % targets.len()];
                    for index in [2 * call, 2 * call + 1] {
                        attempts.fetch_add(deliver(target, index), Ordering::SeqCst);
                        acknowledged.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for sender in senders {
        sender.join().expect("sender finished");
    }
    attempts.load(Ordering::SeqCst)
}

/// Kills `server` once `threshold` deliveries are acknowledged and starts it again; the downtime.
fn crash_when(
    server: &mut RingbackServer,
    acknowledged: &AtomicUsize,
    threshold: usize,
) -> Duration {
    while acknowledged.load(Ordering::SeqCst) < threshold {
        std::thread::sleep(Duration::from_millis(5));
    }
    let killed = Instant::now();
    server.kill().unwrap_or_else(|e| panic!("{e}"));
    std::thread::sleep(Duration::from_millis(500));
    server.restart().unwrap_or_else(|e| panic!("{e}"));
    killed.elapsed()
}

/// Waits until every caller has a text and the outbox holds no open job.
async fn settle(db: &DatabaseConnection, fake: &FakeTwilio, started: Instant) -> Duration {
    fake.wait_for_messages(CALLERS, TEXTS_DEADLINE).await;
    let deadline = Instant::now() + TEXTS_DEADLINE;
    while count(
        db,
        "SELECT COUNT(*) AS n FROM job_outbox WHERE status IN ('pending', 'claimed')",
    )
    .await
        > 0
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    started.elapsed()
}

async fn count(db: &DatabaseConnection, sql: &str) -> usize {
    // Across clinics, as the owner's declared maintenance (row-level security is forced).
    let txn = ringback_api::tenant::begin_maintenance(db)
        .await
        .expect("maintenance transaction");
    let row = txn
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("count")
        .expect("a row");
    let n: i64 = row.try_get("", "n").expect("n");
    txn.commit().await.expect("commit");
    n as usize
}

async fn findings(db: &DatabaseConnection, fake: &FakeTwilio) -> Findings {
    let mut per_caller: HashMap<String, usize> = HashMap::new();
    for message in fake.messages() {
        *per_caller.entry(message.to).or_default() += 1;
    }
    Findings {
        calls_stored_missed: count(db, "SELECT COUNT(*) AS n FROM calls WHERE missed").await,
        callers_texted: per_caller.len(),
        texted_twice: per_caller.values().filter(|&&texts| texts > 1).count(),
        jobs_open: count(
            db,
            "SELECT COUNT(*) AS n FROM job_outbox WHERE status IN ('pending', 'claimed')",
        )
        .await,
        jobs_dead: count(
            db,
            "SELECT COUNT(*) AS n FROM job_outbox WHERE status = 'dead'",
        )
        .await,
    }
}

fn expected(total: usize) -> Findings {
    Findings {
        calls_stored_missed: total / 2,
        callers_texted: CALLERS,
        ..Findings::default()
    }
}

fn report(label: &str, figures: &Figures, found: &Findings) {
    let downtime = figures
        .downtime
        .map(|d| format!("; killed and restarted in {:.2} s", d.as_secs_f64()))
        .unwrap_or_default();
    println!(
        "{label}: {} deliveries acknowledged ({} attempts, {} retried) in {:.1} s = {:.0}/s{downtime}; \
         every text sent {:.1} s after the start; {} calls stored missed, {} callers texted, \
         {} texted twice, {} jobs open, {} dead",
        figures.deliveries,
        figures.attempts,
        figures.attempts - figures.deliveries,
        figures.elapsed.as_secs_f64(),
        figures.deliveries as f64 / figures.elapsed.as_secs_f64(),
        figures.texts_done_after.as_secs_f64(),
        found.calls_stored_missed,
        found.callers_texted,
        found.texted_twice,
        found.jobs_open,
        found.jobs_dead,
    );
}

/// A database connection for the checks: the embedded file of `server`, or the owner's.
async fn check_connection(store: &Store, server: &RingbackServer) -> DatabaseConnection {
    let (url, kind) = match store {
        Store::Embedded => (
            format!(
                "sqlite://{}",
                server.data_dir.path().join("ringback.db").display()
            ),
            DatabaseKind::Sqlite,
        ),
        Store::Postgres(pg) => (pg.owner_url.clone(), DatabaseKind::Postgres),
    };
    ringback_api::db::connect_url(&url, kind)
        .await
        .expect("check connection")
}

async fn fake_twilio() -> FakeTwilio {
    let fake = FakeTwilio::start(ACCOUNT_SID, AUTH_TOKEN)
        .await
        .expect("fake Twilio");
    fake.provision_number(CLINIC_NUMBER);
    // Delivery reports would need the server's address, which a restart keeps; they add
    // nothing to what is checked here.
    fake.send_status_callbacks(false);
    fake
}

/// The crash run on `store`.
async fn crash_run(label: &str, store: Store) {
    let fake = fake_twilio().await;
    let env = server_env(&fake, &store);
    let total = deliveries();
    let (server, started, attempts, downtime) = tokio::task::spawn_blocking(move || {
        let mut server = start(&env);
        set_up_clinic(&server);
        let acknowledged = Arc::new(AtomicUsize::new(0));
        let targets = vec![server.url.clone()];
        let started = Instant::now();
        let sending = {
            let acknowledged = acknowledged.clone();
            std::thread::spawn(move || send_all(&targets, total, &acknowledged))
        };
        let threshold = (total as f64 * CRASH_AT) as usize;
        let downtime = crash_when(&mut server, &acknowledged, threshold);
        let attempts = sending.join().expect("senders finished");
        (server, started, attempts, downtime)
    })
    .await
    .expect("crash run");
    let elapsed = started.elapsed();
    let db = check_connection(&store, &server).await;
    let figures = Figures {
        deliveries: total,
        attempts,
        elapsed,
        downtime: Some(downtime),
        texts_done_after: settle(&db, &fake, started).await,
    };
    let found = findings(&db, &fake).await;
    report(label, &figures, &found);
    assert_eq!(found, expected(total), "{label}\n{}", server.log());
    drop(server);
    db.close().await.ok();
    if let Store::Postgres(pg) = store {
        pg.drop_database().await;
    }
}

/// `instances` servers on one fresh PostgreSQL database share the load.
async fn instances_run(label: &str, admin_url: &str, instances: usize) -> (Figures, Findings) {
    let store = Store::Postgres(PgDatabase::create(admin_url).await);
    let fake = fake_twilio().await;
    let env = server_env(&fake, &store);
    let total = deliveries();
    let (servers, attempts, elapsed) = tokio::task::spawn_blocking(move || {
        let servers: Vec<RingbackServer> = (0..instances).map(|_| start(&env)).collect();
        set_up_clinic(&servers[0]);
        let targets: Vec<String> = servers.iter().map(|server| server.url.clone()).collect();
        let started = Instant::now();
        let attempts = send_all(&targets, total, &Arc::new(AtomicUsize::new(0)));
        (servers, attempts, started.elapsed())
    })
    .await
    .expect("instances run");
    let db = check_connection(&store, &servers[0]).await;
    let started = Instant::now() - elapsed;
    let figures = Figures {
        deliveries: total,
        attempts,
        elapsed,
        downtime: None,
        texts_done_after: settle(&db, &fake, started).await,
    };
    let found = findings(&db, &fake).await;
    report(label, &figures, &found);
    assert_eq!(found, expected(total), "{label}\n{}", servers[0].log());
    drop(servers);
    db.close().await.ok();
    if let Store::Postgres(pg) = store {
        pg.drop_database().await;
    }
    (figures, found)
}

impl PgDatabase {
    async fn create(admin_url: &str) -> Self {
        let name = format!("ringback_faults_{}", uuid_suffix());
        let admin = ringback_api::db::connect_url(admin_url, DatabaseKind::Postgres)
            .await
            .expect("PostgreSQL reachable");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        admin.close().await.ok();
        let owner_url = with_database(admin_url, &name, None);
        let owner = ringback_api::db::connect_url(&owner_url, DatabaseKind::Postgres)
            .await
            .expect("owner connects");
        ringback_api::db::migrate(&owner).await.expect("migrate");
        owner
            .execute_unprepared(
                "DO $$ BEGIN CREATE ROLE ringback_faults_app LOGIN PASSWORD 'ringback_faults_app' \
                 IN ROLE ringback_app; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; \
                 END $$",
            )
            .await
            .expect("application login role");
        owner.close().await.ok();
        Self {
            app_url: with_database(admin_url, &name, Some("ringback_faults_app")),
            admin_url: admin_url.to_owned(),
            name,
            owner_url,
        }
    }

    async fn drop_database(self) {
        let admin = ringback_api::db::connect_url(&self.admin_url, DatabaseKind::Postgres)
            .await
            .expect("PostgreSQL reachable");
        admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .await
            .expect("drop database");
        admin.close().await.ok();
    }
}

/// `url` pointing at database `name`, logged in as `role` (password the role's name) if given.
fn with_database(url: &str, name: &str, role: Option<&str>) -> String {
    let mut url = url::Url::parse(url).expect("PostgreSQL URL");
    url.set_path(&format!("/{name}"));
    if let Some(role) = role {
        url.set_username(role).expect("user name");
        url.set_password(Some(role)).expect("password");
    }
    url.to_string()
}

fn uuid_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}_{}", std::process::id(), nanos % 1_000_000_000)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("fault runs: pass --bench (cargo bench) to run them");
        return;
    }
    crash_run("SQLite, SIGKILL and restart", Store::Embedded).await;
    let Ok(admin_url) = std::env::var("RINGBACK_TEST_POSTGRES_URL") else {
        println!("PostgreSQL: not run (RINGBACK_TEST_POSTGRES_URL is not set)");
        return;
    };
    crash_run(
        "PostgreSQL, SIGKILL and restart",
        Store::Postgres(PgDatabase::create(&admin_url).await),
    )
    .await;
    let (_, two) = instances_run("PostgreSQL, two instances", &admin_url, 2).await;
    let (_, one) = instances_run("PostgreSQL, one instance", &admin_url, 1).await;
    assert_eq!(two, one, "two instances end as one does");
}
