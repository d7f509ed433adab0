//! The outbox worker: claims due jobs, runs each through the type registered for its kind, and
//! stores the outcome. Every job type registers once ([`job_types`]); the worker knows nothing of
//! what a job does. Its outside-world call happens outside any database transaction, between a
//! claim that is committed first and a settlement committed after; a job that may have acted
//! without our knowing (the worker died, the provider did not answer) is in doubt, and the job
//! itself resolves the doubt on its next attempt (for texts: [`ringback_domain::jobs::sms`]). A
//! job whose last allowed attempt never settled comes back to a worker to be given up, without
//! another attempt: done, when its type finds the work was done after all
//! ([`Runnable::look_up`]: a text the provider has), else a dead letter with its type's records
//! of one like any other.

use std::collections::HashMap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ringback_domain::jobs::{
    AiAnswer, AiFollowUp, Attempt, CalendarFill, CalendarSync, FAILED, ForgetCallerAtProvider,
    ForgetProviderRecords, HandOffMail, Job, JobContext, Receipt, ReportOverage, Runnable,
    StaffReply, TextBack,
};
use ringback_entity::job_outbox;
use tokio::sync::watch;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::error::DomainError;
use crate::integrations::sms::SmsProvider;
use crate::jobs::outbox::{self, Claim, ClaimStamp, ClaimedJob, Lane, Settlement};
use crate::state::AppState;
use crate::tenant::{TenantScope, TenantTxn};

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
    /// The job kinds this worker claims.
    pub lane: Lane,
}

/// How long a claimed job is a worker's before another may take it again.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(120);

// The AI's answer (its whole time, then the fallback text) must end inside the lease.
const _: () = assert!(
    DEFAULT_LEASE.as_secs() >= ringback_providers::anthropic::MAX_ANSWER_SECONDS + 30,
    "the AI's longest answer time must end well inside the worker's lease"
);

// An erased caller's log search must run after every text claimed before the erasure went.
const _: () = assert!(
    DEFAULT_LEASE.as_secs()
        < ringback_domain::jobs::forget_caller_at_provider::SEARCH_AFTER.as_secs(),
    "the search after an erasure must wait longer than the worker's lease"
);

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            lease: DEFAULT_LEASE,
            max_attempts: 8,
            backoff_base: Duration::from_secs(5),
            backoff_cap: Duration::from_secs(30 * 60),
            batch: 16,
            lane: Lane::All,
        }
    }
}

/// Every job type the worker runs, registered once.
fn job_types() -> Registry {
    Registry::default()
        .register::<TextBack>()
        .register::<StaffReply>()
        .register::<ReportOverage>()
        .register::<AiAnswer>()
        .register::<AiFollowUp>()
        .register::<ForgetProviderRecords>()
        .register::<ForgetCallerAtProvider>()
        .register::<HandOffMail>()
        .register::<CalendarSync>()
        .register::<CalendarFill>()
}

/// A future a job handler returns.
type HandlerFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DomainError>> + Send + 'a>>;

/// One job type, with its payload type erased so that the registry can hold every type.
trait Handler: Send + Sync {
    /// Prepares `row` in `txn` (which is committed before the outside-world call) and performs it.
    fn attempt<'a>(
        &'a self,
        txn: TenantTxn,
        row: &'a job_outbox::Model,
        context: &'a JobContext,
    ) -> HandlerFuture<'a, Attempt>;

    /// For a claim to give up a job in doubt: whether its work was done after all
    /// ([`Runnable::look_up`]).
    fn look_up<'a>(
        &'a self,
        scope: &'a TenantScope,
        row: &'a job_outbox::Model,
        context: &'a JobContext,
    ) -> HandlerFuture<'a, Option<Receipt>>;

    /// The job's own records for a finished attempt: done, or given up with `status`.
    fn record<'a>(
        &'a self,
        txn: &'a TenantTxn,
        row: &'a job_outbox::Model,
        attempt: &'a Attempt,
        context: &'a JobContext,
    ) -> HandlerFuture<'a, ()>;
}

/// The [`Handler`] of job type `J`.
struct Typed<J>(PhantomData<fn() -> J>);

