//! Billing on SQLite and PostgreSQL, against the in-process fake Stripe: off without a Stripe key
//! (no billing, no plans, no limits); on, a new clinic is on its trial (14 days, 50 texts) until it
//! ends — a clinic that existed before billing was turned on from when it was — and the catalogue
//! lists the plans. The owner pays through Checkout (the customer is made
//! once), Stripe's signed events set the plan (bad, missing, stale and re-timed signatures are
//! refused and store nothing; redeliveries change nothing; any order ends in the same state),
//! text-backs stop when billing says so and at the text that crosses the allowance, staff replies
//! are never blocked but count, and overage is reported once across a crash.

use crate::common::TestDb;
use crate::common::app::{CLINIC_NUMBER, OWNER_EMAIL, TestApp, quick_retries, worker_for};
use crate::common::graphql::{Browser, SIGN_IN, SIGN_UP, error_code, join, sign_up_input};
use crate::common::twilio::{missed_call, post, text_from};
use chrono::Duration;
use poem::http::StatusCode;
use poem::test::TestClient;
use ringback_api::build_app;
use ringback_api::config::DatabaseKind;
use ringback_api::fakes::stripe::FakeStripe;
use ringback_api::integrations::stripe::signature;
use serde_json::{Value, json};

const BILLING: &str = "{ billing { status plan { key } trialEndsAt allowance mayText stoppedReason } \
    plans { key name smsPerPeriod billsOverage } }";

/// The settings that turn billing on (Stripe itself is never reached by these reads).
const STRIPE: [(&str, &str); 3] = [
    ("RINGBACK_STRIPE_SECRET_KEY", "sk_test_0123456789abcdef"),
    ("RINGBACK_STRIPE_WEBHOOK_SECRET", "whsec_0123456789abcdef"),
    ("RINGBACK_STRIPE_API_URL", "http://127.0.0.1:9"),
];

async fn billing_is_off_without_a_stripe_key(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut owner = Browser::new(test_db.app(web.path()));
    owner.run(SIGN_UP, sign_up_input("self@hosted.test")).await;
    let answer = owner.run(BILLING, json!({})).await;
    assert!(answer["errors"].is_null(), "{answer}");
    assert_eq!(answer["data"]["billing"], json!(null));
    assert_eq!(answer["data"]["plans"], json!([]));
    test_db.finish().await;
}

