//! A PostgreSQL 15 server for the integration tests: `RINGBACK_TEST_POSTGRES_URL` when set,
//! otherwise the machine's Debian cluster, started and given a test role (root only). The API
//! benchmark (`bench_api`) starts the same cluster with `ensure_cluster`.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::tools::is_root;
use crate::{TaskError, TaskResult, run_command, step};

const ROLE: &str = "ringback_test";
const PASSWORD: &str = "ringback_test";
const CLUSTER_VERSION: &str = "15";

/// Returns a URL for a role that may create databases and roles; tests make one database each.
pub fn ensure_test_server() -> TaskResult<String> {
    if let Ok(url) = std::env::var("RINGBACK_TEST_POSTGRES_URL") {
        return Ok(url);
    }
    if !is_root() {
        return Err(TaskError(
            "the PostgreSQL tests need a server: set RINGBACK_TEST_POSTGRES_URL to a role with CREATEDB and \
             CREATEROLE (postgres://user:password@127.0.0.1:5432/postgres), or run as root to use the local \
             PostgreSQL 15 cluster"
                .to_owned(),
        ));
    }
    step("Starting PostgreSQL 15 and creating the test role");
    ensure_cluster()?;
    create_role()?;
    Ok(format!(
        "postgres://{ROLE}:{PASSWORD}@127.0.0.1:5432/postgres"
    ))
}

/// Installs (apt) and starts the machine's PostgreSQL 15 cluster, and waits until it answers on
/// 127.0.0.1:5432. Root only.
pub fn ensure_cluster() -> TaskResult {
    if which("pg_ctlcluster").is_none() {
        run_command(
            Command::new("apt-get")
                .args(["install", "-y", "-q", "postgresql-15"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
    }
    start_cluster()?;
    wait_until_ready()
}

/// The path of `program` on `PATH`, if any.
pub fn which(program: &str) -> Option<String> {
    let output = Command::new("which").arg(program).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn start_cluster() -> TaskResult {
    let status = Command::new("pg_ctlcluster")
        .args([CLUSTER_VERSION, "main", "status"])
        .output()
        .map_err(|e| TaskError(format!("pg_ctlcluster: {e}")))?;
    if status.status.success() {
        return Ok(());
    }
    run_command(Command::new("pg_ctlcluster").args([CLUSTER_VERSION, "main", "start"]))
}

fn wait_until_ready() -> TaskResult {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let ready = Command::new("pg_isready")
            .args(["-h", "127.0.0.1", "-p", "5432", "-q"])
            .status()
            .is_ok_and(|status| status.success());
        if ready {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(TaskError(
        "PostgreSQL did not become ready on 127.0.0.1:5432 within 60 s".to_owned(),
    ))
}

fn create_role() -> TaskResult {
    let sql = format!(
        "DO $$ BEGIN \
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN \
             CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}' CREATEDB CREATEROLE; \
           END IF; \
         END $$;"
    );
    run_command(Command::new("runuser").args([
        "-u",
        "postgres",
        "--",
        "psql",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        &sql,
    ]))
}
