//! Ringback's schema migrations, for SQLite (embedded) and PostgreSQL (production).
//!
//! One file per step, named `mYYYYMMDD_HHMMSS_verb_table.rs`, applied in order. Every tenant table
//! carries `clinic_id`, and every index on a tenant table leads with it, so the data can later be
//! sharded by clinic. No column holds a raw phone number: callers are stored as keyed hashes and
//! masked tails, and a number that must be kept lives sealed (AES-256-GCM) in a binary column.

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261122_090000_create_clinics;
mod m20261122_090100_create_users;
mod m20261122_090200_create_memberships;
mod m20261122_090300_create_calls;
mod m20261122_090400_create_appointments;
mod m20261122_090500_create_attributions;
mod m20261122_090600_create_daily_metrics;
mod m20261122_090700_create_job_outbox;
mod m20261122_090800_create_audit_log;
mod m20261122_090900_create_processed_webhooks;
mod m20261122_100000_create_app_role;
mod m20261122_100100_create_refresh_tokens;
mod m20261122_100200_create_api_keys;
mod m20261122_100300_create_invites;
mod m20261122_100400_enable_row_level_security;
mod m20261122_100500_add_clinic_phone_settings;
mod m20261122_100600_add_daily_metrics_samples;
mod m20261122_100700_create_conversations;
mod m20261122_100800_create_opt_outs;
mod m20261122_100900_add_text_back_settings;
mod m20261122_101000_add_text_back_delivery;
mod m20261122_101100_add_daily_metrics_stale_version;
mod m20261130_090000_harden_row_level_security;
mod m20261130_090100_add_user_session_version;
mod m20261130_090200_add_api_key_expiry;
mod m20261130_090300_add_texting_limits;
mod m20261130_090400_create_key_checks;
mod m20261130_090500_index_outbox_by_kind_and_creation;
mod m20261130_090600_create_audit_pending;
mod m20261130_090700_create_sign_up_requests;
mod m20261130_090800_add_time_to_text;
mod m20261130_090900_create_worklist_dismissals;
mod m20261130_091000_add_click_to_call;
mod m20261201_090000_add_billing;
mod m20261201_100000_add_billing_overage_item;
mod m20261201_110000_add_retention;
mod m20261201_120000_add_call_purge_horizon;
mod m20261201_130000_create_caller_restrictions;
mod m20261201_140000_create_clinic_deletions;
mod m20261202_100000_add_ai_receptionist;
mod m20261202_110000_create_ai_steps;
mod m20261202_120000_index_appointment_starts;
mod m20261203_100000_create_notifications;
mod m20261203_110000_index_ai_steps_by_conversation;
mod m20261203_120000_claim_jobs_by_lane;
mod m20261203_130000_add_appointment_duration;
mod m20261204_100000_create_session_member_function;
mod m20261205_100000_add_provider_number_sid;
mod m20261205_110000_add_user_terms;
mod m20261205_120000_create_webhook_refusals;
mod m20261205_130000_add_conversation_read_at;
mod m20261206_100000_index_caller_tails;
mod m20261207_100000_create_enter_as_member_function;
mod m20261208_100000_enter_as_member_in_one_step;
mod m20261209_100000_index_waiting_audit;
mod m20261210_100000_oldest_waiting_audit_first;
mod m20261211_100000_create_note_reads_function;
mod m20261212_100000_index_calls_newest_first;
mod m20261213_100000_add_conversation_ai_answering;
mod m20261214_100000_claim_jobs_to_give_up;
pub mod m20261215_100000_add_billing_check;
mod m20261216_100000_create_password_resets;
pub mod m20261216_110000_add_trial_start;
mod m20261216_120000_add_refresh_token_version;
mod m20261217_100000_add_checkout_session;
mod m20261218_100000_add_delivery_errors;
mod m20261218_110000_add_provider_number_ids;
mod m20261218_120000_add_job_sender;
mod m20261219_100000_create_provider_leftovers;
mod m20261219_110000_add_strict_provider_horizon;
mod m20261220_100000_member_check_sees_sign_outs;
pub mod m20261220_110000_billing_check_until_renewed;
pub mod m20261221_100000_lists_keep_their_pepper;
pub mod m20261221_110000_add_callback_under_way;
pub mod m20261221_120000_plans_in_use;
pub mod m20261221_130000_add_number_bought_here;
pub mod m20261222_100000_add_keyword_answer_ids;
pub mod m20261222_110000_add_wording_saved_at;
pub mod m20261223_100000_add_maintenance_indexes;
pub mod m20261223_110000_add_number_stopped_at;
pub mod m20261230_100000_add_hand_off_mails;
pub mod m20261231_100000_add_google_calendar;
pub mod m20270101_100000_add_standard_visit_value;
mod m20270102_100000_add_first_call_at;
mod m20270102_110000_add_callback_unconfirmed;
mod m20270103_100000_harden_claim_jobs;
mod m20270104_100000_add_callback_placement;
pub mod rls;

