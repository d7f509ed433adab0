//! Retention, on SQLite and PostgreSQL: a purge removes exactly what outlived its retention (dead
//! letters after 30 days, finished jobs and provider-event records after the clinic's call
//! retention, expired refresh tokens, used or expired invitations, expired sign-up requests, the
//! caller of an appointment booked and visited before the call horizon) and
//! nothing younger, deleting rows for real; a dry run counts the same and changes nothing; each
//! run writes one audit entry per clinic with kinds, counts and dates, never a caller key (a run
//! cut short writes what it removed before it stopped, marked interrupted); calls
//! go from the clinic-local day the retention reaches back to, and the daily figures of the purged
//! period (and every appointment's verdict) stay exactly as they were, and the boundary is the
//! clinic-local day across a change of daylight time; conversations and messages go after the
//! clinic's conversation retention (in strict mode no later than calls), Twilio's records of the
//! purged calls and texts with them; and of two servers on one database exactly one runs a due
//! task.

use crate::common::app::{CLINIC_NUMBER, TestApp};
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use ringback_api::config::DatabaseKind;
use ringback_api::jobs::scheduler::{RETENTION, Scheduler};
use ringback_api::service::retention::{self, Purged};
use ringback_entity::{
    appointment, call, clinic, conversation, invite, job_outbox, membership, message,
    processed_webhook, refresh_token, sign_up_request,
};
use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};
use serde_json::json;
use uuid::Uuid;

/// A job of `status` last changed `days` ago.
fn job(clinic_id: Uuid, status: &str, days: i64, now: DateTime<Utc>) -> job_outbox::ActiveModel {
    let at = now - Duration::days(days);
    let id = Uuid::now_v7();
    job_outbox::ActiveModel {
        clinic_id: Set(clinic_id),
        id: Set(id),
        kind: Set("text_back".to_owned()),
        idempotency_key: Set(format!("text_back:{id}")),
        payload: Set(json!({ "call": id, "caller_key": "v1:retention-test" })),
        sealed_number: Set(Some(vec![1, 2, 3])),
        status: Set(status.to_owned()),
        attempts: Set(1),
        run_at: Set(at),
        claimed_at: Set(None),
        claimed_by: Set(None),
        last_error: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        body_sealed: Set(Some(vec![4, 5, 6])),
        in_doubt_since: Set(None),
        provider_message_id: Set(None),
        api_key_id: Set(None),
        sender_number_id: Set(None),
    }
}

async fn seed(app: &TestApp) {
    let now = app.db.clock.now();
    let txn = app.tenant().begin().await.expect("begin");
    let clinic = app.clinic_id;
    for (status, days) in [
        ("dead", 31),
        ("dead", 29),
        ("done", 91),
        ("cancelled", 95),
        ("done", 89),
        ("pending", 120),
        ("pending", 10),
    ] {
        job(clinic, status, days, now)
            .insert(txn.conn())
            .await
            .expect("job");
    }
    // A deletion at the provider held for its credentials waits, however long.
    let mut held = job(clinic, "pending", 120, now);
    held.kind = Set("forget_provider_records".to_owned());
    held.insert(txn.conn()).await.expect("job");
    for (event, days) in [("evt_old", 91), ("evt_recent", 89)] {
        processed_webhook::ActiveModel {
            clinic_id: Set(clinic),
            provider: Set("stripe".to_owned()),
            event_id: Set(event.to_owned()),
            received_at: Set(now - Duration::days(days)),
        }
        .insert(txn.conn())
        .await
        .expect("event record");
    }
    let owner = txn
        .find::<membership::Entity>()
        .one(txn.conn())
        .await
        .expect("read")
        .expect("the owner's membership")
        .user_id;
    for expires in [-1, 10] {
        refresh_token::ActiveModel {
            clinic_id: Set(clinic),
            id: Set(Uuid::now_v7()),
            user_id: Set(owner),
            family_id: Set(Uuid::now_v7()),
            token_hash: Set(format!("hash-{}", Uuid::now_v7())),
            expires_at: Set(now + Duration::days(expires)),
            replaced_at: Set(None),
            revoked_at: Set(None),
            created_at: Set(now - Duration::days(20)),
            session_version: Set(Some(0)),
        }
        .insert(txn.conn())
        .await
        .expect("token");
    }
    for (accepted, expires) in [(true, 5), (false, -1), (false, 5)] {
        invite::ActiveModel {
            clinic_id: Set(clinic),
            id: Set(Uuid::now_v7()),
            email: Set(format!("{}@clinic.test", Uuid::now_v7())),
            display_name: Set("Invited".to_owned()),
            role: Set("receptionist".to_owned()),
            token_hash: Set(format!("invite-{}", Uuid::now_v7())),
            invited_by: Set(owner),
            expires_at: Set(now + Duration::days(expires)),
            accepted_at: Set(accepted.then_some(now - Duration::days(1))),
            created_at: Set(now - Duration::days(8)),
        }
        .insert(txn.conn())
        .await
        .expect("invite");
    }
    // Booked days ago, visited days ago (none: no time given), under its caller's key or not.
    for (booked, visit, key) in [
        (100, None, "v1:old-booking"),
        (100, Some(95), "v1:old-visit"),
        (100, Some(-10), "v1:visit-to-come"),
        (30, Some(20), "v1:recent"),
        (120, None, "anon:erased-earlier"),
    ] {
        appointment::ActiveModel {
            clinic_id: Set(clinic),
            id: Set(Uuid::now_v7()),
            caller_key: Set(key.to_owned()),
            source: Set("staff".to_owned()),
            external_id: Set(None),
            value_minor: Set(4500),
            starts_at: Set(visit.map(|days| now - Duration::days(days))),
            cancelled_at: Set(None),
            created_at: Set(now - Duration::days(booked)),
            updated_at: Set(now - Duration::days(booked)),
            duration_minutes: Set(None),
            calendar_event_in: Set(None),
        }
        .insert(txn.conn())
        .await
        .expect("appointment");
    }
    txn.commit().await.expect("commit");
    sign_up_request::ActiveModel {
        id: Set(Uuid::now_v7()),
        token_hash: Set("signup-hash".to_owned()),
        email: Set("late@clinic.test".to_owned()),
        password_hash: Set("argon2-placeholder".to_owned()),
        details: Set(json!({})),
        expires_at: Set(now - Duration::hours(1)),
        created_at: Set(now - Duration::days(2)),
    }
    .insert(&app.state.db)
    .await
    .expect("sign-up request");
}

