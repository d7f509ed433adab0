//! The AI receptionist. Its model client against the in-process fake of Anthropic's Messages API,
//! which checks the headers and the body's shape as the real API does: tool use read back, busy
//! answers (429, 529, 5xx) tried again with backoff, refusals not, and an answer that never comes
//! timed out. Its settings and price list on SQLite and PostgreSQL: off until an admin turns it
//! on, every field checked before anything is saved, each change audited without the clinic's
//! words, services unique by name and quoted in words. Its tools inside the clinic's scope:
//! slots from the opening hours around booked appointments, bookings from the AI credited to the
//! caller (once per slot and conversation; a taken slot refused), quotes only from the price list.
//! With a Google calendar (the fake Google), the slots keep clear of what it shows busy.

use std::time::Duration;

use crate::common::app::TestApp;
use crate::common::graphql::{error_code, join};
use ringback_api::config::DatabaseKind;
use ringback_api::fakes::anthropic::{API_KEY, FakeAnthropic, Reply};
use ringback_api::fakes::smtp::FakeSmtp;
use ringback_api::integrations::anthropic::{
    AnthropicClient, AnthropicSettings, ConversationModel, MessagesRequest, ModelError,
    RetryPolicy, StopReason, ToolChoice, ToolDefinition, Turn,
};
use ringback_api::jobs::outbox::Lane;
use ringback_api::jobs::worker::{SLOW_KINDS, Worker, WorkerSettings};
use serde_json::{Value, json};

const QUICK_RETRIES: RetryPolicy = RetryPolicy {
    attempts: 3,
    first_wait: Duration::from_millis(10),
    max_wait: Duration::from_millis(50),
};

fn client(
    fake: &FakeAnthropic,
    key: &str,
    timeout: Duration,
    retry: RetryPolicy,
) -> AnthropicClient {
    let settings = AnthropicSettings {
        api_key: Some(ringback_api::config::SecretString::new(key)),
        api_url: fake.api_url().to_owned(),
        model: "claude-test-model".to_owned(),
        answer_within: Duration::from_secs(45),
    };
    AnthropicClient::new(&settings, timeout, retry)
        .expect("a client")
        .expect("a key is set")
}

fn request() -> MessagesRequest {
    MessagesRequest {
        model: "claude-test-model".to_owned(),
        max_tokens: 400,
        system: "You answer texts for a plumber.".to_owned(),
        messages: vec![Turn::user_text(
            "My boiler is leaking, can someone come tomorrow?",
        )],
        tools: vec![ToolDefinition {
            name: "find_slots".to_owned(),
            description: "Free slots between two days".to_owned(),
            input_schema: json!({ "type": "object", "properties": {
                "from": { "type": "string" }, "to": { "type": "string" } },
                "required": ["from", "to"] }),
        }],
        tool_choice: Some(ToolChoice::Auto),
    }
}

#[tokio::test]
async fn the_client_speaks_the_messages_api() {
    let fake = FakeAnthropic::start(API_KEY).await.expect("fake");
    let model = client(&fake, API_KEY, Duration::from_secs(5), QUICK_RETRIES);
    assert_eq!(model.model(), "claude-test-model");
    fake.script([
        Reply::tool(
            "find_slots",
            json!({ "from": "tomorrow", "to": "tomorrow" }),
        ),
        Reply::Text("We can come at 9:00.".to_owned()),
    ]);
    let first = model.complete(&request()).await.expect("a tool use");
    assert_eq!(first.stop_reason, Some(StopReason::ToolUse));
    let uses = first.tool_uses();
    assert_eq!(uses.len(), 1);
    assert_eq!(uses[0].1, "find_slots");
    assert_eq!(uses[0].2["from"], "tomorrow");
    assert!(first.usage.input_tokens > 0 && first.usage.output_tokens > 0);
    let second = model.complete(&request()).await.expect("a text");
    assert_eq!(second.stop_reason, Some(StopReason::EndTurn));
    assert_eq!(second.text(), "We can come at 9:00.");

    let sent = fake.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0]["model"], "claude-test-model");
    assert_eq!(sent[0]["system"], "You answer texts for a plumber.");
    assert_eq!(sent[0]["tools"][0]["name"], "find_slots");
    assert_eq!(sent[0]["tool_choice"], json!({ "type": "auto" }));
    assert_eq!(sent[0]["messages"][0]["role"], "user");
}

#[tokio::test]
async fn a_wrong_key_or_a_bad_request_is_refused_once() {
    let fake = FakeAnthropic::start(API_KEY).await.expect("fake");
    let wrong = client(
        &fake,
        "sk-ant-wrong-000000000000000",
        Duration::from_secs(5),
        QUICK_RETRIES,
    );
    fake.script([Reply::Text("never".to_owned())]);
    let refused = wrong.complete(&request()).await.expect_err("refused");
    assert_eq!(
        refused,
        ModelError::Refused {
            status: 401,
            kind: "authentication_error".to_owned()
        }
    );
    assert!(!refused.is_retryable());
    assert_eq!(fake.unplayed(), 1, "a refused request is not tried again");

    let model = client(&fake, API_KEY, Duration::from_secs(5), QUICK_RETRIES);
    let mut bad = request();
    bad.messages = vec![Turn::assistant_text("I start")];
    let refused = model.complete(&bad).await.expect_err("refused");
    assert!(
        matches!(refused, ModelError::Refused { status: 400, .. }),
        "{refused:?}"
    );
    assert!(fake.requests().is_empty(), "nothing was accepted");
}

#[tokio::test]
async fn busy_answers_are_tried_again_until_the_tries_run_out() {
    let fake = FakeAnthropic::start(API_KEY).await.expect("fake");
    let model = client(&fake, API_KEY, Duration::from_secs(5), QUICK_RETRIES);
    fake.script([
        Reply::Status(429),
        Reply::Status(529),
        Reply::Text("Here now.".to_owned()),
    ]);
    let answer = model
        .complete(&request())
        .await
        .expect("the third try answers");
    assert_eq!(answer.text(), "Here now.");
    assert_eq!(fake.requests().len(), 3);

    fake.script([Reply::Status(529), Reply::Status(500), Reply::Status(529)]);
    let error = model
        .complete(&request())
        .await
        .expect_err("still overloaded");
    assert_eq!(error, ModelError::Unavailable { status: 529 });
    assert!(error.is_retryable(), "a later job attempt may succeed");
    assert_eq!(fake.requests().len(), 6);
    assert_eq!(fake.unplayed(), 0);

    fake.script([Reply::Status(400), Reply::Text("unused".to_owned())]);
    let error = model.complete(&request()).await.expect_err("refused");
    assert!(matches!(error, ModelError::Refused { status: 400, .. }));
    assert_eq!(fake.unplayed(), 1, "a refusal is not tried again");
}

#[tokio::test]
async fn an_answer_that_never_comes_times_out() {
    let fake = FakeAnthropic::start(API_KEY).await.expect("fake");
    let once = RetryPolicy {
        attempts: 1,
        ..QUICK_RETRIES
    };
    let model = client(&fake, API_KEY, Duration::from_millis(200), once);
    fake.script([Reply::Stall(Duration::from_secs(2))]);
    let error = model.complete(&request()).await.expect_err("timed out");
    assert_eq!(error, ModelError::NoAnswer("timed out"));

    let patient = client(&fake, API_KEY, Duration::from_millis(200), QUICK_RETRIES);
    fake.script([
        Reply::Stall(Duration::from_secs(2)),
        Reply::Cut("We can come at".to_owned()),
    ]);
    let answer = patient.complete(&request()).await.expect("the second try");
    assert_eq!(answer.stop_reason, Some(StopReason::MaxTokens));
}

const AI: &str = "{ aiReceptionist { enabled tone tones businessDescription intakeQuestions \
    followUpMinutes monthlyTokenBudget standardVisitValueMinor modelConfigured privacyNotice cannotAnswerBecause \
    services { id name priceInWords durationMinutes estimatedValueMinor } } }";
const UPDATE: &str = "mutation($input: AiReceptionistInput!) { updateAiReceptionist(input: $input) \
    { enabled tone businessDescription intakeQuestions followUpMinutes monthlyTokenBudget \
    standardVisitValueMinor } }";
const SAVE: &str = "mutation($id: ID, $input: ServiceInput!) { saveService(id: $id, input: $input) \
    { id name priceInWords } }";
const DELETE: &str = "mutation($id: ID!) { deleteService(id: $id) }";

fn boiler_service(name: &str, to: i64) -> Value {
    json!({ "name": name, "priceFromMinor": 8000, "priceToMinor": to, "durationMinutes": 60,
            "estimatedValueMinor": 10000 })
}

async fn an_admin_sets_up_the_ai_and_its_price_list(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let start = app.owner.run(AI, json!({})).await;
    let ai = &start["data"]["aiReceptionist"];
    assert_eq!(ai["enabled"], false, "{start}");
    assert_eq!(ai["tone"], "friendly");
    assert_eq!(
        ai["modelConfigured"], false,
        "no key is configured in tests"
    );
    assert!(
        ai["privacyNotice"]
            .as_str()
            .is_some_and(|n| n.contains("privacy notice"))
    );
    assert_eq!(
        ai["intakeQuestions"][0], "Are you a new or an existing patient?",
        "a dental clinic starts from the dental intake"
    );

    // A dental practice starts in strict privacy mode, which keeps no number to answer with: the
    // AI cannot be turned on until two-way texts are, and says so.
    assert!(
        ai["cannotAnswerBecause"]
            .as_str()
            .is_some_and(|why| why.contains("two-way texts")),
        "{start}"
    );
    let switched_on = json!({ "input": { "enabled": true } });
    let refused = app.owner.run(UPDATE, switched_on.clone()).await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    let two_way = "mutation($mode: String!) { updateClinicSettings(input: { privacyMode: $mode }) { privacyMode } }";
    let mode = app.owner.run(two_way, json!({ "mode": "text_back" })).await;
    assert!(mode["errors"].is_null(), "{mode}");
    let now_allowed = app.owner.run(AI, json!({})).await;
    assert!(
        now_allowed["data"]["aiReceptionist"]["cannotAnswerBecause"].is_null(),
        "{now_allowed}"
    );

    let input = json!({ "input": { "enabled": true, "tone": "brief",
        "businessDescription": "  Family dentist in Leeds  ",
        "intakeQuestions": [" Are you registered with us? ", ""],
        "followUpMinutes": 60, "monthlyTokenBudget": 50000, "standardVisitValueMinor": 6000 } });
    let updated = app.owner.run(UPDATE, input).await;
    let ai = &updated["data"]["updateAiReceptionist"];
    assert_eq!(ai["enabled"], true, "{updated}");
    assert_eq!(ai["tone"], "brief");
    assert_eq!(ai["businessDescription"], "Family dentist in Leeds");
    assert_eq!(
        ai["intakeQuestions"],
        json!(["Are you registered with us?"])
    );
    assert_eq!(ai["followUpMinutes"], 60);
    assert_eq!(ai["monthlyTokenBudget"], 50000);
    assert_eq!(ai["standardVisitValueMinor"], 6000, "{updated}");

    for bad in [
        json!({ "tone": "sarcastic", "enabled": false }),
        json!({ "followUpMinutes": 5, "enabled": false }),
        json!({ "monthlyTokenBudget": 0, "enabled": false }),
        json!({ "intakeQuestions": vec!["Why?"; 9], "enabled": false }),
        json!({ "standardVisitValueMinor": -1, "enabled": false }),
        json!({ "standardVisitValueMinor": 1_000_000_001_i64, "enabled": false }),
    ] {
        let refused = app.owner.run(UPDATE, json!({ "input": bad })).await;
        assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    }
    let kept = app.owner.run(AI, json!({})).await;
    assert_eq!(
        kept["data"]["aiReceptionist"]["enabled"], true,
        "nothing was saved"
    );
    assert_eq!(kept["data"]["aiReceptionist"]["tone"], "brief");
    assert_eq!(
        kept["data"]["aiReceptionist"]["standardVisitValueMinor"],
        6000
    );
    let cleared = app
        .owner
        .run(UPDATE, json!({ "input": { "followUpMinutes": null } }))
        .await;
    assert!(
        cleared["data"]["updateAiReceptionist"]["followUpMinutes"].is_null(),
        "{cleared}"
    );

    let saved = app
        .owner
        .run(
            SAVE,
            json!({ "input": boiler_service(" Check-up ", 12050) }),
        )
        .await;
    let service = &saved["data"]["saveService"];
    assert_eq!(service["name"], "Check-up", "{saved}");
    assert_eq!(service["priceInWords"], "£80 to £120.50");
    let id = service["id"].as_str().expect("id").to_owned();
    let twin = app
        .owner
        .run(SAVE, json!({ "input": boiler_service("Check-up", 9000) }))
        .await;
    assert_eq!(error_code(&twin), Some("CONFLICT"), "{twin}");
    let twin_in_capitals = app
        .owner
        .run(SAVE, json!({ "input": boiler_service("CHECK-UP", 9000) }))
        .await;
    assert_eq!(
        error_code(&twin_in_capitals),
        Some("CONFLICT"),
        "the AI finds services in any letter case: {twin_in_capitals}"
    );
    let upside_down = app
        .owner
        .run(SAVE, json!({ "input": boiler_service("Whitening", 100) }))
        .await;
    assert_eq!(error_code(&upside_down), Some("BAD_USER_INPUT"));
    let renamed = app
        .owner
        .run(
            SAVE,
            json!({ "id": id, "input": boiler_service("Check-up and clean", 8000) }),
        )
        .await;
    assert_eq!(
        renamed["data"]["saveService"]["priceInWords"], "£80",
        "{renamed}"
    );
    let listed = app.owner.run(AI, json!({})).await;
    let services = &listed["data"]["aiReceptionist"]["services"];
    assert_eq!(services.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(services[0]["name"], "Check-up and clean");

    let deleted = app.owner.run(DELETE, json!({ "id": id })).await;
    assert_eq!(deleted["data"]["deleteService"], true, "{deleted}");
    let again = app.owner.run(DELETE, json!({ "id": id })).await;
    assert_eq!(error_code(&again), Some("NOT_FOUND"), "{again}");

    let audit = app.audit_actions().await;
    let actions: Vec<&str> = audit.iter().map(|(action, _)| action.as_str()).collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "ai.settings_changed")
            .count(),
        2,
        "{actions:?}"
    );
    assert_eq!(actions.iter().filter(|a| **a == "service.saved").count(), 2);
    assert_eq!(
        actions.iter().filter(|a| **a == "service.deleted").count(),
        1
    );
    assert!(
        audit
            .iter()
            .any(|(action, detail)| action == "ai.settings_changed"
                && detail.contains("standard_visit_value_minor")),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .all(|(_, detail)| !detail.contains("Leeds") && !detail.contains("registered")),
        "the clinic's words stay out of the audit log"
    );

    // Back to strict privacy: the AI, which would have no number to answer with, goes off.
    let strict = app.owner.run(two_way, json!({ "mode": "strict" })).await;
    assert!(strict["errors"].is_null(), "{strict}");
    let after = app.owner.run(AI, json!({})).await;
    assert_eq!(after["data"]["aiReceptionist"]["enabled"], false, "{after}");
}

/// The conversation of the caller who texted from `from`.
async fn conversation_of(
    app: &TestApp,
    from: &str,
    text: &str,
) -> ringback_entity::conversation::Model {
    use sea_orm::{ColumnTrait, QueryFilter};
    let sid = format!("SM{}", from.trim_start_matches('+'));
    app.receive_text(&sid, from, text).await;
    let txn = app.tenant().begin().await.expect("txn");
    let tail = &from[from.len() - 3..];
    let found = txn
        .find::<ringback_entity::conversation::Entity>()
        .filter(ringback_entity::conversation::Column::CallerTail.contains(tail))
        .one(txn.conn())
        .await
        .expect("read")
        .expect("a conversation");
    txn.commit().await.expect("commit");
    found
}

