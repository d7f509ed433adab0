//! Calling back without showing the number, on SQLite and PostgreSQL, against the fake Twilio: a
//! receptionist's "Call back" places a call (REST `Calls.json`, Basic auth) that rings the clinic's
//! line or their own, the TwiML for the answered call dials the caller from the clinic's number,
//! the dial's outcome is recorded as the callback (answered ends the wait; busy counts as an
//! attempt; staff not answering records nothing), the number never appears in an answer, a log
//! line or the database in clear, strict mode refuses with its reason and forgets every kept
//! number, and callbacks are audited and rate-limited. A clinic with two numbers calls back from
//! the one the caller rang. No number reaches a log line.

use std::time::Duration;

use crate::common::graphql::{Browser, SIGN_UP, error_code, sign_up_input};
use crate::common::twilio::{missed_call, post, text_from};
use crate::common::{PUBLIC_URL, TestDb, serve};
use poem::EndpointExt;
use poem::test::TestClient;
use ringback_api::build_app;
use ringback_api::config::DatabaseKind;
use ringback_api::fakes::twilio::{ANSWERED_DIAL_SECONDS, CallFailure, CallScript, FakeTwilio};
use serde_json::{Value, json};

const CLINIC_NUMBER: &str = "+447700900777";
const CALLER: &str = "+447700900123";
const OTHER_CALLER: &str = "+447700900124";

const WORKLIST: &str = "{ worklist { edges { node { callId callerTail callbackAttempts } } } }";
const CALL_BACK: &str = "mutation($id: ID!) { callBack(callId: $id) { ringingTail } }";

