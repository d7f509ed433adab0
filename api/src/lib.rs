//! The Ringback server as a library: the binary is a thin wrapper, and integration tests build the
//! same application with [`build_app`].

// The merged GraphQL root's resolver futures nest deeper than the default limit allows.
#![recursion_limit = "256"]

pub mod auth;
pub mod cli;
pub mod config;
pub mod console;
pub mod db;
pub mod download;
pub mod error;
pub mod http;
pub mod integrations;
pub mod jobs;
pub mod phone_cli;
pub mod security_headers;
pub mod state;
pub mod webhooks;

// The core's modules under their old paths, for the layers above and the tests.
pub use ringback_core::{clock, secrets, tenant};
// The domain's modules under their old paths.
pub use ringback_domain::{demo, service};
// The GraphQL layer under its old path.
pub use ringback_graphql as graphql;

/// The fake providers tests and benchmarks run against; not in a deployment's build.
#[cfg(feature = "test-support")]
pub use ringback_providers::fakes;

pub use http::build_app;
pub use state::AppState;
