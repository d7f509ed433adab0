//! The outbox worker: claims due jobs, delivers each text through the SMS provider, and stores
//! the outcome. The provider call happens outside any database transaction, between a claim that
//! is committed first and a settlement committed after; if the worker dies in between, or the
//! provider does not answer, the job is in doubt and the next attempt lists what the provider sent
//! to that number since the claim before it sends anything. So a text goes out at most once, and
//! after an outage every owed text still goes out.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ringback_entity::{call, job_outbox, message};
use ringback_shared::sms;
use ringback_shared::text_back::SkipReason;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::error::ApiError;
use crate::integrations::sms::{OutgoingSms, ProviderError, SentSms, SmsProvider};
use crate::jobs::outbox::{self, ClaimedJob, Job, Settlement};
use crate::service::messages::{self, NewMessage, Party};
use crate::service::{calls, clinic, in_clinic, keys, opt_outs, phone_lines};
use crate::state::AppState;
use crate::tenant::TenantTxn;
use ringback_domain::jobs::{StaffReply, TextBack};

/// How far before the doubtful claim the provider's list is read (its clock and ours differ, and
/// its timestamps have whole seconds).
const DOUBT_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

/// How a worker paces itself.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Longest sleep between looks at the queue when nobody wakes the worker.
    pub poll_interval: Duration,
    /// A claim older than this is taken to belong to a dead worker.
    pub lease: Duration,
    /// Attempts before a job becomes a dead letter.
    pub max_attempts: i32,
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Jobs claimed (and delivered concurrently) at once.
    pub batch: u32,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            lease: Duration::from_secs(120),
            max_attempts: 8,
            backoff_base: Duration::from_secs(5),
            backoff_cap: Duration::from_secs(30 * 60),
            batch: 16,
        }
    }
}

/// What one attempt at the provider came to.
pub enum Attempt {
    /// The provider has the text (just sent, or found when resolving a doubt).
    Sent(SentSms),
    Failed {
        error: ProviderError,
        /// Since when the provider may have a text we do not know about.
        in_doubt_since: Option<DateTime<Utc>>,
    },
    /// The job no longer applies; nothing was sent.
    Cancelled(&'static str),
    /// Another worker holds the job now; leave it alone.
    NotOurs,
}

/// Everything needed to send one job's text. Holds a number: never logged.
struct Delivery {
    job: job_outbox::Model,
    message: OutgoingSms,
}

/// A worker; clones share nothing but the application state.
#[derive(Clone)]
pub struct Worker {
    state: AppState,
    provider: Arc<dyn SmsProvider>,
    settings: WorkerSettings,
    name: String,
}

impl Worker {
    /// A worker named `name` (unique per process) sending through `provider`.
    pub fn new(
        state: AppState,
        provider: Arc<dyn SmsProvider>,
        settings: WorkerSettings,
        name: String,
    ) -> Self {
        Self {
            state,
            provider,
            settings,
            name,
        }
    }

