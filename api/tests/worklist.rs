//! The worklist on SQLite and PostgreSQL: missed callers wait, oldest first, until someone speaks
//! with them; an unanswered callback attempt is counted but does not end the wait.

mod common;

use chrono::Duration;
use common::app::TestApp;
use ringback_api::config::DatabaseKind;
use serde_json::{Value, json};

const WORKLIST: &str =
    "{ worklist { callerTail missedCalls callbackAttempts callId textBackStatus replied } }";

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
    let rows = list["data"]["worklist"].as_array().cloned().expect("rows");
    let tails: Vec<&str> = rows
        .iter()
        .map(|r| r["callerTail"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        tails,
        ["•••• 201", "•••• 202"],
        "oldest wait first; an answered caller is not waiting"
    );
    assert_eq!(rows[0]["missedCalls"], 2);
    assert!(rows[0]["textBackStatus"].is_string());

    let log = |id: &Value, status: &str| json!({ "id": id, "status": status });
    let attempt = staff
        .run(
            "mutation($id: ID!, $status: CallStatus!) { logCallback(callId: $id, status: $status) { id } }",
            log(&rows[0]["callId"], "NO_ANSWER"),
        )
        .await;
    assert!(attempt["errors"].is_null(), "{attempt}");
    let list = staff.run(WORKLIST, json!({})).await;
    assert_eq!(list["data"]["worklist"][0]["callbackAttempts"], 1, "{list}");
    let spoke = staff
        .run(
            "mutation($id: ID!, $status: CallStatus!) { logCallback(callId: $id, status: $status) { id } }",
            log(&rows[0]["callId"], "ANSWERED"),
        )
        .await;
    assert!(spoke["errors"].is_null(), "{spoke}");
    let list = staff.run(WORKLIST, json!({})).await;
    let tails: Vec<&str> = list["data"]["worklist"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["callerTail"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(tails, ["•••• 202"], "spoken with: off the list");
}

on_both_databases!(worklist);