/// The waiting rows as (tail, call id, attempts).
async fn waiting<E: poem::Endpoint>(staff: &mut Browser<E>) -> Vec<(String, String, i64)> {
    let list = staff.run(WORKLIST, json!({})).await;
    list["data"]["worklist"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
        .iter()
        .map(|edge| {
            let node = &edge["node"];
            (
                node["callerTail"].as_str().unwrap_or_default().to_owned(),
                node["callId"].as_str().unwrap_or_default().to_owned(),
                node["callbackAttempts"].as_i64().unwrap_or_default(),
            )
        })
        .collect()
}

/// Plays the latest placed call as `script` says and returns what the fake saw.
async fn play_latest(
    fake: &FakeTwilio,
    count: usize,
    script: CallScript,
) -> (String, Option<String>) {
    let calls = fake.wait_for_calls(count, Duration::from_secs(10)).await;
    assert_eq!(calls.len(), count, "the provider got the call request");
    let latest = calls.last().expect("a call").clone();
    let played = fake.play_call(&latest.sid, script).await.expect("played");
    (played.twiml, played.dialled)
}

async fn calling_back_never_shows_the_number(kind: DatabaseKind) {
    let (logs, _logging) = crate::common::logs::capture();
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let fake = test_db.fake_twilio(&[CLINIC_NUMBER]).await;
    let state = test_db.state_with(web.path(), &crate::common::twilio_settings(&fake));
    let local = serve(build_app(state.clone())).await;
    fake.forward_callbacks(PUBLIC_URL, &local);
    let mut staff = Browser::new(build_app(state.clone()).map_to_response().boxed());
    staff.run(SIGN_UP, sign_up_input("desk@clinic.test")).await;
    let setup = staff
        .run(
            "mutation { updateClinicSettings(input: { privacyMode: \"text_back\" }) { id } \
             setForwardingLine(number: \"020 7946 0321\") { forwardingLineTail } \
             addProviderNumber(number: \"07700 900777\") { id } }",
            json!({}),
        )
        .await;
    assert!(setup["errors"].is_null(), "{setup}");
    let twilio = TestClient::new(build_app(state.clone()));
    post(
        &twilio,
        "/webhooks/twilio/dial-status",
        &missed_call("CA1", CALLER, CLINIC_NUMBER),
        None,
    )
    .await;
    let mut answers = Vec::new();

    // The clinic's line rings; once answered, the caller is dialled from the clinic's number.
    let rows = waiting(&mut staff).await;
    assert_eq!(rows.len(), 1);
    let placed = staff.run(CALL_BACK, json!({ "id": rows[0].1 })).await;
    assert_eq!(
        placed["data"]["callBack"]["ringingTail"], "•••• 321",
        "{placed}"
    );
    answers.push(placed);
    // While it rings, nobody rings the same caller again: a colleague's click says who is
    // calling (and so does a second click of one's own).
    let joiner = Browser::new(build_app(state.clone()).map_to_response().boxed());
    let mut colleague =
        crate::common::graphql::join(&mut staff, joiner, "sam@clinic.test", "RECEPTIONIST").await;
    for (who, clicked) in [
        (
            "is already calling",
            colleague.run(CALL_BACK, json!({ "id": rows[0].1 })).await,
        ),
        (
            "You are already calling",
            staff.run(CALL_BACK, json!({ "id": rows[0].1 })).await,
        ),
    ] {
        assert_eq!(error_code(&clicked), Some("CONFLICT"), "{clicked}");
        assert!(clicked.to_string().contains(who), "{clicked}");
    }
    let request = &fake.wait_for_calls(1, Duration::from_secs(10)).await[0];
    assert_eq!(request.to, "+442079460321", "the clinic's line rings first");
    assert_eq!(request.from, CLINIC_NUMBER);
    assert!(
        request.url.starts_with(&format!(
            "{PUBLIC_URL}/webhooks/twilio/callback-connect?clinic="
        )) && !request.url.contains("7700900123"),
        "{}",
        request.url
    );
    // Staff call back a few minutes after the missed call.
    test_db.clock.advance(chrono::Duration::minutes(5));
    let played_from = test_db.clock.now();
    let (twiml, dialled) = play_latest(&fake, 1, CallScript::Connected("completed")).await;
    let played_until = test_db.clock.now();
    assert_eq!(dialled.as_deref(), Some(CALLER), "{twiml}");
    assert!(
        twiml.contains(&format!("callerId=\"{CLINIC_NUMBER}\"")),
        "{twiml}"
    );
    assert!(
        waiting(&mut staff).await.is_empty(),
        "answered: off the list"
    );
    // The confirmation replayed once the callback ended (signed, as Twilio's was) dials nobody
    // and gives no number back.
    let confirm = request
        .url
        .replace("/callback-connect?", "/callback-confirm?")
        .replace(PUBLIC_URL, "");
    let (status, replayed) = post(
        &twilio,
        &confirm,
        &[("CallSid", "CAreplayed1"), ("Digits", "1")],
        None,
    )
    .await;
    assert_eq!(status, poem::http::StatusCode::OK, "{replayed}");
    assert!(
        replayed.contains("has ended") && !replayed.contains("7700900123"),
        "{replayed}"
    );
    let recorded = staff
        .run(
            "{ calls(first: 10, filter: { direction: OUTBOUND }) { edges { node { status source \
             startedAt answeredAt } } } }",
            json!({}),
        )
        .await;
    let callback = &recorded["data"]["calls"]["edges"][0]["node"];
    assert_eq!(
        (&callback["status"], &callback["source"]),
        (&json!("ANSWERED"), &json!("twilio")),
        "{recorded}"
    );
    let instant = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(callback[field].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{field}: {e}: {recorded}"))
    };
    let talked = chrono::Duration::seconds(ANSWERED_DIAL_SECONDS);
    assert!(
        (played_from - talked..=played_until - talked).contains(&instant("startedAt").to_utc()),
        "the callback dates from when the caller answered, not from the report at its end: \
         {recorded}, played {played_from} to {played_until}"
    );
    assert_eq!(instant("answeredAt"), instant("startedAt"));
    answers.push(recorded);

    // One of the clinic's own numbers is no callback phone: the call would ring back here.
    let own = staff
        .run(
            "mutation($n: String!) { setMyCallbackLine(number: $n) }",
            json!({ "n": CLINIC_NUMBER }),
        )
        .await;
    assert_eq!(error_code(&own), Some("BAD_USER_INPUT"), "{own}");
    assert!(own.to_string().contains("Ringback numbers"), "{own}");
    // Their own phone rings once set; staff not answering records nothing; busy is an attempt.
    let mine = staff
        .run(
            "mutation { setMyCallbackLine(number: \"07700 900555\") }",
            json!({}),
        )
        .await;
    assert_eq!(mine["data"]["setMyCallbackLine"], "•••• 555", "{mine}");
    post(
        &twilio,
        "/webhooks/twilio/dial-status",
        &missed_call("CA2", OTHER_CALLER, CLINIC_NUMBER),
        None,
    )
    .await;
    let call_id = waiting(&mut staff).await[0].1.clone();
    test_db.clock.advance(chrono::Duration::minutes(5));
    let placed = staff.run(CALL_BACK, json!({ "id": call_id })).await;
    assert_eq!(
        placed["data"]["callBack"]["ringingTail"], "•••• 555",
        "{placed}"
    );
    let (_, dialled) = play_latest(&fake, 2, CallScript::FirstPartyMissed).await;
    assert_eq!(dialled, None);
    assert_eq!(fake.calls()[1].to, "+447700900555");
    assert_eq!(waiting(&mut staff).await[0].2, 0, "nobody was dialled");
    // Staff's own voicemail picks up and presses nothing when asked to press 1: the caller is
    // not dialled into a recorded greeting, and no callback is counted.
    staff.run(CALL_BACK, json!({ "id": call_id })).await;
    let (asked, dialled) = play_latest(&fake, 3, CallScript::FirstPartyVoicemail).await;
    assert!(asked.contains("Press 1"), "{asked}");
    assert_eq!(dialled, None, "{asked}");
    assert_eq!(waiting(&mut staff).await[0].2, 0, "nobody was dialled");
    staff.run(CALL_BACK, json!({ "id": call_id })).await;
    play_latest(&fake, 4, CallScript::Connected("busy")).await;
    let rows = waiting(&mut staff).await;
    assert_eq!(
        (rows.len(), rows[0].2),
        (1, 1),
        "busy: still waiting, one attempt"
    );
    // The caller's voicemail takes the call: Twilio reports it `completed`, machine detection
    // says a machine, and the caller is still waiting, with a second attempt (minutes later).
    test_db.clock.advance(chrono::Duration::minutes(5));
    staff.run(CALL_BACK, json!({ "id": call_id })).await;
    let (twiml, _) = play_latest(&fake, 5, CallScript::ReachedVoicemail).await;
    assert!(
        twiml.contains("machineDetection=\"Enable\"")
            && twiml.contains(&format!(
                "amdStatusCallback=\"{PUBLIC_URL}/webhooks/twilio/callback-machine?clinic="
            )),
        "{twiml}"
    );
    let rows = waiting(&mut staff).await;
    assert_eq!(
        (rows.len(), rows[0].2),
        (1, 2),
        "voicemail: still waiting, two attempts"
    );
    let latest = staff
        .run(
            "{ calls(first: 1, filter: { direction: OUTBOUND }) { edges { node { status } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        latest["data"]["calls"]["edges"][0]["node"]["status"], "MACHINE",
        "{latest}"
    );
    let setup = staff
        .run(
            "{ callBackSetup { available myLineTail ringsTail } }",
            json!({}),
        )
        .await;
    assert_eq!(
        setup["data"]["callBackSetup"],
        json!({ "available": true, "myLineTail": "•••• 555", "ringsTail": "•••• 555" })
    );
    answers.push(setup);

    // The conversation of a caller who texted offers the same callback.
    post(
        &twilio,
        "/webhooks/twilio/sms",
        &text_from("SM1", OTHER_CALLER, CLINIC_NUMBER, "Please ring me"),
        None,
    )
    .await;
    let threads = staff
        .run(
            "{ conversations(status: OPEN) { callerTail callBackCallId } }",
            json!({}),
        )
        .await;
    let offered = threads["data"]["conversations"]
        .as_array()
        .unwrap_or_else(|| panic!("{threads}"))
        .iter()
        .filter(|thread| thread["callBackCallId"] == json!(call_id))
        .count();
    assert_eq!(offered, 1, "{threads}");
    answers.push(threads);

    let audit = staff
        .run(
            "{ auditLog(first: 50) { edges { node { action } } } }",
            json!({}),
        )
        .await;
    let placed_entries = audit.to_string().matches("call.callback_placed").count();
    assert_eq!(placed_entries, 5, "{audit}");
    answers.push(audit);
    for answer in &answers {
        let text = answer.to_string();
        assert!(
            !text.contains("7700900123") && !text.contains("7700 900123"),
            "an answer shows the caller's number: {text}"
        );
    }

    // Strict mode: no number to dial, and every kept number is destroyed.
    staff
        .run(
            "mutation { updateClinicSettings(input: { privacyMode: \"strict\" }) { id } }",
            json!({}),
        )
        .await;
    let kept = test_db
        .query_strings(
            "SELECT count(*) || '' AS n FROM calls WHERE number_sealed IS NOT NULL",
            &["n"],
        )
        .await;
    assert_eq!(kept[0][0], "0", "strict mode keeps no number");
    let refused: Value = staff.run(CALL_BACK, json!({ "id": call_id })).await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("call log"), "{refused}");

    // Ten a minute per person, refused or not.
    let mut limited = false;
    for _ in 0..10 {
        let answer = staff.run(CALL_BACK, json!({ "id": call_id })).await;
        limited |= error_code(&answer) == Some("RATE_LIMITED");
    }
    assert!(limited, "callbacks are limited per person");
    let stored = test_db
        .stored_text(&["calls", "memberships", "audit_log"])
        .await;
    let logged = logs.text();
    assert!(
        logged.contains("staff did not take a placed callback"),
        "the server's logs were captured"
    );
    for number in [CALLER, OTHER_CALLER, "+447700900555", "+442079460321"] {
        for spelling in crate::common::logs::spellings(number) {
            assert!(!logged.contains(&spelling), "{spelling} logged");
        }
    }
    assert!(
        !stored.contains("7700900123") && !stored.contains("7700900555"),
        "numbers are kept sealed only"
    );
    test_db.finish().await;
}

