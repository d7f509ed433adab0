//! Google Calendar end to end, on SQLite and on PostgreSQL, against the fake token endpoint and
//! Calendar API (service-account JWTs checked, sharing enforced): an admin chooses a calendar only
//! once Google says it is shared for changing events, which puts the upcoming bookings in it;
//! bookings made, moved and cancelled follow; Google failing is retried; a receptionist cannot
//! choose; no event carries anything of the caller; staff booking see when the calendar is
//! busy; a server without a Google account says so, and one without a phone provider still
//! syncs.

use crate::common::app::TestApp;
use crate::common::graphql::{SIGN_UP, error_code, join, sign_up_input};
use chrono::{Duration, SecondsFormat};
use ringback_api::config::DatabaseKind;
use ringback_providers::fakes::google::{CLIENT_EMAIL, FakeGoogle};
use serde_json::{Value, json};

const CALENDAR: &str = "frontdesk@harbour-dental.test";
const SETTING: &str = "{ googleCalendar { calendarId shareWith ownershipCode } }";
const CHOOSE: &str = "mutation($id: String) { setGoogleCalendar(calendarId: $id) }";
const BOOK: &str = "mutation($number: String!, $at: DateTime!) { createAppointment(input: \
    { callerNumber: $number, valueMinor: 4500, startsAt: $at }) { id } }";
const MOVE: &str =
    "mutation($id: ID!, $at: DateTime!) { updateAppointment(id: $id, startsAt: $at) { id } }";
const CANCEL: &str = "mutation($id: ID!) { cancelAppointment(id: $id) { id } }";
/// The callers booked below (fiction numbers); nothing of them may reach Google.
const CALLERS: [&str; 2] = ["07700 900461", "07700 900462"];

/// An app with the fake Twilio and the fake Google's service account.
async fn calendar_app(kind: DatabaseKind, google: &FakeGoogle, dir: &std::path::Path) -> TestApp {
    TestApp::builder(kind)
        .with_twilio()
        .with_google(google, dir)
        .build()
        .await
}