/// The notice staff got when the AI handed a caller over goes when the caller is erased: its
/// reason, in the AI's words, may quote them. Another caller's notice stays.
async fn an_erased_callers_hand_off_notice_goes_with_them(kind: DatabaseKind) {
    use ringback_api::service::ai_tools;
    let mut app = TestApp::new(kind).await;
    app.keep_numbers().await;
    let erased = conversation_of(&app, "+447700900331", "Any news on my biopsy?").await;
    let kept = conversation_of(&app, "+447700900332", "Can I move my check-up?").await;
    let txn = app.tenant().begin().await.expect("txn");
    for (thread, reason) in [
        (erased, "asks about her biopsy results"),
        (kept, "wants to move a check-up"),
    ] {
        ai_tools::hand_off(&txn, thread, &json!({ "reason": reason }))
            .await
            .expect("handed off");
    }
    txn.commit().await.expect("commit");
    let export = app
        .owner
        .run(
            "{ exportCallerRecord(number: \"07700 900331\") { json } }",
            json!({}),
        )
        .await;
    let document: Value = serde_json::from_str(
        export["data"]["exportCallerRecord"]["json"]
            .as_str()
            .expect("the export"),
    )
    .expect("JSON");
    let noticed = &document["conversations"][0]["notices_to_the_team"];
    assert!(
        noticed[0]["text"]
            .as_str()
            .is_some_and(|text| text.contains("asks about her biopsy results"))
            && noticed.as_array().map(Vec::len) == Some(1),
        "the caller's export holds the team's notice about them, not another's: {document}"
    );
    let notices = "{ notifications { items { text } } }";
    let before = app.owner.run(notices, json!({})).await;
    assert_eq!(
        before["data"]["notifications"]["items"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "{before}"
    );
    let done = app
        .owner
        .run(
            "mutation { eraseCaller(number: \"07700 900331\") { notificationsDeleted summary } }",
            json!({}),
        )
        .await;
    assert_eq!(
        done["data"]["eraseCaller"]["notificationsDeleted"], 1,
        "{done}"
    );
    let after = app.owner.run(notices, json!({})).await;
    let texts: Vec<&str> = after["data"]["notifications"]["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["text"].as_str())
        .collect();
    assert_eq!(
        texts,
        ["The AI receptionist handed the caller •••• 332 to the team: wants to move a check-up"],
        "{after}"
    );
}

/// The appointment a tool's answer booked (the test fails on any other answer).
fn booking_of(
    answer: ringback_api::service::ai_tools::ToolAnswer,
) -> ringback_entity::appointment::Model {
    match answer {
        ringback_api::service::ai_tools::ToolAnswer::Booked { appointment, .. } => appointment,
        other => panic!("a booking expected: {other:?}"),
    }
}

/// A clinic (AI off) with numbers kept and an hour-long check-up on its price list.
async fn check_up_clinic(kind: DatabaseKind) -> TestApp {
    let mut app = TestApp::new(kind).await;
    app.keep_numbers().await;
    let saved = app
        .owner
        .run(SAVE, json!({ "input": boiler_service("Check-up", 12050) }))
        .await;
    assert!(saved["errors"].is_null(), "{saved}");
    app
}

async fn the_tools_book_only_free_slots_and_quote_only_the_price_list(kind: DatabaseKind) {
    use ringback_api::service::ai_tools::{self, ToolAnswer};
    let mut app = check_up_clinic(kind).await;
    let first = conversation_of(&app, "+447700900301", "Can I come in next week?").await;
    let second = conversation_of(&app, "+447700900302", "Any time Monday?").await;
    // A Monday at least two days ahead of the clock, whatever day the test runs on.
    let mut monday = (app.state.clock.now() + chrono::Duration::days(2)).date_naive();
    while chrono::Datelike::weekday(&monday) != chrono::Weekday::Mon {
        monday = monday.succ_opt().expect("a day");
    }
    let day = monday.format("%Y-%m-%d").to_string();
    let at_nine = format!("{day} 09:00");
    let standard_value = json!({ "input": { "standardVisitValueMinor": 6000 } });
    let valued = app.owner.run(UPDATE, standard_value).await;
    assert!(valued["errors"].is_null(), "{valued}");

    let txn = app.tenant().begin().await.expect("txn");
    let input = json!({ "from": day, "to": day, "kind": "check-up" });
    let found = ai_tools::find_slots(&txn, &input, &[])
        .await
        .expect("slots");
    let ToolAnswer::Done(found) = found else {
        panic!("{found:?}")
    };
    assert_eq!(found["slots"][0], at_nine.as_str(), "{found}");
    assert_eq!(found["weekdays"][&day], "Monday", "{found}");
    assert_eq!(found["minutes"], 60);
    let backwards =
        ai_tools::find_slots(&txn, &json!({ "from": day, "to": "2000-01-01" }), &[]).await;
    assert!(
        matches!(backwards, Ok(ToolAnswer::Refused(_))),
        "{backwards:?}"
    );

    let slot = json!({ "slot": at_nine, "kind": "Check-up" });
    let appointment = booking_of(
        ai_tools::book_appointment(&txn, &app.state.secrets, &first, &slot, &[])
            .await
            .expect("booked"),
    );
    assert_eq!(appointment.source, "ai");
    assert_eq!(
        appointment.value_minor, 10000,
        "the service's estimated value"
    );
    assert_eq!(appointment.caller_key, first.caller_key);
    let same = booking_of(
        ai_tools::book_appointment(&txn, &app.state.secrets, &first, &slot, &[])
            .await
            .expect("booked again"),
    );
    assert_eq!(same.id, appointment.id, "a retried booking books once");
    let taken = ai_tools::book_appointment(&txn, &app.state.secrets, &second, &slot, &[])
        .await
        .expect("answered");
    assert!(matches!(taken, ToolAnswer::Refused(_)), "{taken:?}");
    let after = ai_tools::find_slots(&txn, &input, &[])
        .await
        .expect("slots");
    let ToolAnswer::Done(after) = after else {
        panic!("{after:?}")
    };
    assert_eq!(
        after["slots"][0],
        format!("{day} 10:00").as_str(),
        "the hour-long visit keeps 09:00 to 10:00 busy: {after}"
    );
    let half_past = json!({ "slot": format!("{day} 09:30"), "kind": "Check-up" });
    let overlapping =
        ai_tools::book_appointment(&txn, &app.state.secrets, &second, &half_past, &[])
            .await
            .expect("answered");
    assert!(
        matches!(overlapping, ToolAnswer::Refused(_)),
        "{overlapping:?}"
    );
    let sunday = json!({ "slot": format!("{} 10:00", (monday - chrono::Duration::days(1)).format("%Y-%m-%d")) });
    let closed = ai_tools::book_appointment(&txn, &app.state.secrets, &second, &sunday, &[]).await;
    assert!(matches!(closed, Ok(ToolAnswer::Refused(_))), "{closed:?}");
    let standard_visit = json!({ "slot": format!("{day} 10:00") });
    let standard = booking_of(
        ai_tools::book_appointment(&txn, &app.state.secrets, &second, &standard_visit, &[])
            .await
            .expect("booked"),
    );
    assert_eq!(
        (standard.value_minor, standard.duration_minutes),
        (6000, Some(30)),
        "a visit of no listed service is a standard one, worth what the clinic set"
    );

    let priced = ai_tools::quote(&txn, &json!({ "service": " CHECK-UP " }))
        .await
        .expect("quote");
    assert_eq!(
        priced,
        ToolAnswer::Done(
            json!({ "service": "Check-up", "price": "£80 to £120.50", "minutes": 60 })
        )
    );
    let invented = ai_tools::quote(&txn, &json!({ "service": "Root canal" }))
        .await
        .expect("quote");
    assert!(matches!(invented, ToolAnswer::Refused(_)), "{invented:?}");
    txn.commit().await.expect("commit");

    let credited = app
        .owner
        .run(
            "{ appointments { edges { node { id source valueMinor } } } }",
            json!({}),
        )
        .await;
    let nodes = credited["data"]["appointments"]["edges"]
        .as_array()
        .expect("edges")
        .clone();
    assert_eq!(nodes.len(), 2, "{credited}");
    assert!(
        nodes.iter().all(|node| node["node"]["source"] == "ai"),
        "{credited}"
    );
}

/// The AI books a caller once per conversation (asked to move the visit, it refuses and hands
/// the change to staff instead of leaving the first booking standing), books again after the
/// clinic cancelled only in a later answer, takes only days within its reach (a year 9999 is
/// refused before any date arithmetic), and names services exactly as the price list
/// does (a near miss is refused with the list, not booked as a 30-minute visit worth nothing).
/// On PostgreSQL two conversations booking the same slot at once get it once.
async fn the_ai_books_each_caller_once_and_only_what_it_can_check(kind: DatabaseKind) {
    use ringback_api::service::ai_tools::{self, ToolAnswer};
    let app = check_up_clinic(kind).await;
    let first = conversation_of(&app, "+447700900331", "Can I come Monday?").await;
    let second = conversation_of(&app, "+447700900332", "Monday please").await;
    let day = monday_ahead(&app);
    let secrets = &app.state.secrets;
    let refused = |answer: &ToolAnswer, words: &str| match answer {
        ToolAnswer::Refused(reason) => assert!(reason.contains(words), "{reason}"),
        other => panic!("refused ({words}) expected: {other:?}"),
    };

    let txn = app.tenant().begin().await.expect("txn");
    for (far, why) in [
        ("+262143-12-31", ""),
        ("9999-12-31", "can be booked"),
        ("2000-01-03", "can be booked"),
    ] {
        let search = json!({ "from": far, "to": far });
        let found = ai_tools::find_slots(&txn, &search, &[])
            .await
            .expect("answered");
        refused(&found, why);
        let slot = json!({ "slot": format!("{far} 09:00") });
        let booked = ai_tools::book_appointment(&txn, secrets, &first, &slot, &[])
            .await
            .expect("answered");
        refused(&booked, why);
    }
    let near_miss = json!({ "from": day, "to": day, "kind": "check up please" });
    let found = ai_tools::find_slots(&txn, &near_miss, &[])
        .await
        .expect("answered");
    refused(&found, "Check-up");
    let near_miss = json!({ "slot": format!("{day} 09:00"), "kind": "checkup" });
    let booked = ai_tools::book_appointment(&txn, secrets, &first, &near_miss, &[])
        .await
        .expect("answered");
    refused(&booked, "Check-up");

    let nine = json!({ "slot": format!("{day} 09:00"), "kind": "Check-up" });
    let appointment = booking_of(
        ai_tools::book_appointment(&txn, secrets, &first, &nine, &[])
            .await
            .expect("booked"),
    );
    let eleven = json!({ "slot": format!("{day} 11:00"), "kind": "Check-up" });
    let moved = ai_tools::book_appointment(&txn, secrets, &first, &eleven, &[])
        .await
        .expect("answered");
    refused(&moved, "already booked");
    ringback_api::service::appointments::cancel(&txn, None, appointment.id)
        .await
        .expect("cancelled by the clinic");
    let same_answer = ai_tools::book_appointment(&txn, secrets, &first, &nine, &[])
        .await
        .expect("answered");
    refused(&same_answer, "cancelled");
    let mut later_answer = first.clone();
    later_answer.ai_answering_for = Some(uuid::Uuid::now_v7());
    let again = booking_of(
        ai_tools::book_appointment(&txn, secrets, &later_answer, &nine, &[])
            .await
            .expect("booked again"),
    );
    assert_ne!(again.id, appointment.id, "a new booking of the freed slot");
    txn.commit().await.expect("commit");

    if kind == DatabaseKind::Postgres {
        // Two conversations book 14:00 at once: the second waits for the first and is refused.
        let fourteen = json!({ "slot": format!("{day} 14:00"), "kind": "Check-up" });
        let third = conversation_of(&app, "+447700900333", "Monday at two?").await;
        let txn = app.tenant().begin().await.expect("txn");
        let booked = ai_tools::book_appointment(&txn, secrets, &third, &fourteen, &[])
            .await
            .expect("booked");
        assert!(matches!(booked, ToolAnswer::Booked { .. }), "{booked:?}");
        let scope = app.tenant();
        let (other_secrets, other_slot) = (app.state.secrets.clone(), fourteen.clone());
        let racing = tokio::spawn(async move {
            let txn = scope.begin().await.expect("txn");
            let answer =
                ai_tools::book_appointment(&txn, &other_secrets, &second, &other_slot, &[])
                    .await
                    .expect("answered");
            txn.commit().await.expect("commit");
            answer
        });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        txn.commit().await.expect("commit");
        let raced = racing.await.expect("the second booking");
        refused(&raced, "not free");
    }
}

/// Prints one whole AI conversation as it went over the wire: every request the model received,
/// as sent, and every text the caller got (`cargo test ... -- --nocapture` shows it).
fn print_transcript(requests: &[Value], texts: &[String]) {
    println!("=== requests the model received, as sent ===");
    for (round, request) in requests.iter().enumerate() {
        let pretty = serde_json::to_string_pretty(request).expect("JSON");
        println!("--- request {} ---\n{pretty}", round + 1);
    }
    println!("=== texts the caller received ===");
    for text in texts {
        println!("> {text}");
    }
}

/// The conversation `id` as stored now.
async fn reload(app: &TestApp, id: uuid::Uuid) -> ringback_entity::conversation::Model {
    let txn = app.tenant().begin().await.expect("txn");
    let found = reload_in(&txn, id).await;
    txn.commit().await.expect("commit");
    found
}

async fn details_are_sealed_hand_offs_stop_the_ai_and_staff_take_over(kind: DatabaseKind) {
    use ringback_api::service::ai_tools::{self, ToolAnswer};
    use sea_orm::{ActiveModelTrait, Set};
    let mut app = TestApp::new(kind).await;
    app.keep_numbers().await;
    let first = conversation_of(&app, "+447700900311", "My boiler is leaking").await;
    let second = conversation_of(&app, "+447700900312", "I smell gas").await;
    let joiner = app.browser();
    let mut desk = join(&mut app.owner, joiner, "desk@clinic.test", "RECEPTIONIST").await;
    let desk_id = desk.run("{ me { user { id } } }", json!({})).await["data"]["me"]["user"]["id"]
        .as_str()
        .expect("the receptionist's id")
        .parse::<uuid::Uuid>()
        .expect("a uuid");

    let txn = app.tenant().begin().await.expect("txn");
    let answers = json!({ "fields": { "What is the job?": "Leaking boiler, ring 07700 900311",
                                       "How urgent is it?": "Today" } });
    let saved = ai_tools::save_details(&txn, &app.state.secrets, first.clone(), &answers)
        .await
        .expect("saved");
    assert_eq!(saved, ToolAnswer::Done(json!({ "saved": 2 })));
    let refused = ai_tools::save_details(&txn, &app.state.secrets, first.clone(), &json!({}))
        .await
        .expect("answered");
    assert!(matches!(refused, ToolAnswer::Refused(_)));
    let handed = ai_tools::hand_off(
        &txn,
        second.clone(),
        &json!({ "reason": "Gas smell: emergency" }),
    )
    .await
    .expect("handed off");
    assert_eq!(handed, ToolAnswer::Done(json!({ "handed_off": true })));
    let mut active: ringback_entity::conversation::ActiveModel =
        reload_in(&txn, first.id).await.into();
    active.ai_state = Set(Some("active".to_owned()));
    active.update(txn.conn()).await.expect("the AI answers");
    txn.commit().await.expect("commit");

    let first = reload(&app, first.id).await;
    let sealed = first.details_sealed.clone().expect("details kept");
    assert!(
        !String::from_utf8_lossy(&sealed).contains("Leaking"),
        "sealed at rest"
    );
    let txn = app.tenant().begin().await.expect("txn");
    let details = ai_tools::details_of(&txn, &app.state.secrets, &first)
        .await
        .expect("opened");
    txn.commit().await.expect("commit");
    let answer = |question: &str| match &details {
        ai_tools::IntakeDetails::Saved(answers) => answers
            .iter()
            .find(|(asked, _)| asked == question)
            .map(|(_, answer)| answer.clone()),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        answer("What is the job?").as_deref(),
        Some("Leaking boiler, ring [number removed]")
    );
    assert_eq!(answer("How urgent is it?").as_deref(), Some("Today"));
    let second = reload(&app, second.id).await;
    assert_eq!(second.ai_state.as_deref(), Some("handed_off"));
    assert_eq!(
        second.ai_stopped_reason.as_deref(),
        Some("Gas smell: emergency")
    );
    assert_eq!(
        second.assigned_to,
        Some(desk_id),
        "a hand-off nobody held goes to the front desk"
    );
    assert!(
        app.audit_actions()
            .await
            .iter()
            .any(|(action, detail)| { action == "ai.handed_off" && !detail.contains("Gas") })
    );

    // The staff reply's text job wakes the workers once committed (no worker runs here, so the
    // wake stays stored); taking a conversation over queues nothing and wakes nobody.
    let woken = |app: &TestApp| {
        futures::FutureExt::now_or_never(app.state.backend.jobs_queued.notified()).is_some()
    };
    let _stored_before = woken(&app);
    let replied = app
        .owner
        .run(
            "mutation($id: ID!) { replyToConversation(id: $id, body: \"We will call you\") { id } }",
            json!({ "id": first.id.to_string() }),
        )
        .await;
    assert!(replied["errors"].is_null(), "{replied}");
    assert!(woken(&app), "the reply's text woke the workers");
    let first = reload(&app, first.id).await;
    assert_eq!(
        first.ai_state.as_deref(),
        Some("taken_over"),
        "staff took over"
    );
    let taken = app
        .owner
        .run(
            "mutation($id: ID!) { takeOverConversation(id: $id) { aiState aiStoppedReason } }",
            json!({ "id": second.id.to_string() }),
        )
        .await;
    assert_eq!(
        taken["data"]["takeOverConversation"]["aiState"], "TAKEN_OVER",
        "{taken}"
    );
    assert!(!woken(&app), "a take-over queues no job");
    assert!(
        app.audit_actions()
            .await
            .iter()
            .any(|(action, _)| action == "conversation.taken_over")
    );
}

/// The intake details `browser` sees in conversation `id`.
async fn intake_details_seen<E: poem::Endpoint>(
    browser: &mut crate::common::graphql::Browser<E>,
    id: uuid::Uuid,
) -> Value {
    let query = "query($id: ID!) { conversation(id: $id) { \
        intakeDetails { answers { question answer } unreadable } } }";
    let seen = browser.run(query, json!({ "id": id.to_string() })).await;
    assert!(seen["errors"].is_null(), "{seen}");
    seen["data"]["conversation"]["intakeDetails"].clone()
}

/// What the caller told the AI's intake questions is shown to the front desk (the read audited,
/// without the words) and in the caller's record and export, in the order the clinic asks them;
/// details that cannot be opened show as unreadable everywhere, and the AI never overwrites them.
async fn staff_and_the_callers_record_see_what_the_caller_told_the_ai(kind: DatabaseKind) {
    use ringback_api::service::ai_tools::{self, IntakeDetails, ToolAnswer};
    let mut app = TestApp::new(kind).await;
    app.keep_numbers().await;
    let thread = conversation_of(&app, "+447700900313", "My boiler is leaking").await;
    let other = conversation_of(&app, "+447700900314", "Hello").await;
    let save = async |app: &TestApp, fields: Value| {
        let txn = app.tenant().begin().await.expect("txn");
        let input = json!({ "fields": fields });
        let now = reload_in(&txn, thread.id).await;
        let saved = ai_tools::save_details(&txn, &app.state.secrets, now, &input)
            .await
            .expect("answered");
        txn.commit().await.expect("commit");
        saved
    };
    let asked =
        json!({ "input": { "intakeQuestions": ["What is the job?", "How urgent is it?"] } });
    let set = app.owner.run(UPDATE, asked).await;
    assert!(set["errors"].is_null(), "{set}");
    let fields = json!({ "Anything else?": "No", "how urgent is it? ": "Today",
                         "What is the job?": "Leaking boiler, ring 07700 900313" });
    assert_eq!(
        save(&app, fields).await,
        ToolAnswer::Done(json!({ "saved": 3 }))
    );

    let joiner = app.browser();
    let mut desk = join(&mut app.owner, joiner, "desk@clinic.test", "RECEPTIONIST").await;
    // In the order the clinic asks its questions; a question it does not ask comes last.
    let saved = json!({ "answers": [
        { "question": "What is the job?", "answer": "Leaking boiler, ring [number removed]" },
        { "question": "how urgent is it?", "answer": "Today" },
        { "question": "Anything else?", "answer": "No" },
    ], "unreadable": false });
    assert_eq!(intake_details_seen(&mut desk, thread.id).await, saved);
    assert!(intake_details_seen(&mut desk, other.id).await.is_null());
    let clock = app.state.clock.clone();
    ringback_api::service::audit::sweep(&app.state.db, &clock, 10)
        .await
        .expect("sweep");
    let noted: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|(action, _)| action == "conversation.details_read")
        .map(|(_, detail)| detail)
        .collect();
    assert_eq!(noted.len(), 1, "one read of saved details: {noted:?}");
    assert!(
        noted[0].contains(&thread.id.to_string()) && !noted[0].contains("boiler"),
        "{noted:?}"
    );

    let record = app
        .owner
        .run(
            "query($n: String!) { callerRecord(number: $n) { conversations { \
                intakeDetails { answers { question answer } unreadable } } } }",
            json!({ "n": "07700 900313" }),
        )
        .await;
    assert_eq!(
        record["data"]["callerRecord"]["conversations"][0]["intakeDetails"], saved,
        "{record}"
    );
    let export = app
        .owner
        .run(
            "query($n: String!) { exportCallerRecord(number: $n) { json } }",
            json!({ "n": "07700 900313" }),
        )
        .await;
    let document: Value = serde_json::from_str(
        export["data"]["exportCallerRecord"]["json"]
            .as_str()
            .unwrap_or_else(|| panic!("{export}")),
    )
    .expect("JSON");
    assert_eq!(
        document["conversations"][0]["intake_details"], saved,
        "{document}"
    );
    let exported = crate::clinic_export::exported_rows(&mut app, "conversations").await;
    let of_thread = exported
        .iter()
        .find(|row| row["id"] == thread.id.to_string())
        .expect("the conversation is exported");
    assert_eq!(of_thread["intake_details"], saved, "{of_thread}");
    assert!(of_thread.get("details_sealed").is_none(), "{of_thread}");

    app.db
        .execute_as_owner(&format!(
            "UPDATE conversations SET details_sealed = substr(details_sealed, 1, 8) \
             WHERE caller_tail = '{}'",
            thread.caller_tail
        ))
        .await;
    let damaged = reload(&app, thread.id).await.details_sealed;
    let unreadable = json!({ "answers": [], "unreadable": true });
    assert_eq!(intake_details_seen(&mut desk, thread.id).await, unreadable);
    let refused = save(&app, json!({ "Postcode": "AB1 2CD" })).await;
    assert!(matches!(refused, ToolAnswer::Refused(_)), "{refused:?}");
    assert_eq!(
        reload(&app, thread.id).await.details_sealed,
        damaged,
        "what is stored is kept"
    );
    let txn = app.tenant().begin().await.expect("txn");
    let read = ai_tools::details_of(&txn, &app.state.secrets, &reload_in(&txn, thread.id).await)
        .await
        .expect("read");
    txn.commit().await.expect("commit");
    assert_eq!(read, IntakeDetails::Unreadable);
    let record = app
        .owner
        .run(
            "query($n: String!) { callerRecord(number: $n) { conversations { \
                intakeDetails { unreadable } } } }",
            json!({ "n": "07700 900313" }),
        )
        .await;
    assert_eq!(
        record["data"]["callerRecord"]["conversations"][0]["intakeDetails"]["unreadable"], true,
        "{record}"
    );
}

async fn reload_in(
    txn: &ringback_api::tenant::TenantTxn,
    id: uuid::Uuid,
) -> ringback_entity::conversation::Model {
    ringback_api::tenant::in_clinic::<ringback_entity::conversation::Entity>(txn, id)
        .await
        .expect("read")
        .expect("the conversation")
}

/// The next Monday at least two days after the clock's now, as `YYYY-MM-DD`.
fn monday_ahead(app: &TestApp) -> String {
    let mut day = (app.state.clock.now() + chrono::Duration::days(2)).date_naive();
    while chrono::Datelike::weekday(&day) != chrono::Weekday::Mon {
        day = day.succ_opt().expect("a day");
    }
    day.format("%Y-%m-%d").to_string()
}

/// Runs the worker until nothing is due (at most `passes` passes).
async fn drain(app: &TestApp, passes: usize) {
    let worker = app.worker("ai-test");
    for _ in 0..passes {
        if worker.run_once().await.expect("a pass") == 0 {
            break;
        }
    }
}

const CALLER: &str = "+447700900321";

async fn a_reply_is_answered_booked_and_credited(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    // Another clinic on the same server, whose words must never reach this clinic's model.
    let mut other = app.browser();
    let mut plumber = crate::common::graphql::sign_up_input("zebra@clinic.test");
    plumber["input"]["kind"] = json!("trade");
    let joined = other.run(crate::common::graphql::SIGN_UP, plumber).await;
    assert!(joined["errors"].is_null(), "{joined}");
    let zebra = json!({ "input": { "enabled": true, "businessDescription": "Zebra Plumbing" } });
    assert!(other.run(UPDATE, zebra).await["errors"].is_null());
    let unicorn = json!({ "input": boiler_service("Unicorn repair", 9000) });
    assert!(other.run(SAVE, unicorn).await["errors"].is_null());
    // The clinic's own wording reaches the model as its first text, without the number in it.
    let wording = "Sorry we missed you at {clinic}. Reply here or ring 07700 900398.";
    let set = app
        .owner
        .run(
            "mutation($t: String!) { updatePhoneSettings(input: { businessHoursTemplate: $t, \
             afterHoursTemplate: $t }) { textBackEnabled } }",
            json!({ "t": wording }),
        )
        .await;
    assert!(set["errors"].is_null(), "{set}");
    miss_call(&mut app, "ai-1", "07700 900321").await;

    let monday = monday_ahead(&app);
    let slot = format!("{monday} 09:00");
    model.script([
        boiler_slots_on(&monday),
        Reply::tool(
            "book_appointment",
            json!({ "slot": format!("{monday} 18:00"), "kind": "Boiler service" }),
        ),
        Reply::tool(
            "book_appointment",
            json!({ "slot": slot, "kind": "Boiler service" }),
        ),
        Reply::Text(format!("You are booked for a boiler service on {slot}.")),
    ]);
    app.receive_text(
        "SMai0001",
        CALLER,
        "My boiler is leaking, can someone come Monday? Ring me on 07700 900321",
    )
    .await;
    drain(&app, 4).await;

    let sent = app.twilio.as_ref().expect("fake Twilio").messages();
    let answer = sent
        .iter()
        .find(|text| text.body.contains("You are booked"))
        .unwrap_or_else(|| panic!("the AI's answer was sent: {sent:?}"));
    assert_eq!(answer.to, CALLER);
    assert!(
        answer.body.to_lowercase().contains("automated"),
        "{}",
        answer.body
    );

    let requests = model.requests();
    assert_eq!(
        requests.len(),
        4,
        "find_slots, a closed slot refused, another booked, the answer"
    );
    let refusal = &requests[2]["messages"][4]["content"][0];
    assert_eq!(refusal["type"], "tool_result", "{refusal}");
    assert_eq!(refusal["is_error"], true, "{refusal}");
    assert!(
        refusal["content"]
            .as_str()
            .is_some_and(|text| text.contains("offer another")),
        "{refusal}"
    );
    let caller_key = {
        let found = app
            .owner
            .run(
                "query($n: String!) { findCaller(number: $n) { callerKey } }",
                json!({ "n": "07700 900321" }),
            )
            .await;
        found["data"]["findCaller"]["callerKey"]
            .as_str()
            .expect("key")
            .to_owned()
    };
    for request in &requests {
        let text = request.to_string();
        for spelling in [
            "07700 900321",
            "07700900321",
            "447700900321",
            "7700 900321",
            "900321",
            "900398",
        ] {
            assert!(!text.contains(spelling), "the model saw {spelling}: {text}");
        }
        assert!(text.contains("Sorry we missed you"), "{text}");
        assert!(!text.contains(&caller_key), "the model saw the caller key");
        assert!(
            !text.contains("Zebra") && !text.contains("Unicorn"),
            "the model saw another clinic's settings"
        );
    }

    print_transcript(&requests, &texts_to(&app, CALLER));

    let record = app
        .owner
        .run(
            "query($n: String!) { callerRecord(number: $n) { appointments { valueMinor outcome } \
             conversations { messages { kind text } aiSteps { action outcome } } } \
             exportCallerRecord(number: $n) { json } }",
            json!({ "n": "07700 900321" }),
        )
        .await;
    // The caller's record and its export hold what the AI did with their texts.
    let steps = &record["data"]["callerRecord"]["conversations"][0]["aiSteps"];
    assert_eq!(
        steps[2],
        json!({ "action": "book_appointment", "outcome": "booked" }),
        "{record}"
    );
    let exported: Value = serde_json::from_str(
        record["data"]["exportCallerRecord"]["json"]
            .as_str()
            .expect("the export"),
    )
    .expect("JSON");
    let exported_steps = &exported["conversations"][0]["ai_receptionist"]["steps"];
    assert_eq!(
        exported_steps[2]["action"], "book_appointment",
        "{exported}"
    );
    // Who booked is part of what the caller is owed about automated decisions.
    assert_eq!(exported["appointments"][0]["booked_by"], "ai", "{exported}");
    assert!(
        exported["calls"][0]
            .as_object()
            .is_some_and(|call| call.contains_key("answered_at") && call.contains_key("line_type")),
        "{exported}"
    );
    let appointments = &record["data"]["callerRecord"]["appointments"];
    assert_eq!(appointments[0]["valueMinor"], 10000, "{record}");
    assert_eq!(
        appointments[0]["outcome"], "recovered",
        "credited to the missed call: {record}"
    );
    let kinds: Vec<&str> = record["data"]["callerRecord"]["conversations"][0]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"ai"), "{kinds:?}");
    let thread = thread_ending(&app, "321").await;
    let view = app
        .owner
        .run(
            "query($id: ID!) { conversation(id: $id) { aiState aiPausedReason messages { kind } \
             aiSteps { action outcome appointmentId } } }",
            json!({ "id": thread.id.to_string() }),
        )
        .await;
    let seen = &view["data"]["conversation"];
    assert_eq!(seen["aiState"], "ACTIVE", "{view}");
    assert!(
        seen["aiPausedReason"].is_null(),
        "it answers the next text: {view}"
    );
    let actions: Vec<&str> = seen["aiSteps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|step| step["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "find_slots",
            "book_appointment",
            "book_appointment",
            "reply"
        ]
    );
    assert!(
        seen["aiSteps"][1]["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("refused")),
        "{view}"
    );
    assert_eq!(seen["aiSteps"][2]["outcome"], "booked");
    assert!(seen["aiSteps"][2]["appointmentId"].is_string(), "{view}");
    assert!(
        seen["messages"].to_string().contains("\"AI\""),
        "the AI's message is marked: {view}"
    );
    let today = app.state.clock.now().date_naive();
    let figures = app
        .owner
        .run(
            "query($f: NaiveDate!, $t: NaiveDate!) { aiFigures(from: $f, to: $t) { conversations \
             bookings recoveredBookings recoveredRevenueMinor handOffs tokens } }",
            json!({ "f": today - chrono::Duration::days(1), "t": today + chrono::Duration::days(1) }),
        )
        .await;
    let ai = &figures["data"]["aiFigures"];
    assert_eq!(ai["conversations"], 1, "{figures}");
    assert_eq!(ai["bookings"], 1);
    assert_eq!(ai["recoveredBookings"], 1);
    assert_eq!(ai["recoveredRevenueMinor"], 10000);
    assert_eq!(ai["handOffs"], 0);
    assert!(ai["tokens"].as_i64().is_some_and(|t| t > 0));

    // A second text is answered again; the model failing for good falls back to staff.
    model.script([Reply::Status(529), Reply::Status(529), Reply::Status(529)]);
    app.receive_text("SMai0002", CALLER, "Thanks! Can I also get a quote?")
        .await;
    drain(&app, 4).await;
    let sent = texts_to(&app, CALLER);
    assert_eq!(sent.len(), 3, "text-back, answer, fallback: {sent:?}");
    assert_eq!(
        sent[2], sent[0],
        "the fallback is the text-back's wording (no booking link is set)"
    );
    let thread = thread_ending(&app, "321").await;
    assert_eq!(
        thread.ai_state.as_deref(),
        Some("handed_off"),
        "staff answer now"
    );
    assert!(
        thread
            .ai_stopped_reason
            .as_deref()
            .is_some_and(|r| r.contains("could not answer")),
        "{:?}",
        thread.ai_stopped_reason
    );
    the_ais_figures_outlive_an_erasure(&mut app, thread.id).await;
}

