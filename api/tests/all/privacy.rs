//! A caller's data-protection requests, on SQLite and PostgreSQL: an admin sees everything held
//! about a caller by the number they give, exports it as JSON without a number or a key (a message
//! that cannot be opened listed as unreadable), and erases it; afterwards no row in any table
//! (every column, read as text) holds the caller's key, their calls and appointments stay for the
//! figures unlinked, the day's figures are unchanged, and another caller is untouched. A restricted
//! caller is counted but never texted, their call is stored without their key, their texts are not
//! kept (STOP still works), and lifting the restriction is possible; each request leaves an audit
//! entry without the number. Reads of the worklist, appointments and attribution events, staff
//! replies, assignment, closing and dead-letter retries are audited with who did them. An erasure
//! reaches Twilio: its records of the caller's calls (forwarded legs too) and texts are deleted.

use crate::common::app::{CLINIC_NUMBER, TestApp, quick_retries, worker_for};
use crate::common::graphql::error_code;
use chrono::Duration;
use ringback_api::config::DatabaseKind;
use ringback_api::jobs::worker::WorkerSettings;
use ringback_api::service::provider_leftovers;
use serde_json::{Value, json};

const CALLER: &str = "07700 900123";
const CALLER_E164: &str = "+447700900123";
const OTHER: &str = "07700 900456";
const OTHER_E164: &str = "+447700900456";

const RECORD: &str = "query($number: String!) { callerRecord(number: $number) { callerTail \
    calls { startedAt textBackStatus } conversations { status messages { kind text } } \
    appointments { valueMinor outcome explanation } queuedTexts optedOut optedOutSince restricted } }";
const RECORD_MESSAGES: &str = "query($number: String!) { callerRecord(number: $number) { \
    conversations { messages { text unreadable } } } }";

const EXPORT: &str =
    "query($number: String!) { exportCallerRecord(number: $number) { filename json } }";
const ERASE: &str = "mutation($number: String!) { eraseCaller(number: $number) { callsUnlinked \
    appointmentsUnlinked conversationsDeleted messagesDeleted textsDeleted keptOptOut summary } }";
const ERASE_COUNTS: &str = "mutation($number: String!) { eraseCaller(number: $number) { \
    messagesDeleted messagesUnlinked notificationsDeleted } }";
const ERASE_RECORDS: &str = "mutation($number: String!) { eraseCaller(number: $number) { \
    providerRecordsQueued providerLogSearched summary } }";
const RESTRICT: &str = "mutation($number: String!, $restricted: Boolean!) { \
    restrictCaller(number: $number, restricted: $restricted) }";
const FIND: &str = "query($number: String!) { findCaller(number: $number) { callerKey } }";

/// Missed calls from `numbers` a few minutes ago, through the integrators' API.
async fn missed(app: &mut TestApp, calls: &[(&str, &str)]) -> Value {
    let now = app.state.clock.now();
    let events: Vec<Value> = calls
        .iter()
        .map(|(id, number)| {
            json!({ "externalId": id, "direction": "INBOUND", "status": "NO_ANSWER",
                    "startedAt": (now - Duration::minutes(3)).to_rfc3339(),
                    "callerNumber": number })
        })
        .collect();
    let recorded = app
        .owner
        .run(
            "mutation($e: [CallEventInput!]!) { recordCallEvents(events: $e) { results { \
             call { callerKey callerTail textBackStatus } } } }",
            json!({ "e": events }),
        )
        .await;
    assert!(recorded["errors"].is_null(), "{recorded}");
    recorded["data"]["recordCallEvents"]["results"].clone()
}

async fn key_of(app: &mut TestApp, number: &str) -> String {
    let found = app.owner.run(FIND, json!({ "number": number })).await;
    found["data"]["findCaller"]["callerKey"]
        .as_str()
        .unwrap_or_else(|| panic!("{found}"))
        .to_owned()
}

/// Every `table.column` of the database whose value, read as text, contains `needle`.
async fn columns_holding(app: &TestApp, needle: &str) -> Vec<String> {
    let columns = match app.db.kind {
        DatabaseKind::Sqlite => {
            app.db
                .query_strings(
                    "SELECT m.name AS t, p.name AS c FROM sqlite_master m \
                     JOIN pragma_table_info(m.name) p WHERE m.type = 'table' \
                     AND m.name NOT LIKE 'sqlite_%'",
                    &["t", "c"],
                )
                .await
        }
        DatabaseKind::Postgres => {
            app.db
                .query_strings(
                    "SELECT table_name::text AS t, column_name::text AS c \
                     FROM information_schema.columns WHERE table_schema = current_schema()",
                    &["t", "c"],
                )
                .await
        }
    };
    assert!(
        columns.len() > 100,
        "every table's columns: {}",
        columns.len()
    );
    let mut holding = Vec::new();
    for pair in columns {
        let (table, column) = (&pair[0], &pair[1]);
        let count = app
            .db
            .query_strings(
                &format!(
                    "SELECT count(*) || '' AS n FROM \"{table}\" \
                     WHERE CAST(\"{column}\" AS TEXT) LIKE '%{needle}%'"
                ),
                &["n"],
            )
            .await;
        if count[0][0] != "0" {
            holding.push(format!("{table}.{column}"));
        }
    }
    holding
}

/// The figures of the days around today, as the API reports them.
async fn todays_figures(app: &mut TestApp) -> Value {
    let now = app.state.clock.now();
    let figures = app
        .owner
        .run(
            "query($from: NaiveDate!, $to: NaiveDate!) { metrics(from: $from, to: $to) { \
             totals { inboundCalls missedCalls textBacksSent replyRate recoveredAppointments \
             recoveredRevenueMinor } } }",
            json!({ "from": (now - Duration::days(2)).date_naive(),
                    "to": (now + Duration::days(1)).date_naive() }),
        )
        .await;
    assert!(figures["errors"].is_null(), "{figures}");
    figures["data"]["metrics"]["totals"].clone()
}