/// `days` from the app's now, as GraphQL takes it (whole seconds).
fn days_ahead(app: &TestApp, days: i64) -> String {
    (app.db.clock.now() + Duration::days(days)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Books the caller `number` at `at`; the booking's id.
async fn book(app: &mut TestApp, number: &str, at: &str) -> String {
    let booked = app
        .owner
        .run(BOOK, json!({ "number": number, "at": at }))
        .await;
    assert!(booked["errors"].is_null(), "{booked}");
    booked["data"]["createAppointment"]["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// The calendar event id of booking `id`: its hex digits.
fn event_id(id: &str) -> String {
    id.replace('-', "")
}

fn event_of<'a>(events: &'a [Value], id: &str) -> Option<&'a Value> {
    events.iter().find(|event| event["id"] == event_id(id))
}

async fn bookings_follow_into_the_shared_calendar(kind: DatabaseKind) {
    let google = FakeGoogle::start().await.expect("fake Google");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = calendar_app(kind, &google, dir.path()).await;
    let worker = app.worker("calendar");

    let setting = app.owner.run(SETTING, json!({})).await;
    let code = setting["data"]["googleCalendar"]["ownershipCode"]
        .as_str()
        .expect("a code")
        .to_owned();
    assert!(code.starts_with("ringback-"), "{setting}");
    assert_eq!(
        setting["data"]["googleCalendar"],
        json!({ "calendarId": null, "shareWith": CLIENT_EMAIL, "ownershipCode": code }),
        "{setting}"
    );

    // Booked before any calendar: nothing queued for Google.
    let early_at = days_ahead(&app, 1);
    let early = book(&mut app, CALLERS[0], &early_at).await;
    app.drain(&worker).await;
    assert!(google.requests().is_empty(), "{:?}", google.requests());

    // Not shared, shared read-only, shared for changes without the clinic's code in its
    // description: refused alike, saying with whom to share it and what code to put there.
    for shared in [None, Some("reader"), Some("writer")] {
        if let Some(role) = shared {
            google.share(CALENDAR, role);
        }
        let refused = app.owner.run(CHOOSE, json!({ "id": CALENDAR })).await;
        assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
        let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(CLIENT_EMAIL), "{message}");
        assert!(message.contains(&code), "{message}");
    }
    let unknown = app.owner.run(CHOOSE, json!({ "id": "two words" })).await;
    assert_eq!(error_code(&unknown), Some("BAD_USER_INPUT"), "{unknown}");
    google.describe(CALENDAR, &format!("Front desk diary. {code}"));

    // Another clinic of the server cannot take this calendar: the code is not its own.
    let mut stranger = app.browser();
    let signed_up = stranger
        .run(SIGN_UP, sign_up_input("owner@another-clinic.test"))
        .await;
    assert!(signed_up["errors"].is_null(), "{signed_up}");
    let taken = stranger.run(CHOOSE, json!({ "id": CALENDAR })).await;
    assert_eq!(error_code(&taken), Some("BAD_USER_INPUT"), "{taken}");

    // A receptionist cannot choose.
    let browser = app.browser();
    let mut receptionist = join(
        &mut app.owner,
        browser,
        "desk@harbour-dental.test",
        "RECEPTIONIST",
    )
    .await;
    let forbidden = receptionist.run(CHOOSE, json!({ "id": CALENDAR })).await;
    assert_eq!(error_code(&forbidden), Some("FORBIDDEN"), "{forbidden}");

    // Shared for changes: chosen, audited, and the upcoming booking goes in.
    let chosen = app.owner.run(CHOOSE, json!({ "id": CALENDAR })).await;
    assert_eq!(chosen["data"]["setGoogleCalendar"], true, "{chosen}");
    let audited: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .filter(|(action, _)| action == "settings.calendar_changed")
        .map(|(_, detail)| detail)
        .collect();
    assert_eq!(audited.len(), 1, "{audited:?}");
    let detail: Value = serde_json::from_str(&audited[0]).expect("json detail");
    assert_eq!(detail, json!({ "connected": true, "upcoming_queued": 1 }));
    assert!(
        !audited[0].contains(CALENDAR),
        "the calendar id is not audited"
    );
    app.drain(&worker).await;
    let events = google.events(CALENDAR);
    let first = event_of(&events, &early).expect("the upcoming booking's event");
    assert_eq!(first["start"]["dateTime"], early_at.as_str(), "{first}");
    let at = |edge: &str| {
        chrono::DateTime::parse_from_rfc3339(first[edge]["dateTime"].as_str().unwrap_or_default())
            .expect("an RFC 3339 time")
    };
    assert_eq!(at("end") - at("start"), Duration::minutes(30), "{first}");
    assert_eq!(first["start"]["timeZone"], "Europe/London", "{first}");

    // A visit imported from long ago stays out of the calendar.
    let imported_at = days_ahead(&app, -30);
    let requests = google.requests().len();
    book(&mut app, CALLERS[1], &imported_at).await;
    app.drain(&worker).await;
    assert_eq!(google.requests().len(), requests, "{:?}", google.requests());

    // A new booking goes in; Google failing once is tried again.
    google.fail_next([503]);
    let later_at = days_ahead(&app, 3);
    let later = book(&mut app, CALLERS[1], &later_at).await;
    app.drain(&worker).await;
    assert!(event_of(&google.events(CALENDAR), &later).is_some());

    // Moved: the event moves, and what staff added to it in Google stays. Cancelled: it goes.
    google.add_note(CALENDAR, &event_id(&later), "Side gate, dog in garden");
    let moved_to = days_ahead(&app, 5);
    let moved = app
        .owner
        .run(MOVE, json!({ "id": later, "at": moved_to }))
        .await;
    assert!(moved["errors"].is_null(), "{moved}");
    app.drain(&worker).await;
    let events = google.events(CALENDAR);
    let moved_event = event_of(&events, &later).expect("moved event");
    assert_eq!(moved_event["start"]["dateTime"], moved_to.as_str());
    assert_eq!(moved_event["location"], "Side gate, dog in garden");
    let cancelled = app.owner.run(CANCEL, json!({ "id": early })).await;
    assert!(cancelled["errors"].is_null(), "{cancelled}");
    app.drain(&worker).await;
    let events = google.events(CALENDAR);
    assert!(event_of(&events, &early).is_none(), "{events:?}");
    assert_eq!(events.len(), 1, "{events:?}");

    // Nothing of the callers reached Google: no number, no tail in any words of an event (its id
    // and times are hex digits and dates, which may hold any three digits).
    let sent: String = events
        .iter()
        .map(|event| {
            format!(
                "{} {} {}",
                event["summary"], event["description"], event["source"]
            )
        })
        .collect();
    for caller in CALLERS {
        let digits: String = caller.chars().filter(char::is_ascii_digit).collect();
        assert!(!sent.contains(&digits[digits.len() - 3..]), "{sent}");
    }
    assert!(sent.contains("/appointments"), "{sent}");

    // Cleared (asking Google nothing first): the upcoming event leaves the calendar, and new
    // bookings stay out.
    let cleared = app.owner.run(CHOOSE, json!({ "id": null })).await;
    assert_eq!(cleared["data"]["setGoogleCalendar"], true, "{cleared}");
    app.drain(&worker).await;
    assert_eq!(google.events(CALENDAR), Vec::<Value>::new());
    let requests = google.requests().len();
    let after_clearing = days_ahead(&app, 2);
    book(&mut app, CALLERS[0], &after_clearing).await;
    app.drain(&worker).await;
    assert_eq!(google.requests().len(), requests);

    // Five choices were made this minute for this clinic (three refused, one taken, one
    // clearing; a malformed id is refused before it counts): five more go, the eleventh not.
    let again = app.owner.run(CHOOSE, json!({ "id": CALENDAR })).await;
    assert_eq!(again["data"]["setGoogleCalendar"], true, "{again}");
    for _ in 0..4 {
        let same = app.owner.run(CHOOSE, json!({ "id": CALENDAR })).await;
        assert_eq!(same["data"]["setGoogleCalendar"], false, "{same}");
    }
    let limited = app.owner.run(CHOOSE, json!({ "id": null })).await;
    assert_eq!(error_code(&limited), Some("RATE_LIMITED"), "{limited}");
    // Chosen again: both upcoming bookings are in it, the one whose event was deleted restored.
    app.drain(&worker).await;
    let events = google.events(CALENDAR);
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(event_of(&events, &later).is_some(), "{events:?}");
    let dead = app
        .db
        .query_strings(
            "SELECT count(*) || '' AS n FROM job_outbox WHERE status = 'dead'",
            &["n"],
        )
        .await;
    assert_eq!(dead[0][0], "0", "no sync became a dead letter");
}

/// A server without a Google account offers no calendar and says why.
async fn without_a_google_account_no_calendar_can_be_chosen(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).build().await;
    let setting = app.owner.run(SETTING, json!({})).await;
    let shown = &setting["data"]["googleCalendar"];
    assert!(
        shown["calendarId"].is_null() && shown["shareWith"].is_null(),
        "{setting}"
    );
    let refused = app.owner.run(CHOOSE, json!({ "id": CALENDAR })).await;
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("RINGBACK_GOOGLE_SERVICE_ACCOUNT_FILE"),
        "{refused}"
    );
    assert!(error_code(&refused).is_some(), "{refused}");
}

