//! Call events and appointments end to end over GraphQL, on SQLite and on PostgreSQL: a batch with
//! good, bad and repeated rows; filters and pages; a callback and a booking that becomes recovered
//! with its reason; cancellation and a window change recompute it; an appointment's externalId
//! names one booking and a callback's one callback; and no test number is anywhere in the database afterwards.

use crate::common::TestDb;
use crate::common::app::TestApp;
use crate::common::graphql::{Browser, SIGN_UP, error_code, run_with_key, sign_up_input};
use chrono::Duration;
use ringback_api::config::DatabaseKind;
use ringback_api::service::calls::{self, CallFilter};
use ringback_api::service::metrics;
use ringback_entity::{attribution, daily_metric};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, PaginatorTrait, QueryFilter, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

const RECORD: &str = "mutation($events: [CallEventInput!]!) { recordCallEvents(events: $events) { \
    recorded duplicates rejected results { externalId duplicate call { id missed callerKey callerTail lineType } \
    error { code message } } } }";

fn event(external_id: &str, status: &str, started_at: &str, number: &str) -> Value {
    json!({ "externalId": external_id, "direction": "INBOUND", "status": status, "startedAt": started_at,
            "callerNumber": number })
}

/// Numbers used below (fiction ranges only); none may be stored.
const NUMBERS: &[&str] = &["7700900123", "7700900456", "491570006"];

/// An integrator's inbound call from a withheld number is counted under no caller and never
/// texted; any other call without a number is refused.
async fn a_withheld_number_counts_only_on_an_inbound_call(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let at = (test_db.clock.now() - Duration::minutes(5)).to_rfc3339();
    let web = tempfile::tempdir().expect("tempdir");
    let mut staff = Browser::new(test_db.app(web.path()));
    staff
        .run(SIGN_UP, sign_up_input("withheld@desk.test"))
        .await;
    let mut outbound = event("ext-out", "ANSWERED", &at, "anonymous");
    outbound["direction"] = json!("OUTBOUND");
    let batch = json!({ "events": [event("ext-in", "NO_ANSWER", &at, "Anonymous"), outbound] });
    let recorded = staff.run(RECORD, batch).await;
    let rows = recorded["data"]["recordCallEvents"]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{recorded}"));
    assert_eq!(rows[0]["call"]["missed"], true, "{recorded}");
    assert_eq!(rows[0]["call"]["callerTail"], "••••");
    assert!(
        rows[0]["call"]["callerKey"]
            .as_str()
            .is_some_and(|key| key.starts_with("anon:")),
        "{recorded}"
    );
    assert_eq!(rows[1]["error"]["code"], "BAD_USER_INPUT", "{recorded}");
    test_db.finish().await;
}

