//! Twilio voice webhooks on SQLite and PostgreSQL: signatures are checked against the public URL
//! (bad or missing: 403, nothing stored), oversized bodies get 413, unknown numbers 404; the voice
//! webhook dials the forwarding line with the ring timeout and screens the forwarded leg; every
//! missed status (machines, and pick-ups nobody accepted) records a missed call, once per CallSid;
//! a call with no forwarding line is a missed call too; a caller's call end reported before the
//! dial's outcome (or without it) counts as screening decided; a withheld number is counted and
//! never texted; the clinic's own outbound calls are callbacks.

use crate::common::graphql::{Browser, SIGN_UP, sign_up_input};
use crate::common::twilio::{missed_call, post, text_from};
use crate::common::{PUBLIC_URL, TestDb, serve};
use poem::Endpoint;
use poem::http::StatusCode;
use poem::test::TestClient;
use ringback_api::config::DatabaseKind;
use ringback_api::fakes::twilio::{ANSWERED_DIAL_SECONDS, Answerer, EndReports};
use serde_json::{Value, json};

const CLINIC_NUMBER: &str = "+447700900777";
const CALLER: &str = "+447700900123";

fn dial_status<'a>(
    sid: &'a str,
    status: &'a str,
    answered_by: Option<&'a str>,
) -> Vec<(&'a str, &'a str)> {
    let mut params = vec![
        ("CallSid", sid),
        ("From", CALLER),
        ("To", CLINIC_NUMBER),
        ("Direction", "inbound"),
        ("DialCallStatus", status),
    ];
    if let Some(by) = answered_by {
        params.push(("AnsweredBy", by));
    }
    params
}