const BUSY: &str = "query($from: NaiveDate!, $to: NaiveDate!) { calendarBusy(from: $from, to: $to) \
    { hasCalendar checked busy { startsAt endsAt } } }";

/// `at` (RFC 3339) as an instant.
fn instant(at: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(at.as_str().expect("an instant"))
        .expect("RFC 3339")
        .to_utc()
}

/// Staff booking a visit see when the clinic's Google calendar is busy (the owner's own events;
/// one marked free left out), times only; with no calendar, or Google failing, they are told
/// there is nothing or nothing checked. Days backwards, over 31 or out of four-digit years are
/// refused, and a clinic's looks at its calendar are limited to 30 a minute.
async fn staff_see_when_the_calendar_is_busy(kind: DatabaseKind) {
    let google = FakeGoogle::start().await.expect("fake Google");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = calendar_app(kind, &google, dir.path()).await;
    let date = (app.db.clock.now() + Duration::days(3)).date_naive();
    let day = date.format("%Y-%m-%d").to_string();
    let at = |time: &str| format!("{day}T{time}:00Z");
    let that_day = json!({ "from": day, "to": day });
    let mut looks = 0;

    let none = app.owner.run(BUSY, that_day.clone()).await;
    assert_eq!(
        none["data"]["calendarBusy"],
        json!({ "hasCalendar": false, "checked": false, "busy": [] }),
        "{none}"
    );
    let day_before = (date - Duration::days(1)).format("%Y-%m-%d").to_string();
    let day_31_on = (date + Duration::days(31)).format("%Y-%m-%d").to_string();
    let past_years = ("9999-12-30".to_owned(), "9999-12-31".to_owned());
    for (from, to) in [
        (&day, &day_before),
        (&day, &day_31_on),
        (&past_years.0, &past_years.1),
    ] {
        let refused = app.owner.run(BUSY, json!({ "from": from, "to": to })).await;
        assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    }
    let day_30_on = (date + Duration::days(30)).format("%Y-%m-%d").to_string();
    let month = app
        .owner
        .run(BUSY, json!({ "from": day, "to": day_30_on }))
        .await;
    assert!(month["errors"].is_null(), "31 days in all: {month}");
    // Looks count once the clinic has a calendar (none so far asked Google).

    let code = app.owner.run(SETTING, json!({})).await["data"]["googleCalendar"]["ownershipCode"]
        .as_str()
        .expect("a code")
        .to_owned();
    google.share(CALENDAR, "writer");
    google.describe(CALENDAR, &code);
    let chosen = app.owner.run(CHOOSE, json!({ "id": CALENDAR })).await;
    assert_eq!(chosen["data"]["setGoogleCalendar"], true, "{chosen}");
    // With a calendar to ask, the last day a date can name is refused, not a panic.
    let last_day = "+262142-12-31";
    let extreme = app
        .owner
        .run(BUSY, json!({ "from": last_day, "to": last_day }))
        .await;
    assert_eq!(error_code(&extreme), Some("BAD_USER_INPUT"), "{extreme}");
    let beyond = app
        .owner
        .run(
            BUSY,
            json!({ "from": "+262143-01-01", "to": "+262143-01-01" }),
        )
        .await;
    assert_eq!(
        error_code(&beyond),
        Some("BAD_USER_INPUT"),
        "a date no calendar has: {beyond}"
    );
    google.block(CALENDAR, (&at("10:00"), &at("11:00")), false);
    google.block(CALENDAR, (&at("11:30"), &at("12:30")), true);

    let browser = app.browser();
    let mut receptionist = join(
        &mut app.owner,
        browser,
        "desk@harbour-dental.test",
        "RECEPTIONIST",
    )
    .await;
    let seen = receptionist.run(BUSY, that_day.clone()).await;
    looks += 1;
    let shown = &seen["data"]["calendarBusy"];
    assert_eq!(
        (&shown["hasCalendar"], &shown["checked"]),
        (&json!(true), &json!(true)),
        "{seen}"
    );
    let busy: Vec<_> = shown["busy"]
        .as_array()
        .expect("busy times")
        .iter()
        .map(|span| (instant(&span["startsAt"]), instant(&span["endsAt"])))
        .collect();
    let expected = (instant(&json!(at("10:00"))), instant(&json!(at("11:00"))));
    assert_eq!(busy, vec![expected], "the free event is left out: {seen}");
    assert!(!seen.to_string().contains("Dentist"), "no event's title");

    google.fail_next([503]);
    let failing = receptionist.run(BUSY, that_day.clone()).await;
    looks += 1;
    assert_eq!(
        failing["data"]["calendarBusy"],
        json!({ "hasCalendar": true, "checked": false, "busy": [] }),
        "{failing}"
    );

    // The limit refills one look every two seconds on the real clock: the steps above may have
    // given a few back.
    let mut refused_after = None;
    for _ in 0..60 {
        let answer = app.owner.run(BUSY, that_day.clone()).await;
        if error_code(&answer) == Some("RATE_LIMITED") {
            refused_after = Some(looks);
            break;
        }
        assert!(answer["errors"].is_null(), "{answer}");
        looks += 1;
    }
    assert!(
        refused_after.is_some_and(|looks| (30..=38).contains(&looks)),
        "30 looks a minute per clinic: refused after {refused_after:?}"
    );
}

