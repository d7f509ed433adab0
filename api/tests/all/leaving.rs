//! Leaving, on SQLite and PostgreSQL. An owner deletes the clinic with its name and their password
//! (a wrong name or password changes nothing; an admin may not): the running subscription is
//! cancelled with Stripe, no tenant table keeps a row of the clinic, sealed values no longer open
//! with any key the deployment holds, the members who belonged nowhere else are gone and their
//! sessions with them, the deployment's record remains, and another clinic's data and audit
//! chain are untouched; Twilio's records of its calls and texts are deleted there after it is
//! gone. A member deletes their own account (never a clinic's last owner).

use std::sync::Arc;

use crate::common::TWILIO_AUTH_TOKEN;
use crate::common::app::{OWNER_EMAIL, TestApp};
use crate::common::graphql::{error_code, join};
use ringback_api::config::{DatabaseKind, SecretString};
use ringback_api::fakes::twilio::ACCOUNT_SID;
use ringback_api::integrations::records::ProviderRecords;
use ringback_api::integrations::twilio::{TwilioAccount, TwilioClient};
use ringback_api::jobs::scheduler::PROVIDER_LEFTOVERS;
use ringback_api::service::provider_leftovers::{self, Forgotten};
use ringback_shared::seal::DataKey;
use serde_json::json;
use uuid::Uuid;

const DELETE: &str = "mutation($name: String!, $password: String!) { \
    deleteClinic(confirmName: $name, password: $password) { rowsDeleted membersDeleted \
    subscriptionCancelled } }";
const DELETE_ME: &str = "mutation($password: String!) { deleteMyAccount(password: $password) }";
const PASSWORD: &str = "correct horse battery";

/// How many rows of every tenant table belong to `clinic`.
async fn rows_of(app: &TestApp, clinic: Uuid) -> Vec<(String, String)> {
    let id = match app.db.kind {
        DatabaseKind::Sqlite => format!("x'{}'", clinic.simple()),
        DatabaseKind::Postgres => format!("'{clinic}'"),
    };
    let mut counts = Vec::new();
    let tables = ringback_migration::TENANT_TABLES
        .iter()
        .chain(ringback_migration::ROUTING_TABLES);
    for table in tables {
        let n = app
            .db
            .query_strings(
                &format!("SELECT count(*) || '' AS n FROM {table} WHERE clinic_id = {id}"),
                &["n"],
            )
            .await;
        counts.push(((*table).to_owned(), n[0][0].clone()));
    }
    counts
}

