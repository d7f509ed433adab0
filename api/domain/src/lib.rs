//! The domain layer: Ringback's business rules, each service running in transactions it owns
//! inside one clinic's tenant scope ([`service`]); who a caller is and what their role allows
//! ([`auth`]: passwords, sessions, one-time tokens, credentials, principals, rate limits); the
//! handles every caller shares ([`backend`]); the only ways into a clinic's data ([`doors`]); the typed background work services
//! owe ([`jobs`]); and the demo clinic ([`demo`]). It builds on the core and knows nothing of
//! GraphQL, HTTP or the binary above it.

pub mod auth;
pub mod backend;
pub mod demo;
pub mod doors;
pub mod jobs;
pub mod service;

pub use backend::Backend;