/// Whether the text-backs have gone out before the caller replies.
#[derive(PartialEq)]
enum TextBacks {
    Queued,
    Sent,
}

/// A clinic that keeps numbers, where [`CALLER`] and [`OTHER`] were missed a few minutes ago,
/// [`CALLER`] replied `reply` (after the text-backs went, or while they wait) and was booked for
/// £120.
async fn replied_and_booked(kind: DatabaseKind, text_backs: TextBacks, reply: &str) -> TestApp {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    app.keep_numbers().await;
    missed(&mut app, &[("p1", CALLER), ("p2", OTHER)]).await;
    if text_backs == TextBacks::Sent {
        let worker = app.worker("privacy");
        while worker.run_once().await.expect("a pass") > 0 {}
    }
    assert!(app.receive_text("SMp1", CALLER_E164, reply).await.is_none());
    let booked = app
        .owner
        .run(
            "mutation($n: String!) { createAppointment(input: { callerNumber: $n, valueMinor: 12000 }) { id } }",
            json!({ "n": CALLER }),
        )
        .await;
    assert!(booked["errors"].is_null(), "{booked}");
    app
}

/// An erased caller's text-back and reply stay counted as times only: when the day is computed
/// again (another caller rings), its text-backs, reply rate and the booking the reply recovered
/// are what they were before the erasure; the clinic export shows the texts as erased, without
/// words or the caller's key.
async fn an_erased_callers_texts_still_count_when_the_day_is_computed_again(kind: DatabaseKind) {
    let mut app = replied_and_booked(kind, TextBacks::Sent, "Yes please, call me back.").await;
    let key = key_of(&mut app, CALLER).await;
    let figures = todays_figures(&mut app).await;
    assert_eq!(figures["textBacksSent"], 2, "{figures}");
    assert_eq!(figures["replyRate"], 0.5, "{figures}");
    assert_eq!(
        figures["recoveredRevenueMinor"], 12000,
        "recovered by the reply: {figures}"
    );

    let erased = app
        .owner
        .run(ERASE_COUNTS, json!({ "number": CALLER }))
        .await;
    let done = &erased["data"]["eraseCaller"];
    assert_eq!(
        done["messagesUnlinked"], 2,
        "the text-back and the reply: {erased}"
    );
    assert_eq!(done["messagesDeleted"], 0, "{erased}");
    missed(&mut app, &[("c3", "07700 900789")]).await;
    let after = todays_figures(&mut app).await;
    assert_eq!(
        after["missedCalls"], 3,
        "the day was computed again: {after}"
    );
    for figure in [
        "textBacksSent",
        "replyRate",
        "recoveredAppointments",
        "recoveredRevenueMinor",
    ] {
        assert_eq!(after[figure], figures[figure], "{figure}: {after}");
    }
    assert_eq!(
        columns_holding(&app, &key).await,
        Vec::<String>::new(),
        "no row holds the erased caller's key"
    );
    let messages = crate::clinic_export::exported_rows(&mut app, "messages").await;
    let erased_texts: Vec<&Value> = messages
        .iter()
        .filter(|row| row["erased"] == true)
        .collect();
    assert_eq!(erased_texts.len(), 2, "{messages:?}");
    for row in erased_texts {
        assert_eq!(row["text"], Value::Null, "{row}");
        assert_eq!(row["unreadable"], false, "{row}");
    }
    app.db.finish().await;
}

