//! [`ForgetCallerAtProvider`]: after an erasure, search the phone provider's log for every call
//! and text between the erased caller and the clinic's numbers, and delete what it finds. The
//! records Ringback kept an id of go with [`ForgetProviderRecords`](super::ForgetProviderRecords);
//! this search reaches the ones it never kept or no longer links to the caller: the automatic
//! answers to STOP, START and HELP, calls stored under a restricted caller's stand-in key, calls
//! and texts of a time Ringback did not record (its webhooks down, an import without ids).
//!
//! The caller's number travels sealed beside the job, as a text's does, and goes with the job
//! whether it succeeds or gives up. Only the clinic's own numbers are searched, so another
//! clinic's records of the same caller (on the same account) stay. Deleting what is already gone
//! succeeds, so a retried search does no harm; an attempt stops before the worker's lease runs
//! out and the next one searches again. Every failure may be cured by waiting, so it is retried
//! until the queue gives up; a dead letter tells the clinic's admins.

use std::time::{Duration, Instant};

use ringback_core::error::DomainError;
use ringback_core::keys;
use ringback_core::outbox::{Job, NewJob, enqueue};
use ringback_core::tenant::TenantTxn;
use ringback_entity::job_outbox;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use crate::jobs::{Attempt, JobContext, Receipt, Runnable};
use crate::service::{clinic, phone_lines};

/// How long one attempt keeps asking the provider: well inside the worker's lease.
const ATTEMPT_WITHIN: Duration = Duration::from_secs(60);

/// Search the provider's log for the calls and texts between the caller whose number is sealed
/// beside the job and the clinic's numbers, and delete them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgetCallerAtProvider {}

impl Job for ForgetCallerAtProvider {
    const NAME: &'static str = "forget_caller_at_provider";

    fn idempotency_key(&self) -> Option<String> {
        None
    }
}

/// Queues, in `txn`, the search for the caller with number `e164`; whether one was queued (a
/// clinic without a number of its own at the provider has nothing to search).
pub async fn queue(
    txn: &TenantTxn,
    secrets: &ringback_core::secrets::Secrets,
    e164: &str,
) -> Result<bool, DomainError> {
    if phone_lines::provider_numbers(txn).await?.is_empty() {
        return Ok(false);
    }
    let key = keys::data_key(secrets, &clinic::get(txn).await?)?;
    let now = txn.now();
    let job = NewJob {
        job: ForgetCallerAtProvider {},
        sealed_number: Some(keys::seal_caller_number(&key, txn.clinic_id(), e164)?),
        body_sealed: None,
        run_at: now,
    };
    enqueue(txn, job, now).await?;
    Ok(true)
}

/// The caller's number and the clinic's, opened for one attempt.
pub struct Search {
    caller: String,
    clinic_numbers: Vec<String>,
}

impl Runnable for ForgetCallerAtProvider {
    type Ready = Search;

    async fn prepare(
        &self,
        txn: &TenantTxn,
        row: &job_outbox::Model,
        context: &JobContext,
    ) -> Result<Result<Search, Attempt>, DomainError> {
        let Some(sealed) = &row.sealed_number else {
            return Ok(Err(Attempt::Cancelled("the number to search for is gone")));
        };
        let key = keys::data_key(&context.backend.secrets, &clinic::get(txn).await?)?;
        let caller = keys::open_caller_number(&key, txn.clinic_id(), sealed)?;
        let opened = phone_lines::opened_provider_numbers(txn, &context.backend.secrets).await?;
        Ok(Ok(Search {
            caller,
            clinic_numbers: opened.into_iter().map(|number| number.e164).collect(),
        }))
    }

    async fn perform(
        &self,
        search: Search,
        _row: &job_outbox::Model,
        context: &JobContext,
    ) -> Attempt {
        let Some(records) = &context.backend.provider_records else {
            return Attempt::Cancelled("no provider account is configured: no log to search");
        };
        let started = Instant::now();
        let mut deleted = 0;
        for clinic_number in &search.clinic_numbers {
            let held = match records.records_between(&search.caller, clinic_number).await {
                Ok(held) => held,
                Err(error) => return Attempt::retry_later(error.to_string()),
            };
            for sid in &held.calls {
                if let Err(error) = records.forget_call(sid).await {
                    return Attempt::retry_later(error.to_string());
                }
            }
            for sid in &held.messages {
                if let Err(error) = records.forget_message(sid).await {
                    return Attempt::retry_later(error.to_string());
                }
            }
            deleted += held.len();
            if started.elapsed() > ATTEMPT_WITHIN {
                return Attempt::retry_later(
                    "the provider was slow; the search goes on at the next attempt".to_owned(),
                );
            }
        }
        Attempt::Done(Receipt {
            provider_id: format!("deleted:{deleted}"),
            provider_status: "deleted".to_owned(),
            done_at: None,
        })
    }

    /// A search that gave up loses the number it searched for (a finished job's goes when it is
    /// settled).
    async fn given_up(
        &self,
        txn: &TenantTxn,
        row: &job_outbox::Model,
        status: &str,
        _context: &JobContext,
    ) -> Result<(), DomainError> {
        txn.update_many::<job_outbox::Entity>()
            .col_expr(
                job_outbox::Column::SealedNumber,
                Expr::value(None::<Vec<u8>>),
            )
            .filter(job_outbox::Column::Id.eq(row.id))
            .exec(txn.conn())
            .await?;
        tracing::warn!(
            job = %row.id,
            status,
            "a search of the provider's log for an erased caller gave up; its number is gone"
        );
        Ok(())
    }
}
