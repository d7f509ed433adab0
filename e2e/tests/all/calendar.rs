//! Google Calendar from the browser, with the real binary, the demo clinic and the fake Google:
//! the owner sees which address to share a calendar with and the code to put in its description,
//! is told how when the calendar is not shared, saves it once it is, and the demo's upcoming
//! bookings appear in it; booking over the owner's own event there, or moving a booking onto it,
//! the form warns of it, and a booking changed is not warned of its own event.

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
    // Synced once the calendar holds events and has not changed for a second.
    let (mut seen, mut unchanged) = (0, 0);
    for _ in 0..300 {
        let events = google.events(CALENDAR).len();
        unchanged = if events == seen { unchanged + 1 } else { 0 };
        seen = events;
        if seen > 0 && unchanged >= 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if seen == 0 || unchanged < 10 {
        return Err(E2eError::Assertion(format!(
            "the upcoming demo bookings did not settle in the calendar: {seen} events"
        )));
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
    move_a_booking_over_the_owners_event(&appointments, google, &day).await
}

/// A demo booking whose event no other busy time touches, opened to be changed: the dialog names
/// its own event in the day's busy times and warns of nothing; moved to 11:00 on `day` (the
/// owner's event), it is warned.
async fn move_a_booking_over_the_owners_event(
    appointments: &AppointmentsPage<'_>,
    google: &FakeGoogle,
    day: &str,
) -> Result<(), E2eError> {
    let at = |event: &serde_json::Value, edge: &str| {
        let text = event[edge]["dateTime"].as_str().unwrap_or_default();
        chrono::DateTime::parse_from_rfc3339(text).ok()
    };
    let spans: Vec<_> = google
        .events(CALENDAR)
        .iter()
        .filter_map(|event| {
            let id = booking_of(event["id"].as_str()?)?;
            Some((id, at(event, "start")?, at(event, "end")?))
        })
        .filter(|(_, starts, _)| starts.format("%Y-%m-%d").to_string().as_str() < day)
        .collect();
    let (id, starts, _) = spans
        .iter()
        .find(|(id, from, to)| {
            spans
                .iter()
                .all(|(other, f, t)| other == id || t < from || f > to)
        })
        .ok_or_else(|| E2eError::Assertion(format!("no booking stands alone: {spans:?}")))?;
    let around = |days: i64| (starts.date_naive() + chrono::Duration::days(days)).to_string();
    appointments.filter(&around(-1), &around(1), "").await?;
    let said = appointments.dialog_calendar_of(id).await?;
    if !said.contains("(this booking)") {
        return Err(E2eError::Assertion(format!(
            "the booking's own event is not named: {said:?}"
        )));
    }
    let warning = appointments
        .dialog_clash_at(&format!("{day}T11:00"))
        .await?;
    if !warning.contains("clashes") {
        return Err(E2eError::Assertion(format!(
            "the dialog warned {warning:?}"
        )));
    }
    Ok(())
}

/// The booking an event is of: its id is the booking's hex digits (the owner's own events have
/// other ids).
fn booking_of(event_id: &str) -> Option<String> {
    let hex = event_id.len() == 32 && event_id.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then(|| {
        let part = |from: usize, to: usize| &event_id[from..to];
        let parts = [
            part(0, 8),
            part(8, 12),
            part(12, 16),
            part(16, 20),
            part(20, 32),
        ];
        parts.join("-")
    })
}
