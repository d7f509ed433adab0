//! Text-backs leaving through the outbox, against the in-process fake Twilio, on SQLite and on
//! PostgreSQL (as the application role): the right template reaches the provider from the clinic's
//! number, delivery reports come back signed and move the status forward, replies and staff answers
//! form a conversation, strict mode keeps no number, a provider outage ends with every text sent
//! exactly once, a crash between sending and recording never sends twice, dead letters show and can
//! be retried, and no test number appears in the database or the logs.

use std::time::Duration;

use crate::common::graphql::{Browser, SIGN_UP, error_code, sign_up_input};
use crate::common::twilio::{missed_call, post, text_from};
use crate::common::{PUBLIC_URL, TWILIO_AUTH_TOKEN, TestDb, serve};
use chrono::Utc;
use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Europe::London;
use poem::endpoint::BoxEndpoint;
use poem::test::TestClient;
use poem::{EndpointExt, Response};
use ringback_api::config::{DatabaseKind, SecretString};
use ringback_api::fakes::twilio::{ACCOUNT_SID, Failure, FakeMessage, FakeTwilio};
use ringback_api::integrations::twilio::{TwilioAccount, TwilioClient};
use ringback_api::jobs::worker::{Worker, WorkerSettings};
use ringback_api::{AppState, build_app};
use serde_json::{Value, json};

type App = BoxEndpoint<'static, Response>;

/// The clinic's provider number.
const CLINIC_NUMBER: &str = "+447700900777";
/// The clinic's second number, where a test gives it one.
const SECOND_NUMBER: &str = "+447700900778";
/// A third number, where a test gives the clinic one.
const THIRD_NUMBER: &str = "+447700900779";

/// A clinic with a provider number, the fake provider, and a worker that sends through it.
struct Rig {
    test_db: TestDb,
    _web: tempfile::TempDir,
    admin: Browser<App>,
    twilio: TestClient<App>,
    fake: FakeTwilio,
    state: AppState,
}

impl Rig {
    async fn new(kind: DatabaseKind, privacy_mode: &str) -> Self {
        let test_db = TestDb::at_midday(kind).await;
        let web = tempfile::tempdir().expect("tempdir");
        let fake =
            FakeTwilio::start_with_clock(ACCOUNT_SID, TWILIO_AUTH_TOKEN, test_db.clock.clone())
                .await
                .expect("fake Twilio starts");
        fake.provision_number("+447700900777");
        let state = test_db.state_with(
            web.path(),
            &[
                ("RINGBACK_TWILIO_ACCOUNT_SID", ACCOUNT_SID),
                ("RINGBACK_TWILIO_API_URL", fake.api_url()),
            ],
        );
        let local = serve(build_app(state.clone())).await;
        fake.forward_callbacks(PUBLIC_URL, &local);
        let app = || build_app(state.clone()).map_to_response().boxed();
        let mut admin = Browser::new(app());
        let signed_up = admin.run(SIGN_UP, sign_up_input("texts@clinic.test")).await;
        assert!(signed_up["errors"].is_null(), "{signed_up}");
        let setup = admin
            .run(
                "mutation($mode: String!) { addProviderNumber(number: \"07700 900777\") { id } \
                 updateClinicSettings(input: { privacyMode: $mode, name: \"Bright Smile\" }) { id } }",
                json!({ "mode": privacy_mode }),
            )
            .await;
        assert!(setup["errors"].is_null(), "{setup}");
        Self {
            test_db,
            _web: web,
            admin,
            twilio: TestClient::new(app()),
            fake,
            state,
        }
    }

    /// Gives the clinic [`SECOND_NUMBER`] too (held by the fake Twilio); its id.
    async fn add_second_number(&mut self) -> Value {
        self.add_number(SECOND_NUMBER).await
    }

    /// Gives the clinic `number` (E.164, held by the fake Twilio) too; its id.
    async fn add_number(&mut self, number: &str) -> Value {
        self.fake.provision_number(number);
        let added = self
            .admin
            .run(
                "mutation($number: String!) { addProviderNumber(number: $number) { id } }",
                json!({ "number": number }),
            )
            .await;
        let id = added["data"]["addProviderNumber"]["id"].clone();
        assert!(id.is_string(), "{added}");
        id
    }

    /// Stops using the clinic's number `id`.
    async fn remove_number(&mut self, id: &Value) {
        let removed = self
            .admin
            .run(
                "mutation($id: ID!) { removeProviderNumber(id: $id) }",
                json!({ "id": id }),
            )
            .await;
        assert!(removed["errors"].is_null(), "{removed}");
    }

    /// Staff answer the open conversation with the caller whose number ends `tail` (as shown).
    async fn reply_to(&mut self, tail: &str) {
        let threads = self
            .admin
            .run(
                "{ conversations(status: OPEN) { id callerTail } }",
                json!({}),
            )
            .await;
        let id = threads["data"]["conversations"]
            .as_array()
            .expect("conversations")
            .iter()
            .find(|thread| thread["callerTail"] == tail)
            .and_then(|thread| thread["id"].as_str())
            .expect("the caller's conversation")
            .to_owned();
        let replied = self
            .admin
            .run(
                "mutation($id: ID!) { replyToConversation(id: $id, body: \"Monday 9am is free\") { id } }",
                json!({ "id": id }),
            )
            .await;
        assert!(replied["errors"].is_null(), "{replied}");
    }

    /// A worker whose client gives up after `timeout`, retrying quickly.
    fn worker(&self, name: &str, settings: WorkerSettings) -> Worker {
        crate::common::app::worker_for(&self.state, &self.fake, name, settings)
    }

    /// The text-back status of the missed call from the caller whose number ends `tail` (as
    /// shown: `•••• 151`).
    async fn text_back_of(&mut self, tail: &str) -> Option<String> {
        let calls = self.admin.run(CALLS, json!({})).await;
        text_back_status(&calls, tail)
    }

    /// The first dead letter `deadLetters` lists, with these `fields`.
    async fn first_dead_letter(&mut self, fields: &str) -> Value {
        let dead = self
            .admin
            .run(&format!("{{ deadLetters {{ {fields} }} }}"), json!({}))
            .await;
        dead["data"]["deadLetters"][0].clone()
    }

