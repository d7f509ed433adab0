//! Load run of the AI receptionist against the real server over HTTP, on SQLite and on
//! PostgreSQL (as the application role), with the server's two worker lanes sending through the
//! in-process fake Twilio and asking the in-process fake Anthropic model. Each conversation is one
//! signed SMS webhook from its own caller to a clinic with the AI on; the model answers with text
//! at once. Three phases:
//! - 200 conversations at a steady 10 a second with the model answering at once, then with 1 s of
//!   model latency: the time from the webhook leaving the client to the answer's SMS request
//!   arriving at the fake provider, p50/p95, and (with latency) our own overhead beside the model's
//!   second;
//! - 400 conversations from 16 clients back to back with 1 s of model latency: conversations
//!   answered per second, and (on PostgreSQL) the most backends busy in a transaction at any
//!   sample while the answers wait on the model, which shows the agent holds no connection then.
//!
//! PostgreSQL is measured when `RINGBACK_TEST_POSTGRES_URL` names a server (as for the tests).
//! Run: `cargo bench -p ringback-api --bench ai_answers`.

#[path = "../tests/all/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::figures::{ms, percentile};
use common::graphql::{Browser, SIGN_UP, sign_up_input};
use common::{PUBLIC_URL, TWILIO_AUTH_TOKEN, TestDb, serve};
use ringback_api::config::DatabaseKind;
use ringback_api::fakes::anthropic::{API_KEY, FakeAnthropic, Reply};
use ringback_api::fakes::twilio::{ACCOUNT_SID, FakeTwilio};
use ringback_api::webhooks::twilio_signature::sign;
use serde_json::json;
use tokio::sync::{Mutex, watch};

const CLINIC_NUMBER: &str = "+447700900777";
/// Conversations in each steady phase.
const STEADY: usize = 200;
/// Conversations a second in the steady phases.
const STEADY_PER_SECOND: u32 = 10;
/// Conversations in the saturation phase, and the clients sending them.
const SATURATION: usize = 400;
const CLIENTS: usize = 16;
/// The model's latency in the slow phases.
const MODEL_LATENCY: Duration = Duration::from_secs(1);
/// What the fake model answers.
const ANSWER: &str = "Thanks! We can see you on Monday at 10:00. Shall I book it?";

/// A caller in the reserved fiction range, 07700 900000–900999.
fn caller(index: usize) -> String {
    format!("+447700900{:03}", index % 1000)
}

/// A running server with its fakes and its worker lanes, for one backend.
struct Target {
    test_db: TestDb,
    _web: tempfile::TempDir,
    twilio: FakeTwilio,
    model: FakeAnthropic,
    local: String,
    stop: watch::Sender<bool>,
    workers: tokio::task::JoinHandle<()>,
    http: reqwest::Client,
}

async fn start(kind: DatabaseKind) -> Target {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let twilio = FakeTwilio::start(ACCOUNT_SID, TWILIO_AUTH_TOKEN)
        .await
        .expect("fake Twilio");
    twilio.provision_number(CLINIC_NUMBER);
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    model.answer_by_default(Some(Reply::Text(ANSWER.to_owned())));
    let state = test_db.state_with(
        web.path(),
        &[
            ("RINGBACK_TWILIO_ACCOUNT_SID", ACCOUNT_SID),
            ("RINGBACK_TWILIO_API_URL", twilio.api_url()),
            ("RINGBACK_ANTHROPIC_API_KEY", API_KEY),
            ("RINGBACK_ANTHROPIC_API_URL", model.api_url()),
        ],
    );
    let local = serve(ringback_api::build_app(state.clone())).await;
    twilio.forward_callbacks(PUBLIC_URL, &local);
    let mut owner = Browser::new(ringback_api::build_app(state.clone()));
    owner
        .run(SIGN_UP, sign_up_input("ai-load@clinic.test"))
        .await;
    let setup = owner
        .run(
            "mutation { updateClinicSettings(input: { privacyMode: \"text_back\" }) { id } \
             addProviderNumber(number: \"07700 900777\") { id } \
             updatePhoneSettings(input: { smsDailyLimit: 10000 }) { smsDailyLimit } \
             updateAiReceptionist(input: { enabled: true, monthlyTokenBudget: 100000000 }) { enabled } }",
            json!({}),
        )
        .await;
    assert!(setup["errors"].is_null(), "{setup}");
    let (stop, stopped) = watch::channel(false);
    let workers = ringback_api::jobs::worker::spawn(&state, stopped);
    Target {
        test_db,
        _web: web,
        twilio,
        model,
        local,
        stop,
        workers,
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(CLIENTS)
            .build()
            .expect("client"),
    }
}

