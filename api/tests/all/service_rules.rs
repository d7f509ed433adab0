//! Business rules checked below the API, on SQLite and PostgreSQL: the job queue's handling of jobs
//! it cannot run, the audited operator door, and the inbound-text keywords. The GraphQL tests stay
//! about the contract; these call the domain directly through the test clinic's door.

use crate::common::app::TestApp;
use ringback_api::config::DatabaseKind;
use ringback_api::error::DomainError;
use ringback_api::jobs::outbox::{self, Job, NewJob};
use ringback_api::jobs::worker::WorkerSettings;
use ringback_api::service::inbound_sms::{self, InboundSms};
use ringback_api::service::team;
use ringback_api::tenant::TenantScope;
use ringback_shared::access::Role;
use serde::{Deserialize, Serialize};

/// A job type the worker has never registered.
#[derive(Serialize, Deserialize)]
struct Unregistered {
    n: u8,
}

impl Job for Unregistered {
    const NAME: &'static str = "unregistered";

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("unregistered:{}", self.n))
    }
}

/// A job stored under the text-back's name with a payload the text-back cannot read.
#[derive(Serialize, Deserialize)]
struct MangledTextBack {
    nonsense: u8,
}

impl Job for MangledTextBack {
    const NAME: &'static str = "text_back";

    fn idempotency_key(&self) -> Option<String> {
        None
    }
}

/// Queues `job` in a transaction of its own, which says that it queued one (the webhooks wake the
/// workers only then).
async fn queue<J: Job>(app: &TestApp, job: J) {
    let txn = app.tenant().begin().await.expect("txn");
    assert!(!txn.queued_jobs(), "a new transaction has queued nothing");
    let new = NewJob {
        job,
        sealed_number: None,
        body_sealed: None,
        run_at: txn.now(),
    };
    outbox::enqueue(&txn, new, txn.now()).await.expect("queued");
    assert!(txn.queued_jobs(), "the transaction knows it queued a job");
    txn.commit().await.expect("commit");
}

/// A job whose payload cannot be read is a dead letter after one attempt, with the reason; one of
/// a kind this server does not know (a newer server's, while both run) is tried again with backoff
/// and is a dead letter only once its attempts end. Neither stays claimed; the worker carries on.
async fn jobs_that_cannot_run_are_dead_letters(kind: DatabaseKind) {
    let app = TestApp::builder(kind).with_twilio().build().await;
    queue(&app, Unregistered { n: 1 }).await;
    queue(&app, MangledTextBack { nonsense: 2 }).await;
    let settings = WorkerSettings {
        max_attempts: 2,
        backoff_base: std::time::Duration::from_secs(1),
        ..WorkerSettings::default()
    };
    let worker = ringback_api::jobs::worker::Worker::new(
        app.state.clone(),
        app.state.sms.clone(),
        settings,
        "rules".to_owned(),
    );
    assert_eq!(worker.run_once().await.expect("worker pass"), 2);
    let unknown = app
        .db
        .query_strings(
            "SELECT status, attempts || '' AS attempts FROM job_outbox WHERE kind = 'unregistered'",
            &["status", "attempts"],
        )
        .await;
    assert_eq!(unknown, [["pending", "1"]], "tried again later");
    app.db.clock.advance(chrono::Duration::seconds(2));
    assert_eq!(worker.run_once().await.expect("worker pass"), 1);
    let rows = app
        .db
        .query_strings(
            "SELECT kind, status, attempts || '' AS attempts, COALESCE(last_error, '') AS last_error FROM job_outbox ORDER BY kind DESC",
            &["kind", "status", "attempts", "last_error"],
        )
        .await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0][..3], ["unregistered", "dead", "2"], "{rows:?}");
    assert!(rows[0][3].contains("no job type is registered"), "{rows:?}");
    assert_eq!(rows[1][..3], ["text_back", "dead", "1"], "{rows:?}");
    assert!(rows[1][3].contains("could not be read"), "{rows:?}");
    assert_eq!(worker.run_once().await.expect("worker pass"), 0);
}

/// Work that may be queued twice is written once: `enqueue_once` leaves a job whose key was
/// written before (the second one is not an error and not a second row), where `enqueue` fails.
async fn work_queued_once_is_written_once(kind: DatabaseKind) {
    let app = TestApp::new(kind).await;
    let once = async |n: u8| {
        let txn = app.tenant().begin().await.expect("txn");
        let new = NewJob {
            job: Unregistered { n },
            sealed_number: None,
            body_sealed: None,
            run_at: txn.now(),
        };
        let written = outbox::enqueue_once(&txn, new, txn.now())
            .await
            .expect("queued or left");
        txn.commit().await.expect("commit");
        written.is_some()
    };
    assert!(once(7).await, "written the first time");
    assert!(!once(7).await, "left the second time");
    assert!(once(8).await, "another key is written");
    let txn = app.tenant().begin().await.expect("txn");
    let again = NewJob {
        job: Unregistered { n: 7 },
        sealed_number: None,
        body_sealed: None,
        run_at: txn.now(),
    };
    assert!(outbox::enqueue(&txn, again, txn.now()).await.is_err());
    drop(txn);
    let rows = app
        .db
        .query_strings(
            "SELECT idempotency_key FROM job_outbox",
            &["idempotency_key"],
        )
        .await;
    assert_eq!(rows.len(), 2, "{rows:?}");
}

/// A job whose attempts never settle (its preparation or settlement keeps failing, or its worker
/// keeps dying) is claimed again at each lease until its last allowed attempt, then claimed to be
/// given up, without counting an attempt; a worker that dies giving it up hands it on the same
/// way, and the one that gives it up leaves a dead letter, kept in doubt: it is never claimed for
/// ever.
async fn attempts_that_never_settle_end_in_a_dead_letter(kind: DatabaseKind) {
    let app = TestApp::builder(kind).with_twilio().build().await;
    queue(&app, Unregistered { n: 3 }).await;
    let worker = app.worker("unsettled");
    let settings = WorkerSettings::default();
    let lease =
        chrono::Duration::from_std(settings.lease).expect("lease") + chrono::Duration::seconds(1);
    let first_claimed = app.db.clock.now();
    for attempt in 1..=settings.max_attempts {
        let claimed = worker.claim().await.expect("claim");
        assert_eq!(claimed.len(), 1, "attempt {attempt} is claimed");
        assert!(!claimed[0].gives_up(), "attempt {attempt} is an attempt");
        app.db.clock.advance(lease);
    }
    // In doubt since the first attempt that never settled, not the latest: a text's search for
    // what may have gone starts there.
    let txn = app.tenant().begin().await.expect("txn");
    let row = txn
        .find::<ringback_entity::job_outbox::Entity>()
        .one(txn.conn())
        .await
        .expect("read")
        .expect("the job");
    drop(txn);
    let doubt = row.in_doubt_since.expect("in doubt");
    assert!(
        doubt >= first_claimed - chrono::Duration::seconds(1) && doubt < first_claimed + lease,
        "in doubt since {doubt}, first claimed at {first_claimed}"
    );
    for hand_on in 1..=2 {
        let claimed = worker.claim().await.expect("claim");
        assert_eq!(claimed.len(), 1, "claimed to give up ({hand_on})");
        assert!(claimed[0].gives_up(), "claimed to give up ({hand_on})");
        assert_eq!(
            job_rows(&app).await[0][1],
            settings.max_attempts.to_string()
        );
        if hand_on == 2 {
            worker.process(claimed[0]).await.expect("given up");
        } else {
            app.db.clock.advance(lease);
        }
    }
    assert!(worker.claim().await.expect("claim").is_empty(), "given up");
    let rows = job_rows(&app).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], "dead", "{rows:?}");
    assert_eq!(rows[0][1], settings.max_attempts.to_string(), "{rows:?}");
    assert!(rows[0][2].contains("never settled"), "{rows:?}");
    assert_eq!(rows[0][3], "in doubt", "{rows:?}");
}

