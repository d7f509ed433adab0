//! Load run of the Twilio webhooks against the real server over HTTP, on SQLite and on PostgreSQL
//! (as the application role, so row-level security applies). Each missed call is a signed `voice`
//! webhook followed by a signed `dial-status` no-answer, from its own caller, with the text-back
//! delay at 0 and the outbox worker sending to the in-process fake Twilio. Two phases of 500 calls:
//! a steady 50 calls per second (latency under a stated load), then 16 clients back to back (the
//! most the server sustains). Each prints webhooks per second, webhook latency p50/p99, and the
//! time from the missed-call webhook arriving to the SMS request arriving at the fake, p50/p95.
//!
//! PostgreSQL is measured when `RINGBACK_TEST_POSTGRES_URL` names a server (as for the tests).
//! Run: `cargo bench -p ringback-api --bench webhooks`.

#[path = "../tests/all/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::figures::{ms, percentile};
use common::graphql::{Browser, SIGN_UP, sign_up_input};
use common::{PUBLIC_URL, TWILIO_AUTH_TOKEN, TestDb, serve};
use ringback_api::config::DatabaseKind;
use ringback_api::fakes::twilio::{ACCOUNT_SID, FakeTwilio};
use ringback_api::jobs::worker::{Worker, WorkerSettings};
use ringback_api::webhooks::twilio_signature::sign;
use serde_json::json;
use tokio::sync::Mutex;

const CALLS: usize = 1_000;
/// Clients sending back to back in the saturation phase.
const CLIENTS: usize = 16;
/// Missed calls per second in the steady phase (two webhooks each).
const STEADY_CALLS_PER_SECOND: u32 = 50;
const CLINIC_NUMBER: &str = "+447700900777";

/// What one load run measured.
struct Figures {
    webhooks: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    missed_to_sms: Vec<Duration>,
    texts: usize,
}

/// A caller in the reserved fiction range, 07700 900000–900999.
fn caller(index: usize) -> String {
    format!("+447700900{:03}", index % 1000)
}

async fn signed_post(
    http: &reqwest::Client,
    local: &str,
    path: &str,
    params: &[(&str, &str)],
) -> Duration {
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let signature = sign(TWILIO_AUTH_TOKEN, &format!("{PUBLIC_URL}{path}"), &owned);
    let started = Instant::now();
    let response = http
        .post(format!("{local}{path}"))
        .header("X-Twilio-Signature", signature)
        .form(&owned)
        .send()
        .await
        .expect("webhook answered");
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    let _ = response.bytes().await;
    started.elapsed()
}

/// One caller's missed call: the voice webhook, then the dial outcome.
async fn missed_call(
    http: &reqwest::Client,
    local: &str,
    index: usize,
) -> (Vec<Duration>, Instant) {
    let sid = format!("CA{index:032}");
    let from = caller(index);
    let voice = [
        ("CallSid", sid.as_str()),
        ("From", from.as_str()),
        ("To", CLINIC_NUMBER),
        ("Direction", "inbound"),
        ("CallStatus", "ringing"),
    ];
    let first = signed_post(http, local, "/webhooks/twilio/voice", &voice).await;
    let dial = [
        ("CallSid", sid.as_str()),
        ("From", from.as_str()),
        ("To", CLINIC_NUMBER),
        ("Direction", "inbound"),
        ("DialCallStatus", "no-answer"),
    ];
    let missed_at = Instant::now();
    let second = signed_post(http, local, "/webhooks/twilio/dial-status", &dial).await;
    (vec![first, second], missed_at)
}

/// A running server with its fake provider and worker, for one backend.
struct Target {
    test_db: TestDb,
    _web: tempfile::TempDir,
    fake: FakeTwilio,
    local: String,
    worker: tokio::task::JoinHandle<()>,
    http: reqwest::Client,
}

async fn start(kind: DatabaseKind) -> Target {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let fake = FakeTwilio::start(ACCOUNT_SID, TWILIO_AUTH_TOKEN)
        .await
        .expect("fake Twilio");
    fake.provision_number("+447700900777");
    let state = test_db.state_with(
        web.path(),
        &[
            ("RINGBACK_TWILIO_ACCOUNT_SID", ACCOUNT_SID),
            ("RINGBACK_TWILIO_API_URL", fake.api_url()),
        ],
    );
    let local = serve(ringback_api::build_app(state.clone())).await;
    fake.forward_callbacks(PUBLIC_URL, &local);
    let mut owner = Browser::new(ringback_api::build_app(state.clone()));
    owner.run(SIGN_UP, sign_up_input("load@clinic.test")).await;
    let setup = owner
        .run(
            "mutation { addProviderNumber(number: \"07700 900777\") { id } \
             setForwardingLine(number: \"020 7946 0123\") { forwardingLineTail } \
             updatePhoneSettings(input: { smsDailyLimit: 10000 }) { smsDailyLimit } }",
            json!({}),
        )
        .await;
    assert!(setup["errors"].is_null(), "{setup}");
    let provider = state.sms.clone();
    assert!(provider.is_some(), "the provider is configured");
    let worker = Worker::new(
        state.clone(),
        provider,
        WorkerSettings::default(),
        "bench-worker".to_owned(),
    );
    Target {
        test_db,
        _web: web,
        worker: tokio::spawn(worker.run()),
        fake,
        local,
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .expect("client"),
    }
}

