//! The clinic's phone settings on SQLite and PostgreSQL: business hours are validated and kept,
//! the forwarding line and provider numbers are stored sealed (only tails are shown, and the raw
//! numbers are nowhere in the database), a webhook-style lookup finds the clinic from its provider
//! number, and a number can belong to one clinic only.

use crate::common::app::TestApp;
use crate::common::graphql::{Browser, SIGN_UP, error_code, run_with_key, sign_up_input};
use crate::common::{TestDb, twilio_settings};
use ringback_api::config::DatabaseKind;
use ringback_api::service::phone_lines;
use serde_json::json;

const HOURS: &str = "mutation($hours: [DayHoursInput!]) { updatePhoneSettings(input: { businessHours: $hours, ringTimeoutSeconds: 20 }) { \
    ringTimeoutSeconds businessHours { weekday spans { opens closes } } } }";

async fn phone_settings_are_sealed_and_route(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let fake = test_db
        .fake_twilio(&["+447700900777", "+442079460321"])
        .await;
    let state = test_db.state_with(web.path(), &twilio_settings(&fake));
    let mut admin = Browser::new(test_db.app_with_twilio(web.path(), &fake));
    let signed_up = admin.run(SIGN_UP, sign_up_input("lines@clinic.test")).await;
    let clinic_id = signed_up["data"]["signUp"]["clinic"]["id"]
        .as_str()
        .expect("clinic id")
        .to_owned();

    let defaults = admin
        .run(
            "{ phoneSettings { ringTimeoutSeconds businessHours { weekday spans { opens } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        defaults["data"]["phoneSettings"]["ringTimeoutSeconds"], 18,
        "{defaults}"
    );
    assert_eq!(
        defaults["data"]["phoneSettings"]["businessHours"][0]["spans"][0]["opens"],
        "09:00"
    );

    let week = json!([{ "weekday": "MONDAY", "spans": [{ "opens": "08:00", "closes": "12:30" }, { "opens": "13:30", "closes": "18:00" }] },
                      { "weekday": "SATURDAY", "spans": [{ "opens": "09:00", "closes": "12:00" }] }]);
    let saved = admin.run(HOURS, json!({ "hours": week })).await;
    let settings = &saved["data"]["updatePhoneSettings"];
    assert_eq!(settings["ringTimeoutSeconds"], 20, "{saved}");
    assert_eq!(settings["businessHours"][0]["spans"][1]["closes"], "18:00");
    assert_eq!(
        settings["businessHours"][1]["spans"]
            .as_array()
            .map(Vec::len),
        Some(0),
        "Tuesday now closed"
    );
    let overlapping = json!([{ "weekday": "MONDAY", "spans": [{ "opens": "08:00", "closes": "13:00" }, { "opens": "12:00", "closes": "18:00" }] }]);
    let refused = admin.run(HOURS, json!({ "hours": overlapping })).await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");

    // A line that pays whoever rents it, or one abroad, is refused: the deployment pays for every
    // call put through to the line.
    for (number, why) in [("0909 879 0000", "premium"), ("+61 491 570 006", "country")] {
        let refused = admin
            .run(
                "mutation($n: String!) { setForwardingLine(number: $n) { forwardingLineTail } }",
                json!({ "n": number }),
            )
            .await;
        assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
        assert!(refused.to_string().contains(why), "{refused}");
    }
    let line = admin
        .run(
            "mutation { setForwardingLine(number: \"020 7946 0321\") { forwardingLineTail } }",
            json!({}),
        )
        .await;
    assert_eq!(
        line["data"]["setForwardingLine"]["forwardingLineTail"], "•••• 321",
        "{line}"
    );
    let added = admin
        .run(
            "mutation { addProviderNumber(number: \"+44 7700 900777\") { id tail } }",
            json!({}),
        )
        .await;
    assert_eq!(
        added["data"]["addProviderNumber"]["tail"], "•••• 777",
        "{added}"
    );

    // A forwarding line that is one of the clinic's numbers would send calls back here, and a
    // number that is the forwarding line would forward to itself: both refused, the line kept.
    let looping_line = admin
        .run(
            "mutation { setForwardingLine(number: \"07700 900777\") { forwardingLineTail } }",
            json!({}),
        )
        .await;
    assert_eq!(
        error_code(&looping_line),
        Some("BAD_USER_INPUT"),
        "{looping_line}"
    );
    let looping_number = admin
        .run(
            "mutation { addProviderNumber(number: \"020 7946 0321\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        error_code(&looping_number),
        Some("BAD_USER_INPUT"),
        "{looping_number}"
    );
    assert!(
        looping_number.to_string().contains("forwarding line"),
        "{looping_number}"
    );
    let kept = admin
        .run(
            "{ phoneSettings { forwardingLineTail } providerNumbers { tail } }",
            json!({}),
        )
        .await;
    assert_eq!(
        kept["data"]["phoneSettings"]["forwardingLineTail"], "•••• 321",
        "{kept}"
    );
    assert_eq!(
        kept["data"]["providerNumbers"],
        json!([{ "tail": "•••• 777" }]),
        "{kept}"
    );

    let found = phone_lines::clinic_for_provider_number(&state.db, &state.secrets, "+447700900777")
        .await
        .expect("lookup");
    assert_eq!(found.map(|id| id.to_string()), Some(clinic_id.clone()));
    let unknown =
        phone_lines::clinic_for_provider_number(&state.db, &state.secrets, "+447700900778")
            .await
            .expect("lookup");
    assert_eq!(unknown, None);
    let clinic_uuid = uuid::Uuid::try_parse(&clinic_id).expect("uuid");
    let txn = crate::common::tenant(&state, clinic_uuid)
        .begin()
        .await
        .expect("txn");
    let opened = phone_lines::forwarding_line(&txn, &state.secrets)
        .await
        .expect("open");
    assert_eq!(
        opened.as_deref(),
        Some("+442079460321"),
        "the sealed line opens to E.164"
    );
    drop(txn);

    // Another clinic can claim neither a number of the account that is taken nor one the
    // account does not hold, and the two refusals read the same; each is audited.
    let mut other = Browser::new(test_db.app_with_twilio(web.path(), &fake));
    other.run(SIGN_UP, sign_up_input("other@clinic.test")).await;
    let add = "mutation($n: String!) { addProviderNumber(number: $n) { id } }";
    let taken = other.run(add, json!({ "n": "07700 900777" })).await;
    let not_ours = other.run(add, json!({ "n": "07700 900778" })).await;
    assert_eq!(error_code(&taken), Some("BAD_USER_INPUT"), "{taken}");
    assert_eq!(taken["errors"], not_ours["errors"], "{taken} {not_ours}");
    let log = other
        .run(
            "{ auditLog(first: 5) { edges { node { action } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        log.to_string()
            .matches("clinic.provider_number_refused")
            .count(),
        2,
        "{log}"
    );
    let numbers = other.run("{ providerNumbers { id } }", json!({})).await;
    assert_eq!(numbers["data"]["providerNumbers"], json!([]), "{numbers}");

    let stored = test_db
        .stored_text(&["clinics", "provider_numbers", "audit_log"])
        .await;
    for number in ["2079460321", "7700900777"] {
        assert!(!stored.contains(number), "no raw clinic number is stored");
    }
    test_db.finish().await;
}