fn rows(purged: &[Purged], kind: &str) -> u64 {
    purged
        .iter()
        .find(|entry| entry.kind == kind)
        .map_or(0, |entry| entry.rows)
}

async fn counts(app: &TestApp) -> Vec<Vec<String>> {
    app.db
        .query_strings(
            "SELECT (SELECT count(*) FROM job_outbox) || '' AS jobs, \
             (SELECT count(*) FROM processed_webhooks) || '' AS events, \
             (SELECT count(*) FROM refresh_tokens) || '' AS tokens, \
             (SELECT count(*) FROM invites) || '' AS invites",
            &["jobs", "events", "tokens", "invites"],
        )
        .await
}

async fn a_purge_removes_what_outlived_its_retention(kind: DatabaseKind) {
    let app = TestApp::new(kind).await;
    seed(&app).await;
    let before = counts(&app).await;

    let dry = retention::purge_all(&app.state.db, &app.state.clock, true)
        .await
        .expect("dry run");
    assert_eq!(counts(&app).await, before, "a dry run removes nothing");
    assert_eq!(dry.sign_up_requests, 1);
    let ours = |report: &retention::PurgeReport| {
        report
            .clinics
            .iter()
            .find(|clinic| clinic.clinic_id == app.clinic_id)
            .expect("our clinic visited")
            .purged
            .clone()
    };
    let expected = [
        ("dead_letters", 1),
        ("finished_jobs", 2),
        ("stuck_texts", 1),
        ("provider_event_records", 1),
        ("expired_refresh_tokens", 1),
        ("used_or_expired_invitations", 2),
        ("appointment_callers", 2),
    ];
    for (kind, count) in expected {
        assert_eq!(rows(&ours(&dry), kind), count, "{kind} (dry run)");
    }

    let done = retention::purge_all(&app.state.db, &app.state.clock, false)
        .await
        .expect("purge");
    for (kind, count) in expected {
        assert_eq!(rows(&ours(&done), kind), count, "{kind}");
    }
    let remaining = app
        .db
        .query_strings("SELECT status FROM job_outbox ORDER BY status", &["status"])
        .await;
    assert_eq!(
        remaining,
        [["dead"], ["done"], ["pending"], ["pending"]],
        "younger rows stay, and jobs other than texts"
    );
    let events = app
        .db
        .query_strings("SELECT event_id FROM processed_webhooks", &["event_id"])
        .await;
    assert_eq!(events, [["evt_recent"]]);
    let mut keys: Vec<String> = app
        .db
        .query_strings("SELECT caller_key FROM appointments", &["caller_key"])
        .await
        .into_iter()
        .map(|row| row[0].clone())
        .collect();
    keys.sort();
    assert_eq!(
        keys[3..],
        ["v1:recent", "v1:visit-to-come"],
        "a recent booking and one whose visit is to come keep their caller: {keys:?}"
    );
    assert!(
        keys[..3].iter().all(|key| key.starts_with("anon:")) && keys[0] != keys[1],
        "the old ones each have a stand-in of their own: {keys:?}"
    );
    assert_eq!(
        sign_up_request::Entity::find()
            .count(&app.state.db)
            .await
            .expect("count"),
        0
    );
    let again = retention::purge_all(&app.state.db, &app.state.clock, false)
        .await
        .expect("second purge");
    assert!(
        ours(&again).iter().all(|kind| kind.rows == 0),
        "nothing left to purge"
    );

    let audit = app
        .db
        .query_strings(
            "SELECT CAST(detail AS TEXT) AS detail FROM audit_log \
             WHERE action = 'retention.purged' ORDER BY seq",
            &["detail"],
        )
        .await;
    assert_eq!(audit.len(), 2, "one entry per clinic per run");
    let first: serde_json::Value = serde_json::from_str(&audit[0][0]).expect("json");
    let dead = first["removed"]
        .as_array()
        .and_then(|kinds| kinds.iter().find(|k| k["kind"] == "dead_letters"))
        .expect("dead letters entry");
    assert_eq!(dead["rows"], 1);
    assert!(
        dead["oldest"].is_string() && dead["newest"].is_string(),
        "{first}"
    );
    assert!(
        !audit[0][0].contains("v1:"),
        "no caller key in the audit entry"
    );
    let purged_at = app
        .db
        .query_strings(
            "SELECT CASE WHEN last_purge_at IS NULL THEN 'never' ELSE 'set' END AS at FROM clinics",
            &["at"],
        )
        .await;
    assert_eq!(purged_at, [["set"]]);
    app.db.finish().await;
}

