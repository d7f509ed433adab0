//! [`ReportOverage`]: report SMS segments beyond a plan's allowance to Stripe as a billing meter
//! event. Queued in the transaction that counted the text, so an overage is owed exactly when it
//! was counted; sent with the time it was counted (so it is billed in that period) and an
//! identifier Stripe deduplicates on (for at least 24 hours), so a worker that dies between Stripe's
//! answer and recording it sends the same event again and Stripe bills it once. Refusals that
//! waiting cannot cure (a bad request, a key without the right, an unknown customer) end the job
//! as a dead letter, which the log names by its identifier. Failures that waiting may cure (Stripe
//! down or limiting, billing switched off for a while) are tried again with backoff for up to
//! [`KEEP_TRYING_FOR`] after the text was counted, well past the worker's usual attempts (an
//! outage of Stripe's must not lose what is owed), and inside the day Stripe deduplicates on.

use chrono::{DateTime, Duration, Utc};
use ringback_core::error::DomainError;
use ringback_core::outbox::Job;
use ringback_core::tenant::TenantTxn;
use ringback_entity::job_outbox;
use ringback_providers::stripe::client::BillingError;
use serde::{Deserialize, Serialize};

use crate::jobs::{Attempt, JobContext, Receipt, Runnable};
use crate::service::{clinic, usage};

/// Report `segments` beyond the allowance of the period starting `period_start`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportOverage {
    pub period_start: DateTime<Utc>,
    pub segments: u64,
    /// When the text was counted.
    pub at: DateTime<Utc>,
    /// The meter event's identifier: one per counted text.
    pub identifier: String,
}

impl Job for ReportOverage {
    const NAME: &'static str = "report_overage";

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::NAME, self.identifier))
    }
}

/// The customer to bill.
pub struct Customer(String);

/// How long after the text was counted a report that failed for a passing reason is tried again:
/// less than the day Stripe deduplicates meter events on, so a retry never bills twice.
pub const KEEP_TRYING_FOR: Duration = Duration::hours(23);
/// The first wait before trying again, doubling up to [`LONGEST_WAIT`].
const FIRST_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
const LONGEST_WAIT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

impl ReportOverage {
    /// The attempt after a failure that waiting may cure (the `attempts`-th): tried again after
    /// a backoff while that falls within [`KEEP_TRYING_FOR`] of the count, else `failed` as is.
    fn again_or(&self, attempts: i32, now: DateTime<Utc>, failed: Attempt) -> Attempt {
        let wait = ringback_core::outbox::backoff(attempts, FIRST_WAIT, LONGEST_WAIT);
        let until = now + Duration::from_std(wait).unwrap_or(Duration::minutes(30));
        if until < self.at + KEEP_TRYING_FOR {
            Attempt::Postponed {
                until,
                reason: "Stripe did not take the report yet: tried again",
            }
        } else {
            failed
        }
    }
}

impl Runnable for ReportOverage {
    type Ready = Customer;

    async fn prepare(
        &self,
        txn: &TenantTxn,
        _row: &job_outbox::Model,
        _context: &JobContext,
    ) -> Result<Result<Customer, Attempt>, DomainError> {
        Ok(match clinic::get(txn).await?.stripe_customer_id {
            Some(customer) => Ok(Customer(customer)),
            None => Err(Attempt::Cancelled("no Stripe customer")),
        })
    }

    async fn perform(
        &self,
        customer: Customer,
        row: &job_outbox::Model,
        context: &JobContext,
    ) -> Attempt {
        let now = context.backend.clock.now();
        let Some(billing) = &context.backend.billing else {
            return self.again_or(row.attempts, now, Attempt::Cancelled("billing is off"));
        };
        let reported = billing
            .stripe
            .report_usage(
                &billing.settings.meter_event,
                &customer.0,
                (self.segments, self.at.timestamp()),
                &self.identifier,
            )
            .await;
        match reported {
            Ok(()) => Attempt::Done(Receipt {
                provider_id: self.identifier.clone(),
                provider_status: "reported".to_owned(),
                done_at: None,
            }),
            Err(error @ BillingError::Refused(400 | 401 | 403 | 404)) => Attempt::Failed {
                retryable: false,
                error: error.to_string(),
                in_doubt_since: None,
            },
            Err(error) => {
                let failed = Attempt::Failed {
                    retryable: false,
                    error: error.to_string(),
                    in_doubt_since: None,
                };
                self.again_or(row.attempts, now, failed)
            }
        }
    }

    async fn done(
        &self,
        txn: &TenantTxn,
        _row: &job_outbox::Model,
        _receipt: &Receipt,
        _context: &JobContext,
    ) -> Result<(), DomainError> {
        usage::overage_reported(txn, self.period_start, self.segments).await
    }

    async fn given_up(
        &self,
        _txn: &TenantTxn,
        _row: &job_outbox::Model,
        status: &str,
        _context: &JobContext,
    ) -> Result<(), DomainError> {
        tracing::warn!(
            identifier = %self.identifier,
            segments = self.segments,
            status,
            "an overage report to Stripe was given up; it is not billed"
        );
        Ok(())
    }
}