impl<J: Runnable> Handler for Typed<J> {
    fn attempt<'a>(
        &'a self,
        txn: TenantTxn,
        row: &'a job_outbox::Model,
        context: &'a JobContext,
    ) -> HandlerFuture<'a, Attempt> {
        Box::pin(async move {
            let job = match J::from_row(row) {
                Ok(job) => job,
                // A payload this type cannot read will not read better later.
                Err(error) => return Ok(unreadable(row, &error)),
            };
            // What a preparation that failed wrote is rolled back (the transaction is dropped): a
            // half-done hand-off, say. One that found nothing to do keeps what it decided.
            let prepared = job.prepare(&txn, row, context).await?;
            txn.commit().await?;
            Ok(match prepared {
                Ok(ready) => job.perform(ready, row, context).await,
                Err(nothing_to_do) => nothing_to_do,
            })
        })
    }

    fn look_up<'a>(
        &'a self,
        scope: &'a TenantScope,
        row: &'a job_outbox::Model,
        context: &'a JobContext,
    ) -> HandlerFuture<'a, Option<Receipt>> {
        Box::pin(async move {
            match J::from_row(row) {
                Ok(job) => job.look_up(scope, row, context).await,
                Err(_) => Ok(None),
            }
        })
    }

    fn record<'a>(
        &'a self,
        txn: &'a TenantTxn,
        row: &'a job_outbox::Model,
        attempt: &'a Attempt,
        context: &'a JobContext,
    ) -> HandlerFuture<'a, ()> {
        Box::pin(async move {
            // A payload this type cannot read names nothing to update.
            let Ok(job) = J::from_row(row) else {
                return Ok(());
            };
            match attempt {
                Attempt::Done(receipt) => job.done(txn, row, receipt, context).await,
                Attempt::Failed { .. } => job.given_up(txn, row, FAILED, context).await,
                Attempt::Cancelled(reason) => job.given_up(txn, row, reason, context).await,
                // Nothing ended: the job runs again when it is due.
                Attempt::Postponed { .. } => Ok(()),
            }
        })
    }
}