async fn a_new_clinic_is_on_its_trial_until_it_ends(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let state = test_db.state_with(web.path(), &STRIPE);
    let mut owner = Browser::new(build_app(state.clone()));
    owner.run(SIGN_UP, sign_up_input("trial@clinic.test")).await;
    let signed_up_at = test_db.clock.now();

    let answer = owner.run(BILLING, json!({})).await;
    let billing = &answer["data"]["billing"];
    assert_eq!(billing["status"], "trial", "{answer}");
    assert_eq!(billing["plan"], json!(null));
    assert_eq!(billing["allowance"], 50);
    assert_eq!(billing["mayText"], true);
    let ends: chrono::DateTime<chrono::Utc> = billing["trialEndsAt"]
        .as_str()
        .and_then(|at| at.parse().ok())
        .expect("trialEndsAt");
    assert!(
        (ends - (signed_up_at + Duration::days(14))).abs() < Duration::minutes(1),
        "{answer}"
    );
    let plans: Vec<&str> = answer["data"]["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .map(|plan| plan["key"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(plans, ["starter", "growth", "practice"]);

    test_db.clock.advance(Duration::days(15));
    // Sessions expire too: sign in again on the later day.
    let signed_in = owner
        .run(
            SIGN_IN,
            json!({ "email": "trial@clinic.test", "password": "correct horse battery" }),
        )
        .await;
    assert!(signed_in["errors"].is_null(), "{signed_in}");
    let later = owner.run(BILLING, json!({})).await;
    assert_eq!(later["data"]["billing"]["mayText"], false, "{later}");
    assert!(
        later["data"]["billing"]["stoppedReason"]
            .as_str()
            .is_some_and(|why| why.contains("trial has ended")),
        "{later}"
    );
    test_db.finish().await;
}

/// Signs `email` in on `browser` and answers when its clinic's trial ends.
async fn trial_end_of<E: poem::Endpoint>(
    browser: &mut Browser<E>,
    email: &str,
) -> chrono::DateTime<chrono::Utc> {
    let signed_in = browser
        .run(
            SIGN_IN,
            json!({ "email": email, "password": "correct horse battery" }),
        )
        .await;
    assert!(signed_in["errors"].is_null(), "{signed_in}");
    let answer = browser.run(BILLING, json!({})).await;
    assert_eq!(answer["data"]["billing"]["mayText"], true, "{answer}");
    answer["data"]["billing"]["trialEndsAt"]
        .as_str()
        .and_then(|at| at.parse().ok())
        .unwrap_or_else(|| panic!("trialEndsAt: {answer}"))
}

/// Billing turned on for a deployment whose clinic signed up without it: the clinic's trial
/// starts when the first server with billing on starts (audited), not at its sign-up (which would
/// have ended it long ago); a clinic signed up with billing on keeps its own start, and the next
/// server start changes nothing.
async fn turning_billing_on_starts_the_trials_of_existing_clinics(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut early = Browser::new(test_db.app(web.path()));
    early.run(SIGN_UP, sign_up_input("early@clinic.test")).await;
    test_db.clock.advance(Duration::days(60));
    let state = test_db.state_with(web.path(), &STRIPE);
    let start = || ringback_api::service::trials::start_all(&state.db, &state.clock);
    assert_eq!(start().await.expect("trials start"), 1);
    let turned_on_at = test_db.clock.now();
    let mut early = Browser::new(build_app(state.clone()));
    let ends = trial_end_of(&mut early, "early@clinic.test").await;
    assert!((ends - (turned_on_at + Duration::days(14))).abs() < Duration::minutes(1));

    test_db.clock.advance(Duration::days(1));
    let mut late = Browser::new(build_app(state.clone()));
    late.run(SIGN_UP, sign_up_input("late@clinic.test")).await;
    let late_signed_up_at = test_db.clock.now();
    test_db.clock.advance(Duration::days(1));
    assert_eq!(start().await.expect("trials start"), 0);
    let ends = trial_end_of(&mut late, "late@clinic.test").await;
    assert!((ends - (late_signed_up_at + Duration::days(14))).abs() < Duration::minutes(1));
    let ends = trial_end_of(&mut early, "early@clinic.test").await;
    assert!((ends - (turned_on_at + Duration::days(14))).abs() < Duration::minutes(1));
    let audited = test_db
        .query_strings(
            "SELECT action FROM audit_log WHERE action = 'billing.trial_started'",
            &["action"],
        )
        .await;
    assert_eq!(audited.len(), 1, "{audited:?}");
    test_db.finish().await;
}

const FULL_BILLING: &str = "{ billing { status plan { key } allowance mayText stoppedReason \
    graceUntil periodStart periodEnd cancelAtPeriodEnd textsUsed overage overageReported \
    needsAttention trialEndsAt trialKeptUntil } }";
const START_CHECKOUT: &str = "mutation($plan: String!) { startCheckout(plan: $plan) }";

/// A clinic with a texting number on a deployment that bills through the fake Stripe.
/// Its trial is two days unless `extra` says otherwise: too short to keep (Checkout carries 48
/// hours or more), so paying starts the paid subscription at once, as it does once the trial is
/// over. The kept trial has tests of its own.
async fn billed_clinic(kind: DatabaseKind, extra: &[(&str, &str)]) -> TestApp {
    let mut builder = TestApp::builder(kind).with_twilio().with_stripe();
    if !extra.iter().any(|(name, _)| *name == "RINGBACK_TRIAL_DAYS") {
        builder = builder.setting("RINGBACK_TRIAL_DAYS", "2");
    }
    for (name, value) in extra {
        builder = builder.setting(name, value);
    }
    builder.build().await
}

fn stripe(app: &TestApp) -> &FakeStripe {
    app.stripe.as_ref().expect("built with_stripe()")
}

async fn billing(app: &mut TestApp) -> Value {
    let answer = app.owner.run(FULL_BILLING, json!({})).await;
    assert!(answer["errors"].is_null(), "{answer}");
    answer["data"]["billing"].clone()
}

/// A missed call from `from` through Twilio's webhook; the call's text-back status after the
/// worker ran (`sent` for a text sent or already delivered).
async fn missed_call_from(app: &TestApp, sid: &str, from: &str) -> String {
    missed_call_queued(app, sid, from).await;
    app.worker("billing-test").run_once().await.expect("worker");
    text_back_status(app, sid).await
}

/// A missed call from `from` through Twilio's webhook, its text-back queued (no worker runs).
async fn missed_call_queued(app: &TestApp, sid: &str, from: &str) {
    let twilio = TestClient::new(app.app());
    let (status, _) = post(
        &twilio,
        "/webhooks/twilio/dial-status",
        &missed_call(sid, from, CLINIC_NUMBER),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

/// While Stripe holds a request (as a slow Stripe would), a missed call from `from` is answered and its
/// text-back queued; then Stripe is let go. Fails if the call waited for Stripe.
async fn missed_call_while_stripe_is_slow(app: &TestApp, sid: &str, from: &str) {
    let stripe = stripe(app);
    let mut waited = 0;
    while stripe.held() == 0 {
        assert!(waited < 1500, "no request reached Stripe");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        waited += 1;
    }
    let answered = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        missed_call_queued(app, sid, from),
    )
    .await;
    stripe.release();
    assert!(answered.is_ok(), "the missed call waited for Stripe");
    assert_eq!(text_back_status(app, sid).await, "queued");
}

/// Stripe is never asked while the clinic is locked: with Stripe slow, a missed call during a
/// checkout and during a Stripe event's delivery is answered at once; both finish once Stripe
/// answers.
async fn a_slow_stripe_holds_up_no_missed_call(kind: DatabaseKind) {
    let app = billed_clinic(kind, &[]).await;
    let mut owner = app.browser();
    owner
        .run(
            SIGN_IN,
            json!({ "email": OWNER_EMAIL, "password": "correct horse battery" }),
        )
        .await;
    stripe(&app).hold();
    let (started, ()) = tokio::join!(
        owner.run(START_CHECKOUT, json!({ "plan": "starter" })),
        missed_call_while_stripe_is_slow(&app, "CA-slow-checkout", "+447700900456"),
    );
    let url = started["data"]["startCheckout"]
        .as_str()
        .unwrap_or_else(|| panic!("{started}"));
    let session = url.rsplit('/').next().expect("session id");
    let subscription = stripe(&app).pay(session).await.expect("paid");

    let event = stripe(&app)
        .invoice_event("invoice.paid", &subscription)
        .expect("an invoice event");
    stripe(&app).hold();
    let (status, ()) = tokio::join!(
        stripe(&app).deliver(&event),
        missed_call_while_stripe_is_slow(&app, "CA-slow-event", "+447700900457"),
    );
    assert_eq!(status, 200);
    app.db.finish().await;
}

/// The text-back status of the call Twilio knows as `sid` (`sent` for a text sent or already
/// delivered).
async fn text_back_status(app: &TestApp, sid: &str) -> String {
    let rows = app
        .db
        .query_strings(
            &format!("SELECT text_back_status FROM calls WHERE external_id = '{sid}'"),
            &["text_back_status"],
        )
        .await;
    // The fake's delivery report may already have moved a sent text on.
    match rows[0][0].as_str() {
        "delivered" => "sent".to_owned(),
        status => status.to_owned(),
    }
}

async fn audit_actions(app: &mut TestApp) -> Vec<Value> {
    let log = app
        .owner
        .run(
            "{ auditLog(first: 100) { edges { node { action detail } } } }",
            json!({}),
        )
        .await;
    log["data"]["auditLog"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{log}"))
        .iter()
        .map(|edge| edge["node"].clone())
        .filter(|node| {
            node["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("billing."))
        })
        .collect()
}

/// A time the API gave, in whole seconds (PostgreSQL keeps microseconds, Stripe seconds).
fn time_of(value: &Value) -> chrono::DateTime<chrono::Utc> {
    let text = value.as_str().unwrap_or_else(|| panic!("a time: {value}"));
    let at = chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339");
    chrono::DateTime::from_timestamp(at.timestamp(), 0).expect("in range")
}

async fn stored_billing(app: &TestApp) -> Vec<Vec<String>> {
    app.db
        .query_strings(
            "SELECT coalesce(billing_status, '-') AS s, coalesce(billing_plan, '-') AS p, \
             coalesce(stripe_subscription_id, '-') AS sub FROM clinics",
            &["s", "p", "sub"],
        )
        .await
}

async fn the_owner_pays_through_checkout_and_stripe_sets_the_plan(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[]).await;
    let before = billing(&mut app).await;
    assert_eq!(before["status"], "trial");
    assert!(
        before["trialKeptUntil"].is_null(),
        "two days left: too few to keep: {before}"
    );

    stripe(&app).fail_next(1);
    let down = app
        .owner
        .run(START_CHECKOUT, json!({ "plan": "starter" }))
        .await;
    assert_eq!(error_code(&down), Some("UNAVAILABLE"), "{down}");
    assert!(!down.to_string().contains("sk_test"), "{down}");
    let unknown = app
        .owner
        .run(START_CHECKOUT, json!({ "plan": "gold" }))
        .await;
    assert_eq!(error_code(&unknown), Some("BAD_USER_INPUT"), "{unknown}");
    // Two Checkout starts make one customer, with the clinic's id and the owner's address.
    app.owner
        .run(START_CHECKOUT, json!({ "plan": "starter" }))
        .await;
    let subscription = app.subscribe("growth").await;
    let customers = stripe(&app).customers();
    assert_eq!(customers.len(), 1, "{customers:?}");
    assert_eq!(customers[0].email.as_deref(), Some(OWNER_EMAIL));
    assert_eq!(
        customers[0].metadata.get("clinic_id"),
        Some(&app.clinic_id.to_string())
    );
    let checkout = stripe(&app).checkouts().pop().expect("a session");
    assert_eq!(checkout.mode, "subscription");
    assert_eq!(checkout.trial_end, None, "paid from the start");
    assert_eq!(
        checkout.prices,
        ["price_ringback_growth", "price_ringback_sms_overage"]
    );
    assert_eq!(
        checkout.client_reference_id,
        Some(app.clinic_id.to_string())
    );
    assert!(
        checkout.success_url.starts_with(crate::common::PUBLIC_URL)
            && checkout.success_url.contains("/billing"),
        "{}",
        checkout.success_url
    );

    let after = billing(&mut app).await;
    assert_eq!(after["status"], "active", "{after}");
    assert_eq!(after["plan"]["key"], "growth");
    assert_eq!(after["allowance"], 1000);
    assert_eq!(after["mayText"], true);
    assert!(after["periodEnd"].is_string(), "{after}");
    let audited = audit_actions(&mut app).await;
    let changes: Vec<&Value> = audited
        .iter()
        .filter(|entry| entry["action"] == "billing.subscription_changed")
        .collect();
    assert_eq!(changes.len(), 1, "{audited:?}");
    assert_eq!(changes[0]["detail"]["status"]["to"], "active");
    assert!(
        changes[0]["detail"]["stripe_event"]
            .as_str()
            .is_some_and(|id| id.starts_with("evt_")),
        "{audited:?}"
    );

    // A redelivery changes nothing, even after the subscription moved on at Stripe.
    let (first_event, _) = stripe(&app).deliveries()[0].clone();
    stripe(&app).update_subscription(&subscription, |sub| sub.cancel_at_period_end = true);
    assert_eq!(stripe(&app).deliver(&first_event).await, 200);
    assert_eq!(billing(&mut app).await["cancelAtPeriodEnd"], false);
    assert_eq!(audit_actions(&mut app).await.len(), audited.len());

    // With a running subscription, plans change in the portal, which returns to Billing.
    let again = app
        .owner
        .run(START_CHECKOUT, json!({ "plan": "practice" }))
        .await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "{again}");
    let portal = app
        .owner
        .run("mutation { openBillingPortal }", json!({}))
        .await;
    assert!(
        portal["data"]["openBillingPortal"]
            .as_str()
            .is_some_and(|url| url.starts_with(stripe(&app).api_url())),
        "{portal}"
    );
    let actions: Vec<String> = audit_actions(&mut app)
        .await
        .iter()
        .filter_map(|entry| entry["action"].as_str().map(str::to_owned))
        .collect();
    assert!(actions.contains(&"billing.checkout_started".to_owned()));
    assert!(actions.contains(&"billing.portal_opened".to_owned()));
    app.db.finish().await;
}

async fn stripe_signatures_are_checked_before_anything_is_stored(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[]).await;
    let subscription = {
        let started = app
            .owner
            .run(START_CHECKOUT, json!({ "plan": "starter" }))
            .await;
        assert!(started["errors"].is_null(), "{started}");
        let session = stripe(&app).checkouts()[0].id.clone();
        // Paid, but with the events kept back: only the requests below reach the server.
        stripe(&app).deliver_events_to("http://127.0.0.1:9/nowhere");
        stripe(&app).pay(&session).await.expect("paid")
    };
    let object = stripe(&app).subscription_json(&subscription).expect("sub");
    let event = stripe(&app).event("customer.subscription.created", object);
    let body = serde_json::to_vec(&event).expect("json");
    let now = app.db.clock.now().timestamp();
    let webhook = TestClient::new(app.app());
    let send = |header: Option<String>, body: Vec<u8>| {
        let mut request = webhook.post("/webhooks/stripe").body(body);
        if let Some(header) = header {
            request = request.header("Stripe-Signature", header);
        }
        request.send()
    };
    let secret = crate::common::app::STRIPE_WEBHOOK_SECRET;
    let good = signature::sign(secret, now, &body);
    let retimed = {
        let v1 = good.split_once(",v1=").expect("v1").1;
        format!("t={},v1={v1}", now + 10)
    };
    let refusals = [
        None,
        Some("t=1,v1=00".to_owned()),
        Some(signature::sign("whsec_someone_else_entirely", now, &body)),
        Some(signature::sign(secret, now - 400, &body)),
        Some(retimed),
    ];
    for header in refusals {
        let response = send(header.clone(), body.clone()).await;
        response.assert_status(StatusCode::BAD_REQUEST);
    }
    assert_eq!(
        stored_billing(&app).await,
        [["-", "-", "-"]],
        "nothing stored"
    );
    let processed = app
        .db
        .query_strings("SELECT count(*) || '' AS n FROM processed_webhooks", &["n"])
        .await;
    assert_eq!(processed, [["0"]]);

    // A type billing does not use is answered and left alone.
    let other = stripe(&app).event(
        "customer.created",
        json!({ "id": "cus_x", "object": "customer" }),
    );
    let other_body = serde_json::to_vec(&other).expect("json");
    send(Some(signature::sign(secret, now, &other_body)), other_body)
        .await
        .assert_status_is_ok();
    // While Stripe cannot say what the subscription is now, the event is refused for a retry.
    stripe(&app).fail_next(1);
    let unavailable = send(Some(good.clone()), body.clone()).await;
    unavailable.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(stored_billing(&app).await, [["-", "-", "-"]]);
    // The good one applies; the same event again is a no-op.
    for _ in 0..2 {
        send(Some(good.clone()), body.clone())
            .await
            .assert_status_is_ok();
    }
    assert_eq!(
        stored_billing(&app).await,
        [["active", "starter", subscription.as_str()]]
    );
    assert_eq!(billing(&mut app).await["allowance"], 300);
    app.db.finish().await;
}

async fn events_in_any_order_end_in_the_same_state(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[]).await;
    app.owner
        .run(START_CHECKOUT, json!({ "plan": "starter" }))
        .await;
    let session = stripe(&app).checkouts()[0].id.clone();
    stripe(&app).deliver_events_to("http://127.0.0.1:9/nowhere");
    let subscription = stripe(&app).pay(&session).await.expect("paid");
    let events = stripe(&app).deliveries();
    let created = events[0].0.clone();
    let completed = events[1].0.clone();
    let updated = {
        let object = stripe(&app)
            .update_subscription(&subscription, |sub| sub.cancel_at_period_end = true)
            .expect("sub");
        stripe(&app).event("customer.subscription.updated", object)
    };
    let deleted = {
        let object = stripe(&app)
            .update_subscription(&subscription, |sub| sub.status = "canceled".to_owned())
            .expect("sub");
        stripe(&app).event("customer.subscription.deleted", object)
    };
    stripe(&app).deliver_events_to(&format!(
        "{}/webhooks/stripe",
        crate::common::serve(app.app()).await
    ));
    // Deleted before updated, updated before created, completed last.
    for event in [&deleted, &updated, &created, &completed] {
        assert_eq!(stripe(&app).deliver(event).await, 200, "{event}");
    }
    let state = billing(&mut app).await;
    assert_eq!(state["status"], "canceled", "{state}");
    assert_eq!(state["mayText"], false);
    assert_eq!(state["cancelAtPeriodEnd"], true);
    assert!(
        state["stoppedReason"]
            .as_str()
            .is_some_and(|why| why.contains("cancelled")),
        "{state}"
    );
    // Ended, the clinic may subscribe again; the old subscription's late events do not undo it.
    let renewed = app.subscribe("practice").await;
    assert_ne!(renewed, subscription);
    assert_eq!(
        stripe(&app)
            .deliver(&stripe(&app).event(
                "customer.subscription.deleted",
                stripe(&app).subscription_json(&subscription).expect("old")
            ))
            .await,
        200
    );
    let state = billing(&mut app).await;
    assert_eq!(
        (state["status"].as_str(), state["plan"]["key"].as_str()),
        (Some("active"), Some("practice")),
        "{state}"
    );
    // An event naming a subscription this Stripe account does not know (another account's or
    // mode's, sent to this endpoint) is answered, not left for Stripe to retry for days, and
    // changes nothing.
    let mut stranger = stripe(&app).subscription_json(&renewed).expect("json");
    stranger["id"] = json!("sub_of_another_account");
    let event = stripe(&app).event("customer.subscription.updated", stranger);
    assert_eq!(stripe(&app).deliver(&event).await, 200, "{event}");
    let after = billing(&mut app).await;
    assert_eq!(after, state);
    app.db.finish().await;
}

