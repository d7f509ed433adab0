//! Harness for end-to-end tests: starts the real `ringback` binary on a free port with a temporary
//! embedded database, starts chromedriver with headless Chromium, and offers page objects and
//! checks (browser console errors, a screenshot on failure).
//!
//! Nothing here skips: a missing binary, dashboard build or browser is an error that says how to
//! get it.

pub mod browser;
pub mod pages;
pub mod server;

use std::path::{Path, PathBuf};

/// Errors setting up or running an end-to-end scenario.
#[derive(Debug)]
pub enum E2eError {
    /// Something the test needs is not installed or built; the message says how to get it.
    Missing(String),
    /// A process failed to start or answer.
    Process(String),
    /// A WebDriver command failed.
    WebDriver(String),
    /// The page did not show what the scenario expected.
    Assertion(String),
}

impl std::fmt::Display for E2eError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing(what) => write!(f, "missing: {what}"),
            Self::Process(what) => write!(f, "process: {what}"),
            Self::WebDriver(what) => write!(f, "webdriver: {what}"),
            Self::Assertion(what) => write!(f, "assertion: {what}"),
        }
    }
}

impl std::error::Error for E2eError {}

impl From<fantoccini::error::CmdError> for E2eError {
    fn from(error: fantoccini::error::CmdError) -> Self {
        Self::WebDriver(error.to_string())
    }
}

/// The repository root (the workspace directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Where failure artefacts (screenshots, server logs) are written.
pub fn artifacts_dir() -> PathBuf {
    workspace_root().join("target").join("e2e-artifacts")
}