/// The job types a worker runs, by the name stored with each job.
#[derive(Default, Clone)]
struct Registry(HashMap<&'static str, Arc<dyn Handler>>);

impl Registry {
    fn register<J: Runnable>(mut self) -> Self {
        self.0.insert(J::NAME, Arc::new(Typed::<J>(PhantomData)));
        self
    }

    fn handler(&self, kind: &str) -> Option<&Arc<dyn Handler>> {
        self.0.get(kind)
    }
}

/// What a claimed job came to: an attempt (under the claim `claim`), or nothing because the
/// claim passed to another worker.
pub enum Claimed {
    Attempted { attempt: Attempt, claim: ClaimStamp },
    NotOurs,
}

/// A worker; clones share nothing but the application state.
#[derive(Clone)]
pub struct Worker {
    context: JobContext,
    registry: Registry,
    settings: WorkerSettings,
    name: String,
}

impl Worker {
    /// A worker named `name` (unique per process) sending texts through `provider`; without one
    /// its lane must leave out [`PHONE_PROVIDER_JOBS`](ringback_domain::jobs::PHONE_PROVIDER_JOBS).
    pub fn new(
        state: AppState,
        provider: Option<Arc<dyn SmsProvider>>,
        settings: WorkerSettings,
        name: String,
    ) -> Self {
        let sms_status_callback = format!(
            "{}{}/sms-status",
            state.public_base(),
            ringback_providers::twilio::WEBHOOK_PREFIX
        );
        Self {
            context: JobContext {
                backend: state.backend.clone(),
                sms: provider,
                sms_status_callback,
            },
            registry: job_types(),
            settings,
            name,
        }
    }

    /// Runs forever: drains the queue, then sleeps until a request queues a job or the poll
    /// interval passes.
    pub async fn run(self) {
        let (_never, stop) = watch::channel(false);
        self.run_until(stop).await;
    }

    /// Runs until `stop` turns true, then returns once the jobs it started are settled (a
    /// shutdown finishes what it started instead of leaving claims to the lease). Jobs run side
    /// by side, at most `batch` at once; whenever one ends or a request queues a job, the worker
    /// claims what is due into the free places, so a job never waits for a slower one started
    /// before it.
    pub async fn run_until(self, mut stop: watch::Receiver<bool>) {
        let mut running = JoinSet::new();
        while !*stop.borrow() {
            // Listening before the claim: a job queued meanwhile wakes this worker too, in
            // whichever lane (the wake-up reaches every worker listening).
            let woken = self.context.backend.jobs_queued.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let room = self.settings.batch.saturating_sub(running.len() as u32);
            let claimed = match self.claim_up_to(room).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::error!(%error, "outbox worker claim failed");
                    Vec::new()
                }
            };
            let full = room > 0 && claimed.len() as u32 == room;
            for job in claimed {
                let worker = self.clone();
                running.spawn(async move { (job, worker.process(job).await) });
            }
            if full {
                // More may be due: claim again once a place is free.
                if let Some(joined) = running.join_next().await {
                    log_outcome(joined);
                }
                continue;
            }
            tokio::select! {
                _ = woken => {}
                Some(joined) = running.join_next(), if !running.is_empty() => log_outcome(joined),
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
                _ = stop.changed() => {}
            }
        }
        while let Some(joined) = running.join_next().await {
            log_outcome(joined);
        }
    }

    /// Claims one batch of due jobs and runs them; returns how many were claimed.
    pub async fn run_once(&self) -> Result<usize, DomainError> {
        let claimed = self.claim().await?;
        let count = claimed.len();
        let mut running = JoinSet::new();
        for job in claimed {
            let worker = self.clone();
            running.spawn(async move { (job, worker.process(job).await) });
        }
        while let Some(joined) = running.join_next().await {
            log_outcome(joined);
        }
        Ok(count)
    }

    /// Claims a batch of due jobs (committed before any outside-world call).
    pub async fn claim(&self) -> Result<Vec<ClaimedJob>, DomainError> {
        self.claim_up_to(self.settings.batch).await
    }

    /// Claims at most `max_jobs` due jobs; none when `max_jobs` is 0.
    async fn claim_up_to(&self, max_jobs: u32) -> Result<Vec<ClaimedJob>, DomainError> {
        if max_jobs == 0 {
            return Ok(Vec::new());
        }
        let backend = &self.context.backend;
        outbox::claim_due(
            &backend.db,
            Claim {
                worker: &self.name,
                now: backend.clock.now(),
                lease: self.settings.lease,
                max_jobs,
                max_attempts: self.settings.max_attempts,
                lane: self.settings.lane,
            },
        )
        .await
    }

    /// The door to a claimed job's clinic.
    fn scope(&self, claimed: &ClaimedJob) -> TenantScope {
        let backend = &self.context.backend;
        TenantScope::for_job(backend.db.clone(), backend.clock.clone(), claimed)
    }

    /// Runs one claimed job and stores the outcome.
    pub async fn process(&self, job: ClaimedJob) -> Result<(), DomainError> {
        match self.perform(job).await? {
            Claimed::Attempted { attempt, claim } => self.settle(job, claim, attempt).await,
            Claimed::NotOurs => Ok(()),
        }
    }

    /// The outside-world side of a job; writes nothing but the job's own preparation.
    pub async fn perform(&self, claimed: ClaimedJob) -> Result<Claimed, DomainError> {
        let txn = self.scope(&claimed).begin().await?;
        let Some(row) = outbox::find(&txn, claimed.id()).await? else {
            return Ok(Claimed::NotOurs);
        };
        let claim = ClaimStamp::of(&row);
        if !outbox::still_claimed_by(&row, &self.name, claim) {
            return Ok(Claimed::NotOurs);
        }
        if claimed.gives_up() {
            drop(txn);
            let attempt = self.give_up(&claimed, &row).await;
            return Ok(Claimed::Attempted { attempt, claim });
        }
        let attempt = match self.registry.handler(&row.kind) {
            Some(handler) => handler
                .attempt(txn, &row, &self.context)
                .await
                .unwrap_or_else(|error| could_not_prepare(&row, &error)),
            // A kind this server does not know may be a newer server's (both run while one
            // replaces the other): retried with backoff for it, a dead letter once attempts end.
            None => {
                let reason = format!("no job type is registered for {} here", row.kind);
                nothing_sent(&row, reason, true)
            }
        };
        Ok(Claimed::Attempted { attempt, claim })
    }

    /// What a claim to give a job up comes to: done, when the job was in doubt and its type finds
    /// its work was done after all (a text the provider has); else a dead letter, never settled.
    async fn give_up(&self, claimed: &ClaimedJob, row: &job_outbox::Model) -> Attempt {
        if row.in_doubt_since.is_some()
            && let Some(handler) = self.registry.handler(&row.kind)
        {
            let scope = self.scope(claimed);
            match handler.look_up(&scope, row, &self.context).await {
                Ok(Some(receipt)) => return Attempt::Done(receipt),
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(job = %row.id, kind = %row.kind, %error, "a job given up in doubt could not be looked up");
                }
            }
        }
        never_settled(row)
    }

    /// Stores what `attempt` came to, if the job is still this worker's claim `claim`.
    pub async fn settle(
        &self,
        claimed: ClaimedJob,
        claim: ClaimStamp,
        attempt: Attempt,
    ) -> Result<(), DomainError> {
        let backend = &self.context.backend;
        let now = backend.clock.now();
        let txn = self.scope(&claimed).begin().await?;
        let Some(row) = outbox::find(&txn, claimed.id()).await? else {
            return Ok(());
        };
        if !outbox::still_claimed_by(&row, &self.name, claim) {
            tracing::warn!(job = %row.id, "outbox job changed hands before its outcome was stored");
            return Ok(());
        }
        let mut settlement = self.settlement(&row, &attempt, now);
        if let Some(handler) = self.registry.handler(&row.kind) {
            if claimed.gives_up() {
                let giving_up = (attempt, settlement);
                settlement = self
                    .record_giving_up(&txn, handler, &row, giving_up, now)
                    .await?;
            } else if !matches!(settlement, Settlement::Retry { .. }) {
                handler.record(&txn, &row, &attempt, &self.context).await?;
            }
        }
        if !outbox::settle(&txn, row, (&self.name, claim), settlement, now).await? {
            // Passed on between the look above and the write (on PostgreSQL the write waited for
            // the new claim): the job's records are rolled back with the transaction.
            tracing::warn!(job = %claimed.id(), "outbox job changed hands before its outcome was stored");
            return Ok(());
        }
        let queued_jobs = txn.queued_jobs();
        txn.commit().await?;
        if queued_jobs {
            // A job's records queued more work (a given-up answer's fallback text): at once.
            backend.wake_workers();
        }
        Ok(())
    }

    /// The job's records for a claim to give it up (its last attempt never settled), each in a
    /// savepoint so that such a claim always ends: a job found done whose records cannot be
    /// stored is given up as a dead letter instead, and a dead letter whose records cannot be
    /// stored is stored without them (both logged; an admin sees the dead letter). Without this,
    /// records that keep failing would have the job claimed again every lease for ever. Returns
    /// how the job is stored.
    async fn record_giving_up(
        &self,
        txn: &TenantTxn,
        handler: &Arc<dyn Handler>,
        row: &job_outbox::Model,
        (attempt, settlement): (Attempt, Settlement),
        now: DateTime<Utc>,
    ) -> Result<Settlement, DomainError> {
        if self.try_record(txn, handler, row, &attempt).await? {
            return Ok(settlement);
        }
        if !matches!(attempt, Attempt::Done(_)) {
            return Ok(settlement);
        }
        let given_up = never_settled(row);
        self.try_record(txn, handler, row, &given_up).await?;
        Ok(self.settlement(row, &given_up, now))
    }

    /// Stores the job's records of `attempt` in a savepoint; `false` (logged, undone) when they
    /// could not be stored.
    async fn try_record(
        &self,
        txn: &TenantTxn,
        handler: &Arc<dyn Handler>,
        row: &job_outbox::Model,
        attempt: &Attempt,
    ) -> Result<bool, DomainError> {
        let savepoint = txn.savepoint().await?;
        match handler
            .record(&savepoint, row, attempt, &self.context)
            .await
        {
            Ok(()) => {
                savepoint.keep_in(txn).await?;
                Ok(true)
            }
            Err(error) => {
                savepoint.undo().await?;
                tracing::error!(job = %row.id, kind = %row.kind, %error, "the records of a job given up could not be stored");
                Ok(false)
            }
        }
    }

    /// How the queue stores `attempt`: done, cancelled, retried with backoff while attempts remain
    /// and the failure may pass, or dead.
    fn settlement(
        &self,
        row: &job_outbox::Model,
        attempt: &Attempt,
        now: DateTime<Utc>,
    ) -> Settlement {
        match attempt {
            Attempt::Done(receipt) => Settlement::Done {
                provider_message_id: receipt.provider_id.clone(),
            },
            Attempt::Cancelled(reason) => {
                tracing::info!(job = %row.id, kind = %row.kind, %reason, "outbox job cancelled");
                Settlement::Cancelled {
                    reason: (*reason).to_owned(),
                }
            }
            // Stored as a retry at the time it is due; nothing was done, so any doubt stays as it was.
            Attempt::Postponed { until, reason } => {
                tracing::info!(job = %row.id, kind = %row.kind, %reason, %until, "outbox job postponed");
                Settlement::Retry {
                    run_at: *until,
                    error: (*reason).to_owned(),
                    in_doubt_since: row.in_doubt_since,
                }
            }
            Attempt::Failed {
                error,
                retryable,
                in_doubt_since,
            } if *retryable && row.attempts < self.settings.max_attempts => {
                let wait = outbox::backoff(
                    row.attempts,
                    self.settings.backoff_base,
                    self.settings.backoff_cap,
                );
                Settlement::Retry {
                    run_at: now + chrono::Duration::from_std(wait).unwrap_or_default(),
                    error: error.clone(),
                    in_doubt_since: *in_doubt_since,
                }
            }
            Attempt::Failed {
                error,
                in_doubt_since,
                ..
            } => {
                tracing::warn!(job = %row.id, attempts = row.attempts, %error, "outbox job is now a dead letter");
                Settlement::Dead {
                    error: error.clone(),
                    in_doubt_since: *in_doubt_since,
                }
            }
        }
    }
}

