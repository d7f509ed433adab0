//! The HTTP surface on both databases: health and readiness, the first GraphQL query, the GraphQL
//! console, security headers, and the dashboard's static files with the single-page-app fallback.

use crate::common::TestDb;
use poem::http::StatusCode;
use poem::test::TestClient;
use ringback_api::config::DatabaseKind;
use ringback_migration::{Migrator, MigratorTrait};
use serde_json::{Value, json};

/// A dashboard build stand-in: an index page and one asset.
fn web_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>Ringback</title>",
    )
    .expect("index");
    std::fs::write(dir.path().join("app.js"), "console.log('ringback')").expect("asset");
    dir
}

async fn body_text(response: poem::test::TestResponse) -> String {
    response.0.into_body().into_string().await.expect("body")
}

async fn graphql(client: &TestClient<impl poem::Endpoint>, query: &str) -> Value {
    let response = client
        .post("/graphql")
        .body_json(&json!({ "query": query }))
        .send()
        .await;
    response.assert_status_is_ok();
    serde_json::from_str(&body_text(response).await).expect("json")
}

async fn serves_probes_graphql_and_dashboard(kind: DatabaseKind) {
    let test_db = TestDb::new(kind).await;
    let web = web_dir();
    let client = TestClient::new(test_db.app(web.path()));

    client.get("/healthz").send().await.assert_text("ok").await;
    client
        .get("/readyz")
        .send()
        .await
        .assert_text("ready")
        .await;

    let info = graphql(
        &client,
        "{ serverInfo { name version database schemaVersion pendingMigrations } }",
    )
    .await;
    let expected_engine = match kind {
        DatabaseKind::Sqlite => "SQLITE",
        DatabaseKind::Postgres => "POSTGRESQL",
    };
    let server_info = &info["data"]["serverInfo"];
    assert_eq!(server_info["name"], "Ringback");
    assert_eq!(server_info["database"], expected_engine);
    assert_eq!(server_info["pendingMigrations"], 0);
    let schema_version = server_info["schemaVersion"]
        .as_str()
        .expect("schema version");
    let newest = Migrator::migrations().last().map(|m| m.name().to_owned());
    assert_eq!(Some(schema_version.to_owned()), newest);

    // The console and every page carry the security headers; the console loads nothing from
    // another origin.
    let console = client.get("/graphql").send().await;
    console.assert_status_is_ok();
    let policy = console
        .0
        .headers()
        .get("content-security-policy")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    let page = body_text(console).await;
    assert!(page.contains("GraphQL console"), "{page}");
    assert!(
        !page.contains("://"),
        "no resource from another origin: {page}"
    );
    for asset in ["/graphql/console.js", "/graphql/console.css"] {
        client.get(asset).send().await.assert_status_is_ok();
    }
    let index = client.get("/").send().await;
    for (name, expected) in [
        ("x-content-type-options", "nosniff"),
        (
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        ),
    ] {
        index.assert_header(name, expected);
    }

    client
        .get("/app.js")
        .send()
        .await
        .assert_text("console.log('ringback')")
        .await;
    for route in ["/", "/overview", "/settings/team"] {
        let page = client.get(route).send().await;
        page.assert_status_is_ok();
        page.assert_text("<!doctype html><title>Ringback</title>")
            .await;
    }
    test_db.finish().await;
}