async fn a_deleted_clinic_leaves_only_its_record(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind)
        .with_twilio()
        .with_stripe()
        .build()
        .await;
    ringback_api::demo::seed_clinic(&app.state.db, &app.state.clock, &app.state.secrets)
        .await
        .expect("demo");
    let clinic = app.clinic_id;
    // Two Checkout pages, both paid (Stripe's events held back until both are paid, then
    // delivered): the second, one the clinic never stored, leaves an extra subscription that must
    // end too.
    app.stripe
        .as_ref()
        .expect("fake Stripe")
        .deliver_events_to("http://127.0.0.1:9/nowhere");
    let opened = app
        .owner
        .run(
            "mutation($plan: String!) { startCheckout(plan: $plan) }",
            json!({ "plan": "starter" }),
        )
        .await;
    assert!(opened["errors"].is_null(), "{opened}");
    let stripe = app.stripe.as_ref().expect("fake Stripe");
    let stored_page = stripe.checkouts().pop().expect("a session").id;
    let subscription = stripe.pay(&stored_page).await.expect("paid");
    let extra_page = app.checkout_not_stored_here("growth").await;
    let stripe = app.stripe.as_ref().expect("fake Stripe");
    let extra = stripe.pay(&extra_page).await.expect("paid");
    // A page opened here now is refused (a paid one awaits Stripe's confirmation), but two more
    // that Stripe opened are never paid and never stored: the deletion must leave nothing to pay.
    let opened = app
        .owner
        .run(
            "mutation($plan: String!) { startCheckout(plan: $plan) }",
            json!({ "plan": "starter" }),
        )
        .await;
    assert_eq!(error_code(&opened), Some("CONFLICT"), "{opened}");
    let unpaid = [
        app.checkout_not_stored_here("starter").await,
        app.checkout_not_stored_here("growth").await,
    ];
    {
        let stripe = app.stripe.as_ref().expect("fake Stripe");
        let held: Vec<serde_json::Value> = stripe
            .deliveries()
            .into_iter()
            .map(|(event, _)| event)
            .collect();
        stripe.deliver_events_to(&format!(
            "{}/webhooks/stripe",
            crate::common::serve(app.app()).await
        ));
        for event in &held {
            assert_eq!(stripe.deliver(event).await, 200, "{event}");
        }
    }
    let name = app.keep_numbers().await;
    app.receive_text("SMleaving", "+447700900321", "Please call me back")
        .await;
    let txn = app.tenant().begin().await.expect("txn");
    let sealed = txn
        .find::<ringback_entity::message::Entity>()
        .one(txn.conn())
        .await
        .expect("read")
        .expect("the message")
        .body_sealed;
    txn.commit().await.expect("commit");
    let (desk_email, desk) = ("desk@clinic.test", app.browser());
    let mut desk = join(&mut app.owner, desk, desk_email, "ADMIN").await;
    let before_demo = rows_of(&app, demo_clinic(&app).await).await;

    let refused = desk
        .run(
            DELETE,
            json!({ "name": name, "password": "member password 1" }),
        )
        .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "an admin may not");
    let wrong_name = app
        .owner
        .run(DELETE, json!({ "name": "Another", "password": PASSWORD }))
        .await;
    assert_eq!(error_code(&wrong_name), Some("BAD_USER_INPUT"));
    let wrong = app
        .owner
        .run(DELETE, json!({ "name": name, "password": "not it" }))
        .await;
    assert_eq!(error_code(&wrong), Some("BAD_USER_INPUT"), "{wrong}");
    assert!(
        rows_of(&app, clinic).await.iter().any(|(_, n)| n != "0"),
        "nothing went"
    );

    let deleted = app
        .owner
        .run(DELETE, json!({ "name": name, "password": PASSWORD }))
        .await;
    let answer = &deleted["data"]["deleteClinic"];
    assert_eq!(answer["subscriptionCancelled"], true, "{deleted}");
    let pages = app.stripe.as_ref().expect("fake Stripe").checkouts();
    for page in pages.iter().filter(|page| unpaid.contains(&page.id)) {
        assert_eq!(
            page.status, "expired",
            "an unpaid Checkout page stayed open: {}",
            page.id
        );
    }
    assert_eq!(
        answer["membersDeleted"], 2,
        "the owner and the admin belonged nowhere else"
    );
    assert!(
        answer["rowsDeleted"].as_i64().is_some_and(|n| n > 5),
        "{deleted}"
    );
    for (table, n) in rows_of(&app, clinic).await {
        assert_eq!(n, "0", "{table} keeps the deleted clinic's rows");
    }
    let stripe = app.stripe.as_ref().expect("fake Stripe");
    for id in [&subscription, &extra] {
        assert_eq!(
            stripe.subscription_json(id).expect("known")["status"],
            "canceled",
            "{id}"
        );
    }
    let record = app
        .db
        .query_strings(
            "SELECT CAST(row_counts AS TEXT) AS counts FROM clinic_deletions",
            &["counts"],
        )
        .await;
    assert_eq!(record.len(), 1, "one deployment record");
    let counts: serde_json::Value = serde_json::from_str(&record[0][0]).expect("json");
    assert_eq!(counts["messages"], 1, "{counts}");
    assert_eq!(counts["memberships"], 2, "{counts}");
    assert!(!record[0][0].contains(&name), "the record names nobody");
    let users = app
        .db
        .query_strings(
            &format!(
                "SELECT count(*) || '' AS n FROM users WHERE email IN ('{OWNER_EMAIL}', '{desk_email}')"
            ),
            &["n"],
        )
        .await;
    assert_eq!(users, [["0"]], "members of no other clinic are gone");
    for browser in [&mut app.owner, &mut desk] {
        let me = browser.run("{ me { role } }", json!({})).await;
        assert_eq!(error_code(&me), Some("UNAUTHENTICATED"), "{me}");
    }

    // Nothing the deployment holds opens what the clinic sealed.
    let secrets = &app.state.secrets;
    let demo = demo_clinic(&app).await;
    let demo_key = {
        let txn = crate::common::tenant(&app.state, demo)
            .begin()
            .await
            .expect("txn");
        let settings = ringback_api::service::clinic::get(&txn)
            .await
            .expect("demo");
        txn.commit().await.expect("commit");
        ringback_core::keys::data_key(secrets, &settings).expect("demo key")
    };
    let candidates = [
        DataKey::from_bytes(*secrets.master_key.expose()),
        DataKey::from_bytes(*secrets.pepper.expose()),
        DataKey::from_bytes(*secrets.session_secret.expose()),
        demo_key,
    ];
    for key in &candidates {
        assert!(ringback_core::keys::open_message(key, clinic, &sealed).is_err());
    }

    assert_eq!(
        rows_of(&app, demo).await,
        before_demo,
        "the demo clinic is untouched"
    );
    let verified = ringback_core::audit::verify(&app.db.db)
        .await
        .expect("verify");
    assert!(verified.broken.is_empty(), "{verified:?}");
    assert_eq!(verified.clinics, 1, "only the demo clinic's chain is left");
    app.db.finish().await;
}