/// Erasing the caller of conversation `thread` keeps the AI's figures and the month's tokens as
/// they were, and nothing of what it did that leads back to the caller: their steps stay under
/// another conversation id, without their outcomes' words.
async fn the_ais_figures_outlive_an_erasure(app: &mut TestApp, thread: uuid::Uuid) {
    use ringback_entity::ai_step;
    let today = app.state.clock.now().date_naive();
    let figures = "query($f: NaiveDate!, $t: NaiveDate!) { aiFigures(from: $f, to: $t) { \
        conversations bookings handOffs followUps tokens } aiReceptionist { tokensUsedThisMonth } }";
    let days =
        json!({ "f": today - chrono::Duration::days(1), "t": today + chrono::Duration::days(1) });
    let before = app.owner.run(figures, days.clone()).await;
    assert_eq!(before["data"]["aiFigures"]["handOffs"], 1, "{before}");
    let steps_before = steps_in_the_clinic(app).await;
    let done = app
        .owner
        .run(
            "mutation { eraseCaller(number: \"07700 900321\") { aiStepsUnlinked summary } }",
            json!({}),
        )
        .await;
    assert_eq!(
        done["data"]["eraseCaller"]["aiStepsUnlinked"].as_u64(),
        Some(steps_before.len() as u64),
        "{done}"
    );
    let after = app.owner.run(figures, days).await;
    assert_eq!(
        after["data"], before["data"],
        "the figures stay as they were"
    );
    let steps_after: Vec<ai_step::Model> = steps_in_the_clinic(app).await;
    assert_eq!(steps_after.len(), steps_before.len());
    for step in &steps_after {
        assert_ne!(step.conversation_id, thread, "{step:?}");
        assert!(
            ["erased", "done"].contains(&step.outcome.as_str()),
            "{step:?}"
        );
    }
}

/// Every step of the AI in the test clinic.
async fn steps_in_the_clinic(app: &TestApp) -> Vec<ringback_entity::ai_step::Model> {
    let txn = app.tenant().begin().await.expect("txn");
    let steps = txn
        .find::<ringback_entity::ai_step::Entity>()
        .all(txn.conn())
        .await
        .expect("steps");
    txn.commit().await.expect("commit");
    steps
}

/// How long the test clinics' AI may take to answer a text: the default, so that a busy machine
/// never runs an answer out of time.
const ANSWER_SECONDS: u64 = 45;

/// The answer time of the clinic whose model stalls.
const STALLED_ANSWER_SECONDS: u64 = 5;

/// A clinic with the fake Twilio, numbers kept, the boiler service priced and the AI on (with
/// `follow_up` minutes of follow-up wait, or none), asking `model`.
async fn ai_clinic(kind: DatabaseKind, model: &FakeAnthropic, follow_up: Option<i32>) -> TestApp {
    ai_clinic_answering_within(kind, model, follow_up, ANSWER_SECONDS).await
}

/// [`ai_clinic`] whose AI may take `answer_seconds` to answer a text.
async fn ai_clinic_answering_within(
    kind: DatabaseKind,
    model: &FakeAnthropic,
    follow_up: Option<i32>,
    answer_seconds: u64,
) -> TestApp {
    let builder = ai_clinic_builder(kind, model, answer_seconds);
    switch_the_ai_on(builder.build().await, follow_up).await
}

/// A clinic's set-up with the fake `model` that may take `answer_seconds` to answer a text, to
/// extend before [`switch_the_ai_on`].
fn ai_clinic_builder(
    kind: DatabaseKind,
    model: &FakeAnthropic,
    answer_seconds: u64,
) -> crate::common::app::TestAppBuilder {
    // Noon: the text-back's wording and a fallback sent minutes later fall on the same side of
    // the opening hours' edges (09:00, 17:30; at weekends both are outside them).
    TestApp::builder(kind)
        .at_midday()
        .with_twilio()
        .setting("RINGBACK_ANTHROPIC_API_KEY", API_KEY)
        .setting("RINGBACK_ANTHROPIC_API_URL", model.api_url())
        .setting("RINGBACK_AI_ANSWER_SECONDS", &answer_seconds.to_string())
}

/// `app`'s clinic keeps numbers, has a boiler service priced and the AI on (following up after
/// `follow_up` minutes, if given).
async fn switch_the_ai_on(mut app: TestApp, follow_up: Option<i32>) -> TestApp {
    app.keep_numbers().await;
    let saved = app
        .owner
        .run(
            SAVE,
            json!({ "input": boiler_service("Boiler service", 12000) }),
        )
        .await;
    assert!(saved["errors"].is_null(), "{saved}");
    let on = app
        .owner
        .run(
            UPDATE,
            json!({ "input": { "enabled": true, "followUpMinutes": follow_up } }),
        )
        .await;
    assert!(on["errors"].is_null(), "{on}");
    app
}

/// Records a missed call from `number` three minutes ago (signed in afresh: the clock may have
/// moved on) and runs the worker (the text-back).
async fn miss_call(app: &mut TestApp, external_id: &str, number: &str) {
    record_missed_call(app, external_id, number).await;
    drain(app, 3).await;
}