/// A job whose stored payload its type cannot read: a dead letter at once. The cause goes to the
/// log; the job keeps a plain reason an admin can read.
fn unreadable(row: &job_outbox::Model, error: &DomainError) -> Attempt {
    tracing::error!(job = %row.id, kind = %row.kind, ?error, "outbox job payload unreadable");
    let reason = format!("the stored {} job could not be read", row.kind);
    nothing_sent(row, reason, false)
}

/// Logs how a job run side by side ended, when it went wrong.
fn log_outcome(joined: Result<(ClaimedJob, Result<(), DomainError>), tokio::task::JoinError>) {
    match joined {
        Ok((_, Ok(()))) => {}
        Ok((job, Err(error))) => {
            tracing::error!(%error, job = %job.id(), "outbox job failed; its lease will expire and it will be retried");
        }
        Err(error) => tracing::error!(%error, "outbox job panicked"),
    }
}

/// A job whose last allowed attempt never settled (its worker died): given up without another
/// attempt, in doubt since that attempt's claim.
fn never_settled(row: &job_outbox::Model) -> Attempt {
    nothing_sent(row, outbox::NEVER_SETTLED.to_owned(), false)
}

/// A job whose preparation failed on our side: retried with backoff when the failure may pass
/// (the database), a dead letter when it will not (the job names a row that is gone). Its doubt,
/// if any, is kept: nothing was sent this time.
fn could_not_prepare(row: &job_outbox::Model, error: &DomainError) -> Attempt {
    tracing::warn!(job = %row.id, %error, "outbox job could not be prepared");
    nothing_sent(row, error.to_string(), error.is_retryable())
}

