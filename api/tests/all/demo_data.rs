//! `ringback demo`'s data: 90 days with a weekly rhythm and miss peaks, callbacks and bookings,
//! some recovered and some not; created once; no raw number stored. On SQLite and PostgreSQL.
//! The command creates it on PostgreSQL only when told that its published password may be.

use crate::common::TestDb;
use ringback_api::config::DatabaseKind;
use ringback_api::demo::{self, DemoOutcome};
use serde_json::json;

/// The demo's appointments of the business of `kind`: start, value and source, as stored.
async fn visits_of(
    test_db: &TestDb,
    kind: &str,
) -> Vec<(chrono::DateTime<chrono_tz::Tz>, i64, String)> {
    use ringback_entity::{appointment, clinic};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    // As the tables' owner: the app's role sees no clinic's rows without one.
    let txn = ringback_api::tenant::begin_maintenance(&test_db.db)
        .await
        .expect("begin");
    let business = clinic::Entity::find()
        .filter(clinic::Column::Kind.eq(kind))
        .one(&txn)
        .await
        .expect("clinics")
        .expect("the demo business");
    let visits = appointment::Entity::find()
        .filter(appointment::Column::ClinicId.eq(business.id))
        .all(&txn)
        .await
        .expect("appointments");
    txn.commit().await.expect("commit");
    visits
        .into_iter()
        .map(|visit| {
            let starts = visit.starts_at.expect("a start");
            (
                starts.with_timezone(&chrono_tz::Europe::London),
                visit.value_minor,
                visit.source,
            )
        })
        .collect()
}

