//! Getting a number through Ringback, against the fake Twilio speaking its number APIs: numbers for
//! sale in the clinic's country with its texting rules, buying one with its webhooks set in the
//! same request (a missed call to it then lands in the clinic), taking one of the account's free
//! numbers (and nobody else taking it after), releasing one, a number stopped held back from
//! other clinics until the purge frees it, the five-number cap, who may do it,
//! the clinic's limit on requests to Twilio, and no number stored in the clear. On SQLite and
//! PostgreSQL.

use crate::common::PUBLIC_URL;
use crate::common::app::TestApp;
use crate::common::graphql::{SIGN_UP, error_code, join, sign_up_input};
use crate::common::twilio::{missed_call, post, text_from};
use poem::http::StatusCode;
use poem::test::TestClient;
use ringback_api::config::DatabaseKind;
use serde_json::{Value, json};

const FOR_SALE: &str = "query($area: String, $contains: String, $town: String) { numbersForSale(areaCode: $area, contains: $contains, locality: $town) { country kind registration consoleUrl numbers { number display locality addressRequired } } }";
const BUY: &str = "mutation($n: String!) { buyNumber(number: $n) { id tail display provisioned } }";
const ACCOUNT_NUMBERS: &str = "{ accountNumbers { sid display pointedElsewhere canText } }";
const USE: &str = "mutation($sid: ID!) { useAccountNumber(sid: $sid) { id display provisioned } }";
const RELEASE: &str = "mutation($id: ID!) { releaseNumber(id: $id) }";
const NUMBERS: &str = "{ providerNumbers { id tail display provisioned } }";

fn data<'a>(answer: &'a Value, field: &str) -> &'a Value {
    assert!(answer["errors"].is_null(), "{answer}");
    &answer["data"][field]
}

