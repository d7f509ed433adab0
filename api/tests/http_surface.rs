//! The HTTP surface on both databases: health and readiness, the first GraphQL query, the GraphQL
//! console, security headers, and the dashboard's static files with the single-page-app fallback.

mod common;

use common::TestDb;
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