async fn calls_appointments_and_attribution(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    // The calls happened three days before the bookings, which are made "now" by the server's
    // clock: inside the default seven-day attribution window, outside the one-day window below.
    let days_ago = test_db.clock.now() - Duration::days(3);
    let at = |minute: i64| (days_ago + Duration::minutes(minute)).to_rfc3339();
    let web = tempfile::tempdir().expect("tempdir");
    let mut staff = Browser::new(test_db.app(web.path()));
    staff.run(SIGN_UP, sign_up_input("front@desk.test")).await;

    let batch = json!({ "events": [
        event("ext-1", "NO_ANSWER", &at(0), "07700 900123"),
        event("ext-2", "BUSY", &at(15), "+44 7700 900456"),
        event("ext-3", "NO_ANSWER", &at(30), "not a number"),
        event("ext-1", "NO_ANSWER", &at(0), "07700 900123"),
        event("ext-4", "ANSWERED", &at(90), "+61 491 570 006"),
    ]});
    let recorded = staff.run(RECORD, batch).await;
    let payload = &recorded["data"]["recordCallEvents"];
    assert_eq!(payload["recorded"], 3, "{recorded}");
    assert_eq!(payload["duplicates"], 1);
    assert_eq!(payload["rejected"], 1);
    let rows = payload["results"].as_array().expect("results");
    assert_eq!(rows[2]["error"]["code"], "BAD_USER_INPUT");
    assert!(
        !rows[2]["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not a number")
    );
    assert_eq!(rows[3]["duplicate"], true);
    assert_eq!(
        rows[3]["call"]["id"], rows[0]["call"]["id"],
        "a repeat points at the first"
    );
    let first = &rows[0]["call"];
    assert_eq!(first["missed"], true);
    assert_eq!(first["callerTail"], "•••• 123");
    assert_eq!(first["lineType"], "mobile");
    assert!(
        first["callerKey"]
            .as_str()
            .unwrap_or_default()
            .starts_with("v1:")
    );
    assert_eq!(
        rows[4]["call"]["missed"], false,
        "answered calls are not missed"
    );

    let again = staff
        .run(
            RECORD,
            json!({ "events": [event("ext-2", "BUSY", &at(15), "07700 900456")] }),
        )
        .await;
    assert_eq!(
        again["data"]["recordCallEvents"]["duplicates"], 1,
        "redelivery changes nothing"
    );

    let missed = staff
        .run("{ calls(filter: { missed: true }, first: 1) { edges { cursor node { id } } pageInfo { hasNextPage } } }", json!({}))
        .await;
    let page = &missed["data"]["calls"];
    assert_eq!(page["edges"].as_array().map(Vec::len), Some(1), "{missed}");
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let cursor = page["edges"][0]["cursor"].clone();
    let next = staff
        .run(
            "query($after: String) { calls(filter: { missed: true }, first: 5, after: $after) { edges { node { id } } pageInfo { hasNextPage } } }",
            json!({ "after": cursor }),
        )
        .await;
    assert_eq!(
        next["data"]["calls"]["edges"].as_array().map(Vec::len),
        Some(1),
        "{next}"
    );
    assert_eq!(next["data"]["calls"]["pageInfo"]["hasNextPage"], false);
    let too_many = staff
        .run("{ calls(first: 101) { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(error_code(&too_many), Some("BAD_USER_INPUT"));

    // Booked with no touch: unattributed. A callback follows, and a second booking is recovered.
    let call_id = first["id"].clone();
    let book = "mutation($number: String!, $value: Int!) { createAppointment(input: { callerNumber: $number, valueMinor: $value }) { \
        id attribution { status reason explanation missedCallId touchKind } } }";
    let early = staff
        .run(book, json!({ "number": "07700 900123", "value": 4500 }))
        .await;
    assert_eq!(
        early["data"]["createAppointment"]["attribution"]["reason"], "no_recovery_touch",
        "{early}"
    );
    let callback = staff
        .run(
            "mutation($id: ID!) { logCallback(callId: $id, status: ANSWERED) { id } }",
            json!({ "id": call_id }),
        )
        .await;
    assert!(callback["errors"].is_null(), "{callback}");
    let booking = staff
        .run(book, json!({ "number": "+447700900123", "value": 12000 }))
        .await;
    let verdict = &booking["data"]["createAppointment"]["attribution"];
    assert_eq!(verdict["status"], "RECOVERED", "{booking}");
    assert_eq!(verdict["missedCallId"], call_id);
    assert_eq!(verdict["touchKind"], "callback");
    assert!(
        verdict["explanation"]
            .as_str()
            .unwrap_or_default()
            .contains("called back")
    );

    let listed = staff
        .run(
            "{ appointments(first: 10) { edges { node { id missedCall { id callerTail } } } } }",
            json!({}),
        )
        .await;
    let with_call: Vec<&Value> = listed["data"]["appointments"]["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .filter(|edge| !edge["node"]["missedCall"].is_null())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        with_call.len(),
        1,
        "the recovered booking links its missed call: {listed}"
    );
    assert_eq!(with_call[0]["node"]["missedCall"]["id"], call_id);
    let credited = staff
        .run("{ calls(filter: { missed: true }) { edges { node { id creditedTo { appointmentId touchKind } } } } }", json!({}))
        .await;
    let credits: Vec<&Value> = credited["data"]["calls"]["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .filter(|edge| !edge["node"]["creditedTo"].is_null())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(credits.len(), 1, "{credited}");
    assert_eq!(credits[0]["node"]["id"], call_id);
    assert_eq!(
        credits[0]["node"]["creditedTo"]["appointmentId"],
        booking["data"]["createAppointment"]["id"]
    );
    assert_eq!(credits[0]["node"]["creditedTo"]["touchKind"], "callback");
    let id = booking["data"]["createAppointment"]["id"].clone();
    let cancelled = staff
        .run(
            "mutation($id: ID!) { cancelAppointment(id: $id) { attribution { reason } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        cancelled["data"]["cancelAppointment"]["attribution"]["reason"], "cancelled",
        "{cancelled}"
    );
    let bad_value = staff
        .run(book, json!({ "number": "07700 900123", "value": -5 }))
        .await;
    assert_eq!(error_code(&bad_value), Some("BAD_USER_INPUT"));
    // An external id too long to index is refused by the same rule as a call's, on both engines.
    let long_id = staff
        .run(
            "mutation($id: String!) { createAppointment(input: { callerNumber: \"07700 900123\", valueMinor: 100, externalId: $id }) { id } }",
            json!({ "id": "x".repeat(5_000) }),
        )
        .await;
    assert_eq!(error_code(&long_id), Some("BAD_USER_INPUT"), "{long_id}");

    // Rebook, then shrink the window so the missed call (days before now) falls outside it.
    let rebook = staff
        .run(book, json!({ "number": "07700 900123", "value": 12000 }))
        .await;
    let rebook_id = rebook["data"]["createAppointment"]["id"].clone();
    let window = staff
        .run("mutation { updateClinicSettings(input: { attributionWindowDays: 1 }) { attributionWindowDays } }", json!({}))
        .await;
    assert_eq!(
        window["data"]["updateClinicSettings"]["attributionWindowDays"], 1,
        "{window}"
    );
    let after_window = staff
        .run(
            "query($id: ID!) { appointment(id: $id) { attribution { reason windowDays } } }",
            json!({ "id": rebook_id }),
        )
        .await;
    let reason = after_window["data"]["appointment"]["attribution"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        after_window["data"]["appointment"]["attribution"]["windowDays"], 1,
        "{after_window}"
    );
    assert_eq!(reason, "no_missed_call_in_window", "{after_window}");

    // Imported history: the booking's real time (`bookedAt`) decides what it is credited to, so a
    // booking made an hour after a callback three days ago is recovered even in a one-day window.
    let busy_call = rows[1]["call"]["id"].clone();
    let called_back = staff
        .run(
            "mutation($id: ID!, $at: DateTime!) { logCallback(callId: $id, status: ANSWERED, at: $at) { id } }",
            json!({ "id": busy_call, "at": at(45) }),
        )
        .await;
    assert!(called_back["errors"].is_null(), "{called_back}");
    let import = "mutation($at: DateTime!) { createAppointment(input: { callerNumber: \"07700 900456\", \
                  valueMinor: 5000, bookedAt: $at }) { createdAt attribution { status touchKind } } }";
    let imported = staff.run(import, json!({ "at": at(105) })).await;
    let booking = &imported["data"]["createAppointment"];
    assert_eq!(booking["attribution"]["status"], "RECOVERED", "{imported}");
    assert_eq!(booking["attribution"]["touchKind"], "callback");
    let created: chrono::DateTime<chrono::Utc> = booking["createdAt"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("createdAt");
    assert!(
        (created - (days_ago + Duration::minutes(105))).abs() < Duration::seconds(1),
        "the booking keeps its real time: {imported}"
    );
    let future = (test_db.clock.now() + Duration::hours(1)).to_rfc3339();
    let refused = staff.run(import, json!({ "at": future })).await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    // A callback logged ahead of time would keep the caller's missed calls off the worklist.
    let ahead = staff
        .run(
            "mutation($id: ID!, $at: DateTime!) { logCallback(callId: $id, status: ANSWERED, at: $at) { id } }",
            json!({ "id": busy_call, "at": future }),
        )
        .await;
    assert_eq!(error_code(&ahead), Some("BAD_USER_INPUT"), "{ahead}");

    assert_no_number_stored(&test_db).await;
    test_db.finish().await;
}

/// Looks for the test numbers in everything stored.
async fn assert_no_number_stored(test_db: &TestDb) {
    let tables = [
        "calls",
        "appointments",
        "attributions",
        "audit_log",
        "clinics",
        "users",
        "memberships",
        "daily_metrics",
    ];
    let stored = test_db.stored_text(&tables).await;
    for number in NUMBERS {
        assert!(!stored.contains(number), "a raw number is stored");
    }
}

/// An appointment's `externalId` names one booking: sent again for the same caller it returns that
/// booking; for another caller, or once the booking was cancelled, it is a CONFLICT, never a
/// booking the sender did not ask for.
async fn an_external_id_names_one_booking(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let book = "mutation($number: String!) { createAppointment(input: { callerNumber: $number, \
        valueMinor: 9000, externalId: \"pms-1\" }) { id } }";
    let first = app
        .owner
        .run(book, json!({ "number": "07700 900123" }))
        .await;
    let id = first["data"]["createAppointment"]["id"].clone();
    assert!(id.is_string(), "{first}");
    let again = app
        .owner
        .run(book, json!({ "number": "+44 7700 900123" }))
        .await;
    assert_eq!(again["data"]["createAppointment"]["id"], id, "{again}");
    let other_caller = app
        .owner
        .run(book, json!({ "number": "07700 900124" }))
        .await;
    assert_eq!(
        error_code(&other_caller),
        Some("CONFLICT"),
        "{other_caller}"
    );
    assert!(
        !other_caller.to_string().contains("900124"),
        "{other_caller}"
    );
    let cancelled = app
        .owner
        .run(
            "mutation($id: ID!) { cancelAppointment(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert!(cancelled["errors"].is_null(), "{cancelled}");
    let after_cancel = app
        .owner
        .run(book, json!({ "number": "07700 900123" }))
        .await;
    assert_eq!(
        error_code(&after_cancel),
        Some("CONFLICT"),
        "{after_cancel}"
    );
    app.db.finish().await;
}

/// A callback an integrator logs with its own id is logged once however often it is sent, under
/// the integrator's name, not staff's; the id may not name a callback to another caller.
async fn a_callback_sent_again_is_logged_once(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let key = app
        .owner
        .run(
            "mutation { createApiKey(name: \"PMS\", scope: WRITE) { secret } }",
            json!({}),
        )
        .await;
    let secret = key["data"]["createApiKey"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("{key}"))
        .to_owned();
    let integrator = poem::test::TestClient::new(app.app());
    let at = (app.state.clock.now() - Duration::hours(2)).to_rfc3339();
    let events = [
        event("missed-1", "NO_ANSWER", &at, "07700 900456"),
        event("missed-2", "NO_ANSWER", &at, "07700 900123"),
    ];
    let recorded = run_with_key(&integrator, &secret, RECORD, json!({ "events": events })).await;
    let results = &recorded["data"]["recordCallEvents"]["results"];
    let (first, second) = (
        results[0]["call"]["id"].clone(),
        results[1]["call"]["id"].clone(),
    );
    let log = "mutation($id: ID!) { logCallback(callId: $id, status: ANSWERED, externalId: \"cb-1\") { id } }";
    let once = run_with_key(&integrator, &secret, log, json!({ "id": first })).await;
    let again = run_with_key(&integrator, &secret, log, json!({ "id": first })).await;
    assert!(once["data"]["logCallback"]["id"].is_string(), "{once}");
    assert_eq!(
        again["data"]["logCallback"]["id"],
        once["data"]["logCallback"]["id"]
    );
    let elsewhere = run_with_key(&integrator, &secret, log, json!({ "id": second })).await;
    assert_eq!(error_code(&elsewhere), Some("CONFLICT"), "{elsewhere}");
    let callbacks = app
        .db
        .query_strings(
            "SELECT provider FROM calls WHERE direction = 'outbound'",
            &["provider"],
        )
        .await;
    assert_eq!(callbacks, [["api"]], "one callback, the integrator's");
    app.db.finish().await;
}

/// A booking whose verdict a purge froze still follows what is done to it: a new value is its
/// credit's value, and cancelled it takes no credit, so a later booking of the caller takes the
/// missed call (credited once). A booking dated before the frozen line is refused; a restricted
/// caller's booking is kept under a stand-in key.
async fn a_booking_a_purge_froze_follows_its_changes(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let start = app.db.clock.now();
    let recorded = app
        .owner
        .run(
            RECORD,
            json!({ "events": [event(
                "ext-1",
                "NO_ANSWER",
                &(start - Duration::days(3)).to_rfc3339(),
                "07700 900123",
            )] }),
        )
        .await;
    let missed = recorded["data"]["recordCallEvents"]["results"][0]["call"]["id"].clone();
    let logged = app
        .owner
        .run(
            "mutation($id: ID!) { logCallback(callId: $id, status: ANSWERED) { id } }",
            json!({ "id": missed }),
        )
        .await;
    assert!(logged["errors"].is_null(), "{logged}");
    // Another caller recovered nine days ago, on a day the purge below freezes.
    let nine_days_ago = start - Duration::days(9);
    let earlier = app
        .owner
        .run(
            RECORD,
            json!({ "events": [
                event("ext-9", "NO_ANSWER", &(nine_days_ago - Duration::hours(6)).to_rfc3339(), "07700 900125"),
                { "externalId": "ext-10", "direction": "OUTBOUND", "status": "ANSWERED",
                  "startedAt": (nine_days_ago - Duration::hours(3)).to_rfc3339(),
                  "callerNumber": "07700 900125" },
            ] }),
        )
        .await;
    assert_eq!(
        earlier["data"]["recordCallEvents"]["recorded"], 2,
        "{earlier}"
    );
    let old_booking = app
        .owner
        .run(
            "mutation($at: DateTime) { createAppointment(input: { callerNumber: \"07700 900125\", \
             valueMinor: 7000, bookedAt: $at }) { id attribution { status } } }",
            json!({ "at": nine_days_ago.to_rfc3339() }),
        )
        .await;
    assert_eq!(
        old_booking["data"]["createAppointment"]["attribution"]["status"], "RECOVERED",
        "{old_booking}"
    );
    let that_day = nine_days_ago
        .with_timezone(&chrono_tz::Europe::London)
        .date_naive();
    let recovered_that_day = async |app: &mut TestApp| {
        let read = app
            .owner
            .run(
                "query($d: NaiveDate!) { metrics(from: $d, to: $d) { totals { recoveredAppointments \
                 recoveredRevenueMinor } } }",
                json!({ "d": that_day }),
            )
            .await;
        let totals = &read["data"]["metrics"]["totals"];
        (
            totals["recoveredAppointments"].clone(),
            totals["recoveredRevenueMinor"].clone(),
        )
    };
    assert_eq!(recovered_that_day(&mut app).await, (json!(1), json!(7000)));
    let book = "mutation($at: DateTime) { createAppointment(input: { callerNumber: \"07700 900123\", \
                valueMinor: 5000, bookedAt: $at }) { id callerKey attribution { status reason } } }";
    let first = app.owner.run(book, json!({ "at": null })).await;
    let first_id = first["data"]["createAppointment"]["id"].clone();
    let from_pms = "mutation($at: DateTime) { createAppointment(input: { callerNumber: \"07700 900124\", \
                    valueMinor: 100, externalId: \"pms-1\", bookedAt: $at }) { id } }";
    let pms_booked_at = app.db.clock.now().to_rfc3339();
    let synced = app
        .owner
        .run(from_pms, json!({ "at": pms_booked_at }))
        .await;
    assert!(synced["errors"].is_null(), "{synced}");
    assert_eq!(
        first["data"]["createAppointment"]["attribution"]["status"], "RECOVERED",
        "{first}"
    );
    // Calls were purged up to a week (the window) and half an hour after the first booking.
    app.db.clock.advance(Duration::hours(1));
    app.sign_in_again().await;
    let line = app.db.clock.now() - Duration::minutes(30);
    let purged_before =
        (line - Duration::days(7)).to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    app.db
        .execute_as_owner(&format!(
            "UPDATE clinics SET calls_purged_before = '{purged_before}'"
        ))
        .await;
    let second = app.owner.run(book, json!({ "at": null })).await;
    assert_eq!(
        second["data"]["createAppointment"]["attribution"]["reason"],
        "missed_calls_already_credited",
        "{second}"
    );
    let second_id = second["data"]["createAppointment"]["id"].clone();

    // The verdicts of the first caller's bookings (the others' are worth 100 and 7000).
    let verdicts = async |app: &TestApp| {
        app.db
            .query_strings(
                "SELECT reason, value_minor || '' AS v, \
                 CASE WHEN missed_call_id IS NULL THEN '-' ELSE 'call' END AS m \
                 FROM attributions WHERE value_minor NOT IN (100, 7000) ORDER BY appointment_id",
                &["reason", "v", "m"],
            )
            .await
    };
    let revalued = app
        .owner
        .run(
            "mutation($id: ID!) { updateAppointment(id: $id, valueMinor: 9900) { id } }",
            json!({ "id": first_id }),
        )
        .await;
    assert!(revalued["errors"].is_null(), "{revalued}");
    let after_update = verdicts(&app).await;
    assert_eq!(
        (after_update[0][0].as_str(), after_update[0][1].as_str()),
        ("recovered", "9900"),
        "the frozen credit carries the new value: {after_update:?}"
    );
    let cancelled = app
        .owner
        .run(
            "mutation($id: ID!) { cancelAppointment(id: $id) { attribution { reason } } }",
            json!({ "id": first_id }),
        )
        .await;
    assert_eq!(
        cancelled["data"]["cancelAppointment"]["attribution"]["reason"], "cancelled",
        "{cancelled}"
    );
    let after_cancel = verdicts(&app).await;
    // The booking on the frozen day cancelled: that day's stored figures follow.
    let cancelled_old = app
        .owner
        .run(
            "mutation($id: ID!) { cancelAppointment(id: $id) { id } }",
            json!({ "id": old_booking["data"]["createAppointment"]["id"] }),
        )
        .await;
    assert!(cancelled_old["errors"].is_null(), "{cancelled_old}");
    assert_eq!(recovered_that_day(&mut app).await, (json!(0), json!(0)));
    assert_eq!(after_cancel[0][0], "cancelled", "{after_cancel:?}");
    assert_eq!(after_cancel[0][2], "-", "{after_cancel:?}");
    assert_eq!(after_cancel[1][0], "recovered", "{after_cancel:?}");
    let naming_the_call = after_cancel.iter().filter(|row| row[2] != "-").count();
    assert_eq!(naming_the_call, 1, "{after_cancel:?}");
    assert_ne!(first_id, second_id);

    let too_early = app
        .owner
        .run(
            book,
            json!({ "at": (line - Duration::minutes(1)).to_rfc3339() }),
        )
        .await;
    assert_eq!(
        error_code(&too_early),
        Some("BAD_USER_INPUT"),
        "{too_early}"
    );
    assert!(
        too_early
            .to_string()
            .contains("bookedAt must be on or after"),
        "{too_early}"
    );
    // A booking sent again is the one stored, however long ago it was booked.
    let resynced = app
        .owner
        .run(from_pms, json!({ "at": pms_booked_at }))
        .await;
    assert_eq!(
        resynced["data"]["createAppointment"]["id"], synced["data"]["createAppointment"]["id"],
        "{resynced}"
    );

    let restricted = app
        .owner
        .run(
            "mutation { restrictCaller(number: \"07700 900123\", restricted: true) }",
            json!({}),
        )
        .await;
    assert!(restricted["errors"].is_null(), "{restricted}");
    let kept_apart = app
        .owner
        .run(
            "mutation { createAppointment(input: { callerNumber: \"07700 900123\", valueMinor: 5000 }) \
             { id callerKey attribution { status reason } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        kept_apart["data"]["createAppointment"]["attribution"]["status"], "UNATTRIBUTED",
        "counted without the caller's calls: {kept_apart}"
    );
    let key = kept_apart["data"]["createAppointment"]["callerKey"]
        .as_str()
        .unwrap_or_else(|| panic!("{kept_apart}"));
    assert!(
        ringback_shared::caller_key::is_anonymous(key),
        "a restricted caller's booking is kept under a stand-in key: {kept_apart}"
    );
    app.db.finish().await;
}

on_both_databases!(
    a_callback_sent_again_is_logged_once,
    an_external_id_names_one_booking,
    calls_appointments_and_attribution,
    a_withheld_number_counts_only_on_an_inbound_call,
    a_booking_a_purge_froze_follows_its_changes
);

/// A calls page reads each call's credit in the page's own statement, and it agrees with the
/// credit an appointment's missed call loads on its own. The rules credit a call once; should two
/// attributions ever name one call, the page still shows the call once, with the appointment id
/// that sorts first, and a call loading its credit on its own gets that one too.
async fn a_page_reads_each_credit_with_its_call(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let at = (app.state.clock.now() - Duration::days(2)).to_rfc3339();
    let recorded = app
        .owner
        .run(
            RECORD,
            json!({ "events": [event("credit-1", "NO_ANSWER", &at, "07700 900456")] }),
        )
        .await;
    let call_id = recorded["data"]["recordCallEvents"]["results"][0]["call"]["id"].clone();
    let callback = app
        .owner
        .run(
            "mutation($id: ID!) { logCallback(callId: $id, status: ANSWERED) { id } }",
            json!({ "id": call_id }),
        )
        .await;
    assert!(callback["errors"].is_null(), "{callback}");
    let book = "mutation($number: String!) { createAppointment(input: { callerNumber: $number, \
        valueMinor: 9000 }) { id attribution { status } } }";
    let booked = app
        .owner
        .run(book, json!({ "number": "07700 900456" }))
        .await;
    assert_eq!(
        booked["data"]["createAppointment"]["attribution"]["status"], "RECOVERED",
        "{booked}"
    );
    let credit = "creditedTo { appointmentId valueMinor touchKind touchAt }";
    // The edges of list `list` (`calls`, `appointments`) as `query` asks for them.
    let edges = async |app: &mut TestApp, list: &str, query: String| {
        let answer = app.owner.run(&query, json!({})).await;
        let edges = answer["data"][list]["edges"].as_array().cloned();
        edges.unwrap_or_else(|| panic!("{list}: {answer}"))
    };
    let page_credit = async |app: &mut TestApp| {
        let query = format!(
            "{{ calls(filter: {{ missed: true }}) {{ edges {{ node {{ id {credit} }} }} }} }}"
        );
        let edges = edges(app, "calls", query).await;
        assert_eq!(edges.len(), 1, "the call once: {edges:?}");
        assert_eq!(edges[0]["node"]["id"], call_id);
        edges[0]["node"]["creditedTo"].clone()
    };
    // Each booking's missed call, loading its credit on its own (the credits loader).
    let loaded_credits = async |app: &mut TestApp| {
        let query = format!(
            "{{ appointments(first: 5) {{ edges {{ node {{ missedCall {{ {credit} }} }} }} }} }}"
        );
        let edges = edges(app, "appointments", query).await;
        edges
            .iter()
            .map(|edge| edge["node"]["missedCall"]["creditedTo"].clone())
            .collect::<Vec<_>>()
    };
    let on_page = page_credit(&mut app).await;
    assert_eq!(
        loaded_credits(&mut app).await,
        std::slice::from_ref(&on_page)
    );
    assert_eq!(
        on_page["appointmentId"],
        booked["data"]["createAppointment"]["id"]
    );
    assert_eq!(on_page["valueMinor"], 9000);

    // A second booking, unattributed, whose stored attribution is made to name the same call.
    let other = app
        .owner
        .run(book, json!({ "number": "07700 900123" }))
        .await;
    let ids: Vec<Uuid> = [&booked, &other]
        .iter()
        .map(|answer| {
            let id = answer["data"]["createAppointment"]["id"].as_str();
            Uuid::try_parse(id.unwrap_or_default()).expect("an appointment id")
        })
        .collect();
    let call = Uuid::try_parse(call_id.as_str().unwrap_or_default()).expect("a call id");
    let txn = app.tenant().begin().await.expect("txn");
    let named = txn
        .update_many::<attribution::Entity>()
        .col_expr(attribution::Column::MissedCallId, Expr::value(call))
        .filter(attribution::Column::AppointmentId.eq(ids[1]))
        .exec(txn.conn())
        .await
        .expect("name the call twice");
    assert_eq!(named.rows_affected, 1);
    txn.commit().await.expect("commit");
    let first = ids.iter().min().expect("two ids").to_string();
    assert_eq!(page_credit(&mut app).await["appointmentId"], first.as_str());
    // Both bookings now name the call: each loads the credit the page shows.
    let loaded = loaded_credits(&mut app).await;
    assert_eq!(loaded.len(), 2);
    for credit in &loaded {
        assert_eq!(credit["appointmentId"], first.as_str(), "{loaded:?}");
    }
    app.db.finish().await;
}

on_both_databases!(a_page_reads_each_credit_with_its_call);

/// Calls an integrator sends late mark their days for recounting, however old: days years apart
/// can be stale together. Settling every stale day (as a caller's erasure and the retention purge
/// do) recounts them in runs the recount accepts (under 400 days each), all of them.
async fn stale_days_years_apart_settle_together(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let now = app.state.clock.now();
    let long_ago = (now - Duration::days(800)).to_rfc3339();
    let lately = (now - Duration::days(2)).to_rfc3339();
    let events = [
        event("late-1", "NO_ANSWER", &long_ago, "07700 900456"),
        event("late-2", "NO_ANSWER", &lately, "07700 900123"),
    ];
    let recorded = app.owner.run(RECORD, json!({ "events": events })).await;
    assert_eq!(
        recorded["data"]["recordCallEvents"]["recorded"], 2,
        "{recorded}"
    );
    // Stale days up to today (a call also marks the week after it, for late callbacks).
    let tomorrow = (now + Duration::days(1)).date_naive();
    let stale = async |app: &TestApp| {
        let txn = app.tenant().begin().await.expect("txn");
        let stale = txn
            .find::<daily_metric::Entity>()
            .filter(daily_metric::Column::Stale.eq(true))
            .filter(daily_metric::Column::Day.lt(tomorrow))
            .count(txn.conn())
            .await
            .expect("stale days");
        txn.commit().await.expect("commit");
        stale
    };
    assert!(
        stale(&app).await >= 2,
        "both calls' days wait for a recount"
    );
    let txn = app.tenant().begin().await.expect("txn");
    metrics::settle_before(&txn, tomorrow)
        .await
        .expect("every stale day settles");
    txn.commit().await.expect("commit");
    assert_eq!(stale(&app).await, 0);
    app.db.finish().await;
}

on_both_databases!(stale_days_years_apart_settle_together);

/// A page's cursor goes back as `after` and gives the next page; a cursor the server did not write
/// is refused as bad input.
async fn cursors_lead_to_the_next_page_and_bad_ones_are_refused(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let at = |hours| (app.state.clock.now() - Duration::hours(hours)).to_rfc3339();
    let events = [
        event("page-1", "NO_ANSWER", &at(3), "07700 900456"),
        event("page-2", "ANSWERED", &at(2), "07700 900123"),
    ];
    let recorded = app.owner.run(RECORD, json!({ "events": events })).await;
    assert_eq!(
        recorded["data"]["recordCallEvents"]["recorded"], 2,
        "{recorded}"
    );
    let page = "query($after: String) { calls(first: 1, after: $after) { \
        pageInfo { hasNextPage endCursor } edges { cursor node { status } } } }";
    let first = app.owner.run(page, json!({ "after": null })).await;
    let calls = &first["data"]["calls"];
    assert_eq!(calls["edges"][0]["node"]["status"], "ANSWERED", "{first}");
    assert_eq!(calls["pageInfo"]["hasNextPage"], true);
    assert_eq!(calls["pageInfo"]["endCursor"], calls["edges"][0]["cursor"]);
    let after = calls["pageInfo"]["endCursor"].clone();
    let second = app.owner.run(page, json!({ "after": after })).await;
    assert_eq!(
        second["data"]["calls"]["edges"][0]["node"]["status"], "NO_ANSWER",
        "{second}"
    );
    assert_eq!(second["data"]["calls"]["pageInfo"]["hasNextPage"], false);
    for bad in ["nope", "12_not-a-uuid", ""] {
        let refused = app.owner.run(page, json!({ "after": bad })).await;
        assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    }
    app.db.finish().await;
}

on_both_databases!(cursors_lead_to_the_next_page_and_bad_ones_are_refused);

/// Calls that started at the same instant page in id order, newest id first: following the
/// cursors one call at a time gives each exactly once.
async fn calls_that_start_together_page_by_id(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let at = (app.state.clock.now() - Duration::hours(2)).to_rfc3339();
    let events: Vec<Value> = ["tie-1", "tie-2", "tie-3"]
        .into_iter()
        .map(|id| event(id, "NO_ANSWER", &at, "07700 900456"))
        .collect();
    let recorded = app.owner.run(RECORD, json!({ "events": events })).await;
    assert_eq!(
        recorded["data"]["recordCallEvents"]["recorded"], 3,
        "{recorded}"
    );
    let page = "query($after: String) { calls(first: 1, after: $after) { \
        pageInfo { hasNextPage endCursor } edges { node { id } } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let answer = app.owner.run(page, json!({ "after": after })).await;
        let calls = &answer["data"]["calls"];
        let id = calls["edges"][0]["node"]["id"].as_str();
        let id = id.unwrap_or_else(|| panic!("a call after {seen:?} ({after}): {answer}"));
        seen.push(Uuid::try_parse(id).expect("a call id"));
        if calls["pageInfo"]["hasNextPage"] != true {
            break;
        }
        assert!(seen.len() < 3, "a fourth page: {answer}");
        after = calls["pageInfo"]["endCursor"].clone();
    }
    let mut newest_id_first = seen.clone();
    newest_id_first.sort_unstable_by(|a, b| b.cmp(a));
    newest_id_first.dedup();
    assert_eq!(seen, newest_id_first, "each call once, by id descending");
    assert_eq!(seen.len(), 3);
    app.db.finish().await;
}

on_both_databases!(calls_that_start_together_page_by_id);

/// A clinic whose appointments name more callers than one SQL statement may list (SQLite takes
/// at most 32,766 values) can still change its attribution window: the verdicts are recomputed a
/// few hundred callers at a time.
#[tokio::test]
async fn a_window_change_recomputes_a_clinic_of_many_callers() {
    let mut app = TestApp::new(DatabaseKind::Sqlite).await;
    // Booked a day before the test's clock, written as SQLite keeps instants.
    let booked = (app.state.clock.now() - Duration::days(1)).format("%Y-%m-%dT%H:%M:%S+00:00");
    app.db
        .execute_as_owner(&format!(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 33000) \
             INSERT INTO appointments (clinic_id, id, caller_key, source, value_minor, \
               created_at, updated_at) \
             SELECT (SELECT clinic_id FROM memberships LIMIT 1), randomblob(16), 'v1:many-' || x, \
               'api', 1000, '{booked}', '{booked}' FROM n"
        ))
        .await;
    let changed = app
        .owner
        .run(
            "mutation { updateClinicSettings(input: { attributionWindowDays: 3 }) { attributionWindowDays } }",
            json!({}),
        )
        .await;
    assert!(changed["errors"].is_null(), "{changed}");
    assert_eq!(
        changed["data"]["updateClinicSettings"]["attributionWindowDays"],
        3
    );
    app.db.finish().await;
}

/// A clinic with two thousand calls an hour apart, its statistics read: an empty table plans any
/// way cheaply.
async fn two_thousand_calls(app: &TestApp) {
    app.db
        .execute_as_owner(&format!(
            "INSERT INTO calls (clinic_id, id, provider, external_id, direction, status, missed, \
               caller_key, caller_tail, started_at, created_at, updated_at) \
             SELECT '{}', gen_random_uuid(), 'api', 'ext-' || n, 'inbound', 'no_answer', true, \
               'v1:test-' || (n % 300), '•••• 123', now() - n * interval '1 hour', now(), now() \
             FROM generate_series(1, 2000) AS n; ANALYZE calls",
            app.clinic_id
        ))
        .await;
}

/// Rows of `calls` this transaction has fetched through an index so far.
async fn calls_fetched_by_index(txn: &ringback_api::tenant::TenantTxn) -> i64 {
    let row = txn
        .conn()
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT idx_tup_fetch AS read FROM pg_stat_xact_user_tables WHERE relname = 'calls'",
        ))
        .await
        .expect("read the transaction's index statistics")
        .expect("one row");
    row.try_get("", "read").expect("read")
}

