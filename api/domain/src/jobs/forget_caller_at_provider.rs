//! [`ForgetCallerAtProvider`]: after an erasure, search the phone provider's log for every call
//! and text between the erased caller and the clinic's numbers, and delete what it finds. The
//! records Ringback kept an id of go with [`ForgetProviderRecords`](super::ForgetProviderRecords);
//! this search reaches the ones it never kept or no longer links to the caller: the automatic
//! answers to STOP, START and HELP, calls stored under a restricted caller's stand-in key, calls
//! and texts of a time Ringback did not record (its webhooks down).
//!
//! Each number is searched from when the clinic added it, so the records of a number's earlier
//! holder (another clinic of the deployment, on the same account) stay; so do another clinic's
//! records of the same caller. The caller's number travels sealed beside the job, as a text's
//! does: a finished or cancelled search loses it; one that gave up keeps it for an admin's retry
//! of the dead letter until the dead letters are purged. Deleting what is already gone
//! succeeds, so a retried search does no harm; an attempt stops before the worker's lease runs
//! out, and a search cut short (the provider slow, or more records than one listing holds) goes
//! on at the next attempt. Every failure may be cured by waiting, so it is retried.

use std::time::Instant;

use chrono::{DateTime, Utc};
use ringback_core::error::DomainError;
use ringback_core::keys;
use ringback_core::outbox::{Job, NewJob, enqueue};
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;
use ringback_entity::job_outbox;
use serde::{Deserialize, Serialize};

use crate::jobs::forget_provider_records::{ATTEMPT_WITHIN, delete_each};
use crate::jobs::{Attempt, JobContext, Receipt, Runnable};
use crate::service::clinic;
use crate::service::phone_lines::{self, Holding};

/// How long after the erasure the search runs: longer than a worker's lease (two minutes), so a
/// text to the caller that a worker had claimed before the erasure, and that reached the provider
/// as the erasure committed (its job and message gone, its id never stored), is in the log by
/// then and is found.
pub const SEARCH_AFTER: std::time::Duration = std::time::Duration::from_secs(180);

/// An attempt starts listing a number's records only this early, so that the listing (a few
/// pages) and the deletions that follow end well inside the worker's lease.
const LIST_WITHIN: std::time::Duration = std::time::Duration::from_secs(20);

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

/// Queues, in `txn`, the search for the caller with number `e164`, due [`SEARCH_AFTER`] from now,
/// when the deployment has a provider account (`searchable`) and the clinic a number there;
/// whether one was queued.
pub async fn queue(
    txn: &TenantTxn,
    secrets: &Secrets,
    e164: &str,
    searchable: bool,
) -> Result<bool, DomainError> {
    let numbers = phone_lines::numbers_held(txn, Holding::InUseOrHeldBack);
    if !searchable || numbers.await?.is_empty() {
        return Ok(false);
    }
    let key = keys::data_key(secrets, &clinic::get(txn).await?)?;
    let now = txn.now();
    let job = NewJob {
        job: ForgetCallerAtProvider {},
        sealed_number: Some(keys::seal_caller_number(&key, txn.clinic_id(), e164)?),
        body_sealed: None,
        run_at: now + chrono::Duration::from_std(SEARCH_AFTER).unwrap_or_default(),
    };
    enqueue(txn, job, now).await?;
    Ok(true)
}

/// The caller's number and the clinic's (each with when the clinic added it), opened for one
/// attempt.
pub struct Search {
    caller: String,
    clinic_numbers: Vec<(String, DateTime<Utc>)>,
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
        let secrets = &context.backend.secrets;
        let key = keys::data_key(secrets, &clinic::get(txn).await?)?;
        let caller = keys::open_caller_number(&key, txn.clinic_id(), sealed)?;
        let opened =
            phone_lines::opened_provider_numbers(txn, secrets, Holding::InUseOrHeldBack).await?;
        let clinic_numbers = opened
            .into_iter()
            .map(|number| (number.e164, number.row.created_at))
            .collect();
        Ok(Ok(Search {
            caller,
            clinic_numbers,
        }))
    }

    async fn perform(
        &self,
        search: Search,
        _row: &job_outbox::Model,
        context: &JobContext,
    ) -> Attempt {
        let Some(records) = &context.backend.provider_records else {
            return Attempt::retry_later("no provider account is configured".to_owned());
        };
        let deadline = Instant::now() + ATTEMPT_WITHIN;
        let mut deleted = 0;
        let mut complete = true;
        let list_before = Instant::now() + LIST_WITHIN;
        for (clinic_number, since) in &search.clinic_numbers {
            if Instant::now() > list_before {
                return Attempt::retry_later(
                    "the provider was slow; the search goes on at the next attempt".to_owned(),
                );
            }
            let numbers = (search.caller.as_str(), clinic_number.as_str());
            let held = match records.records_between(numbers, *since).await {
                Ok(held) => held,
                Err(error) => return Attempt::retry_later(error.to_string()),
            };
            let found = (held.calls.as_slice(), held.messages.as_slice());
            match delete_each(records.as_ref(), found, deadline).await {
                Ok(count) => deleted += count,
                Err(unfinished) => return unfinished,
            }
            complete &= held.complete;
        }
        if !complete {
            return Attempt::retry_later(
                "more records than one listing holds; the rest at the next attempt".to_owned(),
            );
        }
        Attempt::Done(Receipt::deleted(deleted))
    }

    /// A search that gave up keeps its number (sealed) so that an admin can retry it; the dead
    /// letter goes, with the number, when the dead letters are purged.
    async fn given_up(
        &self,
        _txn: &TenantTxn,
        row: &job_outbox::Model,
        status: &str,
        _context: &JobContext,
    ) -> Result<(), DomainError> {
        tracing::warn!(
            job = %row.id,
            status,
            "a search of the provider's log for an erased caller gave up"
        );
        Ok(())
    }
}
