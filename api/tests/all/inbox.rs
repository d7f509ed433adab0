//! The shared inbox's list: the first words of each conversation's last message, unread until
//! someone in the team opens it (again unread when a new message comes), who holds it, the views
//! a front desk works (open, mine, unassigned, closed), the unread count the navigation shows, and
//! the list read audited. On SQLite and PostgreSQL.

use crate::common::app::TestApp;
use crate::common::graphql::error_code;
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

on_both_databases!(
    the_inbox_reads_like_a_front_desk,
    a_member_who_leaves_holds_no_conversation
);

/// The conversations a receptionist held go back to "Unassigned" when they are removed from the
/// team (counted in the removal's audit entry): assigned to someone nobody can be, they showed
/// under no one's "Mine" and not under "Unassigned".
async fn a_member_who_leaves_holds_no_conversation(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    app.receive_text(
        "SM00000000000000000000000000000311",
        "+447700900311",
        "Hello",
    )
    .await;
    let joiner = app.browser();
    let mut receptionist =
        crate::common::graphql::join(&mut app.owner, joiner, "robin@clinic.test", "RECEPTIONIST")
            .await;
    let robin = receptionist.run("{ me { user { id } } }", json!({})).await;
    let robin = robin["data"]["me"]["user"]["id"].clone();
    let (rows, _) = inbox(&mut app, "OPEN").await;
    let thread = rows[0]["conversation"]["id"].clone();
    let assigned = app
        .owner
        .run(
            "mutation($id: ID!, $m: ID) { assignConversation(id: $id, memberId: $m) { id } }",
            json!({ "id": thread, "m": robin }),
        )
        .await;
    assert!(assigned["errors"].is_null(), "{assigned}");
    let (nobodys, _) = inbox(&mut app, "UNASSIGNED").await;
    assert!(nobodys.is_empty(), "{nobodys:?}");

    let removed = app
        .owner
        .run(
            "mutation($id: ID!) { removeMember(userId: $id) }",
            json!({ "id": robin }),
        )
        .await;
    assert!(removed["errors"].is_null(), "{removed}");
    let (nobodys, _) = inbox(&mut app, "UNASSIGNED").await;
    assert_eq!(nobodys.len(), 1, "back with nobody: {nobodys:?}");
    assert!(nobodys[0]["assigneeName"].is_null());
    let actions = app.audit_actions().await;
    let removal = actions
        .iter()
        .find(|(action, _)| action == "team.member_removed")
        .expect("the removal is audited");
    let detail: Value = serde_json::from_str(&removal.1).expect("detail");
    assert_eq!(detail["conversations_unassigned"], 1, "{detail}");
}

/// A message whose stored text cannot be opened (a damaged row) shows as unreadable, without its
/// text; the rest of its thread, the other conversations on the same page and the inbox list
/// still show (its preview is simply absent).
async fn a_message_that_cannot_be_opened_hides_no_other(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    let texts = [
        (
            "SM00000000000000000000000000000311",
            "+447700900311",
            "First",
        ),
        (
            "SM00000000000000000000000000000312",
            "+447700900311",
            "Second",
        ),
        (
            "SM00000000000000000000000000000313",
            "+447700900312",
            "Hello",
        ),
    ];
    for (sid, from, text) in texts {
        app.receive_text(sid, from, text).await;
        app.db.clock.advance(chrono::Duration::minutes(1));
    }
    app.damage_message("SM00000000000000000000000000000312")
        .await;

    let (rows, unread) = inbox(&mut app, "OPEN").await;
    assert_eq!(unread, 2);
    let previews: Vec<&Value> = rows.iter().map(|row| &row["preview"]).collect();
    assert_eq!(previews, [&json!("Hello"), &Value::Null], "{rows:?}");

    let page = app
        .owner
        .run(
            "{ inbox(view: OPEN) { conversation { callerTail messages { body unreadable } } } }",
            json!({}),
        )
        .await;
    assert!(page["errors"].is_null(), "{page}");
    let threads: Vec<Value> = page["data"]["inbox"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|entry| entry["conversation"]["messages"].clone())
        .collect();
    assert_eq!(
        threads,
        [
            json!([{ "body": "Hello", "unreadable": false }]),
            json!([
                { "body": "First", "unreadable": false },
                { "body": "", "unreadable": true },
            ]),
        ]
    );
    app.db.finish().await;
}

on_both_databases!(a_message_that_cannot_be_opened_hides_no_other);

/// A missed call from `from` (national format) `hours_ago`, as an integrator records it; its id.
async fn missed_call(app: &mut TestApp, external_id: &str, from: &str, hours_ago: i64) -> Value {
    let at = app.state.clock.now() - chrono::Duration::hours(hours_ago);
    let recorded = app
        .owner
        .run(
            "mutation($id: String!, $from: String!, $at: DateTime!) { recordCallEvents(events: \
             [{ externalId: $id, direction: INBOUND, status: NO_ANSWER, startedAt: $at, \
             callerNumber: $from }]) { results { call { id } } } }",
            json!({ "id": external_id, "from": from, "at": at.to_rfc3339() }),
        )
        .await;
    let id = recorded["data"]["recordCallEvents"]["results"][0]["call"]["id"].clone();
    assert!(id.is_string(), "{recorded}");
    id
}