/// A page deep in a long list reads its own calls from the index, not every newer call first
/// (with the cursor as `started_at < t OR (started_at = t AND id < i)`, PostgreSQL read the
/// thousand newer calls of this clinic to drop them).
#[tokio::test]
async fn a_page_after_a_cursor_reads_only_its_own_calls() {
    let app = TestApp::new(DatabaseKind::Postgres).await;
    two_thousand_calls(&app).await;
    let txn = app.tenant().begin().await.expect("txn");
    let mut cursor = None;
    for _ in 0..20 {
        let page = calls::list(&txn, None, &CallFilter::default(), cursor, 50)
            .await
            .expect("a page of calls");
        let last = &page[49].call;
        cursor = Some(calls::CallCursor {
            started_at: last.started_at,
            id: last.id,
        });
    }
    let before = calls_fetched_by_index(&txn).await;
    let page = calls::list(&txn, None, &CallFilter::default(), cursor, 50)
        .await
        .expect("the page after a thousand calls");
    let read = calls_fetched_by_index(&txn).await - before;
    assert_eq!(page.len(), 51, "a full page and the one after it");
    assert!(
        read <= 52,
        "the 21st page fetched {read} calls through the index for its 51 rows"
    );
    txn.commit().await.expect("commit");
    app.db.finish().await;
}

