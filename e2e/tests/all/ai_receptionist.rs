//! The AI receptionist in the browser, against the real binary, the fake Twilio and the fake
//! Anthropic model: the demo clinic's owner reads what turning the AI on means for a dental
//! clinic, turns it on, adds a service to the price list and says what a standard visit is
//! worth; a caller who was missed replies to the text-back (a signed webhook), the AI finds a
//! slot, books it and answers with the automated marker; the appointment shows as recovered and
//! booked by the AI, the conversation shows the AI's message, its steps and the caller's intake
//! answers in the clinic's order; a receptionist turns off the mails of callers handed to them
//! and takes the conversation over. The model never sees the caller's number in any spelling.

use std::time::Duration;

use ringback_api::demo::LATEST_START_DAYS;
use ringback_api::fakes::anthropic::{API_KEY, FakeAnthropic, Reply};
use ringback_api::fakes::smtp::FakeSmtp;
use ringback_api::fakes::twilio::FakeTwilio;
use ringback_e2e::browser::Browser;
use ringback_e2e::pages::{
    AcceptInvitePage, AiReceptionistPage, AppointmentsPage, InboxPage, OverviewPage, sign_in,
    sign_out,
};
use ringback_e2e::server::{DEMO_OWNER, RingbackServer};
use ringback_e2e::{
    CLINIC_NUMBER, E2eError, PUBLIC_URL, TWILIO_AUTH_TOKEN, miss_a_call, on_demo,
    on_demo_with_sms_and,
};
use serde_json::json;

