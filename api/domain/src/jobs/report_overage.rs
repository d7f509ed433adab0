//! [`ReportOverage`]: report SMS segments beyond a plan's allowance to Stripe as a billing meter
//! event. Queued in the transaction that counted the text, so an overage is owed exactly when it
//! was counted; sent with an identifier Stripe deduplicates on, so a worker that dies between
//! Stripe's answer and recording it sends the same event again and Stripe bills it once.

use chrono::{DateTime, Utc};
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
        _row: &job_outbox::Model,
        context: &JobContext,
    ) -> Attempt {
        let Some(billing) = &context.backend.billing else {
            return Attempt::Cancelled("billing is off");
        };
        let reported = billing
            .stripe
            .report_usage(
                &billing.settings.meter_event,
                &customer.0,
                self.segments,
                &self.identifier,
            )
            .await;
        match reported {
            Ok(()) => Attempt::Done(Receipt {
                provider_id: self.identifier.clone(),
                provider_status: "reported".to_owned(),
            }),
            Err(error) => Attempt::Failed {
                retryable: !matches!(error, BillingError::Refused(400..=499)),
                error: error.to_string(),
                in_doubt_since: None,
            },
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
        _status: &str,
    ) -> Result<(), DomainError> {
        Ok(())
    }
}