async fn numbers_are_bought_taken_and_released(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    let fake = app.twilio.as_ref().expect("fake Twilio");

    // For sale: UK mobiles (landlines cannot text), with the UK's rule in words.
    let offer = app.owner.run(FOR_SALE, json!({})).await;
    let offer = data(&offer, "numbersForSale").clone();
    assert_eq!(offer["country"], "GB");
    assert_eq!(offer["kind"], "MOBILE");
    assert!(
        offer["registration"]
            .as_str()
            .is_some_and(|rule| rule.contains("regulatory bundle")),
        "{offer}"
    );
    let for_sale = offer["numbers"].as_array().expect("numbers");
    assert_eq!(for_sale.len(), 20, "{offer}");
    assert_eq!(for_sale[0]["display"], "07700 900400");
    let narrowed = app
        .owner
        .run(FOR_SALE, json!({ "contains": "900411" }))
        .await;
    assert_eq!(
        data(&narrowed, "numbersForSale")["numbers"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{narrowed}"
    );
    let area_code = app.owner.run(FOR_SALE, json!({ "area": "202" })).await;
    assert_eq!(
        error_code(&area_code),
        Some("BAD_USER_INPUT"),
        "{area_code}"
    );

    // Buying sets the webhooks in the same request, and a missed call to it is the clinic's.
    let bought = app.owner.run(BUY, json!({ "n": "+447700900400" })).await;
    let bought = data(&bought, "buyNumber").clone();
    assert_eq!(bought["display"], "07700 900400");
    assert_eq!(bought["provisioned"], true);
    let at_twilio = fake
        .numbers()
        .into_iter()
        .find(|number| number.e164 == "+447700900400")
        .expect("the account holds the number");
    assert_eq!(
        at_twilio.voice_url,
        format!("{PUBLIC_URL}/webhooks/twilio/voice")
    );
    assert_eq!(
        at_twilio.sms_url,
        format!("{PUBLIC_URL}/webhooks/twilio/sms")
    );
    assert_eq!(
        at_twilio.status_callback,
        format!("{PUBLIC_URL}/webhooks/twilio/call-status")
    );
    assert_eq!(
        (
            at_twilio.voice_method.as_str(),
            at_twilio.sms_method.as_str()
        ),
        ("POST", "POST")
    );
    let twilio = TestClient::new(app.app());
    let call = missed_call(
        "CA00000000000000000000000000000401",
        "+447700900123",
        "+447700900400",
    );
    let (status, body) = post(&twilio, "/webhooks/twilio/dial-status", &call, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let calls = app
        .owner
        .run("{ calls(first: 5) { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(
        data(&calls, "calls")["edges"].as_array().map(Vec::len),
        Some(1),
        "the call to the bought number is the clinic's: {calls}"
    );
    let gone = app.owner.run(BUY, json!({ "n": "+447700900400" })).await;
    assert_eq!(error_code(&gone), Some("BAD_USER_INPUT"), "{gone}");
    assert!(gone.to_string().contains("no longer for sale"), "{gone}");
    // A purchase whose answer is lost on the way (Twilio sold the number all the same) is
    // recorded as bought, not left rented, pointed here and nobody's.
    fake.lose_next_purchase_answer();
    let lost = app.owner.run(BUY, json!({ "n": "+447700900410" })).await;
    assert_eq!(
        data(&lost, "buyNumber")["display"],
        "07700 900410",
        "{lost}"
    );
    let let_go = app
        .owner
        .run(RELEASE, json!({ "id": lost["data"]["buyNumber"]["id"] }))
        .await;
    assert_eq!(data(&let_go, "releaseNumber"), true);

    // The account's free numbers: the clinic's own are not among them; taking one points it here.
    fake.provision_number("+447700900555");
    let free = app.owner.run(ACCOUNT_NUMBERS, json!({})).await;
    let free = data(&free, "accountNumbers").clone();
    assert_eq!(
        free,
        json!([{ "sid": free[0]["sid"], "display": "07700 900555", "pointedElsewhere": false, "canText": true }]),
        "{free}"
    );
    let sid = free[0]["sid"].as_str().expect("sid").to_owned();
    let taken = app.owner.run(USE, json!({ "sid": sid })).await;
    assert_eq!(data(&taken, "useAccountNumber")["display"], "07700 900555");
    let again = app.owner.run(USE, json!({ "sid": sid })).await;
    assert_eq!(
        data(&again, "useAccountNumber")["id"],
        taken["data"]["useAccountNumber"]["id"],
        "taking it again points it again"
    );
    // A number taken from the account was somebody's before Ringback: it is not released from
    // here (that would give it up at Twilio), only stopped using.
    assert_eq!(data(&taken, "useAccountNumber")["provisioned"], false);
    let kept = app
        .owner
        .run(
            RELEASE,
            json!({ "id": taken["data"]["useAccountNumber"]["id"] }),
        )
        .await;
    assert_eq!(error_code(&kept), Some("BAD_USER_INPUT"), "{kept}");
    assert!(
        fake.numbers().iter().any(|n| n.sid == sid),
        "still the account's"
    );
    assert!(
        fake.numbers()
            .iter()
            .any(|n| n.sid == sid && n.voice_url.starts_with(PUBLIC_URL))
    );

    // A number that cannot send texts is listed as such and not taken: callers could not be
    // texted back from it.
    fake.provision_voice_only_number("+447700900556");
    let listed = app.owner.run(ACCOUNT_NUMBERS, json!({})).await;
    let voice_only = data(&listed, "accountNumbers")
        .as_array()
        .expect("numbers")
        .iter()
        .find(|number| number["display"] == "07700 900556")
        .cloned()
        .expect("listed");
    assert_eq!(voice_only["canText"], false, "{listed}");
    let refused = app
        .owner
        .run(USE, json!({ "sid": voice_only["sid"] }))
        .await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    assert!(
        refused.to_string().contains("cannot send texts"),
        "{refused}"
    );
    let held = app.owner.run(NUMBERS, json!({})).await;
    assert!(
        !held.to_string().contains("900556"),
        "nothing is stored for it: {held}"
    );
    assert!(
        fake.numbers()
            .iter()
            .any(|n| n.e164 == "+447700900556" && n.voice_url.is_empty()),
        "and it is not pointed here"
    );

    // Another clinic cannot take it, and the refusal reads as one for a number never held.
    let mut other = app.browser();
    let signed_up = other.run(SIGN_UP, sign_up_input("other@clinic.test")).await;
    data(&signed_up, "signUp");
    let refused = other.run(USE, json!({ "sid": sid })).await;
    let unknown = other
        .run(USE, json!({ "sid": "PN0000000000000000000000000000abcd" }))
        .await;
    assert_eq!(error_code(&refused), Some("NOT_FOUND"), "{refused}");
    assert_eq!(refused["errors"], unknown["errors"]);
    let free = other.run(ACCOUNT_NUMBERS, json!({})).await;
    let shown: Vec<&Value> = data(&free, "accountNumbers")
        .as_array()
        .expect("numbers")
        .iter()
        .map(|number| &number["display"])
        .collect();
    assert_eq!(
        shown,
        ["07700 900556"],
        "only the number no clinic uses: {free}"
    );

    // A receptionist may not get or release numbers.
    let receptionist = app.browser();
    let mut receptionist = join(
        &mut app.owner,
        receptionist,
        "desk@clinic.test",
        "RECEPTIONIST",
    )
    .await;
    for (query, variables) in [
        (FOR_SALE, json!({})),
        (BUY, json!({ "n": "+447700900401" })),
        (RELEASE, json!({ "id": bought["id"] })),
    ] {
        let answer = receptionist.run(query, variables).await;
        assert_eq!(error_code(&answer), Some("FORBIDDEN"), "{answer}");
    }

    // A number Ringback bought is released, not merely stopped (it would stay rented).
    let stop = "mutation($id: ID!) { removeProviderNumber(id: $id) }";
    let kept = app.owner.run(stop, json!({ "id": bought["id"] })).await;
    assert_eq!(error_code(&kept), Some("BAD_USER_INPUT"), "{kept}");

    // Releasing gives the number back to Twilio and removes it from the clinic.
    let released = app.owner.run(RELEASE, json!({ "id": bought["id"] })).await;
    assert_eq!(data(&released, "releaseNumber"), true);
    assert!(!fake.numbers().iter().any(|n| n.e164 == "+447700900400"));
    let held = app.owner.run(NUMBERS, json!({})).await;
    let displays: Vec<&str> = data(&held, "providerNumbers")
        .as_array()
        .expect("numbers")
        .iter()
        .filter_map(|number| number["display"].as_str())
        .collect();
    assert_eq!(displays, ["07700 900777", "07700 900555"]);

    // At most five numbers a clinic.
    for n in 401..=403 {
        let answer = app
            .owner
            .run(BUY, json!({ "n": format!("+447700900{n}") }))
            .await;
        data(&answer, "buyNumber");
    }
    let sixth = app.owner.run(BUY, json!({ "n": "+447700900404" })).await;
    assert_eq!(error_code(&sixth), Some("BAD_USER_INPUT"), "{sixth}");
    assert!(sixth.to_string().contains("at most 5"), "{sixth}");

    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(action, _)| action)
        .collect();
    for action in [
        "clinic.provider_number_bought",
        "clinic.provider_number_taken",
        "clinic.provider_number_released",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
    let stored = app
        .db
        .stored_text(&["provider_numbers", "audit_log", "clinics"])
        .await;
    assert!(
        !crate::common::logs::holds_uk_fiction_number(&stored),
        "no number is stored in the clear"
    );
    app.db.finish().await;
}

/// A number the clinic stops using stays held back for it: another clinic is not offered it and
/// can neither take it nor type it in; a caller to it hears it is no longer in use and nothing of
/// the call is kept; a text to it is kept only when it is STOP (honoured and answered), any other
/// is dropped and deleted at Twilio; the clinic takes it back as it was; once stopped for longer
/// than the hold, the purge frees it for others.
async fn a_number_stopped_is_held_back_from_other_clinics(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    let fake = app.twilio.as_ref().expect("fake Twilio");
    fake.provision_number("+447700900555");
    let free = app.owner.run(ACCOUNT_NUMBERS, json!({})).await;
    let sid = data(&free, "accountNumbers")[0]["sid"].clone();
    let taken = app.owner.run(USE, json!({ "sid": sid })).await;
    let id = data(&taken, "useAccountNumber")["id"].clone();
    let stop = "mutation($id: ID!) { removeProviderNumber(id: $id) }";
    let stopped = app.owner.run(stop, json!({ "id": id })).await;
    assert_eq!(data(&stopped, "removeProviderNumber"), true);
    let held = app.owner.run(NUMBERS, json!({})).await;
    assert!(!held.to_string().contains("900555"), "{held}");
    let for_us = app.owner.run(ACCOUNT_NUMBERS, json!({})).await;
    assert!(
        for_us.to_string().contains("900555"),
        "the clinic is offered its own number back: {for_us}"
    );

    let mut other = app.browser();
    let signed_up = other.run(SIGN_UP, sign_up_input("other@clinic.test")).await;
    data(&signed_up, "signUp");
    let offered = other.run(ACCOUNT_NUMBERS, json!({})).await;
    assert!(!offered.to_string().contains("900555"), "{offered}");
    let refused = other.run(USE, json!({ "sid": sid })).await;
    assert_eq!(error_code(&refused), Some("NOT_FOUND"), "{refused}");
    let add = "mutation($n: String!) { addProviderNumber(number: $n) { id } }";
    let typed = other.run(add, json!({ "n": "07700 900555" })).await;
    assert_eq!(error_code(&typed), Some("BAD_USER_INPUT"), "{typed}");
    let twilio = TestClient::new(app.app());
    let call = missed_call(
        "CA00000000000000000000000000000555",
        "+447700900123",
        "+447700900555",
    );
    for report in [
        "/webhooks/twilio/dial-status",
        "/webhooks/twilio/call-status",
    ] {
        let (status, answer) = post(&twilio, report, &call, None).await;
        assert_eq!(status, StatusCode::OK, "{report}: {answer}");
    }
    let (status, heard) = post(&twilio, "/webhooks/twilio/voice", &call, None).await;
    assert_eq!(status, StatusCode::OK, "{heard}");
    assert!(heard.contains("no longer in use"), "{heard}");
    let calls = "SELECT COUNT(*) || '' AS n FROM calls";
    assert_eq!(app.db.query_strings(calls, &["n"]).await, [["0"]]);
    held_back_number_keeps_only_keywords(&app, &twilio).await;

    let back = app.owner.run(USE, json!({ "sid": sid })).await;
    assert_eq!(data(&back, "useAccountNumber")["id"], id, "{back}");
    let stopped = app.owner.run(stop, json!({ "id": id })).await;
    assert_eq!(data(&stopped, "removeProviderNumber"), true);
    app.db.clock.advance(chrono::Duration::days(
        ringback_api::service::phone_lines::HELD_BACK_DAYS + 1,
    ));
    ringback_api::service::retention::purge_all(&app.state.db, &app.state.clock, false)
        .await
        .expect("purge");
    // A clinic signed up now (the other's sign-in has long ended).
    let mut later = app.browser();
    let signed_up = later.run(SIGN_UP, sign_up_input("later@clinic.test")).await;
    data(&signed_up, "signUp");
    let freed = later.run(USE, json!({ "sid": sid })).await;
    assert_eq!(
        data(&freed, "useAccountNumber")["display"],
        "07700 900555",
        "{freed}"
    );
    app.db.finish().await;
}

/// A clinic that stops more numbers than it may hold back gives up the one stopped longest ago:
/// that one stays held back from every clinic (itself too) for the rest of its 90 days, then is
/// free.
async fn a_number_given_up_stays_held_back_for_its_time(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    let fake = app.twilio.as_ref().expect("fake Twilio");
    let stop = "mutation($id: ID!) { removeProviderNumber(id: $id) }";
    let mut first_sid = Value::Null;
    for n in 0..=ringback_api::service::phone_lines::MAX_HELD_BACK {
        let e164 = format!("+4477009005{n:02}");
        fake.provision_number(&e164);
        let free = app.owner.run(ACCOUNT_NUMBERS, json!({})).await;
        let sid = data(&free, "accountNumbers")
            .as_array()
            .and_then(|numbers| {
                numbers
                    .iter()
                    .find(|number| number["display"].as_str() == Some(&format!("07700 9005{n:02}")))
            })
            .map(|number| number["sid"].clone())
            .unwrap_or_else(|| panic!("{free}"));
        if n == 0 {
            first_sid = sid.clone();
        }
        let taken = app.owner.run(USE, json!({ "sid": sid })).await;
        let id = data(&taken, "useAccountNumber")["id"].clone();
        let stopped = app.owner.run(stop, json!({ "id": id })).await;
        assert_eq!(data(&stopped, "removeProviderNumber"), true);
    }
    let mut other = app.browser();
    data(
        &other.run(SIGN_UP, sign_up_input("other@clinic.test")).await,
        "signUp",
    );
    let offered = other.run(ACCOUNT_NUMBERS, json!({})).await;
    assert!(!offered.to_string().contains("900500"), "{offered}");
    let refused = other.run(USE, json!({ "sid": first_sid })).await;
    assert_eq!(error_code(&refused), Some("NOT_FOUND"), "{refused}");
    let own = app.owner.run(USE, json!({ "sid": first_sid })).await;
    assert_eq!(
        error_code(&own),
        Some("NOT_FOUND"),
        "no longer its own: {own}"
    );

    app.db.clock.advance(chrono::Duration::days(
        ringback_api::service::phone_lines::HELD_BACK_DAYS + 1,
    ));
    let task = (ringback_api::jobs::scheduler::PROVIDER_LEFTOVERS.run)(app.state.clone()).await;
    assert!(task.is_ok(), "{task:?}");
    let mut later = app.browser();
    data(
        &later.run(SIGN_UP, sign_up_input("later@clinic.test")).await,
        "signUp",
    );
    let freed = later.run(USE, json!({ "sid": first_sid })).await;
    assert_eq!(
        data(&freed, "useAccountNumber")["display"],
        "07700 900500",
        "{freed}"
    );
    app.db.finish().await;
}

/// Texts to held-back number 07700 900555 of `app`'s clinic: a reply is not kept (Twilio's copy
/// is deleted by a job) and gets no answer; a STOP is answered and puts the caller on the
/// clinic's opt-out list; a HELP is answered.
async fn held_back_number_keeps_only_keywords<E: poem::Endpoint>(
    app: &TestApp,
    twilio: &TestClient<E>,
) {
    let reply = text_from(
        "SM0000000000000000000000000000555",
        CALLER,
        HELD,
        "Yes please",
    );
    let (status, answer) = post(twilio, "/webhooks/twilio/sms", &reply, None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(!answer.contains("<Message"), "{answer}");
    let kept = "SELECT kind FROM messages";
    assert!(app.db.query_strings(kept, &["kind"]).await.is_empty());
    let forgotten = "SELECT CAST(payload AS TEXT) AS job FROM job_outbox \
                     WHERE kind = 'forget_provider_records'";
    let jobs = app.db.query_strings(forgotten, &["job"]).await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert!(
        jobs[0][0].contains("SM0000000000000000000000000000555"),
        "Twilio's copy of the reply is deleted: {jobs:?}"
    );
    let stop = text_from("SM0000000000000000000000000000556", CALLER, HELD, "STOP");
    let (status, answer) = post(twilio, "/webhooks/twilio/sms", &stop, None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.contains("no more texts"), "{answer}");
    let opted_out = "SELECT COUNT(*) || '' AS n FROM opt_outs";
    assert_eq!(app.db.query_strings(opted_out, &["n"]).await, [["1"]]);
    let help = text_from("SM0000000000000000000000000000557", CALLER, HELD, "HELP");
    let (status, answer) = post(twilio, "/webhooks/twilio/sms", &help, None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.contains("<Message"), "HELP is answered: {answer}");
    assert_eq!(
        app.db.query_strings(kept, &["kind"]).await,
        [["keyword"], ["keyword"]]
    );
}

/// The caller and the held-back number of [`held_back_number_keeps_only_keywords`].
const CALLER: &str = "+447700900123";
const HELD: &str = "+447700900555";

on_both_databases!(a_number_given_up_stays_held_back_for_its_time);
on_both_databases!(
    numbers_are_bought_taken_and_released,
    a_number_stopped_is_held_back_from_other_clinics
);

/// A US clinic searches local numbers by area code and by town (Twilio's `InLocality`); a UK
/// clinic, whose texting numbers are mobiles, is told towns do not apply; a town that is not a
/// name is refused.
#[tokio::test]
async fn us_numbers_are_found_by_area_code_and_town() {
    let mut app = TestApp::builder(DatabaseKind::Sqlite)
        .with_twilio()
        .build()
        .await;
    let refused = app.owner.run(FOR_SALE, json!({ "town": "London" })).await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    let moved = app
        .owner
        .run(
            "mutation { updateClinicSettings(input: { defaultRegion: \"US\", timeZone: \"America/New_York\", currency: \"USD\" }) { id } }",
            json!({}),
        )
        .await;
    assert!(moved["errors"].is_null(), "{moved}");

    let towns = |answer: &Value| -> Vec<String> {
        data(answer, "numbersForSale")["numbers"]
            .as_array()
            .expect("numbers")
            .iter()
            .map(|number| number["locality"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let everywhere = app.owner.run(FOR_SALE, json!({ "area": "202" })).await;
    assert_eq!(data(&everywhere, "numbersForSale")["kind"], "LOCAL");
    assert_eq!(towns(&everywhere).len(), 20, "{everywhere}");
    let georgetown = app
        .owner
        .run(FOR_SALE, json!({ "area": "202", "town": " georgetown " }))
        .await;
    let found = towns(&georgetown);
    assert_eq!(found.len(), 10, "{georgetown}");
    assert!(found.iter().all(|town| town == "Georgetown"), "{found:?}");
    let nowhere = app.owner.run(FOR_SALE, json!({ "town": "Gotham" })).await;
    assert!(towns(&nowhere).is_empty(), "{nowhere}");
    for town in ["Wash1ngton", &"x".repeat(61)] {
        let refused = app.owner.run(FOR_SALE, json!({ "town": town })).await;
        assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    }
    app.db.finish().await;
}

/// Requests to Twilio about numbers (a typed-in number's check among them) are limited per clinic
/// (each is a provider request, a purchase costs money); the limited answer is the uniform one.
#[tokio::test]
async fn requests_to_twilio_about_numbers_are_limited_per_clinic() {
    let mut app = TestApp::builder(DatabaseKind::Sqlite)
        .with_twilio()
        .build()
        .await;
    let limit = ringback_api::auth::rate_limit::NUMBER_REQUESTS_PER_CLINIC_PER_MINUTE;
    // The set-up typed in the clinic's number: one request of the minute's.
    for _ in 1..limit {
        let answer = app.owner.run(FOR_SALE, json!({})).await;
        data(&answer, "numbersForSale");
    }
    let limited = app.owner.run(FOR_SALE, json!({})).await;
    assert_eq!(error_code(&limited), Some("RATE_LIMITED"), "{limited}");
    let typed = app
        .owner
        .run(
            "mutation { addProviderNumber(number: \"+447700900401\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&typed), Some("RATE_LIMITED"), "{typed}");
    app.db.finish().await;
}

/// Without a Twilio account no number can be got, and the answer names the setting.
#[tokio::test]
async fn without_twilio_no_number_can_be_got() {
    let mut app = TestApp::new(DatabaseKind::Sqlite).await;
    let answer = app.owner.run(FOR_SALE, json!({})).await;
    assert_eq!(error_code(&answer), Some("BAD_USER_INPUT"), "{answer}");
    assert!(answer.to_string().contains("RINGBACK_TWILIO_ACCOUNT_SID"));
    app.db.finish().await;
}
