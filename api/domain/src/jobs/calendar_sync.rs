//! [`CalendarSync`]: make the clinic's Google calendar show one booking as it stands now. Queued
//! whenever a booking is made, moved or cancelled while it has or may need an event
//! (`service::calendar::queue_sync`); each run reads the booking afresh, so syncs may run in any
//! order, twice, or side by side, and the calendar still ends as the booking is: the event (its
//! id is the booking's, so putting it twice leaves one) in the clinic's calendar while the booking
//! stands and has a start, removed from any other calendar it was put in.
//!
//! A booking changed while a sync ran queues another when that sync's outcome is stored, so the
//! last change always reaches Google. A calendar no longer shared is a dead letter the dashboard
//! shows; Google being busy or unreachable is retried with the queue's backoff. Nothing about the
//! caller goes to Google (`service::calendar`), and nothing is audited per event: the booking's
//! own audit entry and this job's row in the outbox are the record.

use ringback_core::error::DomainError;
use ringback_core::outbox::Job;
use ringback_core::tenant::TenantTxn;
use ringback_entity::{appointment, job_outbox};
use sea_orm::{ActiveModelTrait, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::jobs::{Attempt, JobContext, Receipt, Runnable};
use crate::service::calendar::{self, ClinicCalendar, SyncPlan};
use crate::service::{appointments, clinic};

/// Make the clinic's calendar show booking `appointment` as it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarSync {
    pub appointment: Uuid,
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
        let plan = calendar::plan(&booking, &ClinicCalendar::of(&clinic), &desk.public_url);
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
        let event_id = calendar::event_id(self.appointment);
        for other in &plan.remove_from {
            if let Err(error) = desk.provider.delete_event(other, &event_id).await {
                return failed(&error);
            }
        }
        let status = match &plan.put {
            Some((calendar, event)) => match desk.provider.put_event(calendar, event).await {
                Ok(()) => "put",
                Err(error) => return failed(&error),
            },
            None => "removed",
        };
        Attempt::Done(Receipt {
            provider_id: "google".to_owned(),
            provider_status: status.to_owned(),
            done_at: None,
        })
    }

    async fn done(
        &self,
        txn: &TenantTxn,
        row: &job_outbox::Model,
        _receipt: &Receipt,
        _context: &JobContext,
    ) -> Result<(), DomainError> {
        let Ok(booking) = appointments::find(txn, self.appointment).await else {
            return Ok(());
        };
        let clinic = clinic::get(txn).await?;
        let changed_meanwhile = row
            .claimed_at
            .is_none_or(|claimed| booking.updated_at > claimed);
        let kept_in = calendar::wanted_calendar(&booking, &ClinicCalendar::of(&clinic));
        if changed_meanwhile {
            // This sync may have put what the booking no longer is: the next one mends it.
            calendar::queue_sync(txn, &booking).await?;
        }
        if booking.calendar_event_in != kept_in {
            let mut model: appointment::ActiveModel = booking.into();
            model.calendar_event_in = Set(kept_in);
            model.update(txn.conn()).await?;
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
        tracing::warn!(status, "a booking's calendar event was given up");
        Ok(())
    }
}

/// A failed calendar request as an attempt: retried while Google may recover.
fn failed(error: &ringback_providers::google::CalendarError) -> Attempt {
    Attempt::Failed {
        error: error.to_string(),
        retryable: error.is_retryable(),
        in_doubt_since: None,
    }
}