on_both_databases!(calling_back_never_shows_the_number);

/// A clinic with two numbers calls a missed caller back from the number they rang: it rings
/// staff from it and shows it to the caller.
async fn a_callback_comes_from_the_number_the_caller_rang(kind: DatabaseKind) {
    const SECOND_NUMBER: &str = "+447700900778";
    let (test_db, fake, mut staff, call_id, _) =
        missed_call_to_call_back(kind, &[CLINIC_NUMBER, SECOND_NUMBER], SECOND_NUMBER).await;
    let placed = staff.run(CALL_BACK, json!({ "id": call_id })).await;
    assert!(placed["errors"].is_null(), "{placed}");
    let request = &fake.wait_for_calls(1, Duration::from_secs(10)).await[0];
    assert_eq!(
        request.from, SECOND_NUMBER,
        "staff see the number the caller rang"
    );
    let (twiml, dialled) = play_latest(&fake, 1, CallScript::Connected("completed")).await;
    assert_eq!(dialled.as_deref(), Some(CALLER), "{twiml}");
    assert!(
        twiml.contains(&format!("callerId=\"{SECOND_NUMBER}\"")),
        "the caller sees it too: {twiml}"
    );
    test_db.finish().await;
}

/// A clinic in `text_back` mode with a forwarding line and the Twilio `numbers`, and a missed
/// call of [`CALLER`] to `rang`: the database, the fake Twilio (played calls reach the server),
/// a signed-in staff member, the missed call's id and the server's state.
async fn missed_call_to_call_back(
    kind: DatabaseKind,
    numbers: &[&str],
    rang: &str,
) -> (
    TestDb,
    FakeTwilio,
    Browser<poem::endpoint::BoxEndpoint<'static>>,
    String,
    ringback_api::state::AppState,
) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let fake = test_db.fake_twilio(numbers).await;
    let state = test_db.state_with(web.path(), &crate::common::twilio_settings(&fake));
    let local = serve(build_app(state.clone())).await;
    fake.forward_callbacks(PUBLIC_URL, &local);
    let mut staff = Browser::new(build_app(state.clone()).map_to_response().boxed());
    staff.run(SIGN_UP, sign_up_input("two@clinic.test")).await;
    let setup = staff
        .run(
            "mutation { updateClinicSettings(input: { privacyMode: \"text_back\" }) { id } \
             setForwardingLine(number: \"020 7946 0321\") { forwardingLineTail } }",
            json!({}),
        )
        .await;
    assert!(setup["errors"].is_null(), "{setup}");
    for number in numbers {
        let added = staff
            .run(
                "mutation($n: String!) { addProviderNumber(number: $n) { id } }",
                json!({ "n": number }),
            )
            .await;
        assert!(added["errors"].is_null(), "{added}");
    }
    let twilio = TestClient::new(build_app(state.clone()));
    post(
        &twilio,
        "/webhooks/twilio/dial-status",
        &missed_call("CA1", CALLER, rang),
        None,
    )
    .await;
    let rows = waiting(&mut staff).await;
    (test_db, fake, staff, rows[0].1.clone(), state)
}