/// A failed attempt that reached nobody outside: the job keeps whatever doubt it had before.
fn nothing_sent(row: &job_outbox::Model, reason: String, retryable: bool) -> Attempt {
    Attempt::Failed {
        error: reason,
        retryable,
        in_doubt_since: row.in_doubt_since,
    }
}

/// Job kinds that wait on a slow outside service (the AI model: seconds, up to its timeout; an
/// SMTP server; Google Calendar). They run in a lane of their own so that a text-back never waits
/// behind them.
pub const SLOW_KINDS: &[&str] = &[AiAnswer::NAME, HandOffMail::NAME, CalendarSync::NAME];
/// Slow jobs run side by side in their lane: they hold no database connection while they wait on
/// the model, so many can wait at once.
pub const SLOW_LANE_BATCH: u32 = 64;
/// Job kinds that tidy up at a provider and may come by the thousand after a purge (deleting the
/// provider's records of calls and texts, searching its log for an erased caller's). They run in
/// a lane of their own, a few at a time, so that neither a text-back nor an AI answer waits
/// behind them.
pub const HOUSEKEEPING_KINDS: &[&str] =
    &[ForgetProviderRecords::NAME, ForgetCallerAtProvider::NAME];
/// Housekeeping jobs run side by side in their lane.
pub const HOUSEKEEPING_LANE_BATCH: u32 = 2;
/// The kinds the quick lane leaves to the others.
const NOT_QUICK_KINDS: &[&str] = &[
    AiAnswer::NAME,
    HandOffMail::NAME,
    CalendarSync::NAME,
    ForgetProviderRecords::NAME,
    ForgetCallerAtProvider::NAME,
];
/// The kinds the quick lane leaves when no phone provider is configured: the others' and the
/// texts ([`PHONE_PROVIDER_JOBS`](ringback_domain::jobs::PHONE_PROVIDER_JOBS)), which wait in the outbox.
const NOT_QUICK_WITHOUT_PHONE_KINDS: &[&str] = &[
    AiAnswer::NAME,
    HandOffMail::NAME,
    CalendarSync::NAME,
    ForgetProviderRecords::NAME,
    ForgetCallerAtProvider::NAME,
    TextBack::NAME,
    StaffReply::NAME,
];