/// Records a missed call from `number` three minutes ago; its text-back waits in the outbox.
async fn record_missed_call(app: &mut TestApp, external_id: &str, number: &str) {
    record_call(app, (external_id, number), "NO_ANSWER", 3).await;
}

/// Records an inbound call from `number` (signed in afresh: the clock may have moved on) that
/// ended `status`, started `minutes_ago`.
async fn record_call(
    app: &mut TestApp,
    (external_id, number): (&str, &str),
    status: &str,
    minutes_ago: i64,
) {
    app.sign_in_again().await;
    let started = app.state.clock.now() - chrono::Duration::minutes(minutes_ago);
    let recorded = app
        .owner
        .run(
            "mutation($e: [CallEventInput!]!) { recordCallEvents(events: $e) { results { call { id } } } }",
            json!({ "e": [{ "externalId": external_id, "direction": "INBOUND", "status": status,
                "startedAt": started.to_rfc3339(), "callerNumber": number }] }),
        )
        .await;
    assert!(recorded["errors"].is_null(), "{recorded}");
}

/// The texts the fake Twilio was asked to send to `to`.
fn texts_to(app: &TestApp, to: &str) -> Vec<String> {
    app.twilio
        .as_ref()
        .expect("fake Twilio")
        .messages()
        .into_iter()
        .filter(|text| text.to == to)
        .map(|text| text.body)
        .collect()
}

/// The conversation with the caller whose number ends `tail`.
async fn thread_ending(app: &TestApp, tail: &str) -> ringback_entity::conversation::Model {
    use sea_orm::{ColumnTrait, QueryFilter};
    let txn = app.tenant().begin().await.expect("txn");
    let thread = txn
        .find::<ringback_entity::conversation::Entity>()
        .filter(ringback_entity::conversation::Column::CallerTail.contains(tail))
        .one(txn.conn())
        .await
        .expect("read")
        .expect("the conversation");
    txn.commit().await.expect("commit");
    thread
}

/// Claims with a worker of `lane` and runs what it claimed; the kinds it claimed, sorted.
async fn run_lane(app: &TestApp, lane: Lane, name: &str) -> Vec<String> {
    let settings = WorkerSettings {
        lane,
        ..crate::common::app::quick_retries()
    };
    let provider = app.state.sms.clone();
    assert!(provider.is_some(), "the fake Twilio");
    let worker = Worker::new(app.state.clone(), provider, settings, name.to_owned());
    let claimed = worker.claim().await.expect("a claim");
    let txn = app.tenant().begin().await.expect("txn");
    let mut kinds = Vec::new();
    for job in &claimed {
        let row =
            ringback_api::tenant::in_clinic::<ringback_entity::job_outbox::Entity>(&txn, job.id())
                .await
                .expect("read")
                .expect("the job");
        kinds.push(row.kind);
    }
    txn.commit().await.expect("commit");
    for job in claimed {
        worker.process(job).await.expect("processed");
    }
    kinds.sort();
    kinds
}

async fn the_model_waits_in_a_lane_of_its_own(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "lane-1", "07700 900329").await;
    model.script([Reply::Text("We can see you Monday.".to_owned())]);
    app.receive_text("SMlane01", "+447700900329", "Can I come Monday?")
        .await;
    record_missed_call(&mut app, "lane-2", "07700 900330").await;

    let quick = Lane::AllBut(SLOW_KINDS);
    assert_eq!(run_lane(&app, quick, "quick-1").await, ["text_back"]);
    assert_eq!(
        run_lane(&app, Lane::Only(SLOW_KINDS), "slow-1").await,
        ["ai_answer"]
    );
    assert_eq!(
        run_lane(&app, quick, "quick-2").await,
        ["reply"],
        "the answer's text goes out in the quick lane"
    );
    assert!(
        texts_to(&app, "+447700900329")
            .iter()
            .any(|text| text.contains("Monday"))
    );
}

/// An AI text stored and queued just before staff take the conversation over is not sent:
/// staff speak for the clinic from then on.
async fn an_ai_text_waiting_when_staff_take_over_is_not_sent(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "waiting-1", "07700 900339").await;
    model.script([Reply::Text("We can see you Monday.".to_owned())]);
    app.receive_text("SMwait01", "+447700900339", "Can I come Monday?")
        .await;
    assert_eq!(
        run_lane(&app, Lane::Only(SLOW_KINDS), "slow-1").await,
        ["ai_answer"]
    );
    let thread = thread_ending(&app, "339").await;
    let taken = app
        .owner
        .run(
            "mutation($id: ID!) { takeOverConversation(id: $id) { aiState } }",
            json!({ "id": thread.id.to_string() }),
        )
        .await;
    assert!(taken["errors"].is_null(), "{taken}");
    run_lane(&app, Lane::AllBut(SLOW_KINDS), "quick-1").await;
    let texts = texts_to(&app, "+447700900339");
    assert_eq!(texts.len(), 1, "the text-back only: {texts:?}");
    let shown = app
        .owner
        .run(
            "query($id: ID!) { conversation(id: $id) { messages { kind status } } }",
            json!({ "id": thread.id.to_string() }),
        )
        .await;
    assert!(
        shown.to_string().contains("cancelled"),
        "the AI's text is marked not sent: {shown}"
    );
}

async fn a_stalled_model_falls_back_within_the_answer_time(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let within = STALLED_ANSWER_SECONDS;
    let mut app = ai_clinic_answering_within(kind, &model, None, within).await;
    miss_call(&mut app, "stall-1", "07700 900331").await;
    model.script([Reply::Stall(Duration::from_secs(60))]);
    app.receive_text("SMstall1", "+447700900331", "Can someone come today?")
        .await;
    drain(&app, 4).await;
    // The answer time ran out before the request's own timeout.
    let reason = format!("the AI model took longer than {within} s to answer");
    fell_back_to_staff(&app, "+447700900331", &reason).await;
    assert_eq!(model.requests().len(), 1, "asked once");
}

/// Answers the AI may not text go to staff with the fallback: one too long to text (it would cost
/// many segments or fail at Twilio) and one cut off at the model's token limit.
async fn answers_too_long_or_cut_off_go_to_staff(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "long-1", "07700 900341").await;
    let price_list = "A boiler service is from £120. ".repeat(20);
    model.script([Reply::Text(price_list)]);
    app.receive_text("SMlong01", "+447700900341", "What do you charge?")
        .await;
    drain(&app, 4).await;
    let too_long = "the AI model's answer was too long to text";
    fell_back_to_staff(&app, "+447700900341", too_long).await;

    miss_call(&mut app, "cut-1", "07700 900342").await;
    model.script([Reply::Cut("We can come at".to_owned())]);
    app.receive_text("SMcut001", "+447700900342", "When can you come?")
        .await;
    drain(&app, 4).await;
    fell_back_to_staff(&app, "+447700900342", "the AI model's answer was cut off").await;

    // The model repeating a number it was shown only as removed: the caller would read the
    // placeholder where a number should be.
    miss_call(&mut app, "echo-1", "07700 900347").await;
    let echoed = format!("Ring us on {}.", ringback_shared::redact::REMOVED);
    model.script([Reply::Text(echoed)]);
    app.receive_text("SMecho01", "+447700900347", "What is your number?")
        .await;
    drain(&app, 4).await;
    let not_shown = "the AI model's answer gave a number it was not shown";
    fell_back_to_staff(&app, "+447700900347", not_shown).await;
}

/// A tool the model makes up (here one named like the answer's own `reply` step) is refused and
/// recorded as an unknown tool, so the text the model writes next still reaches the caller; and a
/// number the caller spaced out around a dash never reaches the model.
async fn a_made_up_tool_is_refused_and_the_answer_still_goes(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "made-up-1", "07700 900343").await;
    model.script([
        Reply::tool("reply", json!({ "text": "Hello" })),
        Reply::Text("See you on Monday.".to_owned()),
    ]);
    let asked = "Can you come Monday? Ring me on 07700 - 900 343\nor 07700  900343";
    app.receive_text("SMtool01", "+447700900343", asked).await;
    drain(&app, 4).await;
    let texts = texts_to(&app, "+447700900343");
    assert!(
        texts.iter().any(|text| text.contains("See you on Monday.")),
        "the model's answer reached the caller: {texts:?}"
    );
    let steps = steps_of(&app).await;
    let refused = owned(("unknown_tool", "refused: there is no tool named reply"));
    assert!(steps.contains(&refused), "{steps:?}");
    assert!(steps.contains(&owned(("reply", "answered"))), "{steps:?}");
    for request in model.requests() {
        let sent = request.to_string();
        assert!(
            !sent.contains("900 343") && !sent.contains("900343"),
            "no number reaches the model: {sent}"
        );
    }
}

/// A model that hands the caller to staff and then fails to write its text: the caller gets the
/// fallback, but the model's reason stands, staff are told once and the figures count one
/// hand-off.
async fn a_fallback_after_the_models_hand_off_keeps_its_reason(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "swelling-1", "07700 900344").await;
    model.script([
        Reply::tool(
            "hand_off",
            json!({ "reason": "emergency: facial swelling" }),
        ),
        Reply::Status(400),
    ]);
    app.receive_text("SMswell1", "+447700900344", "My face is swollen")
        .await;
    drain(&app, 4).await;
    let texts = texts_to(&app, "+447700900344");
    assert_eq!(
        texts.len(),
        2,
        "the text-back, then the fallback: {texts:?}"
    );
    let thread = thread_ending(&app, "344").await;
    assert_eq!(thread.ai_state.as_deref(), Some("handed_off"));
    assert_eq!(
        thread.ai_stopped_reason.as_deref(),
        Some("emergency: facial swelling")
    );
    let notices = app
        .db
        .query_strings(
            "SELECT kind FROM notifications WHERE kind = 'ai_hand_off'",
            &["kind"],
        )
        .await;
    assert_eq!(notices.len(), 1, "staff are told once: {notices:?}");
    let today = app.state.clock.now().date_naive();
    let figures = app
        .owner
        .run(
            "query($d: NaiveDate!) { aiFigures(from: $d, to: $d) { handOffs } }",
            json!({ "d": today }),
        )
        .await;
    assert_eq!(figures["data"]["aiFigures"]["handOffs"], 1, "{figures}");
}

/// A clinic whose trial is over gets no automated texts: the follow-up queued during the trial
/// is cancelled, and the caller's next text goes to staff with the reason, without the model or
/// Twilio being asked.
async fn a_clinic_billing_stopped_gets_no_ai_answers(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let builder = ai_clinic_builder(kind, &model, ANSWER_SECONDS)
        .with_stripe()
        .setting("RINGBACK_TRIAL_DAYS", "2");
    let mut app = switch_the_ai_on(builder.build().await, Some(30)).await;
    miss_call(&mut app, "billed-1", "07700 900345").await;
    model.script([Reply::Text("Would Monday at ten suit you?".to_owned())]);
    app.receive_text("SMbill01", "+447700900345", "Can you come Monday?")
        .await;
    drain(&app, 4).await;
    assert_eq!(
        texts_to(&app, "+447700900345").len(),
        2,
        "answered in the trial"
    );

    app.db.clock.advance(chrono::Duration::days(3));
    drain(&app, 2).await;
    let held = "billing stopped the clinic's automated texts";
    let follow_ups = app
        .db
        .query_strings(
            "SELECT status, COALESCE(last_error, '') AS why FROM job_outbox \
             WHERE kind = 'ai_follow_up'",
            &["status", "why"],
        )
        .await;
    // The follow-up of the AI's question is held by billing (the text-back's was moot already).
    assert!(
        follow_ups.iter().any(|row| row == &["cancelled", held])
            && follow_ups.iter().all(|row| row[0] == "cancelled"),
        "{follow_ups:?}"
    );
    model.script([Reply::Text("Booked for Monday.".to_owned())]);
    app.receive_text("SMbill02", "+447700900345", "Yes please")
        .await;
    drain(&app, 4).await;
    assert_eq!(model.requests().len(), 1, "the model is not asked again");
    assert_eq!(
        texts_to(&app, "+447700900345").len(),
        2,
        "nothing more is sent"
    );
    let thread = thread_ending(&app, "345").await;
    assert_eq!(thread.ai_state.as_deref(), Some("handed_off"));
    assert_eq!(thread.ai_stopped_reason.as_deref(), Some(held));
    let steps = steps_of(&app).await;
    assert!(
        steps.contains(&owned(("hand_off", "done"))),
        "counted as a hand-off: {steps:?}"
    );
}

/// An answer the AI stored in the trial whose text is still waiting when the trial ends is not
/// sent: billing's hold is checked again as the text goes out.
async fn an_ai_text_waiting_when_billing_stops_is_not_sent(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let builder = ai_clinic_builder(kind, &model, ANSWER_SECONDS)
        .with_stripe()
        .setting("RINGBACK_TRIAL_DAYS", "2");
    let mut app = switch_the_ai_on(builder.build().await, None).await;
    miss_call(&mut app, "billed-2", "07700 900346").await;
    model.script([Reply::Text("We can see you Monday.".to_owned())]);
    app.receive_text("SMbill03", "+447700900346", "Can I come Monday?")
        .await;
    assert_eq!(
        run_lane(&app, Lane::Only(SLOW_KINDS), "slow-1").await,
        ["ai_answer"]
    );
    app.db.clock.advance(chrono::Duration::days(3));
    drain(&app, 2).await;
    let texts = texts_to(&app, "+447700900346");
    assert_eq!(texts.len(), 1, "only the text-back of the trial: {texts:?}");
    let replies = app
        .db
        .query_strings(
            "SELECT status, COALESCE(last_error, '') AS why FROM job_outbox WHERE kind = 'reply'",
            &["status", "why"],
        )
        .await;
    let held = "billing stopped the clinic's automated texts";
    assert_eq!(replies, [["cancelled", held]]);
    let thread = thread_ending(&app, "346").await;
    assert_eq!(
        thread.ai_state.as_deref(),
        Some("handed_off"),
        "staff are told"
    );
    assert_eq!(thread.ai_stopped_reason.as_deref(), Some(held));
}

/// Checks that the caller `number` got the text-back, then the fallback in the same words, and
/// that their conversation went to staff for `reason`.
async fn fell_back_to_staff(app: &TestApp, number: &str, reason: &str) {
    let texts = texts_to(app, number);
    assert_eq!(
        texts.len(),
        2,
        "the text-back, then the fallback: {texts:?}"
    );
    assert_eq!(
        texts[1], texts[0],
        "the fallback is the text-back's wording"
    );
    let thread = thread_ending(app, &number[number.len() - 3..]).await;
    assert_eq!(thread.ai_state.as_deref(), Some("handed_off"));
    assert_eq!(thread.ai_stopped_reason.as_deref(), Some(reason));
}

/// A member of staff's reply in a conversation (`$id`, `$body`).
const REPLY: &str =
    "mutation($id: ID!, $body: String!) { replyToConversation(id: $id, body: $body) { id } }";
/// What staff reply in these tests.
const STAFF_REPLY: &str = "Yes, Monday at ten.";

/// `browser`'s member of staff replies [`STAFF_REPLY`] in `conversation`.
async fn staff_reply<E: poem::Endpoint>(
    browser: &mut crate::common::graphql::Browser<E>,
    conversation: uuid::Uuid,
) {
    let body = json!({ "id": conversation.to_string(), "body": STAFF_REPLY });
    let done = browser.run(REPLY, body).await;
    assert!(done["errors"].is_null(), "{done}");
}

/// Checks that the conversation with the caller whose number ends `tail` is taken over from the
/// AI because a member of staff replied.
async fn taken_over_by_a_staff_reply(app: &TestApp, tail: &str) {
    let thread = thread_ending(app, tail).await;
    assert_eq!(thread.ai_state.as_deref(), Some("taken_over"));
    assert_eq!(
        thread.ai_stopped_reason.as_deref(),
        Some("a member of staff replied")
    );
}

/// Turns the clinic's AI receptionist on or off, as its owner.
async fn switch_ai(app: &mut TestApp, enabled: bool) {
    let set = app
        .owner
        .run(UPDATE, json!({ "input": { "enabled": enabled } }))
        .await;
    assert!(set["errors"].is_null(), "{set}");
}

/// A conversation staff answered while the AI was off stays with staff once it is on: the
/// caller's next text is not answered by the AI (the model is never asked), and the conversation
/// shows as taken over.
async fn a_conversation_staff_answered_before_the_ai_was_on_stays_with_staff(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "staffed-1", "07700 900344").await;
    model.script([Reply::Text("never".to_owned())]);
    switch_ai(&mut app, false).await;
    app.receive_text("SMstaffed1", "+447700900344", "Can I come Monday?")
        .await;
    let thread = thread_ending(&app, "344").await;
    staff_reply(&mut app.owner, thread.id).await;
    let thread = thread_ending(&app, "344").await;
    assert_eq!(
        thread.ai_state, None,
        "the AI was off: nothing to take over"
    );
    switch_ai(&mut app, true).await;
    app.receive_text("SMstaffed2", "+447700900344", "Great, thanks")
        .await;
    drain(&app, 4).await;
    assert!(model.requests().is_empty(), "the model was never asked");
    let texts = texts_to(&app, "+447700900344");
    assert_eq!(texts.len(), 2, "text-back, staff reply: {texts:?}");
    taken_over_by_a_staff_reply(&app, "344").await;
}

/// A conversation holding a text that cannot be opened is not answered on what is left of it: the
/// model is never asked, the caller gets the fallback text and staff get the conversation.
async fn a_text_that_cannot_be_opened_goes_to_staff(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "damaged-1", "07700 900332").await;
    model.script([Reply::Text("never".to_owned())]);
    // The damaged text is not the one answered: it came while the AI was off (no answer queued
    // for it), so the model would see the conversation without it.
    switch_ai(&mut app, false).await;
    app.receive_text("SMdamag1", "+447700900332", "Can I come Monday?")
        .await;
    switch_ai(&mut app, true).await;
    app.receive_text("SMdamag2", "+447700900332", "Or Tuesday?")
        .await;
    app.damage_message("SMdamag1").await;
    drain(&app, 4).await;
    assert!(model.requests().is_empty(), "the model was never asked");
    let reason = "a text in this conversation could not be opened";
    fell_back_to_staff(&app, "+447700900332", reason).await;
}