async fn an_admin_sees_exports_and_erases_what_is_held(kind: DatabaseKind) {
    let mut app = replied_and_booked(kind, TextBacks::Queued, "Can I come in on Tuesday?").await;
    let key = key_of(&mut app, CALLER).await;
    let other_key = key_of(&mut app, OTHER).await;

    let record = app
        .owner
        .run(RECORD, json!({ "number": "+44 7700 900123" }))
        .await;
    let held = &record["data"]["callerRecord"];
    assert_eq!(held["callerTail"], "•••• 123", "{record}");
    assert_eq!(held["calls"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        held["conversations"][0]["messages"][0]["text"],
        "Can I come in on Tuesday?"
    );
    assert_eq!(held["appointments"][0]["valueMinor"], 12000);
    assert!(
        held["appointments"][0]["explanation"]
            .as_str()
            .is_some_and(|words| words.ends_with('.') && !words.contains('_')),
        "the verdict in words: {held}"
    );
    assert_eq!(held["queuedTexts"], 1, "the text-back waits in the outbox");
    assert_eq!(held["restricted"], false);

    let export = app.owner.run(EXPORT, json!({ "number": CALLER })).await;
    let document = export["data"]["exportCallerRecord"]["json"]
        .as_str()
        .unwrap_or_else(|| panic!("{export}"));
    let parsed: Value = serde_json::from_str(document).expect("the export is JSON");
    assert_eq!(
        parsed["conversations"][0]["messages"][0]["text"],
        "Can I come in on Tuesday?"
    );
    assert_eq!(parsed["appointments"][0]["value_minor"], 12000);
    for secret in ["7700900123", "7700 900123", "v1:"] {
        assert!(
            !document.contains(secret),
            "the export holds no number or key"
        );
    }

    let before = columns_holding(&app, &key).await;
    for column in [
        "calls.caller_key",
        "appointments.caller_key",
        "conversations.caller_key",
        "messages.caller_key",
        "job_outbox.payload",
    ] {
        assert!(
            before.contains(&column.to_owned()),
            "{column} in {before:?}"
        );
    }
    let figures = todays_figures(&mut app).await;
    let erased = app.owner.run(ERASE, json!({ "number": CALLER })).await;
    let done = &erased["data"]["eraseCaller"];
    assert_eq!(done["callsUnlinked"], 1, "{erased}");
    assert_eq!(done["appointmentsUnlinked"], 1);
    assert_eq!(done["conversationsDeleted"], 1);
    assert_eq!(done["textsDeleted"], 1);
    assert_eq!(done["keptOptOut"], false);
    assert!(
        done["summary"]
            .as_str()
            .is_some_and(|s| s.contains("linked to nobody")),
        "{erased}"
    );
    assert_eq!(
        columns_holding(&app, &key).await,
        Vec::<String>::new(),
        "no row holds the erased caller's key"
    );
    assert!(
        columns_holding(&app, &other_key)
            .await
            .contains(&"calls.caller_key".to_owned()),
        "the other caller is untouched"
    );
    assert_eq!(todays_figures(&mut app).await, figures, "the figures stay");
    let after = app.owner.run(RECORD, json!({ "number": CALLER })).await;
    let held = &after["data"]["callerRecord"];
    assert_eq!(held["calls"], json!([]), "{after}");
    assert_eq!(held["conversations"], json!([]));
    assert_eq!(held["appointments"], json!([]));
    let worklist = app
        .owner
        .run(
            "{ worklist(first: 20) { edges { node { callerTail } } } }",
            json!({}),
        )
        .await;
    let tails: Vec<&str> = worklist["data"]["worklist"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{worklist}"))
        .iter()
        .filter_map(|edge| edge["node"]["callerTail"].as_str())
        .collect();
    assert_eq!(tails, ["•••• 456"], "the erased caller waits for nobody");

    let audit = app.audit_actions().await;
    for action in [
        "caller.record_read",
        "caller.record_exported",
        "caller.erased",
    ] {
        assert!(
            audit.iter().any(|(a, _)| a == action),
            "{action} in {audit:?}"
        );
    }
    for (_, detail) in &audit {
        assert!(
            !detail.contains("v1:") && !detail.contains("7700900"),
            "{detail}"
        );
    }
    app.db.finish().await;
}

/// A callback logged after the caller objected (to a call of theirs from before) is kept as a
/// call to nobody in particular: never under their key, so their record does not grow.
async fn a_callback_to_a_restricted_caller_is_kept_without_their_key(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    missed(&mut app, &[("before", CALLER)]).await;
    let restricted = app
        .owner
        .run(RESTRICT, json!({ "number": CALLER, "restricted": true }))
        .await;
    assert_eq!(restricted["data"]["restrictCaller"], true, "{restricted}");
    let listed = app
        .owner
        .run("{ calls(first: 1) { edges { node { id } } } }", json!({}))
        .await;
    let call = listed["data"]["calls"]["edges"][0]["node"]["id"].clone();
    let log = "mutation($id: ID!) { logCallback(callId: $id, status: ANSWERED, \
               externalId: \"cb-1\") { id callerTail } }";
    let logged = app.owner.run(log, json!({ "id": call })).await;
    assert_eq!(
        logged["data"]["logCallback"]["callerTail"], "••••",
        "{logged}"
    );
    let again = app.owner.run(log, json!({ "id": call })).await;
    assert_eq!(
        again["data"]["logCallback"]["id"], logged["data"]["logCallback"]["id"],
        "sent again, the callback logged the first time: {again}"
    );
    let outbound = app
        .db
        .query_strings(
            "SELECT caller_key, caller_tail FROM calls WHERE direction = 'outbound'",
            &["caller_key", "caller_tail"],
        )
        .await;
    assert_eq!(outbound.len(), 1, "{outbound:?}");
    assert!(outbound[0][0].starts_with("anon:"), "{outbound:?}");
}

async fn a_restricted_caller_is_counted_but_never_texted(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    let restricted = app
        .owner
        .run(RESTRICT, json!({ "number": CALLER, "restricted": true }))
        .await;
    assert_eq!(restricted["data"]["restrictCaller"], true, "{restricted}");
    let results = missed(&mut app, &[("r1", CALLER)]).await;
    let call = &results[0]["call"];
    assert_eq!(call["textBackStatus"], "skipped:restricted", "{results}");
    assert_eq!(call["callerTail"], "••••");
    assert!(
        call["callerKey"]
            .as_str()
            .is_some_and(|key| key.starts_with("anon:")),
        "{call}"
    );
    let jobs = app
        .db
        .query_strings("SELECT count(*) || '' AS n FROM job_outbox", &["n"])
        .await;
    assert_eq!(jobs, [["0"]], "no text-back is queued");
    let figures = todays_figures(&mut app).await;
    assert_eq!(figures["missedCalls"], 1, "the call is counted: {figures}");
    assert!(
        app.receive_text("SMr1", CALLER_E164, "Hello?")
            .await
            .is_none()
    );
    let kept = app
        .db
        .query_strings("SELECT count(*) || '' AS n FROM messages", &["n"])
        .await;
    assert_eq!(kept, [["0"]], "a restricted caller's text is not kept");
    // The test's clock runs on: the STOP is stored between these two readings.
    let before_stop = app.db.clock.now();
    assert!(
        app.receive_text("SMr2", CALLER_E164, "STOP")
            .await
            .is_some(),
        "STOP is still honoured and answered"
    );
    let after_stop = app.db.clock.now();
    let when_the_stop_came = |at: &Value| {
        let at = at.as_str().unwrap_or_else(|| panic!("a time: {at}"));
        let at = chrono::DateTime::parse_from_rfc3339(at).expect("RFC 3339");
        let second = Duration::seconds(1);
        before_stop - second <= at && at <= after_stop + second
    };
    app.db.clock.advance(Duration::minutes(2));
    let record = app.owner.run(RECORD, json!({ "number": CALLER })).await;
    assert_eq!(
        record["data"]["callerRecord"]["restricted"], true,
        "{record}"
    );
    assert_eq!(record["data"]["callerRecord"]["optedOut"], true);
    assert!(
        when_the_stop_came(&record["data"]["callerRecord"]["optedOutSince"]),
        "the record says when the STOP came: {record}"
    );
    let export = app.owner.run(EXPORT, json!({ "number": CALLER })).await;
    let document: Value = serde_json::from_str(
        export["data"]["exportCallerRecord"]["json"]
            .as_str()
            .unwrap_or_else(|| panic!("{export}")),
    )
    .expect("the export is JSON");
    assert_eq!(document["opted_out_of_texts"], true, "{document}");
    assert!(
        when_the_stop_came(&document["opted_out_of_texts_since"]),
        "the export says when the STOP came: {document}"
    );

    let lifted = app
        .owner
        .run(RESTRICT, json!({ "number": CALLER, "restricted": false }))
        .await;
    assert_eq!(lifted["data"]["restrictCaller"], false, "{lifted}");
    app.receive_text("SMr3", CALLER_E164, "START").await;
    let record = app.owner.run(RECORD, json!({ "number": CALLER })).await;
    assert_eq!(
        record["data"]["callerRecord"]["optedOutSince"],
        Value::Null,
        "START ends the opt-out: {record}"
    );
    let results = missed(&mut app, &[("r2", CALLER)]).await;
    assert_eq!(results[0]["call"]["textBackStatus"], "queued", "{results}");
    let refused = app
        .owner
        .run(
            RESTRICT,
            json!({ "number": "not a number", "restricted": true }),
        )
        .await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    let audit = app.audit_actions().await;
    for action in ["caller.restricted", "caller.restriction_lifted"] {
        assert!(
            audit.iter().any(|(a, _)| a == action),
            "{action} in {audit:?}"
        );
    }
    app.db.finish().await;
}

/// Switching to strict mode destroys the caller numbers the outbox holds for conversation texts:
/// a staff reply given up before the switch sends nothing when retried after it. The text-back
/// still waiting for its sending keeps its number (strict mode keeps it until sent) and goes.
async fn switching_to_strict_leaves_no_reply_number_in_the_outbox(kind: DatabaseKind) {
    use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, Set};
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    app.keep_numbers().await;
    missed(&mut app, &[("s1", CALLER)]).await;
    app.receive_text("SMs1", CALLER_E164, "Can you call me back?")
        .await;
    let threads = app
        .owner
        .run("{ conversations(first: 1) { id } }", json!({}))
        .await;
    let id = threads["data"]["conversations"][0]["id"].clone();
    let replied = app
        .owner
        .run(
            "mutation($id: ID!) { replyToConversation(id: $id, body: \"We will ring at ten.\") { id } }",
            json!({ "id": id }),
        )
        .await;
    assert!(replied["errors"].is_null(), "{replied}");
    let reply_job = {
        let txn = app.tenant().begin().await.expect("txn");
        let job = txn
            .find::<ringback_entity::job_outbox::Entity>()
            .filter(ringback_entity::job_outbox::Column::Kind.eq("reply"))
            .one(txn.conn())
            .await
            .expect("jobs")
            .expect("the reply's job");
        assert!(job.sealed_number.is_some(), "the reply holds its number");
        let mut dead: ringback_entity::job_outbox::ActiveModel = job.clone().into();
        dead.status = Set("dead".to_owned());
        dead.update(txn.conn()).await.expect("given up");
        txn.commit().await.expect("commit");
        job.id
    };
    let strict = app
        .owner
        .run(
            "mutation { updateClinicSettings(input: { privacyMode: \"strict\" }) { id } }",
            json!({}),
        )
        .await;
    assert!(strict["errors"].is_null(), "{strict}");
    let holding = app
        .db
        .query_strings(
            "SELECT kind FROM job_outbox WHERE sealed_number IS NOT NULL",
            &["kind"],
        )
        .await;
    assert_eq!(
        holding,
        [["text_back"]],
        "only the text-back's number is left"
    );
    let retried = app
        .owner
        .run(
            "mutation($id: ID!) { retryDeadLetter(id: $id) }",
            json!({ "id": reply_job.to_string() }),
        )
        .await;
    assert!(retried["errors"].is_null(), "{retried}");
    let worker = app.worker("strict");
    while worker.run_once().await.expect("a pass") > 0 {}
    let sent: Vec<String> = app
        .twilio
        .as_ref()
        .expect("fake Twilio")
        .messages()
        .into_iter()
        .filter(|text| text.to == CALLER_E164)
        .map(|text| text.body)
        .collect();
    assert_eq!(sent.len(), 1, "the text-back only: {sent:?}");
    assert!(!sent[0].contains("ring at ten"), "{sent:?}");
    app.db.finish().await;
}

/// Restricting a caller destroys their numbers in the outbox too: their waiting text-back and a
/// staff reply given up both lose the number (neither could be sent to them any more).
async fn restricting_a_caller_leaves_no_number_of_theirs_in_the_outbox(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    app.keep_numbers().await;
    missed(&mut app, &[("r1", CALLER), ("r2", OTHER)]).await;
    app.receive_text("SMr1", CALLER_E164, "Please ring me.")
        .await;
    let threads = app
        .owner
        .run("{ conversations(first: 1) { id } }", json!({}))
        .await;
    let replied = app
        .owner
        .run(
            "mutation($id: ID!) { replyToConversation(id: $id, body: \"At ten, then.\") { id } }",
            json!({ "id": threads["data"]["conversations"][0]["id"] }),
        )
        .await;
    assert!(replied["errors"].is_null(), "{replied}");
    let holding = "SELECT kind FROM job_outbox WHERE sealed_number IS NOT NULL ORDER BY kind";
    let before = app.db.query_strings(holding, &["kind"]).await;
    assert_eq!(
        before,
        [["reply"], ["text_back"], ["text_back"]],
        "{before:?}"
    );
    let restricted = app
        .owner
        .run(RESTRICT, json!({ "number": CALLER, "restricted": true }))
        .await;
    assert!(restricted["errors"].is_null(), "{restricted}");
    let after = app.db.query_strings(holding, &["kind"]).await;
    assert_eq!(
        after,
        [["text_back"]],
        "only the other caller's text-back keeps its number"
    );
    app.db.finish().await;
}

/// Reads of personal data and staff actions on conversations and dead letters each leave an audit
/// entry naming who did it (never a number or a text).
async fn reads_and_staff_actions_are_audited(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    app.keep_numbers().await;
    missed(&mut app, &[("a1", CALLER)]).await;
    app.receive_text("SMa1", CALLER_E164, "Any slots on Monday?")
        .await;
    let today = app.state.clock.now().date_naive();
    for read in [
        "{ worklist(first: 5) { edges { node { callerTail } } } }".to_owned(),
        "{ appointments(first: 5) { edges { node { id } } } }".to_owned(),
        format!("{{ attributionEvents(from: \"{today}\", to: \"{today}\") {{ windowDays }} }}"),
    ] {
        let answer = app.owner.run(&read, json!({})).await;
        assert!(answer["errors"].is_null(), "{answer}");
    }
    let threads = app
        .owner
        .run("{ conversations(first: 1) { id } }", json!({}))
        .await;
    let id = threads["data"]["conversations"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{threads}"))
        .to_owned();
    for action in [
        "mutation($id: ID!) { replyToConversation(id: $id, body: \"Yes, 10:00\") { id } }",
        "mutation($id: ID!) { assignConversation(id: $id, memberId: null) { id } }",
        "mutation($id: ID!) { closeConversation(id: $id) { id } }",
    ] {
        let answer = app.owner.run(action, json!({ "id": id })).await;
        assert!(answer["errors"].is_null(), "{answer}");
    }
    let txn = app.tenant().begin().await.expect("txn");
    let jobs = txn
        .find::<ringback_entity::job_outbox::Entity>()
        .all(txn.conn())
        .await
        .expect("jobs");
    txn.commit().await.expect("commit");
    assert!(!jobs.is_empty(), "a queued text-back");
    {
        use sea_orm::{ActiveModelTrait, Set};
        let txn = app.tenant().begin().await.expect("txn");
        let mut job: ringback_entity::job_outbox::ActiveModel = jobs[0].clone().into();
        job.status = Set("dead".to_owned());
        job.update(txn.conn()).await.expect("dead");
        txn.commit().await.expect("commit");
    }
    let retried = app
        .owner
        .run(
            "mutation($id: ID!) { retryDeadLetter(id: $id) }",
            json!({ "id": jobs[0].id.to_string() }),
        )
        .await;
    assert!(retried["errors"].is_null(), "{retried}");
    ringback_api::service::audit::verify(&app.db.db)
        .await
        .expect("verify seals the reads");
    let audit = app
        .db
        .query_strings(
            "SELECT action, CASE WHEN actor_user_id IS NULL THEN 'nobody' ELSE 'staff' END AS who, \
             CAST(detail AS TEXT) AS detail FROM audit_log ORDER BY seq",
            &["action", "who", "detail"],
        )
        .await;
    for action in [
        "worklist.read",
        "appointments.list_read",
        "attribution.events_read",
        "conversation.replied",
        "conversation.assigned",
        "conversation.closed",
        "outbox.dead_letter_retried",
    ] {
        let entry = audit
            .iter()
            .find(|row| row[0] == action)
            .unwrap_or_else(|| panic!("{action} in {audit:?}"));
        assert_eq!(entry[1], "staff", "{action} names who did it");
        assert!(
            !entry[2].contains("7700900") && !entry[2].contains("10:00"),
            "{entry:?}"
        );
    }
    app.db.finish().await;
}

/// A message whose stored text cannot be opened is held all the same: the record and its export
/// list it as unreadable (no text), beside the caller's other messages.
async fn a_damaged_message_is_exported_as_unreadable(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    for (sid, text) in [("SMd1", "Is Monday free?"), ("SMd2", "Or Tuesday?")] {
        app.receive_text(sid, CALLER_E164, text).await;
        app.db.clock.advance(chrono::Duration::minutes(1));
    }
    app.damage_message("SMd1").await;

    let record = app
        .owner
        .run(RECORD_MESSAGES, json!({ "number": CALLER }))
        .await;
    assert!(record["errors"].is_null(), "{record}");
    assert_eq!(
        record["data"]["callerRecord"]["conversations"][0]["messages"],
        json!([
            { "text": "", "unreadable": true },
            { "text": "Or Tuesday?", "unreadable": false },
        ])
    );
    let export = app.owner.run(EXPORT, json!({ "number": CALLER })).await;
    let document = export["data"]["exportCallerRecord"]["json"]
        .as_str()
        .unwrap_or_else(|| panic!("{export}"));
    let parsed: Value = serde_json::from_str(document).expect("the export is JSON");
    let texts: Vec<(&Value, &Value)> = parsed["conversations"][0]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .map(|message| (&message["text"], &message["unreadable"]))
        .collect();
    assert_eq!(
        texts,
        [
            (&Value::Null, &json!(true)),
            (&json!("Or Tuesday?"), &json!(false))
        ]
    );
    app.db.finish().await;
}

on_both_databases!(a_damaged_message_is_exported_as_unreadable);

on_both_databases!(
    reads_and_staff_actions_are_audited,
    an_admin_sees_exports_and_erases_what_is_held,
    an_erased_callers_texts_still_count_when_the_day_is_computed_again,
    switching_to_strict_leaves_no_reply_number_in_the_outbox,
    restricting_a_caller_leaves_no_number_of_theirs_in_the_outbox,
    a_restricted_caller_is_counted_but_never_texted,
    a_callback_to_a_restricted_caller_is_kept_without_their_key
);

/// A text stored while its caller is being erased (PostgreSQL, where the two run side by side)
/// goes with the rest: the erasure waits for the conversation the text updates, then finds the
/// text; no message of the caller is left in a deleted conversation.
#[tokio::test]
async fn a_text_stored_during_an_erasure_is_erased_too() {
    use ringback_api::service::caller_records;
    use ringback_api::service::inbound_sms::{self, InboundSms};
    let mut app = replied_and_booked(DatabaseKind::Postgres, TextBacks::Queued, "first").await;
    let key = key_of(&mut app, CALLER).await;
    let arriving = app.tenant().begin().await.expect("txn");
    let text = InboundSms {
        provider_id: "SMduring",
        from: CALLER_E164,
        text: "and a second thing",
        at: arriving.now(),
        provider_number_id: None,
        to_held_back_number: false,
    };
    inbound_sms::receive(&arriving, &app.state.secrets, text)
        .await
        .expect("stored, not yet committed");
    let (scope, backend) = (app.tenant(), app.state.backend.clone());
    let erasing = tokio::spawn(async move {
        let txn = scope.begin().await.expect("txn");
        let erased = caller_records::erase(&txn, &backend, None, CALLER).await;
        txn.commit().await.expect("commit");
        erased
    });
    // The erasure gets as far as the conversation the text holds, then the text commits.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    arriving.commit().await.expect("the text commits");
    let erased = erasing.await.expect("joined").expect("erased");
    assert_eq!(erased.conversations_deleted, 1, "{erased:?}");
    assert_eq!(
        columns_holding(&app, &key).await,
        Vec::<String>::new(),
        "no row holds the erased caller's key"
    );
}

/// Twilio keeps its own record of every call and text, with the numbers (and a text's words): an
/// erasure has them deleted there, the incoming call with the leg its dial forwarded, the
/// text-back and the caller's reply, while another caller's records stay.
async fn an_erasure_deletes_twilios_records_of_the_caller(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    app.keep_numbers().await;
    app.forward_to_a_line().await;
    app.ring_unanswered("CAerase01", CALLER_E164).await;
    app.ring_unanswered("CAkeep01", OTHER_E164).await;
    let fake = app.twilio.as_ref().expect("built with the fake Twilio");
    let worker = app.worker("forget");
    app.drain(&worker).await;
    fake.receive_message("SMerase01", CALLER_E164, CLINIC_NUMBER, "Tuesday please");
    app.receive_text("SMerase01", CALLER_E164, "Tuesday please")
        .await;
    let held = fake.held_records_of(CALLER_E164);
    assert_eq!(
        held.len(),
        4,
        "the call, its forwarded leg, the text-back and the reply: {held:?}"
    );
    let others = fake.held_records_of(OTHER_E164);
    assert_eq!(others.len(), 3, "{others:?}");

    let erased = app
        .owner
        .run(ERASE_RECORDS, json!({ "number": CALLER }))
        .await;
    let done = &erased["data"]["eraseCaller"];
    assert_eq!(done["providerRecordsQueued"], 3, "{erased}");
    assert!(
        done["summary"]
            .as_str()
            .is_some_and(|s| s.contains("Twilio's 3 record(s)")),
        "{erased}"
    );
    app.db.clock.advance(search_after());
    let fake = app.twilio.as_ref().expect("built with the fake Twilio");
    app.drain(&worker).await;
    assert_eq!(
        fake.held_records_of(CALLER_E164),
        Vec::<String>::new(),
        "Twilio holds nothing of the erased caller"
    );
    assert_eq!(fake.held_records_of(OTHER_E164), others, "the other stays");
    let erasure = erasure_audited(&app).await;
    assert_eq!(erasure["provider_records"], 3, "{erasure}");
    app.db.finish().await;
}

/// A restricted caller's texts are not kept, and Twilio's copy is deleted a minute after it
/// arrived (after the webhook was answered); so is the copy of the automated answer to their STOP.
async fn a_restricted_callers_text_is_deleted_at_twilio(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    let restricted = app
        .owner
        .run(RESTRICT, json!({ "number": CALLER, "restricted": true }))
        .await;
    assert!(restricted["errors"].is_null(), "{restricted}");
    let fake = app.twilio.as_ref().expect("built with the fake Twilio");
    fake.receive_message("SMrestrict01", CALLER_E164, CLINIC_NUMBER, "Call me");
    app.receive_text("SMrestrict01", CALLER_E164, "Call me")
        .await;
    // Their STOP is honoured and answered; nothing of it is kept, and the answer's id, reported
    // after it went, has Twilio's copy deleted as the STOP's is.
    let sms_webhook = format!("{}/webhooks/twilio/sms", crate::common::PUBLIC_URL);
    fake.text_in(
        &sms_webhook,
        ("SMrestrict02", CALLER_E164, CLINIC_NUMBER),
        "STOP",
    )
    .await
    .expect("the webhook answers");
    let worker = app.worker("restricted");
    assert_eq!(worker.run_once().await.expect("pass"), 0, "not due yet");
    assert_eq!(
        fake.held_records_of(CALLER_E164).len(),
        3,
        "the text, the STOP and its answer"
    );
    app.state.clock.advance(Duration::minutes(2));
    app.drain(&worker).await;
    assert_eq!(fake.held_records_of(CALLER_E164), Vec::<String>::new());
    app.db.finish().await;
}

/// A deletion at Twilio that keeps failing (an outage) gives its job up, and its records wait in
/// `provider_leftovers` instead of being lost with the dead letter; they go once Twilio is back.
async fn deletions_that_keep_failing_wait_in_the_leftovers(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    app.forward_to_a_line().await;
    app.ring_unanswered("CAoutage01", CALLER_E164).await;
    app.drain(&app.worker("texts")).await;
    let fake = app.twilio.as_ref().expect("built with the fake Twilio");
    fake.fail_deletions(true);
    let erased = app
        .owner
        .run(ERASE_RECORDS, json!({ "number": CALLER }))
        .await;
    assert_eq!(
        erased["data"]["eraseCaller"]["providerRecordsQueued"], 2,
        "{erased}"
    );
    app.db.clock.advance(search_after());
    let settings = WorkerSettings {
        max_attempts: 2,
        ..quick_retries()
    };
    let fake = app.twilio.as_ref().expect("built with the fake Twilio");
    app.drain(&worker_for(&app.state, fake, "outage", settings))
        .await;
    let jobs = app
        .db
        .query_strings(
            "SELECT status FROM job_outbox WHERE kind = 'forget_provider_records'",
            &["status"],
        )
        .await;
    assert_eq!(jobs.concat(), ["dead"]);
    let left = "SELECT kind FROM provider_leftovers ORDER BY kind";
    assert_eq!(
        app.db.query_strings(left, &["kind"]).await.concat(),
        ["call", "message"]
    );
    assert_eq!(fake.held_records_of(CALLER_E164).len(), 3);
    assert_eq!(
        search_jobs(&app).await,
        [["dead", "number"]],
        "a search that gave up keeps its number for a retry"
    );

    fake.fail_deletions(false);
    let records = app
        .state
        .provider_records
        .clone()
        .expect("a Twilio account");
    let budget = std::time::Duration::from_secs(60);
    let forgotten = provider_leftovers::forget(&app.state.db, &app.state.clock, records, budget);
    assert_eq!(forgotten.await.expect("run").deleted, 2);
    assert_eq!(fake.held_records_of(CALLER_E164), Vec::<String>::new());
    // An admin retries the search that gave up: it runs and loses its number.
    let dead = app
        .owner
        .run("query { deadLetters { id kind } }", json!({}))
        .await;
    let search = dead["data"]["deadLetters"]
        .as_array()
        .and_then(|letters| {
            letters
                .iter()
                .find(|letter| letter["kind"] == "forget_caller_at_provider")
        })
        .map(|letter| letter["id"].clone())
        .unwrap_or_else(|| panic!("the search is a dead letter: {dead}"));
    let retried = app
        .owner
        .run(
            "mutation($id: ID!) { retryDeadLetter(id: $id) }",
            json!({ "id": search }),
        )
        .await;
    assert!(retried["errors"].is_null(), "{retried}");
    app.drain(&app.worker("retried")).await;
    assert_eq!(search_jobs(&app).await, [["done", "no number"]]);
    app.db.finish().await;
}

/// The owner erases [`CALLER`], and the answer says Twilio's log is searched.
async fn erased_with_a_search(app: &mut TestApp) -> Value {
    let erased = app
        .owner
        .run(ERASE_RECORDS, json!({ "number": CALLER }))
        .await;
    let searched = &erased["data"]["eraseCaller"]["providerLogSearched"];
    assert_eq!(searched, true, "{erased}");
    erased
}

/// How long after an erasure Twilio's log is searched.
fn search_after() -> Duration {
    Duration::from_std(ringback_domain::jobs::forget_caller_at_provider::SEARCH_AFTER)
        .expect("minutes")
}

/// The detail of the erasure's audit entry.
async fn erasure_audited(app: &TestApp) -> Value {
    app.audit_actions()
        .await
        .into_iter()
        .find(|(action, _)| action == "caller.erased")
        .map(|(_, detail)| serde_json::from_str::<Value>(&detail).expect("JSON"))
        .expect("the erasure is audited")
}

/// The erasure's searches of Twilio's log: each one's status and whether it holds a number.
async fn search_jobs(app: &TestApp) -> Vec<Vec<String>> {
    let search = "SELECT status, CASE WHEN sealed_number IS NULL THEN 'no number' ELSE 'number' \
                  END AS number FROM job_outbox WHERE kind = 'forget_caller_at_provider'";
    app.db.query_strings(search, &["status", "number"]).await
}

/// Twilio's records Ringback holds no id of (a restricted caller's call, kept under a stand-in;
/// a text that arrived while the webhooks were down) are found by the numbers they were between
/// and deleted; a record between the caller and a number that is not the clinic's stays, and the
/// search keeps no number once it is done.
async fn an_erasure_searches_twilios_log_for_what_ringback_never_linked(kind: DatabaseKind) {
    // Noon: an hour before the clinic added its number is the same UTC day (Twilio filters by day).
    let mut app = TestApp::builder(kind)
        .at_midday()
        .with_twilio()
        .build()
        .await;
    let fake = app.twilio.as_ref().expect("built with the fake Twilio");
    // The number's earlier holder's call with the same caller, an hour before the clinic added it.
    app.state.clock.advance(Duration::hours(-1));
    fake.log_unreported_call("CAearlier01", CALLER_E164, CLINIC_NUMBER);
    app.state.clock.advance(Duration::hours(1));
    app.forward_to_a_line().await;
    let restricted = app
        .owner
        .run(RESTRICT, json!({ "number": CALLER, "restricted": true }))
        .await;
    assert!(restricted["errors"].is_null(), "{restricted}");
    app.ring_unanswered("CAunlinked01", CALLER_E164).await;
    app.ring_unanswered("CAother01", OTHER_E164).await;
    let fake = app.twilio.as_ref().expect("built with the fake Twilio");
    fake.receive_message("SMunseen01", CALLER_E164, CLINIC_NUMBER, "Are you open?");
    let elsewhere = "+447700900999";
    fake.receive_message("SMelsewhere01", CALLER_E164, elsewhere, "Not the clinic");
    let worker = app.worker("search");
    app.drain(&worker).await;
    let others = fake.held_records_of(OTHER_E164);
    let mut held = fake.held_records_of(CALLER_E164);
    held.sort();
    assert_eq!(
        held,
        [
            "CAearlier01",
            "CAunlinked01",
            "CAunlinked01-leg",
            "SMelsewhere01",
            "SMunseen01"
        ]
    );

    let erased = erased_with_a_search(&mut app).await;
    let done = &erased["data"]["eraseCaller"];
    assert_eq!(
        done["providerRecordsQueued"], 0,
        "no id links them: {erased}"
    );
    assert!(
        done["summary"]
            .as_str()
            .is_some_and(|s| s.contains("Twilio's log is being searched")),
        "{erased}"
    );
    // Strict mode destroys the numbers kept for texting back, not the one the search needs.
    let strict = app
        .owner
        .run(
            "mutation { updateClinicSettings(input: { privacyMode: \"strict\" }) { id } }",
            json!({}),
        )
        .await;
    assert!(strict["errors"].is_null(), "{strict}");
    // A text-back a worker was sending as the erasure committed reaches Twilio's log after it
    // (its job and message gone, its id never stored): the search waits until it is there.
    let fake = app.twilio.as_ref().expect("built with the fake Twilio");
    fake.receive_message(
        "SMracing01",
        CLINIC_NUMBER,
        CALLER_E164,
        "Sorry we missed you",
    );
    for _ in 0..3 {
        worker.run_once().await.expect("a pass");
    }
    assert!(
        fake.held_records_of(CALLER_E164)
            .contains(&"SMracing01".to_owned()),
        "the search is not due yet"
    );
    app.db.clock.advance(search_after());
    app.drain(&worker).await;
    let fake = app.twilio.as_ref().expect("built with the fake Twilio");
    assert_eq!(
        fake.held_records_of(CALLER_E164),
        ["CAearlier01", "SMelsewhere01"],
        "what was not the clinic's stays: from before it held its number, or to another number"
    );
    assert_eq!(fake.held_records_of(OTHER_E164), others, "the other stays");
    assert_eq!(search_jobs(&app).await, [["done", "no number"]]);
    let erasure = erasure_audited(&app).await;
    assert_eq!(erasure["provider_log_searched"], true, "{erasure}");
    app.db.finish().await;
}

/// The confirmation of a STOP is sent by Twilio from our webhook's TwiML answer; its status
/// report tells Ringback its id, kept with the STOP, so the erasure queues both (and its search
/// of the log would find them too).
async fn a_stop_confirmation_goes_with_the_erasure(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    let fake = app.twilio.as_ref().expect("built with the fake Twilio");
    let sms_webhook = format!("{}/webhooks/twilio/sms", crate::common::PUBLIC_URL);
    let twiml = fake
        .text_in(
            &sms_webhook,
            ("SMstop01", CALLER_E164, CLINIC_NUMBER),
            "STOP",
        )
        .await
        .expect("the webhook answers");
    assert!(twiml.contains("<Message statusCallback="), "{twiml}");
    assert_eq!(
        fake.held_records_of(CALLER_E164).len(),
        2,
        "the STOP and its answer"
    );
    let erased = erased_with_a_search(&mut app).await;
    assert_eq!(
        erased["data"]["eraseCaller"]["providerRecordsQueued"], 2,
        "the STOP and its answer: {erased}"
    );
    app.db.clock.advance(search_after());
    app.drain(&app.worker("stop")).await;
    let fake = app.twilio.as_ref().expect("built with the fake Twilio");
    assert_eq!(fake.held_records_of(CALLER_E164), Vec::<String>::new());
    app.db.finish().await;
}

/// Twilio's log is read page by page (100 a page), at most 200 of a kind one way in an attempt:
/// a caller with more has the first found, deleted, and the rest at the next attempt, both ways.
#[tokio::test]
async fn a_long_history_at_twilio_is_found_page_by_page() {
    let mut app = TestApp::builder(DatabaseKind::Sqlite)
        .with_twilio()
        .build()
        .await;
    let fake = app.twilio.as_ref().expect("built with the fake Twilio");
    for index in 0..230 {
        fake.log_unreported_call(&format!("CAin{index}"), CALLER_E164, CLINIC_NUMBER);
    }
    for index in 0..130 {
        fake.receive_message(&format!("SMin{index}"), CALLER_E164, CLINIC_NUMBER, "Hi");
    }
    for index in 0..3 {
        fake.log_unreported_call(&format!("CAout{index}"), CLINIC_NUMBER, CALLER_E164);
    }
    let records = app
        .state
        .provider_records
        .clone()
        .expect("a Twilio account");
    let since = app.state.clock.now() - Duration::hours(1);
    let held = records
        .records_between((CALLER_E164, CLINIC_NUMBER), since)
        .await
        .expect("listed");
    assert_eq!((held.calls.len(), held.messages.len()), (203, 130));
    assert!(!held.complete, "the calls in were cut at 200");
    missed(&mut app, &[("long-1", CALLER)]).await;
    erased_with_a_search(&mut app).await;
    app.db.clock.advance(search_after());
    app.drain(&app.worker("long")).await;
    let fake = app.twilio.as_ref().expect("built with the fake Twilio");
    assert_eq!(fake.held_records_of(CALLER_E164), Vec::<String>::new());
    app.db.finish().await;
}

/// A clinic without a number at Twilio has no log there to search.
async fn a_clinic_without_a_twilio_number_has_no_log_searched(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    missed(&mut app, &[("nolog-1", CALLER)]).await;
    let erased = app
        .owner
        .run(ERASE_RECORDS, json!({ "number": CALLER }))
        .await;
    assert_eq!(
        erased["data"]["eraseCaller"]["providerLogSearched"], false,
        "{erased}"
    );
    let jobs = "SELECT kind FROM job_outbox WHERE kind = 'forget_caller_at_provider'";
    assert!(app.db.query_strings(jobs, &["kind"]).await.is_empty());
    app.db.finish().await;
}

on_both_databases!(
    an_erasure_deletes_twilios_records_of_the_caller,
    a_restricted_callers_text_is_deleted_at_twilio,
    deletions_that_keep_failing_wait_in_the_leftovers,
    an_erasure_searches_twilios_log_for_what_ringback_never_linked,
    a_stop_confirmation_goes_with_the_erasure,
    a_clinic_without_a_twilio_number_has_no_log_searched
);