/// A subscription event created before the payment failed, delivered late (Stripe retries for
/// days), does not move the grace's start back: it counts from the failure.
async fn a_late_older_event_does_not_shorten_the_grace(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[]).await;
    let subscription = app.subscribe("starter").await;
    let object = stripe(&app)
        .subscription_json(&subscription)
        .expect("the subscription");
    let older = stripe(&app).event("customer.subscription.updated", object);
    app.db.clock.advance(Duration::days(2));
    app.sign_in_again().await;
    let first = payment_fails(&mut app, &subscription).await;
    assert_eq!(stripe(&app).deliver(&older).await, 200);
    let after = billing(&mut app).await;
    assert_eq!(after["status"], "past_due", "{after}");
    assert_eq!(after["graceUntil"], first["graceUntil"], "{after}");
    let until = chrono::DateTime::parse_from_rfc3339(
        after["graceUntil"]
            .as_str()
            .unwrap_or_else(|| panic!("{after}")),
    )
    .expect("a time");
    let from_failure = until.to_utc() - (app.db.clock.now() + Duration::days(7));
    assert!(
        from_failure.num_seconds().abs() <= 1,
        "seven days from the failure: {after}"
    );
    app.db.finish().await;
}

/// Stripe's payment of `subscription` fails (it is past due, its failure event delivered); the
/// clinic's billing then.
async fn payment_fails(app: &mut TestApp, subscription: &str) -> Value {
    stripe(app).update_subscription(subscription, |sub| sub.status = "past_due".to_owned());
    let failed = stripe(app)
        .invoice_event("invoice.payment_failed", subscription)
        .expect("invoice");
    assert_eq!(stripe(app).deliver(&failed).await, 200);
    billing(app).await
}

