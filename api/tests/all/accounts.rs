//! Accounts and sessions on SQLite and on PostgreSQL (as the application role, so row-level
//! security applies): sign-up, sign-in, `me`, refresh-token rotation with reuse detection,
//! sign-out, clear errors, rate limits, and an intact audit chain.

use crate::common::TestDb;
use crate::common::app::{OWNER_EMAIL, TestApp};
use crate::common::graphql::{
    Browser, ME, REFRESH, SIGN_IN, SIGN_OUT, SIGN_UP, error_code, sign_up_input,
};
use ringback_api::config::DatabaseKind;
use ringback_api::service::audit;
use serde_json::json;

async fn sign_up_sign_in_refresh_and_sign_out(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut browser = Browser::new(test_db.app(web.path()));

    let signed_up = browser
        .run(SIGN_UP, sign_up_input("ada@riverside.test"))
        .await;
    assert_eq!(signed_up["data"]["signUp"]["role"], "OWNER", "{signed_up}");
    assert_eq!(
        signed_up["data"]["signUp"]["clinic"]["attributionWindowDays"],
        7
    );
    assert_eq!(browser.last_set_cookies.len(), 2);
    for cookie in &browser.last_set_cookies {
        assert!(cookie.starts_with("__Host-"), "{cookie}");
        for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(cookie.contains(attribute), "{cookie} has {attribute}");
        }
    }
    let me = browser.run(ME, json!({})).await;
    assert_eq!(
        me["data"]["me"]["user"]["email"], "ada@riverside.test",
        "{me}"
    );
    assert_eq!(me["data"]["me"]["clinic"]["name"], "Riverside Dental");

    let first_refresh = browser.cookies["__Host-rb_refresh"].clone();
    let refreshed = browser.run(REFRESH, json!({})).await;
    assert_eq!(
        refreshed["data"]["refreshSession"]["role"], "OWNER",
        "{refreshed}"
    );
    let second_refresh = browser.cookies["__Host-rb_refresh"].clone();
    assert_ne!(first_refresh, second_refresh, "the refresh token rotates");

    // Replaying the first refresh token long after it was exchanged (as a thief would) revokes
    // the whole family; within seconds of the exchange it is a racing tab, refused alone.
    test_db
        .clock
        .advance(ringback_api::service::account::REFRESH_GRACE + chrono::Duration::seconds(1));
    let mut thief = Browser::new(test_db.app(web.path()));
    thief
        .cookies
        .insert("__Host-rb_refresh".to_owned(), first_refresh);
    let replay = thief.run(REFRESH, json!({})).await;
    assert_eq!(error_code(&replay), Some("UNAUTHENTICATED"), "{replay}");
    let before_reuse_seen = browser.cookies.clone();
    let after_reuse = browser.run(REFRESH, json!({})).await;
    assert_eq!(
        error_code(&after_reuse),
        Some("UNAUTHENTICATED"),
        "family revoked: {after_reuse}"
    );
    let mut unaware_tab = Browser::new(test_db.app(web.path()));
    unaware_tab.cookies = before_reuse_seen;
    let me_after_reuse = unaware_tab.run(ME, json!({})).await;
    assert_eq!(
        error_code(&me_after_reuse),
        Some("UNAUTHENTICATED"),
        "the access token ends with its sign-in, before its expiry: {me_after_reuse}"
    );

    let mut second = Browser::new(test_db.app(web.path()));
    let signed_in = second
        .run(
            SIGN_IN,
            json!({ "email": "ADA@riverside.test", "password": "correct horse battery" }),
        )
        .await;
    assert_eq!(signed_in["data"]["signIn"]["role"], "OWNER", "{signed_in}");
    let mut third = Browser::new(test_db.app(web.path()));
    third
        .run(
            SIGN_IN,
            json!({ "email": "ada@riverside.test", "password": "correct horse battery" }),
        )
        .await;
    let stale_cookies = second.cookies.clone();
    assert_eq!(
        second.run(SIGN_OUT, json!({})).await["data"]["signOut"],
        true
    );
    assert!(second.cookies.is_empty(), "sign-out clears the cookies");
    let mut after_sign_out = Browser::new(test_db.app(web.path()));
    after_sign_out.cookies = stale_cookies;
    let me_signed_out = after_sign_out.run(ME, json!({})).await;
    assert_eq!(
        error_code(&me_signed_out),
        Some("UNAUTHENTICATED"),
        "a signed-out access token stops at once: {me_signed_out}"
    );
    let me_elsewhere = third.run(ME, json!({})).await;
    assert_eq!(
        me_elsewhere["data"]["me"]["role"], "OWNER",
        "another sign-in of the same user goes on: {me_elsewhere}"
    );
    let me_anonymous = Browser::new(test_db.app(web.path()))
        .run(ME, json!({}))
        .await;
    assert_eq!(error_code(&me_anonymous), Some("UNAUTHENTICATED"));

    let report = audit::verify(&test_db.db).await.expect("verify");
    assert!(report.broken.is_empty(), "{report:?}");
    assert!(
        report.entries >= 4,
        "sign-up, sign-in, reuse and sign-out are audited: {report:?}"
    );
    test_db.finish().await;
}

