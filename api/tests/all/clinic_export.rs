//! The clinic's whole data, on SQLite and PostgreSQL: the owner's download streams every part
//! (more calls than a page holds, each once), matches the counts `exportClinicData` announced,
//! opens message texts (one that cannot be opened is exported as unreadable; delay samples that
//! do not decode, as null), holds no number, no sealed value and no password hash, and is audited
//! when complete; an admin may not download it; every table holding a clinic's rows is exported or
//! named as left behind; the file is named after the clinic's own day.

use std::collections::BTreeMap;

use crate::common::app::{OWNER_EMAIL, TestApp};
use crate::common::graphql::join;
use chrono::Duration;
use ringback_api::config::DatabaseKind;
use ringback_api::service::clinic_export::PAGE_ROWS;
use serde_json::{Value, json};

async fn the_whole_clinic_streams_out(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    app.keep_numbers().await;
    let total = usize::try_from(PAGE_ROWS).expect("small") * 2 + 3;
    let started = (app.state.clock.now() - Duration::hours(2)).to_rfc3339();
    let events: Vec<Value> = (0..total)
        .map(|n| {
            json!({ "externalId": format!("x{n}"), "direction": "INBOUND", "status": "ANSWERED",
            "startedAt": started, "answeredAt": started,
            "callerNumber": format!("07700 900{:03}", n % 1000) })
        })
        .collect();
    for batch in events.chunks(200) {
        let recorded = app
            .owner
            .run(
                "mutation($e: [CallEventInput!]!) { recordCallEvents(events: $e) { recorded } }",
                json!({ "e": batch }),
            )
            .await;
        assert_eq!(
            recorded["data"]["recordCallEvents"]["recorded"],
            batch.len()
        );
    }
    app.receive_text("SMexport", "+447700900001", "Is Friday free?")
        .await;

    let plan = app
        .owner
        .run(
            "{ exportClinicData { url totalRows tables { name rows } } }",
            json!({}),
        )
        .await;
    let plan = &plan["data"]["exportClinicData"];
    let announced: BTreeMap<String, i64> = plan["tables"]
        .as_array()
        .unwrap_or_else(|| panic!("{plan}"))
        .iter()
        .filter(|table| table["rows"].as_i64() != Some(0))
        .map(|table| {
            (
                table["name"].as_str().unwrap_or_default().to_owned(),
                table["rows"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    let url = plan["url"].as_str().expect("url").to_owned();
    let client = poem::test::TestClient::new(app.app());
    let body = download(&app, &url).await;
    let mut received: BTreeMap<String, i64> = BTreeMap::new();
    let mut call_ids = std::collections::BTreeSet::new();
    for line in body.lines() {
        let parsed: Value = serde_json::from_str(line).expect("one JSON document per line");
        let table = parsed["table"].as_str().expect("table").to_owned();
        if table == "calls" {
            call_ids.insert(parsed["row"]["id"].to_string());
        }
        *received.entry(table).or_default() += 1;
    }
    // Reading the plan was audited after it was counted; the audit log grew by then.
    let audit_announced = announced.get("audit_log").copied();
    let mut expected = announced.clone();
    expected.remove("audit_log");
    let audit_received = received.remove("audit_log");
    assert_eq!(received, expected, "every part, as announced");
    assert!(audit_received >= audit_announced, "{audit_received:?}");
    assert_eq!(call_ids.len(), total, "every call once");
    assert!(body.contains("Is Friday free?"), "message texts are opened");
    assert!(body.contains(OWNER_EMAIL), "the team is named");
    for withheld in [
        "password_hash",
        "number_sealed",
        "body_sealed",
        "wrapped_data_key",
    ] {
        assert!(!body.contains(withheld), "{withheld} is not exported");
    }
    assert!(
        !crate::common::logs::holds_uk_fiction_number(&body),
        "no number is exported"
    );
    let audited = app
        .db
        .query_strings(
            "SELECT CAST(detail AS TEXT) AS detail FROM audit_log WHERE action = 'export.clinic_data'",
            &["detail"],
        )
        .await;
    assert_eq!(audited.len(), 1, "the finished download is audited");

    let admin = app.browser();
    let admin = join(&mut app.owner, admin, "admin@clinic.test", "ADMIN").await;
    let refused = client
        .get(&url)
        .header("Cookie", admin.cookie_header())
        .send()
        .await;
    refused.assert_status(poem::http::StatusCode::FORBIDDEN);
    app.db.finish().await;
}

/// A download stopped after its first lines is on record: its start is audited before any line
/// leaves, its end (with the rows) only when the last has gone.
async fn a_download_stopped_part_way_is_audited(kind: DatabaseKind) {
    use futures::StreamExt;
    let mut app = TestApp::new(kind).await;
    let url = export_url(&mut app).await;
    let response = owners_download(&app, &url).await;
    let mut lines = response.0.into_body().into_bytes_stream();
    let mut first = Vec::new();
    while first.is_empty() {
        first = lines.next().await.expect("a page").expect("read").to_vec();
    }
    assert!(
        String::from_utf8_lossy(&first).contains("\"table\""),
        "some of the clinic's data left"
    );
    drop(lines);
    let actions: Vec<String> = app
        .audit_actions()
        .await
        .into_iter()
        .map(|(action, _)| action)
        .collect();
    assert!(
        actions.contains(&"export.clinic_data_started".to_owned()),
        "{actions:?}"
    );
    assert!(
        !actions.contains(&"export.clinic_data".to_owned()),
        "not finished: {actions:?}"
    );
    app.db.finish().await;
}

/// The download is named after the clinic's own day: at noon in London it is already tomorrow in
/// Auckland, and an Auckland clinic's file says so.
#[tokio::test]
async fn the_file_is_named_after_the_clinics_own_day() {
    let mut app = TestApp::builder(DatabaseKind::Sqlite)
        .at_midday()
        .build()
        .await;
    app.owner
        .run(
            "mutation { updateClinicSettings(input: { timeZone: \"Pacific/Auckland\" }) { timeZone } }",
            json!({}),
        )
        .await;
    let url = export_url(&mut app).await;
    let response = owners_download(&app, &url).await;
    let auckland_day =
        ringback_shared::metrics::local_day(app.state.clock.now(), chrono_tz::Pacific::Auckland);
    assert_ne!(auckland_day, app.state.clock.now().date_naive());
    response.assert_header(
        "content-disposition",
        format!("attachment; filename=\"clinic-data-{auckland_day}.jsonl\""),
    );
    app.db.finish().await;
}

on_both_databases!(
    the_whole_clinic_streams_out,
    a_download_stopped_part_way_is_audited
);

/// The rows of `table` in the owner's download of the clinic's data.
pub(crate) async fn exported_rows(app: &mut TestApp, table: &str) -> Vec<Value> {
    let url = export_url(app).await;
    let body = download(app, &url).await;
    body.lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("one JSON document per line"))
        .filter(|parsed| parsed["table"] == table)
        .map(|parsed| parsed["row"].clone())
        .collect()
}

/// Where the owner downloads the clinic's data from (`exportClinicData`).
async fn export_url(app: &mut TestApp) -> String {
    let plan = app
        .owner
        .run("{ exportClinicData { url } }", json!({}))
        .await;
    plan["data"]["exportClinicData"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{plan}"))
        .to_owned()
}

/// The owner's download from `url`, checked to be newline-delimited JSON.
async fn download(app: &TestApp, url: &str) -> String {
    let response = owners_download(app, url).await;
    response.assert_content_type("application/x-ndjson");
    response.0.into_body().into_string().await.expect("body")
}

/// The owner's answer to a download from `url`, checked to have succeeded.
async fn owners_download(app: &TestApp, url: &str) -> poem::test::TestResponse {
    let response = poem::test::TestClient::new(app.app())
        .get(url)
        .header("Cookie", app.owner.cookie_header())
        .send()
        .await;
    response.assert_status_is_ok();
    response
}

/// A message whose stored text cannot be opened does not stop the download: it is exported as
/// unreadable, without a text, and the messages after it as usual.
async fn a_damaged_message_is_exported_as_unreadable(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    for (sid, text) in [("SMd1", "Is Monday free?"), ("SMd2", "Or Tuesday?")] {
        app.receive_text(sid, "+447700900002", text).await;
    }
    app.damage_message("SMd1").await;
    let mut messages: Vec<(Value, Value)> = exported_rows(&mut app, "messages")
        .await
        .into_iter()
        .map(|row| (row["text"].clone(), row["unreadable"].clone()))
        .collect();
    messages.sort_by_key(|(text, _)| text.to_string());
    assert_eq!(
        messages,
        [
            (json!("Or Tuesday?"), json!(false)),
            (Value::Null, json!(true)),
        ]
    );
    app.db.finish().await;
}

on_both_databases!(a_damaged_message_is_exported_as_unreadable);

/// A day whose delay samples are text that is no JSON (SQLite keeps whatever text it is given;
/// PostgreSQL's json column refuses it) is exported with those samples null and everything else
/// as stored, instead of failing the download.
#[tokio::test]
async fn delay_samples_that_do_not_decode_are_exported_as_null() {
    let mut app = TestApp::new(DatabaseKind::Sqlite).await;
    app.db
        .execute_as_owner(
            "INSERT INTO daily_metrics (clinic_id, day, inbound_calls, missed_calls, \
             text_backs_sent, replied_text_backs, callbacks, median_callback_seconds, \
             recovered_appointments, recovered_revenue_minor, updated_at, stale, \
             callback_delays_seconds, stale_version, text_back_delays_seconds) \
             SELECT id, '2026-01-05', 3, 1, 1, 0, 0, NULL, 0, 0, '2026-01-05T18:00:00+00:00', 0, \
             '[12, 40', 0, '[5]' FROM clinics",
        )
        .await;
    let days = exported_rows(&mut app, "daily_figures").await;
    assert_eq!(days.len(), 1, "{days:?}");
    let day = &days[0];
    assert_eq!(day["day"], "2026-01-05");
    assert_eq!(day["inbound_calls"], 3);
    assert_eq!(day["callback_delays_seconds"], Value::Null);
    assert_eq!(day["text_back_delays_seconds"], json!([5]));
    app.db.finish().await;
}

/// Every table that holds a clinic's rows (a `clinic_id` column) is exported or named in
/// `NOT_EXPORTED` with its reason: a new table fails here until it is one or the other.
async fn every_table_of_a_clinic_is_exported_or_named(kind: DatabaseKind) {
    use ringback_api::service::clinic_export::{NOT_EXPORTED, Section};
    let app = TestApp::new(kind).await;
    let sql = match kind {
        DatabaseKind::Sqlite => {
            "SELECT m.name AS name FROM sqlite_master m JOIN pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND c.name = 'clinic_id' ORDER BY m.name"
        }
        DatabaseKind::Postgres => {
            "SELECT table_name::text AS name FROM information_schema.columns \
             WHERE table_schema = 'public' AND column_name = 'clinic_id' ORDER BY table_name"
        }
    };
    let tables = app.db.query_strings(sql, &["name"]).await;
    assert!(tables.len() > 10, "{tables:?}");
    let exported: Vec<&str> = Section::ALL.iter().map(|section| section.table()).collect();
    for table in tables.iter().map(|row| row[0].as_str()) {
        let named = NOT_EXPORTED.iter().any(|(name, _)| *name == table);
        assert!(
            exported.contains(&table) != named,
            "{table}: exported, or named as left behind (not both)"
        );
    }
    app.db.finish().await;
}

on_both_databases!(every_table_of_a_clinic_is_exported_or_named);