/// A failed payment of an earlier period, settled since, whose event comes late (after the next
/// period's payment failed too) does not move the grace's start back and end texting.
async fn a_late_failure_of_a_settled_payment_leaves_the_grace(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[]).await;
    let subscription = app.subscribe("starter").await;
    app.db.clock.advance(Duration::days(2));
    stripe(&app).update_subscription(&subscription, |sub| sub.status = "past_due".to_owned());
    let settled_failure = stripe(&app)
        .invoice_event("invoice.payment_failed", &subscription)
        .expect("invoice");
    stripe(&app).update_subscription(&subscription, |sub| sub.status = "active".to_owned());
    let paid = stripe(&app)
        .invoice_event("invoice.paid", &subscription)
        .expect("invoice");
    assert_eq!(stripe(&app).deliver(&paid).await, 200);

    // The next period's payment fails too; then the first failure's event arrives.
    let next_start = stripe(&app)
        .update_subscription(&subscription, |sub| {
            sub.period = (sub.period.1, sub.period.1 + 30 * 86_400);
        })
        .expect("the subscription")["items"]["data"][0]["current_period_start"]
        .as_i64()
        .expect("a period start");
    let since_period = chrono::DateTime::from_timestamp(next_start, 0).expect("a time");
    app.db.clock.set(since_period + Duration::days(1));
    app.sign_in_again().await;
    let first = payment_fails(&mut app, &subscription).await;
    assert_eq!(stripe(&app).deliver(&settled_failure).await, 200);
    let after = billing(&mut app).await;
    assert_eq!(after["graceUntil"], first["graceUntil"], "{after}");
    assert_eq!(after["mayText"], true, "{after}");
    app.db.finish().await;
}

/// A subscriber moved to a price in no plan of the catalogue (the operator gave the plan a new
/// price) keeps their plan and its allowance, and staff find why in the audit log; a catalogue
/// that drops a plan clinics pay for is refused.
async fn a_price_outside_the_catalogue_keeps_the_plan(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[]).await;
    let subscription = app.subscribe("starter").await;
    let before = billing(&mut app).await;
    assert_eq!(before["plan"]["key"], "starter", "{before}");
    stripe(&app).update_subscription(&subscription, |sub| {
        sub.prices = vec!["price_retired_starter".to_owned()];
    });
    let object = stripe(&app)
        .subscription_json(&subscription)
        .expect("the subscription");
    let renewed = stripe(&app).event("customer.subscription.updated", object);
    assert_eq!(stripe(&app).deliver(&renewed).await, 200);
    let after = billing(&mut app).await;
    assert_eq!(after["plan"]["key"], "starter", "{after}");
    assert_eq!(after["allowance"], before["allowance"], "{after}");
    let audit = app.audit_actions().await;
    let noted = audit
        .iter()
        .find(|(action, _)| action == "billing.unknown_price")
        .unwrap_or_else(|| panic!("{audit:?}"));
    assert!(noted.1.contains("price_retired_starter"), "{noted:?}");
    // A catalogue without the plan a clinic pays for stops a server's start: its subscribers
    // would fall to the trial's allowance unseen.
    let context = app.state.billing.clone().expect("billing is on");
    let check = ringback_api::service::billing::check_catalogue;
    check(&app.state.db, &context.settings)
        .await
        .expect("every plan in use is in the catalogue");
    let mut renamed = context.settings.clone();
    renamed.plans.retain(|plan| plan.key != "starter");
    let refused = check(&app.state.db, &renamed).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|error| error.to_string().contains("`starter`")),
        "{refused:?}"
    );
    app.db.finish().await;
}

