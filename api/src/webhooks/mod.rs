//! Provider webhooks. Each one is authenticated by the provider's signature before anything is
//! read, is limited in size, finds its clinic from provider data (never from our own input), and is
//! idempotent on the provider's id, so retries change nothing.

pub mod stripe;
pub mod twilio;
pub use ringback_providers::twilio::signature as twilio_signature;
