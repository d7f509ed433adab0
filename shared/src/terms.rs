//! The version of the terms of service and privacy notice an owner accepts at sign-up. The sign-up
//! page shows it and sends it back; the server records it with the time and refuses any other, so
//! a change of terms is one change of this constant, seen by the browser and the server alike.

/// The terms and privacy notice in force, named by the day they took effect.
pub const VERSION: &str = "2026-12-01";