/// `actions` as AI steps of `conversation`, the first of them `minutes_ago`, one a minute later
/// each, stored newest first.
async fn ai_steps(app: &TestApp, conversation: uuid::Uuid, actions: &[&str], minutes_ago: i64) {
    use sea_orm::{ActiveModelTrait, Set};
    let txn = app.tenant().begin().await.expect("txn");
    let first = app.state.clock.now() - chrono::Duration::minutes(minutes_ago);
    for (n, action) in actions.iter().enumerate().rev() {
        ringback_entity::ai_step::ActiveModel {
            clinic_id: Set(app.clinic_id),
            id: Set(uuid::Uuid::now_v7()),
            conversation_id: Set(conversation),
            answered_message_id: Set(uuid::Uuid::now_v7()),
            action: Set((*action).to_owned()),
            outcome: Set(format!("step {n}")),
            tokens: Set(10),
            appointment_id: Set(None),
            created_at: Set(first + chrono::Duration::minutes(n as i64)),
        }
        .insert(txn.conn())
        .await
        .expect("step");
    }
    txn.commit().await.expect("commit");
}

/// A list of conversations reads every conversation's messages, AI steps and "Call back" call
/// together (one statement each for the whole list), and each conversation still shows its own:
/// its texts (the thread then read, the read noted once per conversation), steps oldest first,
/// the caller's latest missed call that keeps a number, nothing where there is none.
async fn each_listed_conversation_shows_its_own_steps_and_call_back(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    app.keep_numbers().await;
    missed_call(&mut app, "older-301", "07700 900301", 3).await;
    let latest_301 = missed_call(&mut app, "latest-301", "07700 900301", 2).await;
    let only_303 = missed_call(&mut app, "only-303", "07700 900303", 4).await;
    for tail in ["301", "302", "303"] {
        let sid = format!("SM00000000000000000000000000000{tail}");
        let text = format!("Hello from {tail}");
        app.receive_text(&sid, &format!("+447700900{tail}"), &text)
            .await;
    }
    let listed = app
        .owner
        .run("{ conversations(first: 10) { id callerTail } }", json!({}))
        .await;
    let id_of = |tail: &str| -> uuid::Uuid {
        let rows = listed["data"]["conversations"].as_array().expect("listed");
        let row = rows
            .iter()
            .find(|row| {
                row["callerTail"]
                    .as_str()
                    .is_some_and(|t| t.ends_with(tail))
            })
            .unwrap_or_else(|| panic!("{tail} not in {listed}"));
        row["id"].as_str().expect("id").parse().expect("uuid")
    };
    ai_steps(
        &app,
        id_of("301"),
        &["find_slots", "book_appointment", "reply"],
        30,
    )
    .await;
    ai_steps(&app, id_of("303"), &["hand_off"], 20).await;

    let answer = app
        .owner
        .run(
            "{ conversations(first: 10) { callerTail callBackCallId aiSteps { action outcome } \
             messages { body } } }",
            json!({}),
        )
        .await;
    assert!(answer["errors"].is_null(), "{answer}");
    let shown: Vec<(String, Value, Vec<String>, Value)> = answer["data"]["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .map(|row| {
            let actions = row["aiSteps"]
                .as_array()
                .expect("steps")
                .iter()
                .map(|step| format!("{}: {}", step["action"], step["outcome"]))
                .collect();
            let tail = row["callerTail"].as_str().expect("tail");
            (
                tail[tail.len() - 3..].to_owned(),
                row["callBackCallId"].clone(),
                actions,
                row["messages"].clone(),
            )
        })
        .collect();
    let mut expected = vec![
        (
            "301".to_owned(),
            latest_301,
            vec![
                "\"find_slots\": \"step 0\"".to_owned(),
                "\"book_appointment\": \"step 1\"".to_owned(),
                "\"reply\": \"step 2\"".to_owned(),
            ],
            json!([{ "body": "Hello from 301" }]),
        ),
        (
            "302".to_owned(),
            Value::Null,
            Vec::new(),
            json!([{ "body": "Hello from 302" }]),
        ),
        (
            "303".to_owned(),
            only_303,
            vec!["\"hand_off\": \"step 0\"".to_owned()],
            json!([{ "body": "Hello from 303" }]),
        ),
    ];
    expected.reverse();
    assert_eq!(shown, expected, "latest text first: 303, 302, 301");
    let unread = app.owner.run("{ inboxUnread }", json!({})).await;
    assert_eq!(
        unread["data"]["inboxUnread"], 0,
        "every listed thread was opened"
    );
    let clock = app.state.clock.clone();
    ringback_api::service::audit::sweep(&app.state.db, &clock, 10)
        .await
        .expect("sweep");
    let opened: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|(action, _)| action == "conversation.read")
        .map(|(_, detail)| detail)
        .collect();
    assert_eq!(
        opened.len(),
        3,
        "one read noted per conversation: {opened:?}"
    );
    assert!(
        opened.iter().all(|detail| {
            serde_json::from_str::<Value>(detail).is_ok_and(|detail| detail["messages"] == 1)
        }),
        "{opened:?}"
    );

    // The per-conversation bound holds whatever a conversation holds: the first `most` of each.
    let txn = app.tenant().begin().await.expect("txn");
    let first_two = txn
        .first_of_each::<ringback_entity::ai_step::Entity>(
            sea_orm::Condition::all(),
            ringback_entity::ai_step::Column::ConversationId,
            &[
                (
                    ringback_entity::ai_step::Column::CreatedAt,
                    sea_orm::Order::Asc,
                ),
                (ringback_entity::ai_step::Column::Id, sea_orm::Order::Asc),
            ],
            2,
        )
        .await
        .expect("read");
    txn.commit().await.expect("commit");
    let mut per_conversation: Vec<(uuid::Uuid, String)> = first_two
        .into_iter()
        .map(|step| (step.conversation_id, step.action))
        .collect();
    per_conversation.sort();
    let mut bounded = vec![
        (id_of("301"), "book_appointment".to_owned()),
        (id_of("301"), "find_slots".to_owned()),
        (id_of("303"), "hand_off".to_owned()),
    ];
    bounded.sort();
    assert_eq!(per_conversation, bounded);
    app.db.finish().await;
}

