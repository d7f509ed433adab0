//! Billing as the dashboard reads it, on SQLite and PostgreSQL: off without a Stripe key (no
//! billing, no plans, no limits); on, a new clinic is on its trial (14 days, 50 texts) until it
//! ends, and the catalogue lists the plans.

mod common;

use chrono::Duration;
use common::TestDb;
use common::graphql::{Browser, SIGN_IN, SIGN_UP, sign_up_input};
use ringback_api::build_app;
use ringback_api::config::DatabaseKind;
use serde_json::json;

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

on_both_databases!(
    billing_is_off_without_a_stripe_key,
    a_new_clinic_is_on_its_trial_until_it_ends
);