async fn demo_clinic(app: &TestApp) -> Uuid {
    ringback_core::schedule::clinic_page(&app.state.db, None, 10)
        .await
        .expect("clinics")
        .into_iter()
        .find(|id| *id != app.clinic_id)
        .expect("the demo clinic")
}

async fn a_member_deletes_their_own_account(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let last_owner = app
        .owner
        .run(DELETE_ME, json!({ "password": PASSWORD }))
        .await;
    assert_eq!(error_code(&last_owner), Some("CONFLICT"), "{last_owner}");
    let desk = app.browser();
    let mut desk = join(&mut app.owner, desk, "leaver@clinic.test", "RECEPTIONIST").await;
    let wrong = desk.run(DELETE_ME, json!({ "password": "not it" })).await;
    assert_eq!(error_code(&wrong), Some("BAD_USER_INPUT"), "{wrong}");
    let gone = desk
        .run(DELETE_ME, json!({ "password": "member password 1" }))
        .await;
    assert_eq!(gone["data"]["deleteMyAccount"], true, "{gone}");
    let me = desk.run("{ me { role } }", json!({})).await;
    assert_eq!(error_code(&me), Some("UNAUTHENTICATED"), "{me}");
    let left = app
        .db
        .query_strings(
            "SELECT count(*) || '' AS n FROM users WHERE email = 'leaver@clinic.test'",
            &["n"],
        )
        .await;
    assert_eq!(left, [["0"]]);
    let team = app.owner.run("{ team { role } }", json!({})).await;
    assert_eq!(
        team["data"]["team"].as_array().map(Vec::len),
        Some(1),
        "{team}"
    );
    let audit = app
        .db
        .query_strings(
            "SELECT action FROM audit_log WHERE action LIKE 'account.delet%' ORDER BY seq",
            &["action"],
        )
        .await;
    assert_eq!(
        audit,
        [["account.deletion_refused"], ["account.deleted"]],
        "the refusal and the leaving are both recorded"
    );
    app.db.finish().await;
}

