//! [`ForgetProviderRecords`]: delete the phone provider's own records of calls and texts (Twilio
//! keeps each call's and text's numbers, and a text's words, in its logs), so that what the
//! clinic erased, let expire or refused to process is gone at the provider too. Queued in the
//! transaction that erases a caller, purges the rows or turns a restricted caller's text away
//! ([`queue`]), at most [`RECORDS_PER_JOB`] records a job; a record already gone counts as
//! deleted, so a retried job does no harm. An attempt stops before the worker's lease runs out
//! and the next one starts again (what it deleted is then quickly found gone). Every failure may
//! be cured by waiting or by the operator (the account's credentials), so it is retried; a job
//! that gives up hands its records to the deployment's `provider_leftovers`, which keeps trying
//! (see `service::provider_leftovers`), so no id is lost with a dead letter.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ringback_core::error::DomainError;
use ringback_core::outbox::{Job, NewJob, enqueue};
use ringback_core::tenant::TenantTxn;
use ringback_entity::{call, job_outbox, message};
use ringback_providers::records::{ProviderRecords, is_record_id};
use ringback_providers::twilio::PROVIDER_NAME;
use sea_orm::sea_query::SimpleExpr;
use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};

use crate::jobs::{Attempt, JobContext, Receipt, Runnable};
use crate::service::provider_leftovers;

/// Records one job deletes at most (each a request or three to the provider).
pub const RECORDS_PER_JOB: usize = 20;
/// How long one attempt keeps asking the provider: well inside the worker's lease.
pub(crate) const ATTEMPT_WITHIN: Duration = Duration::from_secs(60);

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

/// The provider's ids of the clinic's calls matching `condition` that came through Twilio.
pub async fn call_ids(txn: &TenantTxn, condition: SimpleExpr) -> Result<Vec<String>, DomainError> {
    Ok(txn
        .find::<call::Entity>()
        .select_only()
        .column(call::Column::ExternalId)
        .filter(condition)
        .filter(call::Column::Provider.eq(PROVIDER_NAME))
        .into_tuple()
        .all(txn.conn())
        .await?)
}

/// The provider's ids of the clinic's texts matching `condition`, and of the automated answers
/// sent to those that were keywords.
pub async fn message_ids(
    txn: &TenantTxn,
    condition: SimpleExpr,
) -> Result<Vec<String>, DomainError> {
    let ids: Vec<(Option<String>, Option<String>)> = txn
        .find::<message::Entity>()
        .select_only()
        .column(message::Column::ProviderMessageId)
        .column(message::Column::AnswerProviderId)
        .filter(condition)
        .filter(
            sea_orm::Condition::any()
                .add(message::Column::ProviderMessageId.is_not_null())
                .add(message::Column::AnswerProviderId.is_not_null()),
        )
        .into_tuple()
        .all(txn.conn())
        .await?;
    Ok(ids
        .into_iter()
        .flat_map(|(text, answer)| text.into_iter().chain(answer))
        .collect())
}

/// Queues, in `txn`, the deletion of the provider's records of `calls` and `messages` from
/// `run_at` on (ids that cannot name a record are left out), [`RECORDS_PER_JOB`] a job; how
/// many records were queued.
pub async fn queue(
    txn: &TenantTxn,
    calls: Vec<String>,
    messages: Vec<String>,
    run_at: DateTime<Utc>,
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
        queued += job.records() as u64;
        let new = NewJob {
            job,
            sealed_number: None,
            body_sealed: None,
            run_at,
        };
        enqueue(txn, new, now).await?;
    }
    Ok(queued)
}

/// Deletes `calls` (with the legs each started) and `messages` at the provider one by one, and
/// stops at the first failure or once `deadline` has passed (the attempt to report then: the
/// next one starts again, and finds what was deleted already gone); how many were deleted.
pub(crate) async fn delete_each(
    records: &dyn ProviderRecords,
    (calls, messages): (&[String], &[String]),
    deadline: Instant,
) -> Result<usize, Attempt> {
    let named = calls.iter().map(|sid| (sid, true));
    let named = named.chain(messages.iter().map(|sid| (sid, false)));
    for (sid, is_call) in named {
        if Instant::now() > deadline {
            return Err(Attempt::retry_later(
                "the provider was slow; the rest waits for the next attempt".to_owned(),
            ));
        }
        let deleted = if is_call {
            records.forget_call(sid).await
        } else {
            records.forget_message(sid).await
        };
        deleted.map_err(|error| Attempt::retry_later(error.to_string()))?;
    }
    Ok(calls.len() + messages.len())
}

impl ForgetProviderRecords {
    /// How many records the job deletes.
    fn records(&self) -> usize {
        self.calls.len() + self.messages.len()
    }
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
            return Attempt::retry_later("no provider account is configured".to_owned());
        };
        let deadline = Instant::now() + ATTEMPT_WITHIN;
        match delete_each(records.as_ref(), (&self.calls, &self.messages), deadline).await {
            Ok(deleted) => Attempt::Done(Receipt::deleted(deleted)),
            Err(unfinished) => unfinished,
        }
    }

    async fn given_up(
        &self,
        txn: &TenantTxn,
        row: &job_outbox::Model,
        status: &str,
        _context: &JobContext,
    ) -> Result<(), DomainError> {
        let handed = provider_leftovers::adopt(txn.conn(), self, txn.now()).await?;
        tracing::warn!(
            job = %row.id,
            handed,
            status,
            "a job deleting the provider's records of calls and texts gave up; provider_leftovers keeps trying"
        );
        Ok(())
    }
}