async fn of_two_servers_one_runs_a_due_task(kind: DatabaseKind) {
    let app = TestApp::new(kind).await;
    let first = Scheduler::new(app.state.clone(), vec![RETENTION]);
    let second = Scheduler::new(app.state.clone(), vec![RETENTION]);
    let (a, b) = tokio::join!(first.tick(), second.tick());
    let started: Vec<_> = a
        .expect("tick")
        .into_iter()
        .chain(b.expect("tick"))
        .collect();
    assert_eq!(started.len(), 1, "exactly one server runs the due task");
    for handle in started {
        handle.await.expect("the task ends");
    }
    let record = ringback_core::schedule::record(&app.state.db, RETENTION.name)
        .await
        .expect("read")
        .expect("registered");
    assert!(
        record.last_finished_at.is_some() && record.lease_until.is_none(),
        "{record:?}"
    );
    assert!(
        record
            .last_outcome
            .as_deref()
            .is_some_and(|outcome| outcome.contains("rows removed")),
        "{record:?}"
    );
    // Not due again until its interval has passed; then again exactly one.
    assert!(first.tick().await.expect("tick").is_empty());
    app.db.clock.advance(RETENTION.every + Duration::minutes(1));
    let (a, b) = tokio::join!(first.tick(), second.tick());
    let started: Vec<_> = a
        .expect("tick")
        .into_iter()
        .chain(b.expect("tick"))
        .collect();
    assert_eq!(started.len(), 1);
    for handle in started {
        handle.await.expect("the task ends");
    }
    app.db.finish().await;
}

/// The demo clinic's figures over its oldest days and over all of them, as text.
async fn demo_figures(app: &TestApp, clinic: Uuid, first: i64, last: i64) -> String {
    use ringback_api::service::metrics;
    use ringback_shared::metrics::local_day;
    let now = app.db.clock.now();
    let zone = chrono_tz::Europe::London;
    let txn = crate::common::tenant(&app.state, clinic)
        .begin()
        .await
        .expect("begin");
    let range = metrics::range(
        &txn,
        local_day(now - Duration::days(first), zone),
        local_day(now - Duration::days(last), zone),
    )
    .await
    .expect("metrics");
    let verdicts = txn
        .find::<ringback_entity::attribution::Entity>()
        .all(txn.conn())
        .await
        .expect("verdicts");
    let mut verdicts: Vec<String> = verdicts
        .iter()
        .map(|v| {
            format!(
                "{} {} {} {}",
                v.appointment_id, v.outcome, v.reason, v.value_minor
            )
        })
        .collect();
    verdicts.sort();
    txn.commit().await.expect("commit");
    format!(
        "{:?}\n{:?}\n{}",
        range.totals,
        range.days,
        verdicts.join("\n")
    )
}

/// A server holding the demo clinic (beside the test's own); the demo clinic's id.
async fn with_demo(kind: DatabaseKind) -> (TestApp, Uuid) {
    let app = TestApp::builder(kind).at_midday().build().await;
    ringback_api::demo::seed_clinic(&app.state.db, &app.state.clock, &app.state.secrets)
        .await
        .expect("demo");
    let clinics = ringback_core::schedule::clinic_page(&app.state.db, None, 10)
        .await
        .expect("clinics");
    let demo = *clinics
        .iter()
        .find(|id| **id != app.clinic_id)
        .expect("the demo clinic");
    (app, demo)
}

/// Runs the purge everywhere at the clock's now; what it removed in `clinic`.
async fn purge_of(app: &TestApp, clinic: Uuid) -> Vec<Purged> {
    let report = retention::purge_all(&app.state.db, &app.state.clock, false)
        .await
        .expect("purge");
    report
        .clinics
        .into_iter()
        .find(|visited| visited.clinic_id == clinic)
        .expect("the clinic was visited")
        .purged
}

