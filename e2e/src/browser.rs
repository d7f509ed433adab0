//! Headless Chromium through chromedriver (Debian's `chromium` and `chromium-driver`), driven over
//! WebDriver with fantoccini. Collects the browser console so tests can fail on any error, and
//! saves a screenshot when a scenario fails.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::{E2eError, artifacts_dir};

/// How long chromedriver may take to accept connections.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(30);

/// Flags for a headless Chromium on a machine with no network but loopback.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// A chromedriver process and a WebDriver session on it.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session.
    pub async fn start() -> Result<Self, E2eError> {
        let chromium = find_program("CHROME_BIN", "/usr/bin/chromium", "chromium")?;
        let chromedriver =
            find_program("CHROMEDRIVER", "/usr/bin/chromedriver", "chromium-driver")?;
        let port = free_port()?;
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| E2eError::Process(format!("cannot start chromedriver: {e}")))?;
        let mut guard = DriverGuard(Some(driver));
        wait_for_port(port)?;
        let profile =
            tempfile::tempdir().map_err(|e| E2eError::Process(format!("tempdir: {e}")))?;
        let capabilities = capabilities(&chromium, &profile);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .map_err(|e| E2eError::WebDriver(format!("cannot open a session: {e}")))?;
        let driver = guard
            .0
            .take()
            .ok_or_else(|| E2eError::Process("driver lost".to_owned()))?;
        Ok(Self {
            client,
            driver,
            _profile: profile,
        })
    }

    /// Console messages at level SEVERE (errors, uncaught exceptions, failed loads) since the last
    /// call.
    pub async fn console_errors(&self) -> Result<Vec<String>, E2eError> {
        let entries = self.client.issue_cmd(BrowserLog).await?;
        let entries = entries.as_array().cloned().unwrap_or_default();
        Ok(entries
            .iter()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect())
    }

    /// Moves the open page's clock (JavaScript's `Date`, which the dashboard reads the time from)
    /// `by` ahead of the real one, until the page is left: a dashboard left open overnight,
    /// without waiting for the night.
    pub async fn move_page_clock(&self, by: chrono::Duration) -> Result<(), E2eError> {
        self.client
            .execute(MOVE_PAGE_CLOCK, vec![json!(by.num_milliseconds())])
            .await?;
        Ok(())
    }

    /// Saves a screenshot of the current page as `<name>.png` in the artefacts directory.
    pub async fn screenshot(&self, name: &str) -> Result<PathBuf, E2eError> {
        let png = self.client.screenshot().await?;
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|e| E2eError::Process(format!("artefacts dir: {e}")))?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).map_err(|e| E2eError::Process(format!("screenshot: {e}")))?;
        Ok(path)
    }

    /// Ends the session and stops chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

/// Kills chromedriver if the session never opens.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn capabilities(chromium: &std::path::Path, profile: &tempfile::TempDir) -> Capabilities {
    let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|arg| (*arg).to_owned()).collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    let mut capabilities = Capabilities::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        json!({ "binary": chromium.display().to_string(), "args": args }),
    );
    capabilities.insert("goog:loggingPrefs".to_owned(), json!({ "browser": "ALL" }));
    capabilities
}

/// A program from an environment variable or its Debian path; missing means a clear error.
fn find_program(variable: &str, default: &str, package: &str) -> Result<PathBuf, E2eError> {
    let path = std::env::var(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(default));
    if path.is_file() {
        Ok(path)
    } else {
        Err(E2eError::Missing(format!(
            "{} (install Debian's `{package}` package: apt-get install chromium chromium-driver, or set {variable})",
            path.display()
        )))
    }
}

fn free_port() -> Result<u16, E2eError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| E2eError::Process(format!("free port: {e}")))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| E2eError::Process(format!("free port: {e}")))
}

fn wait_for_port(port: u16) -> Result<(), E2eError> {
    let deadline = Instant::now() + DRIVER_START_TIMEOUT;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(E2eError::Process(format!(
        "chromedriver did not listen on port {port} within {DRIVER_START_TIMEOUT:?}"
    )))
}

/// chromedriver's log endpoint (`POST /session/{id}/se/log` with type `browser`), which returns and
/// clears the console entries collected under `goog:loggingPrefs`.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": "browser" }).to_string()),
        )
    }
}

/// Replaces the page's `Date` with one running `arguments[0]` milliseconds ahead of the real
/// clock: `new Date()` and `Date.now()` move, dates made from a value stay what they are.
const MOVE_PAGE_CLOCK: &str = "const ahead = arguments[0]; \
     const Real = window.__ringbackRealDate || Date; \
     window.__ringbackRealDate = Real; \
     class Moved extends Real { \
         constructor(...args) { if (args.length === 0) { super(Real.now() + ahead); } else { super(...args); } } \
         static now() { return Real.now() + ahead; } \
     } \
     window.Date = Moved;";