/// A document GraphQL itself refuses (an unknown field, a query nested too deep) is answered with
/// a message and `extensions.code = BAD_USER_INPUT`, as every other refusal is.
#[tokio::test]
async fn bad_graphql_gets_a_clear_error_not_a_500() {
    let test_db = TestDb::new(DatabaseKind::Sqlite).await;
    let web = web_dir();
    let client = TestClient::new(test_db.app(web.path()));
    let response = graphql(&client, "{ serverInfo { noSuchField } }").await;
    let message = response["errors"][0]["message"]
        .as_str()
        .expect("error message");
    assert!(message.contains("noSuchField"), "{message}");
    assert_eq!(
        response["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "every refusal carries a code: {response}"
    );

    let too_deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
        "ofType { ".repeat(12),
        "} ".repeat(12)
    );
    let response = graphql(&client, &too_deep).await;
    let message = response["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("nested too deep"),
        "depth limit rejects: {response}"
    );
    assert_eq!(
        response["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    test_db.finish().await;
}

/// A cross-site form can post `text/plain`, a urlencoded or a multipart body, never JSON: each is
/// refused with 415 before any operation runs, so a form cannot sign a victim in (login CSRF).
#[tokio::test]
async fn graphql_posts_that_are_not_json_are_refused() {
    let test_db = TestDb::new(DatabaseKind::Sqlite).await;
    let web = web_dir();
    let client = TestClient::new(test_db.app(web.path()));
    let sign_in =
        json!({ "query": "mutation { signIn(email: \"a@b.test\", password: \"x\") { role } }" });
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let response = client
            .post("/graphql")
            .content_type(content_type)
            .body(sign_in.to_string())
            .send()
            .await;
        response.assert_status(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(response.0.headers().get("set-cookie").is_none());
        let body: Value = serde_json::from_str(&body_text(response).await).expect("JSON");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
    let response = client
        .post("/graphql")
        .content_type("application/json; charset=utf-8")
        .body(json!({ "query": "{ serverInfo { name } }" }).to_string())
        .send()
        .await;
    response.assert_status_is_ok();
    test_db.finish().await;
}

#[tokio::test]
async fn oversized_graphql_body_is_refused_with_413() {
    let test_db = TestDb::new(DatabaseKind::Sqlite).await;
    let web = web_dir();
    let client = TestClient::new(test_db.app(web.path()));
    let huge = "x".repeat(ringback_api::http::MAX_GRAPHQL_BODY + 1);
    let response = client
        .post("/graphql")
        .body_json(&json!({ "query": format!("{{ serverInfo {{ name }} }} # {huge}") }))
        .send()
        .await;
    response.assert_status(StatusCode::PAYLOAD_TOO_LARGE);
    test_db.finish().await;
}

#[tokio::test]
async fn missing_dashboard_build_is_explained() {
    let test_db = TestDb::new(DatabaseKind::Sqlite).await;
    let empty = tempfile::tempdir().expect("tempdir");
    let client = TestClient::new(test_db.app(empty.path()));
    let response = client.get("/").send().await;
    response.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    assert!(body_text(response).await.contains("cargo xtask run"));
    client.get("/healthz").send().await.assert_status_is_ok();
    test_db.finish().await;
}

on_both_databases!(serves_probes_graphql_and_dashboard);

/// A deployment can turn the console and introspection off; operations still run.
#[tokio::test]
async fn the_console_and_introspection_can_be_turned_off() {
    let test_db = TestDb::new(DatabaseKind::Sqlite).await;
    let web = web_dir();
    let state = test_db.state_with(
        web.path(),
        &[
            ("RINGBACK_GRAPHQL_CONSOLE", "off"),
            ("RINGBACK_GRAPHQL_INTROSPECTION", "off"),
        ],
    );
    let client = TestClient::new(ringback_api::build_app(state));
    client
        .get("/graphql")
        .send()
        .await
        .assert_status(StatusCode::NOT_FOUND);
    let introspection = graphql(&client, "{ __schema { queryType { name } } }").await;
    assert!(
        introspection["data"]["__schema"].is_null(),
        "introspection answers nothing: {introspection}"
    );
    let info = graphql(&client, "{ serverInfo { name } }").await;
    assert_eq!(info["data"]["serverInfo"]["name"], "Ringback", "{info}");
    test_db.finish().await;
}

/// A request that passed every validation rule is answered the same when sent again (then it runs
/// on the schema that checks only depth, complexity and fragment cycles), but the same text with
/// other variables is checked in full: a value the schema refuses is refused every time. A refused
/// request is never taken as checked.
#[tokio::test]
async fn a_request_checked_once_is_checked_again_when_its_variables_change() {
    let test_db = TestDb::new(DatabaseKind::Sqlite).await;
    let web = web_dir();
    let client = TestClient::new(test_db.app(web.path()));
    let query = "query Info($show: Boolean!) { serverInfo { name @include(if: $show) database } }";
    let send = async |variables: Value| {
        let response = client
            .post("/graphql")
            .body_json(&json!({ "query": query, "variables": variables }))
            .send()
            .await;
        response.assert_status_is_ok();
        serde_json::from_str::<Value>(&body_text(response).await).expect("json")
    };

    let first = send(json!({ "show": true })).await;
    assert!(first.get("errors").is_none(), "{first}");
    assert_eq!(first["data"]["serverInfo"]["name"], "Ringback", "{first}");
    assert_eq!(send(json!({ "show": true })).await, first);
    let hidden = send(json!({ "show": false })).await;
    assert!(
        hidden["data"]["serverInfo"].get("name").is_none(),
        "{hidden}"
    );
    for _ in 0..2 {
        let refused = send(json!({ "show": "yes" })).await;
        assert!(refused["data"].is_null(), "{refused}");
        let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("Boolean"), "{refused}");
    }
    for _ in 0..2 {
        let refused = graphql(&client, "{ serverInfo { noSuchField } }").await;
        assert!(refused["data"].is_null(), "{refused}");
    }
    test_db.finish().await;
}

/// One request repeating a cheap root field under 240 aliases is refused before anything runs,
/// with a clear code (not a 5xx, not 480 queries).
#[tokio::test]
async fn an_alias_flood_is_refused_before_it_runs() {
    let test_db = TestDb::new(DatabaseKind::Sqlite).await;
    let web = web_dir();
    let client = TestClient::new(test_db.app(web.path()));
    let flood: String = (0..240)
        .map(|i| format!("a{i}: serverInfo {{ name }} "))
        .collect();
    let answer = graphql(&client, &format!("{{ {flood} }}")).await;
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{answer}"
    );
    assert!(answer["data"].is_null(), "nothing ran: {answer}");
    test_db.finish().await;
}

/// The request limits are settings, and every limited answer is the same whichever limit it met:
/// HTTP 429 with `Retry-After` and `RateLimit-*`, and `extensions.code = RATE_LIMITED`. An admin
/// sees a key's limit and this minute's use; provider webhooks keep their own limit while their
/// signature holds.
#[tokio::test]
async fn limits_are_settings_and_every_limited_answer_is_the_same() {
    use crate::common::app::TestApp;
    use crate::common::graphql::assert_limited_headers;

    // Per API key: three a minute.
    let mut app = TestApp::builder(DatabaseKind::Sqlite)
        .setting("RINGBACK_RATE_LIMIT_PER_API_KEY", "3")
        .build()
        .await;
    let created = app
        .owner
        .run(
            "mutation { createApiKey(name: \"PMS sync\", scope: READ) { secret apiKey { id } } }",
            json!({}),
        )
        .await;
    let secret = created["data"]["createApiKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let client = app.browser().client;
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..4 {
        let response = client
            .post("/graphql")
            .header("Authorization", format!("Bearer {secret}"))
            .content_type("application/json")
            .body(json!({ "query": "{ calls(first: 1) { edges { node { id } } } }" }).to_string())
            .send()
            .await;
        statuses.push(response.0.status().as_u16());
        last = Some(response);
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    let limited = last.expect("the fourth answer");
    assert_limited_headers(limited.0.headers());
    assert_eq!(limited.0.headers()["ratelimit-limit"], "3");
    assert_eq!(
        limited.0.headers()["retry-after"],
        "20",
        "one request refills in 20 s"
    );
    let body: Value = serde_json::from_str(&body_text(limited).await).expect("json");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["retryAfter"], 20, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["limitPerMinute"], 3,
        "{body}"
    );
    let keys = app
        .owner
        .run(
            "{ apiKeys { rateLimitPerMinute requestsThisMinute } }",
            json!({}),
        )
        .await;
    assert_eq!(
        keys["data"]["apiKeys"][0]["rateLimitPerMinute"], 3,
        "{keys}"
    );
    assert_eq!(
        keys["data"]["apiKeys"][0]["requestsThisMinute"], 4,
        "{keys}"
    );
    // A refused request with three fields is refused once: it counts as one request.
    let response = client
        .post("/graphql")
        .header("Authorization", format!("Bearer {secret}"))
        .content_type("application/json")
        .body(
            json!({ "query": "{ a: calls(first: 1) { edges { cursor } } \
                     b: calls(first: 1) { edges { cursor } } c: calls(first: 1) { edges { cursor } } }" })
            .to_string(),
        )
        .send()
        .await;
    assert_eq!(response.0.status().as_u16(), 429);
    let keys = app
        .owner
        .run("{ apiKeys { requestsThisMinute } }", json!({}))
        .await;
    assert_eq!(
        keys["data"]["apiKeys"][0]["requestsThisMinute"], 5,
        "{keys}"
    );

    // Per clinic: its staff together; another clinic is not affected.
    let mut app = TestApp::builder(DatabaseKind::Sqlite)
        .setting("RINGBACK_RATE_LIMIT_PER_CLINIC", "5")
        .build()
        .await;
    let mut codes = Vec::new();
    for _ in 0..8 {
        let answer = app.owner.run("{ me { role } }", json!({})).await;
        codes.push(crate::common::graphql::error_code(&answer).map(str::to_owned));
    }
    let first_refusal = codes
        .iter()
        .position(|code| code.as_deref() == Some("RATE_LIMITED"))
        .unwrap_or_else(|| panic!("the clinic's limit was met: {codes:?}"));
    assert!(
        codes[first_refusal..]
            .iter()
            .all(|code| code.as_deref() == Some("RATE_LIMITED")),
        "{codes:?}"
    );
    let mut other = app.browser();
    other
        .run(
            crate::common::graphql::SIGN_UP,
            crate::common::graphql::sign_up_input("other@clinic.test"),
        )
        .await;
    let theirs = other.run("{ me { role } }", json!({})).await;
    assert_eq!(theirs["data"]["me"]["role"], "OWNER", "{theirs}");

    // Per client address, over real HTTP: five a minute.
    let test_db = TestDb::new(DatabaseKind::Sqlite).await;
    let web = web_dir();
    let base = crate::common::serve(ringback_api::http::build_app(
        test_db.state_with(web.path(), &[("RINGBACK_RATE_LIMIT_PER_ADDRESS", "5")]),
    ))
    .await;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..6 {
        let response = http
            .post(format!("{base}/graphql"))
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .expect("request");
        statuses.push(response.status().as_u16());
        refused = Some(response);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    let refused = refused.expect("the sixth answer");
    let headers = refused.headers().clone();
    assert_limited_headers(&headers);
    assert_eq!(headers["retry-after"], "12");
    let body: Value = refused.json().await.expect("json");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{body}"
    );
    // A provider's signed webhook keeps its own limit; one that fails its signature counts as
    // anyone's request, so it is limited with the rest.
    let pairs = [("CallSid", "CAlimit01")];
    let signature = ringback_api::webhooks::twilio_signature::sign(
        crate::common::TWILIO_AUTH_TOKEN,
        &format!("{}/webhooks/twilio/voice", crate::common::PUBLIC_URL),
        &crate::common::twilio::params(&pairs),
    );
    let webhook = |signature: String| {
        http.post(format!("{base}/webhooks/twilio/voice"))
            .header("X-Twilio-Signature", signature)
            .form(&pairs)
            .send()
    };
    let signed = webhook(signature).await.expect("request");
    assert_ne!(
        signed.status().as_u16(),
        429,
        "signed webhooks keep their own limit"
    );
    let forged = webhook("forged".to_owned()).await.expect("request");
    assert_eq!(forged.status().as_u16(), 429, "forged ones do not");
    test_db.finish().await;

    // The same for Stripe's webhook: a forged event counts as anyone's request.
    let app = crate::common::app::TestApp::builder(DatabaseKind::Sqlite)
        .with_stripe()
        .setting("RINGBACK_RATE_LIMIT_PER_ADDRESS", "5")
        .build()
        .await;
    let base = crate::common::serve(ringback_api::http::build_app(app.state.clone())).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = http
            .post(format!("{base}/webhooks/stripe"))
            .header("Stripe-Signature", "t=1,v1=forged")
            .body("{}")
            .send()
            .await
            .expect("request");
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [400, 400, 400, 400, 400, 429]);
}