/// Every demo visit starts as a clinic books one: on a quarter hour, in London, from 09:00 in
/// time to end by closing (a weekday to 17:15, a Saturday to 12:45), never on a Sunday.
async fn visits_start_in_opening_hours(test_db: &TestDb) {
    use chrono::{Datelike, Timelike, Weekday};
    let visits = visits_of(test_db, "dental").await;
    assert!(visits.len() > 100, "{}", visits.len());
    for (local, _, _) in visits {
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
    // A demo made before the trades business came (here: its owner no longer in it) gets one on
    // the next run, once.
    test_db
        .execute_as_owner(
            "DELETE FROM memberships WHERE clinic_id IN (SELECT id FROM clinics WHERE kind = 'trade')",
        )
        .await;
    let completed = demo::seed(&state.db, &state.clock, &state.secrets)
        .await
        .expect("third run");
    assert!(
        matches!(&completed, DemoOutcome::TradesAdded(trades) if trades.ai_conversations > 50),
        "{completed:?}"
    );
    let last = demo::seed(&state.db, &state.clock, &state.secrets)
        .await
        .expect("fourth run");
    assert_eq!(last, DemoOutcome::AlreadyPresent);
    let stored = test_db
        .stored_text(&[
            "calls",
            "appointments",
            "audit_log",
            "messages",
            "conversations",
            "ai_steps",
        ])
        .await;
    assert!(
        !crate::common::logs::holds_uk_fiction_number(&stored),
        "no demo number is stored"
    );
    for said in ["toothache", "whenever you're free", "near the park"] {
        assert!(
            !stored.contains(said),
            "texts and intake details are sealed"
        );
    }
    test_db.finish().await;
}

on_both_databases!(demo_clinic_is_realistic_and_created_once);

/// A demo whose filling was cut short (its owner and clinic stored, its 90 days not: Ctrl-C, a
/// failure) is filled on the next run, not left empty for good as "already there".
async fn a_demo_cut_short_is_filled_on_the_next_run(kind: DatabaseKind) {
    use crate::common::graphql::{Browser, SIGN_UP, sign_up_input};
    use poem::EndpointExt;
    let test_db = TestDb::at_midday(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let state = test_db.state(web.path());
    let mut owner = Browser::new(
        ringback_api::build_app(state.clone())
            .map_to_response()
            .boxed(),
    );
    let signed_up = owner.run(SIGN_UP, sign_up_input(demo::DEMO_EMAIL)).await;
    assert!(signed_up["errors"].is_null(), "{signed_up}");
    let outcome = demo::seed(&state.db, &state.clock, &state.secrets)
        .await
        .expect("seed");
    let DemoOutcome::Created(summary) = outcome else {
        panic!("the cut-short clinic is filled: {outcome:?}");
    };
    assert!(summary.calls > 1_000, "{summary:?}");
    assert!(
        summary.trades.calls > 0,
        "and the trades business added: {summary:?}"
    );
    let again = demo::seed(&state.db, &state.clock, &state.secrets)
        .await
        .expect("second run");
    assert_eq!(again, DemoOutcome::AlreadyPresent);
    test_db.finish().await;
}

on_both_databases!(a_demo_cut_short_is_filled_on_the_next_run);

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

/// The demo owner also owns a plumbing and heating firm whose callers the AI receptionist
/// answers: switched to, it shows the AI on with a price list, its figures (conversations,
/// bookings credited as recovered, hand-offs, follow-ups), conversations with the AI's steps and
/// the intake details it saved, callers handed to the owner with the reason, and visits that
/// never overlap, in working hours.
async fn the_demo_trades_business_shows_the_ai_receptionist_at_work(kind: DatabaseKind) {
    let (test_db, _web, state, mut owner) = crate::metrics::signed_in_to_the_demo(kind, true).await;
    let clinics = owner
        .run("{ myClinics { current clinic { id name } } }", json!({}))
        .await;
    let listed = clinics["data"]["myClinics"].as_array().expect("clinics");
    let names: Vec<&str> = listed
        .iter()
        .filter_map(|member| member["clinic"]["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["Riverside Dental (demo)", demo::trades::NAME],
        "the demo owner signs in to the dental clinic and may switch: {clinics}"
    );
    let firm = listed[1]["clinic"]["id"].clone();
    let switched = owner
        .run(
            "mutation($id: ID!) { switchClinic(clinicId: $id) { role } }",
            json!({ "id": firm }),
        )
        .await;
    assert!(switched["errors"].is_null(), "{switched}");

    let (from, to) = crate::metrics::demo_days(&state);
    let answer = owner
        .run(
            "query($from: NaiveDate!, $to: NaiveDate!) { \
             aiReceptionist { enabled services { name } } \
             aiFigures(from: $from, to: $to) { conversations bookings recoveredBookings \
               recoveredRevenueMinor handOffs followUps tokens } \
             metrics(from: $from, to: $to) { totals { missedCalls textBacksSent } } }",
            json!({ "from": from, "to": to }),
        )
        .await;
    assert!(answer["errors"].is_null(), "{answer}");
    let data = &answer["data"];
    assert_eq!(data["aiReceptionist"]["enabled"], json!(true), "{answer}");
    assert_eq!(
        data["aiReceptionist"]["services"].as_array().map(Vec::len),
        Some(5),
        "{answer}"
    );
    let figures = &data["aiFigures"];
    let at_least = |name: &str, least: i64| {
        assert!(
            figures[name].as_i64().is_some_and(|n| n >= least),
            "{name}: {figures}"
        );
    };
    at_least("conversations", 80);
    at_least("bookings", 30);
    at_least("recoveredBookings", 20);
    at_least("recoveredRevenueMinor", 20 * 7_000);
    at_least("handOffs", 20);
    at_least("followUps", 3);
    at_least("tokens", 100_000);
    let recent = owner
        .run(
            "query($from: NaiveDate!, $to: NaiveDate!) { aiFigures(from: $from, to: $to) { conversations } }",
            json!({ "from": to - chrono::Duration::days(29), "to": to }),
        )
        .await;
    let lately = recent["data"]["aiFigures"]["conversations"].as_i64();
    assert!(
        lately > Some(0) && lately < figures["conversations"].as_i64().map(|all| all / 2),
        "the AI's steps are stamped over the 90 days, not today: {recent}"
    );
    let totals = &data["metrics"]["totals"];
    assert!(
        totals["missedCalls"].as_i64() > Some(150) && totals["textBacksSent"].as_i64() > Some(120),
        "{answer}"
    );

    let inbox = owner
        .run(
            "{ inbox(view: OPEN, first: 50) { conversation { aiState aiStoppedReason assignedTo \
               aiSteps { action outcome } intakeDetails { answers { question answer } } \
               messages { kind } } } }",
            json!({}),
        )
        .await;
    let entries = inbox["data"]["inbox"].as_array().expect("the inbox");
    let threads: Vec<&serde_json::Value> =
        entries.iter().map(|entry| &entry["conversation"]).collect();
    let handed: Vec<_> = threads
        .iter()
        .filter(|thread| thread["aiState"] == "HANDED_OFF")
        .collect();
    assert!(!handed.is_empty(), "{inbox}");
    for thread in &handed {
        assert!(
            thread["aiStoppedReason"]
                .as_str()
                .is_some_and(|r| !r.is_empty())
                && thread["assignedTo"].is_string(),
            "a hand-off says why and is the owner's: {thread}"
        );
    }
    let actions: std::collections::HashSet<&str> = threads
        .iter()
        .flat_map(|thread| thread["aiSteps"].as_array().into_iter().flatten())
        .filter_map(|step| step["action"].as_str())
        .collect();
    for action in ["save_details", "reply", "hand_off"] {
        assert!(actions.contains(action), "{action} in {actions:?}");
    }
    let asked: Vec<&str> = threads
        .iter()
        .flat_map(|thread| {
            thread["intakeDetails"]["answers"]
                .as_array()
                .into_iter()
                .flatten()
        })
        .filter_map(|answer| answer["question"].as_str())
        .collect();
    assert!(asked.contains(&"What is the job?"), "{asked:?}");
    let kinds: std::collections::HashSet<&str> = threads
        .iter()
        .flat_map(|thread| thread["messages"].as_array().into_iter().flatten())
        .filter_map(|message| message["kind"].as_str())
        .collect();
    for kind in ["TEXT_BACK", "REPLY", "AI"] {
        assert!(kinds.contains(kind), "{kind} in {kinds:?}");
    }
    // The demo's server has no model: a conversation the AI answers says what its next text gets,
    // and says the AI is off once the owner turns it off.
    the_ai_says_why_it_will_not_answer(&mut owner, "no AI model").await;
    let off = owner
        .run(
            "mutation { updateAiReceptionist(input: { enabled: false }) { enabled } }",
            json!({}),
        )
        .await;
    assert_eq!(
        off["data"]["updateAiReceptionist"]["enabled"], false,
        "{off}"
    );
    the_ai_says_why_it_will_not_answer(&mut owner, "turned off for the clinic").await;
    visits_never_overlap(&test_db).await;
    the_firms_history_reads_in_order(&test_db, state.clock.now()).await;
    test_db.finish().await;
}

on_both_databases!(the_demo_trades_business_shows_the_ai_receptionist_at_work);

/// Every conversation the AI is active in (open or closed) gives a reason it will not answer the
/// next text, containing `reason`; those it handed off give none.
async fn the_ai_says_why_it_will_not_answer<E: poem::Endpoint>(
    owner: &mut crate::common::graphql::Browser<E>,
    reason: &str,
) {
    let answer = owner
        .run(
            "{ open: inbox(view: OPEN, first: 100) { conversation { aiState aiPausedReason } } \
               closed: inbox(view: CLOSED, first: 100) { conversation { aiState aiPausedReason } } }",
            json!({}),
        )
        .await;
    let threads: Vec<&serde_json::Value> = ["open", "closed"]
        .iter()
        .flat_map(|view| answer["data"][view].as_array().into_iter().flatten())
        .map(|entry| &entry["conversation"])
        .collect();
    let active = threads
        .iter()
        .filter(|thread| thread["aiState"] == "ACTIVE");
    assert!(active.clone().count() > 0, "{answer}");
    for thread in active {
        assert!(
            thread["aiPausedReason"]
                .as_str()
                .is_some_and(|said| said.contains(reason)),
            "{reason}: {thread}"
        );
    }
    let handed = threads
        .iter()
        .filter(|thread| thread["aiState"] == "HANDED_OFF");
    for thread in handed {
        assert!(thread["aiPausedReason"].is_null(), "{thread}");
    }
}

/// The firm's conversations read in order: nothing written after now, nobody booked twice at once,
/// each conversation's last text is the one it says it is, and what the owner and the AI's
/// follow-ups send goes out in working hours (weekdays 08:00–18:00, Saturdays to 12:00).
async fn the_firms_history_reads_in_order(test_db: &TestDb, now: chrono::DateTime<chrono::Utc>) {
    use chrono::{Datelike, Timelike, Weekday};
    use ringback_entity::{ai_step, appointment, call, clinic, conversation, message};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let txn = ringback_api::tenant::begin_maintenance(&test_db.db)
        .await
        .expect("begin");
    let firm = clinic::Entity::find()
        .filter(clinic::Column::Kind.eq("trade"))
        .one(&txn)
        .await
        .expect("clinics")
        .expect("the firm");
    let texts = message::Entity::find()
        .filter(message::Column::ClinicId.eq(firm.id))
        .all(&txn)
        .await
        .expect("messages");
    let threads = conversation::Entity::find()
        .filter(conversation::Column::ClinicId.eq(firm.id))
        .all(&txn)
        .await
        .expect("conversations");
    let steps = ai_step::Entity::find()
        .filter(ai_step::Column::ClinicId.eq(firm.id))
        .all(&txn)
        .await
        .expect("steps");
    let calls = call::Entity::find()
        .filter(call::Column::ClinicId.eq(firm.id))
        .all(&txn)
        .await
        .expect("calls");
    let visits = appointment::Entity::find()
        .filter(appointment::Column::ClinicId.eq(firm.id))
        .all(&txn)
        .await
        .expect("appointments");
    txn.commit().await.expect("commit");
    assert!(texts.iter().all(|text| text.created_at <= now));
    assert!(steps.iter().all(|step| step.created_at <= now));
    assert!(calls.iter().all(|call| call.started_at <= now));
    assert!(visits.iter().all(|visit| visit.created_at <= now));
    // The owner books nobody on the phone while a visit of theirs stored before is still to come
    // (an emergency call-out within the hour aside; the AI, as live, may book a new job in a new
    // conversation). Ids are time-ordered: a smaller id was stored before.
    let on_the_phone = |visit: &&appointment::Model| {
        visit.source == "demo"
            && visit
                .starts_at
                .is_some_and(|starts| starts - visit.created_at > chrono::Duration::hours(1))
    };
    for visit in visits.iter().filter(on_the_phone) {
        let waiting = visits.iter().find(|earlier| {
            earlier.id < visit.id
                && earlier.caller_key == visit.caller_key
                && earlier.created_at <= visit.created_at
                && earlier.starts_at > Some(visit.created_at)
        });
        assert!(
            waiting.is_none(),
            "booked at {} ({}) with a visit still to come: {waiting:?}",
            visit.created_at,
            visit.source
        );
    }
    let follow_ups: Vec<_> = steps
        .iter()
        .filter(|step| step.action == "follow_up")
        .collect();
    // A follow-up goes only to a caller nobody reached on the phone since the text it follows.
    for step in &follow_ups {
        let sent = texts
            .iter()
            .find(|text| text.id == step.answered_message_id)
            .expect("the text followed up");
        assert!(
            !calls.iter().any(|call| call.caller_key == sent.caller_key
                && call.answered_at.is_some()
                && call.started_at > sent.created_at
                && call.started_at <= step.created_at),
            "followed up at {} a caller reached since {}",
            step.created_at,
            sent.created_at
        );
    }
    for thread in &threads {
        let last = texts
            .iter()
            .filter(|text| text.conversation_id == thread.id)
            .map(|text| text.created_at)
            .max();
        assert_eq!(last, Some(thread.last_message_at), "{thread:?}");
    }
    // A caller is texted back once a day at most, as the text-back rule does.
    let mut text_backs: Vec<_> = texts
        .iter()
        .filter(|text| text.kind == "text_back")
        .map(|text| (text.caller_key.as_str(), text.created_at))
        .collect();
    text_backs.sort();
    for pair in text_backs.windows(2) {
        let ((caller, before), (next, after)) = (pair[0], pair[1]);
        assert!(
            caller != next || after - before > chrono::Duration::days(1),
            "texted back at {before} and again at {after}"
        );
    }
    let at_work = |at: chrono::DateTime<chrono::Utc>| {
        let local = at.with_timezone(&chrono_tz::Europe::London);
        let closes = match local.weekday() {
            Weekday::Sun => 0,
            Weekday::Sat => 12,
            _ => 18,
        };
        (8..closes).contains(&local.hour())
    };
    let staff: Vec<_> = texts.iter().filter(|text| text.kind == "staff").collect();
    assert!(!staff.is_empty() && !follow_ups.is_empty());
    for text in staff {
        assert!(
            at_work(text.created_at),
            "the owner texts at {}",
            text.created_at
        );
    }
    for step in follow_ups {
        assert!(
            at_work(step.created_at),
            "a follow-up at {}",
            step.created_at
        );
    }
    // The owner rings back at work, but for an emergency the AI handed over minutes before.
    for callback in calls.iter().filter(|call| call.direction == "outbound") {
        let emergency = texts.iter().any(|text| {
            text.kind == "ai"
                && text.caller_key == callback.caller_key
                && text.created_at <= callback.started_at
                && callback.started_at - text.created_at <= chrono::Duration::minutes(15)
        });
        assert!(
            emergency || at_work(callback.started_at),
            "the owner rings back at {}",
            callback.started_at
        );
    }
}

/// No two of the firm's visits start at once, and each starts on the hour in its working hours
/// (every two hours from 08:00: weekdays to 16:00, Saturdays to 10:00), but for an emergency
/// call-out, which starts when the owner gets there.
async fn visits_never_overlap(test_db: &TestDb) {
    use chrono::{Datelike, Timelike, Weekday};
    let visits = visits_of(test_db, "trade").await;
    let booked: Vec<_> = visits
        .iter()
        .filter(|(_, value, _)| *value != 15_000)
        .collect();
    assert!(booked.len() > 60, "{}", booked.len());
    assert!(
        booked.iter().any(|(_, _, source)| source == "ai"),
        "{booked:?}"
    );
    let mut seen = std::collections::HashSet::new();
    for (local, _, _) in booked {
        assert!(seen.insert(*local), "two visits start at {local}");
        let last = match local.weekday() {
            Weekday::Sun => 0,
            Weekday::Sat => 10,
            _ => 16,
        };
        assert!(
            (8..=last).contains(&local.hour())
                && local.hour() % 2 == 0
                && local.minute() == 0
                && local.second() == 0,
            "a visit starts {local}"
        );
    }
}

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
