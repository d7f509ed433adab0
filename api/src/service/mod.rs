//! Business rules, each in its own module, each running in transactions it owns. Services take a
//! tenant transaction (see [`crate::tenant`]) for anything inside a clinic.

pub mod account;
pub mod api_keys;
pub mod appointments;
pub mod attribution;
pub mod audit;
pub mod callers;
pub mod calls;
pub mod clinic;
pub mod keys;
pub mod metrics;
pub mod phone_lines;
pub mod team;
