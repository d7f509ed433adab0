//! [`AiFollowUp`]: the one follow-up text to a caller who went quiet after the text-back or an
//! AI question, due when the clinic's follow-up wait has passed and it is open. Whether it is
//! still due is checked when the job is claimed and again in the transaction that stores the
//! follow-up and queues its text (see [`crate::service::ai_follow_ups`]); the text then goes out
//! as its own text job, sent at most once like every other.

use ringback_core::error::DomainError;
use ringback_core::outbox::Job;
use ringback_core::tenant::TenantTxn;
use ringback_entity::job_outbox;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::jobs::{Attempt, JobContext, Receipt, Runnable};
use crate::service::ai_follow_ups::{self, Due};

/// Follow up in a conversation where the caller has not answered the text `after`: one per text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiFollowUp {
    pub conversation: Uuid,
    /// The text to the caller that went unanswered.
    pub after: Uuid,
}

impl Job for AiFollowUp {
    const NAME: &'static str = "ai_follow_up";

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::NAME, self.after))
    }
}

impl Runnable for AiFollowUp {
    type Ready = ();

    async fn prepare(
        &self,
        txn: &TenantTxn,
        _row: &job_outbox::Model,
        context: &JobContext,
    ) -> Result<Result<(), Attempt>, DomainError> {
        let billing = context.backend.billing_settings();
        Ok(
            match ai_follow_ups::due_and_paid_for(txn, billing, self).await? {
                Due::Now => Ok(()),
                Due::WhenOpen(until) => Err(Attempt::Postponed {
                    until,
                    reason: "the clinic is closed now",
                }),
                Due::Never(why) => Err(Attempt::Cancelled(why)),
            },
        )
    }

    /// Nothing leaves the building here: the follow-up is stored and its text queued when the
    /// outcome is stored.
    async fn perform(
        &self,
        _ready: (),
        _row: &job_outbox::Model,
        _context: &JobContext,
    ) -> Attempt {
        Attempt::Done(Receipt {
            provider_id: format!("follow_up:{}", self.after),
            provider_status: "due".to_owned(),
            done_at: None,
        })
    }

    async fn done(
        &self,
        txn: &TenantTxn,
        _row: &job_outbox::Model,
        _receipt: &Receipt,
        context: &JobContext,
    ) -> Result<(), DomainError> {
        let helpers = (
            context.backend.secrets.as_ref(),
            context.backend.billing_settings(),
        );
        if ai_follow_ups::send(txn, helpers, self).await?.is_some() {
            context.backend.wake_workers();
        }
        Ok(())
    }

    async fn given_up(
        &self,
        _txn: &TenantTxn,
        _row: &job_outbox::Model,
        _status: &str,
        _context: &JobContext,
    ) -> Result<(), DomainError> {
        Ok(())
    }
}
