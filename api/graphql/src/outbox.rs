//! Dead letters over GraphQL (admins): outbox jobs that failed too often or were refused, with
//! their last error (statuses and provider codes only), and a way to try one again.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use ringback_entity::job_outbox;
use ringback_shared::access::Permission;

use crate::guard::{Access, uuid_arg, with_tenant};
use ringback_core::outbox;
use ringback_domain::Backend;
use ringback_domain::jobs;
use ringback_domain::service::audit::{self, AuditEvent};

/// A job that will not be retried on its own.
#[derive(SimpleObject)]
pub struct DeadLetter {
    pub id: ID,
    /// What the job was: text_back, reply (a staff reply's text), ai_answer, ai_follow_up,
    /// report_overage, forget_provider_records (deleting Twilio's records of erased or expired
    /// calls and texts) or forget_caller_at_provider (searching Twilio's log for an erased
    /// caller's calls and texts with the clinic, and deleting them).
    pub kind: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// The missed call a text-back was for.
    pub call_id: Option<ID>,
    pub created_at: DateTime<Utc>,
    pub failed_at: DateTime<Utc>,
}

impl From<job_outbox::Model> for DeadLetter {
    fn from(job: job_outbox::Model) -> Self {
        Self {
            id: ID(job.id.to_string()),
            call_id: job.payload["call"].as_str().map(|id| ID(id.to_owned())),
            kind: job.kind,
            attempts: job.attempts,
            last_error: job.last_error,
            created_at: job.created_at,
            failed_at: job.updated_at,
        }
    }
}

#[derive(Default)]
pub struct OutboxQuery;

#[Object]
impl OutboxQuery {
    /// Jobs that gave up, newest first.
    async fn dead_letters(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 100))] first: i32,
    ) -> async_graphql::Result<Vec<DeadLetter>> {
        let jobs = with_tenant(
            ctx,
            Access::Read(Permission::ManageSettings),
            async |txn, _| outbox::dead_letters(txn, first.clamp(1, 100) as u64).await,
        )
        .await?;
        Ok(jobs.into_iter().map(DeadLetter::from).collect())
    }
}

#[derive(Default)]
pub struct OutboxMutation;

#[Object]
impl OutboxMutation {
    /// Queues a dead letter again with a fresh set of attempts. A text whose earlier outcome is
    /// unknown still checks with the provider before it sends; other work (a mail) is done again,
    /// as the person retrying it asks.
    async fn retry_dead_letter(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ID> {
        let backend = ctx.data::<Backend>()?;
        let job = with_tenant(
            ctx,
            Access::Write(Permission::ManageSettings),
            async |txn, principal| {
                let id = uuid_arg(&id)?;
                let job = outbox::requeue(txn, id, txn.now(), jobs::asks_before_redoing).await?;
                audit::append(
                    txn,
                    AuditEvent {
                        actor: principal.actor(),
                        action: "outbox.dead_letter_retried",
                        detail: serde_json::json!({ "job": job.id, "kind": job.kind }),
                    },
                )
                .await?;
                Ok(job)
            },
        )
        .await?;
        backend.wake_workers();
        Ok(ID(job.id.to_string()))
    }
}
