//! [`CalendarFill`]: the next batch of upcoming bookings for the clinic's calendar after it was
//! chosen (or cleared). The choice queues a [`CalendarSync`](super::CalendarSync) for the
//! soonest [`MAX_SYNCED_ON_CHANGE`](crate::service::calendar::MAX_SYNCED_ON_CHANGE) bookings in
//! its own transaction; when there may be more, it queues this job, which queues the next batch
//! after the last booking queued (soonest first, by start then id) and, while batches come full,
//! another of itself. So every upcoming booking reaches the calendar, a batch at a time
//! ([`FILL_PAUSE`] apart), and no transaction writes more than one batch.
//!
//! Nothing leaves the server: the batch is queued when the job's outcome is stored, in that
//! transaction ([`Runnable::done`]), so a worker that stops half-way does not queue it twice. A
//! choice made since cancels the batches waiting or under way (the new choice starts its own;
//! both take the clinic's lock, so a batch is queued before the choice or not at all); one whose
//! clinic has since connected or cleared its calendar the other way is cancelled when it runs.
//! While more than [`MOST_SYNCS_WAITING`] of the clinic's syncs still wait (Google slow or
//! refusing), the next batch waits too.

use chrono::{DateTime, Utc};
use ringback_core::error::DomainError;
use ringback_core::outbox::{self, Job};
use ringback_core::tenant::TenantTxn;
use ringback_entity::job_outbox;
use sea_orm::{ColumnTrait, PaginatorTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::jobs::{Attempt, CalendarSync, FAILED, JobContext, Receipt, Runnable};
use crate::service::{calendar, clinic};

/// How long after one batch the next is queued: the syncs of a batch run first, so that the
/// service account every clinic shares is not asked for thousands of events at once.
pub const FILL_PAUSE: chrono::Duration = chrono::Duration::minutes(1);

/// How many of a clinic's syncs may still wait when the next batch is queued.
pub const MOST_SYNCS_WAITING: u64 = 100;

/// How many of the clinic's calendar syncs wait or run.
async fn syncs_waiting(txn: &TenantTxn) -> Result<u64, DomainError> {
    Ok(txn
        .find::<job_outbox::Entity>()
        .filter(job_outbox::Column::Kind.eq(CalendarSync::NAME))
        .filter(job_outbox::Column::Status.is_in([outbox::PENDING, outbox::CLAIMED]))
        .count(txn.conn())
        .await?)
}

/// Queue the syncs of the upcoming bookings after `after` (a start and an id): into the clinic's
/// calendar when `connected`, else out of the one it cleared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarFill {
    pub connected: bool,
    pub after: (DateTime<Utc>, Uuid),
    /// What its batches do with bookings whose sync still waits, as the choice's first did
    /// (skipped when the choice was saved again unchanged). Older jobs, without it, sync them.
    #[serde(default)]
    pub waiting: calendar::Waiting,
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

    /// The batch, queued as the job is stored done: unless a choice dropped this job meanwhile
    /// (checked under the lock the choice takes), and not while many of the clinic's syncs still
    /// wait (Google slow or refusing): then the same batch is tried again [`FILL_PAUSE`] later.
    async fn done(
        &self,
        txn: &TenantTxn,
        row: &job_outbox::Model,
        _receipt: &Receipt,
        _context: &JobContext,
    ) -> Result<(), DomainError> {
        txn.lock_clinic().await?;
        let still_ours = outbox::find(txn, row.id)
            .await?
            .is_some_and(|now| now.status == outbox::CLAIMED);
        if !still_ours {
            return Ok(());
        }
        if syncs_waiting(txn).await? > MOST_SYNCS_WAITING {
            calendar::queue_fill(txn, self.clone()).await?;
            return Ok(());
        }
        calendar::queue_upcoming(txn, (self.connected, self.waiting), Some(self.after)).await?;
        Ok(())
    }

    async fn given_up(
        &self,
        _txn: &TenantTxn,
        _row: &job_outbox::Model,
        status: &str,
        _context: &JobContext,
    ) -> Result<(), DomainError> {
        if status == FAILED {
            tracing::warn!(
                "a batch of upcoming bookings for the calendar was not queued; saving the calendar again queues them"
            );
        }
        Ok(())
    }
}
