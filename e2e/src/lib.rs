//! Harness for end-to-end tests: starts the real `ringback` binary on a free port with a temporary
//! embedded database, starts chromedriver with headless Chromium, and offers page objects and
//! checks (browser console errors, a screenshot on failure).
//!
//! Nothing here skips: a missing binary, dashboard build or browser is an error that says how to
//! get it.

pub mod audit;
pub mod browser;
pub mod pages;
pub mod server;

use std::path::{Path, PathBuf};

use browser::Browser;
use ringback_api::fakes::twilio::{ACCOUNT_SID, FakeTwilio};
use server::{Data, RingbackServer};

/// Errors setting up or running an end-to-end scenario.
#[derive(Debug)]
pub enum E2eError {
    /// Something the test needs is not installed or built; the message says how to get it.
    Missing(String),
    /// A process failed to start or answer.
    Process(String),
    /// A WebDriver command failed.
    WebDriver(String),
    /// The page did not show what the scenario expected.
    Assertion(String),
}

impl std::fmt::Display for E2eError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing(what) => write!(f, "missing: {what}"),
            Self::Process(what) => write!(f, "process: {what}"),
            Self::WebDriver(what) => write!(f, "webdriver: {what}"),
            Self::Assertion(what) => write!(f, "assertion: {what}"),
        }
    }
}

impl std::error::Error for E2eError {}

impl From<fantoccini::error::CmdError> for E2eError {
    fn from(error: fantoccini::error::CmdError) -> Self {
        Self::WebDriver(error.to_string())
    }
}

/// The repository root (the workspace directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where failure artefacts (screenshots, server logs) are written.
pub fn artifacts_dir() -> PathBuf {
    workspace_root().join("target").join("e2e-artifacts")
}

/// Runs `scenario` against the demo clinic; on failure saves a screenshot and prints the console
/// and the server log.
pub async fn on_demo<F>(name: &str, scenario: F)
where
    F: AsyncFnOnce(&Browser, &RingbackServer) -> Result<(), E2eError>,
{
    let server = RingbackServer::start_with(Data::Demo).unwrap_or_else(|e| panic!("{e}"));
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e}"));
    let outcome = scenario(&browser, &server).await;
    report(name, browser, &server, outcome).await;
}

/// Closes the browser; a failed scenario panics with its screenshot, the browser console and the
/// server log.
pub async fn report(
    name: &str,
    browser: Browser,
    server: &RingbackServer,
    outcome: Result<(), E2eError>,
) {
    if let Err(error) = outcome {
        let shot = browser.screenshot(name).await;
        let console = browser.console_errors().await;
        let log = server.log();
        browser.close().await;
        panic!("{error}\nscreenshot: {shot:?}\nbrowser console: {console:?}\nserver log:\n{log}");
    }
    browser.close().await;
}

/// A clinic in London (region GB, pounds) for `signUp` or `requestSignUp`, as their `input`
/// variables: a clinic named `clinic` of `kind`, owned by `owner` with `email` and `password`.
pub fn sign_up_variables(
    clinic: &str,
    kind: &str,
    owner: &str,
    email: &str,
    password: &str,
) -> serde_json::Value {
    serde_json::json!({ "input": {
        "clinicName": clinic, "kind": kind, "timeZone": "Europe/London",
        "defaultRegion": "GB", "currency": "GBP", "ownerName": owner,
        "ownerEmail": email, "password": password,
        "acceptedTerms": ringback_shared::terms::VERSION } })
}

/// The public address Twilio signs webhooks for in the scenarios with a (fake) SMS provider.
pub const PUBLIC_URL: &str = "https://ringback.e2e.test";
/// The fake Twilio account's auth token.
pub const TWILIO_AUTH_TOKEN: &str = "e2e-twilio-auth-token";

/// The demo clinic's number, which the fake Twilio account holds.
pub const CLINIC_NUMBER: &str = ringback_api::demo::TEXTING_NUMBER;

/// A signed `dial-status` webhook telling `server` that `from` rang the clinic's number and
/// nobody answered (Twilio's call id `call_sid`).
pub fn miss_a_call(server: &RingbackServer, call_sid: &str, from: &str) -> Result<(), E2eError> {
    let (status, _) = server.post_twilio(
        PUBLIC_URL,
        TWILIO_AUTH_TOKEN,
        "/webhooks/twilio/dial-status",
        &[
            ("CallSid", call_sid),
            ("From", from),
            ("To", CLINIC_NUMBER),
            ("Direction", "inbound"),
            ("DialCallStatus", "no-answer"),
        ],
    )?;
    if status.contains("200") {
        Ok(())
    } else {
        Err(E2eError::Assertion(format!("the missed call got {status}")))
    }
}

/// Runs `scenario` against the demo clinic served with a fake Twilio as its SMS provider (its
/// account holds [`CLINIC_NUMBER`]; signed status callbacks are forwarded to the server); on
/// failure as [`on_demo`].
pub async fn on_demo_with_sms<F>(name: &str, scenario: F)
where
    F: AsyncFnOnce(&Browser, &RingbackServer, &FakeTwilio) -> Result<(), E2eError>,
{
    on_demo_with_sms_and(name, &[], scenario).await;
}

/// As [`on_demo_with_sms`], with the server given the `extra` settings too (another fake
/// provider's address, say).
pub async fn on_demo_with_sms_and<F>(name: &str, extra: &[(&str, &str)], scenario: F)
where
    F: AsyncFnOnce(&Browser, &RingbackServer, &FakeTwilio) -> Result<(), E2eError>,
{
    let fake = FakeTwilio::start(ACCOUNT_SID, TWILIO_AUTH_TOKEN)
        .await
        .unwrap_or_else(|e| panic!("fake Twilio: {e}"));
    fake.provision_number(CLINIC_NUMBER);
    let mut settings = vec![
        ("RINGBACK_PUBLIC_URL", PUBLIC_URL),
        ("RINGBACK_TWILIO_AUTH_TOKEN", TWILIO_AUTH_TOKEN),
        ("RINGBACK_TWILIO_ACCOUNT_SID", ACCOUNT_SID),
        ("RINGBACK_TWILIO_API_URL", fake.api_url()),
    ];
    settings.extend_from_slice(extra);
    let server =
        RingbackServer::start_with_env(Data::Demo, &settings).unwrap_or_else(|e| panic!("{e}"));
    fake.forward_callbacks(PUBLIC_URL, server.url.trim_end_matches('/'));
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e}"));
    let outcome = scenario(&browser, &server, &fake).await;
    report(name, browser, &server, outcome).await;
}