/// A page's limit is written into its SQL, so PostgreSQL plans a page of calls once per size and
/// connection and then reuses the plan; with the limit bound as a parameter every read was
/// planned afresh (the generic plan, which must guess the limit, never looked cheap enough).
#[tokio::test]
async fn postgres_reuses_its_plan_for_a_page_of_calls() {
    let app = TestApp::new(DatabaseKind::Postgres).await;
    two_thousand_calls(&app).await;
    let txn = app.tenant().begin().await.expect("txn");
    for _ in 0..8 {
        calls::list(&txn, None, &CallFilter::default(), None, 50)
            .await
            .expect("a page of calls");
    }
    let plans = txn
        .conn()
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements \
             WHERE statement LIKE 'SELECT %FROM \"calls\"%ORDER BY%LIMIT %' \
               AND statement NOT LIKE '%pg_prepared_statements%'",
        ))
        .await
        .expect("read the connection's prepared statements")
        .expect("the page's statement is prepared");
    let generic: i64 = plans.try_get("", "generic_plans").expect("generic_plans");
    let custom: i64 = plans.try_get("", "custom_plans").expect("custom_plans");
    assert!(
        generic >= 3 && custom <= 5,
        "8 pages: {generic} runs of the kept plan, {custom} planned afresh"
    );
    txn.commit().await.expect("commit");
    app.db.finish().await;
}