/// Runs the billing check once at the clock's now.
async fn billing_check(app: &TestApp) -> ringback_api::service::billing_check::Checked {
    let context = app.state.billing.clone().expect("billing is on");
    ringback_api::service::billing_check::check_all(&app.state.db, &app.state.clock, &context)
        .await
        .expect("the check runs")
}

/// What no event said, the billing check learns from Stripe: a renewal whose event was lost
/// starts its new period; a cancellation whose event was lost ends the texting. A clinic whose
/// state is current is not asked about.
async fn the_billing_check_learns_what_no_event_said(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[]).await;
    let subscription = app.subscribe("starter").await;
    let first = billing(&mut app).await;
    assert_eq!(billing_check(&app).await.asked, 0, "nothing is stale yet");

    // The period ends and Stripe renews the subscription, but its event never comes.
    app.db
        .clock
        .advance(Duration::days(30) + Duration::minutes(20));
    app.sign_in_again().await;
    let between = billing(&mut app).await;
    assert_eq!(
        between["periodStart"], first["periodEnd"],
        "until the renewal is stored, texts count from the old period's end: {between}"
    );
    assert!(
        between["periodEnd"].is_null(),
        "no end known yet: {between}"
    );
    stripe(&app).update_subscription(&subscription, |sub| {
        sub.period = (
            sub.period.1,
            sub.period.1 + Duration::days(30).num_seconds(),
        );
    });
    // Something is stored while Stripe is asked: the check's answer is not stored, and the
    // period is not taken for settled on it.
    stripe(&app).hold();
    let store_meanwhile = async {
        while stripe(&app).held() == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        app.db
            .execute_as_owner("UPDATE clinics SET billing_updated_at = created_at")
            .await;
        stripe(&app).release();
    };
    let (outdated, ()) = tokio::join!(billing_check(&app), store_meanwhile);
    assert_eq!((outdated.asked, outdated.applied), (1, 0), "{outdated:?}");
    let checked = billing_check(&app).await;
    assert_eq!((checked.asked, checked.applied), (1, 1), "{checked:?}");
    app.sign_in_again().await;
    let renewed = billing(&mut app).await;
    assert_eq!(renewed["periodStart"], first["periodEnd"], "{renewed}");
    assert_eq!(renewed["mayText"], true, "{renewed}");
    assert_eq!(billing_check(&app).await.asked, 0, "current again");

    // The subscription is cancelled at the end of that period; that event is lost too.
    app.db
        .clock
        .advance(Duration::days(30) + Duration::minutes(20));
    stripe(&app).update_subscription(&subscription, |sub| sub.status = "canceled".to_owned());
    let checked = billing_check(&app).await;
    assert_eq!((checked.asked, checked.applied), (1, 1), "{checked:?}");
    app.sign_in_again().await;
    let ended = billing(&mut app).await;
    assert_eq!(
        (ended["status"].as_str(), ended["mayText"].as_bool()),
        (Some("canceled"), Some(false)),
        "{ended}"
    );
    assert_eq!(
        billing_check(&app).await.asked,
        0,
        "an ended subscription is not asked about"
    );
    let audit = app.audit_actions().await;
    assert!(
        audit
            .iter()
            .any(|(action, detail)| action == "billing.subscription_changed"
                && detail.contains("billing_check")),
        "{audit:?}"
    );
    app.db.finish().await;
}

/// Stripe is asked about a period's end once: a subscription Stripe paused (its period does not
/// move on) is learned, then left alone, run after run.
async fn the_billing_check_asks_once_after_a_period_ends(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[]).await;
    let subscription = app.subscribe("starter").await;
    app.db
        .clock
        .advance(Duration::days(30) + Duration::minutes(20));
    stripe(&app).update_subscription(&subscription, |sub| sub.status = "paused".to_owned());
    let checked = billing_check(&app).await;
    assert_eq!((checked.asked, checked.applied), (1, 1), "{checked:?}");
    app.sign_in_again().await;
    let paused = billing(&mut app).await;
    assert_eq!(paused["status"], "paused", "{paused}");
    for _ in 0..2 {
        app.db.clock.advance(Duration::hours(2));
        assert_eq!(billing_check(&app).await.asked, 0, "asked once");
    }
    app.db.finish().await;
}

/// Stripe asked while it is still renewing (a running subscription showing the period that
/// ended) is asked again at the next run, until it shows the new period.
async fn the_billing_check_asks_again_while_stripe_still_renews(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[]).await;
    let subscription = app.subscribe("starter").await;
    let first = billing(&mut app).await;
    app.db
        .clock
        .advance(Duration::days(30) + Duration::minutes(20));
    let checked = billing_check(&app).await;
    assert_eq!(checked.asked, 1, "{checked:?}");
    app.db.clock.advance(Duration::hours(1));
    assert_eq!(
        billing_check(&app).await.asked,
        1,
        "the ended period is still shown: asked again"
    );
    stripe(&app).update_subscription(&subscription, |sub| {
        sub.period = (
            sub.period.1,
            sub.period.1 + Duration::days(30).num_seconds(),
        );
    });
    app.db.clock.advance(Duration::hours(1));
    let checked = billing_check(&app).await;
    assert_eq!((checked.asked, checked.applied), (1, 1), "{checked:?}");
    app.sign_in_again().await;
    let renewed = billing(&mut app).await;
    assert_eq!(renewed["periodStart"], first["periodEnd"], "{renewed}");
    app.db.clock.advance(Duration::hours(1));
    assert_eq!(billing_check(&app).await.asked, 0, "current again");
    app.db.finish().await;
}

/// A text-back queued while the clinic paid, whose sending waited (a retry, a busy worker) until
/// the subscription was cancelled, is not sent: billing holds it back as it would have when the
/// call came.
async fn a_text_back_waiting_when_billing_stops_is_held_back(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[]).await;
    let subscription = app.subscribe("starter").await;
    missed_call_queued(&app, "CAwait", "+447700900105").await;
    stripe(&app).update_subscription(&subscription, |sub| sub.status = "canceled".to_owned());
    let object = stripe(&app)
        .subscription_json(&subscription)
        .expect("the subscription");
    let cancelled = stripe(&app).event("customer.subscription.deleted", object);
    assert_eq!(stripe(&app).deliver(&cancelled).await, 200);
    app.worker("billing-test").run_once().await.expect("worker");
    assert_eq!(text_back_status(&app, "CAwait").await, "skipped:billing");
    let sent = app.twilio.as_ref().expect("fake Twilio").messages();
    assert!(
        sent.iter().all(|text| text.to != "+447700900105"),
        "not sent"
    );
    app.db.finish().await;
}

