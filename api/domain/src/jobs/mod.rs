//! The background work services owe, as typed values the outbox stores. Each kind is one type: it
//! names itself, carries ids only (the number and the text travel sealed beside it), is written at
//! most once per clinic for its idempotency key ([`Job`]), and says how it runs ([`Runnable`]).
//! The worker registers each type once and leaves claiming, leases, backoff and dead letters to
//! the queue ([`ringback_core::outbox`]).
//!
//! - [`TextBack`]: text a missed caller back.
//! - [`StaffReply`]: send a staff member's reply in a conversation.
//! - [`ReportOverage`]: report SMS segments beyond a plan's allowance to Stripe.
//! - [`AiAnswer`]: the AI receptionist answers a caller's text (its answer then goes out as a
//!   [`StaffReply`]-shaped text job).
//! - [`AiFollowUp`]: the one follow-up to a caller who went quiet (its text goes out the same way).
//! - [`HandOffMail`]: e-mail the member the AI receptionist handed a caller to.
//! - [`CalendarSync`]: make the clinic's Google calendar show a booking as it stands.
//! - [`CalendarFill`]: queue the next batch of upcoming bookings' syncs after a calendar was
//!   chosen or cleared.
//! - [`ForgetProviderRecords`]: delete the phone provider's records of erased or expired calls and
//!   texts.
//! - [`ForgetCallerAtProvider`]: search the phone provider's log for an erased caller's calls and
//!   texts with the clinic, and delete them.
//!
//! [`TextBack`] and [`StaffReply`] send a text, so both are [`sms::TextJob`]s and run through
//! [`sms`], which owns the
//! at-most-once rule: a job whose earlier attempt may have reached the provider asks the provider
//! before it sends again, and one given up in doubt asks it whether the text went after all
//! ([`Runnable::look_up`]).

mod ai_answer;
mod ai_follow_up;
pub mod calendar_fill;
pub mod calendar_sync;
pub mod forget_caller_at_provider;
pub mod forget_provider_records;
pub mod hand_off_mail;
mod report_overage;
pub mod sms;
mod staff_reply;
mod text_back;

use std::future::Future;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ringback_core::error::DomainError;
use ringback_core::tenant::{TenantScope, TenantTxn};
use ringback_entity::job_outbox;
use ringback_providers::sms::{ProviderError, SmsProvider};

use crate::backend::Backend;

pub use ai_answer::AiAnswer;
pub use ai_follow_up::AiFollowUp;
pub use calendar_fill::CalendarFill;
pub use calendar_sync::CalendarSync;
pub use forget_caller_at_provider::ForgetCallerAtProvider;
pub use forget_provider_records::ForgetProviderRecords;
pub use hand_off_mail::HandOffMail;
pub use report_overage::ReportOverage;
pub use ringback_core::outbox::Job;
pub use staff_reply::StaffReply;
pub use text_back::TextBack;

/// The status [`Runnable::given_up`] gets for a job whose attempts all failed (a dead letter);
/// any other status is why it was cancelled.
pub const FAILED: &str = "failed";

/// The jobs that send a text.
pub const TEXT_JOBS: [&str; 2] = [TextBack::NAME, StaffReply::NAME];

/// Whether a job of `kind` whose earlier attempt may have done its work can ask the outside world
/// whether it did ([`Runnable::look_up`]): only the texts (the provider lists what it sent). For
/// the others, a person retrying a dead letter decides that it is to be done again.
pub fn asks_before_redoing(kind: &str) -> bool {
    TEXT_JOBS.contains(&kind)
}

/// The jobs that need the phone provider's account: the texts, and the deletion of its records.
/// A deployment without one keeps them waiting in the outbox; every other kind runs.
pub const PHONE_PROVIDER_JOBS: [&str; 4] = [
    TextBack::NAME,
    StaffReply::NAME,
    ForgetProviderRecords::NAME,
    ForgetCallerAtProvider::NAME,
];

/// What running jobs may use: the domain's handles and the providers they call.
#[derive(Clone)]
pub struct JobContext {
    pub backend: Backend,
    /// `None` when no phone provider is configured: no worker then claims a job that texts
    /// ([`PHONE_PROVIDER_JOBS`]).
    pub sms: Option<Arc<dyn SmsProvider>>,
    /// Where the provider reports on texts the jobs send.
    pub sms_status_callback: String,
}

