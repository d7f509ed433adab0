//! `ringback demo`'s data: 90 days with a weekly rhythm and miss peaks, callbacks and bookings,
//! some recovered and some not; created once; no raw number stored. On SQLite and PostgreSQL.
//! The command creates it on PostgreSQL only when told that its published password may be.

use crate::common::TestDb;
use ringback_api::config::DatabaseKind;
use ringback_api::demo::{self, DemoOutcome};
use serde_json::json;

/// Every demo visit starts as a clinic books one: on a quarter hour, in London, from 09:00 in
/// time to end by closing (a weekday to 17:15, a Saturday to 12:45), never on a Sunday.
async fn visits_start_in_opening_hours(test_db: &TestDb) {
    use chrono::{Datelike, Timelike, Weekday};
    use ringback_entity::appointment;
    use sea_orm::{EntityTrait, QuerySelect};
    // As the tables' owner: the app's role sees no clinic's rows without one.
    let txn = ringback_api::tenant::begin_maintenance(&test_db.db)
        .await
        .expect("begin");
    let starts: Vec<Option<chrono::DateTime<chrono::Utc>>> = appointment::Entity::find()
        .select_only()
        .column(appointment::Column::StartsAt)
        .into_tuple()
        .all(&txn)
        .await
        .expect("starts");
    txn.commit().await.expect("commit");
    assert!(starts.len() > 100, "{}", starts.len());
    for at in starts {
        let local = at
            .expect("a start")
            .with_timezone(&chrono_tz::Europe::London);
        let minute = local.hour() * 60 + local.minute();
        let last = match local.weekday() {
            Weekday::Sun => 0,
            Weekday::Sat => 12 * 60 + 45,
            _ => 17 * 60 + 15,
        };
        assert!(
            (9 * 60..=last).contains(&minute) && minute % 15 == 0 && local.second() == 0,
            "a demo visit starts {local}"
        );
    }
}

/// The front desk has read the demo's conversations but those of the last two days.
async fn only_the_latest_conversations_are_unread(
    test_db: &TestDb,
    now: chrono::DateTime<chrono::Utc>,
) {
    use ringback_entity::conversation;
    use sea_orm::EntityTrait;
    let txn = ringback_api::tenant::begin_maintenance(&test_db.db)
        .await
        .expect("begin");
    let threads = conversation::Entity::find()
        .all(&txn)
        .await
        .expect("conversations");
    txn.commit().await.expect("commit");
    let unread = |thread: &conversation::Model| {
        thread
            .read_at
            .is_none_or(|read| read < thread.last_message_at)
    };
    let read = threads.iter().filter(|thread| !unread(thread)).count();
    assert!(
        read * 10 > threads.len() * 8,
        "{read} of {} read",
        threads.len()
    );
    for thread in threads.iter().filter(|thread| unread(thread)) {
        assert!(
            thread.last_message_at >= now - ringback_api::demo::UNREAD_FOR,
            "unread since {}",
            thread.last_message_at
        );
    }
}

