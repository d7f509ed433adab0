//! The shared inbox's list: the first words of each conversation's last message, unread until
//! someone in the team opens it (again unread when a new message comes), who holds it, the views
//! a front desk works (open, mine, unassigned, closed), the unread count the navigation shows, and
//! the list read audited. On SQLite and PostgreSQL.

mod common;

use common::app::TestApp;
use common::graphql::error_code;
use ringback_api::config::DatabaseKind;
use serde_json::{Value, json};

const INBOX: &str = "query($view: InboxFilter) { inbox(view: $view) { conversation { id callerTail } preview unread assigneeName } inboxUnread }";

const LONG_TEXT: &str = "Is Friday free for a check-up? I can come any time after lunch, or on Saturday morning if you open then";

/// The inbox in `view`, as (tail, preview, unread, assignee) rows, and the unread count.
async fn inbox(app: &mut TestApp, view: &str) -> (Vec<Value>, Value) {
    let answer = app.owner.run(INBOX, json!({ "view": view })).await;
    assert!(answer["errors"].is_null(), "{answer}");
    let rows = answer["data"]["inbox"].as_array().expect("entries").clone();
    (rows, answer["data"]["inboxUnread"].clone())
}

async fn the_inbox_reads_like_a_front_desk(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    app.receive_text(
        "SM00000000000000000000000000000301",
        "+447700900301",
        LONG_TEXT,
    )
    .await;
    app.db.clock.advance(chrono::Duration::minutes(1));
    app.receive_text(
        "SM00000000000000000000000000000302",
        "+447700900302",
        "Hello",
    )
    .await;

    let (rows, unread) = inbox(&mut app, "OPEN").await;
    assert_eq!(unread, 2);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["preview"], "Hello", "latest activity first");
    let cut = rows[1]["preview"].as_str().expect("preview");
    assert!(
        cut.ends_with('…') && LONG_TEXT.starts_with(cut.trim_end_matches('…')),
        "{cut}"
    );
    assert!(
        rows.iter()
            .all(|row| row["unread"] == true && row["assigneeName"].is_null())
    );
    let long_id = rows[1]["conversation"]["id"].clone();
    let hello_id = rows[0]["conversation"]["id"].clone();

    // Opening a thread marks it read for the team.
    let opened = app
        .owner
        .run(
            "query($id: ID!) { conversation(id: $id) { messages { body } } }",
            json!({ "id": long_id }),
        )
        .await;
    assert!(opened["errors"].is_null(), "{opened}");
    let (rows, unread) = inbox(&mut app, "OPEN").await;
    assert_eq!(unread, 1);
    assert_eq!(rows[1]["unread"], false);

    // Assigned to the owner: theirs in "mine", gone from "unassigned".
    let me = app.owner.run("{ me { user { id } } }", json!({})).await;
    let assigned = app
        .owner
        .run(
            "mutation($id: ID!, $m: ID) { assignConversation(id: $id, memberId: $m) { id } }",
            json!({ "id": hello_id, "m": me["data"]["me"]["user"]["id"] }),
        )
        .await;
    assert!(assigned["errors"].is_null(), "{assigned}");
    let (mine, _) = inbox(&mut app, "MINE").await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["conversation"]["id"], hello_id);
    assert_eq!(mine[0]["assigneeName"], "Ada Owner");
    let (nobodys, _) = inbox(&mut app, "UNASSIGNED").await;
    assert_eq!(nobodys.len(), 1);
    assert_eq!(nobodys[0]["conversation"]["id"], long_id);

    // A new message makes a read thread unread again.
    app.db.clock.advance(chrono::Duration::minutes(1));
    app.receive_text(
        "SM00000000000000000000000000000303",
        "+447700900301",
        "Or Monday?",
    )
    .await;
    let (rows, unread) = inbox(&mut app, "OPEN").await;
    assert_eq!(unread, 2);
    assert_eq!(
        (&rows[0]["preview"], &rows[0]["unread"]),
        (&json!("Or Monday?"), &json!(true))
    );

    // Closed conversations have their own view.
    let closed = app
        .owner
        .run(
            "mutation($id: ID!) { closeConversation(id: $id) { id } }",
            json!({ "id": hello_id }),
        )
        .await;
    assert!(closed["errors"].is_null(), "{closed}");
    let (closed_rows, unread) = inbox(&mut app, "CLOSED").await;
    assert_eq!(closed_rows.len(), 1);
    assert_eq!(unread, 1, "closed conversations are not counted");

    let actions = app.audit_actions().await;
    assert!(
        actions
            .iter()
            .any(|(action, _)| action == "conversation.list_read"),
        "{actions:?}"
    );
    app.db.finish().await;
}

on_both_databases!(the_inbox_reads_like_a_front_desk);

/// An API key has no "mine": the view asks for a signed-in member.
#[tokio::test]
async fn mine_needs_a_member() {
    let mut app = TestApp::new(DatabaseKind::Sqlite).await;
    let key = app
        .owner
        .run(
            "mutation { createApiKey(name: \"sync\", scope: READ) { secret } }",
            json!({}),
        )
        .await;
    let key = key["data"]["createApiKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let client = poem::test::TestClient::new(app.app());
    let answer =
        common::graphql::run_with_key(&client, &key, "{ inbox(view: MINE) { unread } }", json!({}))
            .await;
    assert!(error_code(&answer).is_some(), "{answer}");
    app.db.finish().await;
}
