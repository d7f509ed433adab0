//! [`AiAnswer`]: the AI receptionist answers a caller text (with the caller's texts before it no
//! answer covered, and those they write while it runs), once; a text that arrives while another
//! answer is under way in its conversation is left to that answer. Preparing reads what the model
//! may see in a short transaction of its own, the conversation locked; performing talks to the
//! model with no transaction open and runs the tools and stores the answer in short transactions
//! of its own (see [`crate::service::ai_agent`]); the answer's text then goes out as its own text
//! job, sent at most once like every other. An answer whose attempts all fail is given up to
//! staff, with the fallback text to the caller ([`ai_agent::gave_up`]).

use ringback_core::error::DomainError;
use ringback_core::outbox::Job;
use ringback_core::tenant::{TenantScope, TenantTxn};
use ringback_entity::job_outbox;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::jobs::FAILED;
use crate::jobs::{Attempt, JobContext, Receipt, Runnable};
use crate::service::ai_agent::{self, Answered, Answering};

/// Answer a caller's text in a conversation the AI answers: one per caller text, and one more
/// when an answer that had texts left to it stopped without answering them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiAnswer {
    pub conversation: Uuid,
    /// The caller's text to answer.
    pub message: Uuid,
    /// For an answer queued when another stopped with texts it had not answered: the caller text
    /// that answer was queued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Uuid>,
}

impl Job for AiAnswer {
    const NAME: &'static str = "ai_answer";

    fn idempotency_key(&self) -> Option<String> {
        Some(match self.after {
            None => format!("{}:{}", Self::NAME, self.message),
            Some(after) => format!("{}:{}:after:{after}", Self::NAME, self.message),
        })
    }
}

impl Runnable for AiAnswer {
    type Ready = Answering;

    async fn prepare(
        &self,
        txn: &TenantTxn,
        _row: &job_outbox::Model,
        context: &JobContext,
    ) -> Result<Result<Answering, Attempt>, DomainError> {
        let backend = &context.backend;
        let helpers = (backend.secrets.as_ref(), backend.billing_settings());
        Ok(
            ai_agent::prepare(txn, helpers, self, backend.ai_answer_within)
                .await?
                .map_err(Attempt::Cancelled),
        )
    }

    async fn perform(
        &self,
        ready: Answering,
        row: &job_outbox::Model,
        context: &JobContext,
    ) -> Attempt {
        let backend = &context.backend;
        let scope = TenantScope::for_running_job(backend.db.clone(), backend.clock.clone(), row);
        let model = backend.ai_model.clone();
        let within = backend.ai_answer_within;
        let helpers = (backend.secrets.as_ref(), backend.calendar.as_ref());
        match ai_agent::run(&scope, helpers, (model, within), ready).await {
            Ok(Answered::Nothing(why)) => Attempt::Cancelled(why),
            Ok(
                Answered::Replied { message }
                | Answered::FellBack {
                    message: Some(message),
                    ..
                },
            ) => {
                backend.wake_workers();
                Attempt::Done(Receipt {
                    provider_id: format!("ai:{message}"),
                    provider_status: "answered".to_owned(),
                    done_at: None,
                })
            }
            Ok(Answered::FellBack { message: None, .. }) => Attempt::Cancelled("handed to staff"),
            Err(error) => Attempt::Failed {
                error: error.to_string(),
                retryable: error.is_retryable(),
                in_doubt_since: None,
            },
        }
    }

    async fn given_up(
        &self,
        txn: &TenantTxn,
        _row: &job_outbox::Model,
        status: &str,
        context: &JobContext,
    ) -> Result<(), DomainError> {
        if status == FAILED {
            ai_agent::gave_up(txn, &context.backend.secrets, self).await?;
        }
        Ok(())
    }
}
