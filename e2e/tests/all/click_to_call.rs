//! Calling back from the worklist in the browser, against the real binary and the fake Twilio: a
//! receptionist finds a demo caller who rang again by typing their number, presses "Call back",
//! the provider receives the call request for the clinic's line, the fake answers and connects to
//! the caller (whose number only the provider sees), the callback is recorded as answered, the
//! caller leaves the worklist by itself, neither the page nor any response it received ever
//! contains the number, and the list's refreshing ends when the receptionist moves on.

use std::time::Duration;

use ringback_api::fakes::twilio::{CallScript, FakeTwilio};
use ringback_e2e::browser::Browser;
use ringback_e2e::pages::{
    AcceptInvitePage, AppointmentsPage, OverviewPage, WorklistPage, record_responses,
    recorded_responses,
};
use ringback_e2e::server::{DEMO_OWNER, RingbackServer};
use ringback_e2e::{CLINIC_NUMBER, E2eError, miss_a_call, on_demo_with_sms};
use serde_json::json;

/// A demo caller (from the demo's pool of numbers) who rings again and is missed.
const DEMO_CALLER: &str = "+447700900042";
/// Every way the page might spell that number.
const SPELLINGS: &[&str] = &["7700900042", "7700 900042", "07700900042"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receptionist_calls_back_without_seeing_the_number() {
    on_demo_with_sms(
        "a_receptionist_calls_back_without_seeing_the_number",
        call_back_from_the_worklist,
    )
    .await;
}

async fn call_back_from_the_worklist(
    browser: &Browser,
    server: &RingbackServer,
    fake: &FakeTwilio,
) -> Result<(), E2eError> {
    // The clinic keeps numbers sealed for callbacks and forwards to its line (it calls from its
    // Twilio number); it invites a receptionist.
    let cookie = server.api_session(DEMO_OWNER.0, DEMO_OWNER.1)?;
    let (_, set_up) = server.graphql_as(
        Some(&cookie),
        "mutation { updateClinicSettings(input: { privacyMode: \"text_back\" }) { id } \
         setForwardingLine(number: \"020 7946 0321\") { forwardingLineTail } \
         inviteMember(email: \"desk@demo.ringback.test\", displayName: \"Sam\", role: RECEPTIONIST) { token } }",
        json!({}),
    )?;
    let token = set_up["data"]["inviteMember"]["token"]
        .as_str()
        .ok_or_else(|| E2eError::Assertion(format!("set-up failed: {set_up}")))?;

    // A demo caller rings again and nobody answers.
    miss_a_call(server, "CAe2e00000000000000000000000000042", DEMO_CALLER)?;
    let (_, newest) = server.graphql_as(
        Some(&cookie),
        "{ calls(first: 1, filter: { missed: true }) { edges { node { callerKey } } } }",
        json!({}),
    )?;
    let caller_key = newest["data"]["calls"]["edges"][0]["node"]["callerKey"]
        .as_str()
        .ok_or_else(|| E2eError::Assertion(format!("no missed call: {newest}")))?
        .to_owned();

    // The receptionist joins and calls back from the worklist.
    AcceptInvitePage::open(
        &browser.client,
        &format!("{}accept-invite#{token}", server.url),
    )
    .await?
    .join("reception password 1")
    .await?;
    OverviewPage::wait(&browser.client).await?;
    record_responses(&browser.client).await?;
    let worklist = WorklistPage::open(&browser.client).await?;
    let found = worklist.find_caller("07700 900042").await?;
    if found != caller_key {
        return Err(E2eError::Assertion(format!(
            "finding the number gave {found:?}, not {caller_key:?}"
        )));
    }
    let ringing = worklist.call_back(&caller_key).await?;
    if !ringing.contains("•••• 321") {
        return Err(E2eError::Assertion(format!(
            "the page says {ringing:?}, not that the clinic's line rings"
        )));
    }

    // The provider rings the clinic's line; once answered, it dials the caller.
    let requested = fake.wait_for_calls(1, Duration::from_secs(20)).await;
    let call = requested
        .first()
        .ok_or_else(|| E2eError::Assertion("the provider got no call request".to_owned()))?;
    if call.to != "+442079460321" || call.from != CLINIC_NUMBER {
        return Err(E2eError::Assertion(format!(
            "the call request rings {} from {}",
            call.to, call.from
        )));
    }
    let played = fake
        .play_call(&call.sid, CallScript::Connected("completed"))
        .await
        .map_err(E2eError::Assertion)?;
    if played.dialled.as_deref() != Some(DEMO_CALLER) {
        return Err(E2eError::Assertion(format!(
            "the answered call dialled {:?}",
            played.dialled
        )));
    }

    // Answered: recorded, and the caller leaves the list without a reload.
    worklist.wait_until_called_back(&caller_key).await?;
    let (_, outbound) = server.graphql_as(
        Some(&cookie),
        "query($key: String!) { calls(first: 1, filter: { callerKey: $key, direction: OUTBOUND }) \
         { edges { node { status source } } } }",
        json!({ "key": caller_key }),
    )?;
    if outbound["data"]["calls"]["edges"][0]["node"]
        != json!({ "status": "ANSWERED", "source": "twilio" })
    {
        return Err(E2eError::Assertion(format!(
            "the callback is not recorded as answered: {outbound}"
        )));
    }

    // The number is nowhere in the page or in anything it received.
    let page = browser.client.source().await?;
    let responses = recorded_responses(&browser.client).await?;
    if responses.iter().all(|body| !body.contains("worklist")) {
        return Err(E2eError::Assertion(
            "no worklist response was recorded".to_owned(),
        ));
    }
    for spelling in SPELLINGS {
        if page.contains(spelling) || responses.iter().any(|body| body.contains(spelling)) {
            return Err(E2eError::Assertion(format!(
                "the caller's number ({spelling}) reached the browser"
            )));
        }
    }

    // Leaving the page ends its refreshing: nothing of it runs on under the next page (a tick
    // after the page was gone would panic, and a panic stops the whole dashboard).
    AppointmentsPage::open(&browser.client).await?;
    tokio::time::sleep(Duration::from_secs(7)).await;
    let errors = browser.console_errors().await?;
    if !errors.is_empty() {
        return Err(E2eError::Assertion(format!(
            "the browser console has errors after leaving the worklist: {errors:#?}"
        )));
    }
    Ok(())
}
