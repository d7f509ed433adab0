//! Forgotten passwords, on SQLite and on PostgreSQL (as the application role): a mailed one-time
//! link that answers the same for any address, works once and for an hour, keeps its token when
//! the new password breaks the rules, ends every session of the account in every clinic and is
//! audited there; an address gets at most three mails an hour; the operator's link
//! (`ringback reset-link`) for servers that send no mail.

use std::time::Duration;

use crate::common::app::{App, OWNER_EMAIL, TestApp, app_of};
use crate::common::graphql::{Browser, ME, REFRESH, SIGN_IN, SIGN_UP, error_code, sign_up_input};
use ringback_api::build_app;
use ringback_api::config::DatabaseKind;
use ringback_api::fakes::smtp::{FakeMail, FakeSmtp};
use serde_json::{Value, json};

const ASK: &str = "mutation($email: String!) { requestPasswordReset(email: $email) }";
const RESET: &str = "mutation($token: String!, $password: String!) { resetPassword(token: $token, newPassword: $password) { role user { email } clinic { id } } }";
const NEW_PASSWORD: &str = "a brand new password";

/// The token of the last reset link mailed to `address`.
fn last_link_to(mails: &[FakeMail], address: &str) -> String {
    let body = mails
        .iter()
        .rev()
        .find(|mail| mail.to == [address])
        .map(FakeMail::body)
        .unwrap_or_else(|| panic!("a mail to {address}: {mails:?}"));
    body.split_once("/reset-password#")
        .map(|(_, rest)| rest.chars().take(64).collect())
        .unwrap_or_else(|| panic!("a reset link: {body}"))
}

/// Resets with `token` and `password` from a new browser; the answer and the browser.
async fn reset_with(
    state: &ringback_api::AppState,
    token: &str,
    password: &str,
) -> (Value, Browser<App>) {
    let mut browser = Browser::new(app_of(state));
    let answer = browser
        .run(RESET, json!({ "token": token, "password": password }))
        .await;
    (answer, browser)
}