/// A worker whose last attempt outlives its lease, and which then claims the same job to give it
/// up, tells the two claims apart (the give-up counts no attempt, its time differs): the late
/// outcome of the attempt is not stored over the give-up, which stores the dead letter.
async fn a_late_attempt_does_not_settle_over_its_give_up(kind: DatabaseKind) {
    use ringback_api::jobs::worker::{Claimed, Worker};
    use ringback_domain::jobs::{Attempt, Receipt};
    let app = TestApp::builder(kind).with_twilio().build().await;
    queue(&app, Unregistered { n: 4 }).await;
    let settings = WorkerSettings {
        max_attempts: 1,
        ..WorkerSettings::default()
    };
    let provider = app.state.sms.clone();
    assert!(provider.is_some(), "the fake Twilio");
    let worker = Worker::new(
        app.state.clone(),
        provider,
        settings.clone(),
        "same".to_owned(),
    );
    let attempt = worker.claim().await.expect("claim");
    let Claimed::Attempted { claim: first, .. } = worker.perform(attempt[0]).await.expect("ran")
    else {
        panic!("the claim is the worker's");
    };
    let lease =
        chrono::Duration::from_std(settings.lease).expect("lease") + chrono::Duration::seconds(1);
    app.db.clock.advance(lease);
    let give_up = worker.claim().await.expect("claim");
    assert!(give_up[0].gives_up(), "claimed again, to give up");
    let late = Attempt::Done(Receipt {
        provider_id: "late".to_owned(),
        provider_status: "done".to_owned(),
        done_at: None,
    });
    worker.settle(attempt[0], first, late).await.expect("left");
    assert_eq!(
        job_rows(&app).await[0][0],
        "claimed",
        "the late outcome is not stored"
    );
    // The store itself is conditional on the claim: a worker that looked before the job passed
    // on and writes after stores nothing.
    let txn = app.tenant().begin().await.expect("txn");
    let row = outbox::find(&txn, attempt[0].id())
        .await
        .expect("read")
        .expect("the job");
    let done = outbox::Settlement::Done {
        provider_message_id: "late".to_owned(),
    };
    let now = txn.now();
    let stored = outbox::settle(&txn, row, ("same", first), done, now)
        .await
        .expect("settle");
    assert!(!stored, "stored over the claim to give up");
    drop(txn);
    worker.process(give_up[0]).await.expect("given up");
    let rows = job_rows(&app).await;
    assert_eq!(
        (rows[0][0].as_str(), rows[0][1].as_str()),
        ("dead", "1"),
        "{rows:?}"
    );
}

/// Every job's status, attempts, last error and whether it is in doubt.
async fn job_rows(app: &TestApp) -> Vec<Vec<String>> {
    app.db
        .query_strings(
            "SELECT status, attempts || '' AS attempts, COALESCE(last_error, '') AS last_error, \
             CASE WHEN in_doubt_since IS NULL THEN 'sure' ELSE 'in doubt' END AS doubt \
             FROM job_outbox",
            &["status", "attempts", "last_error", "doubt"],
        )
        .await
}

/// The operator door writes `operator.access` with its task into the clinic's audit chain
/// before it hands out the scope, and the chain still verifies.
async fn the_operator_door_is_audited(kind: DatabaseKind) {
    let app = TestApp::new(kind).await;
    let state = &app.state;
    let scope = TenantScope::for_operator(
        state.db.clone(),
        state.clock.clone(),
        app.clinic_id,
        "retention purge",
    )
    .await
    .expect("operator door");
    assert_eq!(scope.clinic_id(), app.clinic_id);
    let entries = app
        .db
        .query_strings(
            "SELECT action, CAST(detail AS TEXT) AS detail FROM audit_log \
             WHERE action = 'operator.access'",
            &["action", "detail"],
        )
        .await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0][1].contains("retention purge"), "{entries:?}");
    let report = ringback_api::service::audit::verify(&app.db.db)
        .await
        .expect("verify");
    assert!(report.broken.is_empty(), "{report:?}");
}

/// STOP opts the caller out and is answered once; START opts them back in; HELP is answered and
/// changes nothing; an ordinary text is a reply with no automated answer.
async fn inbound_keywords_change_the_opt_out_list(kind: DatabaseKind) {
    let app = TestApp::new(kind).await;
    let opted_out = async || {
        app.db
            .query_strings("SELECT count(*) || '' AS n FROM opt_outs", &["n"])
            .await[0][0]
            .clone()
    };
    let receive = async |sid: &str, text: &str| {
        let txn = app.tenant().begin().await.expect("txn");
        let inbound = InboundSms {
            provider_id: sid,
            from: "+447700900555",
            text,
            at: txn.now(),
            provider_number_id: None,
            to_held_back_number: false,
        };
        let answer = inbound_sms::receive(&txn, &app.state.secrets, inbound)
            .await
            .expect("received");
        txn.commit().await.expect("commit");
        answer
    };
    assert!(receive("SM1", "STOP").await.is_some());
    assert_eq!(opted_out().await, "1");
    assert!(
        receive("SM1", "STOP").await.is_some(),
        "a redelivery is answered again (the first answer did not reach Twilio)"
    );
    assert_eq!(opted_out().await, "1", "and changes nothing else");
    assert!(receive("SM2", "HELP").await.is_some());
    assert_eq!(opted_out().await, "1");
    assert!(receive("SM3", "START").await.is_some());
    assert_eq!(opted_out().await, "0");
    assert_eq!(receive("SM4", "Can I come at 3?").await, None);
    // "Yes" from a caller who is not opted out answers the text-back: an ordinary reply, with no
    // automatic answer.
    assert_eq!(receive("SM5", "Yes").await, None);
    assert_eq!(opted_out().await, "0");
    let kinds = app
        .db
        .query_strings(
            "SELECT kind FROM messages WHERE provider_message_id IN ('SM4', 'SM5')",
            &["kind"],
        )
        .await;
    assert_eq!(
        kinds,
        vec![vec!["reply".to_owned()], vec!["reply".to_owned()]]
    );
    // After a STOP, "Yes" re-subscribes.
    assert!(receive("SM6", "STOP").await.is_some());
    assert!(receive("SM7", "YES").await.is_some());
    assert_eq!(opted_out().await, "0");
    // A plain request to stop in a few words is a STOP too.
    assert!(receive("SM8", "Please stop texting me.").await.is_some());
    assert_eq!(opted_out().await, "1");
}

/// The text-back status of a missed call of +447700900042 reported in `txn` as `external_id`.
async fn missed_call_in(
    txn: &ringback_api::tenant::TenantTxn,
    secrets: &ringback_api::secrets::Secrets,
    external_id: &str,
) -> String {
    use ringback_api::service::calls::{self, CallEvent, EventResult};
    use ringback_shared::attribution::{CallDirection, CallOutcome};
    let now = txn.now();
    let event = CallEvent {
        external_id: external_id.to_owned(),
        direction: CallDirection::Inbound,
        outcome: CallOutcome::NoAnswer,
        started_at: now - chrono::Duration::minutes(2),
        answered_at: None,
        ended_at: Some(now - chrono::Duration::minutes(1)),
        caller_number: "+447700900042".to_owned(),
        provider_number_id: None,
    };
    let mut results = calls::record_events(txn, secrets, None, "api", vec![event])
        .await
        .expect("recorded");
    match results.pop() {
        Some((_, EventResult::Recorded(call))) => call.text_back_status.unwrap_or_default(),
        other => panic!("not recorded: {:?}", other.map(|(id, _)| id)),
    }
}