/// Later events that reach back: a demo caller rings again (their verdicts are recomputed) and a
/// late report marks the days from 1 to 119 days ago for recomputation.
async fn reach_back(app: &TestApp, demo: Uuid) {
    use ringback_api::service::calls::{self, CallEvent};
    use ringback_shared::attribution::{CallDirection, CallOutcome};
    let now = app.db.clock.now();
    let txn = crate::common::tenant(&app.state, demo)
        .begin()
        .await
        .expect("begin");
    let event = CallEvent {
        external_id: "after-the-purge".to_owned(),
        direction: CallDirection::Inbound,
        outcome: CallOutcome::NoAnswer,
        started_at: now - Duration::minutes(5),
        answered_at: None,
        ended_at: Some(now - Duration::minutes(4)),
        caller_number: "+447700900042".to_owned(),
        provider_number_id: None,
    };
    calls::record_events(&txn, &app.state.secrets, None, "api", vec![event])
        .await
        .expect("recorded");
    ringback_api::service::metrics::mark_stale(
        &txn,
        (1..=119).map(|days| now - Duration::days(days)),
        true,
    )
    .await
    .expect("marked");
    txn.commit().await.expect("commit");
}

async fn purged_calls_leave_the_figures_as_they_were(kind: DatabaseKind) {
    purged_calls_leave_the_figures_of(kind, None).await;
}

/// The same with a 30-day attribution window: appointments of days still open after the purge
/// keep recoveries whose missed calls went (their verdicts keep the call's time, not its link).
async fn purged_calls_leave_the_figures_with_a_long_window(kind: DatabaseKind) {
    purged_calls_leave_the_figures_of(kind, Some(30)).await;
}

async fn purged_calls_leave_the_figures_of(kind: DatabaseKind, window_days: Option<i32>) {
    let (app, demo) = with_demo(kind).await;
    if let Some(days) = window_days {
        let txn = crate::common::tenant(&app.state, demo)
            .begin()
            .await
            .expect("begin");
        let longer = ringback_api::service::clinic::SettingsChange {
            attribution_window_days: Some(days),
            ..Default::default()
        };
        ringback_api::service::clinic::update(&txn, Uuid::nil(), longer)
            .await
            .expect("the window");
        txn.commit().await.expect("commit");
    }
    // The demo's 90 days, then 30 days pass: its first 30 days are beyond the call retention.
    let before = demo_figures(&app, demo, 89, 1).await;
    app.db.clock.advance(Duration::days(30));
    let purged = purge_of(&app, demo).await;
    let calls = rows(&purged, "calls");
    assert!(calls > 100, "a month of calls goes: {calls}");
    let unlinked = rows(&purged, "appointment_callers");
    assert!(unlinked > 0, "and that month's bookings lose their callers");
    let oldest_left = {
        use sea_orm::QueryOrder;
        let txn = crate::common::tenant(&app.state, demo)
            .begin()
            .await
            .expect("begin");
        let oldest = txn
            .find::<call::Entity>()
            .order_by_asc(call::Column::StartedAt)
            .one(txn.conn())
            .await
            .expect("calls")
            .expect("a call is left");
        txn.commit().await.expect("commit");
        oldest.started_at
    };
    let retention = Duration::days(90);
    assert!(
        oldest_left >= app.db.clock.now() - retention - Duration::days(1),
        "no call beyond the call retention (and the rest of its day) is left: {oldest_left}"
    );
    reach_back(&app, demo).await;
    // The same days, read 30 days later: byte for byte the same figures and verdicts.
    let after = demo_figures(&app, demo, 119, 31).await;
    assert_eq!(after, before);
    app.db.finish().await;
}

/// A clinic that keeps conversations 30 days and calls 90: the purge takes the text-backs and
/// replies of its older days while their calls stay, and the figures and verdicts those texts
/// gave stay as they were (reply rates, recoveries through a reply) when later events reach back.
async fn purged_texts_leave_the_figures_as_they_were(kind: DatabaseKind) {
    let (app, demo) = with_demo(kind).await;
    {
        let txn = crate::common::tenant(&app.state, demo)
            .begin()
            .await
            .expect("begin");
        let shorter = ringback_api::service::clinic::SettingsChange {
            conversation_retention_days: Some(30),
            ..Default::default()
        };
        ringback_api::service::clinic::update(&txn, Uuid::nil(), shorter)
            .await
            .expect("30 days of conversations");
        txn.commit().await.expect("commit");
    }
    let before = demo_figures(&app, demo, 89, 1).await;
    let purged = purge_of(&app, demo).await;
    let texts = rows(&purged, "messages");
    assert!(texts > 100, "two months of texts go: {texts}");
    assert_eq!(rows(&purged, "calls"), 0, "the calls stay");
    reach_back(&app, demo).await;
    let after = demo_figures(&app, demo, 89, 1).await;
    assert_eq!(after, before);
    app.db.finish().await;
}

