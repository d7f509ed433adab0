//! [`CalendarFill`]: the next batch of upcoming bookings for the clinic's calendar after it was
//! chosen (or cleared). The choice queues a [`CalendarSync`](super::CalendarSync) for the
//! soonest [`MAX_SYNCED_ON_CHANGE`](crate::service::calendar::MAX_SYNCED_ON_CHANGE) bookings in
//! its own transaction; when there may be more, it queues this job, which queues the next batch
//! after the last booking queued (soonest first, by start then id) and, while batches come full,
//! another of itself. So every upcoming booking reaches the calendar, a batch at a time
//! ([`FILL_PAUSE`] apart), and no transaction writes more than one batch.
//!
//! Nothing leaves the server: the batch is queued when the job's outcome is stored, in that
//! transaction ([`Runnable::done`]), so a worker that stops half-way queues nothing twice. A
//! choice made since cancels the batches still waiting (the new choice starts its own); one whose
//! clinic has since connected or cleared its calendar the other way is cancelled when it runs.

use chrono::{DateTime, Utc};
use ringback_core::error::DomainError;
use ringback_core::outbox::Job;
use ringback_core::tenant::TenantTxn;
use ringback_entity::job_outbox;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::jobs::{Attempt, JobContext, Receipt, Runnable};
use crate::service::{calendar, clinic};

/// How long after one batch the next is queued: the syncs of a batch run first, so that the
/// service account every clinic shares is not asked for thousands of events at once.
pub const FILL_PAUSE: chrono::Duration = chrono::Duration::minutes(1);

/// Queue the syncs of the upcoming bookings after `after` (a start and an id): into the clinic's
/// calendar when `connected`, else out of the one it cleared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarFill {
    pub connected: bool,
    pub after: (DateTime<Utc>, Uuid),
}

impl Job for CalendarFill {
    const NAME: &'static str = "calendar_fill";

    /// Not deduplicated: each choice starts its own batches and cancels the earlier ones waiting.
    fn idempotency_key(&self) -> Option<String> {
        None
    }
}

impl Runnable for CalendarFill {
    type Ready = ();

    async fn prepare(
        &self,
        txn: &TenantTxn,
        _row: &job_outbox::Model,
        _context: &JobContext,
    ) -> Result<Result<(), Attempt>, DomainError> {
        let connected = clinic::get(txn).await?.google_calendar_id.is_some();
        if connected != self.connected {
            return Ok(Err(Attempt::Cancelled("the calendar was changed since")));
        }
        Ok(Ok(()))
    }

    async fn perform(
        &self,
        _ready: (),
        _row: &job_outbox::Model,
        _context: &JobContext,
    ) -> Attempt {
        Attempt::Done(Receipt {
            provider_id: Self::NAME.to_owned(),
            provider_status: "queued".to_owned(),
            done_at: None,
        })
    }

    /// The batch, queued as the job is stored done.
    async fn done(
        &self,
        txn: &TenantTxn,
        _row: &job_outbox::Model,
        _receipt: &Receipt,
        _context: &JobContext,
    ) -> Result<(), DomainError> {
        calendar::queue_upcoming(txn, self.connected, Some(self.after)).await?;
        Ok(())
    }

    async fn given_up(
        &self,
        _txn: &TenantTxn,
        _row: &job_outbox::Model,
        status: &str,
        _context: &JobContext,
    ) -> Result<(), DomainError> {
        if status == "failed" {
            tracing::warn!(
                "a batch of upcoming bookings for the calendar was not queued; saving the calendar again queues them"
            );
        }
        Ok(())
    }
}