    /// Runs forever: drains the queue, then sleeps until a request queues a job or the poll
    /// interval passes.
    pub async fn run(self) {
        loop {
            match self.run_once().await {
                Ok(0) => {}
                Ok(_) => continue,
                Err(error) => tracing::error!(%error, "outbox worker pass failed"),
            }
            tokio::select! {
                _ = self.state.jobs_queued.notified() => {}
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }

    /// Claims one batch of due jobs and delivers them; returns how many were claimed.
    pub async fn run_once(&self) -> Result<usize, ApiError> {
        let claimed = self.claim().await?;
        let count = claimed.len();
        let mut deliveries = JoinSet::new();
        for job in claimed {
            let worker = self.clone();
            deliveries.spawn(async move { (job, worker.process(job).await) });
        }
        while let Some(joined) = deliveries.join_next().await {
            match joined {
                Ok((_, Ok(()))) => {}
                Ok((job, Err(error))) => {
                    tracing::error!(%error, job = %job.id, "outbox job failed; its lease will expire and it will be retried");
                }
                Err(error) => tracing::error!(%error, "outbox job panicked"),
            }
        }
        Ok(count)
    }

    /// Claims due jobs (committed before any provider call).
    pub async fn claim(&self) -> Result<Vec<ClaimedJob>, ApiError> {
        outbox::claim_due(
            &self.state.db,
            &self.name,
            self.state.clock.now(),
            self.settings.lease,
            self.settings.batch,
        )
        .await
    }

    /// Delivers one claimed job and stores the outcome.
    pub async fn process(&self, job: ClaimedJob) -> Result<(), ApiError> {
        let (attempt, attempts) = self.perform(job).await?;
        self.settle(job, attempts, attempt).await
    }

    /// The provider side of a job: resolve any doubt, then send. Writes nothing to the database.
    /// Returns the attempt and the attempt number it belongs to.
    pub async fn perform(&self, claimed: ClaimedJob) -> Result<(Attempt, i32), ApiError> {
        let txn = self.state.tenant(claimed.clinic_id).begin().await?;
        let prepared = self.prepare(&txn, claimed.id).await;
        txn.commit().await?;
        let (attempts, delivery) = prepared?;
        let delivery = match delivery {
            Ok(delivery) => delivery,
            Err(attempt) => return Ok((attempt, attempts)),
        };
        let claimed_at = delivery
            .job
            .claimed_at
            .unwrap_or_else(|| self.state.clock.now());
        if let Some(since) = delivery.job.in_doubt_since {
            match self.already_sent(&delivery, since).await {
                Ok(Some(sent)) => return Ok((Attempt::Sent(sent), attempts)),
                Ok(None) => {}
                Err(error) => {
                    let attempt = Attempt::Failed {
                        error,
                        in_doubt_since: Some(since),
                    };
                    return Ok((attempt, attempts));
                }
            }
        }
        let attempt = match self.provider.send(&delivery.message).await {
            Ok(sent) => Attempt::Sent(sent),
            Err(error) => Attempt::Failed {
                in_doubt_since: error.may_have_sent().then_some(claimed_at),
                error,
            },
        };
        Ok((attempt, attempts))
    }

    /// The provider's copy of this job's text, if an earlier attempt did send it.
    async fn already_sent(
        &self,
        delivery: &Delivery,
        since: DateTime<Utc>,
    ) -> Result<Option<SentSms>, ProviderError> {
        let message = &delivery.message;
        let sent = self
            .provider
            .sent_since(&message.to, &message.from, since - DOUBT_MARGIN)
            .await?;
        Ok(sent
            .into_iter()
            .find(|sent| sms::same_text(&sent.body, &message.body)))
    }

    /// Loads the job and opens what it needs, or says why there is nothing to send; with the
    /// attempt number of this worker's claim.
    async fn prepare(
        &self,
        txn: &TenantTxn,
        id: Uuid,
    ) -> Result<(i32, Result<Delivery, Attempt>), ApiError> {
        let Some(job) = outbox::find(txn, id).await? else {
            return Ok((0, Err(Attempt::NotOurs)));
        };
        if !outbox::still_claimed_by(&job, &self.name, job.attempts) {
            return Ok((0, Err(Attempt::NotOurs)));
        }
        let attempts = job.attempts;
        if let Some(caller_key) = job.payload["caller_key"].as_str()
            && opt_outs::is_opted_out(txn, caller_key).await?
        {
            let attempt = Attempt::Cancelled(SkipReason::OptedOut.status());
            return Ok((attempts, Err(attempt)));
        }
        let (Some(sealed_number), Some(body_sealed)) = (&job.sealed_number, &job.body_sealed)
        else {
            return Ok((attempts, Err(Attempt::Cancelled("nothing to send"))));
        };
        let Some(from) = phone_lines::sending_number(txn, &self.state.secrets).await? else {
            let attempt = Attempt::Failed {
                error: ProviderError::NoSender,
                in_doubt_since: job.in_doubt_since,
            };
            return Ok((attempts, Err(attempt)));
        };
        let settings = clinic::get(txn).await?;
        let key = keys::data_key(&self.state.secrets, &settings)?;
        let message = OutgoingSms {
            to: keys::open_caller_number(&key, txn.clinic_id(), sealed_number)?,
            from,
            body: keys::open_message(&key, txn.clinic_id(), body_sealed)?,
            status_callback: format!(
                "{}{}/sms-status",
                self.state.public_base(),
                ringback_providers::twilio::WEBHOOK_PREFIX
            ),
        };
        Ok((attempts, Ok(Delivery { job, message })))
    }

    /// Stores what `attempt` came to, if the job is still this worker's claim number `attempts`.
    pub async fn settle(
        &self,
        claimed: ClaimedJob,
        attempts: i32,
        attempt: Attempt,
    ) -> Result<(), ApiError> {
        if matches!(attempt, Attempt::NotOurs) {
            return Ok(());
        }
        let now = self.state.clock.now();
        let txn = self.state.tenant(claimed.clinic_id).begin().await?;
        let Some(job) = outbox::find(&txn, claimed.id).await? else {
            return Ok(());
        };
        if !outbox::still_claimed_by(&job, &self.name, attempts) {
            tracing::warn!(job = %job.id, "outbox job changed hands before its outcome was stored");
            return Ok(());
        }
        match attempt {
            Attempt::Sent(sent) => self.delivered(&txn, job, sent, now).await?,
            Attempt::Failed {
                error,
                in_doubt_since,
            } => self.failed(&txn, job, error, in_doubt_since, now).await?,
            Attempt::Cancelled(reason) => {
                mark_source(&txn, &job, reason).await?;
                let reason = reason.to_owned();
                outbox::settle(&txn, job, Settlement::Cancelled { reason }, now).await?;
            }
            Attempt::NotOurs => {}
        }
        txn.commit().await?;
        Ok(())
    }

    async fn delivered(
        &self,
        txn: &TenantTxn,
        job: job_outbox::Model,
        sent: SentSms,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let status = messages::delivery_status(&sent.status);
        match job.kind.as_str() {
            TextBack::NAME => {
                let call = related_call(txn, &job).await?;
                let body = match (&job.body_sealed, clinic::get(txn).await?) {
                    (Some(sealed), settings) => {
                        let key = keys::data_key(&self.state.secrets, &settings)?;
                        keys::open_message(&key, txn.clinic_id(), sealed)?
                    }
                    (None, _) => String::new(),
                };
                messages::record(
                    txn,
                    &self.state.secrets,
                    NewMessage {
                        party: Party {
                            caller_key: &call.caller_key,
                            caller_tail: &call.caller_tail,
                        },
                        direction: "outbound",
                        kind: messages::KIND_TEXT_BACK,
                        body: &body,
                        at: now,
                        provider_message_id: Some(sent.provider_id.clone()),
                        status,
                        call_id: Some(call.id),
                        sealed_number: job.sealed_number.clone(),
                    },
                )
                .await?;
                calls::set_text_back_status(txn, call.id, "sent").await?;
            }
            StaffReply::NAME => {
                if let Some(row) = related_message(txn, &job).await? {
                    messages::set_provider_id(txn, row, &sent.provider_id, status).await?;
                }
            }
            other => tracing::warn!(kind = other, "outbox job of an unknown kind"),
        }
        if let Some(caught_up) = messages::catch_up_reports(txn, &sent.provider_id).await?
            && let Some(call_id) = caught_up.call_id
        {
            calls::set_text_back_status(txn, call_id, &caught_up.status).await?;
        }
        let settlement = Settlement::Done {
            provider_message_id: sent.provider_id,
        };
        outbox::settle(txn, job, settlement, now).await?;
        Ok(())
    }

    async fn failed(
        &self,
        txn: &TenantTxn,
        job: job_outbox::Model,
        error: ProviderError,
        in_doubt_since: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let message = error.to_string();
        let settlement = if error.is_retryable() && job.attempts < self.settings.max_attempts {
            let wait = outbox::backoff(
                job.attempts,
                self.settings.backoff_base,
                self.settings.backoff_cap,
            );
            Settlement::Retry {
                run_at: now + chrono::Duration::from_std(wait).unwrap_or_default(),
                error: message,
                in_doubt_since,
            }
        } else {
            tracing::warn!(job = %job.id, attempts = job.attempts, error = %message, "outbox job is now a dead letter");
            mark_source(txn, &job, "failed").await?;
            Settlement::Dead {
                error: message,
                in_doubt_since,
            }
        };
        outbox::settle(txn, job, settlement, now).await?;
        Ok(())
    }
}

/// Records on the job's call (text-back) or message (reply) why it went nowhere.
async fn mark_source(
    txn: &TenantTxn,
    job: &job_outbox::Model,
    status: &str,
) -> Result<(), ApiError> {
    match job.kind.as_str() {
        TextBack::NAME => {
            calls::set_text_back_status(txn, TextBack::from_row(job)?.call, status).await
        }
        StaffReply::NAME => {
            if let Some(row) = related_message(txn, job).await? {
                let status = if status == "failed" {
                    "failed"
                } else {
                    "cancelled"
                };
                messages::set_status(txn, row, status).await?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

async fn related_call(txn: &TenantTxn, job: &job_outbox::Model) -> Result<call::Model, ApiError> {
    calls::find(txn, TextBack::from_row(job)?.call).await
}

async fn related_message(
    txn: &TenantTxn,
    job: &job_outbox::Model,
) -> Result<Option<message::Model>, ApiError> {
    in_clinic::<message::Entity>(txn, StaffReply::from_row(job)?.message).await
}

/// Starts one worker in the background when an SMS provider is configured.
pub fn spawn(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    let Some(provider) = state.sms.clone() else {
        tracing::warn!(
            "no SMS provider is configured (RINGBACK_TWILIO_ACCOUNT_SID and RINGBACK_TWILIO_AUTH_TOKEN): text-backs wait in the outbox"
        );
        return None;
    };
    let name = format!("{}-{}", std::process::id(), Uuid::new_v4().simple());
    let worker = Worker::new(state.clone(), provider, WorkerSettings::default(), name);
    Some(tokio::spawn(worker.run()))
}