/// Applies every migration in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_090000_create_clinics::Migration),
            Box::new(m20261122_090100_create_users::Migration),
            Box::new(m20261122_090200_create_memberships::Migration),
            Box::new(m20261122_090300_create_calls::Migration),
            Box::new(m20261122_090400_create_appointments::Migration),
            Box::new(m20261122_090500_create_attributions::Migration),
            Box::new(m20261122_090600_create_daily_metrics::Migration),
            Box::new(m20261122_090700_create_job_outbox::Migration),
            Box::new(m20261122_090800_create_audit_log::Migration),
            Box::new(m20261122_090900_create_processed_webhooks::Migration),
            Box::new(m20261122_100000_create_app_role::Migration),
            Box::new(m20261122_100100_create_refresh_tokens::Migration),
            Box::new(m20261122_100200_create_api_keys::Migration),
            Box::new(m20261122_100300_create_invites::Migration),
            Box::new(m20261122_100400_enable_row_level_security::Migration),
            Box::new(m20261122_100500_add_clinic_phone_settings::Migration),
            Box::new(m20261122_100600_add_daily_metrics_samples::Migration),
            Box::new(m20261122_100700_create_conversations::Migration),
            Box::new(m20261122_100800_create_opt_outs::Migration),
            Box::new(m20261122_100900_add_text_back_settings::Migration),
            Box::new(m20261122_101000_add_text_back_delivery::Migration),
            Box::new(m20261122_101100_add_daily_metrics_stale_version::Migration),
            Box::new(m20261130_090000_harden_row_level_security::Migration),
            Box::new(m20261130_090100_add_user_session_version::Migration),
            Box::new(m20261130_090200_add_api_key_expiry::Migration),
            Box::new(m20261130_090300_add_texting_limits::Migration),
            Box::new(m20261130_090400_create_key_checks::Migration),
            Box::new(m20261130_090500_index_outbox_by_kind_and_creation::Migration),
            Box::new(m20261130_090600_create_audit_pending::Migration),
            Box::new(m20261130_090700_create_sign_up_requests::Migration),
            Box::new(m20261130_090800_add_time_to_text::Migration),
            Box::new(m20261130_090900_create_worklist_dismissals::Migration),
            Box::new(m20261130_091000_add_click_to_call::Migration),
            Box::new(m20261201_090000_add_billing::Migration),
            Box::new(m20261201_100000_add_billing_overage_item::Migration),
            Box::new(m20261201_110000_add_retention::Migration),
            Box::new(m20261201_120000_add_call_purge_horizon::Migration),
            Box::new(m20261201_130000_create_caller_restrictions::Migration),
            Box::new(m20261201_140000_create_clinic_deletions::Migration),
            Box::new(m20261202_100000_add_ai_receptionist::Migration),
            Box::new(m20261202_110000_create_ai_steps::Migration),
            Box::new(m20261202_120000_index_appointment_starts::Migration),
            Box::new(m20261203_100000_create_notifications::Migration),
            Box::new(m20261203_110000_index_ai_steps_by_conversation::Migration),
            Box::new(m20261203_120000_claim_jobs_by_lane::Migration),
            Box::new(m20261203_130000_add_appointment_duration::Migration),
            Box::new(m20261204_100000_create_session_member_function::Migration),
            Box::new(m20261205_100000_add_provider_number_sid::Migration),
            Box::new(m20261205_110000_add_user_terms::Migration),
            Box::new(m20261205_120000_create_webhook_refusals::Migration),
            Box::new(m20261205_130000_add_conversation_read_at::Migration),
            Box::new(m20261206_100000_index_caller_tails::Migration),
            Box::new(m20261207_100000_create_enter_as_member_function::Migration),
            Box::new(m20261208_100000_enter_as_member_in_one_step::Migration),
            Box::new(m20261209_100000_index_waiting_audit::Migration),
            Box::new(m20261210_100000_oldest_waiting_audit_first::Migration),
            Box::new(m20261211_100000_create_note_reads_function::Migration),
            Box::new(m20261212_100000_index_calls_newest_first::Migration),
            Box::new(m20261213_100000_add_conversation_ai_answering::Migration),
            Box::new(m20261214_100000_claim_jobs_to_give_up::Migration),
            Box::new(m20261215_100000_add_billing_check::Migration),
            Box::new(m20261216_100000_create_password_resets::Migration),
            Box::new(m20261216_110000_add_trial_start::Migration),
            Box::new(m20261216_120000_add_refresh_token_version::Migration),
            Box::new(m20261217_100000_add_checkout_session::Migration),
            Box::new(m20261218_100000_add_delivery_errors::Migration),
            Box::new(m20261218_110000_add_provider_number_ids::Migration),
            Box::new(m20261218_120000_add_job_sender::Migration),
            Box::new(m20261219_100000_create_provider_leftovers::Migration),
            Box::new(m20261219_110000_add_strict_provider_horizon::Migration),
            Box::new(m20261220_100000_member_check_sees_sign_outs::Migration),
            Box::new(m20261220_110000_billing_check_until_renewed::Migration),
            Box::new(m20261221_100000_lists_keep_their_pepper::Migration),
            Box::new(m20261221_110000_add_callback_under_way::Migration),
            Box::new(m20261221_120000_plans_in_use::Migration),
            Box::new(m20261221_130000_add_number_bought_here::Migration),
            Box::new(m20261222_100000_add_keyword_answer_ids::Migration),
            Box::new(m20261222_110000_add_wording_saved_at::Migration),
            Box::new(m20261223_100000_add_maintenance_indexes::Migration),
            Box::new(m20261223_110000_add_number_stopped_at::Migration),
            Box::new(m20261230_100000_add_hand_off_mails::Migration),
            Box::new(m20261231_100000_add_google_calendar::Migration),
            Box::new(m20270101_100000_add_standard_visit_value::Migration),
            Box::new(m20270102_100000_add_first_call_at::Migration),
            Box::new(m20270102_110000_add_callback_unconfirmed::Migration),
            Box::new(m20270103_100000_harden_claim_jobs::Migration),
            Box::new(m20270104_100000_add_callback_placement::Migration),
        ]
    }
}

