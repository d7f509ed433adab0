//! Access control, generated over the schema, on SQLite and on PostgreSQL (as the application role):
//! every mutation and protected query is tried by every role, and every operation that takes an id
//! is tried with another clinic's id, which must be `NOT_FOUND` and change nothing. A test fails when
//! the schema gains a mutation that this matrix does not cover.

use std::collections::BTreeSet;

use crate::common::TestDb;
use crate::common::graphql::{
    Browser, SIGN_IN, SIGN_UP, error_code, join, run_with_key, sign_up_input,
};
use poem::Endpoint;
use ringback_api::config::DatabaseKind;
use serde_json::{Value, json};

/// The least role an operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Least {
    Receptionist,
    Admin,
    Owner,
}

/// Operations anyone may call (they authenticate by other means or not at all).
const PUBLIC_MUTATIONS: &[&str] = &[
    "signUp",
    "requestSignUp",
    "confirmSignUp",
    "requestPasswordReset",
    "resetPassword",
    "signIn",
    "refreshSession",
    "signOut",
    "acceptInvite",
];

/// Every protected operation: name, document, variables, least role.
fn protected_operations() -> Vec<(&'static str, &'static str, Value, Least)> {
    let unknown = "0192f000-0000-7000-8000-000000000000";
    vec![
        (
            "clinic",
            "{ clinic { id } }",
            json!({}),
            Least::Receptionist,
        ),
        ("me", "{ me { role } }", json!({}), Least::Receptionist),
        (
            "myClinics",
            "{ myClinics { role current } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "switchClinic",
            "mutation($id: ID!) { switchClinic(clinicId: $id) { role } }",
            json!({ "id": unknown }),
            Least::Receptionist,
        ),
        ("team", "{ team { role } }", json!({}), Least::Admin),
        ("invites", "{ invites { id } }", json!({}), Least::Admin),
        ("apiKeys", "{ apiKeys { id } }", json!({}), Least::Admin),
        (
            "updateClinicSettings",
            "mutation { updateClinicSettings(input: { attributionWindowDays: 7 }) { id } }",
            json!({}),
            Least::Admin,
        ),
        (
            "aiReceptionist",
            "{ aiReceptionist { enabled services { name } } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "updateAiReceptionist",
            "mutation { updateAiReceptionist(input: { tone: \"friendly\" }) { tone } }",
            json!({}),
            Least::Admin,
        ),
        (
            "saveService",
            "mutation { saveService(input: { name: \"Check-up\", priceFromMinor: 5000, durationMinutes: 30, estimatedValueMinor: 5000 }) { id } }",
            json!({}),
            Least::Admin,
        ),
        (
            "deleteService",
            "mutation($id: ID!) { deleteService(id: $id) }",
            json!({ "id": unknown }),
            Least::Admin,
        ),
        (
            "inviteMember",
            "mutation { inviteMember(email: \"new@clinic.test\", displayName: \"New\", role: RECEPTIONIST) { token } }",
            json!({}),
            Least::Admin,
        ),
        (
            "revokeInvite",
            "mutation($id: ID!) { revokeInvite(id: $id) }",
            json!({ "id": unknown }),
            Least::Admin,
        ),
        (
            "changeMemberRole",
            "mutation($id: ID!) { changeMemberRole(userId: $id, role: ADMIN) }",
            json!({ "id": unknown }),
            Least::Admin,
        ),
        (
            "removeMember",
            "mutation($id: ID!) { removeMember(userId: $id) }",
            json!({ "id": unknown }),
            Least::Admin,
        ),
        (
            "createApiKey",
            "mutation { createApiKey(name: \"PMS\", scope: READ) { secret } }",
            json!({}),
            Least::Admin,
        ),
        (
            "revokeApiKey",
            "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
            json!({ "id": unknown }),
            Least::Admin,
        ),
        (
            "metrics",
            "{ metrics(from: \"2026-11-01\", to: \"2026-11-02\") { totals { inboundCalls } } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "auditLog",
            "{ auditLog(first: 5) { edges { node { seq } } } }",
            json!({}),
            Least::Admin,
        ),
        (
            "changePassword",
            "mutation { changePassword(currentPassword: \"wrong password!\", newPassword: \"another password 2\") { role } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "phoneSettings",
            "{ phoneSettings { ringTimeoutSeconds } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "providerNumbers",
            "{ providerNumbers { id } }",
            json!({}),
            Least::Admin,
        ),
        (
            "updatePhoneSettings",
            "mutation { updatePhoneSettings(input: { ringTimeoutSeconds: 18 }) { ringTimeoutSeconds } }",
            json!({}),
            Least::Admin,
        ),
        (
            "setForwardingLine",
            "mutation { setForwardingLine(number: \"020 7946 0123\") { forwardingLineTail } }",
            json!({}),
            Least::Admin,
        ),
        (
            "addProviderNumber",
            "mutation { addProviderNumber(number: \"07700 900999\") { id } }",
            json!({}),
            Least::Admin,
        ),
        (
            "removeProviderNumber",
            "mutation($id: ID!) { removeProviderNumber(id: $id) }",
            json!({ "id": unknown }),
            Least::Admin,
        ),
        (
            "inbox",
            "{ inbox { unread } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "inboxUnread",
            "{ inboxUnread }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "activity",
            "{ activity { latestCallId latestMessageAt } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "setupChecklist",
            "{ setupChecklist { live } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "webhookRefusals",
            "{ webhookRefusals { hook } }",
            json!({}),
            Least::Admin,
        ),
        (
            "numbersForSale",
            "{ numbersForSale { country } }",
            json!({}),
            Least::Admin,
        ),
        (
            "accountNumbers",
            "{ accountNumbers { sid } }",
            json!({}),
            Least::Admin,
        ),
        (
            "buyNumber",
            "mutation { buyNumber(number: \"07700 900400\") { id } }",
            json!({}),
            Least::Admin,
        ),
        (
            "useAccountNumber",
            "mutation($id: ID!) { useAccountNumber(sid: $id) { id } }",
            json!({ "id": "PN0000000000000000000000000000abcd" }),
            Least::Admin,
        ),
        (
            "releaseNumber",
            "mutation($id: ID!) { releaseNumber(id: $id) }",
            json!({ "id": unknown }),
            Least::Admin,
        ),
        (
            "calls",
            "{ calls(first: 5) { edges { node { id } } } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "appointments",
            "{ appointments(first: 5) { edges { node { id } } } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "knownCallers",
            "{ knownCallers(first: 5) { callerKey callerTail } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "appointment",
            "query($id: ID!) { appointment(id: $id) { id } }",
            json!({ "id": unknown }),
            Least::Receptionist,
        ),
        (
            "recordCallEvents",
            "mutation { recordCallEvents(events: []) { recorded } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "logCallback",
            "mutation($id: ID!) { logCallback(callId: $id, status: ANSWERED) { id } }",
            json!({ "id": unknown }),
            Least::Receptionist,
        ),
        (
            "createAppointment",
            "mutation { createAppointment(input: { callerNumber: \"07700 900111\", valueMinor: 100 }) { id } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "updateAppointment",
            "mutation($id: ID!) { updateAppointment(id: $id, valueMinor: 5) { id } }",
            json!({ "id": unknown }),
            Least::Receptionist,
        ),
        (
            "cancelAppointment",
            "mutation($id: ID!) { cancelAppointment(id: $id) { id } }",
            json!({ "id": unknown }),
            Least::Receptionist,
        ),
        (
            "conversations",
            "{ conversations(first: 5) { id } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "conversation",
            "query($id: ID!) { conversation(id: $id) { id } }",
            json!({ "id": unknown }),
            Least::Receptionist,
        ),
        (
            "replyToConversation",
            "mutation($id: ID!) { replyToConversation(id: $id, body: \"On our way\") { id } }",
            json!({ "id": unknown }),
            Least::Receptionist,
        ),
        (
            "assignConversation",
            "mutation($id: ID!) { assignConversation(id: $id, memberId: null) { id } }",
            json!({ "id": unknown }),
            Least::Receptionist,
        ),
        (
            "closeConversation",
            "mutation($id: ID!) { closeConversation(id: $id) { id } }",
            json!({ "id": unknown }),
            Least::Receptionist,
        ),
        (
            "takeOverConversation",
            "mutation($id: ID!) { takeOverConversation(id: $id) { aiState } }",
            json!({ "id": unknown }),
            Least::Receptionist,
        ),
        (
            "notifications",
            "{ notifications { unread items { id } } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "markNotificationsRead",
            "mutation { markNotificationsRead }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "googleCalendar",
            "{ googleCalendar { calendarId shareWith } }",
            json!({}),
            Least::Admin,
        ),
        (
            "calendarBusy",
            "{ calendarBusy(from: \"2030-01-07\", to: \"2030-01-07\") { hasCalendar } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "setGoogleCalendar",
            "mutation { setGoogleCalendar(calendarId: \"frontdesk@clinic.test\") }",
            json!({}),
            Least::Admin,
        ),
        (
            "myHandOffMails",
            "{ myHandOffMails { on } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "setMyHandOffMails",
            "mutation { setMyHandOffMails(on: true) }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "aiFigures",
            "{ aiFigures(from: \"2026-11-01\", to: \"2026-11-02\") { bookings } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "attributionEvents",
            "{ attributionEvents(from: \"2026-11-01\", to: \"2026-11-02\") { windowDays } }",
            json!({}),
            Least::Admin,
        ),
        (
            "exportCsv",
            "{ exportCsv(what: CALLS, from: \"2026-11-01\", to: \"2026-11-02\") { rows } }",
            json!({}),
            Least::Admin,
        ),
        (
            "worklist",
            "{ worklist { edges { node { callId } } } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "worklistDismissals",
            "{ worklistDismissals { counts { reason count } } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "dismissWaitingCaller",
            "mutation($id: ID!) { dismissWaitingCaller(callId: $id, reason: SPAM) { id } }",
            json!({ "id": unknown }),
            Least::Receptionist,
        ),
        (
            "undoDismissal",
            "mutation($id: ID!) { undoDismissal(id: $id) { id } }",
            json!({ "id": unknown }),
            Least::Receptionist,
        ),
        (
            "callBack",
            "mutation($id: ID!) { callBack(callId: $id) { ringingTail } }",
            json!({ "id": unknown }),
            Least::Receptionist,
        ),
        (
            "setMyCallbackLine",
            "mutation { setMyCallbackLine(number: null) }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "findCaller",
            "{ findCaller(number: \"07700 900111\") { callerTail } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "callerRecord",
            "{ callerRecord(number: \"07700 900111\") { callerTail restricted } }",
            json!({}),
            Least::Admin,
        ),
        (
            "exportCallerRecord",
            "{ exportCallerRecord(number: \"07700 900111\") { filename } }",
            json!({}),
            Least::Admin,
        ),
        (
            "restrictCaller",
            "mutation { restrictCaller(number: \"07700 900111\", restricted: false) }",
            json!({}),
            Least::Admin,
        ),
        (
            "eraseCaller",
            "mutation { eraseCaller(number: \"07700 900111\") { summary } }",
            json!({}),
            Least::Admin,
        ),
        ("billing", "{ billing { status } }", json!({}), Least::Admin),
        ("plans", "{ plans { key } }", json!({}), Least::Admin),
        (
            "startCheckout",
            "mutation { startCheckout(plan: \"starter\") }",
            json!({}),
            Least::Owner,
        ),
        (
            "openBillingPortal",
            "mutation { openBillingPortal }",
            json!({}),
            Least::Owner,
        ),
        (
            "callBackSetup",
            "{ callBackSetup { available } }",
            json!({}),
            Least::Receptionist,
        ),
        (
            "deadLetters",
            "{ deadLetters { id } }",
            json!({}),
            Least::Admin,
        ),
        (
            "retryDeadLetter",
            "mutation($id: ID!) { retryDeadLetter(id: $id) }",
            json!({ "id": unknown }),
            Least::Admin,
        ),
        (
            "exportClinicData",
            "{ exportClinicData { totalRows } }",
            json!({}),
            Least::Owner,
        ),
        (
            "deleteClinic",
            "mutation { deleteClinic(confirmName: \"not the name\", password: \"wrong\") { rowsDeleted } }",
            json!({}),
            Least::Owner,
        ),
        (
            "deleteMyAccount",
            "mutation { deleteMyAccount(password: \"wrong password\") }",
            json!({}),
            Least::Receptionist,
        ),
        // Last: it ends the caller's sessions.
        (
            "signOutEverywhere",
            "mutation { signOutEverywhere }",
            json!({}),
            Least::Receptionist,
        ),
    ]
}

