//! Metrics over the demo clinic's 90 days, on SQLite and PostgreSQL: the API's totals equal counts
//! taken straight from the stored rows, the daily series covers every day and adds up to the
//! totals, and months add up too.

use crate::common::TestDb;
use crate::common::graphql::{Browser, SIGN_IN, error_code};
use chrono::{Duration, NaiveDate};
use chrono_tz::Europe::London;
use ringback_api::config::DatabaseKind;
use ringback_api::demo;
use ringback_api::service::metrics;
use serde_json::{Value, json};

const METRICS: &str = "query($from: NaiveDate!, $to: NaiveDate!) { metrics(from: $from, to: $to) { \
    totals { inboundCalls missedCalls missRate textBacksSent replyRate callbacks medianTimeToCallbackSeconds recoveredAppointments \
    recoveryRate recoveredRevenueMinor } daily { day figures { inboundCalls missedCalls recoveredAppointments \
    recoveredRevenueMinor } } monthly { month figures { inboundCalls recoveredRevenueMinor } } } }";

fn count(rows: &[Vec<String>]) -> u64 {
    rows.first()
        .and_then(|row| row.first())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The rows of the demo's dental clinic, whose owner the tests sign in to (the demo's trades
/// business, when seeded, keeps its own).
const IN_THE_CLINIC: &str = "clinic_id IN (SELECT id FROM clinics WHERE kind = 'dental')";

/// Text-backs the caller answered (a reply within 7 days, before their next text-back), counted
/// here straight from the stored messages.
async fn replied_text_backs(test_db: &TestDb) -> u64 {
    let rows = test_db
        .query_strings(
            &format!(
                "SELECT caller_key, kind, created_at || '' AS at FROM messages \
                 WHERE kind IN ('text_back', 'reply') AND {IN_THE_CLINIC} ORDER BY created_at"
            ),
            &["caller_key", "kind", "at"],
        )
        .await;
    let at = |text: &str| -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(&text.replace(' ', "T"))
            .or_else(|_| chrono::DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%#z"))
            .map(|t| t.to_utc())
            .unwrap_or_else(|e| panic!("a time: {text}: {e}"))
    };
    let mut replied = 0;
    for (index, row) in rows.iter().enumerate().filter(|(_, r)| r[1] == "text_back") {
        let sent = at(&row[2]);
        let answered = rows[index + 1..]
            .iter()
            .filter(|later| later[0] == row[0])
            .take_while(|later| later[1] == "reply")
            .any(|reply| at(&reply[2]) - sent <= Duration::days(7));
        replied += u64::from(answered);
    }
    replied
}

fn sum(series: &Value, field: &str) -> i64 {
    series
        .as_array()
        .expect("series")
        .iter()
        .map(|entry| entry["figures"][field].as_i64().unwrap_or(0))
        .sum()
}

/// The demo clinic's local day by the server's clock, and a range that takes all its 90 days.
pub(crate) fn demo_days(state: &ringback_api::AppState) -> (NaiveDate, NaiveDate) {
    let today = state.clock.now().with_timezone(&London).date_naive();
    (today - Duration::days(113), today)
}

/// A database holding the demo clinic (not its owner's trades business), the dashboard's (empty)
/// directory, the server's state over them, and the clinic's owner signed in.
pub(crate) async fn demo_clinic(
    kind: DatabaseKind,
) -> (
    TestDb,
    tempfile::TempDir,
    ringback_api::AppState,
    Browser<impl poem::Endpoint + use<>>,
) {
    signed_in_to_the_demo(kind, false).await
}

/// As [`demo_clinic`], with the demo's trades business too (when `whole`).
pub(crate) async fn signed_in_to_the_demo(
    kind: DatabaseKind,
    whole: bool,
) -> (
    TestDb,
    tempfile::TempDir,
    ringback_api::AppState,
    Browser<impl poem::Endpoint + use<>>,
) {
    let test_db = TestDb::at_midday(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let state = test_db.state(web.path());
    let seeded = if whole {
        demo::seed(&state.db, &state.clock, &state.secrets).await
    } else {
        demo::seed_clinic(&state.db, &state.clock, &state.secrets).await
    };
    seeded.expect("seed");
    let mut owner = Browser::new(test_db.app(web.path()));
    owner
        .run(
            SIGN_IN,
            json!({ "email": demo::DEMO_EMAIL, "password": demo::DEMO_PASSWORD }),
        )
        .await;
    (test_db, web, state, owner)
}

async fn metrics_match_the_stored_rows(kind: DatabaseKind) {
    // The whole demo: the clinic's figures count none of its neighbour's rows.
    let (test_db, _web, state, mut owner) = signed_in_to_the_demo(kind, true).await;

    // The demo covers the 90 local days before today; a generous range takes all of it.
    let (from, to) = demo_days(&state);
    let answer = owner.run(METRICS, json!({ "from": from, "to": to })).await;
    let metrics = &answer["data"]["metrics"];
    assert!(answer["errors"].is_null(), "{answer}");
    let totals = &metrics["totals"];

    let inbound = count(
        &test_db
            .query_strings(
                &format!("SELECT count(*) || '' AS n FROM calls WHERE direction = 'inbound' AND {IN_THE_CLINIC}"),
                &["n"],
            )
            .await,
    );
    let missed = count(
        &test_db
            .query_strings(
                &format!(
                    "SELECT count(*) || '' AS n FROM calls WHERE missed = true AND {IN_THE_CLINIC}"
                ),
                &["n"],
            )
            .await,
    );
    let recovered = count(
        &test_db
            .query_strings(
                &format!("SELECT count(*) || '' AS n FROM attributions WHERE outcome = 'recovered' AND {IN_THE_CLINIC}"),
                &["n"],
            )
            .await,
    );
    let revenue = count(
        &test_db
            .query_strings(
                &format!("SELECT coalesce(sum(value_minor), 0) || '' AS n FROM attributions WHERE outcome = 'recovered' AND {IN_THE_CLINIC}"),
                &["n"],
            )
            .await,
    );
    let text_backs = count(
        &test_db
            .query_strings(
                &format!("SELECT count(*) || '' AS n FROM messages WHERE kind = 'text_back' AND {IN_THE_CLINIC}"),
                &["n"],
            )
            .await,
    );
    let replied = replied_text_backs(&test_db).await;
    assert_eq!(
        totals["textBacksSent"].as_u64(),
        Some(text_backs),
        "{totals}"
    );
    let reply_rate = totals["replyRate"].as_f64().unwrap_or_default();
    assert!(
        (reply_rate - replied as f64 / text_backs as f64).abs() < 1e-9 && reply_rate <= 1.0,
        "{totals}"
    );
    assert_eq!(totals["inboundCalls"].as_u64(), Some(inbound), "{totals}");
    assert_eq!(totals["missedCalls"].as_u64(), Some(missed));
    assert_eq!(totals["recoveredAppointments"].as_u64(), Some(recovered));
    assert_eq!(totals["recoveredRevenueMinor"].as_u64(), Some(revenue));
    assert!(totals["callbacks"].as_u64().unwrap_or(0) > 0);
    assert!(totals["medianTimeToCallbackSeconds"].as_i64().unwrap_or(0) > 0);

    let daily = &metrics["daily"];
    assert_eq!(
        daily.as_array().map(Vec::len),
        Some(114),
        "every day from 1 August to 22 November"
    );
    assert_eq!(sum(daily, "inboundCalls") as u64, inbound);
    assert_eq!(sum(daily, "recoveredRevenueMinor") as u64, revenue);
    assert_eq!(sum(&metrics["monthly"], "inboundCalls") as u64, inbound);

    assert_incremental_equals_full(&state, &owner_clinic(&mut owner).await).await;
    // Changes mark their days stale; the next read recomputes them and still equals a full pass.
    let first = owner
        .run(
            "{ appointments(first: 3) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    for edge in first["data"]["appointments"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        owner
            .run(
                "mutation($id: ID!) { cancelAppointment(id: $id) { id } }",
                json!({ "id": edge["node"]["id"] }),
            )
            .await;
    }
    owner
        .run(
            "mutation { updateClinicSettings(input: { attributionWindowDays: 2 }) { id } }",
            json!({}),
        )
        .await;
    let late = owner
        .run(
            "mutation($at: DateTime!) { recordCallEvents(events: [{ externalId: \"late-1\", direction: INBOUND, status: NO_ANSWER, \
             startedAt: $at, callerNumber: \"07700 900321\" }]) { recorded } }",
            json!({ "at": (state.clock.now() - Duration::days(51)).to_rfc3339() }),
        )
        .await;
    assert_eq!(late["data"]["recordCallEvents"]["recorded"], 1, "{late}");
    // The overview's read settles the stale days and keeps them settled (a read that settled
    // days commits); the next read, which only reads, answers the same.
    assert!(
        stale_days(&test_db, from, to).await > 0,
        "changes mark days stale"
    );
    let settling = owner.run(METRICS, json!({ "from": from, "to": to })).await;
    assert!(settling["errors"].is_null(), "{settling}");
    assert_eq!(stale_days(&test_db, from, to).await, 0, "settled for good");
    let reading = owner.run(METRICS, json!({ "from": from, "to": to })).await;
    assert_eq!(reading, settling);
    assert_incremental_equals_full(&state, &owner_clinic(&mut owner).await).await;

    let backwards = owner
        .run(
            METRICS,
            json!({ "from": to, "to": to - Duration::days(21) }),
        )
        .await;
    assert_eq!(error_code(&backwards), Some("BAD_USER_INPUT"));
    test_db.finish().await;
}

/// The stored days of `from..=to` marked stale.
async fn stale_days(test_db: &TestDb, from: NaiveDate, to: NaiveDate) -> u64 {
    count(
        &test_db
            .query_strings(
                &format!(
                    "SELECT count(*) || '' AS n FROM daily_metrics \
                     WHERE stale = true AND day >= '{from}' AND day <= '{to}' AND {IN_THE_CLINIC}"
                ),
                &["n"],
            )
            .await,
    )
}

async fn owner_clinic<E: poem::Endpoint>(owner: &mut Browser<E>) -> uuid::Uuid {
    let me = owner.run("{ me { clinic { id } } }", json!({})).await;
    uuid::Uuid::try_parse(
        me["data"]["me"]["clinic"]["id"]
            .as_str()
            .expect("clinic id"),
    )
    .expect("uuid")
}

/// The daily rows (maintained incrementally) equal a full recomputation, day by day.
async fn assert_incremental_equals_full(state: &ringback_api::AppState, clinic: &uuid::Uuid) {
    let (from, to) = demo_days(state);
    let txn = crate::common::tenant(state, *clinic)
        .begin()
        .await
        .expect("txn");
    let incremental = metrics::range(&txn, from, to).await.expect("incremental");
    let full = metrics::compute_full(&txn, from, to).await.expect("full");
    txn.commit().await.expect("commit");
    assert_eq!(incremental.days.len(), full.days.len());
    for (daily, reference) in incremental.days.iter().zip(&full.days) {
        assert_eq!(daily, reference, "day {}", daily.day);
    }
    assert_eq!(incremental.totals, full.totals);
}

/// A call recorded while a read is refreshing the same day's figures (PostgreSQL, READ COMMITTED;
/// SQLite runs one transaction at a time) must not be lost: the refresh, which computed without
/// it, leaves the day stale, and the next read counts the call.
#[tokio::test]
async fn postgres_a_call_recorded_during_a_refresh_is_counted() {
    use crate::common::graphql::sign_up_clinic;
    use ringback_entity::daily_metric;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let test_db = TestDb::new(DatabaseKind::Postgres).await;
    let web = tempfile::tempdir().expect("tempdir");
    let state = test_db.state(web.path());
    let mut owner = Browser::new(ringback_api::http::build_app(state.clone()));
    let clinic_id = sign_up_clinic(&mut owner, "race@riverside.test").await;
    let day = (state.clock.now() - chrono::Duration::days(1)).date_naive();
    let record = |n: u32| {
        json!({ "e": [{ "externalId": format!("race-{n}"), "direction": "INBOUND", "status": "NO_ANSWER",
            "startedAt": format!("{day}T11:0{n}:00Z"), "callerNumber": format!("07700 90030{n}") }] })
    };
    const RECORD: &str =
        "mutation($e: [CallEventInput!]!) { recordCallEvents(events: $e) { recorded } }";
    owner.run(RECORD, record(1)).await;

    // A refresh reads the stale day and computes it...
    let refresh = crate::common::tenant(&state, clinic_id)
        .begin()
        .await
        .expect("tenant transaction");
    let read = daily_metric::Entity::find()
        .filter(daily_metric::Column::ClinicId.eq(clinic_id))
        .filter(daily_metric::Column::Day.eq(day))
        .one(refresh.conn())
        .await
        .expect("query")
        .expect("the day's row");
    assert!(read.stale);
    let computed = metrics::compute_full(&refresh, day, day)
        .await
        .expect("compute");
    assert_eq!(computed.totals.missed_calls, 1);
    // ...while another call that day is recorded and committed.
    let recorded = owner.run(RECORD, record(2)).await;
    assert_eq!(
        recorded["data"]["recordCallEvents"]["recorded"], 1,
        "{recorded}"
    );
    let settled = metrics::settle_day(
        &refresh,
        metrics::StaleDay {
            day: read.day,
            version: read.stale_version,
        },
        &computed.days[0].metrics,
    )
    .await
    .expect("settle");
    refresh.commit().await.expect("commit");
    assert!(
        !settled,
        "the refresh must not clear a day written after it read it"
    );

    let figures = owner
        .run(
            METRICS,
            json!({ "from": day.to_string(), "to": day.to_string() }),
        )
        .await;
    assert_eq!(
        figures["data"]["metrics"]["totals"]["missedCalls"], 2,
        "{figures}"
    );
    test_db.finish().await;
}

/// Each day's counts and time-to-text, for the days whose stored samples are broken below.
const DAYS: &str = "query($from: NaiveDate!, $to: NaiveDate!) { metrics(from: $from, to: $to) { \
    totals { inboundCalls textBacksSent medianTimeToTextSeconds } \
    daily { day figures { inboundCalls textBacksSent medianTimeToTextSeconds medianTimeToCallbackSeconds } } } }";

/// The first day of `daily` in `days` with text-backs (so with time-to-text samples).
fn day_with_text_backs(daily: &Value, days: std::ops::Range<usize>) -> usize {
    days.clone()
        .find(|&index| daily[index]["figures"]["textBacksSent"].as_u64() > Some(0))
        .unwrap_or_else(|| panic!("a demo day with text-backs in {days:?}"))
}

/// Delay samples that no longer decode (only the server writes them; a bug or a hand edit could
/// break them) do not fail the overview: an open day is recounted from its calls and its row
/// rewritten; a day a purge froze keeps its stored counts and reads its samples as none.
async fn unreadable_delay_samples_are_recounted(kind: DatabaseKind) {
    let (test_db, _web, state, mut owner) = demo_clinic(kind).await;
    let (from, to) = demo_days(&state);
    let range = json!({ "from": from, "to": to });
    let before = owner.run(DAYS, range.clone()).await;
    assert!(before["errors"].is_null(), "{before}");
    let daily = &before["data"]["metrics"]["daily"];
    // The range's last 90 days hold the demo's calls; a purge 60 days back freezes the days
    // before about 52 days back.
    let frozen = day_with_text_backs(daily, 30..50);
    let open = day_with_text_backs(daily, 90..110);
    let day = |index: usize| daily[index]["day"].as_str().expect("a day").to_owned();
    let (frozen_day, open_day) = (day(frozen), day(open));
    let purged_before = format!("{}T00:00:00+00:00", to - Duration::days(60));
    // Text that is no JSON fits SQLite's text column only; PostgreSQL's json column takes JSON
    // of the wrong shape.
    let broken = match kind {
        DatabaseKind::Sqlite => "'[12, 40'",
        DatabaseKind::Postgres => "'{\"seconds\": \"twelve\"}'",
    };
    test_db
        .execute_as_owner(&format!(
            "UPDATE clinics SET calls_purged_before = '{purged_before}' WHERE kind = 'dental'"
        ))
        .await;
    test_db
        .execute_as_owner(&format!(
            "UPDATE daily_metrics SET inbound_calls = 999, text_back_delays_seconds = {broken}, \
             callback_delays_seconds = '\"none\"' WHERE day IN ('{frozen_day}', '{open_day}') \
             AND {IN_THE_CLINIC}"
        ))
        .await;

    let after = owner.run(DAYS, range.clone()).await;
    assert!(after["errors"].is_null(), "{after}");
    let read = &after["data"]["metrics"]["daily"];
    assert_eq!(
        read[open], daily[open],
        "the open day recounted from its calls"
    );
    let kept = &read[frozen]["figures"];
    assert_eq!(
        kept["inboundCalls"], 999,
        "a frozen day's counts stand: {kept}"
    );
    assert_eq!(
        kept["textBacksSent"],
        daily[frozen]["figures"]["textBacksSent"]
    );
    assert!(
        daily[frozen]["figures"]["medianTimeToTextSeconds"].is_i64(),
        "{daily}"
    );
    assert_eq!(kept["medianTimeToTextSeconds"], Value::Null, "{kept}");
    assert_eq!(kept["medianTimeToCallbackSeconds"], Value::Null, "{kept}");

    let stored = test_db
        .query_strings(
            &format!(
                "SELECT day || '' AS day, inbound_calls || '' AS n, \
                 text_back_delays_seconds || '' AS samples, \
                 callback_delays_seconds || '' AS callbacks FROM daily_metrics \
                 WHERE day IN ('{frozen_day}', '{open_day}') AND {IN_THE_CLINIC} ORDER BY day"
            ),
            &["day", "n", "samples", "callbacks"],
        )
        .await;
    let (frozen_row, open_row) = (&stored[0], &stored[1]);
    assert_eq!(frozen_row[1], "999", "{stored:?}");
    assert_eq!(frozen_row[2], broken.trim_matches('\''), "left as it was");
    assert_eq!(
        open_row[1],
        daily[open]["figures"]["inboundCalls"].to_string(),
        "the recount is stored: {stored:?}"
    );
    assert!(
        open_row[2].starts_with('[') && open_row[3].starts_with('['),
        "{stored:?}"
    );
    // The stored repair holds: the next read answers the same.
    assert_eq!(owner.run(DAYS, range).await, after);
    test_db.finish().await;
}

/// A clinic that moves to another time zone has its stored days counted again in the new one:
/// the same calls fall on other local days (Sydney's day starts the previous evening in London).
async fn a_new_time_zone_recounts_the_days(kind: DatabaseKind) {
    let (_test_db, _web, state, mut owner) = demo_clinic(kind).await;
    let clinic = owner_clinic(&mut owner).await;
    let (from, to) = demo_days(&state);
    let before = owner.run(METRICS, json!({ "from": from, "to": to })).await;
    assert!(before["errors"].is_null(), "{before}");
    let moved = owner
        .run(
            "mutation { updateClinicSettings(input: { timeZone: \"Australia/Sydney\" }) { timeZone } }",
            json!({}),
        )
        .await;
    assert!(moved["errors"].is_null(), "{moved}");
    assert_incremental_equals_full(&state, &clinic).await;
}

/// A callback logged late, for a day before a callback already counted, ends the run of misses
/// that later callback answered: the later day is counted again too.
async fn a_callback_logged_late_recounts_the_days_after_it(kind: DatabaseKind) {
    let mut app = crate::common::app::TestApp::builder(kind)
        .at_midday()
        .build()
        .await;
    let now = app.state.clock.now();
    let event = |id: &str, direction: &str, status: &str, days_ago: i64| {
        json!({ "externalId": id, "direction": direction, "status": status,
                "startedAt": (now - Duration::days(days_ago)).to_rfc3339(),
                "callerNumber": "07700 900123" })
    };
    let recorded = app
        .owner
        .run(
            "mutation($e: [CallEventInput!]!) { recordCallEvents(events: $e) { results { call { id } } } }",
            json!({ "e": [event("missed", "INBOUND", "NO_ANSWER", 3), event("later", "OUTBOUND", "ANSWERED", 1)] }),
        )
        .await;
    let missed = recorded["data"]["recordCallEvents"]["results"][0]["call"]["id"].clone();
    assert!(missed.is_string(), "{recorded}");
    let (from, to) = demo_days(&app.state);
    let settled = app
        .owner
        .run(METRICS, json!({ "from": from, "to": to }))
        .await;
    assert!(settled["errors"].is_null(), "{settled}");
    let logged = app
        .owner
        .run(
            "mutation($id: ID!, $at: DateTime!) { logCallback(callId: $id, status: NO_ANSWER, at: $at) { id } }",
            json!({ "id": missed, "at": (now - Duration::days(2)).to_rfc3339() }),
        )
        .await;
    assert!(logged["errors"].is_null(), "{logged}");
    assert_incremental_equals_full(&app.state, &app.clinic_id).await;
}

on_both_databases!(
    metrics_match_the_stored_rows,
    a_new_time_zone_recounts_the_days,
    a_callback_logged_late_recounts_the_days_after_it
);
on_both_databases!(unreadable_delay_samples_are_recounted);
