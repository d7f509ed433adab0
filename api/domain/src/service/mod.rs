//! Business rules, each in its own module, each running in transactions it owns. Services take a
//! tenant transaction (see [`ringback_core::tenant`]) for anything inside a clinic.

pub use ringback_core::tenant::in_clinic;
pub use ringback_core::{audit, keys};

pub mod account;
pub mod ai_agent;
pub mod ai_follow_ups;
pub mod ai_metrics;
pub mod ai_prompt;
pub mod ai_settings;
pub mod ai_tools;
pub mod api_keys;
pub mod appointments;
pub mod attribution;
pub mod billing;
pub mod billing_check;
pub mod caller_lookup;
pub mod caller_records;
pub mod callers;
pub mod calls;
pub mod click_to_call;
pub mod clinic;
pub mod clinic_export;
pub mod conversations;
pub mod export;
pub mod external_ids;
pub mod inbound_sms;
pub mod inbox;
pub mod known_callers;
pub mod leaving;
pub mod messages;
pub mod metrics;
pub mod notifications;
pub mod numbers;
pub mod opt_outs;
pub mod phone_lines;
pub mod processed_webhooks;
pub mod restrictions;
pub mod retention;
pub mod sealed_numbers;
pub mod setup;
pub mod sign_up_requests;
pub mod team;
pub mod text_back;
pub mod usage;
pub mod webhook_refusals;
pub mod worklist;