/// Collected while a phase runs: webhook latencies and when each caller's call was missed.
type Samples = Arc<Mutex<(Vec<Duration>, HashMap<String, Instant>)>>;

async fn one_call(target: &Target, index: usize, samples: &Samples) {
    let (latencies, missed_at) = missed_call(&target.http, &target.local, index).await;
    let mut samples = samples.lock().await;
    samples.0.extend(latencies);
    samples.1.insert(caller(index), missed_at);
}

/// Calls arrive at a steady `per_second` rate, whatever the server does (an open loop).
async fn steady(target: &Arc<Target>, callers: std::ops::Range<usize>, per_second: u32) -> Figures {
    let samples: Samples = Arc::default();
    let started = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / per_second);
    let mut calls = Vec::new();
    for index in callers.clone() {
        ticks.tick().await;
        let (target, samples) = (target.clone(), samples.clone());
        calls.push(tokio::spawn(async move {
            one_call(&target, index, &samples).await
        }));
    }
    for call in calls {
        call.await.expect("call finished");
    }
    figures(target, callers.len(), started.elapsed(), samples).await
}

/// `CLIENTS` clients send calls back to back (a closed loop): the most the server sustains.
async fn saturated(target: &Arc<Target>, callers: std::ops::Range<usize>) -> Figures {
    let samples: Samples = Arc::default();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(callers.start));
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (target, samples, next, end) =
            (target.clone(), samples.clone(), next.clone(), callers.end);
        clients.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if index >= end {
                    return;
                }
                one_call(&target, index, &samples).await;
            }
        }));
    }
    for client in clients {
        client.await.expect("client finished");
    }
    figures(target, callers.len(), started.elapsed(), samples).await
}

async fn figures(target: &Target, calls: usize, elapsed: Duration, samples: Samples) -> Figures {
    let (mut latencies, missed_at) = std::mem::take(&mut *samples.lock().await);
    let all_texts = target.fake.messages().len() + calls;
    let messages = target
        .fake
        .wait_for_messages(all_texts.min(1000), Duration::from_secs(120))
        .await;
    latencies.sort();
    let mut missed_to_sms: Vec<Duration> = messages
        .iter()
        .filter_map(|message| {
            let missed = missed_at.get(&message.to)?;
            Some(message.arrived.saturating_duration_since(*missed))
        })
        .collect();
    missed_to_sms.sort();
    Figures {
        webhooks: latencies.len(),
        elapsed,
        latencies,
        texts: missed_to_sms.len(),
        missed_to_sms,
    }
}

async fn measure(label: &str, kind: DatabaseKind) {
    let target = Arc::new(start(kind).await);
    let half = CALLS / 2;
    report(
        &format!("{label}, steady {STEADY_CALLS_PER_SECOND} calls/s"),
        &steady(&target, 0..half, STEADY_CALLS_PER_SECOND).await,
    );
    report(
        &format!("{label}, {CLIENTS} clients back to back"),
        &saturated(&target, half..CALLS).await,
    );
    let Ok(target) = Arc::try_unwrap(target) else {
        panic!("the load run still holds the server");
    };
    wait_until_every_job_is_settled(&target).await;
    target.worker.abort();
    target.test_db.finish().await;
}

/// Waits for the worker to store the outcome of the last texts it sent (the provider may have them
/// before the worker has settled them), so that the run ends with no job claimed.
async fn wait_until_every_job_is_settled(target: &Target) {
    for _ in 0..600 {
        let open = target
            .test_db
            .query_strings(
                "SELECT count(*) || '' AS n FROM job_outbox WHERE status IN ('pending', 'claimed')",
                &["n"],
            )
            .await;
        if open[0][0] == "0" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("jobs were still open a minute after the load run");
}

fn report(label: &str, figures: &Figures) {
    println!(
        "{label}: {} webhooks in {:.2} s = {:.0} webhooks/s; latency p50 {} p99 {}; \
         missed call -> SMS at provider ({} texts) p50 {} p95 {}",
        figures.webhooks,
        figures.elapsed.as_secs_f64(),
        figures.webhooks as f64 / figures.elapsed.as_secs_f64(),
        ms(percentile(&figures.latencies, 50.0)),
        ms(percentile(&figures.latencies, 99.0)),
        figures.texts,
        ms(percentile(&figures.missed_to_sms, 50.0)),
        ms(percentile(&figures.missed_to_sms, 95.0)),
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and should only prove
    // that this compiles and starts.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("webhooks load run: pass --bench (cargo bench) to run it");
        return;
    }
    measure("SQLite", DatabaseKind::Sqlite).await;
    if std::env::var("RINGBACK_TEST_POSTGRES_URL").is_ok() {
        measure("PostgreSQL", DatabaseKind::Postgres).await;
    } else {
        println!("PostgreSQL: not measured (RINGBACK_TEST_POSTGRES_URL is not set)");
    }
}
