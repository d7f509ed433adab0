//! The dashboard, served by the real binary on an empty embedded database, renders what the API
//! reports, reloads on any route, and logs no console error.

use ringback_e2e::E2eError;
use ringback_e2e::browser::Browser;
use ringback_e2e::pages::StatusPage;
use ringback_e2e::server::RingbackServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_server_facts() {
    let server = RingbackServer::start().unwrap_or_else(|e| panic!("{e}"));
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e}"));
    let outcome = status_page_scenario(&browser, &server).await;
    if let Err(error) = outcome {
        let shot = browser.screenshot("dashboard_shows_server_facts").await;
        let console = browser.console_errors().await;
        let log = server.log();
        browser.close().await;
        panic!("{error}\nscreenshot: {shot:?}\nbrowser console: {console:?}\nserver log:\n{log}");
    }
    browser.close().await;
}

async fn status_page_scenario(browser: &Browser, server: &RingbackServer) -> Result<(), E2eError> {
    let page = StatusPage::open(&browser.client, &server.url).await?;
    let api = server.graphql("{ serverInfo { version schemaVersion pendingMigrations } }")?;
    let info = &api["data"]["serverInfo"];
    let version = info["version"].as_str().unwrap_or_default();
    expect_eq(
        page.text_of("server-version").await?,
        format!("Ringback {version}"),
    )?;
    expect_eq(page.text_of("server-database").await?, "SQLite".to_owned())?;
    let schema = info["schemaVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if schema.is_empty() {
        return Err(E2eError::Assertion(format!(
            "the API reports no schema version: {api}"
        )));
    }
    expect_eq(page.text_of("server-schema").await?, schema)?;
    expect_eq(
        page.text_of("server-pending").await?,
        info["pendingMigrations"].to_string(),
    )?;
    let errors = browser.console_errors().await?;
    if !errors.is_empty() {
        return Err(E2eError::Assertion(format!(
            "browser console has errors: {errors:#?}"
        )));
    }
    Ok(())
}

fn expect_eq(actual: String, expected: String) -> Result<(), E2eError> {
    if actual == expected {
        Ok(())
    } else {
        Err(E2eError::Assertion(format!(
            "expected {expected:?}, page shows {actual:?}"
        )))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_reloads_into_the_dashboard() {
    let server = RingbackServer::start().unwrap_or_else(|e| panic!("{e}"));
    let browser = Browser::start().await.unwrap_or_else(|e| panic!("{e}"));
    let deep_link = format!("{}settings/team", server.url);
    let outcome = StatusPage::open(&browser.client, &deep_link).await;
    if let Err(error) = outcome {
        let shot = browser.screenshot("every_route_reloads").await;
        browser.close().await;
        panic!("{error}\nscreenshot: {shot:?}");
    }
    browser.close().await;
}