/// Chooses [`CALENDAR`] for the owner's clinic, shared with the service account and marked with
/// the clinic's code as an admin would.
async fn choose_the_calendar(app: &mut TestApp, google: &FakeGoogle) {
    let setting = app.owner.run(SETTING, json!({})).await;
    let code = setting["data"]["googleCalendar"]["ownershipCode"]
        .as_str()
        .expect("a code")
        .to_owned();
    google.share(CALENDAR, "writer");
    google.describe(CALENDAR, &format!("Front desk diary. {code}"));
    let chosen = app.owner.run(CHOOSE, json!({ "id": CALENDAR })).await;
    assert_eq!(chosen["data"]["setGoogleCalendar"], true, "{chosen}");
}

/// A server whose calls come from an integrator's phone system (no Twilio account) runs the
/// work that needs no phone provider: the server's own workers put a booking in the calendar,
/// while the text-back owed to a missed call waits in the outbox, never attempted.
async fn without_a_phone_provider_bookings_still_reach_the_calendar(kind: DatabaseKind) {
    let google = FakeGoogle::start().await.expect("fake Google");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = TestApp::builder(kind)
        .with_google(&google, dir.path())
        .build()
        .await;
    assert!(app.state.sms.is_none(), "no phone provider");
    choose_the_calendar(&mut app, &google).await;
    let missed = app
        .owner
        .run(
            "mutation($at: DateTime!) { recordCallEvents(events: [{ externalId: \"pbx-1\", \
             direction: INBOUND, status: NO_ANSWER, startedAt: $at, callerNumber: \"07700 900463\" }]) \
             { recorded } }",
            json!({ "at": days_ahead(&app, 0) }),
        )
        .await;
    assert_eq!(
        missed["data"]["recordCallEvents"]["recorded"], 1,
        "{missed}"
    );

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = ringback_api::jobs::worker::spawn(&app.state, stopped);
    let at = days_ahead(&app, 2);
    let booking = book(&mut app, CALLERS[0], &at).await;
    let mut waited = 0;
    while event_of(&google.events(CALENDAR), &booking).is_none() {
        assert!(
            waited < 600,
            "the server's workers never synced the booking"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    stop.send(true).expect("the workers listen");
    workers.await.expect("the workers stopped");

    let jobs = app
        .db
        .query_strings(
            "SELECT kind, status, attempts || '' AS attempts FROM job_outbox ORDER BY kind",
            &["kind", "status", "attempts"],
        )
        .await;
    let waiting: Vec<_> = jobs.iter().filter(|job| job[0] == "text_back").collect();
    assert_eq!(waiting.len(), 1, "{jobs:?}");
    assert_eq!(
        (waiting[0][1].as_str(), waiting[0][2].as_str()),
        ("pending", "0"),
        "{jobs:?}"
    );
}

/// The bookings each `calendar_sync` job is for, in the order queued, and the `calendar_fill`
/// jobs as (status, last error).
async fn queued_for_the_calendar(app: &TestApp) -> (Vec<uuid::Uuid>, Vec<(String, String)>) {
    use ringback_entity::job_outbox;
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    let txn = app.tenant().begin().await.expect("txn");
    let jobs = txn
        .find::<job_outbox::Entity>()
        .filter(job_outbox::Column::Kind.is_in(["calendar_sync", "calendar_fill"]))
        .order_by_asc(job_outbox::Column::CreatedAt)
        .order_by_asc(job_outbox::Column::Id)
        .all(txn.conn())
        .await
        .expect("jobs");
    txn.commit().await.expect("commit");
    let mut synced = Vec::new();
    let mut fills = Vec::new();
    for job in jobs {
        if job.kind == "calendar_sync" {
            let booking = job.payload["appointment"].as_str().expect("an id");
            synced.push(booking.parse().expect("a uuid"));
        } else {
            fills.push((job.status, job.last_error.unwrap_or_default()));
        }
    }
    (synced, fills)
}

/// `count` bookings from an hour ahead, a minute apart, but the last ones all at one time, from
/// `together` on (written as an integration's import would leave them); their ids, in the order
/// a calendar takes them (by start, then id).
async fn many_bookings(app: &TestApp, count: i64, together: i64) -> Vec<uuid::Uuid> {
    use ringback_entity::appointment;
    use sea_orm::{ActiveModelTrait, Set};
    let txn = app.tenant().begin().await.expect("txn");
    let now = app.db.clock.now();
    let mut booked = Vec::new();
    for n in 0..count {
        let id = uuid::Uuid::new_v4();
        let starts = now + Duration::hours(1) + Duration::minutes(n.min(together));
        appointment::ActiveModel {
            clinic_id: Set(app.clinic_id),
            id: Set(id),
            caller_key: Set(format!("v1:{n:064x}")),
            source: Set("integration".to_owned()),
            external_id: Set(Some(format!("pms-{n}"))),
            value_minor: Set(4500),
            starts_at: Set(Some(starts)),
            cancelled_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            duration_minutes: Set(None),
            calendar_event_in: Set(None),
        }
        .insert(txn.conn())
        .await
        .expect("a booking");
        booked.push((starts, id));
    }
    txn.commit().await.expect("commit");
    booked.sort();
    booked.into_iter().map(|(_, id)| id).collect()
}

/// The clinic's calendar syncs as done, as the worker would leave them once Google answered.
async fn syncs_ran(app: &TestApp) {
    app.db
        .execute_as_owner("UPDATE job_outbox SET status = 'done' WHERE kind = 'calendar_sync'")
        .await;
}

/// A clinic with more upcoming bookings than one batch: choosing a calendar queues the soonest
/// 500 syncs at once and the rest a batch at a time, each booking once (bookings at one time
/// taken in id order across a batch's end), a batch only once most syncs before it ran; choosing
/// again drops the batches under way and starts its own; a batch for a calendar since cleared is
/// cancelled when it runs, and saving "no calendar" again finishes a clearing.
async fn a_calendar_chosen_gets_every_upcoming_booking_in_batches(kind: DatabaseKind) {
    use ringback_api::jobs::outbox::Lane;
    use ringback_api::jobs::worker::{Worker, WorkerSettings};
    use ringback_domain::jobs::calendar_fill::{CalendarFill, FILL_PAUSE};
    use ringback_domain::service::calendar::{CHOSEN_AGAIN, MAX_SYNCED_ON_CHANGE};
    let google = FakeGoogle::start().await.expect("fake Google");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = calendar_app(kind, &google, dir.path()).await;
    let batch = MAX_SYNCED_ON_CHANGE as usize;
    // Bookings 490 to 619 all start at one time: the batch ends among them.
    let bookings = many_bookings(&app, batch as i64 + 120, 490).await;
    let settings = WorkerSettings {
        lane: Lane::Only(&["calendar_fill"]),
        ..crate::common::app::quick_retries()
    };
    let fills = Worker::new(app.state.clone(), None, settings, "fills".to_owned());
    let pending = || ("pending".to_owned(), String::new());
    let done = || ("done".to_owned(), String::new());
    let dropped = || ("cancelled".to_owned(), CHOSEN_AGAIN.to_owned());

    choose_the_calendar(&mut app, &google).await;
    let (synced, waiting) = queued_for_the_calendar(&app).await;
    assert_eq!(synced, bookings[..batch], "the soonest batch, at once");
    assert_eq!(waiting, [pending()]);
    assert_eq!(fills.run_once().await.expect("a pass"), 0, "not yet due");

    // Chosen again before the next batch: that batch is dropped, and the choice starts its own,
    // whose bookings all have a sync waiting already: none gets a second.
    let again = app.owner.run(CHOOSE, json!({ "id": CALENDAR })).await;
    assert_eq!(again["data"]["setGoogleCalendar"], false, "{again}");
    let (synced, waiting) = queued_for_the_calendar(&app).await;
    assert_eq!(synced.len(), batch, "no sync queued over a waiting one");
    assert_eq!(waiting, [dropped(), pending()]);

    // Its syncs still wait (Google slow): the next batch waits a minute more.
    app.db.clock.advance(FILL_PAUSE + Duration::seconds(1));
    assert_eq!(fills.run_once().await.expect("a pass"), 1);
    let (synced, waiting) = queued_for_the_calendar(&app).await;
    assert_eq!(synced.len(), batch, "nothing queued over waiting syncs");
    assert_eq!(waiting, [dropped(), done(), pending()]);

    syncs_ran(&app).await;
    app.db.clock.advance(FILL_PAUSE + Duration::seconds(1));
    assert_eq!(fills.run_once().await.expect("a pass"), 1);
    let (synced, waiting) = queued_for_the_calendar(&app).await;
    assert_eq!(synced[batch..], bookings[batch..], "the rest, once each");
    assert_eq!(
        waiting,
        [dropped(), done(), done()],
        "a batch that was not full queues no other"
    );

    // A batch still meant for a calendar the clinic has since cleared queues nothing.
    let txn = app.tenant().begin().await.expect("txn");
    let stale = CalendarFill {
        connected: false,
        after: (app.db.clock.now(), bookings[0]),
        waiting: ringback_domain::service::calendar::Waiting::Synced,
    };
    let now = app.db.clock.now();
    let queued = ringback_core::outbox::NewJob {
        job: stale,
        sealed_number: None,
        body_sealed: None,
        run_at: now,
    };
    ringback_core::outbox::enqueue(&txn, queued, now)
        .await
        .expect("queued");
    txn.commit().await.expect("commit");
    assert_eq!(fills.run_once().await.expect("a pass"), 1);
    let (synced, waiting) = queued_for_the_calendar(&app).await;
    assert_eq!(synced.len(), batch + 120, "nothing more queued");
    let changed = (
        "cancelled".to_owned(),
        "the calendar was changed since".to_owned(),
    );
    assert_eq!(waiting.last(), Some(&changed));

    // Cleared, then "no calendar" saved again: the bookings with an event leave it, each sync
    // queued once while it waits.
    app.db
        .execute_as_owner(&format!(
            "UPDATE appointments SET calendar_event_in = '{CALENDAR}'"
        ))
        .await;
    syncs_ran(&app).await;
    for _ in 0..2 {
        let cleared = app.owner.run(CHOOSE, json!({ "id": null })).await;
        assert!(cleared["errors"].is_null(), "{cleared}");
    }
    let (synced, _) = queued_for_the_calendar(&app).await;
    assert_eq!(synced[batch + 120..], bookings[..batch]);

    // A batch under way when a choice is made is dropped too: its worker stores nothing.
    syncs_ran(&app).await;
    app.db.clock.advance(FILL_PAUSE + Duration::seconds(1));
    let under_way = fills.claim().await.expect("a claim");
    assert_eq!(under_way.len(), 1);
    let cleared = app.owner.run(CHOOSE, json!({ "id": null })).await;
    assert!(cleared["errors"].is_null(), "{cleared}");
    fills.process(under_way[0]).await.expect("processed");
    let (synced, waiting) = queued_for_the_calendar(&app).await;
    assert_eq!(synced.len(), 3 * batch + 120, "the new choice's batch only");
    assert_eq!(waiting[waiting.len() - 2..], [dropped(), pending()]);
}

/// The clinic's own calendar refusing to remove a cancelled booking's event (its sharing cut
/// for a while) does not forget the event: the sync is a dead letter, the booking still records
/// where its event is, and once the sharing is mended, saving the calendar again removes it (it
/// would otherwise block that time in the AI's free slots for good).
async fn a_removal_the_calendar_refuses_is_not_forgotten(kind: DatabaseKind) {
    let google = FakeGoogle::start().await.expect("fake Google");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = calendar_app(kind, &google, dir.path()).await;
    let worker = app.worker("calendar");
    choose_the_calendar(&mut app, &google).await;
    let at = days_ahead(&app, 2);
    let booked = book(&mut app, CALLERS[0], &at).await;
    app.drain(&worker).await;
    assert!(event_of(&google.events(CALENDAR), &booked).is_some());

    google.fail_next([403]);
    let cancelled = app.owner.run(CANCEL, json!({ "id": booked })).await;
    assert!(cancelled["errors"].is_null(), "{cancelled}");
    app.drain(&worker).await;
    assert!(event_of(&google.events(CALENDAR), &booked).is_some());
    let recorded = async || {
        app.db
            .query_strings(
                "SELECT COALESCE(calendar_event_in, 'none') AS kept FROM appointments",
                &["kept"],
            )
            .await
    };
    assert_eq!(recorded().await, [[CALENDAR.to_owned()]], "still recorded");

    let again = app.owner.run(CHOOSE, json!({ "id": CALENDAR })).await;
    assert_eq!(again["data"]["setGoogleCalendar"], false, "{again}");
    app.drain(&worker).await;
    assert!(event_of(&google.events(CALENDAR), &booked).is_none());
    assert_eq!(recorded().await, [["none".to_owned()]]);
}

on_both_databases!(
    a_removal_the_calendar_refuses_is_not_forgotten,
    bookings_follow_into_the_shared_calendar,
    without_a_google_account_no_calendar_can_be_chosen,
    staff_see_when_the_calendar_is_busy,
    without_a_phone_provider_bookings_still_reach_the_calendar,
    a_calendar_chosen_gets_every_upcoming_booking_in_batches,
);
