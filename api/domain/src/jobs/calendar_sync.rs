//! [`CalendarSync`]: make the clinic's Google calendar show one booking as it stands now. Queued
//! whenever a booking is made, moved or cancelled while it has or may need an event
//! (`service::calendar::queue_sync`); each run reads the booking afresh, so syncs may run in any
//! order, twice, or side by side, and the calendar still ends as the booking is: the event (its
//! id is the booking's, so putting it twice leaves one) in the clinic's calendar while the booking
//! stands and has a start, removed from any other calendar it was put in.
//!
//! The event is put first, then removed from calendars it should no longer be in (one the clinic
//! stopped sharing is skipped: there is nothing we can do there). When its outcome is stored, the
//! sync records where the event now is and compares what it did with what the booking and the
//! clinic need now: when they changed meanwhile (a cancellation, a move, another calendar) it
//! queues another sync, so the last change always reaches Google whatever order syncs ran in. A
//! calendar no longer shared is a dead letter the dashboard shows; Google being busy or
//! unreachable is retried with the queue's backoff. Nothing about the caller goes to Google
//! (`service::calendar`), and nothing is audited per event: the booking's own audit entry and
//! this job's row in the outbox are the record.

use ringback_core::error::DomainError;
use ringback_core::outbox::Job;
use ringback_core::tenant::TenantTxn;
use ringback_entity::{appointment, job_outbox};
use sea_orm::{ActiveModelTrait, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::jobs::{Attempt, FAILED, JobContext, Receipt, Runnable};
use crate::service::calendar::{self, ClinicCalendar, SyncPlan};
use crate::service::{appointments, clinic};
use ringback_providers::google::CalendarError;

/// Make the clinic's calendar show booking `appointment` as it stands, removing its event from
/// `also_remove` too (calendars a sync that ran beside another may have left it in).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarSync {
    pub appointment: Uuid,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_remove: Vec<String>,
}

impl Job for CalendarSync {
    const NAME: &'static str = "calendar_sync";

    /// Not deduplicated: every change queues its own sync, and each does what the booking needs
    /// when it runs.
    fn idempotency_key(&self) -> Option<String> {
        None
    }
}

impl Runnable for CalendarSync {
    type Ready = SyncPlan;

    async fn prepare(
        &self,
        txn: &TenantTxn,
        _row: &job_outbox::Model,
        context: &JobContext,
    ) -> Result<Result<SyncPlan, Attempt>, DomainError> {
        let Some(desk) = &context.backend.calendar else {
            return Ok(Err(Attempt::Cancelled("Google Calendar is not configured")));
        };
        let booking = match appointments::find(txn, self.appointment).await {
            Ok(booking) => booking,
            Err(DomainError::NotFound) => {
                return Ok(Err(Attempt::Cancelled("the booking is gone")));
            }
            Err(other) => return Err(other),
        };
        let clinic = clinic::get(txn).await?;
        let plan = calendar::plan(&booking, &ClinicCalendar::of(&clinic), &desk.public_url)
            .also_removing(&self.also_remove);
        if plan.put.is_none() && plan.remove_from.is_empty() {
            return Ok(Err(Attempt::Cancelled("the booking needs no event")));
        }
        Ok(Ok(plan))
    }

    async fn perform(
        &self,
        plan: SyncPlan,
        _row: &job_outbox::Model,
        context: &JobContext,
    ) -> Attempt {
        let Some(desk) = &context.backend.calendar else {
            return Attempt::Cancelled("Google Calendar is not configured");
        };
        if let Some((calendar, event)) = &plan.put
            && let Err(error) = desk.provider.put_event(calendar, event).await
        {
            return failed(&error);
        }
        let event_id = calendar::event_id(self.appointment);
        for other in &plan.remove_from {
            match desk.provider.delete_event(other, &event_id).await {
                Ok(()) => {}
                // The clinic's own calendar refusing is not let go: its sharing may be mended,
                // and until then the event blocks a time the AI would otherwise offer.
                Err(CalendarError::NotShared) if !plan.is_current(other) => {
                    tracing::info!("a calendar no longer shared kept a booking's event");
                }
                Err(error) => return failed(&error),
            }
        }
        match serde_json::to_string(&plan) {
            // The plan carried out goes to `done` as the receipt's status.
            Ok(carried_out) => Attempt::Done(Receipt {
                provider_id: "google".to_owned(),
                provider_status: carried_out,
                done_at: None,
            }),
            Err(error) => Attempt::retry_later(format!("the sync's plan: {error}")),
        }
    }

    async fn done(
        &self,
        txn: &TenantTxn,
        _row: &job_outbox::Model,
        receipt: &Receipt,
        context: &JobContext,
    ) -> Result<(), DomainError> {
        let carried_out: SyncPlan = serde_json::from_str(&receipt.provider_status)
            .map_err(|error| DomainError::Internal(format!("a calendar sync's plan: {error}")))?;
        let Some(desk) = &context.backend.calendar else {
            return Ok(());
        };
        let mut booking = match appointments::find(txn, self.appointment).await {
            Ok(booking) => booking,
            Err(DomainError::NotFound) => return Ok(()),
            Err(other) => return Err(other),
        };
        // Another sync may have stored where it put the event meanwhile: a calendar this one
        // neither put it in nor removed it from is named for the next sync to remove it from.
        let clinic = clinic::get(txn).await?;
        let wanted = calendar::wanted_calendar(&booking, &ClinicCalendar::of(&clinic));
        let outcome = carried_out.outcome(booking.calendar_event_in.as_deref(), wanted.as_deref());
        if booking.calendar_event_in != outcome.recorded {
            let mut model: appointment::ActiveModel = booking.into();
            model.calendar_event_in = Set(outcome.recorded);
            booking = model.update(txn.conn()).await?;
        }
        let needed_now = calendar::plan(&booking, &ClinicCalendar::of(&clinic), &desk.public_url);
        if !carried_out.leaves_nothing_of(&needed_now) || !outcome.strays.is_empty() {
            // The booking or the clinic's calendar changed while this sync ran: another mends it.
            calendar::queue_sync_removing(txn, &booking, outcome.strays).await?;
        }
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
            tracing::warn!("a booking's calendar sync is a dead letter; the dashboard shows it");
        }
        Ok(())
    }
}

/// A failed calendar request as an attempt: retried while Google may recover.
fn failed(error: &CalendarError) -> Attempt {
    Attempt::Failed {
        error: error.to_string(),
        retryable: error.is_retryable(),
        in_doubt_since: None,
    }
}
