//! CSV exports on SQLite and PostgreSQL: calls, appointments with their attribution and daily
//! metrics for a period, with a header line; no phone number in any spelling; every export in
//! the audit log.

use crate::common::TestDb;
use crate::common::graphql::{Browser, SIGN_UP, sign_up_input};
use chrono::Duration;
use ringback_api::config::DatabaseKind;
use serde_json::json;

async fn exports(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut admin = Browser::new(test_db.app(web.path()));
    admin
        .run(SIGN_UP, sign_up_input("export@clinic.test"))
        .await;
    let at = |minutes: i64| (test_db.clock.now() - Duration::minutes(minutes)).to_rfc3339();
    let events = json!([
        { "externalId": "x1", "direction": "INBOUND", "status": "NO_ANSWER", "startedAt": at(90), "callerNumber": "07700 900301" },
        { "externalId": "x2", "direction": "OUTBOUND", "status": "ANSWERED", "startedAt": at(60), "answeredAt": at(60), "callerNumber": "07700 900301" },
    ]);
    admin
        .run(
            "mutation($e: [CallEventInput!]!) { recordCallEvents(events: $e) { recorded } }",
            json!({ "e": events }),
        )
        .await;
    let booked = admin
        .run("mutation { createAppointment(input: { callerNumber: \"07700 900301\", valueMinor: 6000 }) { id } }", json!({}))
        .await;
    assert!(booked["errors"].is_null(), "{booked}");
    let today = test_db.clock.now().date_naive();
    let range = json!({ "from": (today - Duration::days(1)).to_string(), "to": (today + Duration::days(1)).to_string() });
    let mut files = Vec::new();
    for what in ["CALLS", "APPOINTMENTS", "METRICS"] {
        let answer = admin
            .run(
                &format!("query($from: NaiveDate!, $to: NaiveDate!) {{ exportCsv(what: {what}, from: $from, to: $to) {{ filename content rows }} }}"),
                range.clone(),
            )
            .await;
        let export = &answer["data"]["exportCsv"];
        assert!(
            export["filename"]
                .as_str()
                .unwrap_or_default()
                .ends_with(".csv"),
            "{answer}"
        );
        files.push((
            what,
            export["content"].as_str().unwrap_or_default().to_owned(),
            export["rows"].clone(),
        ));
    }
    let (_, calls, rows) = &files[0];
    assert!(calls.starts_with("id,started_at,direction,status,missed,caller_key,caller_tail"));
    assert_eq!(rows, 2);
    assert!(calls.contains("•••• 301"));
    let (_, appointments, rows) = &files[1];
    assert_eq!(rows, 1);
    assert!(
        appointments.contains(",6000,") && appointments.contains("recovered"),
        "{appointments}"
    );
    let (_, metrics, rows) = &files[2];
    assert_eq!(rows, 3, "one row per day");
    assert!(metrics.starts_with("day,inbound_calls,missed_calls"));
    for (what, content, _) in &files {
        for spelling in [
            "+447700900301",
            "447700900301",
            "07700900301",
            "07700 900301",
            "7700900301",
        ] {
            assert!(
                !content.contains(spelling),
                "{what} export holds {spelling}"
            );
        }
    }
    let audit = admin
        .run(
            "{ auditLog(first: 50) { edges { node { action detail } } } }",
            json!({}),
        )
        .await;
    let exports = audit["data"]["auditLog"]["edges"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|edge| edge["node"]["action"] == "export.created")
        .count();
    assert_eq!(exports, 3, "{audit}");
    test_db.finish().await;
}

on_both_databases!(exports);

