//! From sign-up to live in the browser, against the real binary on an empty database and the fake
//! Twilio: a new owner is refused in words for a weak password, a bad e-mail and unticked terms,
//! then signs up and lands on the setup checklist; gets a number (bought from the fake Twilio, its
//! webhooks set in the same request), sets the forwarding line, places the guided test call (a
//! signed webhook from the test) and watches it arrive and its text-back go out without reloading;
//! the caller's reply shows in the inbox, unread and counted in the navigation; once the settings
//! page is saved as it stands (its default hours and wording confirmed) the checklist is complete
//! and leaves the overview. Each new page is saved as a screenshot at 1280 and 375 px.

use std::time::Duration;

use ringback_api::fakes::twilio::{ACCOUNT_SID, FakeTwilio};
use ringback_e2e::browser::Browser;
use ringback_e2e::pages::InboxPage;
use ringback_e2e::pages::onboarding::{
    NewClinic, NumbersPage, SetupChecklist, SignUpPage, first_inbox_preview, unread_in_navigation,
};
use ringback_e2e::server::{Data, RingbackServer};
use ringback_e2e::{E2eError, PUBLIC_URL, TWILIO_AUTH_TOKEN, report};
use serde_json::json;

const OWNER: NewClinic<'static> = NewClinic {
    clinic: "Harbour Dental",
    kind: "dental",
    owner: "Hana Harbour",
    email: "hana@harbour.test",
    password: "lighthouse keeper 42",
};

/// The number the fake Twilio offers first in the UK.
const FIRST_FOR_SALE: &str = "+447700900400";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_owner_goes_from_sign_up_to_live() {
    let fake = FakeTwilio::start(ACCOUNT_SID, TWILIO_AUTH_TOKEN)
        .await
        .unwrap_or_else(|e| panic!("fake Twilio: {e}"));
    let settings = [
        ("RINGBACK_PUBLIC_URL", PUBLIC_URL),
        ("RINGBACK_TWILIO_AUTH_TOKEN", TWILIO_AUTH_TOKEN),
        ("RINGBACK_TWILIO_ACCOUNT_SID", ACCOUNT_SID),
        ("RINGBACK_TWILIO_API_URL", fake.api_url()),
    ];
    let server =
        RingbackServer::start_with_env(Data::Empty, &settings).unwrap_or_else(|e| panic!("{e}"));
    fake.forward_callbacks(PUBLIC_URL, server.url.trim_end_matches('/'));
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e}"));
    let outcome = sign_up_to_live(&browser, &server, &fake).await;
    report(
        "a_new_owner_goes_from_sign_up_to_live",
        browser,
        &server,
        outcome,
    )
    .await;
}

/// Saves the page as `<name>-1280.png` and `<name>-375.png`.
async fn shots(browser: &Browser, name: &str) -> Result<(), E2eError> {
    browser.screenshot(&format!("{name}-1280")).await?;
    browser.client.set_window_size(375, 812).await?;
    browser.screenshot(&format!("{name}-375")).await?;
    browser.client.set_window_size(1280, 900).await?;
    Ok(())
}

fn expect(holds: bool, what: impl FnOnce() -> String) -> Result<(), E2eError> {
    if holds {
        Ok(())
    } else {
        Err(E2eError::Assertion(what()))
    }
}