/// A clinic that keeps numbers for conversations 30 days and calls 90: a call older than 30 days
/// stays for the figures but loses its sealed number; a newer call keeps its own.
async fn a_calls_number_goes_with_the_conversation_retention(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    app.keep_numbers().await;
    let shorter = app
        .owner
        .run(
            SETTINGS,
            json!({ "input": { "conversationRetentionDays": 30, "callRetentionDays": 90 } }),
        )
        .await;
    assert!(shorter["errors"].is_null(), "{shorter}");
    let record = async |app: &mut TestApp, id: &str, number: &str| {
        let now = app.db.clock.now();
        let recorded = app
            .owner
            .run(
                "mutation($e: [CallEventInput!]!) { recordCallEvents(events: $e) { results { call { id } } } }",
                json!({ "e": [{ "externalId": id, "direction": "INBOUND", "status": "NO_ANSWER",
                                 "startedAt": (now - Duration::minutes(3)).to_rfc3339(),
                                 "callerNumber": number }] }),
            )
            .await;
        assert!(recorded["errors"].is_null(), "{recorded}");
    };
    record(&mut app, "old-call", "07700 900161").await;
    app.db.clock.advance(Duration::days(40));
    app.sign_in_again().await;
    record(&mut app, "new-call", "07700 900162").await;
    let purged = purge_of(&app, app.clinic_id).await;
    assert_eq!(rows(&purged, "call_numbers"), 1, "{purged:?}");
    assert_eq!(rows(&purged, "calls"), 0, "{purged:?}");
    let numbers = app
        .db
        .query_strings(
            "SELECT external_id AS id, CASE WHEN number_sealed IS NULL THEN 'gone' ELSE 'kept' END \
             AS number FROM calls ORDER BY external_id",
            &["id", "number"],
        )
        .await;
    assert_eq!(numbers, [["new-call", "kept"], ["old-call", "gone"]]);
    app.db.finish().await;
}

const SETTINGS: &str = "mutation($input: ClinicSettingsInput!) { updateClinicSettings(input: $input) \
    { callRetentionDays conversationRetentionDays retentionInWords } }";

/// Calls are kept at least a week longer than the attribution window: a shorter call retention,
/// or a longer window over it, is refused; one stored before that rule is read, and purged, as the
/// least allowed; and a clinic keeping calls that long still counts today's calls and takes
/// today's bookings after a purge.
async fn calls_outlast_the_attribution_window(kind: DatabaseKind) {
    let mut app = TestApp::builder(kind).at_midday().build().await;
    let kept = app
        .owner
        .run(SETTINGS, json!({ "input": { "callRetentionDays": 20 } }))
        .await;
    assert_eq!(
        kept["data"]["updateClinicSettings"]["callRetentionDays"], 20,
        "{kept}"
    );
    for (input, least) in [
        (json!({ "callRetentionDays": 14 }), "at least 15 days"),
        (json!({ "attributionWindowDays": 30 }), "at least 38 days"),
        (
            json!({ "attributionWindowDays": 30, "callRetentionDays": 37 }),
            "at least 38 days",
        ),
        (
            json!({ "attributionWindowDays": 30, "callRetentionDays": 90,
                "conversationRetentionDays": 30 }),
            "conversation retention must be at least 38 days",
        ),
    ] {
        let refused = app.owner.run(SETTINGS, json!({ "input": input })).await;
        assert_eq!(
            crate::common::graphql::error_code(&refused),
            Some("BAD_USER_INPUT"),
            "{refused}"
        );
        assert!(refused.to_string().contains(least), "{refused}");
    }
    app.db
        .execute_as_owner("UPDATE clinics SET call_retention_days = 3")
        .await;
    let read = app
        .owner
        .run("{ clinic { callRetentionDays } }", json!({}))
        .await;
    assert_eq!(read["data"]["clinic"]["callRetentionDays"], 15, "{read}");
    let now = app.db.clock.now();
    let txn = app.tenant().begin().await.expect("begin");
    for days in [10, 16] {
        call_at(app.clinic_id, "v1:kept", now - Duration::days(days))
            .insert(txn.conn())
            .await
            .expect("call");
    }
    txn.commit().await.expect("commit");
    retention::purge_all(&app.state.db, &app.state.clock, false)
        .await
        .expect("purged");
    let calls = app
        .db
        .query_strings("SELECT count(*) || '' AS n FROM calls", &["n"])
        .await;
    assert_eq!(calls, vec![vec!["1".to_owned()]], "kept 15 days, not 3");
    let recorded = app
        .owner
        .run(
            "mutation($at: DateTime!) { recordCallEvents(events: [{ externalId: \"today-1\", \
             direction: INBOUND, status: NO_ANSWER, startedAt: $at, callerNumber: \"07700 900358\" }]) \
             { recorded } }",
            json!({ "at": (now - Duration::minutes(5)).to_rfc3339() }),
        )
        .await;
    assert_eq!(
        recorded["data"]["recordCallEvents"]["recorded"], 1,
        "{recorded}"
    );
    let today = now.date_naive().to_string();
    let figures = app
        .owner
        .run(
            "query($d: NaiveDate!) { metrics(from: $d, to: $d) { totals { missedCalls } } }",
            json!({ "d": today }),
        )
        .await;
    assert_eq!(
        figures["data"]["metrics"]["totals"]["missedCalls"], 1,
        "{figures}"
    );
    let booked = app
        .owner
        .run(
            "mutation { createAppointment(input: { callerNumber: \"07700 900358\", valueMinor: 5000 }) \
             { id } }",
            json!({}),
        )
        .await;
    assert!(booked["errors"].is_null(), "{booked}");
}