on_both_databases!(a_callback_comes_from_the_number_the_caller_rang);

/// Twilio refusing a callback over its call rate (429) placed nothing: the mark is cleared and
/// the next click places it. A confirmed one holds until its end is heard. An answer lost after
/// the call was placed (HTTP 500) keeps the mark from colleagues, but its placer may click again
/// after a minute, as they are told.
async fn a_callback_twilio_did_not_confirm_can_be_tried_again(kind: DatabaseKind) {
    let (test_db, fake, mut staff, call_id, _) =
        missed_call_to_call_back(kind, &[CLINIC_NUMBER], CLINIC_NUMBER).await;
    let call_back = json!({ "id": call_id });
    fake.fail_next_calls([CallFailure::TooManyRequests]);
    let limited = staff.run(CALL_BACK, call_back.clone()).await;
    assert_eq!(error_code(&limited), Some("UNAVAILABLE"), "{limited}");
    assert!(limited.to_string().contains("could not place"), "{limited}");
    let placed = staff.run(CALL_BACK, call_back.clone()).await;
    assert!(placed["errors"].is_null(), "placed at once: {placed}");
    // A callback Twilio confirmed is under way until its end is heard, for its placer too.
    test_db.clock.advance(chrono::Duration::seconds(61));
    let confirmed = staff.run(CALL_BACK, call_back.clone()).await;
    assert_eq!(error_code(&confirmed), Some("CONFLICT"), "{confirmed}");
    play_latest(&fake, 1, CallScript::FirstPartyMissed).await;

    fake.fail_next_calls([CallFailure::PlaceThenServerError]);
    let lost = staff.run(CALL_BACK, call_back.clone()).await;
    assert_eq!(error_code(&lost), Some("UNAVAILABLE"), "{lost}");
    assert!(lost.to_string().contains("within a minute"), "{lost}");
    let at_once = staff.run(CALL_BACK, call_back.clone()).await;
    assert_eq!(error_code(&at_once), Some("CONFLICT"), "{at_once}");
    test_db.clock.advance(chrono::Duration::seconds(61));
    let again = staff.run(CALL_BACK, call_back.clone()).await;
    assert!(again["errors"].is_null(), "after a minute: {again}");
    assert_eq!(fake.calls().len(), 3);

    // A callback phone the clinic later took as one of its numbers would ring back here.
    let mine = staff
        .run(
            "mutation { setMyCallbackLine(number: \"+447700900779\") }",
            json!({}),
        )
        .await;
    assert!(mine["errors"].is_null(), "{mine}");
    fake.provision_number("+447700900779");
    let added = staff
        .run(
            "mutation { addProviderNumber(number: \"+447700900779\") { id } }",
            json!({}),
        )
        .await;
    assert!(added["errors"].is_null(), "{added}");
    let refused = staff.run(CALL_BACK, call_back).await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    assert!(
        refused.to_string().contains("Ringback numbers"),
        "{refused}"
    );
    assert_eq!(fake.calls().len(), 3, "nothing placed");
    test_db.finish().await;
}

