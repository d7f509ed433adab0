//! Finding and booking appointments the way a front desk does, on SQLite and PostgreSQL: the
//! callers the clinic has spoken to (by call either way or by text, however long ago), found by
//! the three digits of their masked number; a booking for any of them with its start in the
//! clinic's own time; the list narrowed to days and to a masked tail; a start moved in the
//! clinic's time; bad searches and starts refused in words; an erased caller no longer found; the
//! reads audited.

use crate::common::app::TestApp;
use crate::common::graphql::error_code;
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};
use ringback_api::config::DatabaseKind;
use serde_json::{Value, json};

const RECORD: &str =
    "mutation($events: [CallEventInput!]!) { recordCallEvents(events: $events) { recorded } }";
const KNOWN: &str = "query($tail: String, $first: Int!) { knownCallers(tail: $tail, first: $first) { callerKey callerTail lastContactAt } }";
const BOOK: &str = "mutation($input: CreateAppointmentInput!) { createAppointment(input: $input) { id startsAt callerTail } }";
const LIST: &str = "query($filter: AppointmentFilterInput) { appointments(first: 50, filter: $filter) { edges { node { id callerTail startsAt } } } }";
const ERASE: &str = "mutation($number: String!) { eraseCaller(number: $number) { callsUnlinked } }";

fn call(
    external_id: &str,
    status: &str,
    direction: &str,
    at: chrono::DateTime<Utc>,
    number: &str,
) -> Value {
    json!({ "externalId": external_id, "direction": direction, "status": status,
            "startedAt": at.to_rfc3339(), "callerNumber": number })
}

/// The known callers' tails, newest contact first.
async fn known_tails(app: &mut TestApp, tail: Option<&str>, first: i64) -> Vec<String> {
    let answer = app
        .owner
        .run(KNOWN, json!({ "tail": tail, "first": first }))
        .await;
    assert!(answer["errors"].is_null(), "{answer}");
    answer["data"]["knownCallers"]
        .as_array()
        .expect("callers")
        .iter()
        .map(|caller| caller["callerTail"].as_str().expect("tail").to_owned())
        .collect()
}

/// The key of the known caller whose tail ends in `digits`.
async fn key_of(app: &mut TestApp, digits: &str) -> String {
    let answer = app
        .owner
        .run(KNOWN, json!({ "tail": digits, "first": 5 }))
        .await;
    answer["data"]["knownCallers"][0]["callerKey"]
        .as_str()
        .unwrap_or_else(|| panic!("no caller ending {digits}: {answer}"))
        .to_owned()
}

/// The ids of the appointments `filter` lists.
async fn listed(app: &mut TestApp, filter: Value) -> Vec<String> {
    let answer = app.owner.run(LIST, json!({ "filter": filter })).await;
    assert!(answer["errors"].is_null(), "{answer}");
    answer["data"]["appointments"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| edge["node"]["id"].as_str().expect("id").to_owned())
        .collect()
}

/// A local time that London skips: 01:30 on the next last Sunday of March.
fn skipped_in_london(today: NaiveDate) -> String {
    let mut year = today.year();
    loop {
        let mut day = NaiveDate::from_ymd_opt(year, 3, 31).expect("31 March");
        while day.weekday() != Weekday::Sun {
            day = day.pred_opt().expect("a day");
        }
        if day > today {
            return format!("{}T01:30", day.format("%Y-%m-%d"));
        }
        year += 1;
    }
}