/// A call from `key` that started at `at`.
fn call_at(clinic_id: Uuid, key: &str, at: DateTime<Utc>) -> call::ActiveModel {
    let id = Uuid::now_v7();
    call::ActiveModel {
        clinic_id: Set(clinic_id),
        id: Set(id),
        provider: Set("api".to_owned()),
        external_id: Set(format!("boundary-{id}")),
        direction: Set("inbound".to_owned()),
        status: Set("no-answer".to_owned()),
        missed: Set(true),
        caller_key: Set(key.to_owned()),
        caller_tail: Set("•••• 156".to_owned()),
        line_type: Set(Some("mobile".to_owned())),
        started_at: Set(at),
        answered_at: Set(None),
        ended_at: Set(Some(at + Duration::seconds(20))),
        text_back_status: Set(None),
        text_back_error: Set(None),
        provider_number_id: Set(None),
        number_sealed: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
        callback_placed_at: Set(None),
        callback_placed_by: Set(None),
        callback_unconfirmed: Set(false),
        callback_placement: Set(None),
        callback_dialled_at: Set(None),
    }
}

/// A conversation with `key` whose messages were written `at`.
async fn conversation_with(
    txn: &ringback_api::tenant::TenantTxn,
    key: &str,
    at: &[DateTime<Utc>],
) -> Uuid {
    let clinic_id = txn.clinic_id();
    let id = Uuid::now_v7();
    let last = *at.iter().max().expect("a message");
    conversation::ActiveModel {
        clinic_id: Set(clinic_id),
        id: Set(id),
        caller_key: Set(key.to_owned()),
        caller_tail: Set("•••• 156".to_owned()),
        status: Set("open".to_owned()),
        assigned_to: Set(None),
        last_message_at: Set(last),
        created_at: Set(at[0]),
        updated_at: Set(last),
        number_sealed: Set(Some(vec![7, 8, 9])),
        ..Default::default()
    }
    .insert(txn.conn())
    .await
    .expect("conversation");
    for when in at {
        message::ActiveModel {
            clinic_id: Set(clinic_id),
            id: Set(Uuid::now_v7()),
            conversation_id: Set(id),
            caller_key: Set(key.to_owned()),
            direction: Set("inbound".to_owned()),
            kind: Set("reply".to_owned()),
            body_sealed: Set(vec![1]),
            provider_message_id: Set(None),
            status: Set("received".to_owned()),
            created_at: Set(*when),
            updated_at: Set(*when),
            call_id: Set(None),
            delivery_error: Set(None),
            provider_number_id: Set(None),
            answer_provider_id: Set(None),
        }
        .insert(txn.conn())
        .await
        .expect("message");
    }
    id
}

/// Sydney changes from daylight time (UTC+11) to standard time (UTC+10) between the call
/// horizon and the purge: the horizon is the start of the clinic-local day, at that day's offset.
/// Conversations follow their own retention, and strict mode keeps them no longer than calls.
async fn the_boundary_is_the_clinic_local_day(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let changed = app
        .owner
        .run(
            SETTINGS,
            json!({ "input": { "timeZone": "Australia/Sydney", "defaultRegion": "AU",
                "privacyMode": "text_back", "callRetentionDays": 90,
                "conversationRetentionDays": 30 } }),
        )
        .await;
    assert_eq!(
        changed["data"]["updateClinicSettings"]["conversationRetentionDays"], 30,
        "{changed}"
    );
    for (input, field) in [
        (json!({ "callRetentionDays": 91 }), "call retention"),
        (
            json!({ "conversationRetentionDays": 29 }),
            "conversation retention",
        ),
    ] {
        let refused = app.owner.run(SETTINGS, json!({ "input": input })).await;
        assert_eq!(
            crate::common::graphql::error_code(&refused),
            Some("BAD_USER_INPUT")
        );
        assert!(refused.to_string().contains(field), "{refused}");
    }

    // 13:00 in Sydney (AEST) on 15 June of the clock's next year; 90 days back is 17 March, still
    // daylight time (it ends on April's first Sunday), whose day began at 13:00 UTC on the 16th.
    let year = app.db.clock.now().year() + 1;
    let at = |month, day, hour| {
        Utc.with_ymd_and_hms(year, month, day, hour, 0, 0)
            .single()
            .expect("instant")
    };
    let now = at(6, 15, 3);
    app.db.clock.set(now);
    let horizon = at(3, 16, 13);
    let key = "v1:0000000000000000000000000000000000000000000000000000000000000abc";
    let txn = app.tenant().begin().await.expect("begin");
    for at in [
        horizon - Duration::seconds(1),
        horizon,
        horizon + Duration::minutes(30),
    ] {
        call_at(app.clinic_id, key, at)
            .insert(txn.conn())
            .await
            .expect("call");
    }
    let gone = conversation_with(
        &txn,
        key,
        &[now - Duration::days(40), now - Duration::days(31)],
    )
    .await;
    let kept = conversation_with(
        &txn,
        key,
        &[
            now - Duration::days(45),
            now - Duration::days(25),
            now - Duration::days(1),
        ],
    )
    .await;
    txn.commit().await.expect("commit");

    let report = retention::purge_all(&app.state.db, &app.state.clock, false)
        .await
        .expect("purge");
    let purged = &report.clinics[0].purged;
    assert_eq!(
        rows(purged, "calls"),
        1,
        "only the call before local midnight"
    );
    assert_eq!(rows(purged, "conversations"), 1);
    assert_eq!(
        rows(purged, "messages"),
        3,
        "two with their conversation, one older"
    );
    let calls = app
        .db
        .query_strings("SELECT count(*) || '' AS n FROM calls", &["n"])
        .await;
    assert_eq!(calls, [["2"]], "the horizon itself and after stay");
    let txn = app.tenant().begin().await.expect("begin");
    let left: Vec<Uuid> = txn
        .find::<conversation::Entity>()
        .all(txn.conn())
        .await
        .expect("read")
        .into_iter()
        .map(|conversation| conversation.id)
        .collect();
    assert_eq!(left, [kept], "{gone} went");
    let messages = txn
        .find::<message::Entity>()
        .all(txn.conn())
        .await
        .expect("read");
    assert_eq!(
        messages.len(),
        2,
        "the kept conversation's two recent messages"
    );
    txn.commit().await.expect("commit");

    // Strict mode keeps conversations no longer than calls (here 20 days).
    let txn = app.tenant().begin().await.expect("begin");
    let settings = ringback_api::service::clinic::get(&txn)
        .await
        .expect("clinic");
    let mut strict: clinic::ActiveModel = settings.into();
    strict.privacy_mode = Set("strict".to_owned());
    strict.call_retention_days = Set(20);
    strict.update(txn.conn()).await.expect("strict");
    txn.commit().await.expect("commit");
    let report = retention::purge_all(&app.state.db, &app.state.clock, false)
        .await
        .expect("purge");
    assert_eq!(
        rows(&report.clinics[0].purged, "messages"),
        1,
        "25 days is beyond 20"
    );
    assert_eq!(rows(&report.clinics[0].purged, "conversations"), 0);
    app.db.finish().await;
}