on_both_databases!(phone_settings_are_sealed_and_route);

/// Without a Twilio account there is nothing to prove a number against: adding one is refused,
/// naming the setting, and nothing is stored.
#[tokio::test]
async fn without_a_twilio_account_no_number_can_be_added() {
    let test_db = TestDb::new(DatabaseKind::Sqlite).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut admin = Browser::new(test_db.app(web.path()));
    admin.run(SIGN_UP, sign_up_input("lines@clinic.test")).await;
    let refused = admin
        .run(
            "mutation { addProviderNumber(number: \"07700 900777\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    assert!(
        refused.to_string().contains("RINGBACK_TWILIO_ACCOUNT_SID"),
        "{refused}"
    );
    test_db.finish().await;
}

/// Twenty settings changes at once on the embedded database, each reading then writing (the
/// clinic row, the audit chain): every one succeeds, none is an INTERNAL error from a read
/// snapshot that could not become a write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_mutations_on_sqlite_all_succeed() {
    let app = TestApp::new(DatabaseKind::Sqlite).await;
    let mut running = tokio::task::JoinSet::new();
    for seconds in 0..20 {
        let mut browser = app.browser();
        browser.cookies = app.owner.cookies.clone();
        running.spawn(async move {
            let mut answers = Vec::new();
            for round in 0..3 {
                answers.push(
                    browser
                        .run(
                            "mutation($s: Int!, $k: String!) { \
                             updatePhoneSettings(input: { ringTimeoutSeconds: $s }) { ringTimeoutSeconds } \
                             createAppointment(input: { callerKey: $k, valueMinor: 5000 }) { id } }",
                            json!({ "s": 10 + seconds, "k": format!("v1:{:064x}", seconds * 3 + round) }),
                        )
                        .await,
                );
            }
            answers
        });
    }
    let mut failures = Vec::new();
    while let Some(answers) = running.join_next().await {
        for answer in answers.expect("request task") {
            if !answer["errors"].is_null() {
                failures.push(answer);
            }
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
    let log = app
        .db
        .query_strings(
            "SELECT count(*) || '' AS n FROM audit_log WHERE action = 'clinic.settings_changed'",
            &["n"],
        )
        .await;
    assert_eq!(log[0][0], "60", "every change is audited once");
}

/// Records one missed call from `number` now.
const MISSED_CALL: &str = "mutation($id: String!, $at: DateTime!, $n: String!) { recordCallEvents(events: [{ \
     externalId: $id, direction: INBOUND, status: NO_ANSWER, startedAt: $at, callerNumber: $n }]) \
     { results { call { textBackStatus } error { message } } } }";

/// The variables of [`MISSED_CALL`] for call `id` from `number`, now by the app's clock.
fn missed_call(app: &TestApp, id: &str, number: &str) -> serde_json::Value {
    json!({ "id": id, "at": app.db.clock.now().to_rfc3339(), "n": number })
}

/// The text-back status recorded on the call an answer to [`MISSED_CALL`] reports.
fn text_back_status(answer: serde_json::Value) -> String {
    answer["data"]["recordCallEvents"]["results"][0]["call"]["textBackStatus"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_owned()
}

/// Records one missed call from `number` now, as `client`; returns its text-back status.
async fn missed_call_status(
    app: &TestApp,
    client: &mut Browser<impl poem::Endpoint>,
    id: &str,
    number: &str,
) -> String {
    text_back_status(client.run(MISSED_CALL, missed_call(app, id, number)).await)
}

/// Texts go only to the countries a clinic texts (its own region unless it lists others), and
/// never beyond its daily limit; a bad list or limit is refused with a clear code.
async fn texts_stay_within_countries_and_the_daily_limit(kind: DatabaseKind) {
    let app = TestApp::new(kind).await;
    let mut owner = app.browser();
    owner.cookies = app.owner.cookies.clone();
    let settings = "mutation($c: [String!], $l: Int) { updatePhoneSettings(input: { smsCountries: $c, smsDailyLimit: $l }) { smsCountries smsDailyLimit } }";
    let shown = owner
        .run(
            "{ phoneSettings { smsCountries smsDailyLimit } }",
            json!({}),
        )
        .await;
    assert_eq!(
        shown["data"]["phoneSettings"]["smsCountries"],
        json!(["GB"]),
        "{shown}"
    );

    assert_eq!(
        missed_call_status(&app, &mut owner, "abroad-1", "+1 202 555 0123").await,
        "skipped:other_country"
    );
    assert_eq!(
        missed_call_status(&app, &mut owner, "home-1", "07700 900101").await,
        "queued"
    );
    for (countries, limit) in [(json!(["Narnia"]), json!(null)), (json!(null), json!(0))] {
        let refused = owner
            .run(settings, json!({ "c": countries, "l": limit }))
            .await;
        assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    }
    let changed = owner
        .run(settings, json!({ "c": ["US", "GB"], "l": 2 }))
        .await;
    assert_eq!(
        changed["data"]["updatePhoneSettings"],
        json!({ "smsCountries": ["GB", "US"], "smsDailyLimit": 2 }),
        "{changed}"
    );
    assert_eq!(
        missed_call_status(&app, &mut owner, "abroad-2", "+1 202 555 0124").await,
        "queued"
    );
    assert_eq!(
        missed_call_status(&app, &mut owner, "home-2", "07700 900102").await,
        "skipped:daily_limit"
    );
    // A day later the limit has room again.
    app.db
        .clock
        .advance(chrono::Duration::hours(24) + chrono::Duration::minutes(1));
    owner
        .run("mutation { refreshSession { role } }", json!({}))
        .await;
    assert_eq!(
        missed_call_status(&app, &mut owner, "home-3", "07700 900103").await,
        "queued"
    );
}

/// The calls one API key reports cause at most `API_KEY_DAILY_TEXTS` texts a day, whatever the
/// clinic's own limit.
async fn an_api_key_runs_up_no_more_than_its_daily_texts(kind: DatabaseKind) {
    use ringback_api::service::text_back::API_KEY_DAILY_TEXTS;
    let app = TestApp::new(kind).await;
    let mut owner = app.browser();
    owner.cookies = app.owner.cookies.clone();
    owner
        .run(
            "mutation { updatePhoneSettings(input: { smsDailyLimit: 10000 }) { smsDailyLimit } }",
            json!({}),
        )
        .await;
    let created = owner
        .run(
            "mutation { createApiKey(name: \"PMS\", scope: WRITE) { secret } }",
            json!({}),
        )
        .await;
    let secret = created["data"]["createApiKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let integrator = poem::test::TestClient::new(app.app());
    let by_key = async |id: &str, number: &str| {
        text_back_status(
            run_with_key(
                &integrator,
                &secret,
                MISSED_CALL,
                missed_call(&app, id, number),
            )
            .await,
        )
    };
    let limit = usize::try_from(API_KEY_DAILY_TEXTS).expect("small");
    for n in 0..limit {
        let status = by_key(&format!("k-{n}"), &format!("07700 900{:03}", 200 + n)).await;
        assert_eq!(status, "queued", "call {n}");
    }
    let over = by_key("k-over", "07700 900999").await;
    assert_eq!(over, "skipped:daily_limit");
    assert_eq!(
        missed_call_status(&app, &mut owner, "staff-1", "07700 900998").await,
        "queued",
        "the clinic still texts"
    );
}

on_both_databases!(
    texts_stay_within_countries_and_the_daily_limit,
    an_api_key_runs_up_no_more_than_its_daily_texts,
);
