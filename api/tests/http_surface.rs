//! The HTTP surface on both databases: health and readiness, the first GraphQL query, GraphiQL,
//! and the dashboard's static files with the single-page-app fallback.

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

    let graphiql = client.get("/graphql").send().await;
    graphiql.assert_status_is_ok();
    assert!(
        body_text(graphiql)
            .await
            .to_lowercase()
            .contains("graphiql")
    );

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