/// Twilio's own records of calls and texts go when the rows that name them are purged: a call's
/// (and its forwarded leg's) after the call retention, a text's after the conversation retention;
/// what is younger stays there.
async fn a_purge_deletes_twilios_records_of_what_it_purged(kind: DatabaseKind) {
    const EARLY: &str = "+447700900123";
    const LATER: &str = "+447700900456";
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    // Texts kept for the conversation retention (365 days), longer than the calls' 90.
    app.keep_numbers().await;
    app.forward_to_a_line().await;
    let worker = app.worker("purge");
    app.ring_unanswered("CAearly01", EARLY).await;
    app.drain(&worker).await;
    app.state.clock.advance(Duration::days(100));
    app.ring_unanswered("CAlater01", LATER).await;
    app.drain(&worker).await;
    let fake = app.twilio.as_ref().expect("built with the fake Twilio");
    let early = fake.held_records_of(EARLY);
    assert_eq!(early.len(), 3, "call, forwarded leg, text-back: {early:?}");
    let later = fake.held_records_of(LATER);

    let purged = purge_of(&app, app.clinic_id).await;
    assert_eq!(rows(&purged, "calls"), 1, "{purged:?}");
    assert_eq!(rows(&purged, "provider_records"), 1, "{purged:?}");
    app.drain(&worker).await;
    let text_back = early.iter().find(|sid| sid.starts_with("SM")).cloned();
    assert_eq!(
        fake.held_records_of(EARLY),
        Vec::from_iter(text_back),
        "the call and its leg are gone, the text stays with its conversation"
    );
    assert_eq!(fake.held_records_of(LATER), later, "younger records stay");

    app.state.clock.advance(Duration::days(300));
    let purged = purge_of(&app, app.clinic_id).await;
    assert_eq!(rows(&purged, "messages"), 1, "{purged:?}");
    assert_eq!(rows(&purged, "provider_records"), 2, "{purged:?}");
    app.drain(&worker).await;
    assert_eq!(fake.held_records_of(EARLY), Vec::<String>::new());
    let later_text: Vec<String> = later
        .into_iter()
        .filter(|sid| sid.starts_with("SM"))
        .collect();
    assert_eq!(fake.held_records_of(LATER), later_text);
    app.db.finish().await;
}