async fn calls<E: Endpoint>(admin: &mut Browser<E>) -> Vec<Value> {
    let answer = admin
        .run(
            "{ calls(first: 50) { edges { node { direction status missed source callerTail \
             startedAt answeredAt endedAt } } } }",
            json!({}),
        )
        .await;
    answer["data"]["calls"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// A clinic signed up by `email` whose provider number is [`CLINIC_NUMBER`] (held by the fake
/// Twilio it talks to) and whose forwarding line is 020 7946 0321; its admin's browser.
async fn clinic_with_a_line(
    test_db: &TestDb,
    web: &std::path::Path,
    email: &str,
) -> (
    ringback_api::fakes::twilio::FakeTwilio,
    Browser<impl Endpoint + use<>>,
) {
    let fake = test_db.fake_twilio(&[CLINIC_NUMBER]).await;
    let mut admin = Browser::new(test_db.app_with_twilio(web, &fake));
    admin.run(SIGN_UP, sign_up_input(email)).await;
    let set_up = admin
        .run(
            "mutation { setForwardingLine(number: \"020 7946 0321\") { forwardingLineTail } \
             addProviderNumber(number: \"07700 900777\") { id } }",
            json!({}),
        )
        .await;
    assert!(set_up["errors"].is_null(), "{set_up}");
    (fake, admin)
}

async fn voice_webhooks(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let (_fake, mut admin) = clinic_with_a_line(&test_db, web.path(), "phones@clinic.test").await;
    let twilio = TestClient::new(test_db.app(web.path()));

    let incoming = [
        ("CallSid", "CA100"),
        ("From", CALLER),
        ("To", CLINIC_NUMBER),
        ("Direction", "inbound"),
        ("CallStatus", "ringing"),
    ];
    let (status, twiml) = post(&twilio, "/webhooks/twilio/voice", &incoming, None).await;
    assert_eq!(status, StatusCode::OK, "voice: {twiml}");
    assert!(twiml.contains("<Dial timeout=\"18\""), "{twiml}");
    assert!(twiml.contains(">+442079460321</Number>"), "{twiml}");
    assert!(
        twiml.contains(&format!(
            "<Number url=\"{PUBLIC_URL}/webhooks/twilio/screen?clinic="
        )) && twiml.contains("&amp;call=CA100\""),
        "the forwarded leg is screened: {twiml}"
    );
    assert!(
        twiml.contains(&format!(
            "action=\"{PUBLIC_URL}/webhooks/twilio/dial-status\""
        )),
        "{twiml}"
    );

    let (status, _) = post(
        &twilio,
        "/webhooks/twilio/dial-status",
        &dial_status("CA100", "no-answer", None),
        Some("bad".to_owned()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(
        &twilio,
        "/webhooks/twilio/voice",
        &incoming,
        Some(String::new()),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a missing signature is refused"
    );
    assert!(
        calls(&mut admin).await.is_empty(),
        "a refused webhook stores nothing"
    );

    let unknown = [
        ("CallSid", "CA101"),
        ("From", CALLER),
        ("To", "+447700900778"),
        ("Direction", "inbound"),
    ];
    let (status, _) = post(&twilio, "/webhooks/twilio/voice", &unknown, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let huge = "x".repeat(ringback_api::webhooks::twilio::MAX_BODY + 1);
    let (status, _) = post(
        &twilio,
        "/webhooks/twilio/voice",
        &[("CallSid", "CA102"), ("Padding", &huge)],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let outcomes = [
        ("CA1", "no-answer", None),
        ("CA2", "busy", None),
        ("CA3", "failed", None),
        ("CA4", "canceled", None),
        ("CA5", "completed", Some("machine_end_beep")),
        ("CA6", "completed", None),
    ];
    for (sid, status, by) in outcomes {
        let (code, body) = post(
            &twilio,
            "/webhooks/twilio/dial-status",
            &dial_status(sid, status, by),
            None,
        )
        .await;
        assert_eq!(code, StatusCode::OK, "{body}");
        // A caller still on the line hears why the call ends: the first missed call is texted
        // back, the later ones within a day are not.
        let words = if sid == "CA1" {
            "We will text you back."
        } else {
            "Please call again later."
        };
        assert!(body.contains(words), "{sid}: {body}");
    }
    let (code, _) = post(
        &twilio,
        "/webhooks/twilio/dial-status",
        &dial_status("CA1", "no-answer", None),
        None,
    )
    .await;
    assert_eq!(code, StatusCode::OK, "a retry is accepted");
    // Twilio's clock ten minutes ahead of ours: the call is still recorded, as starting no later
    // than its report came.
    let ahead = (test_db.clock.now() + chrono::Duration::minutes(10)).to_rfc2822();
    let callback = [
        ("CallSid", "CA7"),
        ("From", CLINIC_NUMBER),
        ("To", CALLER),
        ("Direction", "outbound-api"),
        ("CallStatus", "completed"),
        ("Timestamp", ahead.as_str()),
        ("CallDuration", "30"),
    ];
    post(&twilio, "/webhooks/twilio/call-status", &callback, None).await;

    let recorded = calls(&mut admin).await;
    assert_eq!(
        recorded.len(),
        7,
        "six dial outcomes and one callback, the retry changed nothing: {recorded:?}"
    );
    let missed = recorded
        .iter()
        .filter(|call| call["node"]["missed"] == true)
        .count();
    assert_eq!(
        missed, 6,
        "no-answer, busy, failed, canceled, machine and an unscreened pick-up are missed"
    );
    let outbound: Vec<&Value> = recorded
        .iter()
        .filter(|call| call["node"]["direction"] == "OUTBOUND")
        .collect();
    assert_eq!(outbound.len(), 1);
    assert_eq!(outbound[0]["node"]["status"], "ANSWERED");
    assert!(
        recorded
            .iter()
            .all(|call| call["node"]["source"] == "twilio"
                && call["node"]["callerTail"] == "•••• 123")
    );
    let stored = test_db
        .stored_text(&["calls", "clinics", "provider_numbers"])
        .await;
    assert!(
        !stored.contains("7700900123"),
        "the caller's number is not stored"
    );
    test_db.finish().await;
}

fn sms<'a>(sid: &'a str, body: &'a str) -> Vec<(&'a str, &'a str)> {
    text_from(sid, CALLER, CLINIC_NUMBER, body)
}

async fn opted_out(test_db: &TestDb) -> usize {
    test_db
        .query_strings("SELECT count(*) || '' AS n FROM opt_outs", &["n"])
        .await[0][0]
        .parse()
        .expect("count")
}

async fn inbound_sms(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let fake = test_db.fake_twilio(&[CLINIC_NUMBER]).await;
    let mut admin = Browser::new(test_db.app_with_twilio(web.path(), &fake));
    admin.run(SIGN_UP, sign_up_input("texts@clinic.test")).await;
    admin
        .run(
            "mutation { addProviderNumber(number: \"07700 900777\") { id } }",
            json!({}),
        )
        .await;
    let twilio = TestClient::new(test_db.app(web.path()));

    // A missed call, then the caller replies to the text: the booking that follows is recovered.
    post(
        &twilio,
        "/webhooks/twilio/dial-status",
        &dial_status("CA900", "no-answer", None),
        None,
    )
    .await;
    let (status, twiml) = post(
        &twilio,
        "/webhooks/twilio/sms",
        &sms("SM1", "Yes please, can I book a check-up?"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !twiml.contains("<Message"),
        "a reply gets no automatic answer: {twiml}"
    );
    let booked = admin
        .run("mutation { createAppointment(input: { callerNumber: \"07700 900123\", valueMinor: 4500 }) { attribution { status touchKind } } }", json!({}))
        .await;
    assert_eq!(
        booked["data"]["createAppointment"]["attribution"]["touchKind"], "text_reply",
        "{booked}"
    );

    let (_, twiml) = post(&twilio, "/webhooks/twilio/sms", &sms("SM2", " stop "), None).await;
    assert!(twiml.contains(">You will get no more texts"), "{twiml}");
    assert_eq!(opted_out(&test_db).await, 1);
    // Twilio redelivers only when our answer did not reach it: the caller never had the
    // confirmation, so it is answered again; nothing else changes.
    let (_, repeat) = post(&twilio, "/webhooks/twilio/sms", &sms("SM2", " stop "), None).await;
    assert!(
        repeat.contains(">You will get no more texts"),
        "a redelivered STOP is confirmed again: {repeat}"
    );
    assert_eq!(opted_out(&test_db).await, 1);
    let (_, reply_again) = post(
        &twilio,
        "/webhooks/twilio/sms",
        &sms("SM1", "Yes please, can I book a check-up?"),
        None,
    )
    .await;
    assert!(
        !reply_again.contains("<Message"),
        "a redelivered reply gets no answer: {reply_again}"
    );
    let (_, help) = post(&twilio, "/webhooks/twilio/sms", &sms("SM3", "HELP"), None).await;
    assert!(help.contains("(Automated text)"), "{help}");
    let (_, start) = post(&twilio, "/webhooks/twilio/sms", &sms("SM4", "Start"), None).await;
    assert!(start.contains("again"), "{start}");
    assert_eq!(opted_out(&test_db).await, 0);

    let (status, _) = post(
        &twilio,
        "/webhooks/twilio/sms",
        &sms("SM5", "STOP"),
        Some("forged".to_owned()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        opted_out(&test_db).await,
        0,
        "a forged STOP changes nothing"
    );
    let stored = test_db
        .stored_text(&["messages", "conversations", "opt_outs"])
        .await;
    assert!(
        !stored.contains("7700900123") && !stored.contains("check-up"),
        "numbers and bodies are not stored in clear"
    );
    test_db.finish().await;
}

async fn text_back_status<E: Endpoint>(admin: &mut Browser<E>) -> Vec<(String, String)> {
    let answer = admin.run("{ calls(first: 50, filter: { missed: true }) { edges { node { callerTail textBackStatus } } } }", json!({})).await;
    let mut rows: Vec<(String, String)> = answer["data"]["calls"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|edge| {
            let node = &edge["node"];
            (
                node["callerTail"].as_str().unwrap_or_default().to_owned(),
                node["textBackStatus"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    rows.sort();
    rows
}

async fn missed_calls_queue_one_text_back_each_rule_recorded(kind: DatabaseKind) {
    // Noon: the monthly quota below counts from the start of the month, which a run started
    // just before it would cross.
    let test_db = TestDb::at_midday(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let fake = test_db.fake_twilio(&[CLINIC_NUMBER]).await;
    let mut admin = Browser::new(test_db.app_with_twilio(web.path(), &fake));
    admin.run(SIGN_UP, sign_up_input("queue@clinic.test")).await;
    admin
        .run(
            "mutation { addProviderNumber(number: \"07700 900777\") { id } }",
            json!({}),
        )
        .await;
    let twilio = TestClient::new(test_db.app(web.path()));
    let missed_from = |sid: &'static str, from: &'static str| missed_call(sid, from, CLINIC_NUMBER);

    post(
        &twilio,
        "/webhooks/twilio/dial-status",
        &missed_from("CA1", "+447700900111"),
        None,
    )
    .await;
    post(
        &twilio,
        "/webhooks/twilio/dial-status",
        &missed_from("CA1", "+447700900111"),
        None,
    )
    .await;
    post(
        &twilio,
        "/webhooks/twilio/dial-status",
        &missed_from("CA2", "+447700900111"),
        None,
    )
    .await;
    post(
        &twilio,
        "/webhooks/twilio/dial-status",
        &missed_from("CA3", "+442079460999"),
        None,
    )
    .await;
    let stop = [
        ("MessageSid", "SM1"),
        ("From", "+447700900222"),
        ("To", CLINIC_NUMBER),
        ("Body", "STOP"),
    ];
    post(&twilio, "/webhooks/twilio/sms", &stop, None).await;
    post(
        &twilio,
        "/webhooks/twilio/dial-status",
        &missed_from("CA4", "+447700900222"),
        None,
    )
    .await;
    let late = admin
        .run(
            "mutation($at: DateTime!) { recordCallEvents(events: [{ externalId: \"late\", direction: INBOUND, status: BUSY, \
             startedAt: $at, callerNumber: \"07700 900333\" }]) { recorded } }",
            json!({ "at": (test_db.clock.now() - chrono::Duration::hours(2)).to_rfc3339() }),
        )
        .await;
    assert_eq!(late["data"]["recordCallEvents"]["recorded"], 1, "{late}");

    let quota = admin
        .run(
            "mutation { updatePhoneSettings(input: { smsMonthlyQuota: 1 }) { smsMonthlyQuota } }",
            json!({}),
        )
        .await;
    assert_eq!(
        quota["data"]["updatePhoneSettings"]["smsMonthlyQuota"], 1,
        "{quota}"
    );
    post(
        &twilio,
        "/webhooks/twilio/dial-status",
        &missed_from("CA6", "+447700900555"),
        None,
    )
    .await;
    let off = admin
        .run("mutation { updatePhoneSettings(input: { textBackEnabled: false, textBackDelaySeconds: 30 }) { textBackEnabled textBackDelaySeconds } }", json!({}))
        .await;
    assert_eq!(
        off["data"]["updatePhoneSettings"]["textBackDelaySeconds"], 30,
        "{off}"
    );
    post(
        &twilio,
        "/webhooks/twilio/dial-status",
        &missed_from("CA5", "+447700900444"),
        None,
    )
    .await;
    let too_slow = admin.run("mutation { updatePhoneSettings(input: { textBackDelaySeconds: 121 }) { textBackDelaySeconds } }", json!({})).await;
    assert_eq!(
        crate::common::graphql::error_code(&too_slow),
        Some("BAD_USER_INPUT")
    );

    let statuses = text_back_status(&mut admin).await;
    let expected: Vec<(String, String)> = [
        ("•••• 111", "queued"),
        ("•••• 111", "skipped:duplicate"),
        ("•••• 222", "skipped:opted_out"),
        ("•••• 333", "skipped:too_old"),
        ("•••• 444", "skipped:disabled"),
        ("•••• 555", "skipped:over_quota"),
        ("•••• 999", "skipped:landline"),
    ]
    .iter()
    .map(|(tail, status)| ((*tail).to_owned(), (*status).to_owned()))
    .collect();
    assert_eq!(statuses, expected);
    let jobs = test_db
        .query_strings("SELECT count(*) || '' AS n FROM job_outbox", &["n"])
        .await;
    assert_eq!(
        jobs[0][0], "1",
        "one job for one queued text-back, none for a retried webhook"
    );
    let stored = test_db.stored_text(&["job_outbox", "calls"]).await;
    assert!(
        !stored.contains("7700900111"),
        "the job holds the number sealed only"
    );
    test_db.finish().await;
}

/// The screening URL in a TwiML answer (`<Number url="…">` or `<Gather action="…">`), as a path.
fn screening_path(twiml: &str, attribute: &str) -> String {
    let start = twiml
        .find(&format!("{attribute}=\"{PUBLIC_URL}"))
        .unwrap_or_else(|| panic!("no {attribute} in {twiml}"))
        + attribute.len()
        + 2
        + PUBLIC_URL.len();
    let end = start + twiml[start..].find('"').expect("closing quote");
    twiml[start..end].replace("&amp;", "&")
}

/// The parameters Twilio sends for the forwarded (child) leg of call `parent`.
fn forwarded_leg<'a>(child: &'a str, parent: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("AccountSid", "ACtest"),
        ("CallSid", child),
        ("ParentCallSid", parent),
        ("From", CALLER),
        ("To", "+442079460321"),
        ("Direction", "outbound-dial"),
        ("CallStatus", "in-progress"),
    ]
}

async fn statuses<E: Endpoint>(admin: &mut Browser<E>) -> Vec<(String, bool)> {
    let mut rows: Vec<(String, bool)> = calls(admin)
        .await
        .iter()
        .map(|edge| {
            let node = &edge["node"];
            (
                node["status"].as_str().unwrap_or_default().to_owned(),
                node["missed"] == true,
            )
        })
        .collect();
    rows.sort();
    rows
}

async fn screening_tells_a_person_from_voicemail(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let (fake, mut admin) = clinic_with_a_line(&test_db, web.path(), "screen@clinic.test").await;
    let twilio = TestClient::new(test_db.app(web.path()));
    let local = serve(test_db.app(web.path())).await;
    fake.forward_callbacks(PUBLIC_URL, &local);
    let voice = format!("{PUBLIC_URL}/webhooks/twilio/voice");
    let ring = async |sid: &str, answerer: Answerer| -> Vec<String> {
        fake.ring_in(
            &voice,
            (sid, CALLER, CLINIC_NUMBER),
            answerer,
            EndReports::DialFirst,
        )
        .await
        .unwrap_or_else(|e| panic!("{sid}: {e}"))
        .answers
    };

    // Answers: the dial, the screening prompt, the key press (if any), the dial's outcome.
    let put_through = ring("CA1", Answerer::Person("1")).await;
    assert!(
        put_through[0].contains(">+442079460321</Number>") && !put_through[2].contains("Hangup"),
        "pressing 1 puts the caller through: {put_through:?}"
    );
    assert_eq!(statuses(&mut admin).await, [("ANSWERED".to_owned(), false)]);
    let answered = calls(&mut admin).await[0]["node"].clone();
    let instant = |field: &str| {
        chrono::DateTime::parse_from_rfc3339(answered[field].as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{field}: {e}: {answered}"))
    };
    assert_eq!(
        (instant("endedAt") - instant("startedAt")).num_seconds(),
        ANSWERED_DIAL_SECONDS,
        "an answered call dates from when the line picked up (a booking made during it comes \
         after it), not from the dial's report at its end"
    );
    assert_eq!(instant("answeredAt"), instant("startedAt"));

    let voicemail = ring("CA2", Answerer::Voicemail).await;
    assert!(
        voicemail[1].contains("<Gather numDigits=\"1\"")
            && voicemail[1].ends_with("<Hangup/></Response>"),
        "nobody pressing ends the forwarded leg: {voicemail:?}"
    );
    let declined = ring("CA3", Answerer::Person("2")).await;
    assert!(declined[2].contains("<Hangup/>"), "{declined:?}");
    assert_eq!(
        statuses(&mut admin).await,
        [
            ("ANSWERED".to_owned(), false),
            ("VOICEMAIL".to_owned(), true),
            ("VOICEMAIL".to_owned(), true),
        ],
        "a pick-up nobody accepted is a missed call"
    );
    assert_eq!(
        text_back_status(&mut admin).await,
        [
            ("•••• 123".to_owned(), "queued".to_owned()),
            ("•••• 123".to_owned(), "skipped:duplicate".to_owned()),
        ],
        "the voicemail call gets its text-back"
    );

    // Twilio's own machine detection, when a deployment asks for it, reports `AnsweredBy`.
    ring("CA4", Answerer::DetectedMachine("machine_end_silence")).await;
    assert!(
        statuses(&mut admin)
            .await
            .contains(&("MACHINE".to_owned(), true)),
        "AnsweredBy=machine_* is a missed call"
    );
    ring("CA8", Answerer::Nobody).await;
    assert!(
        statuses(&mut admin)
            .await
            .contains(&("NO_ANSWER".to_owned(), true)),
        "nobody picking up is a missed call"
    );

    // A screening URL naming another clinic, or signed for another URL, is refused.
    let incoming = [
        ("CallSid", "CA5"),
        ("From", CALLER),
        ("To", CLINIC_NUMBER),
        ("Direction", "inbound"),
    ];
    let (_, dial) = post(&twilio, "/webhooks/twilio/voice", &incoming, None).await;
    let screen = screening_path(&dial, "url");
    let leg = forwarded_leg("CA5-leg", "CA5");
    let signed_elsewhere = ringback_api::webhooks::twilio_signature::sign(
        crate::common::TWILIO_AUTH_TOKEN,
        &format!("{PUBLIC_URL}{}", screen.replace("CA5", "CA6")),
        &crate::common::twilio::params(&leg),
    );
    let (status, _) = post(&twilio, &screen, &leg, Some(signed_elsewhere)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post(&twilio, "/webhooks/twilio/screen?call=CA5", &leg, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "no clinic named");

    // Without a forwarding line the caller is told they will be texted, and they are.
    admin
        .run(
            "mutation { setForwardingLine(number: null) { forwardingLineTail } }",
            json!({}),
        )
        .await;
    let other_caller = [
        ("CallSid", "CA7"),
        ("From", "+447700900124"),
        ("To", CLINIC_NUMBER),
        ("Direction", "inbound"),
        ("CallStatus", "ringing"),
    ];
    let (status, said) = post(&twilio, "/webhooks/twilio/voice", &other_caller, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(said.contains("We will text you back"), "{said}");
    post(&twilio, "/webhooks/twilio/voice", &other_caller, None).await;
    assert!(
        statuses(&mut admin)
            .await
            .contains(&("NO_LINE".to_owned(), true)),
        "a call with no forwarding line is missed"
    );
    assert!(
        text_back_status(&mut admin)
            .await
            .contains(&("•••• 124".to_owned(), "queued".to_owned())),
        "and texted back once (a redelivered webhook adds nothing)"
    );
    assert_eq!(calls(&mut admin).await.len(), 6);

    // A caller who withheld their number is counted as missed, kept under no key, never texted
    // and not promised a text; so is one whose number the dial's outcome spells on the keypad.
    let jobs = async |test_db: &TestDb| {
        test_db
            .query_strings("SELECT count(*) || '' AS n FROM job_outbox", &["n"])
            .await
    };
    let jobs_before = jobs(&test_db).await;
    let withheld = [
        ("CallSid", "CA20"),
        ("From", "Anonymous"),
        ("To", CLINIC_NUMBER),
        ("Direction", "inbound"),
        ("CallStatus", "ringing"),
    ];
    let (status, said) = post(&twilio, "/webhooks/twilio/voice", &withheld, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        said.contains("Please call again later") && !said.contains("text you back"),
        "{said}"
    );
    let (status, _) = post(
        &twilio,
        "/webhooks/twilio/dial-status",
        &missed_call("CA21", "+266696687", CLINIC_NUMBER),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let withheld_rows: Vec<(String, String)> = text_back_status(&mut admin)
        .await
        .into_iter()
        .filter(|(_, status)| status == "skipped:withheld")
        .collect();
    assert_eq!(
        withheld_rows,
        vec![("••••".to_owned(), "skipped:withheld".to_owned()); 2]
    );
    assert_eq!(calls(&mut admin).await.len(), 8);

    // A caller ID that is no phone number still rang the clinic: the caller hears an answer, and
    // the call is counted without a caller, like a withheld one.
    let unreadable = [
        ("CallSid", "CA22"),
        ("From", "+4412"),
        ("To", CLINIC_NUMBER),
        ("Direction", "inbound"),
        ("CallStatus", "ringing"),
    ];
    let (status, said) = post(&twilio, "/webhooks/twilio/voice", &unreadable, None).await;
    assert_eq!(status, StatusCode::OK, "{said}");
    assert!(said.contains("<Response>"), "{said}");
    let (status, _) = post(
        &twilio,
        "/webhooks/twilio/dial-status",
        &missed_call("CA22", "+4412", CLINIC_NUMBER),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text_back_status(&mut admin)
            .await
            .contains(&("••••".to_owned(), "skipped:unreadable".to_owned())),
        "counted, not texted"
    );
    assert_eq!(calls(&mut admin).await.len(), 9);
    assert_eq!(
        jobs(&test_db).await,
        jobs_before,
        "no text-back is queued for them"
    );
    test_db.finish().await;
}

/// Twilio answers every incoming call to play its TwiML, so the caller's call ending
/// (`CallStatus=completed` to the number's status callback) says nothing about whether the clinic
/// took it: when that report comes before the dial's outcome, or alone, the call is recorded as
/// call screening decided, and a missed caller is texted back.
async fn a_call_end_before_the_dials_outcome_counts_as_screening_decided(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let (fake, mut admin) = clinic_with_a_line(&test_db, web.path(), "order@clinic.test").await;
    let pointed = admin
        .run(
            "mutation($sid: ID!) { useAccountNumber(sid: $sid) { id } }",
            json!({ "sid": fake.numbers()[0].sid }),
        )
        .await;
    assert!(pointed["errors"].is_null(), "{pointed}");
    assert!(fake.numbers()[0].status_callback.ends_with("/call-status"));
    let local = serve(test_db.app(web.path())).await;
    fake.forward_callbacks(PUBLIC_URL, &local);
    let voice = format!("{PUBLIC_URL}/webhooks/twilio/voice");
    let ring = async |sid: &str, from: &str, answerer: Answerer, reports: EndReports| {
        fake.ring_in(&voice, (sid, from, CLINIC_NUMBER), answerer, reports)
            .await
            .unwrap_or_else(|e| panic!("{sid}: {e}"))
    };

    ring(
        "CA1",
        CALLER,
        Answerer::Person("1"),
        EndReports::CallEndFirst,
    )
    .await;
    assert_eq!(statuses(&mut admin).await, [("ANSWERED".to_owned(), false)]);
    ring(
        "CA2",
        "+447700900124",
        Answerer::Voicemail,
        EndReports::CallEndFirst,
    )
    .await;
    ring(
        "CA3",
        "+447700900125",
        Answerer::Person("2"),
        EndReports::CallEndOnly,
    )
    .await;
    ring(
        "CA4",
        "+447700900126",
        Answerer::Nobody,
        EndReports::CallEndOnly,
    )
    .await;
    assert_eq!(
        statuses(&mut admin).await,
        [
            ("ANSWERED".to_owned(), false),
            ("NO_ANSWER".to_owned(), true),
            ("NO_ANSWER".to_owned(), true),
            ("NO_ANSWER".to_owned(), true),
        ],
        "a call nobody accepted is missed, whichever report came first"
    );
    assert_eq!(
        text_back_status(&mut admin).await,
        [
            ("•••• 124".to_owned(), "queued".to_owned()),
            ("•••• 125".to_owned(), "queued".to_owned()),
            ("•••• 126".to_owned(), "queued".to_owned()),
        ],
        "and each missed caller is texted back once"
    );

    // With no forwarding line the call is recorded as it comes in; its end changes nothing.
    admin
        .run(
            "mutation { setForwardingLine(number: null) { forwardingLineTail } }",
            json!({}),
        )
        .await;
    ring(
        "CA5",
        "+447700900127",
        Answerer::Nobody,
        EndReports::CallEndFirst,
    )
    .await;
    let recorded = statuses(&mut admin).await;
    assert_eq!(recorded.len(), 5, "{recorded:?}");
    assert!(
        recorded.contains(&("NO_LINE".to_owned(), true)),
        "{recorded:?}"
    );
    test_db.finish().await;
}

on_both_databases!(
    a_call_end_before_the_dials_outcome_counts_as_screening_decided,
    screening_tells_a_person_from_voicemail,
    voice_webhooks,
    inbound_sms,
    missed_calls_queue_one_text_back_each_rule_recorded,
);