/// Two missed calls of one caller reported side by side (on PostgreSQL the second is decided
/// while the first is uncommitted) queue one text-back: the second waits for the first's
/// decision and reads it as the caller's text of the last 24 hours.
async fn missed_calls_of_one_caller_side_by_side_queue_one_text_back(kind: DatabaseKind) {
    let app = TestApp::new(kind).await;
    let first = app.tenant().begin().await.expect("txn");
    assert_eq!(
        missed_call_in(&first, &app.state.secrets, "pbx-1").await,
        "queued"
    );
    let (scope, secrets) = (app.tenant(), app.state.secrets.clone());
    let second = commit_once_the_second_started(first, async move {
        let txn = scope.begin().await.expect("txn");
        let status = missed_call_in(&txn, &secrets, "pbx-2").await;
        txn.commit().await.expect("commit");
        status
    })
    .await;
    assert_eq!(second, "skipped:duplicate");
    let text_jobs = app
        .db
        .query_strings(
            "SELECT count(*) || '' AS n FROM job_outbox WHERE kind = 'text_back'",
            &["n"],
        )
        .await;
    assert_eq!(text_jobs, vec![vec!["1".to_owned()]]);
}

/// A text-back on its way (Twilio reported it `sending`) is the caller's text of the day: a
/// second missed call is not texted.
async fn a_text_back_on_its_way_counts_for_the_day(kind: DatabaseKind) {
    let app = TestApp::new(kind).await;
    let first = app.tenant().begin().await.expect("txn");
    assert_eq!(
        missed_call_in(&first, &app.state.secrets, "pbx-1").await,
        "queued"
    );
    first.commit().await.expect("commit");
    app.db
        .execute_as_owner("UPDATE calls SET text_back_status = 'sending'")
        .await;
    let second = app.tenant().begin().await.expect("txn");
    assert_eq!(
        missed_call_in(&second, &app.state.secrets, "pbx-2").await,
        "skipped:duplicate"
    );
    second.commit().await.expect("commit");
}

/// Stores a text `sid` from +447700900555 in `txn`.
async fn text_in(
    txn: &ringback_api::tenant::TenantTxn,
    secrets: &ringback_api::secrets::Secrets,
    sid: &str,
) {
    let inbound = InboundSms {
        provider_id: sid,
        from: "+447700900555",
        text: "Can I come at 3?",
        at: txn.now(),
        provider_number_id: None,
        to_held_back_number: false,
    };
    inbound_sms::receive(txn, secrets, inbound)
        .await
        .expect("received");
}

/// Stores a text `sid` from +447700900555 in a transaction of its own, committed.
async fn text_in_its_own_transaction(
    scope: TenantScope,
    secrets: std::sync::Arc<ringback_api::secrets::Secrets>,
    sid: &'static str,
) {
    let txn = scope.begin().await.expect("txn");
    text_in(&txn, &secrets, sid).await;
    txn.commit().await.expect("commit");
}

/// Starts `second` (a task of its own, in its own transaction) while `first` is uncommitted,
/// commits `first` 300 ms later and returns what `second` came to: on PostgreSQL, a `second` that
/// waits for a lock `first` holds ends after that commit; one that does not, before it.
async fn commit_once_the_second_started<T: Send + 'static>(
    first: ringback_api::tenant::TenantTxn,
    second: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    let second = tokio::spawn(second);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    first.commit().await.expect("commit");
    second.await.expect("joined")
}

/// An invitation withdrawn while it is being accepted (on PostgreSQL the withdrawal while the
/// acceptance is uncommitted) stays accepted, and the admin is told it is gone; of two
/// acceptances of one invitation side by side, the second is told it is gone too (not an
/// internal error after a half-made account).
async fn an_invitation_is_either_withdrawn_or_accepted(kind: DatabaseKind) {
    use ringback_entity::invite;
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, QueryFilter};
    let mut app = TestApp::new(kind).await;
    let invite = "mutation($e: String!) { inviteMember(email: $e, displayName: \"New\", \
                  role: RECEPTIONIST) { token invite { id } } }";
    let invited = app
        .owner
        .run(invite, serde_json::json!({ "e": "withdrawn@clinic.test" }))
        .await;
    let id: uuid::Uuid = invited["data"]["inviteMember"]["invite"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("{invited}"));
    let owner = user_id(&mut app.owner).await;
    let acceptance = app.tenant().begin().await.expect("txn");
    acceptance
        .update_many::<invite::Entity>()
        .col_expr(invite::Column::AcceptedAt, Expr::value(app.db.clock.now()))
        .filter(invite::Column::Id.eq(id))
        .exec(acceptance.conn())
        .await
        .expect("accepted");
    let scope = app.tenant();
    let withdrawal = commit_once_the_second_started(acceptance, async move {
        let txn = scope.begin().await?;
        team::revoke_invite(&txn, owner, id).await?;
        txn.commit().await?;
        Ok::<(), DomainError>(())
    })
    .await;
    assert!(
        matches!(withdrawal, Err(DomainError::NotFound)),
        "{withdrawal:?}"
    );
    let kept = app
        .db
        .query_strings("SELECT email FROM invites", &["email"])
        .await;
    assert_eq!(
        kept,
        [["withdrawn@clinic.test"]],
        "the accepted invitation stays"
    );

    let invited = app
        .owner
        .run(invite, serde_json::json!({ "e": "twice@clinic.test" }))
        .await;
    let token = invited["data"]["inviteMember"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let accept = "mutation($t: String!) { acceptInvite(token: $t, \
                  password: \"receptionist pass 1\") { role } }";
    let (mut first, mut second) = (app.browser(), app.browser());
    let variables = serde_json::json!({ "t": token });
    let (one, other) = tokio::join!(
        first.run(accept, variables.clone()),
        second.run(accept, variables.clone())
    );
    let mut codes = [one, other].map(|answer| {
        crate::common::graphql::error_code(&answer)
            .unwrap_or("joined")
            .to_owned()
    });
    codes.sort();
    assert_eq!(codes, ["NOT_FOUND", "joined"]);
}

/// Two texts of a caller with no open conversation, stored side by side (on PostgreSQL the
/// second while the first is uncommitted), land in one conversation.
async fn texts_of_one_caller_side_by_side_share_one_conversation(kind: DatabaseKind) {
    let app = TestApp::new(kind).await;
    let first = app.tenant().begin().await.expect("txn");
    text_in(&first, &app.state.secrets, "SM1").await;
    let second = text_in_its_own_transaction(app.tenant(), app.state.secrets.clone(), "SM2");
    commit_once_the_second_started(first, second).await;
    let threads = app
        .db
        .query_strings(
            "SELECT count(DISTINCT conversation_id) || '' AS threads, count(*) || '' AS texts \
             FROM messages",
            &["threads", "texts"],
        )
        .await;
    assert_eq!(threads, vec![vec!["1".to_owned(), "2".to_owned()]]);
}

/// A staff reply reopening a caller's closed conversation while a text of theirs arrives (on
/// PostgreSQL the text while the reply is uncommitted) leaves one open conversation: the text
/// lands in the reopened one.
async fn a_reply_reopening_beside_a_new_text_leaves_one_conversation_open(kind: DatabaseKind) {
    use ringback_api::service::conversations;
    let mut app = TestApp::new(kind).await;
    let kept = app
        .owner
        .run(
            "mutation { updateClinicSettings(input: { privacyMode: \"text_back\" }) { id } }",
            serde_json::json!({}),
        )
        .await;
    assert!(kept["errors"].is_null(), "{kept}");
    let secrets = app.state.secrets.clone();
    let txn = app.tenant().begin().await.expect("txn");
    text_in(&txn, &secrets, "SM1").await;
    let thread = conversations::list(&txn, Some("open"), None, 10)
        .await
        .expect("listed")[0]
        .id;
    conversations::close(&txn, (None, thread), txn.now())
        .await
        .expect("closed");
    txn.commit().await.expect("commit");

    let reply = app.tenant().begin().await.expect("txn");
    conversations::reply(
        &reply,
        &secrets,
        (None, thread),
        "See you at 3",
        reply.now(),
    )
    .await
    .expect("replied");
    let text = text_in_its_own_transaction(app.tenant(), secrets, "SM2");
    commit_once_the_second_started(reply, text).await;
    let open = app
        .db
        .query_strings(
            "SELECT count(*) || '' AS n FROM conversations WHERE status = 'open'",
            &["n"],
        )
        .await;
    assert_eq!(open, vec![vec!["1".to_owned()]]);
}

