//! Google Calendar from the browser, with the real binary, the demo clinic and the fake Google:
//! the owner sees which address to share a calendar with and the code to put in its description,
//! is told how when the calendar is not shared, saves it once it is, and the demo's upcoming
//! bookings appear in it; booking over the owner's own event there, the form warns of it.

use std::time::Duration;

use ringback_api::demo::LATEST_START_DAYS;
use ringback_api::fakes::google::{CLIENT_EMAIL, FakeGoogle};
use ringback_e2e::browser::Browser;
use ringback_e2e::pages::{AppointmentsPage, SettingsPage, sign_in};
use ringback_e2e::server::{DEMO_OWNER, RingbackServer};
use ringback_e2e::{E2eError, on_demo_with_sms_and};

const CALENDAR: &str = "frontdesk@ringback-demo.test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_keeps_bookings_in_a_shared_google_calendar() {
    let google = FakeGoogle::start()
        .await
        .unwrap_or_else(|e| panic!("fake Google: {e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let key_file = google
        .key_file(dir.path())
        .unwrap_or_else(|e| panic!("key file: {e}"));
    let key_file = key_file.to_string_lossy().into_owned();
    let settings = [
        ("RINGBACK_GOOGLE_SERVICE_ACCOUNT_FILE", key_file.as_str()),
        ("RINGBACK_GOOGLE_CALENDAR_API_URL", google.api_url()),
    ];
    on_demo_with_sms_and(
        "an_owner_keeps_bookings_in_a_shared_google_calendar",
        &settings,
        async |browser, server, _| choose_calendar(browser, server, &google).await,
    )
    .await;
}

async fn choose_calendar(
    browser: &Browser,
    server: &RingbackServer,
    google: &FakeGoogle,
) -> Result<(), E2eError> {
    sign_in(&browser.client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
    let settings = SettingsPage::open(&browser.client).await?;
    let (address, code) = settings.calendar_instructions().await?;
    if address != CLIENT_EMAIL || !code.starts_with("ringback-") {
        return Err(E2eError::Assertion(format!(
            "share with {address:?}, code {code:?}"
        )));
    }
    let refused = settings.choose_calendar(CALENDAR).await?;
    if !refused
        .as_ref()
        .is_err_and(|why| why.contains(CLIENT_EMAIL))
    {
        return Err(E2eError::Assertion(format!(
            "a calendar not shared was taken: {refused:?}"
        )));
    }
    google.share(CALENDAR, "writer");
    google.describe(CALENDAR, &code);
    let saved = settings.choose_calendar(CALENDAR).await?;
    if !saved.as_ref().is_ok_and(|said| said.contains(CALENDAR)) {
        return Err(E2eError::Assertion(format!("not saved: {saved:?}")));
    }
    let mut synced = false;
    for _ in 0..150 {
        if !google.events(CALENDAR).is_empty() {
            synced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !synced {
        return Err(E2eError::Assertion(
            "no upcoming demo booking reached the calendar".to_owned(),
        ));
    }
    book_over_the_owners_event(browser, google).await
}

/// The owner's own event blocks a day after every demo booking from 08:00 to 14:00 UTC; a new
/// booking at 11:00 that day (the clinic's time, within the event in winter and summer alike) is
/// warned of it.
async fn book_over_the_owners_event(
    browser: &Browser,
    google: &FakeGoogle,
) -> Result<(), E2eError> {
    let clear = chrono::Duration::days(LATEST_START_DAYS as i64 + 5);
    let day = (chrono::Utc::now() + clear).format("%Y-%m-%d").to_string();
    google.block(
        CALENDAR,
        (&format!("{day}T08:00:00Z"), &format!("{day}T14:00:00Z")),
        false,
    );
    let appointments = AppointmentsPage::open(&browser.client).await?;
    let warning = appointments
        .calendar_clash_at(&format!("{day}T11:00"))
        .await?;
    if !warning.contains("clashes") {
        return Err(E2eError::Assertion(format!("the form warned {warning:?}")));
    }
    Ok(())
}