/// Twilio's records of a deleted clinic's calls and texts, and those an erasure's unfinished job
/// still names, outlive the clinic as ids only (`provider_leftovers`) until the scheduler's task
/// has them deleted at Twilio; a refused attempt waits, and is tried again once due.
async fn a_deleted_clinics_records_are_deleted_at_twilio(kind: DatabaseKind) {
    const CALLER: &str = "+447700900123";
    const ERASED: &str = "+447700900456";
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    let name = app.keep_numbers().await;
    app.forward_to_a_line().await;
    let worker = app.worker("leaving");
    app.ring_unanswered("CAgone01", CALLER).await;
    app.ring_unanswered("CAgone02", ERASED).await;
    app.drain(&worker).await;
    let erased = app
        .owner
        .run(
            "mutation { eraseCaller(number: \"07700 900456\") { providerRecordsQueued } }",
            json!({}),
        )
        .await;
    assert_eq!(
        erased["data"]["eraseCaller"]["providerRecordsQueued"], 2,
        "{erased}"
    );
    let fake = app.twilio.as_ref().expect("built with the fake Twilio");
    let held = |number| fake.held_records_of(number).len();
    assert_eq!(
        (held(CALLER), held(ERASED)),
        (3, 3),
        "call, leg, text-back each"
    );

    // A number bought for the clinic is released with it: kept, it would cost the deployment
    // and, taken by another clinic, bring it this clinic's callers.
    let bought = app
        .owner
        .run(
            "mutation { buyNumber(number: \"+447700900400\") { id } }",
            json!({}),
        )
        .await;
    assert!(bought["errors"].is_null(), "{bought}");
    let account_holds = |e164: &str| fake.numbers().iter().any(|number| number.e164 == e164);
    assert!(account_holds("+447700900400"));

    let deleted = app
        .owner
        .run(
            "mutation($name: String!, $password: String!) { \
             deleteClinic(confirmName: $name, password: $password) { providerRecordsToDelete } }",
            json!({ "name": name, "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        deleted["data"]["deleteClinic"]["providerRecordsToDelete"], 5,
        "the caller's call and text-back, what the erasure's job named, the bought number: \
         {deleted}"
    );
    // Until Twilio has released it, the number is no other clinic's to take.
    let mut next = app.browser();
    crate::common::graphql::sign_up_clinic(&mut next, "next@clinic.test").await;
    let offered = next
        .run("{ accountNumbers { sid display } }", json!({}))
        .await;
    assert!(offered["errors"].is_null(), "{offered}");
    assert!(!offered.to_string().contains("900400"), "{offered}");
    // The number the clinic typed in (not bought here) is held back from every clinic for 90
    // days: the deleted clinic's callers reach nobody else meanwhile.
    assert!(!offered.to_string().contains("900777"), "{offered}");
    let typed_before = next
        .run(
            "mutation { addProviderNumber(number: \"+447700900777\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        error_code(&typed_before),
        Some("BAD_USER_INPUT"),
        "{typed_before}"
    );
    let pending = fake
        .numbers()
        .into_iter()
        .find(|number| number.e164 == "+447700900400")
        .expect("still the account's");
    let taken = next
        .run(
            "mutation($sid: ID!) { useAccountNumber(sid: $sid) { id } }",
            json!({ "sid": pending.sid }),
        )
        .await;
    assert_eq!(error_code(&taken), Some("NOT_FOUND"), "{taken}");
    let typed = next
        .run(
            "mutation { addProviderNumber(number: \"+447700900400\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&typed), Some("BAD_USER_INPUT"), "{typed}");
    assert!(typed.to_string().contains("cannot be added"), "{typed}");
    let left = "SELECT attempts || ':' || count(*) || ':' || max(last_error) AS row \
                FROM provider_leftovers WHERE kind <> 'held_number' GROUP BY attempts";
    let records_at = |api_url: &str, token: &str| -> Arc<dyn ProviderRecords> {
        let account = TwilioAccount {
            api_url: api_url.to_owned(),
            account_sid: ACCOUNT_SID.to_owned(),
            auth_token: SecretString::new(token),
        };
        Arc::new(TwilioClient::new(account, std::time::Duration::from_secs(5)).expect("client"))
    };
    let budget = std::time::Duration::from_secs(60);
    let (db, clock) = (&app.state.db, &app.state.clock);

    let refused = records_at(fake.api_url(), "a token Twilio does not know");
    let tried = provider_leftovers::forget(db, clock, refused, budget).await;
    assert_eq!(tried.expect("run").failed, 5);
    assert_eq!(
        app.db.query_strings(left, &["row"]).await.concat(),
        ["1:5:the provider refused the request (HTTP 401, error 20003)"],
        "every record waits for its next attempt, with the reason"
    );
    assert_eq!((held(CALLER), held(ERASED)), (3, 3));

    let twilio = || records_at(fake.api_url(), TWILIO_AUTH_TOKEN);
    let early = provider_leftovers::forget(db, clock, twilio(), budget).await;
    assert_eq!(
        early.expect("run"),
        Forgotten::default(),
        "nothing is due yet"
    );
    let waiting = provider_leftovers::waiting(db).await.expect("what waits");
    assert_eq!((waiting.records, waiting.failing), (5, 5));
    assert_eq!(
        waiting.errors,
        [(
            "the provider refused the request (HTTP 401, error 20003)".to_owned(),
            5
        )]
    );
    let due = provider_leftovers::retry_now(db, clock.now()).await;
    assert_eq!(
        due.expect("made due"),
        5,
        "the operator put the token right"
    );
    let task = (PROVIDER_LEFTOVERS.run)(app.state.clone()).await;
    assert_eq!(
        task.expect("the scheduler's task runs"),
        "5 records deleted at the provider, 0 attempts failed"
    );
    assert!(
        !account_holds("+447700900400"),
        "the bought number was released"
    );
    assert_eq!(
        (held(CALLER), held(ERASED)),
        (0, 0),
        "Twilio holds nothing more"
    );
    assert_eq!(app.db.query_strings(left, &["row"]).await.len(), 0);
    // 90 days on, the held number is free: another clinic may take it.
    app.db.clock.advance(chrono::Duration::days(91));
    let task = (PROVIDER_LEFTOVERS.run)(app.state.clone()).await;
    assert!(task.is_ok(), "{task:?}");
    let held_rows = app
        .db
        .query_strings("SELECT kind FROM provider_leftovers", &["kind"])
        .await;
    assert!(held_rows.is_empty(), "{held_rows:?}");
    let signed_in = next
        .run(
            crate::common::graphql::SIGN_IN,
            json!({ "email": "next@clinic.test", "password": "correct horse battery" }),
        )
        .await;
    assert!(signed_in["errors"].is_null(), "{signed_in}");
    let offered = next
        .run("{ accountNumbers { sid display } }", json!({}))
        .await;
    assert!(offered.to_string().contains("900777"), "{offered}");
    app.db.finish().await;
}

on_both_databases!(
    a_deleted_clinics_records_are_deleted_at_twilio,
    a_deleted_clinic_leaves_only_its_record,
    a_member_deletes_their_own_account
);