async fn bad_input_and_bad_credentials_get_clear_codes(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut browser = Browser::new(test_db.app(web.path()));
    browser
        .run(SIGN_UP, sign_up_input("grace@riverside.test"))
        .await;

    let duplicate = Browser::new(test_db.app(web.path()))
        .run(SIGN_UP, sign_up_input("grace@riverside.test"))
        .await;
    assert_eq!(error_code(&duplicate), Some("CONFLICT"), "{duplicate}");

    let mut bad_zone = sign_up_input("zone@riverside.test");
    bad_zone["input"]["timeZone"] = json!("Mars/Olympus");
    let refused = Browser::new(test_db.app(web.path()))
        .run(SIGN_UP, bad_zone)
        .await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");

    let mut short = sign_up_input("short@riverside.test");
    short["input"]["password"] = json!("short");
    let refused = Browser::new(test_db.app(web.path()))
        .run(SIGN_UP, short)
        .await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");

    let kind = browser
        .run(
            "mutation { updateClinicSettings(input: { kind: \"trade\" }) { kind } }",
            json!({}),
        )
        .await;
    assert_eq!(
        kind["data"]["updateClinicSettings"]["kind"], "trade",
        "{kind}"
    );
    let bad_kind = browser
        .run(
            "mutation { updateClinicSettings(input: { kind: \"spaceship\" }) { kind } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&bad_kind), Some("BAD_USER_INPUT"), "{bad_kind}");
    let bad_window = browser
        .run("mutation { updateClinicSettings(input: { attributionWindowDays: 31, name: \"Kept?\" }) { name } }", json!({}))
        .await;
    assert_eq!(
        error_code(&bad_window),
        Some("BAD_USER_INPUT"),
        "{bad_window}"
    );
    let kept = browser
        .run("{ clinic { name kind attributionWindowDays } }", json!({}))
        .await;
    assert_eq!(
        kept["data"]["clinic"]["name"], "Riverside Dental",
        "nothing saved when one field is bad: {kept}"
    );

    let wrong = Browser::new(test_db.app(web.path()))
        .run(
            SIGN_IN,
            json!({ "email": "grace@riverside.test", "password": "wrong password!" }),
        )
        .await;
    let unknown = Browser::new(test_db.app(web.path()))
        .run(
            SIGN_IN,
            json!({ "email": "nobody@riverside.test", "password": "wrong password!" }),
        )
        .await;
    assert_eq!(error_code(&wrong), Some("UNAUTHENTICATED"));
    assert_eq!(
        wrong["errors"][0]["message"], unknown["errors"][0]["message"],
        "no account enumeration"
    );
    test_db.finish().await;
}

#[tokio::test]
async fn repeated_sign_in_attempts_are_rate_limited() {
    let test_db = TestDb::new(DatabaseKind::Sqlite).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut browser = Browser::new(test_db.app(web.path()));
    let attempt = json!({ "email": "target@riverside.test", "password": "guess guess guess" });
    let mut codes = Vec::new();
    for _ in 0..7 {
        codes.push(error_code(&browser.run(SIGN_IN, attempt.clone()).await).map(str::to_owned));
    }
    assert_eq!(codes[0].as_deref(), Some("UNAUTHENTICATED"));
    assert_eq!(codes[6].as_deref(), Some("RATE_LIMITED"), "{codes:?}");
    test_db.finish().await;
}

async fn an_invite_signs_in_to_its_clinic_and_members_of_two_switch(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    // Someone who already owns a clinic is invited to help at another.
    let mut own = Browser::new(test_db.app(web.path()));
    own.run(SIGN_UP, sign_up_input("dual@riverside.test")).await;
    let mut other = Browser::new(test_db.app(web.path()));
    let created = other
        .run(SIGN_UP, sign_up_input("owner@hillside.test"))
        .await;
    let inviting_clinic = created["data"]["signUp"]["clinic"]["id"].clone();
    let invited = other
        .run(
            "mutation { inviteMember(email: \"dual@riverside.test\", displayName: \"Dual\", role: ADMIN) { token } }",
            json!({}),
        )
        .await;
    let token = invited["data"]["inviteMember"]["token"].clone();
    // The invitation is no way to try the account's password: without a session of that account
    // it is refused, whatever password comes with it, and nothing is joined.
    let password = sign_up_input("x")["input"]["password"].clone();
    let mut joining = Browser::new(test_db.app(web.path()));
    for (who, attempt) in [
        (&mut joining, password.clone()),
        (&mut other, password.clone()),
    ] {
        let refused = who
            .run(
                "mutation($token: String!, $password: String) { acceptInvite(token: $token, password: $password) { role } }",
                json!({ "token": token, "password": attempt }),
            )
            .await;
        assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
        assert!(
            refused["errors"][0]["message"]
                .as_str()
                .is_some_and(|message| message.contains("sign in")),
            "{refused}"
        );
    }
    let signed_in = joining
        .run(
            SIGN_IN,
            json!({ "email": "dual@riverside.test", "password": password }),
        )
        .await;
    assert_eq!(signed_in["data"]["signIn"]["role"], "OWNER", "{signed_in}");
    let accepted = joining
        .run(
            "mutation($token: String!) { acceptInvite(token: $token) { role clinic { id } } }",
            json!({ "token": token }),
        )
        .await;
    assert_eq!(
        accepted["data"]["acceptInvite"]["role"], "ADMIN",
        "{accepted}"
    );
    assert_eq!(
        accepted["data"]["acceptInvite"]["clinic"]["id"],
        inviting_clinic
    );
    let me = joining.run(ME, json!({})).await;
    assert_eq!(me["data"]["me"]["role"], "ADMIN", "{me}");

    // Both clinics are theirs to move between; moving ends the session left behind.
    let listed = joining
        .run(
            "{ myClinics { clinic { id name } role current } }",
            json!({}),
        )
        .await;
    let clinics = listed["data"]["myClinics"]
        .as_array()
        .expect("clinics")
        .clone();
    assert_eq!(clinics.len(), 2, "{listed}");
    assert_eq!(clinics[0]["role"], "OWNER");
    assert_eq!(clinics[0]["current"], false);
    assert_eq!(clinics[1]["clinic"]["id"], inviting_clinic);
    assert_eq!(clinics[1]["current"], true);
    let left_behind = joining.cookies["__Host-rb_refresh"].clone();
    let left_behind_access = joining.cookies["__Host-rb_session"].clone();
    let switched = joining
        .run(
            "mutation($id: ID!) { switchClinic(clinicId: $id) { role clinic { id } } }",
            json!({ "id": clinics[0]["clinic"]["id"] }),
        )
        .await;
    assert_eq!(
        switched["data"]["switchClinic"]["role"], "OWNER",
        "{switched}"
    );
    assert_eq!(
        switched["data"]["switchClinic"]["clinic"]["id"],
        clinics[0]["clinic"]["id"]
    );
    let me = joining.run(ME, json!({})).await;
    assert_eq!(me["data"]["me"]["role"], "OWNER", "{me}");
    let mut old_tab = Browser::new(test_db.app(web.path()));
    old_tab
        .cookies
        .insert("__Host-rb_refresh".to_owned(), left_behind);
    let refreshed = old_tab.run(REFRESH, json!({})).await;
    assert_eq!(
        error_code(&refreshed),
        Some("UNAUTHENTICATED"),
        "{refreshed}"
    );
    let mut old_access = Browser::new(test_db.app(web.path()));
    old_access
        .cookies
        .insert("__Host-rb_session".to_owned(), left_behind_access);
    let me_left_behind = old_access.run(ME, json!({})).await;
    assert_eq!(
        error_code(&me_left_behind),
        Some("UNAUTHENTICATED"),
        "the clinic left behind is signed out at once: {me_left_behind}"
    );

    // A session at the other clinic ends when the password changes here.
    let mut elsewhere = Browser::new(test_db.app(web.path()));
    elsewhere
        .run(
            SIGN_IN,
            json!({ "email": "dual@riverside.test", "password": "correct horse battery" }),
        )
        .await;
    let back = elsewhere
        .run(
            "mutation($id: ID!) { switchClinic(clinicId: $id) { role } }",
            json!({ "id": inviting_clinic }),
        )
        .await;
    assert_eq!(back["data"]["switchClinic"]["role"], "ADMIN", "{back}");
    let changed = joining
        .run(
            "mutation { changePassword(currentPassword: \"correct horse battery\", newPassword: \"a new password 2\") { role } }",
            json!({}),
        )
        .await;
    assert_eq!(
        changed["data"]["changePassword"]["role"], "OWNER",
        "{changed}"
    );
    let stale = elsewhere.run(REFRESH, json!({})).await;
    assert_eq!(error_code(&stale), Some("UNAUTHENTICATED"), "{stale}");
    test_db.finish().await;
}

/// Sign-in attempts over real HTTP, each for a different account, with `forwarded_for` giving the
/// `X-Forwarded-For` of each; the error code of each answer.
async fn sign_in_codes(
    base: &str,
    forwarded_for: impl Fn(usize) -> String,
    attempts: usize,
) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut codes = Vec::new();
    for attempt in 0..attempts {
        let body = json!({
            "query": SIGN_IN,
            "variables": { "email": format!("guess{attempt}@riverside.test"), "password": "guess guess guess" },
        });
        let answer: serde_json::Value = client
            .post(format!("{base}/graphql"))
            .header("X-Forwarded-For", forwarded_for(attempt))
            .json(&body)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        codes.push(error_code(&answer).unwrap_or_default().to_owned());
    }
    codes
}