/// The user id of `browser`'s signed-in user.
async fn user_id(
    browser: &mut crate::common::graphql::Browser<crate::common::app::App>,
) -> uuid::Uuid {
    let me = browser
        .run("{ me { user { id } } }", serde_json::json!({}))
        .await;
    me["data"]["me"]["user"]["id"]
        .as_str()
        .and_then(|id| uuid::Uuid::try_parse(id).ok())
        .expect("user id")
}

/// Two owners who demote each other at the same moment leave the clinic one owner: the second
/// change waits for the first and then sees it (the clinic is locked before the owners are
/// counted; SQLite serialises the writers).
async fn two_owners_demoting_each_other_leave_an_owner(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let invited = app
        .owner
        .run(
            "mutation { inviteMember(email: \"second@clinic.test\", displayName: \"Second\", role: OWNER) { token } }",
            serde_json::json!({}),
        )
        .await;
    let token = invited["data"]["inviteMember"]["token"]
        .as_str()
        .expect("token");
    let mut second = app.browser();
    let accepted = second
        .run(
            "mutation($t: String!) { acceptInvite(token: $t, password: \"second owner pass\") { role } }",
            serde_json::json!({ "t": token }),
        )
        .await;
    assert_eq!(
        accepted["data"]["acceptInvite"]["role"], "OWNER",
        "{accepted}"
    );
    let first_id = user_id(&mut app.owner).await;
    let second_id = user_id(&mut second).await;

    let first_change = app.tenant().begin().await.expect("txn");
    team::change_role(&first_change, first_id, second_id, Role::Admin)
        .await
        .expect("the first demotion");
    let scope = app.tenant();
    let racing = tokio::spawn(async move {
        let txn = scope.begin().await?;
        team::change_role(&txn, second_id, first_id, Role::Admin).await?;
        txn.commit().await?;
        Ok::<(), ringback_api::error::DomainError>(())
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    first_change.commit().await.expect("commit");
    let second_change = racing.await.expect("joined");
    assert!(second_change.is_err(), "both demotions went through");
    let owners = app
        .db
        .query_strings(
            "SELECT count(*) || '' AS n FROM memberships WHERE role = 'owner'",
            &["n"],
        )
        .await;
    assert_eq!(owners[0][0], "1");
}

/// A member demoted or removed while their own team change waits for the clinic's lock acts with
/// what is stored once the lock is theirs: a demoted owner cannot make anyone an owner, a removed
/// admin cannot remove anyone.
async fn a_team_change_waiting_for_the_lock_acts_with_the_actors_stored_role(kind: DatabaseKind) {
    use crate::common::graphql::join;
    let mut app = TestApp::new(kind).await;
    let browser = app.browser();
    let mut second = join(&mut app.owner, browser, "second@clinic.test", "OWNER").await;
    let browser = app.browser();
    let mut third = join(&mut app.owner, browser, "third@clinic.test", "RECEPTIONIST").await;
    let first_id = user_id(&mut app.owner).await;
    let second_id = user_id(&mut second).await;
    let third_id = user_id(&mut third).await;

    // The first owner demotes the second, who meanwhile tries to make the third an owner.
    let demotion = app.tenant().begin().await.expect("txn");
    team::change_role(&demotion, first_id, second_id, Role::Admin)
        .await
        .expect("the demotion");
    let scope = app.tenant();
    let promotion = tokio::spawn(async move {
        let txn = scope.begin().await?;
        team::change_role(&txn, second_id, third_id, Role::Owner).await?;
        txn.commit().await?;
        Ok::<(), DomainError>(())
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    demotion.commit().await.expect("commit");
    let promoted = promotion.await.expect("joined");
    assert!(
        matches!(promoted, Err(DomainError::Forbidden)),
        "a demoted owner made an owner: {promoted:?}"
    );

    // The owner removes the (now) admin, who meanwhile tries to remove the receptionist.
    let removal = app.tenant().begin().await.expect("txn");
    team::remove(&removal, first_id, second_id)
        .await
        .expect("the removal");
    let scope = app.tenant();
    let counter_removal = tokio::spawn(async move {
        let txn = scope.begin().await?;
        team::remove(&txn, second_id, third_id).await?;
        txn.commit().await?;
        Ok::<(), DomainError>(())
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    removal.commit().await.expect("commit");
    let removed = counter_removal.await.expect("joined");
    assert!(
        matches!(removed, Err(DomainError::Forbidden)),
        "a removed admin removed a member: {removed:?}"
    );
    let mut left = app
        .db
        .query_strings("SELECT role FROM memberships", &["role"])
        .await;
    left.sort();
    assert_eq!(
        left,
        vec![vec!["owner".to_owned()], vec!["receptionist".to_owned()]]
    );
}

/// What an integrator's key does is audited in the key's name: the entry has no user as its actor,
/// and its detail names the key.
async fn api_key_actions_name_the_key_in_the_audit_log(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let created = app
        .owner
        .run(
            "mutation { createApiKey(name: \"Practice system\", scope: WRITE) { secret apiKey { id } } }",
            serde_json::json!({}),
        )
        .await;
    let secret = created["data"]["createApiKey"]["secret"]
        .as_str()
        .expect("secret");
    let key_id = created["data"]["createApiKey"]["apiKey"]["id"]
        .as_str()
        .expect("id");
    let integrator = poem::test::TestClient::new(app.app());
    let booking = serde_json::json!({ "query": "mutation { createAppointment(input: { callerNumber: \"07700 900456\", valueMinor: 4000 }) { id } }" });
    let response = integrator
        .post("/graphql")
        .header("Authorization", format!("Bearer {secret}"))
        .content_type("application/json")
        .body(booking.to_string())
        .send()
        .await;
    response.assert_status_is_ok();
    let body = response.0.into_body().into_string().await.expect("body");
    assert!(!body.contains("errors"), "{body}");
    let entries = app
        .db
        .query_strings(
            "SELECT action, CAST(detail AS TEXT) AS detail FROM audit_log \
             WHERE actor_user_id IS NULL",
            &["action", "detail"],
        )
        .await;
    let by_key: Vec<_> = entries
        .iter()
        .filter(|entry| entry[1].contains(key_id))
        .collect();
    assert!(!by_key.is_empty(), "{entries:?}");
    // A read whose first transaction is the one that checked the key is noted in the key's name too.
    let read = integrator
        .post("/graphql")
        .header("Authorization", format!("Bearer {secret}"))
        .content_type("application/json")
        .body(serde_json::json!({ "query": CALLS_PAGE }).to_string())
        .send()
        .await;
    read.assert_status_is_ok();
    let body = read.0.into_body().into_string().await.expect("body");
    assert!(!body.contains("errors"), "{body}");
    let notes = app
        .db
        .query_strings(
            "SELECT CAST(detail AS TEXT) AS detail FROM audit_pending \
             WHERE action = 'calls.list_read' AND actor_user_id IS NULL",
            &["detail"],
        )
        .await;
    assert!(
        notes.iter().any(|note| note[0].contains(key_id)),
        "{notes:?}"
    );
    let report = ringback_api::service::audit::verify(&app.db.db)
        .await
        .expect("verify");
    assert!(report.broken.is_empty(), "{report:?}");
}

const CALLS_PAGE: &str = "{ calls(first: 5) { edges { node { id } } } }";

/// The audit entries of the test clinic in chain order, and how many wait outside the chain.
async fn chain_and_waiting(app: &TestApp) -> (Vec<String>, usize) {
    let chain = app
        .db
        .query_strings("SELECT action FROM audit_log ORDER BY seq", &["action"])
        .await
        .into_iter()
        .map(|mut row| row.remove(0))
        .collect();
    let waiting = app
        .db
        .query_strings(
            "SELECT CAST(COUNT(*) AS TEXT) AS n FROM audit_pending",
            &["n"],
        )
        .await;
    (chain, waiting[0][0].parse().expect("count"))
}

/// Writes to the test clinic's audit chain (the owner creates an API key); returns the chain and
/// how many reads wait outside it afterwards.
async fn write_to_the_chain(app: &mut TestApp) -> (Vec<String>, usize) {
    let created = app
        .owner
        .run(
            "mutation { createApiKey(name: \"Sync\", scope: READ) { secret } }",
            serde_json::json!({}),
        )
        .await;
    assert!(created.get("errors").is_none(), "{created}");
    chain_and_waiting(app).await
}

/// Reads of personal data are noted outside the chain and sealed into it, in the order they
/// happened, by the sweep, by the next write, and by the audit-log view; the chain verifies.
async fn reads_are_sealed_into_the_audit_chain(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let clock = app.state.clock.clone();
    for _ in 0..2 {
        let page = app.owner.run(CALLS_PAGE, serde_json::json!({})).await;
        assert!(page.get("errors").is_none(), "{page}");
    }
    let (chain, waiting) = chain_and_waiting(&app).await;
    assert_eq!(waiting, 2, "two reads wait: {chain:?}");
    assert!(!chain.iter().any(|action| action == "calls.list_read"));

    let swept = ringback_api::service::audit::sweep(&app.state.db, &clock, 10)
        .await
        .expect("sweep");
    assert_eq!(swept.sealed, 2);
    assert!(!swept.more_waiting);
    let (chain, waiting) = chain_and_waiting(&app).await;
    assert_eq!(waiting, 0);
    assert_eq!(
        chain[chain.len() - 2..],
        ["calls.list_read", "calls.list_read"]
    );

    // A write seals the read before it, so the chain keeps the order of events.
    app.owner.run(CALLS_PAGE, serde_json::json!({})).await;
    let (chain, waiting) = write_to_the_chain(&mut app).await;
    assert_eq!(waiting, 0);
    assert_eq!(
        chain[chain.len() - 2..],
        ["calls.list_read", "api_key.created"]
    );

    // The audit-log view shows a read made just before it.
    app.owner.run(CALLS_PAGE, serde_json::json!({})).await;
    let view = app
        .owner
        .run(
            "{ auditLog(first: 1) { edges { node { action } } } }",
            serde_json::json!({}),
        )
        .await;
    assert_eq!(
        view["data"]["auditLog"]["edges"][0]["node"]["action"], "calls.list_read",
        "{view}"
    );
    let page_after =
        "query($after: String) { auditLog(first: 1, after: $after) { edges { node { action } } } }";
    for bad in ["nope", "", "12.5"] {
        let refused = app
            .owner
            .run(page_after, serde_json::json!({ "after": bad }))
            .await;
        assert_eq!(
            crate::common::graphql::error_code(&refused),
            Some("BAD_USER_INPUT"),
            "{refused}"
        );
    }
    let report = ringback_api::service::audit::verify(&app.db.db)
        .await
        .expect("verify");
    assert!(report.broken.is_empty(), "{report:?}");
}

/// `count` reads of the test clinic waiting outside the chain, a millisecond apart, numbered 1 to
/// `count` in their detail by when they happened; their ids run the other way, so only their
/// times order them.
async fn reads_waiting(app: &TestApp, count: usize) {
    reads_waiting_in(&app.tenant(), count, "test.read", first_read_at()).await;
}

/// When the first of a test's waiting reads happened: a fixed instant, since sealing never looks
/// at the clock.
fn first_read_at() -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .expect("a time")
}

/// [`reads_waiting`] of the clinic behind `scope`, noted as `action`, the first at `first`.
async fn reads_waiting_in(
    scope: &TenantScope,
    count: usize,
    action: &str,
    first: chrono::DateTime<chrono::Utc>,
) {
    use ringback_entity::audit_pending;
    use sea_orm::{EntityTrait, Set};
    let txn = scope.begin().await.expect("txn");
    let reads: Vec<audit_pending::ActiveModel> = (0..count)
        .map(|created| {
            let n = count - created;
            audit_pending::ActiveModel {
                clinic_id: Set(txn.clinic_id()),
                id: Set(uuid::Uuid::now_v7()),
                at: Set(first + chrono::Duration::milliseconds(n as i64)),
                actor_user_id: Set(None),
                action: Set(action.to_owned()),
                detail: Set(serde_json::json!({ "n": n })),
            }
        })
        .collect();
    for chunk in reads.chunks(1_000) {
        audit_pending::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn.conn())
            .await
            .expect("noted");
    }
    txn.commit().await.expect("commit");
}

/// The `n` of each sealed `test.read` entry, in chain order.
async fn sealed_test_reads(app: &TestApp) -> Vec<u64> {
    app.db
        .query_strings(
            "SELECT CAST(detail AS TEXT) AS d FROM audit_log WHERE action = 'test.read' \
             ORDER BY seq",
            &["d"],
        )
        .await
        .iter()
        .map(|row| {
            let detail: serde_json::Value = serde_json::from_str(&row[0]).expect("json");
            detail["n"].as_u64().expect("numbered")
        })
        .collect()
}

/// A backlog of many batches is sealed by one pass of the sweep, batch after batch in the order
/// the reads happened, up to `BATCHES_PER_CLINIC` batches of a clinic; that pass says reads were
/// left (so the server runs the next at once), the next seals them, and the chain verifies. A pass
/// that seals nothing never asks for another at once.
async fn a_backlog_is_sealed_batch_after_batch_in_the_order_read(kind: DatabaseKind) {
    use ringback_api::service::audit::{self, BATCHES_PER_CLINIC, SEAL_BATCH, Swept};
    let app = TestApp::new(kind).await;
    let clock = app.state.clock.clone();
    let per_pass = SEAL_BATCH as usize * BATCHES_PER_CLINIC;
    reads_waiting(&app, per_pass + 3).await;

    let first = audit::sweep(&app.state.db, &clock, 10)
        .await
        .expect("sweep");
    let left = Swept {
        sealed: per_pass,
        more_waiting: true,
        failed: 0,
    };
    assert_eq!(first, left);
    assert_eq!(chain_and_waiting(&app).await.1, 3);
    // A pass allowed one clinic cannot know whether others wait; one that sealed nothing can.
    let second = audit::sweep(&app.state.db, &clock, 1).await.expect("sweep");
    let maybe_more = Swept {
        sealed: 3,
        more_waiting: true,
        failed: 0,
    };
    assert_eq!(second, maybe_more);
    let third = audit::sweep(&app.state.db, &clock, 1).await.expect("sweep");
    let done = Swept {
        sealed: 0,
        more_waiting: false,
        failed: 0,
    };
    assert_eq!(third, done);

    let in_order: Vec<u64> = (1..=per_pass as u64 + 3).collect();
    assert!(
        sealed_test_reads(&app).await == in_order,
        "sealed in the order read"
    );
    let report = audit::verify(&app.db.db).await.expect("verify");
    assert!(report.broken.is_empty(), "{report:?}");
}

/// A write lands in the chain after every read made before it, however many wait (more than one
/// sealing batch here): the chain keeps the order things happened in.
async fn a_write_lands_after_every_read_waiting(kind: DatabaseKind) {
    use ringback_api::service::audit::SEAL_BATCH;
    let mut app = TestApp::new(kind).await;
    let waiting = SEAL_BATCH as usize + 5;
    reads_waiting(&app, waiting).await;

    let (chain, left) = write_to_the_chain(&mut app).await;
    assert_eq!(left, 0, "the write sealed every read before it");
    assert_eq!(chain.last().map(String::as_str), Some("api_key.created"));
    let in_order: Vec<u64> = (1..=waiting as u64).collect();
    assert!(
        sealed_test_reads(&app).await == in_order,
        "sealed in the order read"
    );
}

/// A clinic whose reads cannot be sealed (here the database refuses its entries) is logged and
/// left for the next pass; the sweep still seals every other clinic, and says one failed.
async fn a_clinic_that_cannot_be_sealed_holds_back_no_other(kind: DatabaseKind) {
    use ringback_api::service::audit::{self, Swept};
    let app = TestApp::new(kind).await;
    let clock = app.state.clock.clone();
    let other_clinic = another_clinic(&app).await;
    reads_waiting_in(&app.tenant(), 3, "test.refused", first_read_at()).await;
    reads_waiting_in(&other_clinic, 4, "test.read", first_read_at()).await;
    refuse_sealing(&app, "test.refused").await;

    let swept = audit::sweep(&app.state.db, &clock, 10)
        .await
        .expect("the pass ends");
    let one_failed = Swept {
        sealed: 4,
        more_waiting: false,
        failed: 1,
    };
    assert_eq!(swept, one_failed);
    assert_eq!(sealed_test_reads(&app).await, [1, 2, 3, 4]);
    assert_eq!(chain_and_waiting(&app).await.1, 3, "the refused reads wait");
}

/// The scope of a second clinic, signed up by its own owner.
async fn another_clinic(app: &TestApp) -> TenantScope {
    let clinic_id =
        crate::common::graphql::sign_up_clinic(&mut app.browser(), "owner@other.test").await;
    crate::common::tenant(&app.state, clinic_id)
}

/// With more clinics waiting than a pass visits, the pass takes the clinic whose oldest read has
/// waited longest, whatever the order of their ids, so no clinic is passed over for long.
async fn the_clinic_waiting_longest_is_sealed_first(kind: DatabaseKind) {
    use ringback_api::service::audit::{self, Swept};
    let app = TestApp::new(kind).await;
    let clock = app.state.clock.clone();
    let (ours, other) = (app.tenant(), another_clinic(&app).await);
    // The clinic later by id waited longer: an order by id would seal the other first.
    let (longest, later) = match other.clinic_id() > ours.clinic_id() {
        true => (other, ours),
        false => (ours, other),
    };
    let an_hour_later = first_read_at() + chrono::Duration::hours(1);
    reads_waiting_in(&later, 3, "test.later", an_hour_later).await;
    reads_waiting_in(&longest, 2, "test.read", first_read_at()).await;

    let first = audit::sweep(&app.state.db, &clock, 1).await.expect("sweep");
    let one_clinic = Swept {
        sealed: 2,
        more_waiting: true,
        failed: 0,
    };
    assert_eq!(first, one_clinic);
    assert_eq!(sealed_test_reads(&app).await, [1, 2], "the longest waiting");
    let second = audit::sweep(&app.state.db, &clock, 1).await.expect("sweep");
    assert_eq!(second.sealed, 3, "then the other");
}

/// A pass asked to stop starts no further batch: what it sealed stays sealed, the rest waits and
/// a later pass seals it in the order read.
async fn a_sweep_told_to_stop_starts_no_further_batch(kind: DatabaseKind) {
    use ringback_api::service::audit::{self, SEAL_BATCH, Swept};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let app = TestApp::new(kind).await;
    let clock = app.state.clock.clone();
    let waiting = 2 * SEAL_BATCH as usize + 1;
    reads_waiting(&app, waiting).await;

    let batches_started = AtomicUsize::new(0);
    let one_batch = || batches_started.fetch_add(1, Ordering::Relaxed) == 0;
    let cut_short = audit::sweep_while(&app.state.db, &clock, 10, one_batch)
        .await
        .expect("sweep");
    let one_batch_sealed = Swept {
        sealed: SEAL_BATCH as usize,
        more_waiting: true,
        failed: 0,
    };
    assert_eq!(cut_short, one_batch_sealed);
    let none = audit::sweep_while(&app.state.db, &clock, 10, || false)
        .await
        .expect("sweep");
    assert_eq!(none.sealed, 0);
    assert_eq!(
        chain_and_waiting(&app).await.1,
        waiting - SEAL_BATCH as usize
    );

    audit::sweep(&app.state.db, &clock, 10)
        .await
        .expect("sweep");
    let in_order: Vec<u64> = (1..=waiting as u64).collect();
    assert!(
        sealed_test_reads(&app).await == in_order,
        "sealed in the order read"
    );
}

/// Makes the database refuse any audit entry sealed as `action`.
async fn refuse_sealing(app: &TestApp, action: &str) {
    app.refuse_inserts("audit_log", action).await;
}

/// What a transaction that read and noted reads `n` (as `action`) in `scope`'s clinic leaves to
/// be written when it ends without a commit.
async fn noted_reads(
    scope: &TenantScope,
    action: &str,
    n: std::ops::Range<u64>,
) -> ringback_core::read_notes::NotedReads {
    use ringback_core::audit::{AuditEvent, note_read};
    let txn = scope.begin().await.expect("txn");
    for n in n {
        let event = AuditEvent {
            actor: None,
            action,
            detail: serde_json::json!({ "n": n }),
        };
        note_read(&txn, event).await.expect("noted");
    }
    txn.end_reading()
}

/// The sealed audit entries of every clinic noted as `action`, in chain order.
async fn sealed_entries(app: &TestApp, action: &str) -> Vec<ringback_entity::audit_log::Model> {
    use ringback_entity::audit_log;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let txn = ringback_core::tenant::begin_maintenance(&app.db.db)
        .await
        .expect("begin");
    audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq(action))
        .order_by_asc(audit_log::Column::Seq)
        .all(&txn)
        .await
        .expect("entries")
}

/// Reads that end without a commit hand their notes to the note writer, which writes the notes
/// of every request waiting at that moment in one write per clinic, each note as it was taken
/// (its instant to the microsecond, its detail), before any of them is answered.
async fn reads_waiting_together_share_one_write_per_clinic(kind: DatabaseKind) {
    use ringback_core::read_notes::NoteWriter;
    let app = TestApp::new(kind).await;
    use chrono::SubsecRound;
    let (ours, other) = (app.tenant(), another_clinic(&app).await);
    let before = app.state.clock.now().trunc_subsecs(6);
    let mut requests = Vec::new();
    for (scope, reads) in [(&ours, 0..3), (&other, 3..5), (&ours, 5..6), (&ours, 6..7)] {
        requests.push(noted_reads(scope, "test.read", reads).await);
    }
    let after = app.state.clock.now();
    let writer = NoteWriter::new(app.state.db.clone());
    // On one thread: the first request finds no write under way and writes its notes itself; the
    // other three come during that write and share the next round.
    let outcomes = futures::future::join_all(requests.into_iter().map(|r| writer.write(r))).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(
        writer.writes(),
        3,
        "the first alone, then one write for each of the two clinics"
    );
    assert_eq!(
        chain_and_waiting(&app).await.1,
        7,
        "every note is stored once answered"
    );

    let clock = app.state.clock.clone();
    ringback_api::service::audit::sweep(&app.state.db, &clock, 10)
        .await
        .expect("sweep");
    let mut sealed = sealed_test_reads(&app).await;
    sealed.sort_unstable();
    assert_eq!(sealed, [0, 1, 2, 3, 4, 5, 6]);
    let instants: Vec<_> = sealed_entries(&app, "test.read")
        .await
        .into_iter()
        .map(|entry| entry.at)
        .collect();
    assert!(
        instants.iter().all(|at| (before..=after).contains(at)),
        "every note keeps the instant it was read at: {instants:?}, read in {before}..{after}"
    );
    assert!(
        instants
            .iter()
            .any(|at| at.timestamp_subsec_micros() % 1_000 != 0),
        "to the microsecond: {instants:?}"
    );
    let report = ringback_api::service::audit::verify(&app.db.db)
        .await
        .expect("verify");
    assert!(report.broken.is_empty(), "{report:?}");
}

/// When a clinic's notes cannot be stored, its waiting requests get the error and no answer,
/// and the notes of another clinic written in the same round are stored all the same.
async fn notes_that_cannot_be_stored_fail_their_reads_only(kind: DatabaseKind) {
    use ringback_core::read_notes::NoteWriter;
    let mut app = TestApp::new(kind).await;
    app.refuse_inserts("audit_pending", "test.refused").await;
    let (ours, other) = (app.tenant(), another_clinic(&app).await);
    let refused = noted_reads(&ours, "test.refused", 0..2).await;
    let kept = noted_reads(&other, "test.read", 2..3).await;
    let writer = NoteWriter::new(app.state.db.clone());
    let (refused, kept) = tokio::join!(writer.write(refused), writer.write(kept));
    assert!(refused.is_err(), "the refused clinic's reads fail");
    assert!(kept.is_ok(), "{kept:?}");
    assert_eq!(
        chain_and_waiting(&app).await.1,
        1,
        "the other clinic's note is stored"
    );

    // Through the API: a calls page whose note cannot be stored answers an error, not the calls.
    app.refuse_inserts("audit_pending", "calls.list_read").await;
    let page = app.owner.run(CALLS_PAGE, serde_json::json!({})).await;
    assert_eq!(
        crate::common::graphql::error_code(&page),
        Some("INTERNAL"),
        "{page}"
    );
    assert!(
        page["data"].is_null() || page["data"]["calls"].is_null(),
        "{page}"
    );
}

/// A clinic's reads never wait for its audit lock: while another transaction holds it (a write
/// appending to the chain), a calls page still answers. PostgreSQL only: SQLite serialises every
/// write, whatever the lock.
#[tokio::test]
async fn reads_do_not_wait_for_the_audit_lock() {
    let mut app = TestApp::new(DatabaseKind::Postgres).await;
    let holder = app.tenant().begin().await.expect("txn");
    holder.lock_clinic().await.expect("lock");
    // A bound, not a speed limit: without the fix the read waits for the holder, which waits here.
    let page = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        app.owner.run(CALLS_PAGE, serde_json::json!({})),
    )
    .await
    .expect("the read answered while the audit lock was held");
    assert!(page.get("errors").is_none(), "{page}");
    drop(holder);
}

/// A request writing a round of notes that goes away in the middle (its client hung up) hands
/// the next round on all the same: the requests waiting behind it are still written. PostgreSQL
/// only: a lock holds the first round in the database, which SQLite cannot do.
#[tokio::test]
async fn a_request_that_goes_away_while_writing_notes_holds_back_no_other() {
    use ringback_core::read_notes::NoteWriter;
    let app = TestApp::new(DatabaseKind::Postgres).await;
    let gate = shut_gate_for_notes(&app, "test.gated").await;

    let (ours, other) = (app.tenant(), another_clinic(&app).await);
    let writer = NoteWriter::new(app.state.db.clone());
    let gated = noted_reads(&ours, "test.gated", 0..1).await;
    let first = tokio::spawn({
        let writer = writer.clone();
        async move { writer.write(gated).await }
    });
    wait_for_a_waiting_lock(&app.state.db, NOTE_GATE).await;
    let next = noted_reads(&other, "test.read", 1..2).await;
    let behind = tokio::spawn({
        let writer = writer.clone();
        async move { writer.write(next).await }
    });
    tokio::task::yield_now().await;
    first.abort();
    assert!(
        first.await.expect_err("gone").is_cancelled(),
        "the first request went away while its round waited"
    );
    // A bound, not a speed limit: without the hand-over the request behind waits for good.
    tokio::time::timeout(std::time::Duration::from_secs(30), behind)
        .await
        .expect("the request behind is written though the first went away")
        .expect("its task")
        .expect("written");
    gate.rollback().await.expect("the gate opens");
}

/// A calls page is answered only once its read's note is stored: while the note waits in the
/// database, no answer goes out; once it is stored, the page comes with its calls. PostgreSQL only
/// (a lock holds the note).
#[tokio::test]
async fn a_read_answers_only_once_its_note_is_stored() {
    let mut app = TestApp::new(DatabaseKind::Postgres).await;
    let gate = shut_gate_for_notes(&app, "calls.list_read").await;
    let db = app.state.db.clone();
    let page = {
        let page = app.owner.run(CALLS_PAGE, serde_json::json!({}));
        tokio::pin!(page);
        tokio::select! {
            biased;
            page = &mut page => panic!("answered while its note could not be stored: {page}"),
            () = wait_for_a_waiting_lock(&db, NOTE_GATE) => {}
        }
        // The pass condition is that nothing comes: a slow machine cannot make this fail.
        let early = tokio::time::timeout(std::time::Duration::from_secs(1), &mut page).await;
        assert!(
            early.is_err(),
            "answered before its note was stored: {early:?}"
        );
        gate.rollback().await.expect("the gate opens");
        page.await
    };
    assert!(page.get("errors").is_none(), "{page}");
    assert!(page["data"]["calls"]["edges"].is_array(), "{page}");
    assert_eq!(chain_and_waiting(&app).await.1, 1, "the note is stored");
}

/// The advisory lock [`shut_gate_for_notes`] holds notes at.
const NOTE_GATE: u32 = 4_242;

/// Makes every note of `action` wait in the database (at an advisory lock) until the returned
/// transaction, which holds the gate shut, ends. PostgreSQL only.
async fn shut_gate_for_notes(app: &TestApp, action: &str) -> sea_orm::DatabaseTransaction {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    app.db
        .execute_as_owner(&format!(
            "CREATE OR REPLACE FUNCTION wait_at_gate() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN PERFORM pg_advisory_xact_lock_shared({NOTE_GATE}); RETURN NEW; END $$"
        ))
        .await;
    app.db
        .execute_as_owner(&format!(
            "CREATE TRIGGER wait_at_gate BEFORE INSERT ON audit_pending FOR EACH ROW \
             WHEN (NEW.action = '{action}') EXECUTE FUNCTION wait_at_gate()"
        ))
        .await;
    let gate = app.state.db.begin().await.expect("txn");
    gate.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({NOTE_GATE})"))
        .await
        .expect("the gate is shut");
    gate
}

/// Returns once a session of `db`'s database waits for advisory lock `key` (polled; panics
/// after 30 s).
async fn wait_for_a_waiting_lock(db: &sea_orm::DatabaseConnection, key: u32) {
    use sea_orm::{ConnectionTrait, Statement};
    let query = format!(
        "SELECT count(*) AS waiting FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
         AND classid = 0 AND objid = {key} \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    );
    for _ in 0..1_500 {
        let row = db
            .query_one_raw(Statement::from_string(
                sea_orm::DbBackend::Postgres,
                query.clone(),
            ))
            .await
            .expect("pg_locks")
            .expect("a row");
        if row.try_get::<i64>("", "waiting").expect("count") > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no session came to wait for the lock");
}

/// Rotating the master key (as the tables' owner) rewraps every clinic's data key and moves the
/// key check: the clinic's key opens with the new master key only, the old key fails the check,
/// and rotating to the key in use is refused.
async fn rotating_the_master_key_rewraps_every_clinic(kind: DatabaseKind) {
    use ringback_api::secrets::Secret;
    use ringback_core::rotation::{RotationError, rotate_master_key};
    let app = TestApp::new(kind).await;
    let old = (*app.state.secrets).clone();
    old.check_against(&app.db.db).await.expect("first check");
    let new_key = Secret::random();
    let rotated = rotate_master_key(&app.db.db, &old, &new_key)
        .await
        .expect("rotated");
    assert_eq!(rotated, 1);
    let new = old.with_master_key(new_key.clone());
    let txn = app.tenant().begin().await.expect("txn");
    let clinic = ringback_api::service::clinic::get(&txn)
        .await
        .expect("clinic");
    drop(txn);
    assert!(ringback_api::service::keys::data_key(&new, &clinic).is_ok());
    assert!(ringback_api::service::keys::data_key(&old, &clinic).is_err());
    assert!(old.check_against(&app.db.db).await.is_err());
    new.check_against(&app.db.db)
        .await
        .expect("the new key passes");
    assert!(matches!(
        rotate_master_key(&app.db.db, &new, &new_key).await,
        Err(RotationError::Unchanged)
    ));
    // A server still running with the old key creates no clinic it could never open again.
    let mut visitor = app.browser();
    let refused = visitor
        .run(
            crate::common::graphql::SIGN_UP,
            crate::common::graphql::sign_up_input("after-rotation@clinic.test"),
        )
        .await;
    assert_eq!(
        crate::common::graphql::error_code(&refused),
        Some("UNAVAILABLE"),
        "{refused}"
    );
    let clinics = app
        .db
        .query_strings("SELECT CAST(COUNT(*) AS TEXT) AS n FROM clinics", &["n"])
        .await;
    assert_eq!(clinics, [["1"]], "no clinic was created");
}

/// A pepper rotation (as the tables' owner): the provider number is re-keyed, so signed webhooks
/// still reach the clinic; a caller who opted out under the old pepper stays opted out when they
/// call again, and their whole history moves to the new pepper's key; the old pepper alone no
/// longer passes the key check.
async fn a_pepper_rotation_keeps_numbers_and_callers(kind: DatabaseKind) {
    const CALLER: &str = "+447700900123";
    const OBJECTED: &str = "+447700900124";
    let mut app = TestApp::builder(kind).with_twilio().build().await;
    let restricted = app
        .owner
        .run(
            "mutation($n: String!) { restrictCaller(number: $n, restricted: true) }",
            serde_json::json!({ "n": OBJECTED }),
        )
        .await;
    assert_eq!(restricted["data"]["restrictCaller"], true, "{restricted}");
    let objected = || {
        app.db.query_strings(
            "SELECT CAST(created_at AS TEXT) AS at FROM caller_restrictions",
            &["at"],
        )
    };
    let objected_at = objected().await;
    app.db.clock.advance(chrono::Duration::minutes(10));
    let old = (*app.state.secrets).clone();
    old.check_against(&app.db.db).await.expect("first check");
    let txn = app.tenant().begin().await.expect("txn");
    let stop = InboundSms {
        provider_id: "SM1",
        from: CALLER,
        text: "STOP",
        at: txn.now(),
        provider_number_id: None,
        to_held_back_number: false,
    };
    inbound_sms::receive(&txn, &old, stop)
        .await
        .expect("received");
    txn.commit().await.expect("commit");

    let fake = app.twilio.as_ref().expect("fake Twilio");
    let (new_pepper, old_pepper) = ("55".repeat(32), "11".repeat(32));
    let mut settings = crate::common::twilio_settings(fake).to_vec();
    settings.push(("RINGBACK_PEPPER", &new_pepper));
    settings.push(("RINGBACK_PREVIOUS_PEPPER", &old_pepper));
    let web = tempfile::tempdir().expect("tempdir");
    let rotated = app.db.state_with(web.path(), &settings);
    assert!(
        rotated.secrets.check_against(&app.db.db).await.is_err(),
        "the new pepper is refused before the rotation"
    );
    let numbers = ringback_core::rotation::rotate_pepper(&app.db.db, &rotated.secrets)
        .await
        .expect("rotated");
    assert_eq!(numbers, 1);
    rotated
        .secrets
        .check_against(&app.db.db)
        .await
        .expect("the new and previous peppers pass");
    assert!(old.check_against(&app.db.db).await.is_err());
    // The STOP and the objection are keyed under the old pepper until their callers are met
    // again: a server without the previous pepper would not find them, and does not start;
    // another rotation would lose them, and is refused (nothing changes).
    let without_previous = ringback_core::secrets::Secrets {
        previous_pepper: None,
        ..(*rotated.secrets).clone()
    };
    let refused = without_previous.check_against(&app.db.db).await;
    assert!(
        refused.as_ref().is_err_and(|error| error
            .to_string()
            .contains("RINGBACK_PREVIOUS_PEPPER is needed")),
        "{refused:?}"
    );
    let again = rotated
        .secrets
        .with_new_pepper(ringback_core::secrets::Secret::random());
    let stranding = ringback_core::rotation::rotate_pepper(&app.db.db, &again).await;
    assert!(
        matches!(
            stranding,
            Err(ringback_core::rotation::RotationError::ListsUnderPreviousPepper(2))
        ),
        "{stranding:?}"
    );
    rotated
        .secrets
        .check_against(&app.db.db)
        .await
        .expect("the refused rotation changed nothing");

    let twilio = poem::test::TestClient::new(ringback_api::build_app(rotated.clone()));
    let call = crate::common::twilio::missed_call("CA1", CALLER, crate::common::app::CLINIC_NUMBER);
    let (status, _) =
        crate::common::twilio::post(&twilio, "/webhooks/twilio/dial-status", &call, None).await;
    assert_eq!(status, poem::http::StatusCode::OK, "routed to the clinic");
    let statuses = app
        .db
        .query_strings("SELECT text_back_status AS s FROM calls", &["s"])
        .await;
    assert_eq!(statuses, vec![vec!["skipped:opted_out".to_owned()]]);
    let keys = app
        .db
        .query_strings(
            "SELECT caller_key AS k FROM calls UNION SELECT caller_key FROM opt_outs \
             UNION SELECT caller_key FROM conversations UNION SELECT caller_key FROM messages",
            &["k"],
        )
        .await;
    assert_eq!(
        keys.len(),
        1,
        "one key for the caller's whole history: {keys:?}"
    );
    let call =
        crate::common::twilio::missed_call("CA2", OBJECTED, crate::common::app::CLINIC_NUMBER);
    let (status, _) =
        crate::common::twilio::post(&twilio, "/webhooks/twilio/dial-status", &call, None).await;
    assert_eq!(status, poem::http::StatusCode::OK);
    assert_eq!(
        objected().await,
        objected_at,
        "the caller objected when they did, not when they were met again"
    );
    without_previous
        .check_against(&app.db.db)
        .await
        .expect("the lists moved with their callers: the previous pepper is no longer needed");
}

on_both_databases!(
    an_invitation_is_either_withdrawn_or_accepted,
    work_queued_once_is_written_once,
    reads_waiting_together_share_one_write_per_clinic,
    notes_that_cannot_be_stored_fail_their_reads_only,
    a_pepper_rotation_keeps_numbers_and_callers,
    rotating_the_master_key_rewraps_every_clinic,
    reads_are_sealed_into_the_audit_chain,
    a_backlog_is_sealed_batch_after_batch_in_the_order_read,
    a_write_lands_after_every_read_waiting,
    a_clinic_that_cannot_be_sealed_holds_back_no_other,
    the_clinic_waiting_longest_is_sealed_first,
    a_sweep_told_to_stop_starts_no_further_batch,
    api_key_actions_name_the_key_in_the_audit_log,
    two_owners_demoting_each_other_leave_an_owner,
    a_team_change_waiting_for_the_lock_acts_with_the_actors_stored_role,
    jobs_that_cannot_run_are_dead_letters,
    attempts_that_never_settle_end_in_a_dead_letter,
    a_late_attempt_does_not_settle_over_its_give_up,
    the_operator_door_is_audited,
    inbound_keywords_change_the_opt_out_list,
    missed_calls_of_one_caller_side_by_side_queue_one_text_back,
    texts_of_one_caller_side_by_side_share_one_conversation,
    a_text_back_on_its_way_counts_for_the_day,
    a_reply_reopening_beside_a_new_text_leaves_one_conversation_open,
);