async fn a_forgotten_password_is_reset_by_a_mailed_link(kind: DatabaseKind) {
    let smtp = FakeSmtp::start().await.expect("fake SMTP");
    let mut app = TestApp::new(kind).await;
    // The owner also helps at a second clinic, where another tab of theirs is signed in.
    let mut second_owner = app.browser();
    second_owner
        .run(SIGN_UP, sign_up_input("second@clinic.test"))
        .await;
    let invited = second_owner
        .run(
            "mutation($email: String!) { inviteMember(email: $email, displayName: \"Owner\", role: ADMIN) { token } }",
            json!({ "email": OWNER_EMAIL }),
        )
        .await;
    let mut at_second = app.browser();
    at_second
        .run(
            SIGN_IN,
            json!({ "email": OWNER_EMAIL, "password": "correct horse battery" }),
        )
        .await;
    let joined = at_second
        .run(
            "mutation($token: String!) { acceptInvite(token: $token) { role } }",
            json!({ "token": invited["data"]["inviteMember"]["token"] }),
        )
        .await;
    assert_eq!(joined["data"]["acceptInvite"]["role"], "ADMIN", "{joined}");

    let web = tempfile::tempdir().expect("tempdir");
    let state = app.db.state_with(
        web.path(),
        &[
            ("RINGBACK_SMTP_URL", smtp.url()),
            ("RINGBACK_MAIL_FROM", "Ringback <no-reply@ringback.test>"),
        ],
    );
    let mut visitor = Browser::new(build_app(state.clone()));

    // The same answer for an address with an account and for one without; a server that sends
    // no mail refuses.
    let known = visitor
        .run(ASK, json!({ "email": "Owner@Clinic.test" }))
        .await;
    let unknown = visitor
        .run(ASK, json!({ "email": "nobody@clinic.test" }))
        .await;
    assert_eq!(known, json!({ "data": { "requestPasswordReset": true } }));
    assert_eq!(known, unknown, "the same answer either way");
    let without_mail = app
        .browser()
        .run(ASK, json!({ "email": OWNER_EMAIL }))
        .await;
    assert_eq!(
        error_code(&without_mail),
        Some("FORBIDDEN"),
        "{without_mail}"
    );
    let malformed = visitor.run(ASK, json!({ "email": "not an address" })).await;
    assert_eq!(
        error_code(&malformed),
        Some("BAD_USER_INPUT"),
        "{malformed}"
    );
    let mails = smtp.wait_for_mails(2, Duration::from_secs(10)).await;
    let first_link = last_link_to(&mails, OWNER_EMAIL);
    let nobody = mails
        .iter()
        .find(|mail| mail.to == ["nobody@clinic.test"])
        .map(FakeMail::body)
        .expect("a mail to the address without an account");
    assert!(nobody.contains("no account uses it"), "{nobody}");
    assert!(!nobody.contains("/reset-password"), "{nobody}");

    // A link lasts an hour.
    app.db.clock.advance(chrono::Duration::minutes(61));
    let (expired, _) = reset_with(&state, &first_link, NEW_PASSWORD).await;
    assert_eq!(error_code(&expired), Some("BAD_USER_INPUT"), "{expired}");
    visitor.run(ASK, json!({ "email": OWNER_EMAIL })).await;
    let mails = smtp.wait_for_mails(3, Duration::from_secs(10)).await;
    let link = last_link_to(&mails, OWNER_EMAIL);
    assert_ne!(link, first_link);
    let stored = app
        .db
        .query_strings("SELECT token_hash FROM password_resets", &["token_hash"])
        .await;
    assert!(
        stored
            .iter()
            .all(|row| row[0] != link && row[0] != first_link),
        "only the tokens' hashes are stored"
    );

    // A password that breaks the rules leaves the link working; a good one signs in to the
    // oldest clinic, once.
    let (weak, _) = reset_with(&state, &link, "short").await;
    assert_eq!(error_code(&weak), Some("BAD_USER_INPUT"), "{weak}");
    let (reset, mut signed_in) = reset_with(&state, &link, NEW_PASSWORD).await;
    assert_eq!(reset["data"]["resetPassword"]["role"], "OWNER", "{reset}");
    assert_eq!(
        reset["data"]["resetPassword"]["clinic"]["id"],
        app.clinic_id.to_string()
    );
    let me = signed_in.run(ME, json!({})).await;
    assert_eq!(me["data"]["me"]["user"]["email"], OWNER_EMAIL, "{me}");
    let (again, _) = reset_with(&state, &link, "yet another password").await;
    assert_eq!(error_code(&again), Some("BAD_USER_INPUT"), "{again}");

    // Every other session ended, in both clinics; only the new password signs in.
    for (tab, name) in [
        (&mut app.owner, "first clinic"),
        (&mut at_second, "second clinic"),
    ] {
        let renewed = tab.run(REFRESH, json!({})).await;
        assert_eq!(
            error_code(&renewed),
            Some("UNAUTHENTICATED"),
            "{name}: {renewed}"
        );
    }
    let mut fresh = app.browser();
    let old = fresh
        .run(
            SIGN_IN,
            json!({ "email": OWNER_EMAIL, "password": "correct horse battery" }),
        )
        .await;
    assert_eq!(error_code(&old), Some("UNAUTHENTICATED"), "{old}");
    let new = fresh
        .run(
            SIGN_IN,
            json!({ "email": OWNER_EMAIL, "password": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(new["data"]["signIn"]["role"], "OWNER", "{new}");

    // Audited in both clinics (two requests in each, then the reset); nothing for the address
    // without an account.
    let actions = app.audit_actions().await;
    let count = |action: &str| actions.iter().filter(|(a, _)| a == action).count();
    assert_eq!(count("auth.password_reset_requested"), 4, "{actions:?}");
    assert_eq!(count("auth.password_reset"), 2, "{actions:?}");
    let left = app
        .db
        .query_strings(
            "SELECT email FROM password_resets ORDER BY email",
            &["email"],
        )
        .await;
    assert_eq!(
        left,
        vec![vec!["nobody@clinic.test".to_owned()]],
        "the account's links are gone; the other expires unused"
    );
}

on_both_databases!(a_forgotten_password_is_reset_by_a_mailed_link);

/// However often an address is asked for, it gets three mails an hour (and the answer stays the
/// same); an hour later it gets one again; past the sign-in limit for the address, asking is
/// refused as `RATE_LIMITED`.
async fn an_address_gets_three_reset_mails_an_hour(kind: DatabaseKind) {
    let smtp = FakeSmtp::start().await.expect("fake SMTP");
    let app = TestApp::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let state = app.db.state_with(
        web.path(),
        &[
            ("RINGBACK_SMTP_URL", smtp.url()),
            ("RINGBACK_MAIL_FROM", "Ringback <no-reply@ringback.test>"),
        ],
    );
    let mut visitor = Browser::new(build_app(state));
    for _ in 0..4 {
        let answer = visitor.run(ASK, json!({ "email": OWNER_EMAIL })).await;
        assert_eq!(answer, json!({ "data": { "requestPasswordReset": true } }));
    }
    let stored = || async {
        app.db
            .query_strings("SELECT email FROM password_resets", &["email"])
            .await
            .len()
    };
    assert_eq!(stored().await, 3, "the fourth stores and sends nothing");
    app.db.clock.advance(chrono::Duration::minutes(61));
    visitor.run(ASK, json!({ "email": OWNER_EMAIL })).await;
    assert_eq!(stored().await, 4);
    // Asking goes through the sign-in limits too: five a minute per address.
    let limited = visitor.run(ASK, json!({ "email": OWNER_EMAIL })).await;
    assert_eq!(error_code(&limited), Some("RATE_LIMITED"), "{limited}");
    let mails = smtp.wait_for_mails(4, Duration::from_secs(10)).await;
    assert_eq!(mails.len(), 4, "{mails:?}");
}

on_both_databases!(an_address_gets_three_reset_mails_an_hour);

/// The operator's link, for servers that send no mail: issued for an account only, audited with
/// no actor, and it resets like a mailed one.
async fn the_operators_link_resets_without_mail(kind: DatabaseKind) {
    let app = TestApp::new(kind).await;
    let state = &app.state;
    let nobody = ringback_api::service::password_resets::issue(
        &state.db,
        &state.clock,
        "nobody@clinic.test",
    )
    .await
    .expect("issue");
    assert!(nobody.is_none(), "no link without an account");
    let token = ringback_api::service::password_resets::issue(&state.db, &state.clock, OWNER_EMAIL)
        .await
        .expect("issue")
        .expect("a link for the owner");
    let (reset, _) = reset_with(state, &token, NEW_PASSWORD).await;
    assert_eq!(reset["data"]["resetPassword"]["role"], "OWNER", "{reset}");
    let issued = app
        .db
        .query_strings(
            "SELECT CASE WHEN actor_user_id IS NULL THEN 'operator' ELSE 'someone' END AS who \
             FROM audit_log WHERE action = 'auth.password_reset_link_issued'",
            &["who"],
        )
        .await;
    assert_eq!(issued, vec![vec!["operator".to_owned()]]);
}

/// A link lapses when its account's password is changed, or every session of it is ended, on
/// purpose: someone who once read the mailbox cannot use one afterwards.
async fn links_lapse_when_the_password_changes_or_sessions_end(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let issue = async |app: &TestApp| {
        ringback_api::service::password_resets::issue(&app.state.db, &app.state.clock, OWNER_EMAIL)
            .await
            .expect("issue")
            .expect("a link for the owner")
    };
    let before_change = issue(&app).await;
    let changed = app
        .owner
        .run(
            "mutation($new: String!) { changePassword(currentPassword: \"correct horse battery\", \
             newPassword: $new) { role } }",
            json!({ "new": NEW_PASSWORD }),
        )
        .await;
    assert_eq!(
        changed["data"]["changePassword"]["role"], "OWNER",
        "{changed}"
    );
    let (lapsed, _) = reset_with(&app.state, &before_change, "another new password").await;
    assert_eq!(
        error_code(&lapsed),
        Some("BAD_USER_INPUT"),
        "a link from before the change: {lapsed}"
    );

    let before_ending = issue(&app).await;
    let ended = app
        .owner
        .run("mutation { signOutEverywhere }", json!({}))
        .await;
    assert_eq!(ended["data"]["signOutEverywhere"], true, "{ended}");
    let (lapsed, _) = reset_with(&app.state, &before_ending, "another new password").await;
    assert_eq!(
        error_code(&lapsed),
        Some("BAD_USER_INPUT"),
        "a link from before every session ended: {lapsed}"
    );
    let fresh = issue(&app).await;
    let (reset, _) = reset_with(&app.state, &fresh, "another new password").await;
    assert_eq!(reset["data"]["resetPassword"]["role"], "OWNER", "{reset}");
}

on_both_databases!(the_operators_link_resets_without_mail);
on_both_databases!(links_lapse_when_the_password_changes_or_sessions_end);