/// Sends caller `index`'s text as a signed webhook; when it left.
async fn text_in(target: &Target, index: usize) -> Instant {
    let from = caller(index);
    let sid = format!("SM{index:032}");
    let params: Vec<(String, String)> = [
        ("MessageSid", sid.as_str()),
        ("From", from.as_str()),
        ("To", CLINIC_NUMBER),
        ("Body", "Hi, my boiler is leaking. Can someone come Monday?"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let path = "/webhooks/twilio/sms";
    let signature = sign(TWILIO_AUTH_TOKEN, &format!("{PUBLIC_URL}{path}"), &params);
    let sent_at = Instant::now();
    let response = target
        .http
        .post(format!("{}{path}", target.local))
        .header("X-Twilio-Signature", signature)
        .form(&params)
        .send()
        .await
        .expect("webhook answered");
    assert!(response.status().is_success(), "{}", response.status());
    let _ = response.bytes().await;
    sent_at
}

/// When each caller's text left, by number.
type Sent = Arc<Mutex<HashMap<String, Instant>>>;

/// Times from each text leaving to its answer reaching the provider, sorted, once every caller
/// in `callers` has been answered (or two minutes passed); and when the last answer arrived.
async fn answered(
    target: &Target,
    callers: &std::ops::Range<usize>,
    sent: &Sent,
) -> (Vec<Duration>, Option<Instant>) {
    let sent = sent.lock().await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let answers: Vec<_> = target
            .twilio
            .messages()
            .into_iter()
            .filter(|message| message.body.starts_with(ANSWER))
            .filter_map(|message| Some((*sent.get(&message.to)?, message.arrived)))
            .collect();
        if answers.len() >= callers.len() || Instant::now() > deadline {
            let last = answers.iter().map(|(_, arrived)| *arrived).max();
            let mut times: Vec<Duration> = answers
                .iter()
                .map(|(left, arrived)| arrived.saturating_duration_since(*left))
                .collect();
            times.sort();
            return (times, last);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Conversations open at a steady rate, whatever the server does (an open loop).
async fn steady(target: &Arc<Target>, callers: std::ops::Range<usize>) -> Vec<Duration> {
    let sent: Sent = Arc::default();
    let mut ticks = tokio::time::interval(Duration::from_secs(1) / STEADY_PER_SECOND);
    let mut texts = Vec::new();
    for index in callers.clone() {
        ticks.tick().await;
        let (target, sent) = (target.clone(), sent.clone());
        texts.push(tokio::spawn(async move {
            let left = text_in(&target, index).await;
            sent.lock().await.insert(caller(index), left);
        }));
    }
    for text in texts {
        text.await.expect("text sent");
    }
    answered(target, &callers, &sent).await.0
}

/// `CLIENTS` clients open conversations back to back (a closed loop); conversations answered a
/// second, and the most backends busy in a transaction at any PostgreSQL sample meanwhile.
async fn saturated(
    target: &Arc<Target>,
    callers: std::ops::Range<usize>,
    kind: DatabaseKind,
) -> (f64, usize, Option<usize>) {
    let sent: Sent = Arc::default();
    let next = Arc::new(AtomicUsize::new(callers.start));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = (kind == DatabaseKind::Postgres).then(|| {
        let (target, sampling) = (target.clone(), sampling.clone());
        tokio::spawn(async move { busiest_in_transaction(&target, &sampling).await })
    });
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (target, sent, next, end) = (target.clone(), sent.clone(), next.clone(), callers.end);
        clients.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                if index >= end {
                    return;
                }
                let left = text_in(&target, index).await;
                sent.lock().await.insert(caller(index), left);
            }
        }));
    }
    for client in clients {
        client.await.expect("client finished");
    }
    let (times, last) = answered(target, &callers, &sent).await;
    sampling.store(false, Ordering::SeqCst);
    let busiest = match sampler {
        Some(sampler) => Some(sampler.await.expect("sampler")),
        None => None,
    };
    let elapsed = last.map_or(Duration::ZERO, |at| at.saturating_duration_since(started));
    (
        times.len() as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
        times.len(),
        busiest,
    )
}

/// The most backends of the application role inside a transaction at any of the samples taken
/// every 20 ms while `sampling` holds.
async fn busiest_in_transaction(target: &Target, sampling: &AtomicBool) -> usize {
    let mut busiest = 0;
    while sampling.load(Ordering::SeqCst) {
        let rows = target
            .test_db
            .query_strings(
                "SELECT count(*) || '' AS n FROM pg_stat_activity \
                 WHERE state LIKE 'idle in transaction%' AND usename <> current_user",
                &["n"],
            )
            .await;
        busiest = busiest.max(rows[0][0].parse().unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    busiest
}

fn report_latency(label: &str, times: &[Duration], model: Duration) {
    let overhead = |p: f64| percentile(times, p).saturating_sub(model);
    println!(
        "{label}: {} answered; webhook -> answer SMS at provider p50 {} p95 {}; \
         our own time beside the model p50 {} p95 {}",
        times.len(),
        ms(percentile(times, 50.0)),
        ms(percentile(times, 95.0)),
        ms(overhead(50.0)),
        ms(overhead(95.0)),
    );
}

async fn measure(label: &str, kind: DatabaseKind) {
    let target = Arc::new(start(kind).await);
    let quick = steady(&target, 0..STEADY).await;
    report_latency(&format!("{label}, model at once"), &quick, Duration::ZERO);
    target.model.set_latency(MODEL_LATENCY);
    let slow = steady(&target, STEADY..2 * STEADY).await;
    report_latency(&format!("{label}, model 1 s"), &slow, MODEL_LATENCY);
    let callers = 2 * STEADY..2 * STEADY + SATURATION;
    let (rate, answered, busiest) = saturated(&target, callers, kind).await;
    println!(
        "{label}, model 1 s, {CLIENTS} clients back to back: {answered} conversations answered, \
         {rate:.1} a second{}",
        busiest.map_or(String::new(), |n| format!(
            "; at most {n} application connections inside a transaction at once"
        ))
    );
    let Ok(target) = Arc::try_unwrap(target) else {
        panic!("the load run still holds the server");
    };
    let _ = target.stop.send(true);
    let _ = target.workers.await;
    target.test_db.finish().await;
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and should only prove
    // that this compiles and starts.
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("AI answers load run: pass --bench (cargo bench) to run it");
        return;
    }
    measure("SQLite", DatabaseKind::Sqlite).await;
    if std::env::var("RINGBACK_TEST_POSTGRES_URL").is_ok() {
        measure("PostgreSQL", DatabaseKind::Postgres).await;
    } else {
        println!("PostgreSQL: not measured (RINGBACK_TEST_POSTGRES_URL is not set)");
    }
}
