//! Clients for outside providers (see `ringback-providers`), under the paths the server has always
//! used.

pub use ringback_providers::{anthropic, numbers, records, sms, stripe, twilio};