async fn text_backs_stop_when_billing_says_so(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[]).await;
    let subscription = app.subscribe("starter").await;
    assert_eq!(missed_call_from(&app, "CA1", "+447700900101").await, "sent");

    // A failed payment: Stripe marks it past due; texting goes on through the grace period.
    stripe(&app).update_subscription(&subscription, |sub| sub.status = "past_due".to_owned());
    let failed = stripe(&app)
        .invoice_event("invoice.payment_failed", &subscription)
        .expect("invoice");
    assert_eq!(stripe(&app).deliver(&failed).await, 200);
    let state = billing(&mut app).await;
    assert_eq!(
        (state["status"].as_str(), state["mayText"].as_bool()),
        (Some("past_due"), Some(true)),
        "{state}"
    );
    assert_eq!(state["needsAttention"], true);
    assert!(state["graceUntil"].is_string(), "{state}");
    assert_eq!(missed_call_from(&app, "CA2", "+447700900102").await, "sent");

    // Past the grace, text-backs pause; the call is still recorded and says why.
    app.db.clock.advance(Duration::days(8));
    app.sign_in_again().await;
    assert_eq!(
        missed_call_from(&app, "CA3", "+447700900103").await,
        "skipped:billing"
    );
    let calls = app
        .owner
        .run(
            "{ calls(first: 10) { edges { node { textBackStatus } } } }",
            json!({}),
        )
        .await;
    assert!(calls["errors"].is_null(), "{calls}");

    // Paid: texting again, the overdue mark gone.
    stripe(&app).update_subscription(&subscription, |sub| sub.status = "active".to_owned());
    let paid = stripe(&app)
        .invoice_event("invoice.paid", &subscription)
        .expect("invoice");
    assert_eq!(stripe(&app).deliver(&paid).await, 200);
    let state = billing(&mut app).await;
    assert_eq!(
        (
            state["mayText"].as_bool(),
            state["needsAttention"].as_bool()
        ),
        (Some(true), Some(false)),
        "{state}"
    );
    assert_eq!(missed_call_from(&app, "CA4", "+447700900104").await, "sent");
    app.db.finish().await;
}

/// A plan chosen during the free trial keeps the rest of it: the subscription trials until the
/// trial's end with the plan's allowance but no overage (Stripe charges nothing for a trial's
/// usage); overage comes with the first period paid for, when Stripe ends the trial.
async fn a_plan_chosen_in_the_trial_keeps_the_trial(kind: DatabaseKind) {
    let settings = [
        ("RINGBACK_TRIAL_DAYS", "14"),
        ("RINGBACK_PLANS", OVERAGE_PLAN),
    ];
    let mut app = billed_clinic(kind, &settings).await;
    let before = billing(&mut app).await;
    let trial_ends = time_of(&before["trialEndsAt"]);
    assert_eq!(
        time_of(&before["trialKeptUntil"]),
        trial_ends,
        "choosing a plan keeps the trial: {before}"
    );
    let subscription = app.subscribe("tiny").await;
    let checkout = stripe(&app).checkouts().pop().expect("a session");
    assert_eq!(checkout.trial_end, Some(trial_ends.timestamp()));
    let kept = billing(&mut app).await;
    assert_eq!(
        (kept["status"].as_str(), kept["plan"]["key"].as_str()),
        (Some("trialing"), Some("tiny")),
        "{kept}"
    );
    assert_eq!(kept["allowance"], 1, "the plan's allowance: {kept}");
    assert_eq!(time_of(&kept["periodEnd"]), trial_ends, "{kept}");
    assert!(kept["trialKeptUntil"].is_null(), "{kept}");
    let started: Vec<Value> = audit_actions(&mut app)
        .await
        .into_iter()
        .filter(|entry| entry["action"] == "billing.checkout_started")
        .collect();
    assert!(
        !started.is_empty()
            && started
                .iter()
                .all(|entry| time_of(&entry["detail"]["trial_kept_until"]) == trial_ends),
        "{started:?}"
    );
    assert_eq!(missed_call_from(&app, "CA1", "+447700900121").await, "sent");
    assert_eq!(
        missed_call_from(&app, "CA2", "+447700900122").await,
        "skipped:over_quota",
        "no overage in the trial"
    );

    // The trial ends: Stripe takes the first payment and starts the first period paid for.
    app.db.clock.set(trial_ends + Duration::minutes(1));
    let object = stripe(&app)
        .update_subscription(&subscription, |sub| {
            sub.status = "active".to_owned();
            sub.period = (
                sub.period.1,
                sub.period.1 + Duration::days(30).num_seconds(),
            );
        })
        .expect("the subscription");
    let paid = stripe(&app).event("customer.subscription.updated", object);
    assert_eq!(stripe(&app).deliver(&paid).await, 200);
    assert_eq!(missed_call_from(&app, "CA3", "+447700900123").await, "sent");
    assert_eq!(
        missed_call_from(&app, "CA4", "+447700900124").await,
        "sent",
        "overage is billed once paid for"
    );
    app.sign_in_again().await;
    let after = billing(&mut app).await;
    assert_eq!(after["status"], "active", "{after}");
    assert_eq!(time_of(&after["periodStart"]), trial_ends, "{after}");
    assert_eq!(after["overage"], 1, "{after}");
    app.db.finish().await;
}

async fn a_trial_that_ended_texts_nobody_back(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[]).await;
    assert_eq!(missed_call_from(&app, "CA1", "+447700900101").await, "sent");
    app.db.clock.advance(Duration::days(15));
    assert_eq!(
        missed_call_from(&app, "CA2", "+447700900102").await,
        "skipped:billing"
    );
    app.sign_in_again().await;
    let state = billing(&mut app).await;
    assert_eq!(state["mayText"], false, "{state}");
    app.db.finish().await;
}