#[tokio::test]
async fn behind_a_trusted_proxy_clients_are_limited_apart_and_cannot_spoof() {
    use ringback_api::auth::rate_limit::SIGN_IN_PER_ADDRESS_PER_MINUTE as LIMIT;
    let test_db = TestDb::new(DatabaseKind::Sqlite).await;
    let web = tempfile::tempdir().expect("tempdir");
    let limit = LIMIT as usize;

    // The load balancer (here, the loopback peer) is trusted: each client has its own allowance.
    let proxied = crate::common::serve(ringback_api::http::build_app(test_db.state_with(
        web.path(),
        &[("RINGBACK_TRUSTED_PROXIES", "127.0.0.1, ::1")],
    )))
    .await;
    // Twice the limit: the limiter refills one attempt every few seconds, and a loaded machine
    // may take that long over the first batch.
    let first = sign_in_codes(&proxied, |_| "203.0.113.1".to_owned(), 2 * limit).await;
    assert!(
        first[..limit].iter().all(|code| code == "UNAUTHENTICATED"),
        "{first:?}"
    );
    assert!(
        first[limit..].iter().any(|code| code == "RATE_LIMITED"),
        "{first:?}"
    );
    let other = sign_in_codes(&proxied, |_| "203.0.113.2".to_owned(), 1).await;
    assert_eq!(
        other,
        ["UNAUTHENTICATED"],
        "another client behind the same proxy"
    );

    // Without trusted proxies the header is the client's own words: changing it does not help.
    let direct =
        crate::common::serve(ringback_api::http::build_app(test_db.state(web.path()))).await;
    let spoofed = sign_in_codes(&direct, |n| format!("198.51.100.{n}"), 2 * limit).await;
    assert!(
        spoofed.iter().any(|code| code == "RATE_LIMITED"),
        "{spoofed:?}"
    );
    test_db.finish().await;
}