/// A download streams an export of several pages (more rows than one page holds) as the GraphQL
/// export would write it, in order and complete, and audits it with its row count; who may
/// download is who may export.
async fn downloads_stream_every_page(kind: DatabaseKind) {
    use ringback_api::service::export::PAGE_ROWS;
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut admin = Browser::new(test_db.app(web.path()));
    admin
        .run(SIGN_UP, sign_up_input("download@clinic.test"))
        .await;
    // Two full pages: the second names a third, which is empty.
    let total = usize::try_from(PAGE_ROWS).expect("small") * 2;
    let started = (test_db.clock.now() - Duration::hours(2)).to_rfc3339();
    let events: Vec<serde_json::Value> = (0..total)
        .map(|n| json!({ "externalId": format!("d{n}"), "direction": "INBOUND", "status": "ANSWERED",
            "startedAt": started, "answeredAt": started, "callerNumber": format!("07700 900{:03}", n % 1000) }))
        .collect();
    for batch in events.chunks(200) {
        let recorded = admin
            .run(
                "mutation($e: [CallEventInput!]!) { recordCallEvents(events: $e) { recorded } }",
                json!({ "e": batch }),
            )
            .await;
        assert_eq!(
            recorded["data"]["recordCallEvents"]["recorded"],
            batch.len(),
            "{recorded}"
        );
    }
    let today = test_db.clock.now().date_naive();
    let (from, to) = (today - Duration::days(1), today + Duration::days(1));
    let client = poem::test::TestClient::new(test_db.app(web.path()));
    let cookies = admin.cookie_header();
    let url = format!("/export/calls.csv?from={from}&to={to}");
    let response = client
        .get(&url)
        .header("Cookie", cookies.clone())
        .send()
        .await;
    response.assert_status_is_ok();
    response.assert_content_type("text/csv; charset=utf-8");
    let file = response.0.into_body().into_string().await.expect("body");
    // Marked as UTF-8 for Excel; otherwise the same bytes as the GraphQL export.
    let downloaded = file
        .strip_prefix(ringback_api::service::export::UTF8_BOM)
        .expect("a download starts with the byte-order mark");
    let lines: Vec<&str> = downloaded
        .split("\r\n")
        .filter(|line| !line.is_empty())
        .collect();
    assert_eq!(lines.len(), total + 1, "a header and every row");
    let ids: std::collections::BTreeSet<&str> = lines[1..]
        .iter()
        .map(|line| line.split(',').next().unwrap_or_default())
        .collect();
    assert_eq!(ids.len(), total, "no row twice");
    let graphql = admin
        .run(
            "query($from: NaiveDate!, $to: NaiveDate!) { exportCsv(what: CALLS, from: $from, to: $to) { content rows } }",
            json!({ "from": from.to_string(), "to": to.to_string() }),
        )
        .await;
    assert_eq!(
        graphql["data"]["exportCsv"]["content"], downloaded,
        "the same file either way"
    );
    // One answer holds a bounded number of pages: beyond them it names the download.
    let clinic = admin.run("{ clinic { id } }", json!({})).await["data"]["clinic"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("the clinic's id");
    let state = test_db.state(web.path());
    let txn = crate::common::tenant(&state, clinic)
        .begin()
        .await
        .expect("txn");
    let kind = ringback_api::service::export::ExportKind::Calls;
    let refused = ringback_api::service::export::export(&txn, None, kind, (from, to), 1).await;
    let whole = ringback_api::service::export::export(&txn, None, kind, (from, to), 2).await;
    assert_eq!(
        whole.map(|csv| csv.rows).ok(),
        Some(total),
        "two full pages fit in two"
    );
    // Not committed: the audit entries below are the download's and the GraphQL answer's.
    drop(txn);
    match refused {
        Err(ringback_api::error::DomainError::BadUserInput(why)) => {
            assert!(why.contains(&url), "{why}");
        }
        other => panic!(
            "two pages in an answer of one: {:?}",
            other.map(|csv| csv.rows)
        ),
    }
    let started = test_db
        .query_strings(
            "SELECT CAST(detail AS TEXT) AS detail FROM audit_log WHERE action = 'export.started'",
            &["detail"],
        )
        .await;
    assert_eq!(started.len(), 1, "the download's start: {started:?}");
    let audited = test_db
        .query_strings(
            "SELECT CAST(detail AS TEXT) AS detail FROM audit_log WHERE action = 'export.created'",
            &["detail"],
        )
        .await;
    assert!(
        audited
            .iter()
            .filter(|row| row[0].contains(&format!("\"rows\":{total}"))
                || row[0].contains(&format!("\"rows\": {total}")))
            .count()
            == 2,
        "{audited:?}"
    );

    for (path, cookie, status) in [
        (
            url.clone(),
            String::new(),
            poem::http::StatusCode::UNAUTHORIZED,
        ),
        (
            format!("/export/secrets.csv?from={from}&to={to}"),
            cookies.clone(),
            poem::http::StatusCode::NOT_FOUND,
        ),
        (
            format!("/export/calls.csv?from={to}&to={from}"),
            cookies.clone(),
            poem::http::StatusCode::BAD_REQUEST,
        ),
    ] {
        let mut request = client.get(&path);
        if !cookie.is_empty() {
            request = request.header("Cookie", cookie);
        }
        request.send().await.assert_status(status);
    }

    // A receptionist is signed in to the clinic, but exports are for admins and owners.
    let receptionist = crate::common::graphql::join(
        &mut admin,
        Browser::new(test_db.app(web.path())),
        "front-desk@clinic.test",
        "RECEPTIONIST",
    )
    .await;
    let their_cookies: String = receptionist
        .cookies
        .iter()
        .map(|(name, value)| format!("{name}={value}; "))
        .collect();
    client
        .get(&url)
        .header("Cookie", their_cookies)
        .send()
        .await
        .assert_status(poem::http::StatusCode::FORBIDDEN);
    test_db.finish().await;
}

on_both_databases!(downloads_stream_every_page);

/// A long download by an admin removed from the team while it runs gets no page after the
/// removal: each page checks the member again.
async fn a_download_stops_when_its_member_is_removed(kind: DatabaseKind) {
    use futures::StreamExt;
    let mut app = crate::common::app::TestApp::new(kind).await;
    let admin = app.browser();
    let mut admin =
        crate::common::graphql::join(&mut app.owner, admin, "admin@clinic.test", "ADMIN").await;
    let admin_id = admin.run("{ me { user { id } } }", json!({})).await["data"]["me"]["user"]["id"]
        .as_str()
        .expect("the admin's id")
        .to_owned();
    let today = app.db.clock.now().date_naive();
    let url = format!(
        "/export/calls.csv?from={}&to={}",
        today - Duration::days(1),
        today
    );
    let response = poem::test::TestClient::new(app.app())
        .get(&url)
        .header("Cookie", admin.cookie_header())
        .send()
        .await;
    response.assert_status_is_ok();
    let mut body = response.0.into_body().into_bytes_stream();
    let header = body.next().await.expect("the header").expect("read");
    assert!(header.starts_with("\u{feff}id,".as_bytes()), "{header:?}");
    let removed = app
        .owner
        .run(
            "mutation($id: ID!) { removeMember(userId: $id) }",
            json!({ "id": admin_id }),
        )
        .await;
    assert!(removed["errors"].is_null(), "{removed}");
    let next = body.next().await.expect("an answer for the next page");
    assert!(next.is_err(), "a page after the removal: {next:?}");
    let finished = app
        .db
        .query_strings(
            "SELECT action FROM audit_log WHERE action = 'export.created'",
            &["action"],
        )
        .await;
    assert!(
        finished.is_empty(),
        "not recorded as finished: {finished:?}"
    );
}

on_both_databases!(a_download_stops_when_its_member_is_removed);
