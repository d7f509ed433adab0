//! The setup checklist is ticked by what the server knows (a texting number, a forwarding line,
//! hours and wording saved, a call received through the webhooks, a plan with billing on), and a
//! refused webhook naming one of the clinic's numbers is recorded for it without any request
//! data, the newest few only. On SQLite and PostgreSQL.

use crate::common::app::{CLINIC_NUMBER, TestApp};
use crate::common::graphql::error_code;
use crate::common::twilio::{missed_call, post};
use poem::http::StatusCode;
use poem::test::TestClient;
use ringback_api::config::DatabaseKind;
use serde_json::{Value, json};

const CHECKLIST: &str = "{ setupChecklist { live steps { step done } } }";
const REFUSALS: &str = "{ webhookRefusals(minutes: 10) { hook reason at } }";

/// The steps that are done, by name.
async fn done_steps(app: &mut TestApp) -> (bool, Vec<String>) {
    let answer = app.owner.run(CHECKLIST, json!({})).await;
    assert!(answer["errors"].is_null(), "{answer}");
    let checklist = &answer["data"]["setupChecklist"];
    let done = checklist["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|step| step["done"] == true)
        .filter_map(|step| step["step"].as_str().map(str::to_owned))
        .collect();
    (checklist["live"] == true, done)
}

async fn the_checklist_follows_what_the_server_knows(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    let all = app.owner.run(CHECKLIST, json!({})).await;
    let steps: Vec<&str> = all["data"]["setupChecklist"]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|step| step["step"].as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "TEXTING_NUMBER",
            "FORWARDING_LINE",
            "BUSINESS_HOURS",
            "TEXT_BACK_WORDING",
            "TEST_CALL"
        ],
        "no plan step with billing off"
    );
    assert_eq!(
        done_steps(&mut app).await,
        (false, vec!["TEXTING_NUMBER".to_owned()])
    );

    // Saving empty templates keeps the default wording (it still follows the booking link) and
    // confirms it: the step is done without the default becoming the clinic's own words.
    let kept = app
        .owner
        .run(
            "mutation { updatePhoneSettings(input: { businessHoursTemplate: \"\", afterHoursTemplate: \"\" }) \
             { businessHoursTemplateIsDefault afterHoursTemplateIsDefault } }",
            json!({}),
        )
        .await;
    assert_eq!(
        kept["data"]["updatePhoneSettings"],
        json!({ "businessHoursTemplateIsDefault": true, "afterHoursTemplateIsDefault": true }),
        "{kept}"
    );
    let (_, done) = done_steps(&mut app).await;
    assert!(done.contains(&"TEXT_BACK_WORDING".to_owned()), "{done:?}");

    for mutation in [
        "mutation { setForwardingLine(number: \"020 7946 0321\") { forwardingLineTail } }",
        "mutation { updatePhoneSettings(input: { businessHours: [{ weekday: MONDAY, spans: [{ opens: \"08:00\", closes: \"18:00\" }] }] }) { ringTimeoutSeconds } }",
        "mutation { updatePhoneSettings(input: { businessHoursTemplate: \"Sorry we missed you at {clinic}. Reply here.\" }) { ringTimeoutSeconds } }",
    ] {
        let saved = app.owner.run(mutation, json!({})).await;
        assert!(saved["errors"].is_null(), "{saved}");
    }
    let (live, done) = done_steps(&mut app).await;
    assert!(!live);
    assert!(!done.contains(&"TEST_CALL".to_owned()), "{done:?}");

    // A forged request naming the clinic's number is refused and recorded; one naming a number
    // nobody holds is refused and recorded nowhere.
    let twilio = TestClient::new(app.app());
    let forged = missed_call(
        "CA00000000000000000000000000000901",
        "+447700900123",
        CLINIC_NUMBER,
    );
    let (status, _) = post(
        &twilio,
        "/webhooks/twilio/voice",
        &forged,
        Some("forged".to_owned()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let elsewhere = missed_call(
        "CA00000000000000000000000000000902",
        "+447700900123",
        "+447700900999",
    );
    let (status, _) = post(
        &twilio,
        "/webhooks/twilio/voice",
        &elsewhere,
        Some("forged".to_owned()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let refusals = app.owner.run(REFUSALS, json!({})).await;
    let listed = refusals["data"]["webhookRefusals"]
        .as_array()
        .expect("refusals");
    assert_eq!(listed.len(), 1, "{refusals}");
    assert_eq!(
        (&listed[0]["hook"], &listed[0]["reason"]),
        (&json!("voice"), &json!("bad signature"))
    );

    // The test call: a missed call through the webhooks ticks the last step.
    let call = missed_call(
        "CA00000000000000000000000000000903",
        "+447700900123",
        CLINIC_NUMBER,
    );
    let (status, body) = post(&twilio, "/webhooks/twilio/dial-status", &call, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (live, done) = done_steps(&mut app).await;
    assert!(live, "every step is done: {done:?}");
    // The purge deleting that call does not undo the step.
    let kept_briefly = app
        .owner
        .run(
            "mutation($input: ClinicSettingsInput!) { updateClinicSettings(input: $input) { id } }",
            json!({ "input": { "callRetentionDays": 15 } }),
        )
        .await;
    assert!(kept_briefly["errors"].is_null(), "{kept_briefly}");
    app.db.clock.advance(chrono::Duration::days(17));
    ringback_api::service::retention::purge_all(&app.state.db, &app.state.clock, false)
        .await
        .expect("purged");
    let calls = app
        .db
        .query_strings("SELECT count(*) || '' AS n FROM calls", &["n"])
        .await;
    assert_eq!(calls, vec![vec!["0".to_owned()]], "the test call is gone");
    app.sign_in_again().await;
    let (live, done) = done_steps(&mut app).await;
    assert!(live, "still live after the purge: {done:?}");

    // A flood of forged requests keeps only the newest twenty, and nothing of any request.
    for n in 0..25 {
        let sid = format!("CA{n:032}");
        let forged = missed_call(&sid, "+447700900123", CLINIC_NUMBER);
        post(
            &twilio,
            "/webhooks/twilio/voice",
            &forged,
            Some("forged".to_owned()),
        )
        .await;
    }
    let kept = app
        .db
        .query_strings("SELECT count(*) || '' AS n FROM webhook_refusals", &["n"])
        .await;
    assert_eq!(kept, vec![vec!["20".to_owned()]]);
    let stored = app.db.stored_text(&["webhook_refusals"]).await;
    assert!(!crate::common::logs::holds_uk_fiction_number(&stored));
    assert!(
        !stored.contains(&format!("CA{:032}", 24)),
        "nothing of a refused request is kept"
    );
    let bad_window = app
        .owner
        .run("{ webhookRefusals(minutes: 0) { hook } }", json!({}))
        .await;
    assert_eq!(
        error_code(&bad_window),
        Some("BAD_USER_INPUT"),
        "{bad_window}"
    );
    app.db.finish().await;
}

on_both_databases!(the_checklist_follows_what_the_server_knows);

/// With billing on, choosing a plan is a step, ticked while the subscription runs.
#[tokio::test]
async fn with_billing_on_a_plan_is_a_step() {
    let mut app = TestApp::builder(DatabaseKind::Sqlite)
        .with_twilio()
        .with_stripe()
        .build()
        .await;
    let plan_done = |answer: &Value| {
        answer["data"]["setupChecklist"]["steps"]
            .as_array()
            .and_then(|steps| steps.iter().find(|step| step["step"] == "PLAN"))
            .map(|step| step["done"] == true)
    };
    let before = app.owner.run(CHECKLIST, json!({})).await;
    assert_eq!(plan_done(&before), Some(false), "{before}");
    let subscription = app.subscribe("growth").await;
    let after = app.owner.run(CHECKLIST, json!({})).await;
    assert_eq!(plan_done(&after), Some(true), "{after}");
    // Cancelled, the subscription still names its plan: the step is to do again.
    let stripe = app.stripe.as_ref().expect("fake Stripe");
    let object = stripe
        .update_subscription(&subscription, |sub| sub.status = "canceled".to_owned())
        .expect("the subscription");
    let cancelled = stripe.event("customer.subscription.deleted", object);
    assert_eq!(stripe.deliver(&cancelled).await, 200);
    let ended = app.owner.run(CHECKLIST, json!({})).await;
    assert_eq!(plan_done(&ended), Some(false), "{ended}");
    app.db.finish().await;
}