/// A clinic in `strict` mode (the default) has Twilio's records deleted a day after, not with the
/// calls: each purge queues those more than a day old that no purge queued before, the automated
/// answer to a HELP (sent from TwiML, its id reported after) with its text.
async fn a_strict_clinics_records_leave_twilio_after_a_day(kind: DatabaseKind) {
    const FIRST: &str = "+447700900123";
    const SECOND: &str = "+447700900456";
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    app.forward_to_a_line().await;
    let worker = app.worker("strict");
    app.ring_unanswered("CAstrict01", FIRST).await;
    app.drain(&worker).await;
    let fake = app.twilio.as_ref().expect("built with the fake Twilio");
    let sms_webhook = format!("{}/webhooks/twilio/sms", crate::common::PUBLIC_URL);
    fake.text_in(&sms_webhook, ("SMhelp01", FIRST, CLINIC_NUMBER), "HELP")
        .await
        .expect("the webhook answers");
    let held = |number| fake.held_records_of(number).len();
    assert_eq!(
        held(FIRST),
        5,
        "call, forwarded leg, text-back, HELP, its answer"
    );
    let purged = purge_of(&app, app.clinic_id).await;
    assert_eq!(rows(&purged, "provider_records"), 0, "not a day old yet");

    app.state.clock.advance(Duration::hours(25));
    app.ring_unanswered("CAstrict02", SECOND).await;
    app.drain(&worker).await;
    let purged = purge_of(&app, app.clinic_id).await;
    assert_eq!(
        rows(&purged, "provider_records"),
        4,
        "the call, its text-back, the HELP and its answer"
    );
    assert_eq!(rows(&purged, "calls"), 0, "the calls themselves stay");
    app.drain(&worker).await;
    assert_eq!((held(FIRST), held(SECOND)), (0, 3));
    let purged = purge_of(&app, app.clinic_id).await;
    assert_eq!(
        rows(&purged, "provider_records"),
        0,
        "nothing is queued twice"
    );

    app.state.clock.advance(Duration::hours(25));
    let purged = purge_of(&app, app.clinic_id).await;
    assert_eq!(rows(&purged, "provider_records"), 2);
    app.drain(&worker).await;
    assert_eq!((held(FIRST), held(SECOND)), (0, 0));
    app.db.finish().await;
}

/// One clinic whose purge fails (its stored time zone cannot be read) is counted and logged; the
/// clinics after it are still purged, and so are the deployment's expired links.
async fn one_clinics_failing_purge_holds_back_no_other(kind: DatabaseKind) {
    let app = TestApp::builder(kind).at_midday().build().await;
    let mut other = app.browser();
    let later = crate::common::graphql::sign_up_clinic(&mut other, "later@clinic.test").await;
    app.db
        .execute_as_owner(
            "UPDATE clinics SET time_zone = 'Mars/Olympus' \
             WHERE created_at = (SELECT MIN(created_at) FROM clinics)",
        )
        .await;
    let report = retention::purge_all(&app.state.db, &app.state.clock, false)
        .await
        .expect("the run goes on");
    assert_eq!(report.failed, vec![app.clinic_id]);
    assert!(
        report
            .clinics
            .iter()
            .any(|visited| visited.clinic_id == later),
        "the clinic after the failing one was purged"
    );
}

/// A purge cut short (here the last kind's table cannot be read) still leaves its audit entry:
/// what it removed before it stopped, marked interrupted; the clinic's last purge time stays as it
/// was, and the next run, with the table back, purges and records as usual.
async fn a_purge_cut_short_is_still_on_record(kind: DatabaseKind) {
    let app = TestApp::new(kind).await;
    seed(&app).await;
    app.db
        .execute_as_owner("ALTER TABLE invites RENAME TO invites_away")
        .await;
    let report = retention::purge_all(&app.state.db, &app.state.clock, false)
        .await
        .expect("the run goes on");
    assert_eq!(report.failed, vec![app.clinic_id]);
    let entries = "SELECT CAST(detail AS TEXT) AS detail FROM audit_log \
                   WHERE action = 'retention.purged' ORDER BY seq";
    let audit = app.db.query_strings(entries, &["detail"]).await;
    assert_eq!(audit.len(), 1, "{audit:?}");
    let entry: serde_json::Value = serde_json::from_str(&audit[0][0]).expect("json");
    assert_eq!(entry["interrupted"], true, "{entry}");
    let removed = |kind: &str| {
        entry["removed"]
            .as_array()
            .and_then(|kinds| kinds.iter().find(|k| k["kind"] == kind))
            .map(|k| k["rows"].clone())
    };
    assert_eq!(removed("dead_letters"), Some(json!(1)), "{entry}");
    assert_eq!(removed("used_or_expired_invitations"), None, "{entry}");
    let purged_at =
        "SELECT CASE WHEN last_purge_at IS NULL THEN 'never' ELSE 'set' END AS at FROM clinics";
    assert_eq!(app.db.query_strings(purged_at, &["at"]).await, [["never"]]);

    app.db
        .execute_as_owner("ALTER TABLE invites_away RENAME TO invites")
        .await;
    let again = retention::purge_all(&app.state.db, &app.state.clock, false)
        .await
        .expect("purge");
    assert!(again.failed.is_empty());
    let audit = app.db.query_strings(entries, &["detail"]).await;
    assert_eq!(audit.len(), 2);
    assert!(!audit[1][0].contains("interrupted"), "{audit:?}");
    assert_eq!(app.db.query_strings(purged_at, &["at"]).await, [["set"]]);
    app.db.finish().await;
}

on_both_databases!(calls_outlast_the_attribution_window);
on_both_databases!(
    a_purge_cut_short_is_still_on_record,
    one_clinics_failing_purge_holds_back_no_other,
    a_strict_clinics_records_leave_twilio_after_a_day,
    a_purge_deletes_twilios_records_of_what_it_purged,
    the_boundary_is_the_clinic_local_day,
    purged_calls_leave_the_figures_as_they_were,
    purged_calls_leave_the_figures_with_a_long_window,
    purged_texts_leave_the_figures_as_they_were,
    a_calls_number_goes_with_the_conversation_retention,
    a_purge_removes_what_outlived_its_retention,
    of_two_servers_one_runs_a_due_task
);