on_both_databases!(a_callback_twilio_did_not_confirm_can_be_tried_again);

/// Each placement of a callback has its own id in its signed webhook URLs, and only the current
/// one's requests count: a replayed confirmation never dials the caller twice, a dialled callback
/// stays under way while the conversation lasts (past the twenty minutes an undialled one holds),
/// a late report of an earlier placement neither ends the current one nor connects anybody, and
/// a call whose placing answer was lost but which staff answered is no longer placed again as
/// unconfirmed.
async fn only_the_current_placement_of_a_callback_counts(kind: DatabaseKind) {
    let (test_db, fake, mut staff, call_id, state) =
        missed_call_to_call_back(kind, &[CLINIC_NUMBER], CLINIC_NUMBER).await;
    let twilio = TestClient::new(build_app(state.clone()));
    let joiner = Browser::new(build_app(state.clone()).map_to_response().boxed());
    let mut colleague =
        crate::common::graphql::join(&mut staff, joiner, "sam@clinic.test", "RECEPTIONIST").await;
    let call_back = json!({ "id": call_id });
    let path = |url: &str| url.replace(PUBLIC_URL, "");
    let answer = |digits: Option<&'static str>| {
        let mut pairs = vec![("CallSid", "CAstaff1"), ("CallStatus", "in-progress")];
        pairs.extend(digits.map(|d| ("Digits", d)));
        pairs
    };

    let placed = staff.run(CALL_BACK, call_back.clone()).await;
    assert!(placed["errors"].is_null(), "{placed}");
    let first = fake.wait_for_calls(1, Duration::from_secs(10)).await[0].clone();
    assert!(first.url.contains("&placement="), "{}", first.url);
    let (_, gather) = post(&twilio, &path(&first.url), &answer(None), None).await;
    assert!(gather.contains("Press 1"), "{gather}");
    let confirm = path(&first.url).replace("/callback-connect?", "/callback-confirm?");
    let (_, dialling) = post(&twilio, &confirm, &answer(Some("1")), None).await;
    assert!(
        dialling.contains(&format!("{CALLER}</Number>")),
        "{dialling}"
    );
    let (_, replayed) = post(&twilio, &confirm, &answer(Some("1")), None).await;
    assert!(
        replayed.contains("has ended") && !replayed.contains("7700900123"),
        "dialled once per placement: {replayed}"
    );
    // Twenty-four minutes on (sessions renewed as the dashboard does).
    for _ in 0..2 {
        test_db.clock.advance(chrono::Duration::minutes(12));
        for browser in [&mut staff, &mut colleague] {
            let renewed = browser
                .run("mutation { refreshSession { role } }", json!({}))
                .await;
            assert!(renewed["errors"].is_null(), "{renewed}");
        }
    }
    let talking = colleague.run(CALL_BACK, call_back.clone()).await;
    assert_eq!(error_code(&talking), Some("CONFLICT"), "{talking}");

    // Staff's leg ends: the next placement may go, and the first's late reports change nothing.
    let status = path(first.status_callback.as_deref().expect("a status callback"));
    let ended = [("CallSid", "CAstaff1"), ("CallStatus", "completed")];
    post(&twilio, &status, &ended, None).await;
    let second = colleague.run(CALL_BACK, call_back.clone()).await;
    assert!(second["errors"].is_null(), "{second}");
    post(&twilio, &status, &ended, None).await;
    let still = staff.run(CALL_BACK, call_back.clone()).await;
    assert_eq!(error_code(&still), Some("CONFLICT"), "{still}");
    let (_, late) = post(&twilio, &path(&first.url), &answer(None), None).await;
    assert!(
        late.contains("has ended") && !late.contains("Press 1"),
        "{late}"
    );
    let (_, late) = post(&twilio, &confirm, &answer(Some("1")), None).await;
    assert!(late.contains("has ended"), "{late}");

    // A placement whose answer was lost, but whose call staff answered, is not placed again.
    play_latest(&fake, 2, CallScript::FirstPartyMissed).await;
    fake.fail_next_calls([CallFailure::PlaceThenServerError]);
    let lost = staff.run(CALL_BACK, call_back.clone()).await;
    assert_eq!(error_code(&lost), Some("UNAVAILABLE"), "{lost}");
    let third = fake.wait_for_calls(3, Duration::from_secs(10)).await[2].clone();
    let (_, gather) = post(&twilio, &path(&third.url), &answer(None), None).await;
    assert!(gather.contains("Press 1"), "{gather}");
    test_db.clock.advance(chrono::Duration::seconds(61));
    let again = staff.run(CALL_BACK, call_back.clone()).await;
    assert_eq!(error_code(&again), Some("CONFLICT"), "{again}");
    assert_eq!(fake.calls().len(), 3, "nothing more placed");

    // Never dialled and its end never heard: it lapses after twenty minutes.
    for _ in 0..2 {
        test_db.clock.advance(chrono::Duration::minutes(11));
        for browser in [&mut staff, &mut colleague] {
            browser
                .run("mutation { refreshSession { role } }", json!({}))
                .await;
        }
    }
    let lapsed = colleague.run(CALL_BACK, call_back.clone()).await;
    assert!(lapsed["errors"].is_null(), "{lapsed}");

    // A callback placed before placements had ids (under way at a deploy): its URLs name none;
    // answering it connects nobody, and its end still ends the mark.
    let fourth = fake.wait_for_calls(4, Duration::from_secs(10)).await[3].clone();
    test_db
        .execute_as_owner("UPDATE calls SET callback_placement = NULL")
        .await;
    let unnamed = |url: &str| {
        let cut = url.find("&placement=").expect("a placement");
        path(&url[..cut])
    };
    let (_, legacy) = post(&twilio, &unnamed(&fourth.url), &answer(None), None).await;
    assert!(legacy.contains("has ended"), "{legacy}");
    let legacy_status = unnamed(
        fourth
            .status_callback
            .as_deref()
            .expect("a status callback"),
    );
    post(&twilio, &legacy_status, &ended, None).await;
    let after = staff.run(CALL_BACK, call_back).await;
    assert!(after["errors"].is_null(), "{after}");
    test_db.finish().await;
}