/// An integrator's retry sent while the first request is still running (PostgreSQL, where the two
/// run side by side): the retry waits for the first and reads its call as a duplicate, and the
/// batch's other events are kept, rather than the whole batch failing on the unique index.
#[tokio::test]
async fn a_retry_overlapping_the_first_request_reads_as_a_duplicate() {
    use ringback_api::service::calls::{CallEvent, EventResult};
    use ringback_shared::attribution::{CallDirection, CallOutcome};
    let app = TestApp::new(DatabaseKind::Postgres).await;
    let now = app.state.clock.now();
    let event = move |id: &str| CallEvent {
        external_id: id.to_owned(),
        direction: CallDirection::Inbound,
        outcome: CallOutcome::NoAnswer,
        started_at: now - Duration::minutes(5),
        answered_at: None,
        ended_at: Some(now - Duration::minutes(4)),
        caller_number: "+447700900042".to_owned(),
        provider_number_id: None,
    };
    let first = app.tenant().begin().await.expect("begin");
    calls::record_events(
        &first,
        &app.state.secrets,
        None,
        "api",
        vec![event("pbx-1")],
    )
    .await
    .expect("recorded, not yet committed");
    let (scope, secrets) = (app.tenant(), app.state.secrets.clone());
    let retry = tokio::spawn(async move {
        let txn = scope.begin().await.expect("begin");
        let results = calls::record_events(
            &txn,
            &secrets,
            None,
            "api",
            vec![event("pbx-1"), event("pbx-2")],
        )
        .await;
        txn.commit().await.expect("commit");
        results
    });
    // The retry reaches the first request's call, then the first request commits.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    first.commit().await.expect("the first request commits");
    let results = retry.await.expect("joined").expect("the retry is answered");
    let outcomes: Vec<(&str, &str)> = results
        .iter()
        .map(|(id, result)| {
            let outcome = match result {
                EventResult::Recorded(_) => "recorded",
                EventResult::Duplicate(_) => "duplicate",
                EventResult::Rejected(_) => "rejected",
            };
            (id.as_str(), outcome)
        })
        .collect();
    assert_eq!(outcomes, [("pbx-1", "duplicate"), ("pbx-2", "recorded")]);
}