async fn the_text_that_crosses_the_allowance_is_skipped_and_replies_still_go(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[("RINGBACK_TRIAL_SMS", "2")]).await;
    let admin_only = app
        .owner
        .run(
            "mutation { updatePhoneSettings(input: { smsMonthlyQuota: 500 }) { smsMonthlyQuota } }",
            json!({}),
        )
        .await;
    assert_eq!(
        error_code(&admin_only),
        Some("BAD_USER_INPUT"),
        "{admin_only}"
    );
    let text_back_mode = app
        .owner
        .run(
            "mutation { updateClinicSettings(input: { privacyMode: \"text_back\" }) { id } }",
            json!({}),
        )
        .await;
    assert!(text_back_mode["errors"].is_null(), "{text_back_mode}");
    assert_eq!(missed_call_from(&app, "CA1", "+447700900101").await, "sent");
    assert_eq!(missed_call_from(&app, "CA2", "+447700900102").await, "sent");
    assert_eq!(billing(&mut app).await["textsUsed"], 2);
    assert_eq!(
        missed_call_from(&app, "CA3", "+447700900103").await,
        "skipped:over_quota"
    );
    // A staff reply is never blocked by the allowance, and counts.
    let twilio = TestClient::new(app.app());
    post(
        &twilio,
        "/webhooks/twilio/sms",
        &text_from("SM1", "+447700900101", CLINIC_NUMBER, "Can I come at 4?"),
        None,
    )
    .await;
    let conversations = app.owner.run("{ conversations { id } }", json!({})).await;
    let id = conversations["data"]["conversations"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{conversations}"))
        .to_owned();
    let replied = app
        .owner
        .run(
            "mutation($id: ID!) { replyToConversation(id: $id, body: \"Yes, see you at 4\") { id } }",
            json!({ "id": id }),
        )
        .await;
    assert!(replied["errors"].is_null(), "{replied}");
    app.worker("billing-test").run_once().await.expect("worker");
    let state = billing(&mut app).await;
    assert_eq!(state["textsUsed"], 3, "{state}");
    assert_eq!(state["overage"], 0, "the trial bills no overage");
    app.db.finish().await;
}

const OVERAGE_PLAN: &str = r#"[{ key = "tiny", name = "Tiny", price = "price_tiny", sms_per_period = 1, overage_price = "price_tiny_overage" }]"#;

/// Stripe down for hours, far beyond the worker's usual attempts: the overage report is tried
/// again until Stripe takes it, and the clinic is billed once.
async fn an_overage_report_outlasts_a_stripe_outage(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[("RINGBACK_PLANS", OVERAGE_PLAN)]).await;
    app.subscribe("tiny").await;
    assert_eq!(missed_call_from(&app, "CA1", "+447700900101").await, "sent");
    stripe(&app).fail_next(100_000);
    assert_eq!(missed_call_from(&app, "CA2", "+447700900102").await, "sent");
    for _ in 0..16 {
        app.db.clock.advance(Duration::minutes(31));
        app.worker("billing-test").run_once().await.expect("worker");
    }
    let customer = stripe(&app).customers()[0].id.clone();
    assert_eq!(
        stripe(&app).metered(&customer),
        0,
        "nothing got through yet"
    );
    stripe(&app).fail_next(0);
    app.db.clock.advance(Duration::minutes(31));
    app.worker("billing-test").run_once().await.expect("worker");
    assert_eq!(
        stripe(&app).metered(&customer),
        1,
        "billed once, eight hours on"
    );
    let reports = app
        .db
        .query_strings(
            "SELECT status FROM job_outbox WHERE kind = 'report_overage'",
            &["status"],
        )
        .await;
    assert_eq!(reports, [["done"]]);
}

async fn overage_is_reported_once_across_a_crash(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[("RINGBACK_PLANS", OVERAGE_PLAN)]).await;
    app.subscribe("tiny").await;
    assert_eq!(missed_call_from(&app, "CA1", "+447700900101").await, "sent");
    assert_eq!(
        missed_call_from(&app, "CA2", "+447700900102").await,
        "sent",
        "overage is billed, not refused"
    );
    // The worker that reports the overage dies after Stripe took the event, before recording it.
    let fake_twilio = app.twilio.as_ref().expect("twilio");
    let crashing = worker_for(&app.state, fake_twilio, "crashing", quick_retries());
    let claimed = crashing.claim().await.expect("claim");
    assert_eq!(claimed.len(), 1, "the overage report");
    let _lost = crashing.perform(claimed[0]).await.expect("reported");
    assert_eq!(stripe(&app).meter_events().len(), 1);
    app.db.clock.advance(Duration::minutes(10));
    app.worker("billing-test").run_once().await.expect("worker");
    let events = stripe(&app).meter_events();
    assert_eq!(events.len(), 2, "sent again after the crash");
    assert_eq!(events[0].identifier, events[1].identifier);
    assert_eq!(events[0].event_name, "ringback_sms_segments");
    let customer = stripe(&app).customers()[0].id.clone();
    assert_eq!(stripe(&app).metered(&customer), 1, "billed once");
    app.sign_in_again().await;
    let state = billing(&mut app).await;
    assert_eq!(
        (
            state["textsUsed"].as_u64(),
            state["overage"].as_u64(),
            state["overageReported"].as_u64()
        ),
        (Some(2), Some(1), Some(1)),
        "{state}"
    );
    assert!(
        events[0].timestamp <= app.db.clock.now().timestamp() - 600,
        "billed at the time the text was counted, not when the retry got through"
    );

    // A plan changed in the portal without the metered price bills no overage: the allowance
    // stops text-backs again.
    let subscription = stripe(&app).subscriptions()[0].id.clone();
    let object = stripe(&app)
        .update_subscription(&subscription, |sub| sub.prices.truncate(1))
        .expect("sub");
    let updated = stripe(&app).event("customer.subscription.updated", object);
    assert_eq!(stripe(&app).deliver(&updated).await, 200);
    assert_eq!(
        missed_call_from(&app, "CA3", "+447700900103").await,
        "skipped:over_quota"
    );
    app.db.finish().await;
}

/// Two Checkout pages, both paid, their events held back, then delivered newest first: the first
/// subscription, on the growth plan, is the clinic's, the second (starter) audited as extra. A
/// page opened here after the first was paid is refused (paying again would charge twice), so the
/// second is one Stripe opened that the clinic never stored (its storing failed, say). Their ids,
/// in order.
async fn two_paid_subscriptions(app: &mut TestApp) -> (String, String) {
    stripe(app).deliver_events_to("http://127.0.0.1:9/nowhere");
    let started = app
        .owner
        .run(START_CHECKOUT, json!({ "plan": "growth" }))
        .await;
    assert!(started["errors"].is_null(), "{started}");
    let session = stripe(app).checkouts().pop().expect("a session").id;
    let mut paid = vec![stripe(app).pay(&session).await.expect("paid")];
    let again = app
        .owner
        .run(START_CHECKOUT, json!({ "plan": "starter" }))
        .await;
    assert_eq!(
        error_code(&again),
        Some("CONFLICT"),
        "the first is paid for and not yet confirmed: {again}"
    );
    let unstored = app.checkout_not_stored_here("starter").await;
    paid.push(stripe(app).pay(&unstored).await.expect("paid"));
    let first = paid[0].clone();
    let held: Vec<Value> = stripe(app)
        .deliveries()
        .into_iter()
        .map(|(event, _)| event)
        .collect();
    stripe(app).deliver_events_to(&format!(
        "{}/webhooks/stripe",
        crate::common::serve(app.app()).await
    ));
    for event in held.iter().rev() {
        assert_eq!(stripe(app).deliver(event).await, 200, "{event}");
    }
    assert_eq!(
        stored_billing(app).await,
        [["active", "growth", first.as_str()]],
        "the first subscription stays the clinic's"
    );
    let audited = audit_actions(app).await;
    assert!(
        audited
            .iter()
            .any(|entry| entry["action"] == "billing.extra_subscription"),
        "{audited:?}"
    );
    (first, paid[1].clone())
}