/// Tables that route to a clinic before it is known (a webhook's `To` number): they carry
/// `clinic_id` and row-level security, but their routing index is deployment-wide by design.
pub const ROUTING_TABLES: &[&str] = &["provider_numbers"];

/// Indexes on tenant tables that do not lead with `clinic_id`, by design: maintenance reads that
/// cross clinics (the outbox claim, a person's clinics at sign-in), made under the owner's role
/// or a security-definer function. (table, index)
pub const DEPLOYMENT_INDEXES: &[(&str, &str)] = &[
    ("job_outbox", "idx_job_outbox_waiting"),
    ("memberships", "idx_memberships_person"),
];

/// The tables that hold one clinic's data. Each has a `clinic_id` column that every index leads
/// with (but the [`DEPLOYMENT_INDEXES`]); later migrations add row-level security to exactly this
/// list.
pub const TENANT_TABLES: &[&str] = &[
    "memberships",
    "calls",
    "appointments",
    "attributions",
    "daily_metrics",
    "job_outbox",
    "audit_log",
    "audit_pending",
    "processed_webhooks",
    "refresh_tokens",
    "api_keys",
    "invites",
    "conversations",
    "messages",
    "opt_outs",
    "worklist_dismissals",
    "billing_usage",
    "caller_restrictions",
];