async fn a_front_desk_finds_and_books_any_caller(kind: DatabaseKind) {
    // Noon: `today` below stays the London day of every booking the test makes.
    let mut app = TestApp::builder(kind)
        .at_midday()
        .with_twilio()
        .build()
        .await;
    let now = app.db.clock.now();
    let london = chrono_tz::Europe::London;
    let today = now.with_timezone(&london).date_naive();

    // Spoken to long ago (a missed call), two days ago (the clinic rang them), and by text now.
    let recorded = app
        .owner
        .run(
            RECORD,
            json!({ "events": [
                call("old-1", "NO_ANSWER", "INBOUND", now - Duration::days(40), "07700 900123"),
                call("out-1", "ANSWERED", "OUTBOUND", now - Duration::days(2), "07700 900456"),
            ]}),
        )
        .await;
    assert_eq!(
        recorded["data"]["recordCallEvents"]["recorded"], 2,
        "{recorded}"
    );
    app.receive_text(
        "SM00000000000000000000000000000789",
        "+447700900789",
        "Hi, can I book?",
    )
    .await;

    assert_eq!(
        known_tails(&mut app, None, 10).await,
        ["•••• 789", "•••• 456", "•••• 123"],
        "newest contact first, whichever way"
    );
    assert_eq!(known_tails(&mut app, None, 1).await, ["•••• 789"]);
    assert_eq!(known_tails(&mut app, Some("123"), 10).await, ["•••• 123"]);
    assert_eq!(
        known_tails(&mut app, Some("•••• 456"), 10).await,
        ["•••• 456"]
    );
    assert!(known_tails(&mut app, Some("321"), 10).await.is_empty());
    for typed in ["12", "07700 900123"] {
        let refused = app
            .owner
            .run(KNOWN, json!({ "tail": typed, "first": 5 }))
            .await;
        assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
        assert!(!refused.to_string().contains("900123"), "{refused}");
    }

    // The caller from forty days ago is booked at 10:00 the clinic's time in five days; the one
    // rung two days ago without a start; the texter in twenty days.
    let soon = today + Duration::days(5);
    let later = today + Duration::days(20);
    let old_key = key_of(&mut app, "123").await;
    let booked = app
        .owner
        .run(
            BOOK,
            json!({ "input": { "callerKey": old_key, "valueMinor": 4500,
                               "startsLocal": format!("{}T10:00", soon.format("%Y-%m-%d")) } }),
        )
        .await;
    assert!(booked["errors"].is_null(), "{booked}");
    let old_booking = booked["data"]["createAppointment"].clone();
    let ten_local = london
        .from_local_datetime(&soon.and_hms_opt(10, 0, 0).expect("10:00"))
        .single()
        .expect("10:00 exists")
        .with_timezone(&Utc);
    let starts: chrono::DateTime<Utc> = old_booking["startsAt"]
        .as_str()
        .expect("a start")
        .parse()
        .expect("an instant");
    assert_eq!(starts, ten_local, "{old_booking}");
    assert_eq!(old_booking["callerTail"], "•••• 123");
    let rung_key = key_of(&mut app, "456").await;
    let rung = app
        .owner
        .run(
            BOOK,
            json!({ "input": { "callerKey": rung_key, "valueMinor": 6500 } }),
        )
        .await;
    let texter_key = key_of(&mut app, "789").await;
    let texter = app
        .owner
        .run(
            BOOK,
            json!({ "input": { "callerKey": texter_key, "valueMinor": 12000,
                               "startsLocal": format!("{}T14:30", later.format("%Y-%m-%d")) } }),
        )
        .await;
    let id = |answer: &Value| {
        answer["data"]["createAppointment"]["id"]
            .as_str()
            .expect("id")
            .to_owned()
    };
    let (old_id, rung_id, texter_id) = (id(&booked), id(&rung), id(&texter));

    // Narrowed by tail, by days (by start, or by booking without one), by both.
    assert_eq!(
        listed(&mut app, json!({ "callerTail": "123" })).await,
        [old_id.as_str()]
    );
    let day = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
    assert_eq!(
        listed(
            &mut app,
            json!({ "from": day(soon - Duration::days(1)), "to": day(soon + Duration::days(1)) })
        )
        .await,
        [old_id.as_str()]
    );
    assert_eq!(
        listed(&mut app, json!({ "to": day(today) })).await,
        [rung_id.as_str()]
    );
    assert_eq!(
        listed(&mut app, json!({ "from": day(later) })).await,
        [texter_id.as_str()]
    );
    assert_eq!(
        listed(&mut app, json!({})).await,
        [texter_id.as_str(), rung_id.as_str(), old_id.as_str()],
        "newest booking first"
    );
    assert!(
        listed(&mut app, json!({ "from": day(later), "callerTail": "123" }))
            .await
            .is_empty()
    );
    for filter in [
        json!({ "from": day(later), "to": day(soon) }),
        json!({ "callerTail": "1234" }),
    ] {
        let refused = app.owner.run(LIST, json!({ "filter": filter })).await;
        assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    }

    // The start moves in the clinic's time; a time the clocks skip, or two starts, are refused.
    let moved = app
        .owner
        .run(
            "mutation($id: ID!, $at: String) { updateAppointment(id: $id, startsLocal: $at, valueMinor: 5000) { startsAt valueMinor } }",
            json!({ "id": old_id, "at": format!("{}T09:15", later.format("%Y-%m-%d")) }),
        )
        .await;
    assert!(moved["errors"].is_null(), "{moved}");
    assert_eq!(moved["data"]["updateAppointment"]["valueMinor"], 5000);
    assert_eq!(
        listed(&mut app, json!({ "from": day(later), "to": day(later) }))
            .await
            .len(),
        2
    );
    for (at, local) in [
        (None, skipped_in_london(today)),
        (Some(now.to_rfc3339()), format!("{}T09:00", day(later))),
    ] {
        let refused = app
            .owner
            .run(
                "mutation($id: ID!, $at: DateTime, $local: String) { updateAppointment(id: $id, startsAt: $at, startsLocal: $local) { id } }",
                json!({ "id": old_id, "at": at, "local": local }),
            )
            .await;
        assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    }

    // Erased, the caller is found no more, and their appointment has no tail to search by.
    let erased = app
        .owner
        .run(ERASE, json!({ "number": "07700 900123" }))
        .await;
    assert!(erased["errors"].is_null(), "{erased}");
    assert!(known_tails(&mut app, Some("123"), 10).await.is_empty());
    assert!(
        listed(&mut app, json!({ "callerTail": "123" }))
            .await
            .is_empty()
    );

    let actions = app.audit_actions().await;
    assert!(
        actions
            .iter()
            .any(|(action, _)| action == "callers.list_read"),
        "{actions:?}"
    );
    app.db.finish().await;
}

on_both_databases!(a_front_desk_finds_and_books_any_caller);