/// A clinic with an owner, an admin and a receptionist signed in.
struct Clinic<E: Endpoint> {
    owner: Browser<E>,
    admin: Browser<E>,
    receptionist: Browser<E>,
}

async fn clinic(
    test_db: &TestDb,
    web: &std::path::Path,
    tag: &str,
) -> Clinic<impl Endpoint + use<>> {
    let mut owner = Browser::new(test_db.app(web));
    let signed_up = owner
        .run(SIGN_UP, sign_up_input(&format!("owner@{tag}.test")))
        .await;
    assert!(signed_up["errors"].is_null(), "{signed_up}");
    let admin = join(
        &mut owner,
        Browser::new(test_db.app(web)),
        &format!("admin@{tag}.test"),
        "ADMIN",
    )
    .await;
    let receptionist = join(
        &mut owner,
        Browser::new(test_db.app(web)),
        &format!("reception@{tag}.test"),
        "RECEPTIONIST",
    )
    .await;
    Clinic {
        owner,
        admin,
        receptionist,
    }
}

async fn schema_mutations<E: Endpoint>(browser: &mut Browser<E>) -> BTreeSet<String> {
    let answer = browser
        .run(
            "{ __schema { mutationType { fields { name } } } }",
            json!({}),
        )
        .await;
    answer["data"]["__schema"]["mutationType"]["fields"]
        .as_array()
        .expect("mutations")
        .iter()
        .filter_map(|field| field["name"].as_str().map(str::to_owned))
        .collect()
}