/// Staff who take a conversation over while the model is thinking get it quiet: the model's
/// answer, when it comes, is not sent.
async fn a_take_over_while_the_model_thinks_keeps_its_answer_unsent(kind: DatabaseKind) {
    let taken = "mutation($id: ID!) { takeOverConversation(id: $id) { aiState } }";
    let why = "staff took the conversation over meanwhile";
    let answer = |_: &TestApp| Reply::Text("We can see you Monday.".to_owned());
    staff_act_while_the_model_thinks(kind, answer, (taken, json!({})), why).await;
}

/// A take-over while the model is thinking stops the tools it asks for too: the booking it asked
/// for is not made.
async fn a_take_over_while_the_model_thinks_runs_none_of_its_tools(kind: DatabaseKind) {
    let taken = "mutation($id: ID!) { takeOverConversation(id: $id) { aiState } }";
    let why = "staff took the conversation over meanwhile";
    staff_act_while_the_model_thinks(kind, monday_booking, (taken, json!({})), why).await;
}

/// The model asking to book a boiler service on the next Monday ahead, at nine.
/// The model asking for the boiler service's free slots on `day`.
fn boiler_slots_on(day: &str) -> Reply {
    Reply::tool(
        "find_slots",
        json!({ "from": day, "to": day, "kind": "Boiler service" }),
    )
}

fn monday_booking(app: &TestApp) -> Reply {
    let slot = format!("{} 09:00", monday_ahead(app));
    Reply::tool(
        "book_appointment",
        json!({ "slot": slot, "kind": "Boiler service" }),
    )
}

/// A staff reply while the model is thinking takes the conversation over (also before the AI's
/// first text) and keeps the model's answer unsent.
async fn a_staff_reply_while_the_model_thinks_keeps_its_answer_unsent(kind: DatabaseKind) {
    let why = "staff took the conversation over meanwhile";
    let body = json!({ "body": STAFF_REPLY });
    let answer = |_: &TestApp| Reply::Text("We can see you Monday.".to_owned());
    staff_act_while_the_model_thinks(kind, answer, (REPLY, body), why).await;
}

/// A caller's text the model answers (with what `answer` makes: a text, or a tool it asks for)
/// while a receptionist runs `act` (a mutation on the conversation `$id`, with these other
/// variables) once the model was asked: nothing the model answered is sent, run or booked, and a
/// `stopped` step says `why` and keeps the model's tokens for the budget.
async fn staff_act_while_the_model_thinks(
    kind: DatabaseKind,
    answer: impl FnOnce(&TestApp) -> Reply,
    act: (&str, Value),
    why: &str,
) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "staff-1", "07700 900333").await;
    app.receive_text("SMstaff1", "+447700900333", "Can I come Monday?")
        .await;
    let thread = thread_ending(&app, "333").await;
    let joiner = app.browser();
    let mut desk = join(&mut app.owner, joiner, "desk@clinic.test", "RECEPTIONIST").await;
    model.script([answer(&app), Reply::Text("Booked.".to_owned())]);
    model.hold();
    let (query, mut variables) = act;
    variables["id"] = json!(thread.id.to_string());
    let staff = async {
        model.wait_for_requests(1, Duration::from_secs(30)).await;
        let done = desk.run(query, variables).await;
        assert!(done["errors"].is_null(), "{done}");
        model.release();
    };
    tokio::join!(drain(&app, 4), staff);
    nothing_answered_or_booked(&app, &model, why).await;
}

/// A caller who sends STOP while the model asks to book them: no booking is made for them and
/// nothing is sent.
async fn a_caller_who_sends_stop_while_the_model_thinks_is_not_booked(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "stop-1", "07700 900346").await;
    app.receive_text("SMstop1", "+447700900346", "Can I come Monday?")
        .await;
    model.script([monday_booking(&app), Reply::Text("Booked.".to_owned())]);
    model.hold();
    let caller = async {
        model.wait_for_requests(1, Duration::from_secs(30)).await;
        app.receive_text("SMstop2", "+447700900346", "STOP").await;
        model.release();
    };
    tokio::join!(drain(&app, 4), caller);
    nothing_answered_or_booked(&app, &model, "the caller sent STOP").await;
}

/// A caller whose data is restricted (at their request, by an admin) while the model asks to
/// book them: the AI does nothing more for them.
async fn a_caller_restricted_while_the_model_thinks_is_not_booked(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "restricted-1", "07700 900347").await;
    app.receive_text("SMrestricted1", "+447700900347", "Can I come Monday?")
        .await;
    let joiner = app.browser();
    let mut admin = join(&mut app.owner, joiner, "admin@clinic.test", "ADMIN").await;
    model.script([monday_booking(&app), Reply::Text("Booked.".to_owned())]);
    model.hold();
    let restrict = async {
        model.wait_for_requests(1, Duration::from_secs(30)).await;
        let done = admin
            .run(
                "mutation { restrictCaller(number: \"07700 900347\", restricted: true) }",
                json!({}),
            )
            .await;
        assert!(done["errors"].is_null(), "{done}");
        model.release();
    };
    tokio::join!(drain(&app, 4), restrict);
    let why = "the caller restricted the processing of their data";
    nothing_answered_or_booked(&app, &model, why).await;
}

/// The model was asked once; nothing it answered was sent, run or booked; the answer's job ended
/// for `why`, queueing no other; and its last step is `stopped` for `why`, with the model's
/// tokens kept for the budget.
async fn nothing_answered_or_booked(app: &TestApp, model: &FakeAnthropic, why: &str) {
    assert_eq!(model.requests().len(), 1, "the model was asked");
    assert_eq!(answer_jobs(app).await, [owned(("cancelled", why))]);
    let by_ai = app
        .db
        .query_strings("SELECT kind FROM messages WHERE kind = 'ai'", &["kind"])
        .await;
    assert!(by_ai.is_empty(), "the AI's answer is not stored or sent");
    let booked = app
        .db
        .query_strings("SELECT source FROM appointments", &["source"])
        .await;
    assert!(booked.is_empty(), "no tool ran: {booked:?}");
    let steps = app
        .db
        .query_strings(
            "SELECT action, outcome, CAST(tokens AS TEXT) AS tokens FROM ai_steps \
             ORDER BY created_at",
            &["action", "outcome", "tokens"],
        )
        .await;
    let last = steps.last().expect("a step");
    assert_eq!(
        (last[0].as_str(), last[1].as_str()),
        ("stopped", why),
        "{steps:?}"
    );
    assert_ne!(last[2], "0", "the model's tokens are kept for the budget");
}

/// The AI's steps in the order they were recorded, as (action, outcome).
async fn steps_of(app: &TestApp) -> Vec<(String, String)> {
    app.db
        .query_strings(
            "SELECT action, outcome FROM ai_steps ORDER BY created_at, id",
            &["action", "outcome"],
        )
        .await
        .into_iter()
        .map(|step| (step[0].clone(), step[1].clone()))
        .collect()
}

/// The sources of the appointments booked, in no order.
async fn bookings(app: &TestApp) -> Vec<String> {
    app.db
        .query_strings("SELECT source FROM appointments", &["source"])
        .await
        .into_iter()
        .map(|row| row[0].clone())
        .collect()
}

/// A caller who writes again while the model answers their first text gets one answer to both:
/// the answer under way takes the new text in and asks the model again; the second text's own
/// job, taken by another worker meanwhile, leaves the text to it.
async fn a_caller_who_writes_again_while_the_model_thinks_gets_one_answer(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "again-1", "07700 900334").await;
    model.script([
        Reply::Text("We can see you Monday.".to_owned()),
        Reply::Text("Monday or Tuesday: both are free.".to_owned()),
    ]);
    let texts = ["Can I come Monday?", "Or Tuesday?"];
    let answer =
        writes_again_while_the_model_thinks(&app, &model, ("+447700900334", 1), texts).await;
    assert!(answer.contains("Monday or Tuesday"), "{answer}");
    let requests = model.requests();
    assert_eq!(requests.len(), 2, "asked again with the new text, once");
    let again = &requests[1]["messages"];
    assert_eq!(again.as_array().map(Vec::len), Some(1), "{again}");
    assert_eq!(again[0]["content"][0]["text"], "Can I come Monday?");
    assert_eq!(again[0]["content"][1]["text"], "Or Tuesday?");
    let wrote = "the caller wrote again before the answer went out: asked again";
    asked_again_then_answered(&app, wrote).await;
}

/// The caller `number` writes the first of `texts`, then the second once the model got its
/// `asked`-th request (the answers to it and later ones held until then), while the worker runs;
/// a second worker takes the second text's job meanwhile, which leaves the text to the answer
/// under way. The one answer they got after the text-back.
async fn writes_again_while_the_model_thinks(
    app: &TestApp,
    model: &FakeAnthropic,
    (number, asked): (&str, usize),
    [first, second]: [&str; 2],
) -> String {
    model.hold_from(asked);
    app.receive_text(&format!("SM{number}a"), number, first)
        .await;
    let caller = async {
        model
            .wait_for_requests(asked, Duration::from_secs(30))
            .await;
        app.receive_text(&format!("SM{number}b"), number, second)
            .await;
        let beside = app.worker("ai-beside");
        assert_eq!(
            beside.run_once().await.expect("a pass"),
            1,
            "the new text's job"
        );
        model.release();
    };
    tokio::join!(drain(app, 6), caller);
    let texts = texts_to(app, number);
    assert_eq!(texts.len(), 2, "the text-back and one answer: {texts:?}");
    assert_eq!(
        answer_jobs(app).await,
        [
            ("cancelled", "an answer under way takes this text in"),
            ("done", "")
        ]
        .map(owned)
    );
    texts[1].clone()
}

/// A caller who writes again while the model thinks over each of its last rounds: the model's
/// rounds of tools and the times the caller's texts are taken in are bounded apart, so five
/// rounds of tools, a sixth whose tool the caller's text kept from running, and two more texts
/// taken in (nine requests, more than the six rounds of tools allowed) still end in one answer.
async fn a_caller_who_keeps_writing_does_not_use_up_the_tools_rounds(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "chatty-1", "07700 900348").await;
    let monday = monday_ahead(&app);
    let find = || Reply::tool("find_slots", json!({ "from": monday, "to": monday }));
    model.script((1..=6).map(|_| find()));
    model.script((7..=9).map(|round| Reply::Text(format!("Answer of round {round}."))));
    let texts = ["Or Tuesday?", "Mornings are best.", "Thanks!"];
    model.hold_from(6);
    let caller = writes_during_rounds(&app, &model, ("+447700900348", 6), &texts);
    app.receive_text("SMchatty", "+447700900348", "Any time Monday?")
        .await;
    tokio::join!(drain(&app, 6), caller);
    assert_eq!(model.requests().len(), 9);
    let sent = texts_to(&app, "+447700900348");
    assert_eq!(sent.len(), 2, "the text-back and one answer: {sent:?}");
    assert!(sent[1].starts_with("Answer of round 9."), "{sent:?}");
    let thread = thread_ending(&app, "348").await;
    assert_eq!(thread.ai_state.as_deref(), Some("active"));
}

/// A caller who writes again while the model thinks over five rounds in a row goes to staff,
/// with the fallback text, before the model is asked a sixth time.
async fn a_caller_who_writes_again_past_the_bound_goes_to_staff(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "chatty-2", "07700 900349").await;
    model.script((1..=6).map(|round| Reply::Text(format!("Answer of round {round}."))));
    let texts = ["Two", "Three", "Four", "Five", "Six"];
    model.hold_from(1);
    let caller = writes_during_rounds(&app, &model, ("+447700900349", 1), &texts);
    app.receive_text("SMchatty2", "+447700900349", "One").await;
    tokio::join!(drain(&app, 6), caller);
    assert_eq!(model.requests().len(), 5, "not asked a sixth time");
    let reason = "the caller wrote again more than 4 times while the AI answered";
    fell_back_to_staff(&app, "+447700900349", reason).await;
}

/// With the model held from its `first`-th request on, has the caller `number` write one of
/// `texts` while the model thinks over each request from that one, letting each go once its text
/// is in.
async fn writes_during_rounds(
    app: &TestApp,
    model: &FakeAnthropic,
    (number, first): (&str, usize),
    texts: &[&str],
) {
    for (index, text) in texts.iter().enumerate() {
        let request = first + index;
        model
            .wait_for_requests(request, Duration::from_secs(30))
            .await;
        app.receive_text(&format!("SM{number}-{index}"), number, text)
            .await;
        if index + 1 < texts.len() {
            model.release_until(request + 1);
        } else {
            model.release();
        }
    }
}

/// How the `ai_answer` jobs ended: each one's status and why it was cancelled, in that order.
async fn answer_jobs(app: &TestApp) -> Vec<(String, String)> {
    app.db
        .query_strings(
            "SELECT status, COALESCE(last_error, '') AS why FROM job_outbox \
             WHERE kind = 'ai_answer'",
            &["status", "why"],
        )
        .await
        .into_iter()
        .map(|row| (row[0].clone(), row[1].clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// A pair of words as owned strings.
fn owned((first, second): (&str, &str)) -> (String, String) {
    (first.to_owned(), second.to_owned())
}

/// Checks that the AI's steps were a `caller_wrote` step saying `wrote`, then the answer.
async fn asked_again_then_answered(app: &TestApp, wrote: &str) {
    assert_eq!(
        steps_of(app).await,
        [
            ("caller_wrote".to_owned(), wrote.to_owned()),
            ("reply".to_owned(), "answered".to_owned())
        ],
    );
}

/// A text taken into the answer under way that was stamped before the text being answered (its
/// webhook was slower) does not make the answer record an earlier text as answered: the caller's
/// next text is answered alone, the first one is not read as open again.
async fn an_earlier_stamped_text_taken_in_leaves_the_latest_answered(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "order-1", "07700 900341").await;
    model.script([
        Reply::Text("Monday works.".to_owned()),
        Reply::Text("Monday works, and Tuesday too.".to_owned()),
        Reply::Text("See you then.".to_owned()),
    ]);
    let clock = app.db.clock.clone();
    let at = |seconds: i64| clock.set(clock.now() + chrono::Duration::seconds(seconds));
    at(10);
    model.hold();
    app.receive_text("SMorder1", "+447700900341", "Can I come Monday?")
        .await;
    let slower_webhook = async {
        model.wait_for_requests(1, Duration::from_secs(30)).await;
        at(-5);
        app.receive_text("SMorder2", "+447700900341", "Or Tuesday?")
            .await;
        app.worker("ai-beside").run_once().await.expect("a pass");
        at(10);
        model.release();
    };
    tokio::join!(drain(&app, 6), slower_webhook);
    at(10);
    app.receive_text("SMorder3", "+447700900341", "Thanks!")
        .await;
    drain(&app, 4).await;
    let requests = model.requests();
    assert_eq!(requests.len(), 3, "asked, asked again, then the thanks");
    let turns = requests[2]["messages"].as_array().expect("turns").clone();
    let last = turns.last().expect("a turn");
    assert_eq!(last["content"].as_array().map(Vec::len), Some(1), "{last}");
    assert_eq!(last["content"][0]["text"], "Thanks!", "{last}");
}

/// A staff reply before the AI's first text takes the conversation over: the answer under way
/// stops, and a text the caller writes after it is left to staff (no answer is queued for it).
async fn a_staff_reply_before_the_ais_first_text_takes_the_conversation_over(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "left-1", "07700 900339").await;
    app.receive_text("SMleft1", "+447700900339", "Can I come Monday?")
        .await;
    let thread = thread_ending(&app, "339").await;
    assert_eq!(thread.ai_state, None, "the AI has not texted yet");
    let joiner = app.browser();
    let mut desk = join(&mut app.owner, joiner, "desk@clinic.test", "RECEPTIONIST").await;
    model.script([
        Reply::Text("We can see you Monday.".to_owned()),
        Reply::Text("Tuesday works too.".to_owned()),
    ]);
    model.hold();
    let staff_then_caller = async {
        model.wait_for_requests(1, Duration::from_secs(30)).await;
        staff_reply(&mut desk, thread.id).await;
        app.receive_text("SMleft2", "+447700900339", "And Tuesday?")
            .await;
        app.worker("ai-beside").run_once().await.expect("a pass");
        model.release();
    };
    tokio::join!(drain(&app, 8), staff_then_caller);
    let texts = texts_to(&app, "+447700900339");
    assert_eq!(texts.len(), 2, "text-back, staff reply: {texts:?}");
    assert_eq!(texts[1], STAFF_REPLY, "{texts:?}");
    assert_eq!(model.requests().len(), 1, "only the stopped answer asked");
    let queued = answer_jobs_queued(&app).await;
    assert_eq!(queued, 1, "no answer queued after the first");
    let steps = steps_of(&app).await;
    let why = "staff took the conversation over meanwhile";
    assert_eq!(steps, [owned(("stopped", why))], "{steps:?}");
    taken_over_by_a_staff_reply(&app, "339").await;
}

/// An answer stopped by another answer's text stored first, with a caller's text left to it that
/// neither answer read (its own job, run beside, left it to the answer under way): that text
/// still gets an answer, from a job queued for what was left.
async fn a_text_left_to_an_answer_that_stopped_is_still_answered(kind: DatabaseKind) {
    let app = text_left_to_an_answer_that_stopped(kind, true).await;
    assert_eq!(answer_jobs_queued(&app).await, 3, "the left text's job");
}

/// As above, but the left text's own job had not run yet when the answer stopped: it answers
/// the text itself, and no second job is queued for it (the model is not asked twice).
async fn a_text_whose_own_job_waits_is_answered_by_it(kind: DatabaseKind) {
    let app = text_left_to_an_answer_that_stopped(kind, false).await;
    assert_eq!(
        answer_jobs_queued(&app).await,
        2,
        "no job for what was left"
    );
}

/// How many `ai_answer` jobs were queued.
async fn answer_jobs_queued(app: &TestApp) -> usize {
    app.db
        .query_strings(
            "SELECT kind FROM job_outbox WHERE kind = 'ai_answer'",
            &["kind"],
        )
        .await
        .len()
}

/// A caller's text written while the model answers their first, and another answer's text
/// stored before that answer (here directly, as a second answer for the same text would store
/// it): the answer stops, and the caller's second text is answered once. With `beside`, the
/// second text's own job runs while the first answer is under way (and leaves the text to it).
async fn text_left_to_an_answer_that_stopped(kind: DatabaseKind, beside: bool) -> TestApp {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "left-2", "07700 900342").await;
    app.receive_text("SMleft3", "+447700900342", "Can I come Monday?")
        .await;
    let thread = thread_ending(&app, "342").await;
    model.script([
        Reply::Text("We can see you Monday.".to_owned()),
        Reply::Text("Tuesday works too.".to_owned()),
    ]);
    model.hold();
    let caller_then_other_answer = async {
        model.wait_for_requests(1, Duration::from_secs(30)).await;
        app.receive_text("SMleft4", "+447700900342", "And Tuesday?")
            .await;
        if beside {
            app.worker("ai-beside").run_once().await.expect("a pass");
        }
        store_ai_text(&app, thread.id, "Monday at ten is free.").await;
        model.release();
    };
    tokio::join!(drain(&app, 8), caller_then_other_answer);
    let texts = texts_to(&app, "+447700900342");
    assert_eq!(texts.len(), 3, "text-back, other answer, answer: {texts:?}");
    assert!(texts[2].contains("Tuesday works too"), "{texts:?}");
    assert_eq!(
        model.requests().len(),
        2,
        "the stopped answer, then the left text's"
    );
    let steps = steps_of(&app).await;
    let why = "the caller's text was answered meanwhile";
    assert_eq!(
        steps,
        [("stopped", why), ("reply", "answered")].map(owned),
        "{steps:?}"
    );
    app
}