    /// Requeues the dead letter `letter` (as `deadLetters` lists it, with its id).
    async fn retry(&mut self, letter: &Value) {
        let id = letter["id"].as_str().expect("id");
        let retried = self
            .admin
            .run(
                "mutation($id: ID!) { retryDeadLetter(id: $id) }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(retried["data"]["retryDeadLetter"], id, "{retried}");
    }

    async fn missed_call(&self, sid: &str, from: &str) {
        self.missed_call_to(sid, from, CLINIC_NUMBER).await;
    }

    /// A call from `from` to the clinic's number `to` that nobody answered.
    async fn missed_call_to(&self, sid: &str, from: &str, to: &str) {
        let (status, _) = post(
            &self.twilio,
            "/webhooks/twilio/dial-status",
            &missed_call(sid, from, to),
            None,
        )
        .await;
        assert_eq!(status, poem::http::StatusCode::OK);
    }

    async fn text(&self, sid: &str, from: &str, body: &str) -> String {
        let (status, twiml) = post(
            &self.twilio,
            "/webhooks/twilio/sms",
            &text_from(sid, from, CLINIC_NUMBER, body),
            None,
        )
        .await;
        assert_eq!(status, poem::http::StatusCode::OK);
        twiml
    }

    /// Logs an answered staff callback to the caller whose missed call shows `tail`.
    async fn reached_by_a_callback(&mut self, tail: &str) {
        let listed = self
            .admin
            .run(
                "{ calls(first: 10, filter: { missed: true }) { edges { node { id callerTail } } } }",
                json!({}),
            )
            .await;
        let missed = listed["data"]["calls"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|edge| edge["node"]["callerTail"] == tail)
            .and_then(|edge| edge["node"]["id"].as_str())
            .unwrap_or_else(|| panic!("no missed call shows {tail}: {listed}"))
            .to_owned();
        let logged = self
            .admin
            .run(
                "mutation($id: ID!) { logCallback(callId: $id, status: ANSWERED) { id } }",
                json!({ "id": missed }),
            )
            .await;
        assert!(logged["errors"].is_null(), "{logged}");
    }

    /// How many jobs have each status.
    async fn job_statuses(&self) -> Vec<(String, String)> {
        self.test_db
            .query_strings(
                "SELECT status, count(*) || '' AS n FROM job_outbox GROUP BY status ORDER BY status",
                &["status", "n"],
            )
            .await
            .into_iter()
            .map(|row| (row[0].clone(), row[1].clone()))
            .collect()
    }

    async fn count(&self, sql: &str) -> usize {
        self.test_db.query_strings(sql, &["n"]).await[0][0]
            .parse()
            .expect("a count")
    }

    /// Runs `worker` until no job is pending or claimed (each pass waits for the next retry).
    async fn drain(&self, worker: &Worker) {
        for _ in 0..400 {
            worker.run_once().await.expect("worker pass");
            let open = self
                .count(
                    "SELECT count(*) || '' AS n FROM job_outbox WHERE status IN ('pending', 'claimed')",
                )
                .await;
            if open == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("jobs still open: {:?}", self.job_statuses().await);
    }

    /// Waits until the GraphQL `query` answers something `done` accepts.
    async fn until(&mut self, query: &str, done: impl Fn(&Value) -> bool) -> Value {
        let mut last = Value::Null;
        for _ in 0..250 {
            last = self.admin.run(query, json!({})).await;
            if done(&last) {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("condition never held; last answer: {last}");
    }

    async fn finish(self) {
        self.test_db.finish().await;
    }
}

/// Quick retries, for tests.
fn fast() -> WorkerSettings {
    crate::common::app::quick_retries()
}

fn to(messages: &[FakeMessage], number: &str) -> Vec<FakeMessage> {
    messages
        .iter()
        .filter(|message| message.to == number)
        .cloned()
        .collect()
}

const CALLS: &str = "{ calls(first: 50, filter: { missed: true }) { edges { node { callerTail textBackStatus } } } }";

fn text_back_status(answer: &Value, tail: &str) -> Option<String> {
    answer["data"]["calls"]["edges"]
        .as_array()?
        .iter()
        .find(|edge| edge["node"]["callerTail"] == tail)
        .and_then(|edge| edge["node"]["textBackStatus"].as_str().map(str::to_owned))
}

async fn round_trip(kind: DatabaseKind) {
    let (logs, _logging) = crate::common::logs::capture();

    let mut rig = Rig::new(kind, "text_back").await;
    // The latest 11:00 in London: the holiday below is that day and "open all day" is open,
    // whenever the test runs. The clock only moves back, so the session signed in a moment ago
    // stays valid (moving it hours ahead would expire it).
    let now = rig.state.clock.now().with_timezone(&London);
    let today = if now.hour() >= 11 {
        now.date_naive()
    } else {
        now.date_naive() - chrono::Duration::days(1)
    };
    let mid_morning = London
        .from_local_datetime(&today.and_hms_opt(11, 0, 0).expect("a time of day"))
        .single()
        .expect("11:00 happens once every day in London");
    rig.test_db.clock.set(mid_morning.to_utc());
    let worker = rig.worker("worker-a", fast());
    let today = today.to_string();
    let settings = rig
        .admin
        .run(
            "mutation($today: NaiveDate!) { updatePhoneSettings(input: { bookingLink: \"https://book.example.test/bright\", \
             businessHoursTemplate: \"Open: {clinic} missed you. Book at {booking_link}\", \
             afterHoursTemplate: \"Closed: {clinic} will call you back. Book at {booking_link}\", \
             holidays: [$today] }) { afterHoursTemplate holidays } }",
            json!({ "today": today }),
        )
        .await;
    assert!(settings["errors"].is_null(), "{settings}");

    // Today is a holiday: the after-hours wording, from the clinic's number.
    rig.missed_call("CA1", "+447700900123").await;
    worker.run_once().await.expect("worker pass");
    let sent = rig.fake.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "+447700900123");
    assert_eq!(sent[0].from, CLINIC_NUMBER);
    assert_eq!(
        sent[0].body,
        "Closed: Bright Smile will call you back. Book at https://book.example.test/bright (Automated text)"
    );
    assert_eq!(
        sent[0].status_callback.as_deref(),
        Some(format!("{PUBLIC_URL}/webhooks/twilio/sms-status").as_str())
    );
    rig.until(CALLS, |answer| {
        text_back_status(answer, "•••• 123").as_deref() == Some("delivered")
    })
    .await;

    // Open every day, no holiday: the business-hours wording.
    let open_all_day = open_all_day();
    let reopened = rig
        .admin
        .run(
            "mutation($hours: [DayHoursInput!]!) { updatePhoneSettings(input: { holidays: [], businessHours: $hours }) { holidays } }",
            json!({ "hours": open_all_day }),
        )
        .await;
    assert!(reopened["errors"].is_null(), "{reopened}");
    rig.missed_call("CA2", "+447700900124").await;
    worker.run_once().await.expect("worker pass");
    let second = to(&rig.fake.messages(), "+447700900124");
    assert_eq!(second.len(), 1);
    assert!(
        second[0].body.starts_with("Open: Bright Smile missed you."),
        "{}",
        second[0].body
    );

    // The caller answers; staff reply from the inbox; the reply reaches the provider.
    rig.text("SMR1", "+447700900123", "Can I come at 3?").await;
    let inbox = rig
        .admin
        .run("{ conversations(status: OPEN) { id callerTail canReply messages { kind direction body status } } }", json!({}))
        .await;
    let thread = inbox["data"]["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .find(|c| c["callerTail"] == "•••• 123")
        .cloned()
        .expect("the caller's conversation");
    assert_eq!(thread["canReply"], true);
    let kinds: Vec<&str> = thread["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|m| m["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["TEXT_BACK", "REPLY"]);
    assert_eq!(thread["messages"][1]["body"], "Can I come at 3?");
    let id = thread["id"].as_str().expect("id").to_owned();
    let replied = rig
        .admin
        .run(
            "mutation($id: ID!) { replyToConversation(id: $id, body: \"Yes, 3pm works. See you then.\") { status kind } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        replied["data"]["replyToConversation"]["status"], "queued",
        "{replied}"
    );
    worker.run_once().await.expect("worker pass");
    let to_caller = to(&rig.fake.messages(), "+447700900123");
    assert_eq!(to_caller.len(), 2);
    assert_eq!(to_caller[1].body, "Yes, 3pm works. See you then.");
    let query = format!("{{ conversation(id: \"{id}\") {{ messages {{ kind status }} }} }}");
    rig.until(&query, |answer| {
        answer["data"]["conversation"]["messages"][2]["status"] == "delivered"
    })
    .await;

    // Assignment to a team member only, closing, and STOP ends staff texts.
    let me = rig.admin.run("{ me { user { id } } }", json!({})).await;
    let me = me["data"]["me"]["user"]["id"]
        .as_str()
        .expect("my id")
        .to_owned();
    let assigned = rig
        .admin
        .run(
            "mutation($id: ID!, $member: ID) { assignConversation(id: $id, memberId: $member) { assignedTo } }",
            json!({ "id": id, "member": me }),
        )
        .await;
    assert_eq!(
        assigned["data"]["assignConversation"]["assignedTo"],
        me.as_str()
    );
    let stranger = rig
        .admin
        .run(
            "mutation($id: ID!, $member: ID) { assignConversation(id: $id, memberId: $member) { assignedTo } }",
            json!({ "id": id, "member": "0192f000-0000-7000-8000-000000000000" }),
        )
        .await;
    assert_eq!(error_code(&stranger), Some("BAD_USER_INPUT"), "{stranger}");
    let closed = rig
        .admin
        .run(
            "mutation($id: ID!) { closeConversation(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(closed["data"]["closeConversation"]["status"], "CLOSED");
    let confirmation = rig.text("SMR2", "+447700900123", "STOP").await;
    assert!(confirmation.contains("no more texts"), "{confirmation}");
    let refused = rig
        .admin
        .run(
            "mutation($id: ID!) { replyToConversation(id: $id, body: \"Still there?\") { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&refused), Some("CONFLICT"), "{refused}");
    assert_eq!(to(&rig.fake.messages(), "+447700900123").len(), 2);

    // Finished jobs keep no number and no text; text_back mode keeps the number on the thread.
    assert_eq!(
        rig.job_statuses().await,
        [("done".to_owned(), "3".to_owned())]
    );
    assert_eq!(
        rig.count("SELECT count(*) || '' AS n FROM job_outbox WHERE sealed_number IS NOT NULL OR body_sealed IS NOT NULL")
            .await,
        0
    );
    assert!(
        rig.count("SELECT count(*) || '' AS n FROM conversations WHERE number_sealed IS NOT NULL")
            .await
            >= 1
    );

    // No test number, in any spelling, in the database or the logs; no message text in clear.
    let stored = rig
        .test_db
        .stored_text(&[
            "calls",
            "job_outbox",
            "messages",
            "conversations",
            "opt_outs",
            "audit_log",
            "provider_numbers",
            "clinics",
        ])
        .await;
    let logged = logs.text();
    println!("captured {} bytes of logs", logged.len());
    assert!(
        logged.contains("dashboard not built") && logged.contains("hyper_util"),
        "the server's logs, down to the provider client's connections, were captured"
    );
    for number in ["+447700900123", "+447700900124", CLINIC_NUMBER] {
        for spelling in crate::common::logs::spellings(number) {
            assert!(!stored.contains(&spelling), "{spelling} stored in clear");
            assert!(!logged.contains(&spelling), "{spelling} logged");
        }
    }
    assert!(
        !stored.contains("Can I come at 3"),
        "message text stored in clear"
    );
    rig.finish().await;
}

async fn strict_mode_keeps_no_number(kind: DatabaseKind) {
    let mut rig = Rig::new(kind, "strict").await;
    let worker = rig.worker("worker-a", fast());
    rig.missed_call("CA1", "+447700900123").await;
    assert_eq!(
        rig.count("SELECT count(*) || '' AS n FROM job_outbox WHERE sealed_number IS NOT NULL")
            .await,
        1,
        "the number waits sealed in the job"
    );
    worker.run_once().await.expect("worker pass");
    assert_eq!(rig.fake.messages().len(), 1);
    rig.text("SMR1", "+447700900123", "Hello?").await;
    assert_eq!(
        rig.count("SELECT count(*) || '' AS n FROM job_outbox WHERE sealed_number IS NOT NULL")
            .await,
        0,
        "sent: the sealed number is destroyed"
    );
    assert_eq!(
        rig.count("SELECT count(*) || '' AS n FROM conversations WHERE number_sealed IS NOT NULL")
            .await,
        0,
        "strict mode keeps no number with the conversation"
    );
    let inbox = rig
        .admin
        .run("{ conversations { id canReply } }", json!({}))
        .await;
    assert_eq!(inbox["data"]["conversations"][0]["canReply"], false);
    let id = inbox["data"]["conversations"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let refused = rig
        .admin
        .run(
            "mutation($id: ID!) { replyToConversation(id: $id, body: \"Hi\") { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&refused), Some("CONFLICT"), "{refused}");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("strict")
    );
    rig.finish().await;
}

async fn outage_delivers_everything_once(kind: DatabaseKind) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_test_writer()
        .try_init();
    let rig = Rig::new(kind, "strict").await;
    let callers: Vec<String> = (130..136).map(|n| format!("+447700900{n}")).collect();
    for (index, caller) in callers.iter().enumerate() {
        rig.missed_call(&format!("CA{index}"), caller).await;
    }
    // Errors, answers that come too late (the text was accepted: in doubt), and hangs.
    rig.fake.fail_next([
        Failure::ServerError,
        Failure::AcceptThenStall(Duration::from_millis(800)),
        Failure::Stall(Duration::from_millis(800)),
        Failure::ServerError,
        Failure::AcceptThenStall(Duration::from_millis(800)),
        Failure::ServerError,
        Failure::Stall(Duration::from_millis(800)),
        Failure::AcceptThenStall(Duration::from_millis(800)),
        Failure::ServerError,
    ]);
    let worker = rig.worker(
        "worker-a",
        WorkerSettings {
            max_attempts: 20,
            ..fast()
        },
    );
    rig.drain(&worker).await;
    let sent = rig.fake.messages();
    for caller in &callers {
        assert_eq!(to(&sent, caller).len(), 1, "{caller} texted exactly once");
    }
    assert_eq!(sent.len(), callers.len());
    assert_eq!(
        rig.job_statuses().await,
        [("done".to_owned(), "6".to_owned())]
    );
    assert_eq!(
        rig.count("SELECT count(*) || '' AS n FROM messages WHERE kind = 'text_back'")
            .await,
        6,
        "one text-back message recorded per caller"
    );
    assert!(
        rig.count("SELECT max(attempts) || '' AS n FROM job_outbox")
            .await
            > 1,
        "the outage forced retries"
    );
    rig.finish().await;
}

/// The clinic's wording has curly quotes and a dash, which Twilio's Smart Encoding rewrites in
/// the copy it keeps: an in-doubt text-back is still recognised there and not sent again.
async fn smart_encoded_copy_is_not_sent_again(kind: DatabaseKind) {
    let mut rig = Rig::new(kind, "strict").await;
    let wording =
        "Sorry we missed you \u{2014} it\u{2019}s {clinic}. Reply \u{201c}CALL\u{201d}\u{2026}";
    let saved = rig
        .admin
        .run(
            "mutation($t: String!) { updatePhoneSettings(input: { businessHoursTemplate: $t, afterHoursTemplate: $t }) { textBackEnabled } }",
            json!({ "t": wording }),
        )
        .await;
    assert!(saved["errors"].is_null(), "{saved}");
    rig.fake.smart_encoding(true);
    rig.missed_call("CA1", "+447700900161").await;
    rig.fake
        .fail_next([Failure::AcceptThenStall(Duration::from_millis(800))]);
    let worker = rig.worker(
        "worker-a",
        WorkerSettings {
            max_attempts: 5,
            ..fast()
        },
    );
    rig.drain(&worker).await;
    let sent = rig.fake.messages();
    assert_eq!(to(&sent, "+447700900161").len(), 1, "texted exactly once");
    assert!(
        sent[0].body.contains("it's") && sent[0].body.contains("\"CALL\"..."),
        "the provider rewrote the text: {}",
        sent[0].body
    );
    assert_eq!(
        rig.job_statuses().await,
        [("done".to_owned(), "1".to_owned())]
    );
    rig.finish().await;
}

async fn crash_between_send_and_commit(kind: DatabaseKind) {
    let rig = Rig::new(kind, "strict").await;
    let crashing = rig.worker("worker-crashes", fast());
    // Crash after the provider accepted the text, before its outcome was stored.
    rig.missed_call("CA1", "+447700900141").await;
    let claimed = crashing.claim().await.expect("claim");
    assert_eq!(claimed.len(), 1);
    let _lost = crashing.perform(claimed[0]).await.expect("sent");
    assert_eq!(rig.fake.messages().len(), 1);
    // Crash after claiming, before sending anything.
    rig.missed_call("CA2", "+447700900142").await;
    assert_eq!(crashing.claim().await.expect("claim").len(), 1);
    drop(crashing);

    // Another worker takes over both stale claims (lease zero: every claim is stale).
    let survivor = rig.worker(
        "worker-survives",
        WorkerSettings {
            lease: Duration::ZERO,
            ..fast()
        },
    );
    rig.drain(&survivor).await;
    let sent = rig.fake.messages();
    assert_eq!(to(&sent, "+447700900141").len(), 1, "not sent twice");
    assert_eq!(to(&sent, "+447700900142").len(), 1, "still sent");
    assert_eq!(
        rig.job_statuses().await,
        [("done".to_owned(), "2".to_owned())]
    );
    rig.finish().await;
}

/// A worker dies on the last allowed attempt of two text-backs, after the provider took the first
/// and before it sent the second: the next claims give both up without another attempt, asking
/// the provider first. The text it has is recorded as sent, dated when the provider took it
/// (also when its caller has sent STOP since: they got it); the other is a dead letter whose call shows the text-back as failed (the
/// front desk calls back) and, retried, is sent once.
async fn texts_whose_last_attempt_never_settled_are_given_up(kind: DatabaseKind) {
    let mut rig = Rig::new(kind, "strict").await;
    let last_attempt = |name: &str, lease: Duration| {
        rig.worker(
            name,
            WorkerSettings {
                max_attempts: 1,
                lease,
                ..fast()
            },
        )
    };
    let crashing = last_attempt("worker-crashes", WorkerSettings::default().lease);
    rig.missed_call("CA1", "+447700900171").await;
    let claimed = crashing.claim().await.expect("claim");
    assert_eq!(claimed.len(), 1);
    let _lost = crashing.perform(claimed[0]).await.expect("sent");
    rig.missed_call("CA2", "+447700900172").await;
    assert_eq!(crashing.claim().await.expect("claim").len(), 1);
    drop(crashing);
    rig.text("SMstop171", "+447700900171", "STOP").await;
    rig.test_db.clock.advance(chrono::Duration::minutes(5));

    let survivor = last_attempt("worker-survives", Duration::ZERO);
    rig.drain(&survivor).await;
    assert_eq!(rig.fake.messages().len(), 1, "nothing sent again");
    assert!(matches!(
        rig.text_back_of("•••• 171").await.as_deref(),
        Some("sent" | "delivered")
    ));
    let dated = rig
        .test_db
        .query_strings(
            "SELECT CASE WHEN m.created_at < j.updated_at THEN 'before' ELSE 'not before' END \
             AS dated FROM messages m JOIN job_outbox j \
             ON j.provider_message_id = m.provider_message_id WHERE m.kind = 'text_back'",
            &["dated"],
        )
        .await;
    assert_eq!(dated, [["before"]], "dated when the provider took it");
    assert_eq!(
        rig.text_back_of("•••• 172").await.as_deref(),
        Some("failed")
    );
    let letter = rig.first_dead_letter("id attempts lastError").await;
    assert_eq!(letter["attempts"], 1, "{letter}");
    assert_eq!(
        letter["lastError"],
        "gave up: the last attempt never settled"
    );

    rig.retry(&letter).await;
    rig.drain(&rig.worker("worker-retries", fast())).await;
    let sent = rig.fake.messages();
    assert_eq!(to(&sent, "+447700900171").len(), 1, "sent once");
    assert_eq!(to(&sent, "+447700900172").len(), 1, "sent once, retried");
    assert!(matches!(
        rig.text_back_of("•••• 172").await.as_deref(),
        Some("sent" | "delivered")
    ));
    assert_eq!(
        rig.job_statuses().await,
        [("done".to_owned(), "2".to_owned())]
    );
    rig.finish().await;
}

async fn dead_letters_show_and_retry(kind: DatabaseKind) {
    let mut rig = Rig::new(kind, "strict").await;
    rig.missed_call("CA1", "+447700900151").await;
    rig.fake
        .fail_next([Failure::ServerError, Failure::ServerError]);
    let worker = rig.worker(
        "worker-a",
        WorkerSettings {
            max_attempts: 2,
            ..fast()
        },
    );
    rig.drain(&worker).await;
    assert!(rig.fake.messages().is_empty());
    let letter = rig
        .first_dead_letter("id kind attempts lastError callId")
        .await;
    assert_eq!(letter["kind"], "text_back", "{letter}");
    assert_eq!(letter["attempts"], 2);
    assert_eq!(
        letter["lastError"],
        "the provider is unavailable (HTTP 500)"
    );
    assert!(letter["callId"].is_string());
    assert_eq!(
        rig.text_back_of("•••• 151").await.as_deref(),
        Some("failed")
    );

    rig.retry(&letter).await;
    rig.drain(&worker).await;
    assert_eq!(rig.fake.messages().len(), 1);
    assert!(matches!(
        rig.text_back_of("•••• 151").await.as_deref(),
        Some("sent" | "delivered")
    ));
    let none = rig.admin.run("{ deadLetters { id } }", json!({})).await;
    assert_eq!(none["data"]["deadLetters"], json!([]));
    rig.finish().await;
}

/// A caller who opted out with the provider (a STOP we never saw) is refused by it: the text is
/// cancelled as opted out, not a dead letter, the caller joins the clinic's opt-out list, and
/// their next missed call is not texted at all. A number that cannot receive texts is a landline.
async fn a_recipient_unsubscribed_with_the_provider_is_opted_out(kind: DatabaseKind) {
    let mut rig = Rig::new(kind, "text_back").await;
    rig.fake.fail_next([Failure::Unsubscribed]);
    rig.missed_call("CA1", "+447700900181").await;
    let worker = rig.worker("worker-a", fast());
    rig.drain(&worker).await;
    assert!(rig.fake.messages().is_empty());
    assert_eq!(
        rig.text_back_of("•••• 181").await.as_deref(),
        Some("skipped:opted_out")
    );
    assert_eq!(rig.first_dead_letter("id").await, Value::Null);
    assert_eq!(
        rig.count("SELECT count(*) || '' AS n FROM opt_outs").await,
        1
    );

    rig.missed_call("CA2", "+447700900181").await;
    rig.drain(&worker).await;
    assert!(rig.fake.messages().is_empty(), "texted after opting out");

    // A number the provider says is no mobile is a landline, not a dead letter either.
    rig.fake.fail_next([Failure::NotMobile]);
    rig.missed_call("CA3", "+447700900182").await;
    rig.drain(&worker).await;
    assert_eq!(
        rig.text_back_of("•••• 182").await.as_deref(),
        Some("skipped:landline")
    );
    assert_eq!(rig.first_dead_letter("id").await, Value::Null);

    // A country the clinic texts but the provider account may not (its geographic permissions;
    // a Crown Dependency's mobile on an account that texts the UK only) is another country's
    // number, not a dead letter either…
    let listed = rig
        .admin
        .run(
            "mutation { updatePhoneSettings(input: { smsCountries: [\"GB\", \"AU\"] }) \
             { smsCountries } }",
            json!({}),
        )
        .await;
    assert!(listed["errors"].is_null(), "{listed}");
    rig.fake.fail_next([Failure::CountryNotPermitted]);
    rig.missed_call("CA4", "+61491570183").await;
    rig.drain(&worker).await;
    assert_eq!(
        rig.text_back_of("•••• 183").await.as_deref(),
        Some("skipped:other_country")
    );
    assert_eq!(rig.first_dead_letter("id").await, Value::Null);
    // …but an account that may not text the clinic's own country is misconfigured: a dead
    // letter for an admin to see.
    rig.fake.fail_next([Failure::CountryNotPermitted]);
    rig.missed_call("CA5", "+447700900184").await;
    rig.drain(&worker).await;
    assert_eq!(
        rig.text_back_of("•••• 184").await.as_deref(),
        Some("failed")
    );
    assert_ne!(rig.first_dead_letter("id").await, Value::Null);
    rig.finish().await;
}

/// A text the provider could not deliver shows why, on the call (whichever came first, the
/// report or the provider's answer to the send) and on the message in its conversation.
async fn an_undelivered_text_back_says_why(kind: DatabaseKind) {
    let mut rig = Rig::new(kind, "text_back").await;
    let worker = rig.worker("worker-a", fast());
    rig.fake.fail_next([Failure::Undelivered(30003)]);
    rig.missed_call("CA1", "+447700900191").await;
    rig.drain(&worker).await;
    rig.fake
        .fail_next([Failure::UndeliveredReportedFirst(30006)]);
    rig.missed_call("CA2", "+447700900192").await;
    rig.drain(&worker).await;
    let query = "{ calls(first: 50, filter: { missed: true }) { edges { node { callerTail textBackStatus textBackError } } } }";
    let answer = rig
        .until(query, |answer| {
            answer["data"]["calls"]["edges"]
                .as_array()
                .is_some_and(|edges| {
                    edges.len() == 2 && edges.iter().all(|e| e["node"]["textBackError"].is_i64())
                })
        })
        .await;
    let mut shown: Vec<(String, String, i64)> = answer["data"]["calls"]["edges"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|edge| {
            let node = &edge["node"];
            (
                node["callerTail"].as_str().unwrap_or_default().to_owned(),
                node["textBackStatus"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                node["textBackError"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    shown.sort();
    assert_eq!(
        shown,
        [
            ("•••• 191".to_owned(), "undelivered".to_owned(), 30003),
            ("•••• 192".to_owned(), "undelivered".to_owned(), 30006),
        ]
    );
    let threads = rig
        .admin
        .run(
            "{ conversations { messages { status deliveryError } } }",
            json!({}),
        )
        .await;
    let mut errors: Vec<i64> = threads["data"]["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .flat_map(|thread| thread["messages"].as_array().cloned().unwrap_or_default())
        .map(|message| {
            assert_eq!(message["status"], "undelivered", "{threads}");
            message["deliveryError"].as_i64().expect("a code")
        })
        .collect();
    errors.sort_unstable();
    assert_eq!(errors, [30003, 30006]);
    rig.finish().await;
}

/// A clinic with two numbers answers each caller from the number they last rang or texted: the
/// text-back from the number the missed call came in on, a staff reply from the one the caller
/// last wrote to; once that number is removed, from the oldest one left.
async fn callers_are_answered_from_the_number_they_reached(kind: DatabaseKind) {
    let mut rig = Rig::new(kind, "text_back").await;
    let second_id = rig.add_second_number().await;
    let worker = rig.worker("worker-a", fast());

    // Caller 201 rings the second number: texted back from it.
    let (status, _) = post(
        &rig.twilio,
        "/webhooks/twilio/dial-status",
        &missed_call("CA1", "+447700900201", SECOND_NUMBER),
        None,
    )
    .await;
    assert_eq!(status, poem::http::StatusCode::OK);
    rig.drain(&worker).await;
    assert_eq!(senders(&rig.fake, "+447700900201"), [SECOND_NUMBER]);

    // They then write to the first number: the staff reply goes from that one.
    rig.text("SM201", "+447700900201", "Can I book for Monday?")
        .await;
    rig.reply_to("•••• 201").await;
    rig.drain(&worker).await;
    assert_eq!(
        senders(&rig.fake, "+447700900201"),
        [SECOND_NUMBER, CLINIC_NUMBER]
    );

    // Caller 202 rings the second number, which the clinic then gives up: answered from the first.
    post(
        &rig.twilio,
        "/webhooks/twilio/dial-status",
        &missed_call("CA2", "+447700900202", SECOND_NUMBER),
        None,
    )
    .await;
    rig.drain(&worker).await;
    rig.remove_number(&second_id).await;
    rig.reply_to("•••• 202").await;
    rig.drain(&worker).await;
    assert_eq!(
        senders(&rig.fake, "+447700900202"),
        [SECOND_NUMBER, CLINIC_NUMBER]
    );
    rig.finish().await;
}

/// The numbers texts to `number` went from, in order.
fn senders(fake: &FakeTwilio, number: &str) -> Vec<String> {
    to(&fake.messages(), number)
        .into_iter()
        .map(|message| message.from)
        .collect()
}

/// A caller's HELP to a number the clinic stopped using is answered and kept, but does not make
/// that number the one they last reached: staff's reply goes from the number the caller rang
/// before, not from the clinic's oldest.
async fn a_keyword_to_a_number_given_up_leaves_the_callers_number(kind: DatabaseKind) {
    let mut rig = Rig::new(kind, "text_back").await;
    rig.add_second_number().await;
    let third_id = rig.add_number(THIRD_NUMBER).await;
    let worker = rig.worker("worker-a", fast());
    rig.missed_call_to("CA3", "+447700900203", SECOND_NUMBER)
        .await;
    rig.drain(&worker).await;
    assert_eq!(senders(&rig.fake, "+447700900203"), [SECOND_NUMBER]);

    rig.remove_number(&third_id).await;
    let (status, twiml) = post(
        &rig.twilio,
        "/webhooks/twilio/sms",
        &text_from("SM203", "+447700900203", THIRD_NUMBER, "HELP"),
        None,
    )
    .await;
    assert_eq!(status, poem::http::StatusCode::OK);
    assert!(twiml.contains("<Message"), "HELP is answered: {twiml}");
    let kept = rig
        .count("SELECT count(*) || '' AS n FROM messages WHERE kind = 'keyword'")
        .await;
    assert_eq!(kept, 1, "the keyword is kept");

    rig.reply_to("•••• 203").await;
    rig.drain(&worker).await;
    assert_eq!(
        senders(&rig.fake, "+447700900203"),
        [SECOND_NUMBER, SECOND_NUMBER]
    );
    rig.finish().await;
}

/// A text whose first attempt may have gone keeps the number it went from: the retry looks for
/// it at the provider from that number (and finds it) even when the caller's history would now
/// choose another, so the caller is texted once.
async fn a_text_in_doubt_keeps_its_sending_number(kind: DatabaseKind) {
    let mut rig = Rig::new(kind, "text_back").await;
    rig.add_second_number().await;
    let (status, _) = post(
        &rig.twilio,
        "/webhooks/twilio/sms",
        &text_from("SM211", "+447700900211", SECOND_NUMBER, "Is Friday free?"),
        None,
    )
    .await;
    assert_eq!(status, poem::http::StatusCode::OK);
    let threads = rig.admin.run("{ conversations { id } }", json!({})).await;
    let id = threads["data"]["conversations"][0]["id"].clone();
    let replied = rig
        .admin
        .run(
            "mutation($id: ID!) { replyToConversation(id: $id, body: \"Friday 10am is free\") { id } }",
            json!({ "id": id }),
        )
        .await;
    assert!(replied["errors"].is_null(), "{replied}");
    // The provider takes the text but answers too late: the attempt is in doubt.
    rig.fake
        .fail_next([Failure::AcceptThenStall(Duration::from_millis(800))]);
    let worker = rig.worker("worker-a", fast());
    worker.run_once().await.expect("worker pass");
    assert_eq!(rig.fake.messages().len(), 1);
    // The caller's history no longer says which number they wrote to (as after a re-keying).
    rig.test_db
        .execute_as_owner("UPDATE messages SET provider_number_id = NULL")
        .await;
    rig.drain(&worker).await;
    let sent = to(&rig.fake.messages(), "+447700900211");
    assert_eq!(sent.len(), 1, "texted once");
    assert_eq!(sent[0].from, SECOND_NUMBER);
    assert_eq!(
        rig.job_statuses().await,
        [("done".to_owned(), "1".to_owned())]
    );
    rig.finish().await;
}

#[tokio::test]
async fn the_client_speaks_twilios_wire_format() {
    use ringback_api::integrations::sms::{OutgoingSms, ProviderError, SmsProvider};
    let fake = FakeTwilio::start(ACCOUNT_SID, TWILIO_AUTH_TOKEN)
        .await
        .expect("fake Twilio starts");
    fake.send_status_callbacks(false);
    let client = |token: &str| {
        let account = TwilioAccount {
            api_url: fake.api_url().to_owned(),
            account_sid: ACCOUNT_SID.to_owned(),
            auth_token: SecretString::new(token),
        };
        TwilioClient::new(account, Duration::from_secs(2)).expect("client")
    };
    let message = OutgoingSms {
        to: "+447700900161".to_owned(),
        from: CLINIC_NUMBER.to_owned(),
        body: "Hello from the clinic".to_owned(),
        status_callback: format!("{PUBLIC_URL}/webhooks/twilio/sms-status"),
    };
    let refused = client("wrong-token").send(&message).await;
    assert_eq!(
        refused,
        Err(ProviderError::Refused {
            status: 401,
            code: Some(20003)
        })
    );
    let bad_number = OutgoingSms {
        to: "07700 900161".to_owned(),
        ..message.clone()
    };
    assert_eq!(
        client(TWILIO_AUTH_TOKEN).send(&bad_number).await,
        Err(ProviderError::Refused {
            status: 400,
            code: Some(21211)
        })
    );
    let since = Utc::now() - chrono::Duration::seconds(5);
    let sent = client(TWILIO_AUTH_TOKEN)
        .send(&message)
        .await
        .expect("sent");
    assert!(sent.provider_id.starts_with("SM") && sent.provider_id.len() == 34);
    assert_eq!(sent.status, "queued");
    let listed = client(TWILIO_AUTH_TOKEN)
        .sent_since("+447700900161", CLINIC_NUMBER, since)
        .await
        .expect("listed");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].provider_id, sent.provider_id);
    assert_eq!(listed[0].body, "Hello from the clinic");
    let other = client(TWILIO_AUTH_TOKEN)
        .sent_since("+447700900162", CLINIC_NUMBER, since)
        .await
        .expect("listed");
    assert!(other.is_empty(), "the list is filtered by recipient");
    let later = client(TWILIO_AUTH_TOKEN)
        .sent_since(
            "+447700900161",
            CLINIC_NUMBER,
            Utc::now() + chrono::Duration::minutes(5),
        )
        .await
        .expect("listed");
    assert!(later.is_empty(), "older messages are left out");
}

/// Business hours open around the clock, every day.
fn open_all_day() -> Vec<Value> {
    [
        "MONDAY",
        "TUESDAY",
        "WEDNESDAY",
        "THURSDAY",
        "FRIDAY",
        "SATURDAY",
        "SUNDAY",
    ]
    .iter()
    .map(|day| json!({ "weekday": day, "spans": [{ "opens": "00:00", "closes": "23:59" }] }))
    .collect()
}

/// The clinic open around the clock, texting back `delay_seconds` after a missed call.
async fn open_all_day_with_delay(rig: &mut Rig, delay_seconds: u32) {
    let hours = open_all_day();
    let set = rig
        .admin
        .run(
            "mutation($hours: [DayHoursInput!]!, $delay: Int!) { updatePhoneSettings(input: \
             { businessHours: $hours, textBackDelaySeconds: $delay }) { textBackDelaySeconds } }",
            json!({ "hours": hours, "delay": delay_seconds }),
        )
        .await;
    assert!(set["errors"].is_null(), "{set}");
}

/// A text-back that could not go within a day of its missed call (the provider down, a worker
/// that never ran) is not sent: the call says it was too old. One whose time has come goes.
async fn a_text_back_a_day_late_is_not_sent(kind: DatabaseKind) {
    let rig = Rig::new(kind, "text_back").await;
    rig.missed_call("CA1", "+447700900193").await;
    rig.test_db.clock.advance(chrono::Duration::hours(25));
    rig.missed_call("CA2", "+447700900195").await;
    rig.drain(&rig.worker("worker-a", fast())).await;
    let sent = rig.fake.messages();
    assert_eq!(to(&sent, "+447700900193").len(), 0, "a day late: {sent:?}");
    assert_eq!(to(&sent, "+447700900195").len(), 1);
    // Read as the tables' owner: the day gone by ended the admin's session.
    let statuses = rig
        .test_db
        .query_strings(
            "SELECT caller_tail, text_back_status FROM calls ORDER BY started_at",
            &["caller_tail", "text_back_status"],
        )
        .await;
    assert_eq!(statuses[0][1], "skipped:too_old", "{statuses:?}");
    assert_ne!(statuses[1][1], "skipped:too_old", "{statuses:?}");
    rig.finish().await;
}

/// A caller staff reach while their text-back waits for the clinic's delay is not told "sorry we
/// missed you": the text is held back as spoken with; a caller nobody reached gets theirs.
async fn a_caller_reached_during_the_delay_is_not_texted(kind: DatabaseKind) {
    let mut rig = Rig::new(kind, "text_back").await;
    open_all_day_with_delay(&mut rig, 2).await;
    rig.missed_call("CA1", "+447700900191").await;
    rig.missed_call("CA2", "+447700900192").await;
    rig.reached_by_a_callback("•••• 191").await;
    let worker = rig.worker("worker-a", fast());
    for _ in 0..500 {
        worker.run_once().await.expect("worker pass");
        if rig
            .count("SELECT count(*) || '' AS n FROM job_outbox WHERE status = 'pending'")
            .await
            == 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = rig.fake.messages();
    assert_eq!(
        to(&sent, "+447700900191").len(),
        0,
        "texted after being reached"
    );
    assert_eq!(to(&sent, "+447700900192").len(), 1);
    assert_eq!(
        rig.text_back_of("•••• 191").await.as_deref(),
        Some("skipped:spoken_with")
    );

    // The clinic's own monthly cap and its daily limit count the text that went, not the one
    // held back.
    let cap = rig
        .admin
        .run(
            "mutation { updatePhoneSettings(input: { smsMonthlyQuota: 2, smsDailyLimit: 2 }) \
             { smsMonthlyQuota } }",
            json!({}),
        )
        .await;
    assert!(cap["errors"].is_null(), "{cap}");
    rig.missed_call("CA3", "+447700900194").await;
    assert_eq!(
        rig.text_back_of("•••• 194").await.as_deref(),
        Some("queued"),
        "one of two texts used"
    );
    rig.missed_call("CA4", "+447700900195").await;
    assert_eq!(
        rig.text_back_of("•••• 195").await.as_deref(),
        Some("skipped:over_quota"),
        "two of two used"
    );
    rig.finish().await;
}

/// The clinic's own monthly cap starts again with the clinic's month: in Sydney the first of the
/// month begins at 13:00 or 14:00 UTC on the last day of the month before.
async fn the_own_cap_follows_the_clinics_month(kind: DatabaseKind) {
    let mut rig = Rig::new(kind, "text_back").await;
    let set = rig
        .admin
        .run(
            "mutation { updateClinicSettings(input: { timeZone: \"Australia/Sydney\" }) { timeZone } }",
            json!({}),
        )
        .await;
    assert!(set["errors"].is_null(), "{set}");
    open_all_day_with_delay(&mut rig, 0).await;
    let cap = rig
        .admin
        .run(
            "mutation { updatePhoneSettings(input: { smsMonthlyQuota: 1 }) { smsMonthlyQuota } }",
            json!({}),
        )
        .await;
    assert!(cap["errors"].is_null(), "{cap}");
    // The last day of next month (UTC), late morning: evening in Sydney, the same month there.
    let today = rig.state.clock.now().date_naive();
    let after_next = (today + chrono::Duration::days(62))
        .with_day(1)
        .expect("a first of the month");
    let last_day = after_next.pred_opt().expect("the day before");
    let evening_in_sydney = Utc.from_utc_datetime(&last_day.and_hms_opt(9, 0, 0).expect("09:00"));
    rig.state.clock.set(evening_in_sydney);
    // The session would not last the jump in time: the calls are read from the database.
    let queued = "SELECT count(*) || '' AS n FROM calls WHERE text_back_status = 'queued'";
    rig.missed_call("CA1", "+447700900196").await;
    assert_eq!(rig.count(queued).await, 1, "the month's one text");
    // Six hours on: still that month in UTC, the next one in Sydney.
    rig.state
        .clock
        .set(evening_in_sydney + chrono::Duration::hours(6));
    rig.missed_call("CA2", "+447700900197").await;
    assert_eq!(
        rig.count(queued).await,
        2,
        "a new month in Sydney, a new allowance"
    );
    rig.finish().await;
}

/// A text whose sending timed out may have reached the caller, who then rang back and got
/// through, or answered it with STOP: the retry asks the provider first and records the text as
/// sent (counted, in the conversation), rather than holding it back as if the caller never had
/// it. One the provider does not have is then held back, not sent.
async fn a_text_that_may_have_gone_is_looked_for_before_it_is_held_back(kind: DatabaseKind) {
    let mut rig = Rig::new(kind, "text_back").await;
    // Its retries wait a minute of the test's clock: each text stays in doubt until then.
    let patient = rig.worker(
        "worker-a",
        WorkerSettings {
            backoff_base: Duration::from_secs(60),
            backoff_cap: Duration::from_secs(60),
            ..fast()
        },
    );
    let in_doubt = "SELECT count(*) || '' AS n FROM job_outbox WHERE in_doubt_since IS NOT NULL";
    for (sid, number, failure) in [
        (
            "CA1",
            "+447700900193",
            Failure::AcceptThenStall(Duration::from_millis(800)),
        ),
        (
            "CA2",
            "+447700900194",
            Failure::AcceptThenStall(Duration::from_millis(800)),
        ),
        (
            "CA3",
            "+447700900195",
            Failure::Stall(Duration::from_millis(800)),
        ),
    ] {
        rig.missed_call(sid, number).await;
        rig.fake.fail_next([failure]);
        patient.run_once().await.expect("worker pass");
    }
    assert_eq!(
        rig.count(in_doubt).await,
        3,
        "the timed-out attempts left the texts in doubt"
    );
    rig.reached_by_a_callback("•••• 193").await;
    rig.text("SMstop194", "+447700900194", "STOP").await;
    rig.reached_by_a_callback("•••• 195").await;
    rig.test_db.clock.advance(chrono::Duration::minutes(2));
    let worker = rig.worker("worker-b", fast());
    rig.drain(&worker).await;
    for (number, tail) in [("+447700900193", "•••• 193"), ("+447700900194", "•••• 194")]
    {
        assert_eq!(to(&rig.fake.messages(), number).len(), 1);
        assert!(
            matches!(
                rig.text_back_of(tail).await.as_deref(),
                Some("sent" | "delivered")
            ),
            "the text {tail} has is recorded as sent"
        );
    }
    let kept = rig
        .count("SELECT count(*) || '' AS n FROM messages WHERE kind = 'text_back'")
        .await;
    assert_eq!(kept, 2, "both texts that went are in their conversations");
    assert_eq!(
        to(&rig.fake.messages(), "+447700900195").len(),
        0,
        "a text the provider never had is held back, not sent"
    );
    assert!(
        rig.text_back_of("•••• 195")
            .await
            .is_some_and(|status| status.starts_with("skipped:")),
        "{:?}",
        rig.text_back_of("•••• 195").await
    );
    rig.finish().await;
}

async fn the_delay_postpones_the_text_and_time_to_text_is_measured(kind: DatabaseKind) {
    let mut rig = Rig::new(kind, "text_back").await;
    open_all_day_with_delay(&mut rig, 2).await;
    let worker = rig.worker("worker-a", fast());
    // The server's clock (which the fake provider dates messages by, too) before the calls.
    let missed = rig.state.clock.now();
    rig.missed_call("CA1", "+447700900123").await;
    rig.missed_call("CA2", "+447700900124").await;
    // Pass after pass until both are sent: the delay, not the worker, decides when.
    let mut sent = Vec::new();
    for _ in 0..500 {
        worker.run_once().await.expect("worker pass");
        sent = rig.fake.messages();
        if sent.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sent.len(), 2, "both text-backs are sent in the end");
    for message in &sent {
        let after = message.created_at - missed;
        assert!(
            after >= chrono::Duration::seconds(2),
            "a text-back reached the provider {after} after the missed call, before the 2 s delay"
        );
    }

    // One caller replies three times, the other not at all: half the callers replied.
    for (sid, body) in [
        ("SMR1", "Hello?"),
        ("SMR2", "Can I book?"),
        ("SMR3", "Tuesday?"),
    ] {
        rig.text(sid, "+447700900123", body).await;
    }
    let today = rig.state.clock.now().with_timezone(&London).date_naive();
    let figures = rig
        .admin
        .run(
            "query($day: NaiveDate!) { metrics(from: $day, to: $day) { totals { textBacksSent \
             replyRate medianTimeToTextSeconds p90TimeToTextSeconds } } }",
            json!({ "day": today }),
        )
        .await;
    let totals = &figures["data"]["metrics"]["totals"];
    assert_eq!(totals["textBacksSent"], 2, "{figures}");
    assert_eq!(
        totals["replyRate"].as_f64(),
        Some(0.5),
        "three replies from one caller count once: {figures}"
    );
    let median = totals["medianTimeToTextSeconds"]
        .as_i64()
        .expect("a median");
    let p90 = totals["p90TimeToTextSeconds"]
        .as_i64()
        .expect("a 90th percentile");
    assert!(
        (2..120).contains(&median) && median <= p90,
        "time-to-text counts the delay: {figures}"
    );
    rig.finish().await;
}

on_both_databases!(
    the_delay_postpones_the_text_and_time_to_text_is_measured,
    round_trip,
    strict_mode_keeps_no_number,
    outage_delivers_everything_once,
    smart_encoded_copy_is_not_sent_again,
    crash_between_send_and_commit,
    texts_whose_last_attempt_never_settled_are_given_up,
    dead_letters_show_and_retry,
    a_recipient_unsubscribed_with_the_provider_is_opted_out,
    an_undelivered_text_back_says_why,
    callers_are_answered_from_the_number_they_reached,
    a_keyword_to_a_number_given_up_leaves_the_callers_number,
    a_text_in_doubt_keeps_its_sending_number,
    a_caller_reached_during_the_delay_is_not_texted,
    a_text_back_a_day_late_is_not_sent,
    a_text_that_may_have_gone_is_looked_for_before_it_is_held_back,
    the_own_cap_follows_the_clinics_month,
);
