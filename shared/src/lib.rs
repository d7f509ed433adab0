//! Ringback's pure domain core, compiled for the server (x86_64) and the dashboard (wasm32).
//!
//! Nothing here performs I/O: every rule that both sides must agree on lives in this crate, so the
//! browser and the server can never compute different answers.

pub mod access;
pub mod ai;
pub mod attribution;
pub mod billing;
pub mod business;
pub mod caller_key;
pub mod countries;
pub mod display;
pub mod exports;
pub mod hours;
pub mod ids;
pub mod keywords;
pub mod metrics;
pub mod navigation;
pub mod password;
#[cfg(feature = "phone")]
pub mod phone;
pub mod redact;
pub mod retention;
pub mod seal;
pub mod slots;
pub mod sms;
pub mod terms;
pub mod text_back;
pub mod worklist;