/// What one attempt at a job came to.
#[derive(Debug)]
pub enum Attempt {
    /// The work is done; the provider's id and status for what it did, if any.
    Done(Receipt),
    /// It did not work this time.
    Failed {
        /// Statuses and provider codes only, never a number or a text.
        error: String,
        /// Whether trying again later may help (the queue retries with backoff until its limit).
        retryable: bool,
        /// Since when the outside world may have acted on an attempt we have no answer for.
        in_doubt_since: Option<DateTime<Utc>>,
    },
    /// The job no longer applies; nothing was done.
    Cancelled(&'static str),
    /// The job is not due yet after all, for `reason` (a follow-up whose clinic closed before it
    /// ran): nothing was done, and it waits until `until` (the attempt counts, as every one does).
    Postponed {
        until: DateTime<Utc>,
        reason: &'static str,
    },
}

impl Attempt {
    /// A provider's failure; `in_doubt_since` when the request may have been acted on.
    pub fn provider_failed(error: &ProviderError, in_doubt_since: Option<DateTime<Utc>>) -> Self {
        Self::Failed {
            error: error.to_string(),
            retryable: error.is_retryable(),
            in_doubt_since,
        }
    }

    /// An attempt that did not finish for a reason waiting may cure (nothing was done that
    /// cannot be done again); the next one starts over.
    pub fn retry_later(error: String) -> Self {
        Self::Failed {
            error,
            retryable: true,
            in_doubt_since: None,
        }
    }
}

/// What the provider said about work it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub provider_id: String,
    pub provider_status: String,
    /// When the provider did it, when that was before this attempt (a text an earlier, doubtful
    /// attempt sent, found in its list); `None`: now.
    pub done_at: Option<DateTime<Utc>>,
}

impl Receipt {
    /// What a job that deleted `count` records at the provider did.
    pub fn deleted(count: usize) -> Self {
        Self {
            provider_id: format!("deleted:{count}"),
            provider_status: "deleted".to_owned(),
            done_at: None,
        }
    }
}

/// How a job type runs. The worker calls, for one claimed job:
/// 1. [`prepare`](Runnable::prepare) inside a transaction that has checked the claim: load and open
///    what the work needs, or say why there is nothing to do;
/// 2. [`perform`](Runnable::perform) outside any transaction: the call to the outside world;
/// 3. inside the transaction that stores the outcome, [`done`](Runnable::done) or
///    [`given_up`](Runnable::given_up) for the job's own records.
pub trait Runnable: Job + Send + Sync + 'static {
    /// What `prepare` hands to `perform`.
    type Ready: Send;

    fn prepare(
        &self,
        txn: &TenantTxn,
        row: &job_outbox::Model,
        context: &JobContext,
    ) -> impl Future<Output = Result<Result<Self::Ready, Attempt>, DomainError>> + Send;

    fn perform(
        &self,
        ready: Self::Ready,
        row: &job_outbox::Model,
        context: &JobContext,
    ) -> impl Future<Output = Attempt> + Send;

    /// The work was done: the job's own records of it (the default, for a job whose outbox row
    /// is record enough: none).
    fn done(
        &self,
        _txn: &TenantTxn,
        _row: &job_outbox::Model,
        _receipt: &Receipt,
        _context: &JobContext,
    ) -> impl Future<Output = Result<(), DomainError>> + Send {
        async { Ok(()) }
    }

    /// For a job given up in doubt (its last attempt never settled, so its work may have been
    /// done): what the outside world says it did, asked in `scope` without doing it again; `None`
    /// when it did nothing, or (the default, for a job that cannot ask) cannot tell. The worker
    /// then stores the job as done with this receipt instead of giving it up.
    fn look_up(
        &self,
        _scope: &TenantScope,
        _row: &job_outbox::Model,
        _context: &JobContext,
    ) -> impl Future<Output = Result<Option<Receipt>, DomainError>> + Send {
        async { Ok(None) }
    }

    /// The job will not run again: `status` is `failed` (a dead letter) or why it was cancelled.
    fn given_up(
        &self,
        txn: &TenantTxn,
        row: &job_outbox::Model,
        status: &str,
        context: &JobContext,
    ) -> impl Future<Output = Result<(), DomainError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    /// Rows written before the jobs were typed hold the same names, keys and payloads.
    #[test]
    fn names_keys_and_payloads_keep_their_stored_shape() {
        let call = Uuid::nil();
        let job = TextBack {
            call,
            caller_key: "v1:ab".to_owned(),
        };
        assert_eq!(job.idempotency_key(), Some(format!("text_back:{call}")));
        assert_eq!(
            serde_json::to_value(&job).expect("json"),
            json!({ "call": call, "caller_key": "v1:ab" })
        );
        let reply = StaffReply {
            conversation: call,
            message: call,
            caller_key: "v1:cd".to_owned(),
        };
        assert_eq!(reply.idempotency_key(), Some(format!("reply:{call}")));
        assert_eq!(
            serde_json::to_value(&reply).expect("json"),
            json!({ "conversation": call, "message": call, "caller_key": "v1:cd" })
        );
    }
}
