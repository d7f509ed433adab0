//! [`ForgetProviderRecords`]: delete the phone provider's own records of calls and texts (Twilio
//! keeps each call's and text's numbers, and a text's words, in its logs), so that what the
//! clinic erased or let expire is gone at the provider too. Queued in the transaction that
//! erases a caller or purges the rows ([`queue`]), at most [`RECORDS_PER_JOB`] records a job;
//! a record already gone counts as deleted, so a retried job does no harm. Refusals that waiting
//! cannot cure (the account's credentials) end the job as a dead letter an admin can retry.

use ringback_core::error::DomainError;
use ringback_core::outbox::{Job, NewJob, enqueue};
use ringback_core::tenant::TenantTxn;
use ringback_entity::job_outbox;
use ringback_providers::records::is_record_id;
use ringback_providers::sms::ProviderError;
use serde::{Deserialize, Serialize};

use crate::jobs::{Attempt, JobContext, Receipt, Runnable};

/// Records one job deletes at most (each a request or two to the provider).
pub const RECORDS_PER_JOB: usize = 100;

/// Delete the provider's records of these calls (with the legs each started) and texts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgetProviderRecords {
    /// The provider's call ids (Twilio's `CA…`).
    pub calls: Vec<String>,
    /// The provider's message ids (Twilio's `SM…`/`MM…`).
    pub messages: Vec<String>,
}

impl Job for ForgetProviderRecords {
    const NAME: &'static str = "forget_provider_records";

    fn idempotency_key(&self) -> Option<String> {
        None
    }
}

/// Queues the deletion of the provider's records of `calls` and `messages` in `txn` (ids that
/// cannot name a record are left out), [`RECORDS_PER_JOB`] a job; how many records were queued.
pub async fn queue(
    txn: &TenantTxn,
    calls: Vec<String>,
    messages: Vec<String>,
) -> Result<u64, DomainError> {
    let records: Vec<(String, bool)> = calls
        .into_iter()
        .map(|sid| (sid, true))
        .chain(messages.into_iter().map(|sid| (sid, false)))
        .filter(|(sid, _)| is_record_id(sid))
        .collect();
    let jobs = records.chunks(RECORDS_PER_JOB).map(|chunk| {
        let (calls, messages): (Vec<_>, Vec<_>) = chunk.iter().partition(|(_, is_call)| *is_call);
        ForgetProviderRecords {
            calls: calls.into_iter().map(|(sid, _)| sid.clone()).collect(),
            messages: messages.into_iter().map(|(sid, _)| sid.clone()).collect(),
        }
    });
    let now = txn.now();
    let mut queued = 0;
    for job in jobs {
        queued += job.len() as u64;
        let new = NewJob {
            job,
            sealed_number: None,
            body_sealed: None,
            run_at: now,
        };
        enqueue(txn, new, now).await?;
    }
    Ok(queued)
}

impl ForgetProviderRecords {
    /// How many records the job deletes.
    pub fn len(&self) -> usize {
        self.calls.len() + self.messages.len()
    }

    /// Whether the job deletes nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether a failed deletion may work later: everything but a refusal of the account's
/// credentials (a record in use, a busy or unreachable provider).
fn may_work_later(error: &ProviderError) -> bool {
    !matches!(
        error,
        ProviderError::Refused {
            status: 401 | 403,
            ..
        }
    )
}

impl Runnable for ForgetProviderRecords {
    type Ready = ();

    async fn prepare(
        &self,
        _txn: &TenantTxn,
        _row: &job_outbox::Model,
        _context: &JobContext,
    ) -> Result<Result<(), Attempt>, DomainError> {
        Ok(Ok(()))
    }

    async fn perform(&self, _ready: (), _row: &job_outbox::Model, context: &JobContext) -> Attempt {
        let Some(records) = &context.backend.provider_records else {
            return Attempt::Failed {
                error: "no provider account is configured".to_owned(),
                retryable: true,
                in_doubt_since: None,
            };
        };
        for sid in &self.calls {
            if let Err(error) = records.forget_call(sid).await {
                return failed(&error);
            }
        }
        for sid in &self.messages {
            if let Err(error) = records.forget_message(sid).await {
                return failed(&error);
            }
        }
        Attempt::Done(Receipt {
            provider_id: format!("deleted:{}", self.len()),
            provider_status: "deleted".to_owned(),
            done_at: None,
        })
    }

    async fn given_up(
        &self,
        _txn: &TenantTxn,
        row: &job_outbox::Model,
        status: &str,
        _context: &JobContext,
    ) -> Result<(), DomainError> {
        tracing::warn!(
            job = %row.id,
            calls = self.calls.len(),
            texts = self.messages.len(),
            status,
            "deleting the provider's records of calls and texts was given up; they stay at the provider until the job is retried"
        );
        Ok(())
    }
}

/// A deletion the provider did not do.
fn failed(error: &ProviderError) -> Attempt {
    Attempt::Failed {
        error: error.to_string(),
        retryable: may_work_later(error),
        in_doubt_since: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_credential_refusals_end_the_job() {
        let refused = |status| ProviderError::Refused { status, code: None };
        assert!(!may_work_later(&refused(401)));
        assert!(!may_work_later(&refused(403)));
        assert!(may_work_later(&refused(409)));
        assert!(may_work_later(&ProviderError::Unavailable { status: 503 }));
        assert!(may_work_later(&ProviderError::NoAnswer("timed out")));
    }
}