async fn every_role_against_every_operation(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut clinic = clinic(&test_db, web.path(), "matrix").await;

    let operations = protected_operations();
    let covered: BTreeSet<String> = operations
        .iter()
        .map(|(name, ..)| (*name).to_owned())
        .chain(PUBLIC_MUTATIONS.iter().map(|name| (*name).to_owned()))
        .collect();
    let missing: Vec<String> = schema_mutations(&mut clinic.owner)
        .await
        .difference(&covered)
        .cloned()
        .collect();
    assert!(
        missing.is_empty(),
        "mutations without a role rule in this matrix: {missing:?}"
    );

    let mut checks = 0;
    let mut anonymous = Browser::new(test_db.app(web.path()));
    for (name, document, variables, least) in &operations {
        let answer = anonymous.run(document, variables.clone()).await;
        assert_eq!(
            error_code(&answer),
            Some("UNAUTHENTICATED"),
            "anonymous {name}: {answer}"
        );
        checks += 1;
        for (role, browser, rank) in [
            (
                "receptionist",
                &mut clinic.receptionist,
                Least::Receptionist,
            ),
            ("admin", &mut clinic.admin, Least::Admin),
            ("owner", &mut clinic.owner, Least::Owner),
        ] {
            let answer = browser.run(document, variables.clone()).await;
            let code = error_code(&answer);
            if rank >= *least {
                assert!(
                    !matches!(code, Some("FORBIDDEN" | "UNAUTHENTICATED")),
                    "{role} may {name}: {answer}"
                );
            } else {
                assert_eq!(code, Some("FORBIDDEN"), "{role} may not {name}: {answer}");
            }
            checks += 1;
        }
    }
    println!(
        "role matrix on {kind:?}: {} operations x 3 roles + anonymous = {checks} role checks",
        operations.len()
    );
    test_db.finish().await;
}

/// Lists what clinic B holds, to prove clinic A's attempts changed nothing.
async fn snapshot<E: Endpoint>(owner: &mut Browser<E>) -> Value {
    owner
        .run(
            "{ team { role user { id email } } invites { id email } apiKeys { id revokedAt } \
             appointments { edges { node { id valueMinor cancelledAt } } } calls { edges { node { id } } } \
             providerNumbers { id } conversations { id status assignedTo aiState messages { body status } } \
             deadLetters { id attempts } aiReceptionist { services { id name } } }",
            json!({}),
        )
        .await["data"]
        .clone()
}

