//! The Ringback server as a library: the binary is a thin wrapper, and integration tests build the
//! same application with [`build_app`].

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod fakes;
pub mod graphql;
pub mod http;
pub mod integrations;
pub mod jobs;
pub mod phone_cli;
pub mod secrets;
pub mod service;
pub mod state;
pub mod tenant;
pub mod webhooks;

pub use http::build_app;
pub use state::AppState;