/// The caller who is missed and then replies.
const CALLER: &str = "+447700900555";
/// Every way a request to the model might spell that number.
const SPELLINGS: &[&str] = &["7700900555", "7700 900555", "900555", "900 555"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ai_books_a_caller_and_a_receptionist_takes_over() {
    let model = FakeAnthropic::start(API_KEY)
        .await
        .unwrap_or_else(|e| panic!("fake Anthropic: {e}"));
    // Mail goes out, so a member may choose the hand-off mails.
    let smtp = FakeSmtp::start()
        .await
        .unwrap_or_else(|e| panic!("fake SMTP: {e}"));
    let settings = [
        ("RINGBACK_ANTHROPIC_API_KEY", API_KEY),
        ("RINGBACK_ANTHROPIC_API_URL", model.api_url()),
        ("RINGBACK_SMTP_URL", smtp.url()),
        ("RINGBACK_MAIL_FROM", "Ringback <no-reply@ringback.test>"),
    ];
    on_demo_with_sms_and(
        "the_ai_books_a_caller_and_a_receptionist_takes_over",
        &settings,
        async |browser, server, twilio| book_then_take_over(browser, server, twilio, &model).await,
    )
    .await;
}

/// The first Monday after every demo appointment has started, as `YYYY-MM-DD`: its openings
/// are all free whatever day the test runs on.
fn monday_ahead() -> String {
    let clear = chrono::Duration::days(LATEST_START_DAYS as i64 + 2);
    let mut day = (chrono::Utc::now() + clear).date_naive();
    while chrono::Datelike::weekday(&day) != chrono::Weekday::Mon {
        day = day.succ_opt().unwrap_or(day);
    }
    day.format("%Y-%m-%d").to_string()
}

/// Waits until the newest missed call's text-back is recorded as sent or delivered (its message
/// is in the caller's conversation), so a reply comes after it as it would from a real caller.
async fn wait_until_texted_back(server: &RingbackServer, cookie: &str) -> Result<(), E2eError> {
    let query =
        "{ calls(first: 1, filter: { missed: true }) { edges { node { textBackStatus } } } }";
    let mut status = serde_json::Value::Null;
    for _ in 0..150 {
        let (_, answer) = server.graphql_as(Some(cookie), query, json!({}))?;
        status = answer["data"]["calls"]["edges"][0]["node"]["textBackStatus"].clone();
        if status == "sent" || status == "delivered" {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(E2eError::Assertion(format!(
        "the text-back was not recorded as sent: {status}"
    )))
}

async fn book_then_take_over(
    browser: &Browser,
    server: &RingbackServer,
    twilio: &FakeTwilio,
    model: &FakeAnthropic,
) -> Result<(), E2eError> {
    // The clinic keeps numbers sealed for conversations (it texts from its Twilio number) and
    // invites a receptionist.
    let cookie = server.api_session(DEMO_OWNER.0, DEMO_OWNER.1)?;
    let (_, set_up) = server.graphql_as(
        Some(&cookie),
        "mutation { updateClinicSettings(input: { privacyMode: \"text_back\" }) { id } \
         inviteMember(email: \"desk@demo.ringback.test\", displayName: \"Sam\", role: RECEPTIONIST) { token } }",
        json!({}),
    )?;
    let token = set_up["data"]["inviteMember"]["token"]
        .as_str()
        .ok_or_else(|| E2eError::Assertion(format!("set-up failed: {set_up}")))?
        .to_owned();

    // The owner turns the AI on and prices a check-up.
    sign_in(&browser.client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
    let page = AiReceptionistPage::open(&browser.client).await?;
    let notice = page.privacy_notice().await?;
    if !notice.contains("privacy notice") {
        return Err(E2eError::Assertion(format!(
            "a dental clinic reads {notice:?}"
        )));
    }
    page.turn_on().await?;
    page.add_service("Check-up", "45", "30", "60").await?;
    if !page.is_on().await? {
        return Err(E2eError::Assertion("the AI is off after saving".to_owned()));
    }
    // A visit it books without a listed service is worth what the owner says.
    page.set_standard_visit_value("55").await?;
    let page = AiReceptionistPage::open(&browser.client).await?;
    let worth = page.standard_visit_value().await?;
    if worth != "55.00" || !page.is_on().await? {
        return Err(E2eError::Assertion(format!(
            "after reopening, a standard visit is worth {worth:?}"
        )));
    }

    // A caller is missed and texted back.
    miss_a_call(server, "CAe2e00000000000000000000000000555", CALLER)?;
    let texted = twilio.wait_for_messages(1, Duration::from_secs(30)).await;
    if !texted.iter().any(|text| text.to == CALLER) {
        return Err(E2eError::Assertion(format!("no text-back: {texted:?}")));
    }
    // The caller reads the text once it has gone out: the server records it as sent just after
    // the provider accepted it.
    wait_until_texted_back(server, &cookie).await?;

    // The caller replies; the AI saves what they told it, finds Monday's slots, books one and
    // answers.
    let monday = monday_ahead();
    let slot = format!("{monday} 10:00");
    model.script([
        Reply::tool(
            "save_details",
            json!({ "fields": {
                "Best time to call?": "Mornings",
                "Are you a new or an existing patient?": "New",
                "Is it for a check-up, a problem or pain, cosmetic treatment, or something else?":
                    "A check-up",
            } }),
        ),
        Reply::tool(
            "find_slots",
            json!({ "from": monday, "to": monday, "kind": "Check-up" }),
        ),
        Reply::tool(
            "book_appointment",
            json!({ "slot": slot, "kind": "Check-up" }),
        ),
        Reply::Text(format!("You are booked for a check-up on {slot}.")),
    ]);
    let (status, _) = server.post_twilio(
        PUBLIC_URL,
        TWILIO_AUTH_TOKEN,
        "/webhooks/twilio/sms",
        &[
            ("MessageSid", "SMe2e00000000000000000000000000555"),
            ("From", CALLER),
            ("To", CLINIC_NUMBER),
            (
                "Body",
                "Can I come for a check-up on Monday? My number is 07700 900555",
            ),
        ],
    )?;
    if !status.contains("200") {
        return Err(E2eError::Assertion(format!("the reply got {status}")));
    }
    let sent = twilio.wait_for_messages(2, Duration::from_secs(30)).await;
    let answer = sent
        .iter()
        .find(|text| text.body.contains("You are booked"))
        .ok_or_else(|| E2eError::Assertion(format!("the AI did not answer: {sent:?}")))?;
    if answer.to != CALLER || !answer.body.to_lowercase().contains("automated") {
        return Err(E2eError::Assertion(format!("the answer was {answer:?}")));
    }
    for request in model.requests() {
        let text = request.to_string();
        if let Some(spelling) = SPELLINGS.iter().find(|s| text.contains(*s)) {
            return Err(E2eError::Assertion(format!("the model saw {spelling}")));
        }
    }

    // The appointment shows as recovered and booked by the AI.
    let (_, newest) = server.graphql_as(
        Some(&cookie),
        "{ conversations(first: 1) { callerKey callerTail } }",
        json!({}),
    )?;
    let caller_key = newest["data"]["conversations"][0]["callerKey"]
        .as_str()
        .ok_or_else(|| E2eError::Assertion(format!("no conversation: {newest}")))?
        .to_owned();
    let tail = newest["data"]["conversations"][0]["callerTail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let appointments = AppointmentsPage::open(&browser.client).await?;
    let (verdict, _) = appointments.verdict(&caller_key).await?;
    let booked_by = appointments.booked_by(&caller_key).await?;
    if verdict != "Recovered" || !booked_by.contains("AI") {
        return Err(E2eError::Assertion(format!(
            "the AI's booking shows {verdict:?}, {booked_by:?}"
        )));
    }

    // The conversation shows the AI's message, what it did and what the caller told it, in the
    // order the clinic asks its questions (one it does not ask last).
    let inbox = InboxPage::open(&browser.client).await?;
    inbox.open_conversation(&tail).await?;
    let by_ai = inbox.messages_by_ai().await?;
    let steps = inbox.ai_steps().await?;
    if by_ai != 1 || steps.len() != 4 || !steps[2].contains("book appointment: booked") {
        return Err(E2eError::Assertion(format!(
            "the conversation shows {by_ai} AI messages and steps {steps:?}"
        )));
    }
    let answers = inbox.intake_answers().await?;
    if answers != ["New", "A check-up", "Mornings"] {
        return Err(E2eError::Assertion(format!(
            "the intake answers show as {answers:?}"
        )));
    }

    // A receptionist takes the conversation over.
    sign_out(&browser.client).await?;
    AcceptInvitePage::open(
        &browser.client,
        &format!("{}accept-invite#{token}", server.url),
    )
    .await?
    .join("reception password 1")
    .await?;
    OverviewPage::wait(&browser.client).await?;
    // The receptionist turns off the mails of callers handed to them; the choice is saved.
    let inbox = InboxPage::open(&browser.client).await?;
    if !inbox.mails_hand_offs().await? {
        return Err(E2eError::Assertion(
            "a new member's hand-off mails are not on".to_owned(),
        ));
    }
    let said = inbox.toggle_hand_off_mails().await?;
    if said != "Saved: you get no such mails." {
        return Err(E2eError::Assertion(format!(
            "turning the mails off says {said:?}"
        )));
    }
    let inbox = InboxPage::open(&browser.client).await?;
    if inbox.mails_hand_offs().await? {
        return Err(E2eError::Assertion(
            "the inbox still shows hand-off mails on after turning them off".to_owned(),
        ));
    }
    inbox.open_conversation(&tail).await?;
    let said = inbox.take_over().await?;
    let (_, state) = server.graphql_as(
        Some(&cookie),
        "{ conversations(first: 1) { aiState } }",
        json!({}),
    )?;
    if state["data"]["conversations"][0]["aiState"] != "TAKEN_OVER" {
        return Err(E2eError::Assertion(format!(
            "after {said:?} the conversation is {state}"
        )));
    }
    Ok(())
}

/// The demo owner's trades business, chosen in the header, shows the AI receptionist at work
/// without a model: its figures on the overview (conversations, bookings, hand-offs), and among
/// its latest conversations one with the AI's texts, its steps and the caller's intake answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_trades_business_shows_the_ai_at_work() {
    on_demo(
        "the_demo_trades_business_shows_the_ai_at_work",
        async |browser, server| {
            sign_in(&browser.client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
            let overview = OverviewPage::wait(&browser.client).await?;
            overview
                .switch_clinic(ringback_api::demo::trades::NAME)
                .await?;
            let firm = OverviewPage::wait(&browser.client).await?;
            firm.choose_period("period-last-30-days").await?;
            for figure in [
                "figure-ai-conversations",
                "figure-ai-bookings",
                "figure-ai-hand-offs",
            ] {
                firm.wait_for_figure(figure, |shown| !shown.is_empty() && shown != "0")
                    .await?;
            }
            let listed = InboxPage::open(&browser.client).await?.listed().await?;
            let (mut seen, mut paused_seen) = (Vec::new(), false);
            for path in listed.iter().take(20) {
                let inbox = InboxPage::open_at(&browser.client, &server.url, path).await?;
                let (by_ai, steps) = (inbox.messages_by_ai().await?, inbox.ai_steps().await?);
                let answers = inbox.intake_answers().await?;
                // The demo's server has no model: no conversation may say the AI answers it,
                // and those it is active in say what the caller's next text gets.
                let said = inbox.ai_status().await?.unwrap_or_default();
                if said.contains("answers this caller.") {
                    return Err(E2eError::Assertion(format!("{path}: {said}")));
                }
                paused_seen |= said.contains("this server has no AI model");
                if by_ai > 0
                    && steps.iter().any(|step| step.contains("save details"))
                    && !answers.is_empty()
                    && paused_seen
                {
                    return Ok(());
                }
                seen.push((by_ai, steps.len(), answers.len(), paused_seen));
            }
            Err(E2eError::Assertion(format!(
                "no conversation shows the AI's texts, steps and intake answers, or none says \
                 the AI will not answer (no model): {seen:?}"
            )))
        },
    )
    .await;
}