#[tokio::test]
async fn a_session_cookie_on_a_non_json_request_is_ignored() {
    let test_db = TestDb::new(DatabaseKind::Sqlite).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut browser = Browser::new(test_db.app(web.path()));
    browser
        .run(SIGN_UP, sign_up_input("csrf@riverside.test"))
        .await;
    let cookie = format!("__Host-rb_session={}", browser.cookies["__Host-rb_session"]);
    // What another site could send without a CORS preflight: a simple content type.
    let response = browser
        .client
        .post("/graphql")
        .content_type("text/plain")
        .header("Cookie", cookie)
        .body(json!({ "query": ME }).to_string())
        .send()
        .await;
    // Refused before any operation runs (415), so the cookie never counts.
    response.assert_status(poem::http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let body = response.0.into_body().into_string().await.expect("body");
    assert!(!body.contains("csrf@riverside.test"), "{body}");
    assert!(body.contains("BAD_USER_INPUT"), "{body}");
    test_db.finish().await;
}

#[tokio::test]
async fn audit_verify_names_the_first_tampered_entry() {
    let test_db = TestDb::new(DatabaseKind::Sqlite).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut browser = Browser::new(test_db.app(web.path()));
    browser
        .run(SIGN_UP, sign_up_input("audit@riverside.test"))
        .await;
    browser.run(SIGN_OUT, json!({})).await;
    browser
        .run(
            SIGN_IN,
            json!({ "email": "audit@riverside.test", "password": "correct horse battery" }),
        )
        .await;
    assert!(
        audit::verify(&test_db.db)
            .await
            .expect("verify")
            .broken
            .is_empty()
    );
    use sea_orm::ConnectionTrait;
    test_db
        .db
        .execute_unprepared("UPDATE audit_log SET action = 'auth.nothing_to_see' WHERE seq = 2")
        .await
        .expect("tamper");
    let report = audit::verify(&test_db.db).await.expect("verify");
    assert_eq!(report.broken.len(), 1, "{report:?}");
    assert_eq!(report.broken[0].seq, 2);
    // Read an entry at a time, the chain is followed across pages to the same findings.
    let paged = audit::verify_in_pages(&test_db.db, 1)
        .await
        .expect("verify");
    assert_eq!(paged, report);
    test_db.finish().await;
}

async fn password_change_ends_other_sessions(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut laptop = Browser::new(test_db.app(web.path()));
    laptop
        .run(SIGN_UP, sign_up_input("pw@riverside.test"))
        .await;
    let mut phone = Browser::new(test_db.app(web.path()));
    phone
        .run(
            SIGN_IN,
            json!({ "email": "pw@riverside.test", "password": "correct horse battery" }),
        )
        .await;

    let wrong = laptop
        .run(
            "mutation { changePassword(currentPassword: \"not it at all\", newPassword: \"new horse battery\") { role } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&wrong), Some("BAD_USER_INPUT"), "{wrong}");
    let changed = laptop
        .run(
            "mutation { changePassword(currentPassword: \"correct horse battery\", newPassword: \"new horse battery\") { role } }",
            json!({}),
        )
        .await;
    assert_eq!(
        changed["data"]["changePassword"]["role"], "OWNER",
        "{changed}"
    );
    assert_eq!(
        laptop.run(REFRESH, json!({})).await["data"]["refreshSession"]["role"],
        "OWNER",
        "this session goes on"
    );
    let other_access = phone.run(ME, json!({})).await;
    assert_eq!(
        error_code(&other_access),
        Some("UNAUTHENTICATED"),
        "the other device's access token ends at once, not at its expiry: {other_access}"
    );
    let other = phone.run(REFRESH, json!({})).await;
    assert_eq!(
        error_code(&other),
        Some("UNAUTHENTICATED"),
        "other sessions end: {other}"
    );
    let old = Browser::new(test_db.app(web.path()))
        .run(
            SIGN_IN,
            json!({ "email": "pw@riverside.test", "password": "correct horse battery" }),
        )
        .await;
    assert_eq!(error_code(&old), Some("UNAUTHENTICATED"));
    let log = laptop
        .run(
            "{ auditLog(first: 20) { edges { node { action } } } }",
            json!({}),
        )
        .await;
    assert!(log.to_string().contains("auth.password_changed"), "{log}");
    test_db.finish().await;
}

/// Signing out everywhere ends every session of the user at once, the caller's too: access tokens
/// stop working before their expiry, refresh tokens are revoked, and it is audited.
async fn signing_out_everywhere_ends_every_session(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut laptop = Browser::new(test_db.app(web.path()));
    laptop
        .run(SIGN_UP, sign_up_input("all@riverside.test"))
        .await;
    let mut phone = Browser::new(test_db.app(web.path()));
    phone
        .run(
            SIGN_IN,
            json!({ "email": "all@riverside.test", "password": "correct horse battery" }),
        )
        .await;
    assert_eq!(
        phone.run(ME, json!({})).await["data"]["me"]["role"],
        "OWNER"
    );
    let stale_phone_cookies = phone.cookies.clone();
    let ended = phone.run("mutation { signOutEverywhere }", json!({})).await;
    assert_eq!(ended["data"]["signOutEverywhere"], true, "{ended}");
    assert!(phone.cookies.is_empty(), "the caller's cookies are cleared");
    for (who, cookies) in [
        ("laptop", laptop.cookies.clone()),
        ("phone", stale_phone_cookies),
    ] {
        let mut replay = Browser::new(test_db.app(web.path()));
        replay.cookies = cookies;
        let me = replay.run(ME, json!({})).await;
        assert_eq!(error_code(&me), Some("UNAUTHENTICATED"), "{who}: {me}");
        let renewed = replay.run(REFRESH, json!({})).await;
        assert_eq!(
            error_code(&renewed),
            Some("UNAUTHENTICATED"),
            "{who}: {renewed}"
        );
    }
    let mut again = Browser::new(test_db.app(web.path()));
    again
        .run(
            SIGN_IN,
            json!({ "email": "all@riverside.test", "password": "correct horse battery" }),
        )
        .await;
    let log = again
        .run(
            "{ auditLog(first: 5) { edges { node { action } } } }",
            json!({}),
        )
        .await;
    assert!(
        log.to_string().contains("auth.signed_out_everywhere"),
        "{log}"
    );
    test_db.finish().await;
}

/// A sign-in lasts at most `REFRESH_TTL`, however often it is renewed: renewing never extends the
/// chain's expiry.
async fn a_sign_in_has_an_absolute_lifetime(kind: DatabaseKind) {
    use ringback_api::auth::session::REFRESH_TTL;
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut browser = Browser::new(test_db.app(web.path()));
    browser
        .run(SIGN_UP, sign_up_input("long@riverside.test"))
        .await;
    let step = REFRESH_TTL / 3;
    for _ in 0..2 {
        test_db.clock.advance(step);
        let renewed = browser.run(REFRESH, json!({})).await;
        assert_eq!(
            renewed["data"]["refreshSession"]["role"], "OWNER",
            "{renewed}"
        );
    }
    test_db.clock.advance(step + chrono::Duration::minutes(1));
    let expired = browser.run(REFRESH, json!({})).await;
    assert_eq!(error_code(&expired), Some("UNAUTHENTICATED"), "{expired}");
    test_db.finish().await;
}

/// Two tabs renewing the same session at once: exactly one exchange wins, the other is refused
/// as a conflict without ending the session (no fork, nobody signed out: its answer leaves the
/// cookies, which the tabs share, as they are), and the winner's token renews again.
async fn racing_refreshes_fork_nothing_and_sign_nobody_out(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut browser = Browser::new(test_db.app(web.path()));
    browser
        .run(SIGN_UP, sign_up_input("tabs@riverside.test"))
        .await;
    let mut tabs = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let mut tab = Browser::new(test_db.app(web.path()));
        tab.cookies = browser.cookies.clone();
        tabs.spawn(async move {
            let answer = tab.run(REFRESH, json!({})).await;
            (answer, tab.cookies)
        });
    }
    let mut winners = Vec::new();
    let mut refused = 0;
    while let Some(joined) = tabs.join_next().await {
        let (answer, cookies) = joined.expect("tab");
        match error_code(&answer) {
            None => winners.push(cookies),
            Some("CONFLICT") => {
                assert_eq!(cookies, browser.cookies, "the cookies stay: {answer}");
                refused += 1;
            }
            Some(other) => panic!("unexpected {other}: {answer}"),
        }
    }
    assert_eq!(
        (winners.len(), refused),
        (1, 1),
        "exactly one exchange wins"
    );
    browser.cookies = winners.remove(0);
    let again = browser.run(REFRESH, json!({})).await;
    assert_eq!(again["data"]["refreshSession"]["role"], "OWNER", "{again}");
    let tokens = test_db
        .query_strings(
            "SELECT count(*) || '' AS n FROM refresh_tokens WHERE revoked_at IS NULL",
            &["n"],
        )
        .await;
    assert_eq!(
        tokens[0][0], "3",
        "one chain of three tokens, none revoked, no fork"
    );
    test_db.finish().await;
}

on_both_databases!(
    signing_out_everywhere_ends_every_session,
    a_sign_in_has_an_absolute_lifetime,
    racing_refreshes_fork_nothing_and_sign_nobody_out,
    an_invite_signs_in_to_its_clinic_and_members_of_two_switch,
    sign_up_sign_in_refresh_and_sign_out,
    bad_input_and_bad_credentials_get_clear_codes,
    password_change_ends_other_sessions,
);

/// Every password check shares the sign-in limits: failed sign-ins with the owner's address use
/// up the account's allowance, and `changePassword` then answers `RATE_LIMITED` before checking
/// anything; a wrong current password is refused and audited.
async fn password_checks_share_the_sign_in_limits(kind: DatabaseKind) {
    use ringback_api::auth::rate_limit::SIGN_IN_PER_ACCOUNT_PER_MINUTE as LIMIT;
    let mut app = TestApp::new(kind).await;
    let wrong = "mutation { changePassword(currentPassword: \"not it at all\", newPassword: \"new horse battery\") { role } }";
    let refused = app.owner.run(wrong, json!({})).await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    let log = app
        .owner
        .run(
            "{ auditLog(first: 5) { edges { node { action } } } }",
            json!({}),
        )
        .await;
    assert!(
        log.to_string().contains("auth.password_change_failed"),
        "{log}"
    );

    let mut stranger = app.browser();
    let guess = json!({ "email": OWNER_EMAIL.to_uppercase(), "password": "a guess a guess" });
    let mut codes = Vec::new();
    for _ in 0..LIMIT {
        codes.push(error_code(&stranger.run(SIGN_IN, guess.clone()).await).map(str::to_owned));
    }
    assert!(
        codes
            .iter()
            .any(|code| code.as_deref() == Some("RATE_LIMITED")),
        "{codes:?}"
    );
    let limited = app.owner.run(wrong, json!({})).await;
    assert_eq!(error_code(&limited), Some("RATE_LIMITED"), "{limited}");
}

on_both_databases!(password_checks_share_the_sign_in_limits);

/// A sign-out that fails on the server (here its audit entry cannot be written) still clears the
/// browser's cookies: the next person at a shared front-desk computer is not signed in as the
/// last.
async fn a_failed_sign_out_still_clears_the_cookies(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    assert!(!app.owner.cookies.is_empty(), "signed in");
    app.db
        .execute_as_owner("ALTER TABLE audit_log RENAME TO audit_log_away")
        .await;
    let failed = app.owner.run(SIGN_OUT, json!({})).await;
    app.db
        .execute_as_owner("ALTER TABLE audit_log_away RENAME TO audit_log")
        .await;
    assert!(error_code(&failed).is_some(), "{failed}");
    assert!(
        app.owner.cookies.is_empty(),
        "the cookies are cleared all the same: {:?}",
        app.owner.last_set_cookies
    );
    let me = app.owner.run(ME, json!({})).await;
    assert_eq!(error_code(&me), Some("UNAUTHENTICATED"), "{me}");
}

on_both_databases!(a_failed_sign_out_still_clears_the_cookies);

/// With mail configured, sign-up confirms the address and never says whether it is taken:
/// `requestSignUp` answers a new address and one with an account alike (and `signUp` is
/// refused); the new address gets a link that creates the clinic and signs its owner in, once;
/// the other gets a note to sign in instead.
async fn sign_up_confirms_the_address_and_never_says_it_is_taken(kind: DatabaseKind) {
    let smtp = ringback_api::fakes::smtp::FakeSmtp::start()
        .await
        .expect("fake SMTP");
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let mut without_mail = Browser::new(test_db.app(web.path()));
    let taken = without_mail
        .run(SIGN_UP, sign_up_input("taken@clinic.test"))
        .await;
    assert!(taken["errors"].is_null(), "{taken}");
    let state = test_db.state_with(
        web.path(),
        &[
            ("RINGBACK_SMTP_URL", smtp.url()),
            ("RINGBACK_MAIL_FROM", "Ringback <no-reply@ringback.test>"),
        ],
    );
    let mut browser = Browser::new(ringback_api::build_app(state));

    let direct = browser.run(SIGN_UP, sign_up_input("new@clinic.test")).await;
    assert_eq!(error_code(&direct), Some("FORBIDDEN"), "{direct}");
    let request = "mutation($input: SignUpInput!) { requestSignUp(input: $input) }";
    let for_new = browser.run(request, sign_up_input("new@clinic.test")).await;
    let for_taken = browser
        .run(request, sign_up_input("taken@clinic.test"))
        .await;
    assert_eq!(for_new, json!({ "data": { "requestSignUp": true } }));
    assert_eq!(for_new, for_taken, "the same answer either way");

    let mails = smtp
        .wait_for_mails(2, std::time::Duration::from_secs(10))
        .await;
    let to = |address: &str| {
        mails
            .iter()
            .find(|mail| mail.to == [address])
            .map(|mail| mail.body())
            .unwrap_or_else(|| panic!("a mail to {address}: {mails:?}"))
    };
    let (new_body, taken_body) = (to("new@clinic.test"), to("taken@clinic.test"));
    assert!(taken_body.contains("already"), "{taken_body}");
    assert!(!taken_body.contains("confirm-sign-up"), "{taken_body}");
    let token: String = new_body
        .split_once("/confirm-sign-up#")
        .map(|(_, rest)| rest.chars().take(64).collect())
        .unwrap_or_else(|| panic!("a confirmation link: {new_body}"));

    let confirm = "mutation($token: String!, $password: String!) { \
                   confirmSignUp(token: $token, password: $password) { role user { email } } }";
    // Whoever has the link but not the password chosen with the request (the address's owner
    // opening a request someone else made) cannot confirm it; the link keeps working.
    let not_chosen = browser
        .run(
            confirm,
            json!({ "token": token, "password": "someone else's password" }),
        )
        .await;
    assert_eq!(
        error_code(&not_chosen),
        Some("BAD_USER_INPUT"),
        "{not_chosen}"
    );
    assert!(
        not_chosen.to_string().contains("not the password chosen"),
        "{not_chosen}"
    );
    // A confirmation that fails on the way (here: the master key rotated while the server ran)
    // says to try again, and the link still works when the server is put right.
    test_db
        .execute_as_owner(
            "INSERT INTO key_checks (name, check_value, created_at) \
             VALUES ('master_key', 'another key', CURRENT_TIMESTAMP)",
        )
        .await;
    let unavailable = browser
        .run(
            confirm,
            json!({ "token": token, "password": "correct horse battery" }),
        )
        .await;
    assert_eq!(
        error_code(&unavailable),
        Some("UNAVAILABLE"),
        "{unavailable}"
    );
    test_db
        .execute_as_owner("DELETE FROM key_checks WHERE name = 'master_key'")
        .await;
    let confirmed = browser
        .run(
            confirm,
            json!({ "token": token, "password": "correct horse battery" }),
        )
        .await;
    assert_eq!(
        confirmed["data"]["confirmSignUp"]["role"], "OWNER",
        "{confirmed}"
    );
    assert_eq!(
        confirmed["data"]["confirmSignUp"]["user"]["email"],
        "new@clinic.test"
    );
    let again = browser
        .run(
            confirm,
            json!({ "token": token, "password": "correct horse battery" }),
        )
        .await;
    assert_eq!(error_code(&again), Some("BAD_USER_INPUT"), "{again}");
    let waiting = test_db
        .query_strings(
            "SELECT email FROM sign_up_requests ORDER BY email",
            &["email"],
        )
        .await;
    assert_eq!(
        waiting,
        vec![vec!["taken@clinic.test".to_owned()]],
        "the confirmed request is gone; the other expires unused"
    );

    // The terms accepted with the request are recorded, with the time, when it is confirmed; a
    // request naming other terms is refused in words; each server says how it signs up.
    let accepted = test_db
        .query_strings(
            "SELECT terms_version, CASE WHEN terms_accepted_at IS NULL THEN 'no' ELSE 'yes' END AS at \
             FROM users WHERE email = 'new@clinic.test'",
            &["terms_version", "at"],
        )
        .await;
    assert_eq!(
        accepted,
        vec![vec![
            ringback_shared::terms::VERSION.to_owned(),
            "yes".to_owned()
        ]]
    );
    let mut old_terms = sign_up_input("late@clinic.test");
    old_terms["input"]["acceptedTerms"] = json!("2020-01-01");
    let refused = browser.run(request, old_terms).await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    assert!(
        refused.to_string().contains("terms of service"),
        "{refused}"
    );
    let info = "{ serverInfo { termsVersion signUpConfirmsByMail } }";
    let by_mail = browser.run(info, json!({})).await;
    let at_once = without_mail.run(info, json!({})).await;
    assert_eq!(
        by_mail["data"]["serverInfo"],
        json!({ "termsVersion": ringback_shared::terms::VERSION, "signUpConfirmsByMail": true })
    );
    assert_eq!(at_once["data"]["serverInfo"]["signUpConfirmsByMail"], false);
}

on_both_databases!(sign_up_confirms_the_address_and_never_says_it_is_taken);

/// An address gets at most three sign-up mails an hour, however often sign-up is asked for it;
/// beyond that the answer is the same and nothing is stored or sent.
async fn an_address_gets_three_sign_up_mails_an_hour(kind: DatabaseKind) {
    use ringback_api::service::sign_up_requests::MAILS_PER_ADDRESS;
    let smtp = ringback_api::fakes::smtp::FakeSmtp::start()
        .await
        .expect("fake SMTP");
    let test_db = TestDb::new(kind).await;
    let web = tempfile::tempdir().expect("tempdir");
    let state = test_db.state_with(
        web.path(),
        &[
            ("RINGBACK_SMTP_URL", smtp.url()),
            ("RINGBACK_MAIL_FROM", "Ringback <no-reply@ringback.test>"),
        ],
    );
    let mut browser = Browser::new(ringback_api::build_app(state));
    let request = "mutation($input: SignUpInput!) { requestSignUp(input: $input) }";
    for _ in 0..=MAILS_PER_ADDRESS {
        let answer = browser
            .run(request, sign_up_input("bombed@clinic.test"))
            .await;
        assert_eq!(answer, json!({ "data": { "requestSignUp": true } }));
    }
    let stored = test_db
        .query_strings(
            "SELECT count(*) || '' AS n FROM sign_up_requests WHERE email = 'bombed@clinic.test'",
            &["n"],
        )
        .await;
    assert_eq!(
        stored,
        [[MAILS_PER_ADDRESS.to_string()]],
        "the fourth is not kept"
    );
    let mails = smtp
        .wait_for_mails(3, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(mails.len(), 3, "{mails:?}");
    // An hour later the address may be mailed again.
    test_db.clock.advance(chrono::Duration::minutes(61));
    browser
        .run(request, sign_up_input("bombed@clinic.test"))
        .await;
    let stored = test_db
        .query_strings(
            "SELECT count(*) || '' AS n FROM sign_up_requests WHERE email = 'bombed@clinic.test'",
            &["n"],
        )
        .await;
    assert_eq!(stored, [[(MAILS_PER_ADDRESS + 1).to_string()]]);
    test_db.finish().await;
}

on_both_databases!(an_address_gets_three_sign_up_mails_an_hour);

/// A refresh token issued before its user's session version moved on (a password changed or
/// reset, every session ended) is refused even where its clinic's revocation did not get
/// through; a new sign-in renews as usual.
async fn a_refresh_token_ends_with_its_session_version(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let renewed = app.owner.run(REFRESH, json!({})).await;
    assert!(renewed["errors"].is_null(), "{renewed}");
    app.db
        .execute_as_owner("UPDATE users SET session_version = session_version + 1")
        .await;
    let refused = app.owner.run(REFRESH, json!({})).await;
    assert_eq!(error_code(&refused), Some("UNAUTHENTICATED"), "{refused}");
    app.sign_in_again().await;
    let renewed = app.owner.run(REFRESH, json!({})).await;
    assert!(renewed["errors"].is_null(), "{renewed}");
    app.db.finish().await;
}

on_both_databases!(a_refresh_token_ends_with_its_session_version);

/// A sign-in ends with any of its refresh tokens revoked: a token exchanged while its family was
/// being revoked (a refresh racing a sign-out) cannot be renewed afterwards.
async fn a_refresh_token_of_an_ended_sign_in_is_refused(kind: DatabaseKind) {
    let mut app = TestApp::new(kind).await;
    let renewed = app.owner.run(REFRESH, json!({})).await;
    assert!(renewed["errors"].is_null(), "{renewed}");
    // What the race leaves: the exchanged token revoked, the one it was exchanged for not.
    app.db
        .execute_as_owner(
            "UPDATE refresh_tokens SET revoked_at = created_at WHERE replaced_at IS NOT NULL",
        )
        .await;
    let refused = app.owner.run(REFRESH, json!({})).await;
    assert_eq!(error_code(&refused), Some("UNAUTHENTICATED"), "{refused}");
    app.db.finish().await;
}

on_both_databases!(a_refresh_token_of_an_ended_sign_in_is_refused);