on_both_databases!(each_listed_conversation_shows_its_own_steps_and_call_back);

/// Every conversation of a list paged through once, pages of two, by `before` and `beforeId`
/// from the last of each page, in the lists' order; `field` is `inbox` or `conversations`.
async fn paged_through(app: &mut TestApp, field: &str) -> Vec<String> {
    let query = format!(
        "query($before: DateTime, $beforeId: ID) {{ {field}(before: $before, beforeId: $beforeId, \
         first: 2) {{ {} }} }}",
        if field == "inbox" {
            "conversation { id lastMessageAt }"
        } else {
            "id lastMessageAt"
        }
    );
    let mut seen = Vec::new();
    let mut start = json!({});
    loop {
        let answer = app.owner.run(&query, start).await;
        assert!(answer["errors"].is_null(), "{answer}");
        let page = answer["data"][field].as_array().expect("page").clone();
        let rows: Vec<&Value> = page
            .iter()
            .map(|row| row.get("conversation").unwrap_or(row))
            .collect();
        seen.extend(
            rows.iter()
                .map(|row| row["id"].as_str().expect("id").to_owned()),
        );
        let Some(last) = rows.last().filter(|_| rows.len() == 2) else {
            return seen;
        };
        start = json!({ "before": last["lastMessageAt"], "beforeId": last["id"] });
    }
}

/// Conversations whose latest activity shares one instant are each listed once when a list is
/// paged through (`before` with `beforeId`); a `beforeId` that is no id, or comes without `before`,
/// is refused.
async fn conversations_at_one_instant_page_once_each(kind: DatabaseKind) {
    use ringback_api::service::inbound_sms::{self, InboundSms};
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    let txn = app.tenant().begin().await.expect("txn");
    let at = txn.now();
    for n in 311..316 {
        let text = InboundSms {
            provider_id: &format!("SM00000000000000000000000000000{n}"),
            from: &format!("+447700900{n}"),
            text: "Hello",
            at,
            provider_number_id: None,
            to_held_back_number: false,
        };
        inbound_sms::receive(&txn, &app.state.secrets, text)
            .await
            .expect("received");
    }
    txn.commit().await.expect("commit");
    let listed = app
        .owner
        .run("{ conversations(first: 10) { lastMessageAt } }", json!({}))
        .await;
    let mut instants: Vec<&Value> = listed["data"]["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .map(|row| &row["lastMessageAt"])
        .collect();
    instants.dedup();
    assert_eq!(
        instants.len(),
        1,
        "five conversations at one instant: {listed}"
    );
    for field in ["inbox", "conversations"] {
        let seen = paged_through(&mut app, field).await;
        let mut once = seen.clone();
        once.sort();
        once.dedup();
        assert_eq!((seen.len(), once.len()), (5, 5), "{field}: {seen:?}");
    }
    for (variables, says) in [
        (
            json!({ "beforeId": uuid::Uuid::now_v7().to_string() }),
            "beforeId needs before",
        ),
        (
            json!({ "before": app.state.clock.now().to_rfc3339(), "beforeId": "not-an-id" }),
            "not a conversation id",
        ),
    ] {
        let answer = app
            .owner
            .run(
                "query($before: DateTime, $beforeId: ID) { inbox(before: $before, beforeId: $beforeId) { unread } }",
                variables,
            )
            .await;
        assert_eq!(error_code(&answer), Some("BAD_USER_INPUT"), "{answer}");
        assert!(answer.to_string().contains(says), "{answer}");
    }
    app.db.finish().await;
}

on_both_databases!(conversations_at_one_instant_page_once_each);

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
    let answer = crate::common::graphql::run_with_key(
        &client,
        &key,
        "{ inbox(view: MINE) { unread } }",
        json!({}),
    )
    .await;
    assert!(error_code(&answer).is_some(), "{answer}");
    app.db.finish().await;
}