on_both_databases!(only_the_current_placement_of_a_callback_counts);

/// A caller from a country the clinic does not text (nor call) is not called back through
/// Ringback: the deployment would pay for the call, and missed calls from abroad rung back are
/// how "one ring" scams earn. Listing the country under Settings allows it.
async fn callers_abroad_are_called_back_only_from_countries_the_clinic_lists(kind: DatabaseKind) {
    const ABROAD: &str = "+61491570006";
    let (test_db, _fake, mut staff, _, state) =
        missed_call_to_call_back(kind, &[CLINIC_NUMBER], CLINIC_NUMBER).await;
    let twilio = TestClient::new(build_app(state.clone()));
    post(
        &twilio,
        "/webhooks/twilio/dial-status",
        &missed_call("CA2", ABROAD, CLINIC_NUMBER),
        None,
    )
    .await;
    let abroad = waiting(&mut staff)
        .await
        .into_iter()
        .find(|(tail, _, _)| tail.ends_with("006"))
        .expect("the caller from abroad waits")
        .1;
    let refused = staff.run(CALL_BACK, json!({ "id": abroad })).await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    assert!(refused.to_string().contains("country"), "{refused}");
    assert!(!refused.to_string().contains("491"), "{refused}");
    let listed = staff
        .run(
            "mutation { updatePhoneSettings(input: { smsCountries: [\"GB\", \"AU\"] }) { smsCountries } }",
            json!({}),
        )
        .await;
    assert!(listed["errors"].is_null(), "{listed}");
    let placed = staff.run(CALL_BACK, json!({ "id": abroad })).await;
    assert!(placed["errors"].is_null(), "{placed}");
    test_db.finish().await;
}

on_both_databases!(callers_abroad_are_called_back_only_from_countries_the_clinic_lists);