/// Stores `text` as the AI's text in `conversation` and queues its sending.
async fn store_ai_text(app: &TestApp, conversation: uuid::Uuid, text: &str) {
    use ringback_api::service::{clinic, conversations, messages};
    let txn = app.tenant().begin().await.expect("txn");
    let settings = clinic::get(&txn).await.expect("settings");
    let thread = reload_in(&txn, conversation).await;
    let sealed = thread.number_sealed.clone().expect("the number is kept");
    let (secrets, now) = (&app.state.secrets, txn.now());
    conversations::queue_text(
        &txn,
        (secrets, &settings),
        (&thread, sealed),
        (messages::KIND_AI, text),
        now,
    )
    .await
    .expect("stored");
    txn.commit().await.expect("commit");
}

/// An answer whose attempts all fail because the clinic's key cannot be opened: the conversation
/// goes to staff with the reason, and no fallback text can be sealed for the caller.
async fn an_answer_given_up_hands_the_caller_to_staff(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "dead-1", "07700 900340").await;
    model.script([Reply::Text("never".to_owned())]);
    app.receive_text("SMdead1", "+447700900340", "Can I come Monday?")
        .await;
    app.db
        .execute_as_owner("UPDATE clinics SET wrapped_data_key = substr(wrapped_data_key, 1, 8)")
        .await;
    run_with_one_attempt(&app).await;
    assert!(model.requests().is_empty(), "the model was never asked");
    let reason = "the AI could not answer: its attempts failed";
    given_up_to_staff(&app, "340", reason).await;
    let queued = app
        .db
        .query_strings(
            // The hand-off's mail to staff is not a text to the caller.
            "SELECT kind FROM job_outbox WHERE kind NOT IN ('ai_answer', 'hand_off_mail') \
             AND status = 'pending'",
            &["kind"],
        )
        .await;
    assert!(queued.is_empty(), "no text queued: {queued:?}");
}

/// An answer whose attempts all fail with the clinic's key sound (here the database refuses to
/// store the AI's reply): the caller gets the fallback text, as when the model fails, and staff
/// get the conversation.
async fn a_caller_whose_answer_is_given_up_gets_the_fallback_text(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "dead-2", "07700 900341").await;
    model.script([Reply::Text("See you on Monday.".to_owned())]);
    app.receive_text("SMdead2", "+447700900341", "Can I come Monday?")
        .await;
    app.refuse_inserts("ai_steps", "reply").await;
    run_with_one_attempt(&app).await;
    assert_eq!(model.requests().len(), 1, "the model was asked once");
    let reason = "the AI could not answer: its attempts failed";
    given_up_to_staff(&app, "341", reason).await;
    drain(&app, 2).await;
    fell_back_to_staff(&app, "+447700900341", reason).await;
}

/// A caller who sends STOP while the model thinks, whose answer is then given up (the database
/// refuses the step that records why it stopped): the conversation goes to staff and no fallback
/// text is stored for them.
async fn a_caller_who_sent_stop_gets_no_fallback_when_their_answer_is_given_up(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "dead-3", "07700 900343").await;
    model.script([Reply::Text("See you on Monday.".to_owned())]);
    app.receive_text("SMdead3", "+447700900343", "Can I come Monday?")
        .await;
    app.refuse_inserts("ai_steps", "stopped").await;
    model.hold();
    let stop_while_thinking = async {
        model.wait_for_requests(1, Duration::from_secs(30)).await;
        app.receive_text("SMdead4", "+447700900343", "STOP").await;
        model.release();
    };
    tokio::join!(run_with_one_attempt(&app), stop_while_thinking);
    let reason = "the AI could not answer: its attempts failed";
    given_up_to_staff(&app, "343", reason).await;
    let by_ai = app
        .db
        .query_strings("SELECT kind FROM messages WHERE kind = 'ai'", &["kind"])
        .await;
    assert!(by_ai.is_empty(), "no fallback stored: {by_ai:?}");
}

/// The worker whose answer dies with it on its only allowed attempt: the next claim, a lease
/// later, gives the answer up without asking the model: the conversation goes to staff and the
/// caller gets the fallback text.
async fn an_answer_whose_worker_died_goes_to_staff_with_the_fallback(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let app = answer_whose_worker_died(kind, &model, "344").await;
    run_with_one_attempt(&app).await;
    assert!(model.requests().is_empty(), "the model was never asked");
    let reason = "the AI could not answer: its attempts failed";
    given_up_to_staff(&app, "344", reason).await;
    drain(&app, 2).await;
    fell_back_to_staff(&app, "+447700900344", reason).await;
}

/// An answer given up after its worker died whose own records cannot be stored (the database
/// refuses the fallback step): it is still a dead letter, not claimed again for ever, and
/// nothing of its records is kept.
async fn a_given_up_answer_whose_records_fail_is_still_a_dead_letter(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let app = answer_whose_worker_died(kind, &model, "345").await;
    app.refuse_inserts("ai_steps", "fallback").await;
    run_with_one_attempt(&app).await;
    let jobs = answer_jobs(&app).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].0, "dead", "{jobs:?}");
    let thread = thread_ending(&app, "345").await;
    assert_ne!(
        thread.ai_state.as_deref(),
        Some("handed_off"),
        "undone with the step"
    );
    assert!(steps_of(&app).await.is_empty());
    drain(&app, 2).await;
    assert_eq!(
        texts_to(&app, "+447700900345").len(),
        1,
        "the text-back only"
    );
}

/// A clinic with the AI on whose caller (number ending `tail`, in 07700 900xxx) was missed and
/// wrote; the answer's worker, allowed one attempt, claimed it and died; a lease has passed.
async fn answer_whose_worker_died(
    kind: DatabaseKind,
    model: &FakeAnthropic,
    tail: &str,
) -> TestApp {
    let mut app = ai_clinic(kind, model, None).await;
    miss_call(
        &mut app,
        &format!("died-{tail}"),
        &format!("07700 900{tail}"),
    )
    .await;
    let from = format!("+447700900{tail}");
    app.receive_text(&format!("SMdied{tail}"), &from, "Can I come Monday?")
        .await;
    let claimed = one_attempt_worker(&app, "ai-dies")
        .claim()
        .await
        .expect("claim");
    assert_eq!(
        claimed.len(),
        1,
        "the answer is claimed, then its worker dies"
    );
    let lease = WorkerSettings::default().lease;
    let stale = chrono::Duration::from_std(lease).expect("lease") + chrono::Duration::seconds(1);
    app.db.clock.advance(stale);
    app
}

/// A worker that gives a job one attempt only.
fn one_attempt_worker(app: &TestApp, name: &str) -> Worker {
    let settings = WorkerSettings {
        max_attempts: 1,
        ..crate::common::app::quick_retries()
    };
    let provider = app.state.sms.clone();
    assert!(provider.is_some(), "the fake Twilio");
    Worker::new(app.state.clone(), provider, settings, name.to_owned())
}

/// Runs one pass of a worker that gives a job one attempt only.
async fn run_with_one_attempt(app: &TestApp) {
    let worker = one_attempt_worker(app, "ai-dead");
    worker.run_once().await.expect("a pass");
}

/// Checks that the caller's text's answer is a dead letter, that the conversation with the
/// caller whose number ends `tail` went to staff for `reason` with no answer marked under way,
/// and that the AI's one step says so.
async fn given_up_to_staff(app: &TestApp, tail: &str, reason: &str) {
    let jobs = answer_jobs(app).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0].0, "dead", "{jobs:?}");
    let thread = thread_ending(app, tail).await;
    assert_eq!(thread.ai_state.as_deref(), Some("handed_off"));
    assert_eq!(thread.ai_stopped_reason.as_deref(), Some(reason));
    assert_eq!(thread.ai_answering_for, None, "the mark is cleared");
    assert_eq!(steps_of(app).await, [owned(("fallback", reason))]);
}

/// A caller who writes again after the model booked, before its answer went out: the booking
/// stands and the model, asked again with the new text, knows it made it.
async fn a_booking_made_before_the_caller_writes_again_is_kept_and_known(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "booked-1", "07700 900336").await;
    model.script([
        monday_booking(&app),
        Reply::Text("You are booked for Monday at nine.".to_owned()),
        Reply::Text("You are booked for Monday at nine; Tuesday is full.".to_owned()),
    ]);
    let texts = ["Can I come Monday?", "Or Tuesday?"];
    let answer =
        writes_again_while_the_model_thinks(&app, &model, ("+447700900336", 2), texts).await;
    assert_eq!(bookings(&app).await, ["ai"], "booked once");
    assert!(answer.contains("Tuesday is full"), "{answer}");
    let requests = model.requests();
    assert_eq!(requests.len(), 3);
    let last_turn = &requests[2]["messages"][2]["content"];
    assert_eq!(last_turn[0]["type"], "tool_result", "{last_turn}");
    assert_ne!(
        last_turn[0]["is_error"], true,
        "the booking's result: {last_turn}"
    );
    assert_eq!(last_turn[1]["text"], "Or Tuesday?", "{last_turn}");
    let actions: Vec<String> = steps_of(&app)
        .await
        .into_iter()
        .map(|step| step.0)
        .collect();
    assert_eq!(actions, ["book_appointment", "caller_wrote", "reply"]);
}

/// A caller who writes again after the model asked for a tool and before it ran: the tool does
/// not run, and the model is asked again with the new text.
async fn a_tool_asked_for_before_the_caller_writes_again_does_not_run(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "unrun-1", "07700 900337").await;
    model.script([
        monday_booking(&app),
        Reply::Text("Tuesday then: shall I book nine o'clock?".to_owned()),
    ]);
    let texts = ["Can I come Monday?", "Actually, Tuesday is better."];
    let answer =
        writes_again_while_the_model_thinks(&app, &model, ("+447700900337", 1), texts).await;
    assert!(bookings(&app).await.is_empty(), "the booking did not run");
    assert!(answer.contains("Tuesday then"), "{answer}");
    let requests = model.requests();
    assert_eq!(requests.len(), 2);
    let last_turn = &requests[1]["messages"][2]["content"];
    assert_eq!(last_turn[0]["type"], "tool_result", "{last_turn}");
    assert_eq!(last_turn[0]["is_error"], true, "{last_turn}");
    assert_eq!(last_turn[1]["text"], "Actually, Tuesday is better.");
    let wrote = "the caller wrote again before book_appointment ran: asked again";
    asked_again_then_answered(&app, wrote).await;
}

/// A caller's text stamped before an answer that was being stored as it came (the webhook stamps
/// a text when it arrives, the answer when it is stored) is still answered, after that answer: the
/// answer recorded which text it answered, whatever the order of the stamps.
async fn a_text_stamped_before_an_answer_it_came_during_is_still_answered(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "during-1", "07700 900338").await;
    model.script([
        Reply::Text("We can see you Monday.".to_owned()),
        Reply::Text("Tuesday is free too.".to_owned()),
    ]);
    let clock = app.db.clock.clone();
    let at = |seconds: i64| clock.set(clock.now() + chrono::Duration::seconds(seconds));
    at(10);
    app.receive_text("SMduring1", "+447700900338", "Can I come Monday?")
        .await;
    at(10);
    drain(&app, 4).await;
    // Stamped five seconds before the answer, stored after it.
    at(-5);
    app.receive_text("SMduring2", "+447700900338", "Or Tuesday?")
        .await;
    at(15);
    drain(&app, 4).await;
    let texts = texts_to(&app, "+447700900338");
    assert_eq!(texts.len(), 3, "the text-back and two answers: {texts:?}");
    assert!(texts[2].contains("Tuesday is free"), "{texts:?}");
    let requests = model.requests();
    assert_eq!(requests.len(), 2);
    let turns = &requests[1]["messages"];
    assert_eq!(
        turns[0]["content"][0]["text"], "Can I come Monday?",
        "{turns}"
    );
    assert_eq!(turns[1]["role"], "assistant", "{turns}");
    assert_eq!(turns[2]["content"][0]["text"], "Or Tuesday?", "{turns}");
}

/// Two caller texts stored before any answer is prepared: the first job's answer reads both; the
/// second, prepared beside it (one claim) or after it, leaves its text to it or finds it answered;
/// the caller gets one answer.
async fn two_texts_before_the_worker_runs_get_one_answer(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "twice-1", "07700 900335").await;
    model.script([
        Reply::Text("Monday or Tuesday: both are free.".to_owned()),
        Reply::Text("Both days are free.".to_owned()),
    ]);
    app.receive_text("SMtwice1", "+447700900335", "Can I come Monday?")
        .await;
    app.receive_text("SMtwice2", "+447700900335", "Or Tuesday?")
        .await;
    drain(&app, 6).await;
    let texts = texts_to(&app, "+447700900335");
    assert_eq!(texts.len(), 2, "the text-back and one answer: {texts:?}");
    assert!(texts[1].contains("Monday or Tuesday"), "{texts:?}");
    let requests = model.requests();
    assert_eq!(requests.len(), 1, "one answer asked the model");
    let turn = &requests[0]["messages"][0]["content"][0]["text"];
    assert_eq!(turn, "Can I come Monday?\nOr Tuesday?");
    let jobs = answer_jobs(&app).await;
    let left_to_the_other = [
        "an answer under way takes this text in",
        "already answered",
        "the caller's text was answered meanwhile",
    ];
    assert!(
        jobs.len() == 2
            && jobs[0].0 == "cancelled"
            && left_to_the_other.contains(&jobs[0].1.as_str())
            && jobs[1] == owned(("done", "")),
        "{jobs:?}"
    );
}

async fn nothing_happens_for_a_clinic_without_the_ai(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    let off = app
        .owner
        .run(UPDATE, json!({ "input": { "enabled": false } }))
        .await;
    assert!(off["errors"].is_null(), "{off}");
    miss_call(&mut app, "off-1", "07700 900322").await;
    model.script([Reply::Text("never".to_owned())]);
    app.receive_text("SMoff001", "+447700900322", "Hello, can I book?")
        .await;
    drain(&app, 4).await;
    assert!(model.requests().is_empty(), "the model was never asked");
    let texts = texts_to(&app, "+447700900322");
    assert_eq!(texts.len(), 1, "only the text-back: {texts:?}");
    assert!(thread_ending(&app, "322").await.ai_state.is_none());
}

async fn stop_wins_and_the_loop_stops_at_its_bound(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    let monday = monday_ahead(&app);

    // A caller's question is queued for the AI, then the caller sends STOP: nothing is asked.
    miss_call(&mut app, "stop-1", "07700 900323").await;
    app.receive_text("SMstop01", "+447700900323", "How much is a service?")
        .await;
    app.receive_text("SMstop02", "+447700900323", "STOP").await;
    drain(&app, 4).await;
    assert!(
        model.requests().is_empty(),
        "STOP won before the model was asked"
    );
    assert_eq!(
        texts_to(&app, "+447700900323").len(),
        1,
        "the text-back only"
    );

    // A model that only ever asks for tools is stopped at the bound and the caller gets the
    // fallback: the text-back wording with the booking link.
    let linked = app
        .owner
        .run(
            "mutation { updatePhoneSettings(input: { bookingLink: \"https://book.example.test/clinic\" }) { bookingLink } }",
            json!({}),
        )
        .await;
    assert!(linked["errors"].is_null(), "{linked}");
    miss_call(&mut app, "bound-1", "07700 900324").await;
    model
        .script((0..8).map(|_| Reply::tool("find_slots", json!({ "from": monday, "to": monday }))));
    app.receive_text("SMbound01", "+447700900324", "Any time Monday?")
        .await;
    drain(&app, 4).await;
    assert_eq!(model.requests().len(), 6, "six rounds, no more");
    let texts = texts_to(&app, "+447700900324");
    let fallback = texts.last().expect("the fallback");
    assert!(
        fallback.contains("https://book.example.test/clinic"),
        "{texts:?}"
    );
    assert!(fallback.to_lowercase().contains("automated"), "{fallback}");
    let thread = thread_ending(&app, "324").await;
    assert_eq!(thread.ai_state.as_deref(), Some("handed_off"));
    assert!(
        thread
            .ai_stopped_reason
            .as_deref()
            .is_some_and(|r| r.contains("more than 6 steps")),
        "{:?}",
        thread.ai_stopped_reason
    );
    let listed = app
        .owner
        .run(
            "{ notifications(unreadOnly: true) { unread items { id kind text conversationId } } }",
            json!({}),
        )
        .await;
    let notes = &listed["data"]["notifications"];
    assert_eq!(notes["unread"], 1, "{listed}");
    assert_eq!(notes["items"][0]["kind"], "ai_hand_off");
    assert_eq!(notes["items"][0]["conversationId"], thread.id.to_string());
    let text = notes["items"][0]["text"].as_str().expect("text");
    assert!(
        text.contains("more than 6 steps") && !text.contains("900324"),
        "{text}"
    );
    let marked = app
        .owner
        .run("mutation { markNotificationsRead }", json!({}))
        .await;
    assert_eq!(marked["data"]["markNotificationsRead"], 1, "{marked}");
    let after = app
        .owner
        .run("{ notifications { unread items { readAt } } }", json!({}))
        .await;
    assert_eq!(after["data"]["notifications"]["unread"], 0);
    assert!(after["data"]["notifications"]["items"][0]["readAt"].is_string());
}