async fn demo_clinic_is_realistic_and_created_once(kind: DatabaseKind) {
    let test_db = TestDb::at_midday(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let state = test_db.state(web.path());
    // The demo follows the server's clock: its 90 days end today.
    let outcome = demo::seed(&state.db, &state.clock, &state.secrets)
        .await
        .expect("seed");
    let DemoOutcome::Created(summary) = outcome else {
        panic!("first run creates the clinic");
    };
    assert!(summary.calls > 1_000, "{summary:?}");
    let miss_rate = summary.missed as f64 / summary.calls as f64;
    assert!((0.15..0.45).contains(&miss_rate), "{summary:?}");
    assert!(
        summary.callbacks > 100 && summary.appointments > 100,
        "{summary:?}"
    );
    assert!(
        summary.text_backs > 200 && summary.replies > 50,
        "{summary:?}"
    );

    let verdicts = test_db
        .query_strings(
            "SELECT outcome, reason FROM attributions",
            &["outcome", "reason"],
        )
        .await;
    let recovered = verdicts.iter().filter(|row| row[0] == "recovered").count();
    assert!(recovered > 20, "some bookings are recovered: {recovered}");
    assert!(verdicts.len() - recovered > 20, "some are not");
    let stale = test_db
        .query_strings(
            "SELECT count(*) || '' AS n FROM daily_metrics WHERE stale = true",
            &["n"],
        )
        .await;
    assert_eq!(
        stale[0][0], "0",
        "the demo settles its figures: no dashboard read pays for them"
    );
    let by_reply = test_db
        .query_strings(
            "SELECT count(*) || '' AS n FROM attributions WHERE touch_kind = 'text_reply'",
            &["n"],
        )
        .await;
    let by_reply: u64 = by_reply[0][0].parse().expect("count");
    assert!(
        by_reply > 0,
        "some bookings are recovered through a reply to the text-back"
    );
    // Text-back states read as a real clinic's: delivered for most, a plain reason for the rest,
    // never "reported too late" (which no live clinic sees).
    let states = test_db
        .query_strings(
            "SELECT COALESCE(text_back_status, 'none') AS s FROM calls WHERE missed = true",
            &["s"],
        )
        .await;
    let delivered = states.iter().filter(|row| row[0] == "delivered").count();
    assert!(
        delivered * 10 > states.len() * 7,
        "{delivered} of {}",
        states.len()
    );
    assert!(
        states
            .iter()
            .all(|row| row[0] != "skipped:too_old" && row[0] != "none"),
        "every missed demo call has a realistic state"
    );
    let lunch_and_evening = test_db
        .query_strings(
            "SELECT caller_tail AS tail FROM calls WHERE missed = true",
            &["tail"],
        )
        .await;
    assert!(
        lunch_and_evening
            .iter()
            .all(|row| row[0].starts_with("•••• ")),
        "only masked tails"
    );

    visits_start_in_opening_hours(&test_db).await;
    only_the_latest_conversations_are_unread(&test_db, state.clock.now()).await;

    let again = demo::seed(&state.db, &state.clock, &state.secrets)
        .await
        .expect("second run");
    assert_eq!(again, DemoOutcome::AlreadyPresent);
    let stored = test_db
        .stored_text(&[
            "calls",
            "appointments",
            "audit_log",
            "messages",
            "conversations",
        ])
        .await;
    assert!(
        !crate::common::logs::holds_uk_fiction_number(&stored),
        "no demo number is stored"
    );
    assert!(!stored.contains("toothache"), "message bodies are sealed");
    test_db.finish().await;
}

on_both_databases!(demo_clinic_is_realistic_and_created_once);

/// The demo clinic reads as a live one: no setup step left on its overview, texts back a few
/// seconds after each missed call ends, in its own wording for the moment (in opening hours or
/// out of them), from its own number.
async fn the_demo_clinic_is_live_and_texts_back_within_seconds(kind: DatabaseKind) {
    let (test_db, _web, state, mut owner) = crate::metrics::demo_clinic(kind).await;
    let checklist = owner
        .run("{ setupChecklist { live steps { step done } } }", json!({}))
        .await;
    assert_eq!(
        checklist["data"]["setupChecklist"]["live"],
        json!(true),
        "{checklist}"
    );
    let (from, to) = crate::metrics::demo_days(&state);
    let answer = owner
        .run(
            "query($from: NaiveDate!, $to: NaiveDate!) { metrics(from: $from, to: $to) { \
             totals { textBacksSent medianTimeToTextSeconds p90TimeToTextSeconds } } }",
            json!({ "from": from, "to": to }),
        )
        .await;
    let totals = &answer["data"]["metrics"]["totals"];
    assert!(totals["textBacksSent"].as_u64() > Some(200), "{answer}");
    let median = totals["medianTimeToTextSeconds"].as_i64();
    let p90 = totals["p90TimeToTextSeconds"].as_i64();
    assert!(
        (Some(1)..=Some(10)).contains(&median) && (median..=Some(10)).contains(&p90),
        "texted within seconds of the call's end: {answer}"
    );
    let conversations = owner
        .run(
            "{ inbox(view: OPEN, first: 100) { conversation { messages { kind body } } } }",
            json!({}),
        )
        .await;
    let texts: Vec<&str> = conversations["data"]["inbox"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|entry| {
            entry["conversation"]["messages"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .filter(|message| message["kind"] == "TEXT_BACK")
        .filter_map(|message| message["body"].as_str())
        .collect();
    let open = "Sorry we missed your call to Riverside Dental (demo). Reply to this text or book at \
        https://book.example.test/riverside (Automated text)";
    assert!(texts.contains(&open), "{conversations}");
    assert!(
        texts.iter().all(|text| *text == open
            || text.starts_with("Thanks for calling Riverside Dental (demo). We are closed now")),
        "{texts:?}"
    );
    let numbers = owner
        .run(
            "{ providerNumbers { tail } phoneSettings { forwardingLineTail } }",
            json!({}),
        )
        .await;
    assert_eq!(
        numbers["data"],
        json!({
            "providerNumbers": [{ "tail": "•••• 777" }],
            "phoneSettings": { "forwardingLineTail": "•••• 123" }
        }),
        "{numbers}"
    );
    test_db.finish().await;
}

on_both_databases!(the_demo_clinic_is_live_and_texts_back_within_seconds);

#[test]
fn a_number_is_told_apart_from_digits_inside_a_hash() {
    use crate::common::logs::holds_uk_fiction_number as holds;
    for spelling in [
        "+447700900123",
        "447700900123",
        "07700900123",
        "7700900123",
        "07700 900123",
        "{\"to\":\"07700900123\"}",
    ] {
        assert!(holds(spelling), "{spelling}");
    }
    for chance in ["9f3a7700900b1c", "e3b07700900123456789", "call 77009001"] {
        assert!(!holds(chance), "{chance}");
    }
}

/// The demo owner's password is published: on PostgreSQL (a shared database) `ringback demo`
/// creates nothing unless told it may, and then creates the clinic.
#[tokio::test]
async fn the_demo_on_postgresql_is_created_only_when_asked_for() {
    let test_db = TestDb::new(DatabaseKind::Postgres).await;
    let url = test_db.app_role_url().await;
    let demo = |options: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ringback"))
            .arg("demo")
            .args(options)
            .env("RINGBACK_DATABASE_URL", &url)
            .env("RINGBACK_PEPPER", "11".repeat(32))
            .env("RINGBACK_MASTER_KEY", "22".repeat(32))
            .env("RINGBACK_SESSION_SECRET", "33".repeat(32))
            .env("RINGBACK_LOG", "warn")
            .output()
            .expect("ringback runs")
    };
    let refused = demo(&[]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{said}");
    assert!(said.contains("--allow-known-password"), "{said}");
    let created = demo(&["--allow-known-password"]);
    let said = String::from_utf8_lossy(&created.stdout);
    assert!(
        created.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(
        said.contains("Demo clinic created"),
        "the refusal created nothing: {said}"
    );
    test_db.finish().await;
}
