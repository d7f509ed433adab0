//! The end-to-end scenarios, one module per area, built as one test binary: the test support and
//! the server library it links are linked once, not once per area. Each module's own
//! documentation says what it covers; `cargo test -p ringback-e2e --test all AREA::` runs one area
//! (for example `dashboard::`).

mod accessibility;
mod ai_receptionist;
mod billing;
mod calendar;
mod click_to_call;
mod dashboard;
mod onboarding;
mod privacy;
mod shutdown;