async fn a_second_subscription_stands_by_until_the_first_ends(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[]).await;
    let (first, second) = two_paid_subscriptions(&mut app).await;
    // The owner cancels the clinic's subscription in Stripe's portal while the second still
    // runs and is paid for: the second becomes the clinic's, and text-backs go on.
    let object = stripe(&app)
        .update_subscription(&first, |sub| sub.status = "canceled".to_owned())
        .expect("the first subscription");
    let cancelled = stripe(&app).event("customer.subscription.deleted", object);
    assert_eq!(stripe(&app).deliver(&cancelled).await, 200);
    assert_eq!(
        stored_billing(&app).await,
        [["active", "starter", second.as_str()]],
        "the running subscription takes over"
    );
    app.db.finish().await;
}

/// A clinic whose subscription went unpaid while a second one is paid for is not stopped: the
/// paid one becomes the clinic's, and text-backs go on.
async fn a_paid_subscription_takes_over_from_an_unpaid_one(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[]).await;
    let (first, second) = two_paid_subscriptions(&mut app).await;
    let object = stripe(&app)
        .update_subscription(&first, |sub| sub.status = "unpaid".to_owned())
        .expect("the first subscription");
    let unpaid = stripe(&app).event("customer.subscription.updated", object);
    assert_eq!(stripe(&app).deliver(&unpaid).await, 200);
    assert_eq!(
        stored_billing(&app).await,
        [["active", "starter", second.as_str()]],
        "the subscription paid for is the clinic's"
    );
    missed_call_queued(&app, "CApaid1", "+447700900461").await;
    assert_eq!(text_back_status(&app, "CApaid1").await, "queued");

    // The first one's later events leave the clinic with the one paid for.
    let object = stripe(&app)
        .update_subscription(&first, |sub| sub.status = "paused".to_owned())
        .expect("the first subscription");
    let paused = stripe(&app).event("customer.subscription.updated", object);
    assert_eq!(stripe(&app).deliver(&paused).await, 200);
    assert_eq!(
        stored_billing(&app).await,
        [["active", "starter", second.as_str()]]
    );
    app.db.finish().await;
}

/// Only the newest Checkout page can be paid: opening another (a second tab, another plan)
/// expires the one opened before, so the owner cannot subscribe twice.
async fn a_new_checkout_expires_the_one_opened_before(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[]).await;
    for plan in ["growth", "starter"] {
        let started = app.owner.run(START_CHECKOUT, json!({ "plan": plan })).await;
        assert!(started["errors"].is_null(), "{started}");
    }
    let sessions = stripe(&app).checkouts();
    let statuses: Vec<&str> = sessions.iter().map(|c| c.status.as_str()).collect();
    assert_eq!(statuses, ["expired", "open"]);
    assert_eq!(
        stripe(&app).pay(&sessions[0].id).await,
        None,
        "the first was paid"
    );
    let subscription = stripe(&app).pay(&sessions[1].id).await.expect("paid");
    assert_eq!(
        stored_billing(&app).await,
        [["active", "starter", subscription.as_str()]]
    );
    let started: Vec<Value> = audit_actions(&mut app)
        .await
        .into_iter()
        .filter(|entry| entry["action"] == "billing.checkout_started")
        .collect();
    assert_eq!(started.len(), 2, "{started:?}");
    assert!(
        started
            .iter()
            .any(|entry| entry["detail"]["replaces_earlier_session"] == true),
        "{started:?}"
    );
    app.db.finish().await;
}

async fn billing_is_for_owners(kind: DatabaseKind) {
    let mut app = billed_clinic(kind, &[]).await;
    let desk = app.browser();
    let mut receptionist = join(&mut app.owner, desk, "desk@clinic.test", "RECEPTIONIST").await;
    for operation in [
        "{ billing { status } }",
        "mutation { startCheckout(plan: \"starter\") }",
        "mutation { openBillingPortal }",
    ] {
        let refused = receptionist.run(operation, json!({})).await;
        assert_eq!(
            error_code(&refused),
            Some("FORBIDDEN"),
            "{operation}: {refused}"
        );
    }
    let office = app.browser();
    let mut admin = join(&mut app.owner, office, "admin@clinic.test", "ADMIN").await;
    let read = admin.run("{ billing { status } }", json!({})).await;
    assert_eq!(read["data"]["billing"]["status"], "trial", "{read}");
    let refused = admin
        .run("mutation { startCheckout(plan: \"starter\") }", json!({}))
        .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    // Each session opened is a request to Stripe: 10 a minute per owner.
    let codes: Vec<Option<String>> = {
        let mut codes = Vec::new();
        for _ in 0..11 {
            let answer = app
                .owner
                .run("mutation { openBillingPortal }", json!({}))
                .await;
            codes.push(error_code(&answer).map(str::to_owned));
        }
        codes
    };
    assert!(
        codes[..10]
            .iter()
            .all(|code| code.as_deref() == Some("CONFLICT")),
        "no customer yet: {codes:?}"
    );
    assert_eq!(codes[10].as_deref(), Some("RATE_LIMITED"), "{codes:?}");
    app.db.finish().await;
}

on_both_databases!(
    turning_billing_on_starts_the_trials_of_existing_clinics,
    a_slow_stripe_holds_up_no_missed_call,
    a_text_back_waiting_when_billing_stops_is_held_back,
    the_billing_check_learns_what_no_event_said,
    the_billing_check_asks_once_after_a_period_ends,
    the_billing_check_asks_again_while_stripe_still_renews,
    a_late_older_event_does_not_shorten_the_grace,
    a_late_failure_of_a_settled_payment_leaves_the_grace,
    a_price_outside_the_catalogue_keeps_the_plan,
    billing_is_off_without_a_stripe_key,
    a_new_clinic_is_on_its_trial_until_it_ends,
    the_owner_pays_through_checkout_and_stripe_sets_the_plan,
    a_plan_chosen_in_the_trial_keeps_the_trial,
    stripe_signatures_are_checked_before_anything_is_stored,
    events_in_any_order_end_in_the_same_state,
    text_backs_stop_when_billing_says_so,
    a_trial_that_ended_texts_nobody_back,
    the_text_that_crosses_the_allowance_is_skipped_and_replies_still_go,
    overage_is_reported_once_across_a_crash,
    an_overage_report_outlasts_a_stripe_outage,
    a_second_subscription_stands_by_until_the_first_ends,
    a_paid_subscription_takes_over_from_an_unpaid_one,
    a_new_checkout_expires_the_one_opened_before,
    billing_is_for_owners
);
