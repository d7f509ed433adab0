//! SeaORM entities for Ringback, one module per table. They mirror the migrations and hold no
//! business rules; those live in `ringback-shared` and in the API's services.

pub mod ai_step;
pub mod api_key;
pub mod appointment;
pub mod attribution;
pub mod audit_log;
pub mod audit_pending;
pub mod billing_usage;
pub mod call;
pub mod caller_restriction;
pub mod clinic;
pub mod clinic_deletion;
pub mod clinic_service;
pub mod conversation;
pub mod daily_metric;
pub mod invite;
pub mod job_outbox;
pub mod membership;
pub mod message;
pub mod notification;
pub mod opt_out;
pub mod password_reset;
pub mod processed_webhook;
pub mod provider_leftover;
pub mod provider_number;
pub mod refresh_token;
pub mod scheduled_task;
pub mod sign_up_request;
pub mod user;
pub mod webhook_refusal;
pub mod worklist_dismissal;
