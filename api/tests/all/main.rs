//! The server's integration tests, one module per area, built as one test binary: the server and
//! the test support in [`common`] are compiled and linked once, not once per area. Each module's
//! own documentation says what it covers; `cargo test -p ringback-api --test all AREA::` runs one
//! area (for example `inbox::`).

#[macro_use]
mod common;

mod access_control;
mod accounts;
mod ai_receptionist;
mod appointment_search;
mod audit_cli;
mod billing;
mod calls_and_appointments;
mod click_to_call;
mod clinic_export;
mod database_schema;
mod demo_data;
mod export;
mod google_calendar;
mod graphql_schema;
mod http_surface;
mod inbox;
mod leaving;
mod metrics;
mod numbers;
mod password_reset;
mod phone_cli;
mod phone_settings;
mod privacy;
mod retention;
mod row_level_security;
mod service_rules;
mod setup_checklist;
mod text_back_delivery;
mod twilio_webhooks;
mod worklist;
