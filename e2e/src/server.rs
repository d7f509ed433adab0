//! Starts the real `ringback serve` on a free port with a temporary data directory (embedded SQLite)
//! and the built dashboard, and stops it when dropped. The demo is seeded once per test run, by
//! `ringback demo`, into a template directory; each server on the demo starts from a copy of it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use crate::{E2eError, workspace_root};

/// How long the server may take to print its URL (it migrates a fresh database first).
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// Line prefix `ringback serve` prints on stdout once it listens.
const URL_PREFIX: &str = "Ringback dashboard: ";

/// What the server starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Data {
    /// A fresh, empty database.
    Empty,
    /// The demo clinic (`ringback demo`): 90 days of calls, texts, callbacks and bookings.
    Demo,
}

/// The demo clinic's owner, as `ringback demo` creates it.
pub const DEMO_OWNER: (&str, &str) = ("owner@demo.ringback.test", "ringback-demo-owner");

/// Where this test run's demo template lives: one directory per process, named by its id.
const TEMPLATE_PREFIX: &str = "ringback-e2e-demo-";

/// How old another run's template must be before a new run removes it (no e2e run lasts a day).
const TEMPLATE_KEPT: Duration = Duration::from_secs(24 * 60 * 60);

/// The demo's data, seeded once per test run (the first server on the demo waits for it).
static DEMO_TEMPLATE: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Fills `data_dir` with the demo: a copy of this run's template, seeded on first use (and again
/// if the template went missing). Seeding takes seconds; a copy, milliseconds; every server of
/// the run gets the same demo, made when the run's first demo test started.
fn copy_demo(binary: &Path, data_dir: &Path) -> Result<(), E2eError> {
    let mut template = DEMO_TEMPLATE
        .lock()
        .map_err(|_| E2eError::Process("an earlier demo seeding panicked".to_owned()))?;
    if let Some(source) = template.as_ref()
        && copy_dir(source, data_dir).is_ok()
    {
        return Ok(());
    }
    *template = None;
    let source = fresh_template_dir()?;
    seed_demo(binary, &source)?;
    copy_dir(&source, data_dir)?;
    *template = Some(source);
    Ok(())
}

/// Copies every file of `source` into `target`.
fn copy_dir(source: &Path, target: &Path) -> Result<(), E2eError> {
    for entry in std::fs::read_dir(source).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        std::fs::copy(entry.path(), target.join(entry.file_name())).map_err(io_error)?;
    }
    Ok(())
}