async fn a_crash_after_the_answer_sends_once_and_a_spent_budget_falls_back(kind: DatabaseKind) {
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, QueryFilter};
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "crash-1", "07700 900325").await;
    model.script([Reply::Text("We can come Monday at nine.".to_owned())]);
    app.receive_text("SMcrash01", "+447700900325", "Can you come Monday?")
        .await;
    drain(&app, 4).await;
    assert_eq!(model.requests().len(), 1);

    // The worker died after the answer was stored and queued but before the job was marked
    // done: the job runs again when its lease ends.
    let txn = app.tenant().begin().await.expect("txn");
    let reset = txn
        .update_many::<ringback_entity::job_outbox::Entity>()
        .col_expr(
            ringback_entity::job_outbox::Column::Status,
            Expr::value("pending"),
        )
        .col_expr(
            ringback_entity::job_outbox::Column::RunAt,
            Expr::value(txn.now()),
        )
        .filter(ringback_entity::job_outbox::Column::Kind.eq("ai_answer"))
        .exec(txn.conn())
        .await
        .expect("reset");
    assert_eq!(reset.rows_affected, 1);
    txn.commit().await.expect("commit");
    model.script([Reply::Text("We can come Monday at nine.".to_owned())]);
    drain(&app, 4).await;
    let answers: Vec<String> = texts_to(&app, "+447700900325")
        .into_iter()
        .filter(|text| text.contains("Monday at nine"))
        .collect();
    assert_eq!(answers.len(), 1, "sent once: {answers:?}");
    assert!(model.requests().len() <= 2);

    // The month's budget is spent: the next text gets the fallback without asking the model,
    // and the caller's text is kept.
    let spent = app
        .owner
        .run(UPDATE, json!({ "input": { "monthlyTokenBudget": 10000 } }))
        .await;
    assert!(spent["errors"].is_null(), "{spent}");
    let thread = thread_ending(&app, "325").await;
    earlier_answers(&app, thread.id, &[(10_000, 0)]).await;
    // The inbox tells staff before the caller's next text that the AI will not answer it.
    let shown = app
        .owner
        .run(
            "query($id: ID!) { conversation(id: $id) { aiState aiPausedReason } }",
            json!({ "id": thread.id.to_string() }),
        )
        .await;
    assert_eq!(
        shown["data"]["conversation"]["aiState"], "ACTIVE",
        "{shown}"
    );
    assert!(
        shown["data"]["conversation"]["aiPausedReason"]
            .as_str()
            .is_some_and(|said| said.contains("token budget for the month is spent")),
        "{shown}"
    );
    let asked = model.requests().len();
    app.receive_text("SMcrash02", "+447700900325", "And a quote please?")
        .await;
    drain(&app, 4).await;
    assert_eq!(model.requests().len(), asked, "the model was not asked");
    let thread = thread_ending(&app, "325").await;
    assert_eq!(thread.ai_state.as_deref(), Some("handed_off"));
    assert!(
        thread
            .ai_stopped_reason
            .as_deref()
            .is_some_and(|r| r.contains("budget")),
        "{:?}",
        thread.ai_stopped_reason
    );
    let kept = app
        .owner
        .run(
            "query($id: ID!) { conversation(id: $id) { messages { kind body } } }",
            json!({ "id": thread.id.to_string() }),
        )
        .await;
    let bodies = kept["data"]["conversation"]["messages"].to_string();
    assert!(bodies.contains("And a quote please?"), "{kept}");
    let used = app
        .owner
        .run("{ aiReceptionist { tokensUsedThisMonth } }", json!({}))
        .await;
    assert!(
        used["data"]["aiReceptionist"]["tokensUsedThisMonth"]
            .as_i64()
            .is_some_and(|t| t >= 10_000),
        "{used}"
    );
}

/// The next Monday at least two days ahead, 10:00 UTC (inside the default opening hours in
/// London, summer or winter).
fn monday_morning(app: &TestApp) -> chrono::DateTime<chrono::Utc> {
    let day = chrono::NaiveDate::parse_from_str(&monday_ahead(app), "%Y-%m-%d").expect("day");
    day.and_hms_opt(10, 0, 0).expect("time").and_utc()
}

async fn a_quiet_caller_gets_one_follow_up_in_opening_hours(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, Some(60)).await;
    let monday = monday_morning(&app);
    app.db.clock.set(monday);
    miss_call(&mut app, "quiet-1", "07700 900326").await;
    miss_call(&mut app, "quiet-2", "07700 900327").await;
    app.receive_text("SMquiet01", "+447700900327", "STOP").await;
    assert_eq!(texts_to(&app, "+447700900326").len(), 1, "the text-back");

    app.db.clock.advance(chrono::Duration::minutes(30));
    drain(&app, 3).await;
    assert_eq!(texts_to(&app, "+447700900326").len(), 1, "not yet");

    app.db.clock.advance(chrono::Duration::minutes(31));
    drain(&app, 3).await;
    let texts = texts_to(&app, "+447700900326");
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts[1].contains("Just checking in"), "{texts:?}");
    assert!(texts[1].to_lowercase().contains("automated"));
    assert_eq!(
        texts_to(&app, "+447700900327").len(),
        1,
        "no follow-up after STOP"
    );

    app.db.clock.advance(chrono::Duration::days(1));
    drain(&app, 3).await;
    assert_eq!(
        texts_to(&app, "+447700900326").len(),
        2,
        "one follow-up only"
    );
    model
        .requests()
        .is_empty()
        .then_some(())
        .expect("no model needed");

    // A text-back on Friday evening is followed up when the clinic opens on Monday.
    app.db
        .clock
        .set(monday + chrono::Duration::days(4) + chrono::Duration::hours(7));
    miss_call(&mut app, "quiet-3", "07700 900328").await;
    app.db.clock.advance(chrono::Duration::hours(2));
    drain(&app, 3).await;
    assert_eq!(
        texts_to(&app, "+447700900328").len(),
        1,
        "closed for the weekend"
    );
    app.db.clock.set(monday + chrono::Duration::days(7));
    drain(&app, 3).await;
    assert_eq!(texts_to(&app, "+447700900328").len(), 2, "Monday morning");
    app.sign_in_again().await;
    let figures = app
        .owner
        .run(
            "query($f: NaiveDate!, $t: NaiveDate!) { aiFigures(from: $f, to: $t) { followUps } }",
            json!({ "f": monday.date_naive(), "t": (monday + chrono::Duration::days(7)).date_naive() }),
        )
        .await;
    assert_eq!(figures["data"]["aiFigures"]["followUps"], 2, "{figures}");
}

/// A follow-up the queue reaches only after the clinic closed (the queue ran late, or the clinic
/// changed its hours since) waits for the next opening.
async fn a_follow_up_reached_after_closing_waits_for_the_opening(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, Some(60)).await;
    let monday = monday_morning(&app);
    app.db.clock.set(monday + chrono::Duration::hours(5));
    miss_call(&mut app, "late-1", "07700 900329").await;
    app.db.clock.set(monday + chrono::Duration::hours(11));
    drain(&app, 3).await;
    assert_eq!(texts_to(&app, "+447700900329").len(), 1, "closed at 21:00");
    let waiting = app
        .db
        .query_strings(
            "SELECT status, attempts || '' AS attempts, last_error FROM job_outbox \
             WHERE kind = 'ai_follow_up'",
            &["status", "attempts", "last_error"],
        )
        .await;
    assert_eq!(
        waiting,
        [["pending", "1", "the clinic is closed now"]],
        "postponed, not cancelled"
    );
    app.db
        .clock
        .set(monday + chrono::Duration::days(1) + chrono::Duration::minutes(1));
    drain(&app, 3).await;
    let texts = texts_to(&app, "+447700900329");
    assert_eq!(texts.len(), 2, "Tuesday morning: {texts:?}");
    assert!(texts[1].contains("Just checking in"), "{texts:?}");

    // One the queue reaches more than two weeks late is not sent at all, open as the clinic is.
    let wednesday = monday + chrono::Duration::days(2);
    app.db.clock.set(wednesday + chrono::Duration::hours(5));
    miss_call(&mut app, "late-2", "07700 900330").await;
    app.db.clock.set(wednesday + chrono::Duration::days(15));
    drain(&app, 3).await;
    assert_eq!(
        texts_to(&app, "+447700900330").len(),
        1,
        "the text-back only"
    );
    let given_up = app
        .db
        .query_strings(
            "SELECT status, last_error FROM job_outbox WHERE kind = 'ai_follow_up' \
             AND status <> 'done'",
            &["status", "last_error"],
        )
        .await;
    assert_eq!(
        given_up,
        [["cancelled", "too long after the text it follows"]]
    );
}

/// A caller the AI booked is not asked "would you still like to book?" by the follow-up of the
/// question that ended its confirmation, nor is a caller who rang again and got through; a caller
/// booked by an answer whose model then failed is told of the booking, not sent the booking link.
async fn a_booked_caller_is_told_so_and_not_followed_up(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, Some(60)).await;
    app.db.clock.set(monday_morning(&app));
    let monday = monday_ahead(&app);
    miss_call(&mut app, "booked-1", "07700 900341").await;
    miss_call(&mut app, "reached-1", "07700 900342").await;
    miss_call(&mut app, "failed-1", "07700 900343").await;
    model.script([
        Reply::tool(
            "book_appointment",
            json!({ "slot": format!("{monday} 09:00"), "kind": "Boiler service" }),
        ),
        Reply::Text(
            "You are booked for Monday at 09:00. Anything else I can help with?".to_owned(),
        ),
    ]);
    app.receive_text("SMbooked01", "+447700900341", "Monday 9am please")
        .await;
    drain(&app, 4).await;
    assert_eq!(
        texts_to(&app, "+447700900341").len(),
        2,
        "text-back, answer"
    );
    app.db.clock.advance(chrono::Duration::minutes(20));
    record_call(&mut app, ("reached-2", "07700 900342"), "ANSWERED", 0).await;

    model.script([
        Reply::tool(
            "book_appointment",
            json!({ "slot": format!("{monday} 11:00"), "kind": "Boiler service" }),
        ),
        Reply::Status(529),
        Reply::Status(529),
        Reply::Status(529),
    ]);
    app.receive_text("SMfailed01", "+447700900343", "Monday 11 works")
        .await;
    drain(&app, 4).await;
    let told = texts_to(&app, "+447700900343");
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(
        told[1].contains("you are booked in for Monday") && told[1].contains("at 11:00"),
        "the booking, not the text-back's wording again: {told:?}"
    );
    assert_eq!(
        thread_ending(&app, "343").await.ai_state.as_deref(),
        Some("handed_off")
    );

    app.db.clock.advance(chrono::Duration::minutes(45));
    drain(&app, 3).await;
    let booked = texts_to(&app, "+447700900341");
    assert_eq!(
        booked.len(),
        2,
        "no follow-up after the booking: {booked:?}"
    );
    let reached = texts_to(&app, "+447700900342");
    assert_eq!(
        reached.len(),
        1,
        "no follow-up after a call got through: {reached:?}"
    );
}

/// The AI answers one conversation at most 20 times in 24 hours: a caller's auto-responder
/// answering every answer (or a caller who never stops) goes to staff with the fallback, without
/// the model being asked.
async fn a_conversation_gets_at_most_twenty_answers_a_day(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "loop-1", "07700 900344").await;
    let thread = thread_ending(&app, "344").await;
    let answers: Vec<(i64, i64)> = [(10, 25)].into_iter().chain([(10, 1); 19]).collect();
    earlier_answers(&app, thread.id, &answers).await;
    assert_eq!(
        paused_reason(&mut app, thread.id).await,
        None,
        "19 in the day"
    );
    model.script([Reply::Text("Happy to help.".to_owned())]);
    app.receive_text("SMloop01", "+447700900344", "I'm driving, I'll reply later")
        .await;
    drain(&app, 4).await;
    assert_eq!(model.requests().len(), 1, "19 answers in the day: answered");
    // The inbox tells staff before the caller's next text that the AI will not answer it.
    let said = paused_reason(&mut app, thread.id).await;
    assert!(
        said.as_deref()
            .is_some_and(|said| said.contains("20 times in the last day")),
        "{said:?}"
    );
    app.receive_text("SMloop02", "+447700900344", "I'm driving, I'll reply later")
        .await;
    drain(&app, 4).await;
    assert_eq!(model.requests().len(), 1, "the 21st is not asked for");
    let thread = thread_ending(&app, "344").await;
    assert_eq!(thread.ai_state.as_deref(), Some("handed_off"));
    assert!(
        thread
            .ai_stopped_reason
            .as_deref()
            .is_some_and(|reason| reason.contains("20 times in a day")),
        "{:?}",
        thread.ai_stopped_reason
    );
}

/// The month's budget is asked again before each of an answer's rounds: one whose first round
/// spent the rest of it falls back instead of asking the model again.
async fn a_budget_spent_during_an_answer_stops_it(kind: DatabaseKind) {
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let mut app = ai_clinic(kind, &model, None).await;
    miss_call(&mut app, "costly-1", "07700 900346").await;
    let budget = app
        .owner
        .run(UPDATE, json!({ "input": { "monthlyTokenBudget": 10000 } }))
        .await;
    assert!(budget["errors"].is_null(), "{budget}");
    let thread = thread_ending(&app, "346").await;
    earlier_answers(&app, thread.id, &[(9_990, 0)]).await;
    let monday = monday_ahead(&app);
    model.script([
        boiler_slots_on(&monday),
        Reply::Text("Monday at nine is free.".to_owned()),
    ]);
    app.receive_text("SMcostly01", "+447700900346", "Can you come Monday?")
        .await;
    drain(&app, 4).await;
    assert_eq!(model.requests().len(), 1, "not asked a second time");
    let thread = thread_ending(&app, "346").await;
    assert_eq!(thread.ai_state.as_deref(), Some("handed_off"));
    assert!(
        thread
            .ai_stopped_reason
            .as_deref()
            .is_some_and(|reason| reason.contains("budget")),
        "{:?}",
        thread.ai_stopped_reason
    );
    let texts = texts_to(&app, "+447700900346");
    assert_eq!(texts.len(), 2, "the text-back and the fallback: {texts:?}");
}

/// Stores AI answers in conversation `thread` as if given earlier: each (tokens, hours ago).
async fn earlier_answers(app: &TestApp, thread: uuid::Uuid, answers: &[(i64, i64)]) {
    use sea_orm::ActiveModelTrait;
    let txn = app.tenant().begin().await.expect("txn");
    for &(tokens, hours_ago) in answers {
        ringback_entity::ai_step::ActiveModel {
            clinic_id: sea_orm::Set(app.clinic_id),
            id: sea_orm::Set(uuid::Uuid::now_v7()),
            conversation_id: sea_orm::Set(thread),
            answered_message_id: sea_orm::Set(uuid::Uuid::now_v7()),
            action: sea_orm::Set("reply".to_owned()),
            outcome: sea_orm::Set("answered".to_owned()),
            tokens: sea_orm::Set(tokens),
            appointment_id: sea_orm::Set(None),
            created_at: sea_orm::Set(txn.now() - chrono::Duration::hours(hours_ago)),
        }
        .insert(txn.conn())
        .await
        .expect("an earlier answer");
    }
    txn.commit().await.expect("commit");
}

/// What the inbox says of why the AI will not answer the next text of conversation `id`.
async fn paused_reason(app: &mut TestApp, id: uuid::Uuid) -> Option<String> {
    let shown = app
        .owner
        .run(
            "query($id: ID!) { conversation(id: $id) { aiPausedReason } }",
            json!({ "id": id.to_string() }),
        )
        .await;
    let reason = &shown["data"]["conversation"]["aiPausedReason"];
    assert!(reason.is_null() || reason.is_string(), "{shown}");
    reason.as_str().map(str::to_owned)
}

