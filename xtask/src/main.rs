//! Developer commands for a fresh machine, run from the repository root:
//!
//! - `cargo xtask run`: builds the dashboard, creates the demo clinic once and serves Ringback on
//!   embedded SQLite.
//! - `cargo xtask test`: the whole suite (lint, unit, integration on SQLite and PostgreSQL, WASM
//!   vectors under Node, end-to-end in headless Chromium).
//! - `cargo xtask wasm-size`: the release WASM size, and what the in-browser number check (the
//!   libphonenumber port) would add to it; both builds are linted (clippy -D warnings).
//! - `cargo xtask bench-api`: the release server's two main reads against PostGraphile 5 and
//!   against pgbench of its own statements, on the machine's PostgreSQL 15 (root only; see
//!   `bench_api`).
//!
//! Each installs what is missing (the wasm32 target, wasm-bindgen-cli and Trunk at pinned versions,
//! binaryen from the npm registry, Chromium and chromedriver through apt when root, a PostgreSQL
//! role and database) or stops with a message naming what is missing and how to get it.

mod bench_api;
mod postgres;
mod tools;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// A failed step, with what to do about it.
#[derive(Debug)]
pub struct TaskError(pub String);

impl std::fmt::Display for TaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type TaskResult<T = ()> = Result<T, TaskError>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(),
        Some("test") => test(),
        Some("wasm-size") => wasm_size(),
        Some("bench-api") => bench_api::bench_api(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <run | test | wasm-size | bench-api>");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("\nxtask: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Prints a step heading, so long logs show where time goes.
pub fn step(title: &str) {
    println!("\n==> {title}");
}

/// Runs `command` from the repository root and fails if it does.
pub fn run_command(command: &mut Command) -> TaskResult {
    command.current_dir(root());
    let shown = format!("{command:?}");
    let status = command
        .status()
        .map_err(|e| TaskError(format!("cannot run {shown}: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(TaskError(format!("{shown} failed ({status})")))
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
}

fn build_dashboard(extra_args: &[&str]) -> TaskResult {
    run_command(&mut dashboard_build(extra_args))
}

/// `trunk build --release` of the dashboard (offline: the tools are installed first); arguments
/// follow `extra_args`.
fn dashboard_build(extra_args: &[&str]) -> Command {
    step("Building the dashboard (trunk build --release, offline)");
    let mut trunk = tools::trunk_command();
    trunk.args(["build", "--release"]).args(extra_args);
    trunk
}

fn run() -> TaskResult {
    tools::ensure_build_tools()?;
    build_dashboard(&[])?;
    step("Creating the demo clinic and trades business (once) on embedded SQLite");
    run_command(ringback().arg("demo"))?;
    step("Starting Ringback on embedded SQLite (Ctrl-C stops it)");
    run_command(ringback().arg("serve"))
}

/// `cargo run` of the server binary; arguments follow.
fn ringback() -> Command {
    let mut command = cargo();
    command.args([
        "run",
        "--quiet",
        "-p",
        "ringback-api",
        "--bin",
        "ringback",
        "--",
    ]);
    command
}

fn test() -> TaskResult {
    let mut suite = Suite::default();
    suite.run("installing the build tools", tools::ensure_build_tools);
    suite.run(
        "installing Chromium and chromedriver",
        tools::ensure_browser,
    );
    // Without a server the PostgreSQL tests fail and say how to provide one.
    let postgres_url = suite.run_for(
        "starting the PostgreSQL test server",
        postgres::ensure_test_server,
    );

    step("Formatting (cargo fmt --check)");
    suite.run("cargo fmt --check", || {
        run_command(cargo().args(["fmt", "--all", "--check"]))
    });

    // The dashboard's release build is also its lint: Trunk's cargo compiles our crates for
    // wasm32 through Clippy with warnings as errors ([`linted`]), so the dashboard's crates are
    // not checked in a pass of their own (which compiled every dependency a second time). The
    // shared crate's browser code with its `phone` feature is linted the same way by the WASM
    // vectors' build below; the support build's number check (`--features number-check`) by
    // `cargo xtask wasm-size`.
    suite.run(
        "building and linting the dashboard (clippy -D warnings on wasm32)",
        || run_command(&mut linted(dashboard_build(&[]))),
    );

    // The tests are compiled in one invocation for every native crate and the browser tests: the
    // crates' features are unified once, so nothing is compiled twice (a second invocation for
    // the end-to-end crate alone rebuilt most of the dependencies with other features). That
    // build is also the native lint: every target of every crate of ours goes through Clippy
    // with warnings as errors ([`linted`]), so the crates are not checked in a pass of their own.
    // The deployment binary then reuses those dependencies: the server's crate names the features
    // the tests' dependencies switch on (see the workspace's Cargo.toml), so only our crates and
    // poem (its `test` feature) compile again. Tests that did not build are not run: their
    // errors are reported once.
    step(
        "Lints and unit, integration and end-to-end tests (clippy -D warnings; SQLite, \
         PostgreSQL, headless Chromium)",
    );
    let built = suite
        .run_for(
            "building and linting the tests (clippy -D warnings)",
            || run_command(linted(tested_packages()).args(["--all-targets", "--no-run"])),
        )
        .is_some();
    let binary = suite.run_for(
        "building the ringback binary for the end-to-end tests",
        deployment_binary,
    );
    suite.run("unit, integration and end-to-end tests", || {
        if !built {
            return Err(TaskError("not run: the tests did not build".to_owned()));
        }
        let mut tests = linted(tested_packages());
        tests.arg("--no-fail-fast");
        // The server's tests wait on the databases and the fakes more than they compute: four at
        // a time keep two cores busy (a third less time than two at a time).
        if std::env::var_os("RUST_TEST_THREADS").is_none() {
            tests.env("RUST_TEST_THREADS", "4");
        }
        if let Some(url) = &postgres_url {
            tests.env("RINGBACK_TEST_POSTGRES_URL", url);
        }
        if let Some(binary) = &binary {
            tests.env("RINGBACK_BIN", binary);
        }
        run_command(&mut tests)
    });

    step("Shared test vectors under wasm32 (wasm-bindgen-test on Node)");
    suite.run("WASM test vectors", || {
        run_command(
            linted(cargo())
                .args([
                    "test",
                    "-p",
                    "ringback-shared",
                    "--target",
                    "wasm32-unknown-unknown",
                    "--test",
                    "vectors",
                ])
                .env("PATH", tools::path_with_tools()),
        )
    });

    suite.finish()
}

/// Builds the server as a deployment builds it (no test helpers) and keeps a copy apart: the
/// test build of the API's own integration tests writes a binary with its test helpers to the
/// same place. Where the copy is.
fn deployment_binary() -> TaskResult<PathBuf> {
    run_command(linted(cargo()).args(["build", "-p", "ringback-api", "--bin", "ringback"]))?;
    // Cargo reads a relative target directory from the repository root, where it runs.
    let target = root().join(
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target")),
    );
    let kept = target.join("e2e-binary");
    std::fs::create_dir_all(&kept)
        .map_err(|e| TaskError(format!("cannot create {}: {e}", kept.display())))?;
    let copy = kept.join("ringback");
    std::fs::copy(target.join("debug").join("ringback"), &copy)
        .map_err(|e| TaskError(format!("cannot keep the ringback binary: {e}")))?;
    Ok(copy)
}

/// `command` (a cargo build, or Trunk's, which runs one) compiling the workspace's crates through
/// Clippy with warnings as errors (`xtask/clippy-as-rustc.sh` as `RUSTC_WORKSPACE_WRAPPER`);
/// dependencies as before. Every build of a test run goes through it: the wrapper is part of our
/// crates' fingerprints, so a build without it would compile them again.
fn linted(mut command: Command) -> Command {
    command.env(
        "RUSTC_WORKSPACE_WRAPPER",
        root().join("xtask").join("clippy-as-rustc.sh"),
    );
    command
}

/// `cargo test` of every crate whose tests run natively; arguments follow.
fn tested_packages() -> Command {
    let mut command = cargo();
    command
        .arg("test")
        .args(TESTED_PACKAGES.iter().flat_map(|package| ["-p", package]));
    command
}

/// The crates whose tests run natively, the browser tests among them (the dashboard is
/// wasm32-only: its rules are tested in `ringback-shared`, its pages by `ringback-e2e`).
const TESTED_PACKAGES: &[&str] = &[
    "ringback-shared",
    "ringback-entity",
    "ringback-migration",
    "ringback-core",
    "ringback-providers",
    "ringback-domain",
    "ringback-graphql",
    "ringback-api",
    "ringback-e2e",
    "xtask",
];

/// The steps of a run that goes on past a failure and reports every failure at the end.
#[derive(Default)]
struct Suite {
    failures: Vec<(&'static str, TaskError)>,
}

impl Suite {
    /// Runs one step, remembering its failure.
    fn run(&mut self, name: &'static str, step: impl FnOnce() -> TaskResult) {
        self.run_for(name, step);
    }

    /// Runs one step that yields a value, remembering its failure.
    fn run_for<T>(
        &mut self,
        name: &'static str,
        step: impl FnOnce() -> TaskResult<T>,
    ) -> Option<T> {
        match step() {
            Ok(value) => Some(value),
            Err(error) => {
                eprintln!("\nxtask: {name} failed: {error}");
                self.failures.push((name, error));
                None
            }
        }
    }

    /// Succeeds only if every step did; otherwise names each failed step.
    fn finish(self) -> TaskResult {
        if self.failures.is_empty() {
            println!("\nAll tests passed.");
            return Ok(());
        }
        let list: Vec<String> = self
            .failures
            .iter()
            .map(|(name, error)| format!("  - {name}: {error}"))
            .collect();
        Err(TaskError(format!(
            "{} step(s) failed:\n{}",
            self.failures.len(),
            list.join("\n")
        )))
    }
}

fn wasm_size() -> TaskResult {
    tools::ensure_build_tools()?;
    let with = measure_dashboard(&["--features", "number-check"])?;
    let without = measure_dashboard(&[])?;
    println!(
        "\nrelease WASM with the number check:    {:>8} bytes raw, {:>8} bytes gzipped",
        with.0, with.1
    );
    println!(
        "release WASM without the number check: {:>8} bytes raw, {:>8} bytes gzipped",
        without.0, without.1
    );
    println!(
        "the libphonenumber port adds:           {:>8} bytes raw, {:>8} bytes gzipped",
        with.0.saturating_sub(without.0),
        with.1.saturating_sub(without.1)
    );
    Ok(())
}

/// Builds the dashboard with `args` and returns the WASM size (raw, gzipped at level 9).
fn measure_dashboard(args: &[&str]) -> TaskResult<(u64, u64)> {
    run_command(&mut linted(dashboard_build(args)))?;
    let dist = root().join("web").join("dist");
    let wasm = std::fs::read_dir(&dist)
        .map_err(|e| TaskError(format!("{}: {e}", dist.display())))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .ok_or_else(|| TaskError(format!("no .wasm in {}", dist.display())))?;
    let raw = std::fs::metadata(&wasm)
        .map_err(|e| TaskError(e.to_string()))?
        .len();
    let output = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(&wasm)
        .output()
        .map_err(|e| TaskError(format!("gzip: {e}")))?;
    Ok((raw, output.stdout.len() as u64))
}