/// One of the server's lanes: its name, the kinds it claims and how many of them run at once.
type LaneOfWork = (&'static str, Lane, u32);

/// The server's lanes. Without a phone provider (`texts` false) the jobs that need it
/// ([`PHONE_PROVIDER_JOBS`](ringback_domain::jobs::PHONE_PROVIDER_JOBS)) wait in the outbox and the others run: a deployment whose calls come
/// from an integrator still syncs calendars, mails hand-offs and reports to Stripe.
fn lanes(texts: bool) -> Vec<LaneOfWork> {
    let slow = ("slow", Lane::Only(SLOW_KINDS), SLOW_LANE_BATCH);
    let quick_batch = WorkerSettings::default().batch;
    if !texts {
        let quick = Lane::AllBut(NOT_QUICK_WITHOUT_PHONE_KINDS);
        return vec![("quick", quick, quick_batch), slow];
    }
    let housekeeping = Lane::Only(HOUSEKEEPING_KINDS);
    vec![
        ("quick", Lane::AllBut(NOT_QUICK_KINDS), quick_batch),
        slow,
        ("housekeeping", housekeeping, HOUSEKEEPING_LANE_BATCH),
    ]
}

/// Starts the server's workers in the background: the quick lane (texts, billing reports,
/// follow-ups), the slow lane ([`SLOW_KINDS`]) and the housekeeping lane
/// ([`HOUSEKEEPING_KINDS`]); without an SMS provider, only the work that needs none ([`lanes`]).
/// The handle ends when all have stopped, after `stop` turns true.
pub fn spawn(state: &AppState, stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let provider = state.sms.clone();
    if provider.is_none() {
        tracing::warn!(
            "no SMS provider is configured (RINGBACK_TWILIO_ACCOUNT_SID and RINGBACK_TWILIO_AUTH_TOKEN): texts wait in the outbox"
        );
    }
    let running: Vec<_> = lanes(provider.is_some())
        .into_iter()
        .map(|(lane_name, lane, batch)| {
            let name = format!(
                "{}-{lane_name}-{}",
                std::process::id(),
                Uuid::new_v4().simple()
            );
            let settings = WorkerSettings {
                lane,
                batch,
                ..WorkerSettings::default()
            };
            let worker = Worker::new(state.clone(), provider.clone(), settings, name);
            tokio::spawn(worker.run_until(stop.clone()))
        })
        .collect();
    tokio::spawn(async move {
        for lane in running {
            let _ = lane.await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringback_domain::jobs::PHONE_PROVIDER_JOBS;

    /// The lanes that claim `kind`, by name.
    fn lanes_taking(texts: bool, kind: &str) -> Vec<&'static str> {
        lanes(texts)
            .into_iter()
            .filter(|(_, lane, _)| lane.takes(kind))
            .map(|(name, _, _)| name)
            .collect()
    }

    #[test]
    fn every_job_kind_runs_in_exactly_one_lane() {
        for kind in job_types().0.keys() {
            let taking = lanes_taking(true, kind);
            assert_eq!(taking.len(), 1, "{kind} runs in {taking:?}");
        }
        assert_eq!(
            lanes_taking(true, ForgetProviderRecords::NAME),
            ["housekeeping"]
        );
        assert_eq!(
            lanes_taking(true, ForgetCallerAtProvider::NAME),
            ["housekeeping"]
        );
    }

    #[test]
    fn without_a_phone_provider_only_its_jobs_wait() {
        for kind in job_types().0.keys() {
            let taking = lanes_taking(false, kind);
            if PHONE_PROVIDER_JOBS.contains(kind) {
                assert!(
                    taking.is_empty(),
                    "{kind} runs in {taking:?} without a provider"
                );
            } else {
                assert_eq!(taking, lanes_taking(true, kind), "{kind} moved lanes");
            }
        }
    }
}