/// A hand-off is e-mailed to the member who was given the caller: the mail links the
/// conversation and says nothing of the caller (neither number nor words), and is audited; one
/// whose conversation was taken over or answered before it went is cancelled; a member who
/// turned these mails off gets none; a clinic queues at most `MAX_A_CLINIC_AN_HOUR` an hour.
async fn a_hand_off_is_mailed_to_the_member_given_the_caller(kind: DatabaseKind) {
    use ringback_domain::jobs::hand_off_mail::{self, HandOffMail, MAX_A_CLINIC_AN_HOUR};
    let smtp = FakeSmtp::start().await.expect("fake SMTP");
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let builder = ai_clinic_builder(kind, &model, ANSWER_SECONDS).mailing_through(smtp.url());
    let mut app = switch_the_ai_on(builder.build().await, None).await;
    // The receptionist is the front desk: callers nobody holds are handed to them.
    let joiner = app.browser();
    let mut desk = join(&mut app.owner, joiner, "desk@clinic.test", "RECEPTIONIST").await;
    let on = desk
        .run("{ myHandOffMails { on unavailableReason } }", json!({}))
        .await;
    assert_eq!(
        on["data"]["myHandOffMails"],
        json!({ "on": true, "unavailableReason": null }),
        "{on}"
    );

    let leak = || {
        [
            Reply::tool(
                "hand_off",
                json!({ "reason": "Leak under the sink, call 07700 900331" }),
            ),
            Reply::Text("Someone from the team will text you shortly.".to_owned()),
        ]
    };
    miss_call(&mut app, "mail-1", "07700 900331").await;
    model.script(leak());
    app.receive_text("SMmail01", "+447700900331", "Water everywhere, please help")
        .await;
    drain(&app, 4).await;
    let thread = thread_ending(&app, "331").await;
    assert_eq!(thread.ai_state.as_deref(), Some("handed_off"));
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].to, ["desk@clinic.test"]);
    let body = mails[0].body();
    assert!(body.contains(&format!("/inbox/{}", thread.id)), "{body}");
    for about_the_caller in ["900331", "Leak", "sink", "Water"] {
        assert!(
            !body.contains(about_the_caller),
            "{about_the_caller}: {body}"
        );
        assert!(
            !mails[0].data.contains(about_the_caller),
            "{about_the_caller}"
        );
    }
    let audited = app.audit_actions().await;
    assert!(
        audited
            .iter()
            .any(|(action, detail)| action == "ai.hand_off_mailed"
                && detail.contains(&thread.id.to_string())),
        "{audited:?}"
    );

    // Taken over before its mail went: the mail is cancelled.
    miss_call(&mut app, "mail-3", "07700 900333").await;
    model.script(leak());
    app.receive_text("SMmail03", "+447700900333", "Still leaking")
        .await;
    let answered = run_lane(&app, Lane::Only(&["ai_answer"]), "answers-only").await;
    assert_eq!(answered, ["ai_answer"]);
    let third = thread_ending(&app, "333").await;
    let taken = app
        .owner
        .run(
            "mutation($id: ID!) { takeOverConversation(id: $id) { aiState } }",
            json!({ "id": third.id.to_string() }),
        )
        .await;
    assert!(taken["errors"].is_null(), "{taken}");
    drain(&app, 4).await;
    assert_eq!(smtp.mails().len(), 1, "no mail once someone has the caller");
    // Answered by the front desk before its mail went: the mail is cancelled.
    miss_call(&mut app, "mail-4", "07700 900334").await;
    model.script(leak());
    app.receive_text("SMmail04", "+447700900334", "Leaking again")
        .await;
    let answered = run_lane(&app, Lane::Only(&["ai_answer"]), "answers-only").await;
    assert_eq!(answered, ["ai_answer"]);
    let fourth = thread_ending(&app, "334").await;
    let replied = desk
        .run(
            "mutation($id: ID!) { replyToConversation(id: $id, body: \"On our way\") { id } }",
            json!({ "id": fourth.id.to_string() }),
        )
        .await;
    assert!(replied["errors"].is_null(), "{replied}");
    drain(&app, 4).await;
    assert_eq!(
        smtp.mails().len(),
        1,
        "no mail once someone answered the caller"
    );
    let statuses = "SELECT status FROM job_outbox WHERE kind = 'hand_off_mail' ORDER BY created_at";
    assert_eq!(
        app.db.query_strings(statuses, &["status"]).await,
        [["done"], ["cancelled"], ["cancelled"]]
    );

    let off = desk
        .run("mutation { setMyHandOffMails(on: false) }", json!({}))
        .await;
    assert_eq!(off["data"]["setMyHandOffMails"], false, "{off}");
    miss_call(&mut app, "mail-2", "07700 900332").await;
    model.script(leak());
    app.receive_text("SMmail02", "+447700900332", "Water everywhere here too")
        .await;
    drain(&app, 4).await;
    assert_eq!(
        thread_ending(&app, "332").await.ai_state.as_deref(),
        Some("handed_off")
    );
    assert_eq!(smtp.mails().len(), 1, "no mail once turned off");

    let back_on = desk
        .run("mutation { setMyHandOffMails(on: true) }", json!({}))
        .await;
    assert_eq!(back_on["data"]["setMyHandOffMails"], true, "{back_on}");
    let txn = app.tenant().begin().await.expect("txn");
    let again = HandOffMail {
        conversation: thread.id,
        member: thread.assigned_to.expect("the front desk has the caller"),
    };
    let mailed_again = hand_off_mail::queue(&txn, again).await.expect("queue");
    assert!(
        !mailed_again,
        "a conversation handed off again mails nobody again"
    );
    let mut queued = 3; // the first, the taken-over and the answered hand-offs', within the hour
    for _ in 0..MAX_A_CLINIC_AN_HOUR {
        // A conversation of its own each: one mail a conversation and member.
        let mail = HandOffMail {
            conversation: uuid::Uuid::now_v7(),
            member: thread.assigned_to.expect("the front desk has the caller"),
        };
        if hand_off_mail::queue(&txn, mail).await.expect("queue") {
            queued += 1;
        }
    }
    txn.commit().await.expect("commit");
    assert_eq!(queued, MAX_A_CLINIC_AN_HOUR);
    app.db.finish().await;
}

/// A caller (`number`, national and E.164) who missed the clinic asks the AI for a person: the
/// AI hands them to the front desk and the hand-off's mail is queued.
async fn handed_off(
    app: &mut TestApp,
    model: &FakeAnthropic,
    (sid, number, e164): (&str, &str, &str),
) {
    miss_call(app, sid, number).await;
    model.script([
        Reply::tool("hand_off", json!({ "reason": "Wants a person" })),
        Reply::Text("Someone from the team will text you shortly.".to_owned()),
    ]);
    app.receive_text(&format!("SM{sid}"), e164, "Can I talk to someone?")
        .await;
    let answered = run_lane(app, Lane::Only(&["ai_answer"]), "answers-only").await;
    assert_eq!(answered, ["ai_answer"]);
}

/// A worker of hand-off mails allowing `attempts` attempts; the lease of its claims.
fn mail_worker(app: &TestApp, attempts: i32) -> (Worker, chrono::Duration) {
    let settings = WorkerSettings {
        lane: Lane::Only(&["hand_off_mail"]),
        max_attempts: attempts,
        ..crate::common::app::quick_retries()
    };
    let lease = chrono::Duration::from_std(settings.lease).expect("lease");
    let name = format!("mails-{attempts}");
    (Worker::new(app.state.clone(), None, settings, name), lease)
}

/// Claims the one hand-off mail due and attempts it without storing the outcome (its worker
/// stopped after the SMTP server took it), then lets the lease run out and claims it again.
async fn mailed_and_never_settled(app: &TestApp, (worker, lease): &(Worker, chrono::Duration)) {
    let claimed = worker.claim().await.expect("a claim");
    assert_eq!(claimed.len(), 1, "the hand-off's mail");
    let _unsettled = worker.perform(claimed[0]).await.expect("attempted");
    app.db.clock.advance(*lease + chrono::Duration::seconds(1));
    let again = worker.claim().await.expect("a claim");
    assert_eq!(again.len(), 1, "claimed again once the lease ran out");
    worker.process(again[0]).await.expect("processed");
}

/// A hand-off mail whose attempt handed it to the SMTP server but never settled (its worker
/// stopped) is not sent again when its claim runs out: the SMTP server keeps no list to ask, so
/// the claim after the lease cancels it, and the member gets one mail. One that became a dead
/// letter so (its last attempt never settled) is sent again when an admin retries it: the
/// person asks for it.
async fn a_hand_off_mail_that_may_have_gone_is_not_sent_again(kind: DatabaseKind) {
    use ringback_domain::jobs::hand_off_mail::MAY_HAVE_GONE;
    let smtp = FakeSmtp::start().await.expect("fake SMTP");
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let builder = ai_clinic_builder(kind, &model, ANSWER_SECONDS).mailing_through(smtp.url());
    let mut app = switch_the_ai_on(builder.build().await, None).await;
    let joiner = app.browser();
    join(&mut app.owner, joiner, "desk@clinic.test", "RECEPTIONIST").await;
    let stored = "SELECT status, COALESCE(last_error, '') AS last_error FROM job_outbox \
                  WHERE kind = 'hand_off_mail' ORDER BY created_at";

    handed_off(&mut app, &model, ("mail5", "07700 900335", "+447700900335")).await;
    mailed_and_never_settled(&app, &mail_worker(&app, 8)).await;
    assert_eq!(smtp.mails().len(), 1, "the member got one mail");
    assert_eq!(
        app.db
            .query_strings(stored, &["status", "last_error"])
            .await,
        [["cancelled", MAY_HAVE_GONE]]
    );

    handed_off(&mut app, &model, ("mail6", "07700 900336", "+447700900336")).await;
    let last_chance = mail_worker(&app, 1);
    mailed_and_never_settled(&app, &last_chance).await;
    assert_eq!(smtp.mails().len(), 2);
    let dead = app.owner.run("{ deadLetters { id } }", json!({})).await;
    let id = dead["data"]["deadLetters"][0]["id"].clone();
    assert!(id.is_string(), "{dead}");
    let retried = app
        .owner
        .run(
            "mutation($id: ID!) { retryDeadLetter(id: $id) }",
            json!({ "id": id }),
        )
        .await;
    assert!(retried["errors"].is_null(), "{retried}");
    assert_eq!(last_chance.0.run_once().await.expect("a pass"), 1);
    assert_eq!(smtp.mails().len(), 3, "sent again, as the admin asked");
    let statuses = app
        .db
        .query_strings(stored, &["status", "last_error"])
        .await;
    assert_eq!(statuses[1][0], "done", "{statuses:?}");
    app.db.finish().await;
}

on_both_databases!(
    answers_too_long_or_cut_off_go_to_staff,
    a_made_up_tool_is_refused_and_the_answer_still_goes,
    a_fallback_after_the_models_hand_off_keeps_its_reason,
    a_clinic_billing_stopped_gets_no_ai_answers,
    an_ai_text_waiting_when_billing_stops_is_not_sent,
    a_hand_off_mail_that_may_have_gone_is_not_sent_again,
    an_ai_text_waiting_when_staff_take_over_is_not_sent,
    a_booked_caller_is_told_so_and_not_followed_up,
    a_conversation_gets_at_most_twenty_answers_a_day,
    an_erased_callers_hand_off_notice_goes_with_them,
    a_reply_is_answered_booked_and_credited,
    an_admin_sets_up_the_ai_and_its_price_list,
    the_tools_book_only_free_slots_and_quote_only_the_price_list,
    the_ai_books_each_caller_once_and_only_what_it_can_check,
    details_are_sealed_hand_offs_stop_the_ai_and_staff_take_over,
    nothing_happens_for_a_clinic_without_the_ai,
    stop_wins_and_the_loop_stops_at_its_bound,
    a_crash_after_the_answer_sends_once_and_a_spent_budget_falls_back,
    a_quiet_caller_gets_one_follow_up_in_opening_hours,
    a_follow_up_reached_after_closing_waits_for_the_opening,
    a_budget_spent_during_an_answer_stops_it,
    the_model_waits_in_a_lane_of_its_own,
    a_stalled_model_falls_back_within_the_answer_time,
    a_text_that_cannot_be_opened_goes_to_staff,
    a_take_over_while_the_model_thinks_keeps_its_answer_unsent,
    a_staff_reply_while_the_model_thinks_keeps_its_answer_unsent,
    a_take_over_while_the_model_thinks_runs_none_of_its_tools,
    a_caller_who_writes_again_while_the_model_thinks_gets_one_answer,
    a_booking_made_before_the_caller_writes_again_is_kept_and_known,
    a_tool_asked_for_before_the_caller_writes_again_does_not_run,
    a_text_stamped_before_an_answer_it_came_during_is_still_answered,
    a_staff_reply_before_the_ais_first_text_takes_the_conversation_over,
    a_conversation_staff_answered_before_the_ai_was_on_stays_with_staff,
    a_text_left_to_an_answer_that_stopped_is_still_answered,
    a_text_whose_own_job_waits_is_answered_by_it,
    an_answer_given_up_hands_the_caller_to_staff,
    a_caller_whose_answer_is_given_up_gets_the_fallback_text,
    a_caller_who_sent_stop_gets_no_fallback_when_their_answer_is_given_up,
    a_caller_who_sends_stop_while_the_model_thinks_is_not_booked,
    a_caller_who_keeps_writing_does_not_use_up_the_tools_rounds,
    a_caller_who_writes_again_past_the_bound_goes_to_staff,
    a_caller_restricted_while_the_model_thinks_is_not_booked,
    an_answer_whose_worker_died_goes_to_staff_with_the_fallback,
    a_given_up_answer_whose_records_fail_is_still_a_dead_letter,
    an_earlier_stamped_text_taken_in_leaves_the_latest_answered,
    two_texts_before_the_worker_runs_get_one_answer,
    staff_and_the_callers_record_see_what_the_caller_told_the_ai,
    a_hand_off_is_mailed_to_the_member_given_the_caller,
    the_ai_offers_no_time_the_clinics_calendar_shows_busy,
);

/// The calendar a clinic shares with the fake Google below.
const CALENDAR: &str = "diary@harbour-plumbing.test";

/// A clinic whose Google calendar shows Monday 09:00 to 11:00 busy (the owner's own event) and
/// 12:00 to 13:00 marked free: the AI offers no time overlapping the busy one, cannot book into
/// it, and offers the time marked free. When Google cannot say, the AI offers nothing and is told
/// to hand the caller to the team.
async fn the_ai_offers_no_time_the_clinics_calendar_shows_busy(kind: DatabaseKind) {
    use ringback_providers::fakes::google::FakeGoogle;
    let model = FakeAnthropic::start(API_KEY).await.expect("fake model");
    let google = FakeGoogle::start().await.expect("fake Google");
    let dir = tempfile::tempdir().expect("tempdir");
    let builder = ai_clinic_builder(kind, &model, ANSWER_SECONDS).with_google(&google, dir.path());
    let mut app = switch_the_ai_on(builder.build().await, None).await;
    let setting = app
        .owner
        .run("{ googleCalendar { ownershipCode } }", json!({}))
        .await;
    let code = setting["data"]["googleCalendar"]["ownershipCode"]
        .as_str()
        .expect("a code")
        .to_owned();
    google.share(CALENDAR, "writer");
    google.describe(CALENDAR, &code);
    let chosen = app
        .owner
        .run(
            "mutation($id: String) { setGoogleCalendar(calendarId: $id) }",
            json!({ "id": CALENDAR }),
        )
        .await;
    assert_eq!(chosen["data"]["setGoogleCalendar"], true, "{chosen}");

    let monday = monday_ahead(&app);
    let at = |time: &str| london_instant(&monday, time);
    google.block(CALENDAR, (&at("09:00"), &at("11:00")), false);
    google.block(CALENDAR, (&at("12:00"), &at("13:00")), true);
    miss_call(&mut app, "busy-1", "07700 900348").await;
    model.script([
        boiler_slots_on(&monday),
        Reply::tool(
            "book_appointment",
            json!({ "slot": format!("{monday} 10:00"), "kind": "Boiler service" }),
        ),
        Reply::Text("The earliest we can come on Monday is 11:00.".to_owned()),
    ]);
    app.receive_text("SMbusy001", "+447700900348", "Can you come Monday morning?")
        .await;
    drain(&app, 4).await;
    let requests = model.requests();
    assert_eq!(
        requests.len(),
        3,
        "find_slots, book_appointment, the answer"
    );
    let found = last_tool_result(&requests[1]);
    assert_ne!(found["is_error"], true, "{found}");
    let slots: Value =
        serde_json::from_str(found["content"].as_str().expect("content")).expect("slots");
    let offered: Vec<&str> = slots["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        offered.first(),
        Some(&format!("{monday} 11:00").as_str()),
        "{offered:?}"
    );
    assert!(
        offered.contains(&format!("{monday} 12:00").as_str()),
        "a time marked free is offered: {offered:?}"
    );
    let refused = last_tool_result(&requests[2]);
    assert_eq!(refused["is_error"], true, "{refused}");
    assert!(
        refused["content"]
            .as_str()
            .is_some_and(|text| text.contains("not free")),
        "{refused}"
    );
    let booked = app
        .db
        .query_strings("SELECT count(*) || '' AS n FROM appointments", &["n"])
        .await;
    assert_eq!(booked[0][0], "0", "nothing booked into the busy time");
    let asked = google
        .requests()
        .iter()
        .filter(|request| *request == "POST /calendar/v3/freeBusy")
        .count();
    assert_eq!(asked, 2, "{:?}", google.requests());
    assert!(
        !requests
            .iter()
            .any(|request| request.to_string().contains("Dentist")),
        "the model never reads what the owner's events say"
    );

    // Google failing: no time offered, and the model is told to hand the caller to the team.
    google.fail_next([503]);
    model.script([
        boiler_slots_on(&monday),
        Reply::Text("The team will text you a time shortly.".to_owned()),
    ]);
    app.receive_text("SMbusy002", "+447700900348", "Or Monday afternoon?")
        .await;
    drain(&app, 4).await;
    let requests = model.requests();
    assert_eq!(requests.len(), 5, "find_slots, then the answer");
    let unchecked = last_tool_result(&requests[4]);
    assert_eq!(unchecked["is_error"], true, "{unchecked}");
    let words = unchecked["content"].as_str().unwrap_or_default();
    assert!(
        words.contains("could not be checked") && words.contains("hand_off"),
        "{unchecked}"
    );
}

/// The instant of local `time` (`HH:MM`) on `day` (`YYYY-MM-DD`) in London, in RFC 3339.
fn london_instant(day: &str, time: &str) -> String {
    use chrono::TimeZone;
    let local = chrono::NaiveDateTime::parse_from_str(&format!("{day} {time}"), "%Y-%m-%d %H:%M")
        .expect("a local time");
    chrono_tz::Europe::London
        .from_local_datetime(&local)
        .single()
        .expect("one instant")
        .with_timezone(&chrono::Utc)
        .to_rfc3339()
}

/// The first block of the last message of a request to the model: the result of the tool the
/// model asked for last.
fn last_tool_result(request: &Value) -> &Value {
    let messages = request["messages"].as_array().expect("messages");
    let result = &messages.last().expect("a message")["content"][0];
    assert_eq!(result["type"], "tool_result", "{result}");
    result
}
