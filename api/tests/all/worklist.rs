//! The worklist on SQLite and PostgreSQL: missed callers wait, oldest first, until someone speaks
//! with them, books, or is dismissed with a reason (counted, audited, undoable); an unanswered
//! callback attempt is counted but does not end the wait; the list looks back over the clinic's
//! attribution window and pages.

use crate::common::app::TestApp;
use chrono::Duration;
use ringback_api::config::DatabaseKind;
use serde_json::{Value, json};

const WORKLIST: &str = "{ worklist(first: 100) { edges { node { callerTail missedCalls \
    callbackAttempts callId textBackStatus replied } } } }";

/// The rows of a worklist answer.
fn rows(list: &Value) -> Vec<Value> {
    list["data"]["worklist"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("no worklist: {list}"))
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}

fn tails(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .map(|r| r["callerTail"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn worklist(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let clock = app.state.clock.clone();
    let at = |minutes: i64| (clock.now() - Duration::minutes(minutes)).to_rfc3339();
    let staff = &mut app.owner;
    let events = json!([
        { "externalId": "w1", "direction": "INBOUND", "status": "NO_ANSWER", "startedAt": at(50), "callerNumber": "07700 900201" },
        { "externalId": "w2", "direction": "INBOUND", "status": "BUSY", "startedAt": at(40), "callerNumber": "07700 900202" },
        { "externalId": "w3", "direction": "INBOUND", "status": "NO_ANSWER", "startedAt": at(30), "callerNumber": "07700 900201" },
        { "externalId": "w4", "direction": "INBOUND", "status": "ANSWERED", "startedAt": at(20), "answeredAt": at(20), "callerNumber": "07700 900203" },
    ]);
    let recorded = staff
        .run(
            "mutation($e: [CallEventInput!]!) { recordCallEvents(events: $e) { recorded } }",
            json!({ "e": events }),
        )
        .await;
    assert_eq!(
        recorded["data"]["recordCallEvents"]["recorded"], 4,
        "{recorded}"
    );

    let list = staff.run(WORKLIST, json!({})).await;
    let waiting = rows(&list);
    assert_eq!(
        tails(&waiting),
        ["•••• 201", "•••• 202"],
        "oldest wait first; an answered caller is not waiting"
    );
    assert_eq!(waiting[0]["missedCalls"], 2);
    assert!(waiting[0]["textBackStatus"].is_string());

    let log = |id: &Value, status: &str| json!({ "id": id, "status": status });
    let attempt = staff
        .run(
            "mutation($id: ID!, $status: CallStatus!) { logCallback(callId: $id, status: $status) { id } }",
            log(&waiting[0]["callId"], "NO_ANSWER"),
        )
        .await;
    assert!(attempt["errors"].is_null(), "{attempt}");
    let list = staff.run(WORKLIST, json!({})).await;
    assert_eq!(
        list["data"]["worklist"]["edges"][0]["node"]["callbackAttempts"], 1,
        "{list}"
    );
    let spoke = staff
        .run(
            "mutation($id: ID!, $status: CallStatus!) { logCallback(callId: $id, status: $status) { id } }",
            log(&waiting[0]["callId"], "ANSWERED"),
        )
        .await;
    assert!(spoke["errors"].is_null(), "{spoke}");
    let list = staff.run(WORKLIST, json!({})).await;
    assert_eq!(
        tails(&rows(&list)),
        ["•••• 202"],
        "spoken with: off the list"
    );
    // A caller who objects to the processing of their data is called back no more.
    let restricted = staff
        .run(
            "mutation { restrictCaller(number: \"07700 900202\", restricted: true) }",
            json!({}),
        )
        .await;
    assert!(restricted["errors"].is_null(), "{restricted}");
    let list = staff.run(WORKLIST, json!({})).await;
    assert!(rows(&list).is_empty(), "restricted: off the list: {list}");
}

/// Records missed calls from `numbers`, `minutes_ago` each.
async fn missed<E: poem::Endpoint>(
    staff: &mut crate::common::graphql::Browser<E>,
    clock: &ringback_api::clock::Clock,
    calls: &[(&str, i64, &str)],
) -> Vec<String> {
    let events: Vec<Value> = calls
        .iter()
        .map(|(id, minutes_ago, number)| {
            json!({ "externalId": id, "direction": "INBOUND", "status": "NO_ANSWER",
                    "startedAt": (clock.now() - Duration::minutes(*minutes_ago)).to_rfc3339(),
                    "callerNumber": number })
        })
        .collect();
    let recorded = staff
        .run(
            "mutation($e: [CallEventInput!]!) { recordCallEvents(events: $e) { results { call { id } } } }",
            json!({ "e": events }),
        )
        .await;
    recorded["data"]["recordCallEvents"]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("{recorded}"))
        .iter()
        .map(|row| row["call"]["id"].as_str().expect("call id").to_owned())
        .collect()
}

async fn staff_can_finish_the_worklist(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let clock = app.state.clock.clone();
    let staff = &mut app.owner;
    let day = 24 * 60;
    let ids = missed(
        staff,
        &clock,
        &[
            ("f1", 10 * day, "07700 900301"),
            ("f2", 60, "07700 900302"),
            ("f3", 50, "07700 900303"),
            ("f4", 40, "07700 900304"),
        ],
    )
    .await;

    // The look-back is the attribution window: seven days by default, then fourteen.
    let list = staff.run(WORKLIST, json!({})).await;
    assert_eq!(tails(&rows(&list)), ["•••• 302", "•••• 303", "•••• 304"]);
    staff
        .run(
            "mutation { updateClinicSettings(input: { attributionWindowDays: 14 }) { id } }",
            json!({}),
        )
        .await;
    let list = staff.run(WORKLIST, json!({})).await;
    assert_eq!(
        tails(&rows(&list)),
        ["•••• 301", "•••• 302", "•••• 303", "•••• 304"]
    );

    // Pages, instead of stopping at a fixed number.
    let page = "query($after: String) { worklist(first: 3, after: $after) { edges { cursor node { callerTail } } \
                pageInfo { hasNextPage endCursor } } }";
    let first = staff.run(page, json!({ "after": null })).await;
    assert_eq!(
        first["data"]["worklist"]["pageInfo"]["hasNextPage"], true,
        "{first}"
    );
    let end = first["data"]["worklist"]["pageInfo"]["endCursor"].clone();
    let second = staff.run(page, json!({ "after": end })).await;
    let rest: Vec<&str> = second["data"]["worklist"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| edge["node"]["callerTail"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(rest, ["•••• 304"], "{second}");
    assert_eq!(second["data"]["worklist"]["pageInfo"]["hasNextPage"], false);
    let bad = staff.run(page, json!({ "after": "nonsense" })).await;
    assert_eq!(
        crate::common::graphql::error_code(&bad),
        Some("BAD_USER_INPUT")
    );

    // A booking takes 302 off; staff dismiss 303 as a wrong number.
    let booked = staff
        .run(
            "mutation { createAppointment(input: { callerNumber: \"07700 900302\", valueMinor: 100 }) { id } }",
            json!({}),
        )
        .await;
    assert!(booked["errors"].is_null(), "{booked}");
    let dismissed = staff
        .run(
            "mutation($id: ID!) { dismissWaitingCaller(callId: $id, reason: WRONG_NUMBER) { id callerTail reason } }",
            json!({ "id": ids[2] }),
        )
        .await;
    let dismissal = &dismissed["data"]["dismissWaitingCaller"];
    assert_eq!(dismissal["reason"], "WRONG_NUMBER", "{dismissed}");
    assert_eq!(dismissal["callerTail"], "•••• 303");
    let list = staff.run(WORKLIST, json!({})).await;
    assert_eq!(tails(&rows(&list)), ["•••• 301", "•••• 304"]);

    let counted = staff
        .run(
            "{ worklistDismissals { counts { reason count } latest { id callerTail undoneAt } } }",
            json!({}),
        )
        .await;
    let counts = &counted["data"]["worklistDismissals"]["counts"];
    let wrong_number = counts
        .as_array()
        .expect("counts")
        .iter()
        .find(|c| c["reason"] == "WRONG_NUMBER")
        .expect("a count per reason");
    assert_eq!(wrong_number["count"], 1, "{counted}");
    let audit = staff
        .run(
            "{ auditLog(first: 20) { edges { node { action } } } }",
            json!({}),
        )
        .await;
    assert!(
        audit.to_string().contains("worklist.caller_dismissed"),
        "{audit}"
    );

    // Undone: back on the list; a new miss after a dismissal puts a caller back too.
    let undo = staff
        .run(
            "mutation($id: ID!) { undoDismissal(id: $id) { undoneAt } }",
            json!({ "id": dismissal["id"] }),
        )
        .await;
    assert!(
        undo["data"]["undoDismissal"]["undoneAt"].is_string(),
        "{undo}"
    );
    let list = staff.run(WORKLIST, json!({})).await;
    assert_eq!(tails(&rows(&list)), ["•••• 301", "•••• 303", "•••• 304"]);
    staff
        .run(
            "mutation($id: ID!) { dismissWaitingCaller(callId: $id, reason: SPAM) { id } }",
            json!({ "id": ids[3] }),
        )
        .await;
    clock.advance(Duration::minutes(1));
    let latest = missed(staff, &clock, &[("f5", 0, "07700 900304")]).await;
    let list = staff.run(WORKLIST, json!({})).await;
    let listed = rows(&list);
    assert_eq!(tails(&listed), ["•••• 301", "•••• 303", "•••• 304"]);
    assert_eq!(
        listed[2]["missedCalls"], 1,
        "only the miss after the dismissal"
    );
    // A dismissal covers the calls recorded by then: one a phone system reports later puts the
    // caller back, though it started before the dismissal.
    clock.advance(Duration::minutes(2));
    staff
        .run(
            "mutation($id: ID!) { dismissWaitingCaller(callId: $id, reason: SPAM) { id } }",
            json!({ "id": latest[0] }),
        )
        .await;
    let list = staff.run(WORKLIST, json!({})).await;
    assert_eq!(tails(&rows(&list)), ["•••• 301", "•••• 303"]);
    clock.advance(Duration::minutes(5));
    missed(staff, &clock, &[("f6", 6, "07700 900304")]).await;
    let list = staff.run(WORKLIST, json!({})).await;
    let listed = rows(&list);
    assert_eq!(tails(&listed), ["•••• 301", "•••• 303", "•••• 304"]);
    assert_eq!(listed[2]["missedCalls"], 1, "the late one only: {list}");
    let unknown = staff
        .run(
            "mutation { undoDismissal(id: \"0192f000-0000-7000-8000-000000000000\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        crate::common::graphql::error_code(&unknown),
        Some("NOT_FOUND")
    );
}

const FIND: &str = "query($number: String!) { findCaller(number: $number) { callerKey callerTail \
    calls { direction status } conversations { id } } }";

async fn a_caller_is_found_by_the_number_staff_have(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let clock = app.state.clock.clone();
    let staff = &mut app.owner;
    missed(
        staff,
        &clock,
        &[
            ("n1", 90, "07700 900401"),
            ("n2", 30, "07700 900401"),
            ("n3", 20, "07700 900402"),
        ],
    )
    .await;

    let mut answers = Vec::new();
    for typed in ["07700 900401", "+44 7700 900401", "447700900401"] {
        let found = staff.run(FIND, json!({ "number": typed })).await;
        let caller = &found["data"]["findCaller"];
        assert_eq!(caller["callerTail"], "•••• 401", "{found}");
        assert_eq!(caller["calls"].as_array().map(Vec::len), Some(2), "{found}");
        answers.push(found);
    }
    let stranger = staff.run(FIND, json!({ "number": "07700 900499" })).await;
    assert_eq!(
        stranger["data"]["findCaller"]["calls"],
        json!([]),
        "{stranger}"
    );
    let bad = staff.run(FIND, json!({ "number": "call me maybe" })).await;
    assert_eq!(
        crate::common::graphql::error_code(&bad),
        Some("BAD_USER_INPUT")
    );
    assert!(!bad.to_string().contains("call me maybe"), "{bad}");
    answers.push(bad);
    for answer in &answers {
        assert!(!answer.to_string().contains("7700900401"), "{answer}");
    }
    let audit = staff
        .run(
            "{ auditLog(first: 50) { edges { node { action detail } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        audit.to_string().matches("caller.looked_up").count(),
        4,
        "each lookup is audited: {audit}"
    );
    assert!(!audit.to_string().contains("7700900401"));

    // Twenty a minute per person.
    let mut limited = false;
    for _ in 0..20 {
        let answer = staff.run(FIND, json!({ "number": "07700 900402" })).await;
        limited |= crate::common::graphql::error_code(&answer) == Some("RATE_LIMITED");
    }
    assert!(limited, "lookups are limited per person");
    let booked = staff
        .run(
            "mutation { createAppointment(input: { callerNumber: \"07700 900403\", valueMinor: 0 }) \
             { callerTail } }",
            json!({}),
        )
        .await;
    assert_eq!(
        crate::common::graphql::error_code(&booked),
        Some("RATE_LIMITED"),
        "booking by number draws on the same allowance: {booked}"
    );
}

/// The clinic's latest activity moves with each call recorded (one reported late included) and
/// each text, and reading it leaves no audit note.
async fn the_latest_activity_moves_with_calls_and_texts(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    const ACTIVITY: &str =
        "{ activity { latestCallId latestMessageAt latestDismissalId latestAppointmentId } }";
    let notes = async |app: &TestApp| {
        app.db
            .query_strings(
                "SELECT ((SELECT count(*) FROM audit_log) + (SELECT count(*) FROM audit_pending)) || '' AS n",
                &["n"],
            )
            .await
    };
    let quiet = app.owner.run(ACTIVITY, json!({})).await;
    assert_eq!(
        quiet["data"]["activity"],
        json!({ "latestCallId": null, "latestMessageAt": null, "latestDismissalId": null,
                "latestAppointmentId": null }),
        "{quiet}"
    );
    let at = (app.state.clock.now() - Duration::minutes(5)).to_rfc3339();
    let earlier = (app.state.clock.now() - Duration::minutes(50)).to_rfc3339();
    let mut seen = Vec::new();
    for (id, started) in [("a1", &at), ("a2", &earlier)] {
        let recorded = app
            .owner
            .run(
                "mutation($id: String!, $at: DateTime!) { recordCallEvents(events: [{ externalId: $id, \
                 direction: INBOUND, status: NO_ANSWER, startedAt: $at, callerNumber: \"07700 900231\" }]) \
                 { results { call { id } } } }",
                json!({ "id": id, "at": started }),
            )
            .await;
        let call = recorded["data"]["recordCallEvents"]["results"][0]["call"]["id"].clone();
        let activity = app.owner.run(ACTIVITY, json!({})).await;
        assert_eq!(
            activity["data"]["activity"]["latestCallId"], call,
            "the newest call recorded, even one that started earlier: {activity}"
        );
        seen.push(activity["data"]["activity"]["latestCallId"].clone());
    }
    assert_ne!(seen[0], seen[1]);
    app.receive_text("SM00000000000000000000000000000231", "+447700900231", "Hi")
        .await;
    let texted = app.owner.run(ACTIVITY, json!({})).await;
    assert!(
        texted["data"]["activity"]["latestMessageAt"].is_string(),
        "{texted}"
    );
    // A colleague's dismissal or booking moves it too: the caller leaves everyone's worklist.
    let dismissed = app
        .owner
        .run(
            "mutation($id: ID!) { dismissWaitingCaller(callId: $id, reason: SPAM) { id } }",
            json!({ "id": seen[0] }),
        )
        .await;
    assert!(dismissed["errors"].is_null(), "{dismissed}");
    let after_dismissal = app.owner.run(ACTIVITY, json!({})).await;
    assert!(
        after_dismissal["data"]["activity"]["latestDismissalId"].is_string(),
        "{after_dismissal}"
    );
    let booked = app
        .owner
        .run(
            "mutation { createAppointment(input: { callerNumber: \"07700 900232\", valueMinor: 100 }) { id } }",
            json!({}),
        )
        .await;
    let after_booking = app.owner.run(ACTIVITY, json!({})).await;
    assert_eq!(
        after_booking["data"]["activity"]["latestAppointmentId"],
        booked["data"]["createAppointment"]["id"],
        "{after_booking}"
    );
    let before = notes(&app).await;
    app.owner.run(ACTIVITY, json!({})).await;
    assert_eq!(notes(&app).await, before, "no audit note for the activity");
    app.db.finish().await;
}

on_both_databases!(
    worklist,
    staff_can_finish_the_worklist,
    a_caller_is_found_by_the_number_staff_have,
    the_latest_activity_moves_with_calls_and_texts
);