/// Queries and mutations with an argument of type `ID`, read from the schema itself.
async fn operations_taking_ids<E: Endpoint>(browser: &mut Browser<E>) -> BTreeSet<String> {
    let fields = "fields { name args { type { name ofType { name } } } }";
    let answer = browser
        .run(
            &format!("{{ __schema {{ queryType {{ {fields} }} mutationType {{ {fields} }} }} }}"),
            json!({}),
        )
        .await;
    let schema = &answer["data"]["__schema"];
    ["queryType", "mutationType"]
        .iter()
        .flat_map(|root| {
            schema[root]["fields"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|field| {
            field["args"].as_array().is_some_and(|args| {
                args.iter()
                    .any(|arg| arg["type"]["name"] == "ID" || arg["type"]["ofType"]["name"] == "ID")
            })
        })
        .filter_map(|field| field["name"].as_str().map(str::to_owned))
        .collect()
}

/// A conversation in clinic B, opened by a text to its provider number (07700 900888).
async fn b_conversation<E: Endpoint>(
    test_db: &TestDb,
    web: &std::path::Path,
    b_owner: &mut Browser<E>,
) -> String {
    let twilio = poem::test::TestClient::new(test_db.app(web));
    let text =
        crate::common::twilio::text_from("SMB1", "+447700900333", "+447700900888", "Hello B");
    let (status, _) =
        crate::common::twilio::post(&twilio, "/webhooks/twilio/sms", &text, None).await;
    assert_eq!(status, poem::http::StatusCode::OK);
    let listed = b_owner.run("{ conversations { id } }", json!({})).await;
    listed["data"]["conversations"][0]["id"]
        .as_str()
        .expect("conversation id")
        .to_owned()
}

/// A dead letter in clinic B: a fresh missed call's text-back job, marked dead.
async fn b_dead_letter<E: Endpoint>(test_db: &TestDb, b_owner: &mut Browser<E>) -> String {
    let now = chrono::Utc::now().to_rfc3339();
    let recorded = b_owner
        .run(
            "mutation($at: DateTime!) { recordCallEvents(events: [{ externalId: \"b-2\", direction: INBOUND, \
             status: NO_ANSWER, startedAt: $at, callerNumber: \"07700 900444\" }]) { recorded } }",
            json!({ "at": now }),
        )
        .await;
    assert_eq!(
        recorded["data"]["recordCallEvents"]["recorded"], 1,
        "{recorded}"
    );
    test_db
        .execute_as_owner("UPDATE job_outbox SET status = 'dead', attempts = 8")
        .await;
    let dead = b_owner.run("{ deadLetters { id } }", json!({})).await;
    dead["data"]["deadLetters"][0]["id"]
        .as_str()
        .expect("dead letter id")
        .to_owned()
}

async fn another_clinics_ids_are_not_found(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut a = clinic(&test_db, web.path(), "clinic-a").await;
    let mut b = clinic(&test_db, web.path(), "clinic-b").await;

    let b_key = b
        .owner
        .run(
            "mutation { createApiKey(name: \"B\", scope: WRITE) { apiKey { id } } }",
            json!({}),
        )
        .await;
    let b_key = b_key["data"]["createApiKey"]["apiKey"]["id"]
        .as_str()
        .expect("key id")
        .to_owned();
    let b_invite = b
        .owner
        .run("mutation { inviteMember(email: \"later@b.test\", displayName: \"Later\", role: RECEPTIONIST) { invite { id } } }", json!({}))
        .await;
    let b_invite = b_invite["data"]["inviteMember"]["invite"]["id"]
        .as_str()
        .expect("invite id")
        .to_owned();
    let b_member = b
        .receptionist
        .run("{ me { user { id } } }", json!({}))
        .await;
    let b_member = b_member["data"]["me"]["user"]["id"]
        .as_str()
        .expect("user id")
        .to_owned();
    let b_calls = b
        .owner
        .run(
            "mutation($at: DateTime!) { recordCallEvents(events: [{ externalId: \"b-1\", direction: INBOUND, status: NO_ANSWER, \
             startedAt: $at, callerNumber: \"07700 900222\" }]) { results { call { id } } } }",
            json!({ "at": (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339() }),
        )
        .await;
    let b_call = b_calls["data"]["recordCallEvents"]["results"][0]["call"]["id"]
        .as_str()
        .expect("call id")
        .to_owned();
    let b_dismissal = b
        .owner
        .run(
            "mutation($id: ID!) { dismissWaitingCaller(callId: $id, reason: SPAM) { id } }",
            json!({ "id": b_call }),
        )
        .await;
    let b_dismissal = b_dismissal["data"]["dismissWaitingCaller"]["id"]
        .as_str()
        .expect("dismissal id")
        .to_owned();
    let b_appointment = b
        .owner
        .run("mutation { createAppointment(input: { callerNumber: \"07700 900222\", valueMinor: 9000 }) { id } }", json!({}))
        .await;
    let b_appointment = b_appointment["data"]["createAppointment"]["id"]
        .as_str()
        .expect("appointment id")
        .to_owned();
    // The number is one of the (fake) Twilio account's, added from an app that can ask it.
    let fake = test_db.fake_twilio(&["+447700900888"]).await;
    let mut b_with_twilio = Browser::new(test_db.app_with_twilio(web.path(), &fake));
    b_with_twilio.cookies = b.owner.cookies.clone();
    let b_number = b_with_twilio
        .run(
            "mutation { addProviderNumber(number: \"07700 900888\") { id } }",
            json!({}),
        )
        .await;
    let b_number = b_number["data"]["addProviderNumber"]["id"]
        .as_str()
        .expect("number id")
        .to_owned();
    let b_conversation = b_conversation(&test_db, web.path(), &mut b.owner).await;
    let b_dead_letter = b_dead_letter(&test_db, &mut b.owner).await;
    let b_clinic = b.owner.run("{ clinic { id } }", json!({})).await;
    let b_clinic = b_clinic["data"]["clinic"]["id"]
        .as_str()
        .expect("clinic id")
        .to_owned();
    let b_service = b
        .owner
        .run(
            "mutation { saveService(input: { name: \"Check-up\", priceFromMinor: 5000, \
             durationMinutes: 30, estimatedValueMinor: 5000 }) { id } }",
            json!({}),
        )
        .await;
    let b_service = b_service["data"]["saveService"]["id"]
        .as_str()
        .expect("service id")
        .to_owned();
    let before = snapshot(&mut b.owner).await;

    let attempts = [
        (
            "saveService",
            "mutation($id: ID!) { saveService(id: $id, input: { name: \"Taken\", priceFromMinor: 1, \
             durationMinutes: 30, estimatedValueMinor: 1 }) { id } }",
            b_service.clone(),
        ),
        (
            "deleteService",
            "mutation($id: ID!) { deleteService(id: $id) }",
            b_service.clone(),
        ),
        (
            "revokeApiKey",
            "mutation($id: ID!) { revokeApiKey(id: $id) { id } }",
            b_key.clone(),
        ),
        (
            "revokeInvite",
            "mutation($id: ID!) { revokeInvite(id: $id) }",
            b_invite.clone(),
        ),
        (
            "changeMemberRole",
            "mutation($id: ID!) { changeMemberRole(userId: $id, role: ADMIN) }",
            b_member.clone(),
        ),
        (
            "removeMember",
            "mutation($id: ID!) { removeMember(userId: $id) }",
            b_member.clone(),
        ),
        (
            "removeProviderNumber",
            "mutation($id: ID!) { removeProviderNumber(id: $id) }",
            b_number.clone(),
        ),
        (
            "logCallback",
            "mutation($id: ID!) { logCallback(callId: $id, status: ANSWERED) { id } }",
            b_call.clone(),
        ),
        (
            "dismissWaitingCaller",
            "mutation($id: ID!) { dismissWaitingCaller(callId: $id, reason: SPAM) { id } }",
            b_call.clone(),
        ),
        (
            "undoDismissal",
            "mutation($id: ID!) { undoDismissal(id: $id) { id } }",
            b_dismissal.clone(),
        ),
        (
            "callBack",
            "mutation($id: ID!) { callBack(callId: $id) { ringingTail } }",
            b_call.clone(),
        ),
        (
            "appointment",
            "query($id: ID!) { appointment(id: $id) { id } }",
            b_appointment.clone(),
        ),
        (
            "updateAppointment",
            "mutation($id: ID!) { updateAppointment(id: $id, valueMinor: 1) { id } }",
            b_appointment.clone(),
        ),
        (
            "cancelAppointment",
            "mutation($id: ID!) { cancelAppointment(id: $id) { id } }",
            b_appointment.clone(),
        ),
        (
            "conversation",
            "query($id: ID!) { conversation(id: $id) { id messages { body } } }",
            b_conversation.clone(),
        ),
        (
            "replyToConversation",
            "mutation($id: ID!) { replyToConversation(id: $id, body: \"Hello\") { id } }",
            b_conversation.clone(),
        ),
        (
            "assignConversation",
            "mutation($id: ID!) { assignConversation(id: $id, memberId: null) { id } }",
            b_conversation.clone(),
        ),
        (
            "closeConversation",
            "mutation($id: ID!) { closeConversation(id: $id) { id } }",
            b_conversation.clone(),
        ),
        (
            "takeOverConversation",
            "mutation($id: ID!) { takeOverConversation(id: $id) { id } }",
            b_conversation.clone(),
        ),
        (
            "retryDeadLetter",
            "mutation($id: ID!) { retryDeadLetter(id: $id) }",
            b_dead_letter.clone(),
        ),
        (
            "switchClinic",
            "mutation($id: ID!) { switchClinic(clinicId: $id) { role } }",
            b_clinic.clone(),
        ),
    ];
    for (name, document, id) in &attempts {
        let answer = a.owner.run(document, json!({ "id": id })).await;
        assert_eq!(
            error_code(&answer),
            Some("NOT_FOUND"),
            "{name} with clinic B's id: {answer}"
        );
        assert!(
            answer["data"].is_null() || answer["data"][name].is_null(),
            "no data leaks: {answer}"
        );
    }
    // Getting numbers needs the Twilio account, so these are tried from an app that has it.
    let mut a_with_twilio = Browser::new(test_db.app_with_twilio(web.path(), &fake));
    a_with_twilio.cookies = a.owner.cookies.clone();
    let b_sid = fake
        .numbers()
        .into_iter()
        .find(|number| number.e164 == "+447700900888")
        .expect("clinic B's number at Twilio")
        .sid;
    let number_attempts = [
        (
            "releaseNumber",
            "mutation($id: ID!) { releaseNumber(id: $id) }",
            b_number.clone(),
        ),
        (
            "useAccountNumber",
            "mutation($id: ID!) { useAccountNumber(sid: $id) { id } }",
            b_sid,
        ),
    ];
    for (name, document, id) in &number_attempts {
        let answer = a_with_twilio.run(document, json!({ "id": id })).await;
        assert_eq!(
            error_code(&answer),
            Some("NOT_FOUND"),
            "{name} with clinic B's id: {answer}"
        );
    }
    let b_still_holds = fake
        .numbers()
        .into_iter()
        .find(|n| n.e164 == "+447700900888");
    assert!(
        b_still_holds.is_some_and(|number| number.voice_url.is_empty()),
        "clinic B's number is neither released nor re-pointed"
    );
    // Lists that take an id as where a page starts only compare it: clinic B's id pages clinic
    // A's own list and shows nothing of B.
    let cursor_attempts = [
        (
            "inbox",
            "query($id: ID!, $at: DateTime!) { inbox(before: $at, beforeId: $id) { conversation { id } } }",
        ),
        (
            "conversations",
            "query($id: ID!, $at: DateTime!) { conversations(before: $at, beforeId: $id) { id } }",
        ),
    ];
    // A moment after every conversation of either clinic.
    let later = (test_db.clock.now() + chrono::Duration::days(1)).to_rfc3339();
    for (name, document) in &cursor_attempts {
        let variables = json!({ "id": b_conversation, "at": later });
        let answer = a.owner.run(document, variables).await;
        assert!(answer["errors"].is_null(), "{name}: {answer}");
        assert!(
            !answer.to_string().contains(&b_conversation),
            "{name} shows nothing of clinic B: {answer}"
        );
    }
    let covered: BTreeSet<String> = attempts
        .iter()
        .chain(&number_attempts)
        .map(|(name, ..)| (*name).to_owned())
        .chain(cursor_attempts.iter().map(|(name, _)| (*name).to_owned()))
        .collect();
    let taking_ids = operations_taking_ids(&mut a.owner).await;
    assert_eq!(
        taking_ids, covered,
        "every operation that takes an id is tried across tenants"
    );
    let a_view = a
        .owner
        .run(
            "{ team { user { id } } invites { id } apiKeys { id } calls { edges { node { id } } } \
             appointments { edges { node { id } } } conversations { id } deadLetters { id } }",
            json!({}),
        )
        .await;
    let a_activity = a
        .owner
        .run("{ activity { latestCallId latestMessageAt } }", json!({}))
        .await;
    assert_eq!(
        a_activity["data"]["activity"],
        json!({ "latestCallId": null, "latestMessageAt": null }),
        "clinic A's activity is its own (it has had no call or text): {a_activity}"
    );
    let a_text = a_view.to_string();
    for id in [
        &b_conversation,
        &b_dead_letter,
        &b_key,
        &b_invite,
        &b_member,
        &b_call,
        &b_appointment,
        &b_number,
    ] {
        assert!(
            !a_text.contains(id.as_str()),
            "clinic A never sees clinic B's ids"
        );
    }
    assert_eq!(
        snapshot(&mut b.owner).await,
        before,
        "clinic B is unchanged"
    );
    println!(
        "cross-tenant on {kind:?}: {} id-taking operations refused with NOT_FOUND",
        attempts.len()
    );
    test_db.finish().await;
}

async fn api_keys_authenticate_integrators(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut owner = Browser::new(test_db.app(web.path()));
    owner.run(SIGN_UP, sign_up_input("keys@clinic.test")).await;
    let created = owner
        .run("mutation { createApiKey(name: \"Practice system\", scope: READ) { secret apiKey { id } } }", json!({}))
        .await;
    let secret = created["data"]["createApiKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let key_id = created["data"]["createApiKey"]["apiKey"]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let integrator = poem::test::TestClient::new(test_db.app(web.path()));
    let ask = async |document: &str, bearer: &str| -> Value {
        run_with_key(&integrator, bearer, document, json!({})).await
    };
    let write = ask(
        "mutation { updateClinicSettings(input: { name: \"X\" }) { id } }",
        &secret,
    )
    .await;
    assert_eq!(error_code(&write), Some("FORBIDDEN"), "{write}");
    let listed = owner.run("{ apiKeys { lastUsedAt } }", json!({})).await;
    assert!(
        listed["data"]["apiKeys"][0]["lastUsedAt"].is_string(),
        "a refused request is a use of the key too: {listed}"
    );
    let read = ask("{ clinic { name } }", &secret).await;
    assert_eq!(read["data"]["clinic"]["name"], "Riverside Dental", "{read}");
    // Callers' conversations, their texts and the team's notices are people's work, never a
    // key's: reading a thread would also mark it read for the team.
    for people_only in [
        "{ conversations { id } }",
        "{ inboxUnread }",
        "{ notifications { unread } }",
        "{ myHandOffMails { on } }",
        "mutation { setMyHandOffMails(on: false) }",
    ] {
        let refused = ask(people_only, &secret).await;
        assert_eq!(
            error_code(&refused),
            Some("FORBIDDEN"),
            "{people_only}: {refused}"
        );
    }
    let last = if secret.ends_with('0') { '1' } else { '0' };
    let forged = ask(
        "{ clinic { name } }",
        &format!("{}{last}", &secret[..secret.len() - 1]),
    )
    .await;
    assert_eq!(error_code(&forged), Some("UNAUTHENTICATED"), "{forged}");

    let revoke = "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }";
    let first = owner.run(revoke, json!({ "id": key_id })).await;
    test_db.clock.advance(chrono::Duration::minutes(5));
    let again = owner.run(revoke, json!({ "id": key_id })).await;
    assert_eq!(
        again["data"]["revokeApiKey"]["revokedAt"], first["data"]["revokeApiKey"]["revokedAt"],
        "revoked again, the key keeps its first revocation time: {again}"
    );
    let entries = test_db
        .query_strings(
            "SELECT action FROM audit_log WHERE action = 'api_key.revoked'",
            &["action"],
        )
        .await;
    assert_eq!(entries.len(), 1, "one entry for one revocation");
    let revoked = ask("{ clinic { name } }", &secret).await;
    assert_eq!(error_code(&revoked), Some("UNAUTHENTICATED"), "{revoked}");
    let listed = owner
        .run("{ apiKeys { lastUsedAt revokedAt } }", json!({}))
        .await;
    assert!(
        listed["data"]["apiKeys"][0]["lastUsedAt"].is_string(),
        "last use recorded: {listed}"
    );
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is never shown again"
    );
    test_db.finish().await;
}

/// The stored role and membership count on every request, whichever way it reaches the database:
/// a tenant read checks the session in its transaction's first statement, `me` on its own, and a
/// request with two root fields checks once for both.
async fn the_last_owner_stays_and_removed_members_lose_their_session(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut clinic = clinic(&test_db, web.path(), "governance").await;
    let owner_id =
        clinic.owner.run("{ me { user { id } } }", json!({})).await["data"]["me"]["user"]["id"]
            .clone();
    let demote = clinic
        .owner
        .run(
            "mutation($id: ID!) { changeMemberRole(userId: $id, role: ADMIN) }",
            json!({ "id": owner_id }),
        )
        .await;
    assert_eq!(error_code(&demote), Some("CONFLICT"), "{demote}");
    let promote = clinic
        .admin
        .run("mutation { inviteMember(email: \"boss@x.test\", displayName: \"Boss\", role: OWNER) { token } }", json!({}))
        .await;
    assert_eq!(
        error_code(&promote),
        Some("FORBIDDEN"),
        "only owners make owners: {promote}"
    );

    let admin_id =
        clinic.admin.run("{ me { user { id } } }", json!({})).await["data"]["me"]["user"]["id"]
            .clone();
    let settings_read = "{ apiKeys { id } }";
    let allowed = clinic.admin.run(settings_read, json!({})).await;
    assert!(allowed["errors"].is_null(), "{allowed}");
    // The admin invites two addresses of theirs before losing the right to: neither lets them
    // back in. One lapses when they are demoted; the other is refused on acceptance even when
    // their role changed by another way (as an older server's change would).
    let mut invitation = async |email: &str, role: &str| {
        let answer = clinic
            .admin
            .run(
                "mutation($email: String!, $role: TeamRole!) { inviteMember(email: $email, displayName: \"Alt\", role: $role) { token } }",
                json!({ "email": email, "role": role }),
            )
            .await;
        answer["data"]["inviteMember"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("{answer}"))
            .to_owned()
    };
    let lapsing = invitation("alt1@governance.test", "ADMIN").await;
    let refused_later = invitation("alt2@governance.test", "RECEPTIONIST").await;
    test_db
        .execute_as_owner(
            "UPDATE memberships SET role = 'receptionist' WHERE user_id IN \
             (SELECT id FROM users WHERE email = 'admin@governance.test')",
        )
        .await;
    let accept = "mutation($token: String!) { acceptInvite(token: $token, password: \"alt password 1\") { role } }";
    let mut outsider = Browser::new(test_db.app(web.path()));
    let answer = outsider
        .run(accept, json!({ "token": refused_later }))
        .await;
    assert_eq!(error_code(&answer), Some("NOT_FOUND"), "{answer}");
    let demoted = clinic
        .owner
        .run(
            "mutation($id: ID!) { changeMemberRole(userId: $id, role: RECEPTIONIST) }",
            json!({ "id": admin_id }),
        )
        .await;
    assert!(demoted["errors"].is_null(), "{demoted}");
    let refused = clinic.admin.run(settings_read, json!({})).await;
    assert_eq!(
        error_code(&refused),
        Some("FORBIDDEN"),
        "a role change applies at once, without signing in again: {refused}"
    );
    let pending = clinic.owner.run("{ invites { email } }", json!({})).await;
    assert!(
        !pending.to_string().contains("alt1@"),
        "the demoted admin's invitation lapsed: {pending}"
    );
    let answer = outsider.run(accept, json!({ "token": lapsing })).await;
    assert_eq!(error_code(&answer), Some("NOT_FOUND"), "{answer}");

    let receptionist_id = clinic
        .receptionist
        .run("{ me { user { id } } }", json!({}))
        .await["data"]["me"]["user"]["id"]
        .clone();
    let before = clinic
        .receptionist
        .run("{ calls(first: 5) { edges { node { id } } } }", json!({}))
        .await;
    assert!(before["errors"].is_null(), "{before}");
    let removed = clinic
        .owner
        .run(
            "mutation($id: ID!) { removeMember(userId: $id) }",
            json!({ "id": receptionist_id }),
        )
        .await;
    assert_eq!(removed["data"]["removeMember"], true, "{removed}");
    let after = clinic.receptionist.run("{ me { role } }", json!({})).await;
    assert_eq!(
        error_code(&after),
        Some("UNAUTHENTICATED"),
        "removal applies at once: {after}"
    );
    let read_after = clinic
        .receptionist
        .run(
            "{ calls(first: 5) { edges { node { id } } } worklist { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        error_code(&read_after),
        Some("UNAUTHENTICATED"),
        "tenant reads stop too: {read_after}"
    );
    let refresh = clinic
        .receptionist
        .run("mutation { refreshSession { role } }", json!({}))
        .await;
    assert_eq!(
        error_code(&refresh),
        Some("UNAUTHENTICATED"),
        "sessions revoked: {refresh}"
    );
    // A member removed from their only clinic can come back: invited again, they choose a
    // password as anyone new does and sign in with it.
    let mut leaver = clinic.receptionist;
    leaver.cookies.clear();
    let mut returned = join(
        &mut clinic.owner,
        leaver,
        "reception@governance.test",
        "RECEPTIONIST",
    )
    .await;
    returned.cookies.clear();
    let signed_in = returned
        .run(
            SIGN_IN,
            json!({ "email": "reception@governance.test", "password": "member password 1" }),
        )
        .await;
    assert_eq!(
        signed_in["data"]["signIn"]["role"], "RECEPTIONIST",
        "{signed_in}"
    );
    test_db.finish().await;
}

/// A key created with an expiry works until then and is refused after, like a revoked one; an
/// expiry out of range is refused with a clear code.
async fn api_keys_expire(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut owner = Browser::new(test_db.app(web.path()));
    owner
        .run(SIGN_UP, sign_up_input("expiry@clinic.test"))
        .await;
    let create = "mutation($days: Int) { createApiKey(name: \"Sync\", scope: READ, expiresInDays: $days) { secret apiKey { expiresAt } } }";
    for days in [0, 731] {
        let refused = owner.run(create, json!({ "days": days })).await;
        assert_eq!(
            error_code(&refused),
            Some("BAD_USER_INPUT"),
            "{days}: {refused}"
        );
    }
    let created = owner.run(create, json!({ "days": 1 })).await;
    assert!(
        created["data"]["createApiKey"]["apiKey"]["expiresAt"].is_string(),
        "{created}"
    );
    let secret = created["data"]["createApiKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let integrator = poem::test::TestClient::new(test_db.app(web.path()));
    let ask = async || -> Value {
        run_with_key(&integrator, &secret, "{ clinic { name } }", json!({})).await
    };
    let fresh = ask().await;
    assert_eq!(
        fresh["data"]["clinic"]["name"], "Riverside Dental",
        "{fresh}"
    );
    test_db
        .clock
        .advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
    let expired = ask().await;
    assert_eq!(error_code(&expired), Some("UNAUTHENTICATED"), "{expired}");
    test_db.finish().await;
}

/// A key lasts only while whoever made it may still manage keys: a demotion, a removal, or the
/// account's deletion revokes the keys that member made (and no one else's), and the change's
/// audit entry counts them.
async fn keys_go_when_their_maker_may_no_longer_make_them(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut clinic = clinic(&test_db, web.path(), "keymakers").await;
    let make_key = async |maker: &mut Browser<_>| -> String {
        let created = maker
            .run(
                "mutation { createApiKey(name: \"Sync\", scope: READ) { secret } }",
                json!({}),
            )
            .await;
        created["data"]["createApiKey"]["secret"]
            .as_str()
            .unwrap_or_else(|| panic!("{created}"))
            .to_owned()
    };
    let integrator = poem::test::TestClient::new(test_db.app(web.path()));
    let works = async |secret: &str| -> bool {
        let read = run_with_key(&integrator, secret, "{ clinic { name } }", json!({})).await;
        read["data"]["clinic"]["name"].is_string()
    };
    let id_of = async |member: &mut Browser<_>| {
        member.run("{ me { user { id } } }", json!({})).await["data"]["me"]["user"]["id"].clone()
    };
    let owners_key = make_key(&mut clinic.owner).await;
    let demoted_admins_key = make_key(&mut clinic.admin).await;
    let admin_id = id_of(&mut clinic.admin).await;
    assert!(works(&demoted_admins_key).await, "a key works at first");
    let demoted = clinic
        .owner
        .run(
            "mutation($id: ID!) { changeMemberRole(userId: $id, role: RECEPTIONIST) }",
            json!({ "id": admin_id }),
        )
        .await;
    assert!(demoted["errors"].is_null(), "{demoted}");
    assert!(
        !works(&demoted_admins_key).await,
        "demoted: their key is revoked"
    );
    assert!(works(&owners_key).await, "another member's key stays");

    // The clinic's browsers serve as new members' (cookies cleared: a new browser).
    let mut spare = clinic.receptionist;
    spare.cookies.clear();
    let mut removed_admin = join(&mut clinic.owner, spare, "second@keymakers.test", "ADMIN").await;
    let removed_admins_key = make_key(&mut removed_admin).await;
    let removed_id = id_of(&mut removed_admin).await;
    let removed = clinic
        .owner
        .run(
            "mutation($id: ID!) { removeMember(userId: $id) }",
            json!({ "id": removed_id }),
        )
        .await;
    assert_eq!(removed["data"]["removeMember"], true, "{removed}");
    assert!(
        !works(&removed_admins_key).await,
        "removed: their key is revoked"
    );

    removed_admin.cookies.clear();
    let mut leaving_admin = join(
        &mut clinic.owner,
        removed_admin,
        "third@keymakers.test",
        "ADMIN",
    )
    .await;
    let leaving_admins_key = make_key(&mut leaving_admin).await;
    let deleted = leaving_admin
        .run(
            "mutation { deleteMyAccount(password: \"member password 1\") }",
            json!({}),
        )
        .await;
    assert_eq!(deleted["data"]["deleteMyAccount"], true, "{deleted}");
    assert!(
        !works(&leaving_admins_key).await,
        "account deleted: their key is revoked"
    );
    assert!(works(&owners_key).await, "the owner's key still works");

    let mut counted: Vec<(String, Value)> = test_db
        .query_strings(
            "SELECT action, CAST(detail AS TEXT) AS detail FROM audit_log WHERE action IN \
             ('team.role_changed', 'team.member_removed', 'account.deleted')",
            &["action", "detail"],
        )
        .await
        .into_iter()
        .map(|row| {
            let detail: Value = serde_json::from_str(&row[1]).unwrap_or_default();
            (row[0].clone(), detail["api_keys_revoked"].clone())
        })
        .collect();
    counted.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        counted,
        [
            ("account.deleted".to_owned(), json!(1)),
            ("team.member_removed".to_owned(), json!(1)),
            ("team.role_changed".to_owned(), json!(1)),
        ],
        "each change counts the keys it revoked"
    );

    // A key asked for in the request that deletes its maker's account is not made: the maker's
    // role is read again as the key is stored.
    leaving_admin.cookies.clear();
    let mut last_admin = join(
        &mut clinic.owner,
        leaving_admin,
        "fourth@keymakers.test",
        "ADMIN",
    )
    .await;
    let both = last_admin
        .run(
            "mutation { deleteMyAccount(password: \"member password 1\") \
             createApiKey(name: \"Parting gift\", scope: WRITE) { secret } }",
            json!({}),
        )
        .await;
    assert_eq!(both["data"]["deleteMyAccount"], true, "{both}");
    assert!(both["data"]["createApiKey"].is_null(), "{both}");
    assert_eq!(error_code(&both), Some("FORBIDDEN"), "{both}");
    let kept = test_db
        .query_strings(
            "SELECT count(*) || '' AS n FROM api_keys WHERE name = 'Parting gift'",
            &["n"],
        )
        .await;
    assert_eq!(kept, [["0"]], "no key outlives its maker's account");
    test_db.finish().await;
}

on_both_databases!(
    every_role_against_every_operation,
    another_clinics_ids_are_not_found,
    api_keys_authenticate_integrators,
    api_keys_expire,
    keys_go_when_their_maker_may_no_longer_make_them,
    the_last_owner_stays_and_removed_members_lose_their_session,
);