/// An empty directory for this process's demo template, after removing other runs' templates
/// older than [`TEMPLATE_KEPT`] (a template outlives its run: statics are never dropped).
fn fresh_template_dir() -> Result<PathBuf, E2eError> {
    let temp = std::env::temp_dir();
    for entry in std::fs::read_dir(&temp).map_err(io_error)?.flatten() {
        let ours = entry
            .file_name()
            .to_string_lossy()
            .starts_with(TEMPLATE_PREFIX);
        let old = entry
            .metadata()
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > TEMPLATE_KEPT);
        if ours && old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let dir = temp.join(format!("{TEMPLATE_PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(io_error)?;
    Ok(dir)
}

fn io_error(error: std::io::Error) -> E2eError {
    E2eError::Process(format!("demo template: {error}"))
}

/// Runs `ringback demo` on `data_dir` and waits for it.
fn seed_demo(binary: &Path, data_dir: &Path) -> Result<(), E2eError> {
    let mut command = Command::new(binary);
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("RINGBACK_")) {
        command.env_remove(name);
    }
    let output = command
        .arg("demo")
        .env("RINGBACK_DATA_DIR", data_dir)
        .env("RINGBACK_LOG", "warn")
        .output()
        .map_err(|e| E2eError::Process(format!("cannot run ringback demo: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(E2eError::Process(format!(
            "ringback demo failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )))
    }
}

/// A running `ringback serve`.
pub struct RingbackServer {
    child: Child,
    /// Base URL, ending in `/`.
    pub url: String,
    /// Temporary data directory (database, generated secrets, log).
    pub data_dir: tempfile::TempDir,
    /// The settings it was started with, for a restart.
    env: Vec<(String, String)>,
}

impl RingbackServer {
    /// Starts the binary with an empty embedded database and waits until it prints its URL.
    pub fn start() -> Result<Self, E2eError> {
        Self::start_with(Data::Empty)
    }

    /// Starts the binary on `data` and waits until it prints its URL.
    pub fn start_with(data: Data) -> Result<Self, E2eError> {
        Self::start_with_env(data, &[])
    }

    /// Starts the binary on `data` with more `RINGBACK_*` settings (a provider's URL, say).
    pub fn start_with_env(data: Data, env: &[(&str, &str)]) -> Result<Self, E2eError> {
        let data_dir =
            tempfile::tempdir().map_err(|e| E2eError::Process(format!("tempdir: {e}")))?;
        if data == Data::Demo {
            copy_demo(&ringback_binary()?, data_dir.path())?;
        }
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        if !env.iter().any(|(name, _)| name == "RINGBACK_LISTEN") {
            env.push(("RINGBACK_LISTEN".to_owned(), "127.0.0.1:0".to_owned()));
        }
        let (child, url) = spawn_serve(data_dir.path(), &env)?;
        Ok(Self {
            child,
            url,
            data_dir,
            env,
        })
    }

    /// Kills the process at once (`SIGKILL`, as a crash or an out-of-memory kill does): nothing
    /// in flight is finished, nothing is flushed.
    pub fn kill(&mut self) -> Result<(), E2eError> {
        self.child
            .kill()
            .and_then(|()| self.child.wait().map(|_| ()))
            .map_err(|e| E2eError::Process(format!("cannot kill the server: {e}")))
    }

    /// Starts the binary again on the same data directory, settings and port (after
    /// [`kill`](Self::kill) or an exit), and waits until it prints its URL.
    pub fn restart(&mut self) -> Result<(), E2eError> {
        let port = self
            .url
            .trim_end_matches('/')
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        for (name, value) in &mut self.env {
            if name == "RINGBACK_LISTEN" {
                *value = format!("127.0.0.1:{port}");
            }
        }
        let (child, url) = spawn_serve(self.data_dir.path(), &self.env)?;
        self.child = child;
        self.url = url;
        Ok(())
    }

    /// Sends a GraphQL `query` to the server over plain HTTP/1.1 and returns the JSON response, so
    /// tests can compare what the page shows with what the API says.
    pub fn graphql(&self, query: &str) -> Result<serde_json::Value, E2eError> {
        self.graphql_as(None, query, serde_json::json!({}))
            .map(|(_, json)| json)
    }

    /// Signs in over the API and returns the `Cookie` header that carries the session.
    pub fn api_session(&self, email: &str, password: &str) -> Result<String, E2eError> {
        let (headers, json) = self.graphql_as(
            None,
            "mutation($email: String!, $password: String!) { signIn(email: $email, password: $password) { role } }",
            serde_json::json!({ "email": email, "password": password }),
        )?;
        if json["data"]["signIn"].is_null() {
            return Err(E2eError::Assertion(format!("API sign-in failed: {json}")));
        }
        let cookies: Vec<&str> = headers
            .lines()
            .filter_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("set-cookie")
                    .then(|| value.trim().split(';').next().unwrap_or_default())
            })
            .collect();
        Ok(cookies.join("; "))
    }

    /// Sends `query` with `variables`, with the session `cookie` if given; returns the response
    /// headers and JSON.
    pub fn graphql_as(
        &self,
        cookie: Option<&str>,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<(String, serde_json::Value), E2eError> {
        let cookie = cookie
            .map(|cookie| format!("Cookie: {cookie}\r\n"))
            .unwrap_or_default();
        self.graphql_with_headers(&cookie, query, variables)
    }

    /// Runs a GraphQL query as an integrator with API key `secret`; the answer's JSON.
    pub fn graphql_with_key(
        &self,
        secret: &str,
        query: &str,
    ) -> Result<serde_json::Value, E2eError> {
        let header = format!("Authorization: Bearer {secret}\r\n");
        Ok(self
            .graphql_with_headers(&header, query, serde_json::json!({}))?
            .1)
    }

    fn graphql_with_headers(
        &self,
        headers: &str,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<(String, serde_json::Value), E2eError> {
        let body = serde_json::json!({ "query": query, "variables": variables }).to_string();
        let (headers, json) = self.post("/graphql", "application/json", headers, &body)?;
        let json = serde_json::from_str(&json)
            .map_err(|e| E2eError::Process(format!("GraphQL answer is not JSON: {e}")))?;
        Ok((headers, json))
    }

    /// Posts `params` to a Twilio webhook at `path`, signed as Twilio signs with `auth_token` over
    /// `public_url` + `path`; returns the status line and the body.
    pub fn post_twilio(
        &self,
        public_url: &str,
        auth_token: &str,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<(String, String), E2eError> {
        post_twilio_to(&self.url, public_url, auth_token, path, params)
    }

    fn post(
        &self,
        path: &str,
        content_type: &str,
        extra_headers: &str,
        body: &str,
    ) -> Result<(String, String), E2eError> {
        post_to(&self.url, path, content_type, extra_headers, body)
    }

    /// The server's log so far (stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.path().join("server.log")).unwrap_or_default()
    }

    /// Sends `SIGTERM`, as a service manager does, and waits up to `patience` for the process to
    /// exit; its exit status, or an error when it is still running.
    pub fn terminate(&mut self, patience: Duration) -> Result<ExitStatus, E2eError> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .map_err(|e| E2eError::Process(format!("cannot run kill: {e}")))?;
        if !sent.success() {
            return Err(E2eError::Process("kill -TERM failed".to_owned()));
        }
        let deadline = std::time::Instant::now() + patience;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(|e| E2eError::Process(e.to_string()))?
            {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(E2eError::Process(format!(
            "still running {patience:?} after SIGTERM"
        )))
    }
}

impl Drop for RingbackServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Posts `params` to the Twilio webhook at `path` of the server at `base_url`, signed as Twilio
/// signs with `auth_token` over `public_url` + `path`; returns the status line and the body.
pub fn post_twilio_to(
    base_url: &str,
    public_url: &str,
    auth_token: &str,
    path: &str,
    params: &[(&str, &str)],
) -> Result<(String, String), E2eError> {
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let signature = ringback_api::webhooks::twilio_signature::sign(
        auth_token,
        &format!("{public_url}{path}"),
        &owned,
    );
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(owned.iter())
        .finish();
    let signed = format!("X-Twilio-Signature: {signature}\r\n");
    let (headers, body) = post_to(
        base_url,
        path,
        "application/x-www-form-urlencoded",
        &signed,
        &body,
    )?;
    let status = headers.lines().next().unwrap_or_default().to_owned();
    Ok((status, body))
}

/// One HTTP/1.1 POST to the server at `base_url` over a fresh connection; `extra_headers` are
/// whole header lines. A connection refused or cut before a whole response is an error.
fn post_to(
    base_url: &str,
    path: &str,
    content_type: &str,
    extra_headers: &str,
    body: &str,
) -> Result<(String, String), E2eError> {
    let address = base_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: {content_type}\r\n\
         {extra_headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream =
        TcpStream::connect(&address).map_err(|e| E2eError::Process(format!("connect: {e}")))?;
    stream
        .write_all(request.as_bytes())
        .map_err(|e| E2eError::Process(format!("send: {e}")))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| E2eError::Process(format!("receive: {e}")))?;
    let (headers, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| E2eError::Process("malformed HTTP response".to_owned()))?;
    Ok((headers.to_owned(), body.to_owned()))
}

/// Runs `ringback serve` on `data_dir` with exactly `env` (plus the dashboard and log level), its
/// stderr appended to `server.log` there; waits until it prints its URL.
fn spawn_serve(
    data_dir: &std::path::Path,
    env: &[(String, String)],
) -> Result<(Child, String), E2eError> {
    let binary = ringback_binary()?;
    let web_dir = dashboard_dir()?;
    let log_path = data_dir.join("server.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| E2eError::Process(format!("log file: {e}")))?;
    let mut command = Command::new(&binary);
    // Only what this harness sets: no database URL or config file leaks in from the caller.
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("RINGBACK_")) {
        command.env_remove(name);
    }
    command
        .arg("serve")
        .env("RINGBACK_DATA_DIR", data_dir)
        .env("RINGBACK_WEB_DIR", &web_dir)
        .env("RINGBACK_LOG", "info")
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdout(Stdio::piped())
        .stderr(log);
    let mut child = command
        .spawn()
        .map_err(|e| E2eError::Process(format!("cannot start {}: {e}", binary.display())))?;
    match wait_for_url(&mut child) {
        Ok(url) => Ok((child, url)),
        Err(error) => {
            let _ = child.kill();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            Err(E2eError::Process(format!("{error}\nserver log:\n{log}")))
        }
    }
}

/// Reads the child's stdout on a thread until the URL line appears or the deadline passes.
fn wait_for_url(child: &mut Child) -> Result<String, String> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix(URL_PREFIX) {
                let _ = sender.send(url.trim().to_owned());
            }
        }
    });
    receiver
        .recv_timeout(START_TIMEOUT)
        .map_err(|_| format!("ringback did not print its URL within {START_TIMEOUT:?}"))
}

/// The `ringback` binary: `RINGBACK_BIN`, or the one cargo built next to this test.
pub fn ringback_binary() -> Result<PathBuf, E2eError> {
    if let Ok(path) = std::env::var("RINGBACK_BIN") {
        return Ok(PathBuf::from(path));
    }
    // Test executables live in <target>/<profile>/deps/; binaries one level up.
    let candidate = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|dir| dir.join("ringback")));
    match candidate {
        Some(path) if path.is_file() => Ok(path),
        _ => Err(E2eError::Missing(
            "the ringback binary; build it with `cargo build -p ringback-api` (cargo xtask test does)".to_owned(),
        )),
    }
}

/// The built dashboard: `RINGBACK_E2E_WEB_DIR`, or `web/dist` in the repository.
pub fn dashboard_dir() -> Result<PathBuf, E2eError> {
    let dir = std::env::var("RINGBACK_E2E_WEB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("web").join("dist"));
    if dir.join("index.html").is_file() {
        Ok(dir)
    } else {
        Err(E2eError::Missing(format!(
            "the built dashboard in {}; build it with `trunk build --release` (cargo xtask test does)",
            dir.display()
        )))
    }
}