async fn sign_up_to_live(
    browser: &Browser,
    server: &RingbackServer,
    fake: &FakeTwilio,
) -> Result<(), E2eError> {
    let client = &browser.client;

    // Refusals, each in words: no kind of business chosen (none is preselected), a weak password
    // (said as it is typed, and on submitting), unticked terms, a malformed address (the
    // server's answer).
    let form = SignUpPage::open(client, &server.url).await?;
    form.fill(&NewClinic {
        password: "short",
        kind: "",
        ..OWNER
    })
    .await?;
    let rule = form.password_rule().await?;
    expect(rule.contains("at least"), || {
        format!("the password rule reads {rule:?}")
    })?;
    form.accept_terms().await?;
    form.submit().await?;
    form.refusal(|said| said.contains("kind of business"))
        .await?;
    form.fill(&NewClinic {
        password: "short",
        ..OWNER
    })
    .await?;
    form.submit().await?;
    let weak = form.refusal(|said| said.contains("at least")).await?;
    form.accept_terms().await?;
    form.fill(&OWNER).await?;
    form.submit().await?;
    let terms = form.refusal(|said| said.contains("terms")).await?;
    form.accept_terms().await?;
    form.fill(&NewClinic {
        email: "hana-at-harbour",
        ..OWNER
    })
    .await?;
    form.submit().await?;
    let bad_email = form.refusal(|said| said.contains("e-mail")).await?;
    expect(form.password_rule().await?.contains("will do"), || {
        "a strong password is said to do".to_owned()
    })?;
    shots(browser, "onboarding-sign-up").await?;

    // Signed up: the checklist, with nothing but what the server knows ticked.
    form.fill(&OWNER).await?;
    form.submit().await?;
    let checklist = SetupChecklist::wait(client).await?;
    expect(!checklist.done("texting-number").await?, || {
        "a new clinic has no number yet".to_owned()
    })?;
    shots(browser, "onboarding-checklist").await?;

    // A number from the fake Twilio, pointed here in the same request, and the forwarding line.
    checklist.follow("texting-number").await?;
    let numbers = NumbersPage::wait(client).await?;
    let rules = numbers.find_numbers().await?;
    expect(rules.contains("regulatory bundle"), || {
        format!("the UK's texting rules read {rules:?}")
    })?;
    let bought = numbers.buy_first().await?;
    expect(bought.contains("07700 900400"), || {
        format!("after buying: {bought:?}")
    })?;
    let pointed = fake
        .numbers()
        .into_iter()
        .find(|number| number.e164 == FIRST_FOR_SALE)
        .map(|number| (number.voice_url, number.sms_url));
    expect(
        pointed
            == Some((
                format!("{PUBLIC_URL}/webhooks/twilio/voice"),
                format!("{PUBLIC_URL}/webhooks/twilio/sms"),
            )),
        || format!("the bought number points at {pointed:?}"),
    )?;
    let forwarding = numbers.set_forwarding_line("020 7946 0321").await?;
    expect(forwarding.contains("•••• 321"), || {
        format!("after setting the line: {forwarding:?}")
    })?;
    shots(browser, "onboarding-numbers").await?;

    // The guided test call: the page waits, the call arrives, its text-back goes out.
    let test_call = numbers.open_test_call().await?;
    let ask = test_call.ask().await?;
    expect(
        ask.contains("07700 900400") && test_call.waiting().await?,
        || format!("the test call page reads {ask:?}"),
    )?;
    let (status, body) = server.post_twilio(
        PUBLIC_URL,
        TWILIO_AUTH_TOKEN,
        "/webhooks/twilio/dial-status",
        &[
            ("CallSid", "CAe2e00000000000000000000000000400"),
            ("From", "+447700900123"),
            ("To", FIRST_FOR_SALE),
            ("Direction", "inbound"),
            ("DialCallStatus", "no-answer"),
        ],
    )?;
    expect(status.contains("200"), || {
        format!("the test call got {status}: {body}")
    })?;
    let arrived = test_call.arrival().await?;
    expect(
        arrived.contains("•••• 123") && arrived.contains("missed"),
        || format!("the arrival reads {arrived:?}"),
    )?;
    let texted = test_call
        .text_back(|said| said.contains("Sent") || said.contains("Delivered"))
        .await?;
    let sent = fake.wait_for_messages(1, Duration::from_secs(20)).await;
    expect(
        sent.first()
            .is_some_and(|message| message.from == FIRST_FOR_SALE),
        || format!("the text-back went out from the new number: {sent:?}"),
    )?;
    test_call.step_done().await?;
    shots(browser, "onboarding-test-call").await?;

    // The caller answers the text-back: the inbox shows it unread, with its first words, and the
    // navigation counts it.
    let (status, body) = server.post_twilio(
        PUBLIC_URL,
        TWILIO_AUTH_TOKEN,
        "/webhooks/twilio/sms",
        &[
            ("MessageSid", "SMe2e00000000000000000000000000401"),
            ("From", "+447700900123"),
            ("To", FIRST_FOR_SALE),
            (
                "Body",
                "Can I come in on Friday morning for a check-up? Any time before noon suits me.",
            ),
        ],
    )?;
    expect(status.contains("200"), || {
        format!("the reply got {status}: {body}")
    })?;
    InboxPage::open(client).await?;
    let preview = first_inbox_preview(client).await?;
    expect(preview.starts_with("Can I come in on Friday"), || {
        format!("the inbox shows {preview:?}")
    })?;
    let counted = unread_in_navigation(client).await?;
    expect(counted == "1 unread", || {
        format!("the navigation shows {counted:?}")
    })?;
    shots(browser, "onboarding-inbox").await?;

    // The settings page saved as it stands (the default hours and wording shown) confirms them:
    // the checklist is complete and leaves the overview.
    let settings = ringback_e2e::pages::SettingsPage::open(client).await?;
    let saved = settings.save().await?;
    expect(saved.is_ok(), || format!("saving the settings: {saved:?}"))?;
    let cookie = server.api_session(OWNER.email, OWNER.password)?;
    let (_, checked) =
        server.graphql_as(Some(&cookie), "{ setupChecklist { live } }", json!({}))?;
    expect(checked["data"]["setupChecklist"]["live"] == true, || {
        format!("the checklist: {checked}")
    })?;
    client.goto(&server.url).await?;
    ringback_e2e::pages::OverviewPage::wait(client).await?;
    ringback_e2e::audit::wait_until_settled(client).await?;
    let still_shown = client
        .find(fantoccini::Locator::Css(
            "[data-testid=\"setup-checklist\"]",
        ))
        .await
        .is_ok();
    expect(!still_shown, || {
        "a live clinic sees no checklist".to_owned()
    })?;

    println!(
        "refusals: {weak:?} / {terms:?} / {bad_email:?}; arrival: {arrived:?}; text-back: {texted:?}"
    );
    Ok(())
}
