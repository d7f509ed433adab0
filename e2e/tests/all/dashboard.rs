//! The dashboard, served by the real binary: on an empty embedded database the about page renders
//! what the API reports, deep links reload into the app, and no console error is logged. On the
//! demo clinic: a visitor is sent to sign in and back; an ended session is renewed or returns to
//! its page after signing in; the overview's figures equal the API's; signing out ends the session;
//! a caller dismissed on the worklist (counted, then undone), a callback logged there and a booking
//! make a recovered appointment, whose value is then
//! changed and which is cancelled; appointments page in the API's order; a caller from two months
//! ago, found by the last three digits of their number, is booked with a start, found again by day
//! and digits, and changed in the dialog (which says what changed); a reply from the inbox
//! reaches the (fake) SMS provider and shows delivered; a refused text-back is announced on the
//! overview and sent on retry; settings (templates, hours, holidays) save; a receptionist invited
//! from the team page joins through the link and cannot reach settings; an API key made in the
//! browser works until revoked; the CSV export equals the API's; the audit log lists all of it; and
//! the what-if preview equals the server after saving. On a server that sends mail, a sign-up is
//! finished from the confirmation mail's link, which signs the new owner in, and a forgotten
//! password is chosen anew from the reset mail's link.
use std::time::Duration;

use ringback_api::auth::session::SESSION_COOKIE;
use ringback_api::fakes::twilio::{Failure, FakeTwilio};
use ringback_e2e::browser::Browser;
use ringback_e2e::pages::{
    AcceptInvitePage, ApiKeysPage, AppointmentsPage, AuditLogPage, ConfirmSignUpPage, ConsolePage,
    ExportPage, InboxPage, OverviewPage, ResetPasswordPage, SettingsPage, SignInPage, StatusPage,
    TeamPage, WhatIfPage, WorklistPage, follow_header_link, has_link, shows_link, sign_in,
    wait_for_forbidden,
};
use ringback_e2e::server::{DEMO_OWNER, Data, RingbackServer};
use ringback_e2e::{
    CLINIC_NUMBER, E2eError, PUBLIC_URL, TWILIO_AUTH_TOKEN, on_demo, on_demo_with_sms, report,
    sign_up_variables,
};
use ringback_shared::display;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_server_facts() {
    let server = RingbackServer::start().unwrap_or_else(|e| panic!("{e}"));
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e}"));
    let outcome = status_page_scenario(&browser, &server).await;
    report("dashboard_shows_server_facts", browser, &server, outcome).await;
}

async fn status_page_scenario(browser: &Browser, server: &RingbackServer) -> Result<(), E2eError> {
    let page = StatusPage::open(&browser.client, &format!("{}about", server.url)).await?;
    let api = server.graphql("{ serverInfo { version schemaVersion pendingMigrations } }")?;
    let info = &api["data"]["serverInfo"];
    let version = info["version"].as_str().unwrap_or_default();
    expect_eq(
        page.text_of("server-version").await?,
        format!("Ringback {version}"),
    )?;
    expect_eq(page.text_of("server-database").await?, "SQLite".to_owned())?;
    let schema = info["schemaVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if schema.is_empty() {
        return Err(E2eError::Assertion(format!(
            "the API reports no schema version: {api}"
        )));
    }
    expect_eq(page.text_of("server-schema").await?, schema)?;
    expect_eq(
        page.text_of("server-pending").await?,
        info["pendingMigrations"].to_string(),
    )?;
    // The GraphQL console runs under the same Content-Security-Policy, from this origin only.
    ConsolePage::open(&browser.client, &server.url)
        .await?
        .run_and_expect("\"database\": \"SQLITE\"")
        .await?;
    // Neither page broke the Content-Security-Policy (a violation is a console error).
    let errors = browser.console_errors().await?;
    if !errors.is_empty() {
        return Err(E2eError::Assertion(format!(
            "browser console has errors: {errors:#?}"
        )));
    }
    Ok(())
}

fn expect_eq(actual: String, expected: String) -> Result<(), E2eError> {
    if actual == expected {
        Ok(())
    } else {
        Err(E2eError::Assertion(format!(
            "expected {expected:?}, page shows {actual:?}"
        )))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_reloads_into_the_dashboard() {
    let server = RingbackServer::start().unwrap_or_else(|e| panic!("{e}"));
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e}"));
    // A deep link, loaded fresh: the server's fallback serves the app, which routes it.
    let deep_link = format!("{}about?from=bookmark", server.url);
    let outcome = StatusPage::open(&browser.client, &deep_link).await;
    if let Err(error) = outcome {
        let shot = browser.screenshot("every_route_reloads").await;
        browser.close().await;
        panic!("{error}\nscreenshot: {shot:?}");
    }
    browser.close().await;
}

/// Appointments the dashboard lists on one page.
const PAGE_SIZE: usize = 25;

const FIGURES: &str = "inboundCalls missedCalls missRate textBacksSent replyRate callbacks \
    medianTimeToCallbackSeconds recoveredAppointments recoveryRate recoveredRevenueMinor";

/// The figures the overview shows, formatted from the API's answer with the shared rules.
fn expected_figures(totals: &Value, currency: &str) -> Vec<(&'static str, String)> {
    let int = |name: &str| totals[name].as_i64().unwrap_or_default();
    let rate = |name: &str| totals[name].as_f64();
    vec![
        ("figure-missed-calls", int("missedCalls").to_string()),
        ("figure-miss-rate", display::percent(rate("missRate"))),
        ("figure-text-backs", int("textBacksSent").to_string()),
        ("figure-reply-rate", display::percent(rate("replyRate"))),
        ("figure-callbacks", int("callbacks").to_string()),
        (
            "figure-time-to-callback",
            display::duration(totals["medianTimeToCallbackSeconds"].as_i64()),
        ),
        ("figure-recovered", int("recoveredAppointments").to_string()),
        (
            "figure-recovery-rate",
            display::percent(rate("recoveryRate")),
        ),
        (
            "figure-revenue",
            display::money(int("recoveredRevenueMinor"), currency),
        ),
    ]
}

async fn sign_in_see_the_api_figures_sign_out(
    browser: &Browser,
    server: &RingbackServer,
) -> Result<(), E2eError> {
    // Signed out, the overview sends the visitor to sign in, then back.
    browser.client.goto(&server.url).await?;
    let sign_in = SignInPage::wait(&browser.client).await?;
    let url = browser.client.current_url().await?;
    if !url.as_str().contains("/sign-in?next=%2F") {
        return Err(E2eError::Assertion(format!(
            "expected a sign-in redirect, got {url}"
        )));
    }
    sign_in.sign_in(DEMO_OWNER.0, DEMO_OWNER.1).await?;
    let overview = OverviewPage::wait(&browser.client).await?;
    let cookie = server.api_session(DEMO_OWNER.0, DEMO_OWNER.1)?;
    let (_, me) = server.graphql_as(
        Some(&cookie),
        "{ me { user { displayName } clinic { name } } }",
        json!({}),
    )?;
    let expected_who = format!(
        "{} · {}",
        me["data"]["me"]["user"]["displayName"]
            .as_str()
            .unwrap_or("?"),
        me["data"]["me"]["clinic"]["name"].as_str().unwrap_or("?")
    );
    let who = overview.signed_in_as().await?;
    if who != expected_who {
        return Err(E2eError::Assertion(format!(
            "header shows {who:?}, expected {expected_who:?}"
        )));
    }

    // Every figure equals what the API computes for the same days: the last 30, which the demo's
    // 90 days before today always fill (this month may be a day old).
    overview.choose_period("period-last-30-days").await?;
    let (from, to) = overview
        .wait_for_range(|from, to| {
            let day = |text: &str| text.parse::<chrono::NaiveDate>().ok();
            day(from)
                .zip(day(to))
                .is_some_and(|(from, to)| (to - from).num_days() == 29)
        })
        .await?;
    let (_, api) = server.graphql_as(
        Some(&cookie),
        &format!(
            "query($from: NaiveDate!, $to: NaiveDate!) {{ clinic {{ currency }} \
             metrics(from: $from, to: $to) {{ totals {{ {FIGURES} }} }} }}"
        ),
        json!({ "from": from, "to": to }),
    )?;
    let currency = api["data"]["clinic"]["currency"].as_str().unwrap_or("GBP");
    let totals = &api["data"]["metrics"]["totals"];
    if totals.is_null() {
        return Err(E2eError::Assertion(format!(
            "the API gave no figures: {api}"
        )));
    }
    if totals["missedCalls"].as_i64().unwrap_or_default() == 0 {
        return Err(E2eError::Assertion(format!(
            "the demo period has no missed calls: {api}"
        )));
    }
    for (test_id, expected) in expected_figures(totals, currency) {
        let shown = overview.figure(test_id).await?;
        if shown != expected {
            return Err(E2eError::Assertion(format!(
                "{test_id}: the page shows {shown:?}, the API {expected:?} ({from} to {to})"
            )));
        }
    }

    // A call missed while the page is open counts without a reload (two hours ago: inside the
    // period whichever day the browser and the clinic call today).
    let missed_before = totals["missedCalls"].as_i64().unwrap_or_default();
    let (_, live) = server.graphql_as(
        Some(&cookie),
        "mutation($at: DateTime!) { recordCallEvents(events: [{ externalId: \"e2e-overview-live\", \
         direction: INBOUND, status: NO_ANSWER, startedAt: $at, callerNumber: \"07700 900992\" }]) \
         { recorded } }",
        json!({ "at": (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339() }),
    )?;
    if live["data"]["recordCallEvents"]["recorded"] != 1 {
        return Err(E2eError::Assertion(format!(
            "the live call was not recorded: {live}"
        )));
    }
    let counted = (missed_before + 1).to_string();
    overview
        .wait_for_figure("figure-missed-calls", |shown| shown == counted)
        .await?;

    // A dashboard left open overnight: once the clinic's day turns, the period ends on the new
    // day without a reload.
    browser.move_page_clock(chrono::Duration::days(1)).await?;
    let next_day = |day: &str| {
        day.parse::<chrono::NaiveDate>()
            .map(|day| (day + chrono::Duration::days(1)).to_string())
            .unwrap_or_default()
    };
    let (next_from, next_to) = (next_day(&from), next_day(&to));
    overview
        .wait_for_range(|from, to| from == next_from && to == next_to)
        .await?;

    // Signing out ends the session: the overview asks for a sign-in again.
    overview.sign_out().await?;
    browser.client.goto(&server.url).await?;
    SignInPage::wait(&browser.client).await?;
    let errors = browser.console_errors().await?;
    if !errors.is_empty() {
        return Err(E2eError::Assertion(format!(
            "browser console has errors: {errors:#?}"
        )));
    }
    Ok(())
}

/// The demo's inbox holds more than a page: the button below the list shows older
/// conversations, none of them on the first page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_pages_through_older_conversations() {
    on_demo(
        "the_inbox_pages_through_older_conversations",
        async |browser, server| {
            sign_in(&browser.client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
            let inbox = InboxPage::open(&browser.client).await?;
            let latest = inbox.listed().await?;
            let first = latest.first().cloned().unwrap_or_default();
            let older = inbox.older(&first).await?;
            if latest.len() != 50
                || older.is_empty()
                || older.iter().any(|path| latest.contains(path))
            {
                return Err(E2eError::Assertion(format!(
                    "{} latest, {} older, shared: {:?}",
                    latest.len(),
                    older.len(),
                    older
                        .iter()
                        .filter(|path| latest.contains(path))
                        .collect::<Vec<_>>()
                )));
            }
            Ok(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overview_figures_equal_the_api() {
    on_demo(
        "overview_figures_equal_the_api",
        sign_in_see_the_api_figures_sign_out,
    )
    .await;
}

/// An ended access token is renewed with the refresh cookie without leaving the page; with no
/// session left the visitor signs in again and comes back to the same page.
async fn ended_sessions(browser: &Browser, server: &RingbackServer) -> Result<(), E2eError> {
    sign_in(&browser.client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
    AppointmentsPage::open(&browser.client).await?;
    let here = format!("{}appointments", server.url);

    browser.client.delete_cookie(SESSION_COOKIE).await?;
    if browser
        .client
        .get_named_cookie(SESSION_COOKIE)
        .await
        .is_ok()
    {
        return Err(E2eError::Assertion("the session cookie stayed".to_owned()));
    }
    browser.client.goto(&here).await?;
    AppointmentsPage::wait(&browser.client).await?;
    if browser
        .client
        .get_named_cookie(SESSION_COOKIE)
        .await
        .is_err()
    {
        return Err(E2eError::Assertion(
            "the session was not renewed from the refresh cookie".to_owned(),
        ));
    }

    browser.client.delete_all_cookies().await?;
    browser.client.goto(&here).await?;
    SignInPage::wait(&browser.client)
        .await?
        .sign_in(DEMO_OWNER.0, DEMO_OWNER.1)
        .await?;
    AppointmentsPage::wait(&browser.client).await?;
    let url = browser.client.current_url().await?;
    if url.as_str() != here {
        return Err(E2eError::Assertion(format!(
            "after signing in again the visitor is at {url}, not {here}"
        )));
    }

    // A session that ends while the dashboard stays open: the next page's request finds it over
    // and the dashboard itself (no reload) sends the visitor to sign in, then to that page.
    browser.client.delete_all_cookies().await?;
    follow_header_link(&browser.client, "Worklist").await?;
    SignInPage::wait(&browser.client)
        .await?
        .sign_in(DEMO_OWNER.0, DEMO_OWNER.1)
        .await?;
    WorklistPage::wait(&browser.client).await?;
    let url = browser.client.current_url().await?;
    if url.as_str() != format!("{}worklist", server.url) {
        return Err(E2eError::Assertion(format!(
            "after the session ended in the open dashboard the visitor is at {url}"
        )));
    }
    let errors = browser.console_errors().await?;
    if errors.iter().any(|error| error.contains("panicked")) {
        return Err(E2eError::Assertion(format!(
            "the dashboard panicked on the way: {errors:#?}"
        )));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_renews_or_returns_to_the_page_after_sign_in() {
    on_demo(
        "an_ended_session_renews_or_returns_to_the_page_after_sign_in",
        ended_sessions,
    )
    .await;
}

async fn log_a_callback_from_the_worklist(
    browser: &Browser,
    server: &RingbackServer,
) -> Result<(), E2eError> {
    sign_in(&browser.client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
    // A caller misses the clinic just now (their phone system reports it over the API).
    let cookie = server.api_session(DEMO_OWNER.0, DEMO_OWNER.1)?;
    let (_, recorded) = server.graphql_as(
        Some(&cookie),
        "mutation($at: DateTime!) { recordCallEvents(events: [{ externalId: \"e2e-missed-1\", direction: INBOUND, \
         status: NO_ANSWER, startedAt: $at, callerNumber: \"07700 900990\" }]) { results { call { callerKey } } } }",
        json!({ "at": (chrono::Utc::now() - chrono::Duration::minutes(5)).to_rfc3339() }),
    )?;
    let caller = recorded["data"]["recordCallEvents"]["results"][0]["call"]["callerKey"]
        .as_str()
        .ok_or_else(|| {
            E2eError::Assertion(format!("the missed call was not recorded: {recorded}"))
        })?
        .to_owned();
    let worklist = WorklistPage::open(&browser.client).await?;
    let api_keys = |server: &RingbackServer| -> Result<Vec<String>, E2eError> {
        let (_, api) = server.graphql_as(
            Some(&cookie),
            "{ worklist(first: 50) { edges { node { callerKey } } } }",
            json!({}),
        )?;
        Ok(api["data"]["worklist"]["edges"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|edge| edge["node"]["callerKey"].as_str().map(str::to_owned))
            .collect())
    };
    let shown = worklist.caller_keys().await?;
    let expected = api_keys(server)?;
    if shown != expected || shown.is_empty() {
        return Err(E2eError::Assertion(format!(
            "the page lists {shown:?}, the API {expected:?}"
        )));
    }
    if !shown.contains(&caller) {
        return Err(E2eError::Assertion(format!(
            "{caller} is not on the worklist"
        )));
    }
    // Another caller needs no callback: dismissed with a reason, counted, and undone.
    let other = shown
        .iter()
        .find(|key| **key != caller)
        .cloned()
        .ok_or_else(|| E2eError::Assertion("only one caller is waiting".to_owned()))?;
    worklist.dismiss(&other, "wrong_number").await?;
    if api_keys(server)?.contains(&other) {
        return Err(E2eError::Assertion(format!(
            "{other} is still waiting in the API after its dismissal"
        )));
    }
    let counts = worklist.dismissal_counts().await?;
    if !counts.contains("Wrong number: 1") {
        return Err(E2eError::Assertion(format!(
            "the dismissal is not counted: {counts:?}"
        )));
    }
    worklist.undo_latest_dismissal(&other).await?;
    // A caller who misses the clinic while the page is open appears without a reload, and the
    // keyboard's place in the list stays where it was.
    worklist.focus_reason_of(&other).await?;
    let (_, live) = server.graphql_as(
        Some(&cookie),
        "mutation($at: DateTime!) { recordCallEvents(events: [{ externalId: \"e2e-missed-live\", \
         direction: INBOUND, status: NO_ANSWER, startedAt: $at, callerNumber: \"07700 900991\" }]) \
         { results { call { callerKey } } } }",
        json!({ "at": chrono::Utc::now().to_rfc3339() }),
    )?;
    let live_caller = live["data"]["recordCallEvents"]["results"][0]["call"]["callerKey"]
        .as_str()
        .ok_or_else(|| E2eError::Assertion(format!("the live call was not recorded: {live}")))?
        .to_owned();
    worklist.wait_for_caller(&live_caller).await?;
    if !worklist.focus_kept().await? {
        return Err(E2eError::Assertion(
            "the worklist's reload took the keyboard's focus away".to_owned(),
        ));
    }
    let first = caller;
    worklist.log_answered_callback(&first).await?;
    if api_keys(server)?.contains(&first) {
        return Err(E2eError::Assertion(format!(
            "{first} is still waiting in the API"
        )));
    }
    let (_, calls) = server.graphql_as(
        Some(&cookie),
        "query($key: String!) { calls(first: 5, filter: { callerKey: $key, direction: OUTBOUND }) { edges { node { status source } } } }",
        json!({ "key": first }),
    )?;
    let latest = &calls["data"]["calls"]["edges"][0]["node"];
    if latest["status"] != "ANSWERED" || latest["source"] != "staff" {
        return Err(E2eError::Assertion(format!(
            "no answered staff callback recorded: {calls}"
        )));
    }

    // The caller books: the appointment counts as recovered, and says why.
    let appointments = AppointmentsPage::open(&browser.client).await?;
    appointments.book(&first, "45.50").await?;
    let (status, reason) = appointments.verdict(&first).await?;
    let (_, booked) = server.graphql_as(
        Some(&cookie),
        "{ appointments(first: 1) { edges { node { callerKey valueMinor attribution { status touchKind explanation } } } } }",
        json!({}),
    )?;
    let node = &booked["data"]["appointments"]["edges"][0]["node"];
    let verdict = &node["attribution"];
    let touch_before_booking = matches!(
        verdict["touchKind"].as_str(),
        Some("callback" | "text_reply")
    );
    if node["callerKey"] != first.as_str()
        || node["valueMinor"] != 4550
        || verdict["status"] != "RECOVERED"
        || !touch_before_booking
    {
        return Err(E2eError::Assertion(format!("the API shows {booked}")));
    }
    if status != "Recovered" || reason != verdict["explanation"].as_str().unwrap_or_default() {
        return Err(E2eError::Assertion(format!(
            "the page shows {status:?}: {reason:?}; the API {verdict}"
        )));
    }

    // Its value changes, then it is cancelled: the API agrees with the page each time.
    appointments.change_value(&first, "60", "£60.00").await?;
    appointments.cancel(&first).await?;
    let (_, changed) = server.graphql_as(
        Some(&cookie),
        "{ appointments(first: 1) { edges { node { valueMinor cancelledAt attribution { status } } } } }",
        json!({}),
    )?;
    let node = &changed["data"]["appointments"]["edges"][0]["node"];
    if node["valueMinor"] != 6000 || !node["cancelledAt"].is_string() {
        return Err(E2eError::Assertion(format!(
            "after editing the API shows {changed}"
        )));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_from_the_worklist_then_a_recovered_booking() {
    on_demo(
        "a_callback_from_the_worklist_then_a_recovered_booking",
        log_a_callback_from_the_worklist,
    )
    .await;
}

/// Runs `mutation` as the demo owner over the API; their session cookie.
fn owner_sets_up(server: &RingbackServer, mutation: &str) -> Result<String, E2eError> {
    let cookie = server.api_session(DEMO_OWNER.0, DEMO_OWNER.1)?;
    let (_, set_up) = server.graphql_as(Some(&cookie), mutation, json!({}))?;
    if set_up["errors"].is_array() {
        return Err(E2eError::Assertion(format!("set-up failed: {set_up}")));
    }
    Ok(cookie)
}

/// The inbox test's caller (+44 7700 900991) texts the clinic `body` as Twilio message `sid`.
fn caller_texts(server: &RingbackServer, sid: &str, body: &str) -> Result<(), E2eError> {
    let (status, _) = server.post_twilio(
        PUBLIC_URL,
        TWILIO_AUTH_TOKEN,
        "/webhooks/twilio/sms",
        &[
            ("MessageSid", sid),
            ("From", "+447700900991"),
            ("To", CLINIC_NUMBER),
            ("Body", body),
        ],
    )?;
    if !status.contains("200") {
        return Err(E2eError::Assertion(format!(
            "the inbound text {body:?} got {status}"
        )));
    }
    Ok(())
}

/// Whether the clinic's most recently active conversation is unread by the team.
fn newest_conversation_unread(server: &RingbackServer, cookie: &str) -> Result<bool, E2eError> {
    let query = "{ conversations(first: 1) { unread } }";
    let (_, answer) = server.graphql_as(Some(cookie), query, json!({}))?;
    answer["data"]["conversations"][0]["unread"]
        .as_bool()
        .ok_or_else(|| E2eError::Assertion(format!("no conversation: {answer}")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_from_the_inbox_reaches_the_provider() {
    on_demo_with_sms(
        "a_reply_from_the_inbox_reaches_the_provider",
        reply_from_the_inbox,
    )
    .await;
}

async fn reply_from_the_inbox(
    browser: &Browser,
    server: &RingbackServer,
    fake: &FakeTwilio,
) -> Result<(), E2eError> {
    // The clinic keeps numbers for conversations (it texts from its Twilio number).
    let cookie = owner_sets_up(
        server,
        "mutation { updateClinicSettings(input: { privacyMode: \"text_back\" }) { id } }",
    )?;
    // A caller texts the clinic.
    caller_texts(
        server,
        "SMe2e0000000000000000000000000001",
        "Can I book a check-up on Friday?",
    )?;

    sign_in(&browser.client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
    let inbox = InboxPage::open(&browser.client).await?;
    inbox.open_conversation("•••• 991").await?;

    // The caller writes again while the conversation is open: the page offers the new text
    // without reading it for the team (the conversation stays unread) until asked.
    let again = "Or Saturday morning, if that is easier?";
    caller_texts(server, "SMe2e0000000000000000000000000003", again)?;
    inbox.newer_texts_offered().await?;
    if inbox
        .message_bodies()
        .await?
        .iter()
        .any(|body| body == again)
    {
        return Err(E2eError::Assertion(
            "the new text was read before anyone asked".to_owned(),
        ));
    }
    if !newest_conversation_unread(server, &cookie)? {
        return Err(E2eError::Assertion(
            "offering the new text marked the conversation read".to_owned(),
        ));
    }
    inbox.show_newer_texts(again).await?;
    if newest_conversation_unread(server, &cookie)? {
        return Err(E2eError::Assertion(
            "the conversation is unread after its texts were shown".to_owned(),
        ));
    }

    let answer = "Friday at 10:00 works. See you then!";
    inbox.reply(answer).await?;

    let sent = fake.wait_for_messages(1, Duration::from_secs(20)).await;
    let reached: Vec<_> = sent
        .iter()
        .filter(|message| message.to == "+447700900991")
        .collect();
    if reached.len() != 1 || reached[0].body != answer || reached[0].from != CLINIC_NUMBER {
        return Err(E2eError::Assertion(format!(
            "the provider received {sent:?}"
        )));
    }
    inbox.wait_for_status(answer, "Delivered").await?;
    if inbox.offers_newer_texts().await? {
        return Err(E2eError::Assertion(
            "the member's own reply was offered as a newer message".to_owned(),
        ));
    }
    let draft = inbox.reply_draft().await?;
    if !draft.is_empty() {
        return Err(E2eError::Assertion(format!(
            "the sent reply is still in the box: {draft:?}"
        )));
    }
    let state = inbox.state().await?;
    if !state.starts_with("Open") {
        return Err(E2eError::Assertion(format!(
            "the conversation reads {state:?}"
        )));
    }

    // The caller stops texts: a reply typed now is refused, and what was typed stays.
    caller_texts(server, "SMe2e0000000000000000000000000002", "STOP")?;
    let unsent = "Are you still coming on Friday?";
    inbox.reply(unsent).await?;
    let refusal = inbox.refusal().await?;
    if !refusal.contains("STOP") {
        return Err(E2eError::Assertion(format!(
            "the refusal reads {refusal:?}"
        )));
    }
    let draft = inbox.reply_draft().await?;
    if draft != unsent {
        return Err(E2eError::Assertion(format!(
            "the refused reply was not kept: {draft:?}"
        )));
    }
    Ok(())
}

/// The ids of the appointments an `appointments` answer lists, in its order.
fn appointment_ids(listed: &Value) -> Vec<String> {
    listed["data"]["appointments"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|edge| edge["node"]["id"].as_str().map(str::to_owned))
        .collect()
}

/// The appointments list pages through the clinic's appointments in the API's order.
async fn page_through_appointments(
    browser: &Browser,
    server: &RingbackServer,
) -> Result<(), E2eError> {
    let cookie = server.api_session(DEMO_OWNER.0, DEMO_OWNER.1)?;
    let (_, listed) = server.graphql_as(
        Some(&cookie),
        "{ appointments(first: 50) { edges { node { id } } } }",
        json!({}),
    )?;
    let api_ids = appointment_ids(&listed);
    if api_ids.len() < 30 {
        return Err(E2eError::Assertion(format!(
            "the demo clinic has too few appointments to page: {}",
            api_ids.len()
        )));
    }
    sign_in(&browser.client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
    let page = AppointmentsPage::open(&browser.client).await?;
    // The booking form shows before the list has loaded: so wait for its rows
    // instead of reading them once.
    let (first, second) = api_ids.split_at(PAGE_SIZE);
    let second = &second[..second.len().min(PAGE_SIZE)];
    page.wait_for_ids(first).await?;
    page.turn(true, 2).await?;
    page.wait_for_ids(second).await?;
    page.turn(false, 1).await?;
    page.wait_for_ids(first).await?;
    Ok(())
}

/// A caller last heard from two months ago is not among the recent callers the booking form
/// lists, but is found by the last three digits of their number and booked for 11:00 (the
/// clinic's time) in three days; the list narrowed to that day and those digits shows what the
/// API lists; the dialog changes value and start and says so, and the API agrees.
async fn book_an_older_caller_and_change_it_in_the_dialog(
    browser: &Browser,
    server: &RingbackServer,
) -> Result<(), E2eError> {
    let cookie = server.api_session(DEMO_OWNER.0, DEMO_OWNER.1)?;
    let long_ago = (chrono::Utc::now() - chrono::Duration::days(60)).to_rfc3339();
    let (_, recorded) = server.graphql_as(
        Some(&cookie),
        "mutation($at: DateTime!) { recordCallEvents(events: [{ externalId: \"e2e-older-caller\", \
         direction: INBOUND, status: NO_ANSWER, startedAt: $at, callerNumber: \"07700 900818\" }]) \
         { results { call { callerKey } } } }",
        json!({ "at": long_ago }),
    )?;
    let key = recorded["data"]["recordCallEvents"]["results"][0]["call"]["callerKey"]
        .as_str()
        .ok_or_else(|| E2eError::Assertion(format!("not recorded: {recorded}")))?
        .to_owned();
    // A day as the clinic writes it; the start and the filter both read it in the clinic's time.
    let day = (chrono::Utc::now() + chrono::Duration::days(3))
        .format("%Y-%m-%d")
        .to_string();

    sign_in(&browser.client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
    let page = AppointmentsPage::open(&browser.client).await?;
    if page.offered_callers().await?.contains(&key) {
        return Err(E2eError::Assertion(
            "a caller from two months ago is listed among the recent ones".to_owned(),
        ));
    }
    page.book_found("818", &key, &format!("{day}T11:00"), "80")
        .await?;

    page.filter(&day, &day, "818").await?;
    let (_, listed) = server.graphql_as(
        Some(&cookie),
        "query($day: NaiveDate!) { appointments(first: 25, filter: { from: $day, to: $day, callerTail: \"818\" }) \
         { edges { node { id callerKey valueMinor } } } }",
        json!({ "day": day }),
    )?;
    let api_ids = appointment_ids(&listed);
    page.wait_for_ids(&api_ids).await?;
    let rows = page.rows().await?;
    if listed["data"]["appointments"]["edges"][0]["node"]["callerKey"] != key.as_str()
        || !rows.iter().all(|(tail, _)| tail == "•••• 818")
        || rows
            .first()
            .is_none_or(|(_, starts)| !starts.contains("11:00"))
    {
        return Err(E2eError::Assertion(format!(
            "the page shows {rows:?}; the API lists {listed}"
        )));
    }

    let said = page.edit(&key, "95", Some(&format!("{day}T14:30"))).await?;
    page.wait_for_amount(&key, "£95.00").await?;
    let rows = page.rows().await?;
    if said != "Saved: value and start changed."
        || rows
            .first()
            .is_none_or(|(_, starts)| !starts.contains("14:30"))
    {
        return Err(E2eError::Assertion(format!(
            "after the dialog the page says {said:?} and shows {rows:?}"
        )));
    }
    // A decimal comma and an emptied start are refused in the dialog, which stays open; nothing
    // is sent, so the value stays £95.00.
    let comma = page.refused_edit(&key, "45,50").await?;
    let emptied = page.refused_edit(&key, "45.50").await?;
    if !comma.contains("e.g. 45.50") || !emptied.contains("not removed") {
        return Err(E2eError::Assertion(format!(
            "the dialog said {comma:?} and {emptied:?}"
        )));
    }
    let (_, after) = server.graphql_as(
        Some(&cookie),
        "query($day: NaiveDate!) { appointments(first: 1, filter: { from: $day, to: $day, callerTail: \"818\" }) \
         { edges { node { callerKey valueMinor startsAt } } } }",
        json!({ "day": day }),
    )?;
    let node = &after["data"]["appointments"]["edges"][0]["node"];
    if node["callerKey"] != key.as_str() || node["valueMinor"] != 9500 {
        return Err(E2eError::Assertion(format!("the API shows {after}")));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_caller_is_booked_and_changed_in_the_dialog() {
    on_demo(
        "an_older_caller_is_booked_and_changed_in_the_dialog",
        book_an_older_caller_and_change_it_in_the_dialog,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appointments_page_in_the_apis_order() {
    on_demo(
        "appointments_page_in_the_apis_order",
        page_through_appointments,
    )
    .await;
}

/// An API key made in the browser works once and stops when revoked; the CSV export equals the
/// API's and holds no number; the audit log shows all three acts.
async fn keys_export_and_audit_log(
    browser: &Browser,
    server: &RingbackServer,
) -> Result<(), E2eError> {
    sign_in(&browser.client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
    let keys = ApiKeysPage::open(&browser.client).await?;
    let secret = keys.create_writer("Booking system").await?;
    let who = "{ clinic { name } }";
    let answer = server.graphql_with_key(&secret, who)?;
    if !answer["data"]["clinic"]["name"].is_string() {
        return Err(E2eError::Assertion(format!(
            "the new key was refused: {answer}"
        )));
    }
    keys.revoke("Booking system").await?;
    let answer = server.graphql_with_key(&secret, who)?;
    if answer["errors"][0]["extensions"]["code"] != "UNAUTHENTICATED" {
        return Err(E2eError::Assertion(format!(
            "a revoked key still works: {answer}"
        )));
    }

    let export = ExportPage::open(&browser.client).await?;
    let (from, to) = export.period().await?;
    let (filename, csv) = export.prepare("appointments").await?;
    let cookie = server.api_session(DEMO_OWNER.0, DEMO_OWNER.1)?;
    let (_, api) = server.graphql_as(
        Some(&cookie),
        "query($from: NaiveDate!, $to: NaiveDate!) { exportCsv(what: APPOINTMENTS, from: $from, to: $to) { filename content rows } }",
        json!({ "from": from, "to": to }),
    )?;
    let expected = &api["data"]["exportCsv"];
    if filename != expected["filename"] || csv != expected["content"] || csv.lines().count() < 2 {
        return Err(E2eError::Assertion(format!(
            "the page's {filename} differs from the API's {}",
            expected["filename"]
        )));
    }
    if ["7700900", "7700 900", "+44"]
        .iter()
        .any(|number| csv.contains(number))
    {
        return Err(E2eError::Assertion(
            "the export holds a phone number".to_owned(),
        ));
    }

    let audit_log = AuditLogPage::open(&browser.client).await?;
    let actions = audit_log.actions().await?;
    for action in ["api_key.created", "api_key.revoked", "export.created"] {
        if !actions.iter().any(|listed| listed == action) {
            return Err(E2eError::Assertion(format!(
                "{action} is not in the audit log: {actions:?}"
            )));
        }
    }
    // Older entries are a click away.
    let (_, more) = server.graphql_as(
        Some(&cookie),
        "{ auditLog(first: 100) { pageInfo { hasNextPage } } }",
        json!({}),
    )?;
    // The demo clinic's log is longer than a page.
    if more["data"]["auditLog"]["pageInfo"]["hasNextPage"] != true {
        return Err(E2eError::Assertion(format!(
            "the demo's audit log fits one page: {more}"
        )));
    }
    if !audit_log.offers_older().await? {
        return Err(E2eError::Assertion(
            "the page offers no older entries".to_owned(),
        ));
    }
    let first_page = audit_log.seqs().await?;
    let oldest_shown = first_page.iter().copied().min().unwrap_or_default();
    let older = audit_log.older(oldest_shown).await?;
    if older.is_empty() || older.iter().any(|seq| *seq >= oldest_shown) {
        return Err(E2eError::Assertion(format!(
            "older entries {older:?} after a page ending at {oldest_shown}"
        )));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_export_and_audit_log_from_the_browser() {
    on_demo(
        "api_keys_export_and_audit_log_from_the_browser",
        keys_export_and_audit_log,
    )
    .await;
}

async fn settings_for_admins_only(
    browser: &Browser,
    server: &RingbackServer,
) -> Result<(), E2eError> {
    // The owner edits a template and sees the text exactly as it will be sent.
    let cookie = server.api_session(DEMO_OWNER.0, DEMO_OWNER.1)?;
    let overview = sign_in(&browser.client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
    let settings = SettingsPage::open(&browser.client).await?;
    // Another admin changes the delay and the privacy mode while this page is open: saving the
    // page's own edits must not write the values it loaded back over theirs.
    let (_, meanwhile) = server.graphql_as(
        Some(&cookie),
        "mutation { updatePhoneSettings(input: { textBackDelaySeconds: 45 }) { textBackEnabled } \
         updateClinicSettings(input: { privacyMode: \"text_back\" }) { id } }",
        json!({}),
    )?;
    if !meanwhile["errors"].is_null() {
        return Err(E2eError::Assertion(format!(
            "changed meanwhile: {meanwhile}"
        )));
    }
    settings
        .write_template("template-open", "Sorry we missed you at {clinic}!")
        .await?;
    let (_, clinic) = server.graphql_as(Some(&cookie), "{ clinic { name } }", json!({}))?;
    let name = clinic["data"]["clinic"]["name"]
        .as_str()
        .unwrap_or_default();
    let (text, cost) = settings.preview("template-open").await?;
    let expected = format!("Sorry we missed you at {name}! (Automated text)");
    if text != expected || !cost.contains("1 SMS segment") {
        return Err(E2eError::Assertion(format!(
            "preview {text:?} / {cost:?}, expected {expected:?} in one segment"
        )));
    }

    // A booking link the server refuses leaves everything as it was: the new name too.
    let (_, before) = server.graphql_as(
        Some(&cookie),
        "{ phoneSettings { bookingLink } }",
        json!({}),
    )?;
    let link = before["data"]["phoneSettings"]["bookingLink"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    settings
        .write_field("clinic-name", "Renamed Dental")
        .await?;
    settings
        .write_field("booking-link", "www.example.test")
        .await?;
    let refused = settings.save().await?;
    if !matches!(&refused, Err(message) if message.contains("booking link")) {
        return Err(E2eError::Assertion(format!("a bad link gave {refused:?}")));
    }
    let (_, after) = server.graphql_as(Some(&cookie), "{ clinic { name } }", json!({}))?;
    if after["data"]["clinic"]["name"] != name {
        return Err(E2eError::Assertion(format!(
            "the clinic was saved while the page said it was not: {after}"
        )));
    }
    settings.write_field("clinic-name", name).await?;
    settings.write_field("booking-link", &link).await?;

    // Business hours are checked in the browser by the shared rules; good ones reach the server.
    settings.write_hours(5, "9 to 5").await?;
    let refused = settings.save().await?;
    if !matches!(&refused, Err(message) if message.contains("HH:MM")) {
        return Err(E2eError::Assertion(format!("bad hours gave {refused:?}")));
    }
    settings.write_hours(5, "10:00-13:00").await?;
    // A holiday four weeks ahead, whatever today is.
    let holiday = (chrono::Utc::now() + chrono::Duration::days(28))
        .date_naive()
        .to_string();
    settings.add_holiday(&holiday).await?;
    let saved = settings.save().await?;
    let named = |said: &str| {
        ["business hours", "holidays", "changed."]
            .iter()
            .all(|word| said.contains(word))
    };
    if !matches!(&saved, Ok(said) if named(said)) {
        return Err(E2eError::Assertion(format!(
            "saving settings should say what changed: {saved:?}"
        )));
    }
    let (_, phone) = server.graphql_as(
        Some(&cookie),
        "{ phoneSettings { businessHours { weekday spans { opens closes } } holidays \
         textBackDelaySeconds } clinic { privacyMode } }",
        json!({}),
    )?;
    if phone["data"]["phoneSettings"]["textBackDelaySeconds"] != 45
        || phone["data"]["clinic"]["privacyMode"] != "text_back"
    {
        return Err(E2eError::Assertion(format!(
            "the page wrote back what it had loaded: {phone}"
        )));
    }
    let saturday = &phone["data"]["phoneSettings"]["businessHours"][5];
    if saturday
        != &json!({ "weekday": "SATURDAY", "spans": [{ "opens": "10:00", "closes": "13:00" }] })
        || !phone["data"]["phoneSettings"]["holidays"]
            .as_array()
            .is_some_and(|days| days.contains(&json!(holiday)))
    {
        return Err(E2eError::Assertion(format!("saved phone settings {phone}")));
    }

    // The owner invites a receptionist from the team page; the link is all they need.
    let team = TeamPage::open(&browser.client).await?;
    let link = team
        .invite_receptionist("reception@demo.ringback.test", "Robin")
        .await?;
    if !link.starts_with(&format!("{}accept-invite#", server.url)) {
        return Err(E2eError::Assertion(format!("invitation link {link:?}")));
    }
    // An invitation refused (a name of spaces only) leaves no earlier link on screen to be sent
    // to the wrong person.
    team.invite_refused("someone@demo.ringback.test", "   ")
        .await?;
    overview.sign_out().await?;
    AcceptInvitePage::open(&browser.client, &link)
        .await?
        .join("reception password 1")
        .await?;
    let joined = OverviewPage::wait(&browser.client).await?;
    let who = joined.signed_in_as().await?;
    if !who.starts_with("Robin") {
        return Err(E2eError::Assertion(format!("joined as {who:?}")));
    }

    // The receptionist sees no settings link, and the page itself refuses.
    if has_link(&browser.client, "Settings").await? {
        return Err(E2eError::Assertion(
            "a receptionist is offered settings".to_owned(),
        ));
    }
    browser
        .client
        .goto(&format!("{}settings", server.url))
        .await?;
    wait_for_forbidden(&browser.client).await?;
    if !browser
        .client
        .find_all(fantoccini::Locator::Css("[data-testid=settings-save]"))
        .await?
        .is_empty()
    {
        return Err(E2eError::Assertion(
            "the settings form rendered for a receptionist".to_owned(),
        ));
    }

    // The link works once.
    browser.client.goto(&server.url).await?;
    OverviewPage::wait(&browser.client)
        .await?
        .sign_out()
        .await?;
    let again = AcceptInvitePage::open(&browser.client, &link).await?;
    again.join("reception password 1").await?;
    let refusal = again.error().await?;
    if !refusal.contains("cannot be used") {
        return Err(E2eError::Assertion(format!(
            "a used invitation said {refusal:?}"
        )));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_for_admins_and_an_invited_receptionist_without_them() {
    on_demo(
        "settings_for_admins_and_an_invited_receptionist_without_them",
        settings_for_admins_only,
    )
    .await;
}

async fn what_if_equals_the_server_after_saving(
    browser: &Browser,
    server: &RingbackServer,
) -> Result<(), E2eError> {
    sign_in(&browser.client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
    SettingsPage::open(&browser.client).await?;
    let what_if = WhatIfPage::open(&browser.client).await?;
    let saved_before = what_if.saved().await?;
    what_if.set_window(2).await?;
    let previewed = what_if.preview().await?;
    let said = what_if.save(2).await?;
    let saved_after = what_if.saved().await?;
    if saved_after != previewed || !said.ends_with("to 2 days.") {
        return Err(E2eError::Assertion(format!(
            "previewed {previewed:?}, the server saved {saved_after:?} (before: {saved_before:?}); the page said {said:?}"
        )));
    }
    // And the API, asked directly, says the same.
    let (from, to) = what_if.period().await?;
    let cookie = server.api_session(DEMO_OWNER.0, DEMO_OWNER.1)?;
    let (_, api) = server.graphql_as(
        Some(&cookie),
        "query($from: NaiveDate!, $to: NaiveDate!) { clinic { currency attributionWindowDays } \
         metrics(from: $from, to: $to) { totals { recoveredAppointments recoveredRevenueMinor } } }",
        json!({ "from": from, "to": to }),
    )?;
    let totals = &api["data"]["metrics"]["totals"];
    let currency = api["data"]["clinic"]["currency"].as_str().unwrap_or("GBP");
    let expected = (
        totals["recoveredAppointments"].to_string(),
        display::money(
            totals["recoveredRevenueMinor"].as_i64().unwrap_or(-1),
            currency,
        ),
    );
    if api["data"]["clinic"]["attributionWindowDays"] != 2 || expected != previewed {
        return Err(E2eError::Assertion(format!(
            "previewed {previewed:?}; the API says {api}"
        )));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_what_if_preview_equals_the_server_after_saving() {
    on_demo(
        "the_what_if_preview_equals_the_server_after_saving",
        what_if_equals_the_server_after_saving,
    )
    .await;
}

/// A text-back the provider refuses for good shows on the "texts not sent" page with the
/// provider's reason; "Try again" sends it once the provider accepts.
async fn a_refused_text_back_is_tried_again(
    browser: &Browser,
    server: &RingbackServer,
    fake: &FakeTwilio,
) -> Result<(), E2eError> {
    let cookie = owner_sets_up(
        server,
        "mutation { updatePhoneSettings(input: { textBackEnabled: true, textBackDelaySeconds: 0 }) { textBackEnabled } }",
    )?;
    fake.fail_next([Failure::SenderCannotText]);
    let (status, _) = server.post_twilio(
        PUBLIC_URL,
        TWILIO_AUTH_TOKEN,
        "/webhooks/twilio/dial-status",
        &[
            ("CallSid", "CAe2e0000000000000000000000000002"),
            ("From", "+447700900992"),
            ("To", CLINIC_NUMBER),
            ("Direction", "inbound"),
            ("DialCallStatus", "no-answer"),
        ],
    )?;
    if !status.contains("200") {
        return Err(E2eError::Assertion(format!("the missed call got {status}")));
    }

    // The worker gives up at once on a refusal; the overview then tells the owner.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, dead) = server.graphql_as(Some(&cookie), "{ deadLetters { id } }", json!({}))?;
        if dead["data"]["deadLetters"]
            .as_array()
            .is_some_and(|jobs| jobs.len() == 1)
        {
            break;
        }
        if std::time::Instant::now() > deadline {
            return Err(E2eError::Assertion(format!("no dead letter: {dead}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let overview = sign_in(&browser.client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
    let notice = overview.undelivered_notice().await?;
    if notice != "1 text could not be sent: review" {
        return Err(E2eError::Assertion(format!("the overview says {notice:?}")));
    }
    let page = overview.open_undelivered().await?;
    let reason = page.first_reason().await?;
    if !reason.contains("error 21606") {
        return Err(E2eError::Assertion(format!(
            "the page gives the reason {reason:?}"
        )));
    }
    page.retry_first().await?;
    let sent = fake
        .wait_for_messages(1, Duration::from_secs(20))
        .await
        .into_iter()
        .filter(|message| message.to == "+447700900992")
        .count();
    if sent != 1 {
        return Err(E2eError::Assertion(format!(
            "the retried text-back reached the provider {sent} times"
        )));
    }
    page.wait_until_empty().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_text_back_shows_and_is_sent_on_retry() {
    on_demo_with_sms(
        "a_refused_text_back_shows_and_is_sent_on_retry",
        a_refused_text_back_is_tried_again,
    )
    .await;
}

/// The demo owner is invited to help at another clinic: signed out, the invitation asks them to
/// sign in first (it never tries their password); signed in, it joins with one click and lands in
/// the new clinic; the header then offers both, and choosing one moves the whole dashboard there.
async fn switch_between_clinics(
    browser: &Browser,
    server: &RingbackServer,
) -> Result<(), E2eError> {
    let (_, created) = server.graphql_as(
        None,
        "mutation($input: SignUpInput!) { signUp(input: $input) { clinic { id } } }",
        sign_up_variables(
            "Hillside Dental",
            "dental",
            "Hana Hill",
            "owner@hillside.test",
            "hillside password 1",
        ),
    )?;
    if created["errors"].is_array() {
        return Err(E2eError::Assertion(format!("sign-up failed: {created}")));
    }
    let hillside = server.api_session("owner@hillside.test", "hillside password 1")?;
    let (_, invited) = server.graphql_as(
        Some(&hillside),
        "mutation($email: String!) { inviteMember(email: $email, displayName: \"Demo\", role: ADMIN) { token } }",
        json!({ "email": DEMO_OWNER.0 }),
    )?;
    let link = format!(
        "{}accept-invite#{}",
        server.url,
        invited["data"]["inviteMember"]["token"]
            .as_str()
            .unwrap_or_default()
    );

    let signed_out = AcceptInvitePage::open(&browser.client, &link).await?;
    signed_out.join(DEMO_OWNER.1).await?;
    let refusal = signed_out.error().await?;
    if !refusal.contains("sign in") {
        return Err(E2eError::Assertion(format!(
            "an existing account joined without its session: {refusal:?}"
        )));
    }

    sign_in(&browser.client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
    let said = AcceptInvitePage::open(&browser.client, &link)
        .await?
        .join_signed_in()
        .await?;
    if !said.contains(DEMO_OWNER.0) {
        return Err(E2eError::Assertion(format!("the page offered {said:?}")));
    }
    let overview = OverviewPage::wait(&browser.client).await?;
    if !overview.signed_in_as().await?.ends_with("Hillside Dental") {
        return Err(E2eError::Assertion(
            "joining did not move the session to Hillside".to_owned(),
        ));
    }
    if !shows_link(&browser.client, "Settings").await? {
        return Err(E2eError::Assertion(
            "an admin at Hillside has no settings".to_owned(),
        ));
    }
    let missed = overview.figure("figure-missed-calls").await?;
    if missed != "0" {
        return Err(E2eError::Assertion(format!(
            "the new clinic shows the demo clinic's {missed} missed calls"
        )));
    }
    overview.switch_clinic("Riverside Dental (demo)").await?;
    // Back at the demo clinic, its missed calls show again: over the last 30 days, which the
    // demo's 90 days before today always overlap (this month may be a day old).
    let demo = OverviewPage::wait(&browser.client).await?;
    demo.choose_period("period-last-30-days").await?;
    demo.wait_for_figure("figure-missed-calls", |shown| {
        !shown.is_empty() && shown != "0"
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_two_clinics_switches_between_them() {
    on_demo(
        "a_member_of_two_clinics_switches_between_them",
        switch_between_clinics,
    )
    .await;
}

/// A sign-up on a server that sends mail (the fake SMTP server): the link in the confirmation
/// mail opens the dashboard's confirmation page, which creates the clinic and signs its owner in.
/// Signed out, the owner follows "Forgot your password?", and the link of the reset mail opens
/// the page that chooses a new password and signs them in again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_and_a_password_reset_are_finished_from_their_mails() {
    let smtp = ringback_api::fakes::smtp::FakeSmtp::start()
        .await
        .unwrap_or_else(|e| panic!("fake SMTP: {e}"));
    let server = RingbackServer::start_with_env(
        Data::Empty,
        &[
            ("RINGBACK_PUBLIC_URL", PUBLIC_URL),
            ("RINGBACK_SMTP_URL", smtp.url()),
            (
                "RINGBACK_MAIL_FROM",
                "Ringback <no-reply@ringback.e2e.test>",
            ),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e}"));
    let outcome = async {
        sign_up_from_the_mail(&browser, &server, &smtp).await?;
        reset_from_the_mail(&browser, &server, &smtp).await
    }
    .await;
    report(
        "a_sign_up_and_a_password_reset_are_finished_from_their_mails",
        browser,
        &server,
        outcome,
    )
    .await;
}

async fn sign_up_from_the_mail(
    browser: &Browser,
    server: &RingbackServer,
    smtp: &ringback_api::fakes::smtp::FakeSmtp,
) -> Result<(), E2eError> {
    let (_, requested) = server.graphql_as(
        None,
        "mutation($input: SignUpInput!) { requestSignUp(input: $input) }",
        sign_up_variables(
            "Quayside Dental",
            "dental",
            "Nia Owner",
            "nia@quayside.test",
            "correct horse battery",
        ),
    )?;
    if requested != json!({ "data": { "requestSignUp": true } }) {
        return Err(E2eError::Assertion(format!("requestSignUp: {requested}")));
    }
    let local = local_link_of_mail(server, smtp, 1).await?;
    ConfirmSignUpPage::open(&browser.client, &local)
        .await?
        .create_clinic("correct horse battery")
        .await?;
    signed_in_as_nia(&browser.client).await
}

/// Signed out, Nia asks for a reset link from the sign-in page and chooses a new password with
/// it, which signs her in.
async fn reset_from_the_mail(
    browser: &Browser,
    server: &RingbackServer,
    smtp: &ringback_api::fakes::smtp::FakeSmtp,
) -> Result<(), E2eError> {
    let said = OverviewPage::wait(&browser.client)
        .await?
        .sign_out()
        .await?
        .forgot_password()
        .await?
        .ask("nia@quayside.test")
        .await?;
    if !said.contains("on its way") {
        return Err(E2eError::Assertion(format!("after asking: {said:?}")));
    }
    let local = local_link_of_mail(server, smtp, 2).await?;
    ResetPasswordPage::open(&browser.client, &local)
        .await?
        .choose("a brand new password")
        .await?;
    signed_in_as_nia(&browser.client).await
}

/// The link in the `nth` mail (from 1) the fake SMTP server received, pointed at the local
/// server: links name the public address, and here the server listens locally.
async fn local_link_of_mail(
    server: &RingbackServer,
    smtp: &ringback_api::fakes::smtp::FakeSmtp,
    nth: usize,
) -> Result<String, E2eError> {
    let mails = smtp.wait_for_mails(nth, Duration::from_secs(20)).await;
    let body = mails
        .get(nth - 1)
        .map(|mail| mail.body())
        .ok_or_else(|| E2eError::Assertion(format!("no mail number {nth}")))?;
    let link = body
        .lines()
        .find(|line| line.starts_with(PUBLIC_URL))
        .ok_or_else(|| E2eError::Assertion(format!("no link in the mail: {body}")))?;
    Ok(link.replacen(PUBLIC_URL, server.url.trim_end_matches('/'), 1))
}

/// Waits for the overview and checks that Nia is signed in.
async fn signed_in_as_nia(client: &fantoccini::Client) -> Result<(), E2eError> {
    let who = OverviewPage::wait(client).await?.signed_in_as().await?;
    if who.contains("Nia Owner") || who.contains("nia@quayside.test") {
        Ok(())
    } else {
        Err(E2eError::Assertion(format!("signed in as {who:?}")))
    }
}
