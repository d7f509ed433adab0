//! The scheduler inside `ringback serve`: periodic work (the retention purge, the billing check,
//! deleting what deleted clinics left at the phone provider) as named tasks
//! with an interval. Every tick each server tries to take each due task through its lease row
//! (`ringback_core::schedule`), so of several servers on one database exactly one runs it. A task
//! runs on its own, never in the tick's way, so a slow task delays neither the others nor the
//! outbox; one that fails is logged, recorded as the run's outcome, and tried again when it is due
//! at a later tick.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use ringback_core::schedule;
use tokio::sync::watch;
use uuid::Uuid;

use crate::error::DomainError;
use crate::service::{billing_check, provider_leftovers, retention};
use crate::state::AppState;

/// How often a server looks for due tasks.
pub const TICK: Duration = Duration::from_secs(60);

/// What a task's run returns: its outcome in a few words, without personal data.
type Run = Pin<Box<dyn Future<Output = Result<String, DomainError>> + Send>>;

/// One periodic task.
#[derive(Clone, Copy)]
pub struct Task {
    pub name: &'static str,
    /// How often it runs.
    pub every: chrono::Duration,
    /// The longest one run may take: a server that dies mid-run holds it no longer.
    pub lease: chrono::Duration,
    pub run: fn(AppState) -> Run,
}

/// The retention purge: what has outlived each clinic's retention is deleted once a day.
pub const RETENTION: Task = Task {
    name: "retention",
    every: chrono::Duration::hours(24),
    lease: chrono::Duration::hours(1),
    run: |state| Box::pin(purge(state)),
};

async fn purge(state: AppState) -> Result<String, DomainError> {
    purge_outcome(&retention::purge_all(&state.db, &state.clock, false).await?)
}

/// How a purge run is recorded: the rows removed, or (`Unavailable`) that some clinics failed.
pub fn purge_outcome(report: &retention::PurgeReport) -> Result<String, DomainError> {
    let rows: u64 = report
        .clinics
        .iter()
        .flat_map(|clinic| clinic.purged.iter().map(|kind| kind.rows))
        .sum::<u64>()
        + report.sign_up_requests
        + report.password_resets;
    let done = format!("{rows} rows removed in {} clinics", report.clinics.len());
    match report.failed.len() {
        0 => Ok(done),
        failed => Err(DomainError::Unavailable(format!(
            "{done}; the purge of {failed} clinics failed (logged with their ids)"
        ))),
    }
}

/// The billing check: Stripe is asked about subscriptions whose period ended with no event
/// since (see `billing_check`), once an hour; nothing to do while billing is off.
pub const BILLING_CHECK: Task = Task {
    name: "billing_check",
    every: chrono::Duration::hours(1),
    lease: chrono::Duration::minutes(30),
    run: |state| Box::pin(check_billing(state)),
};

async fn check_billing(state: AppState) -> Result<String, DomainError> {
    let Some(context) = state.billing.clone() else {
        return Ok("billing is off".to_owned());
    };
    let checked = billing_check::check_all(&state.db, &state.clock, &context).await?;
    Ok(format!(
        "{} clinics asked about, {} updated, {} failed",
        checked.asked, checked.applied, checked.failed
    ))
}

/// Deleting, at the phone provider, the records of calls and texts that deleted clinics left
/// behind (see `provider_leftovers`), every ten minutes for up to twenty; nothing to do without
/// a provider account.
pub const PROVIDER_LEFTOVERS: Task = Task {
    name: "provider_leftovers",
    every: chrono::Duration::minutes(10),
    lease: chrono::Duration::minutes(30),
    run: |state| Box::pin(forget_leftovers(state)),
};

/// How long one run of [`PROVIDER_LEFTOVERS`] keeps asking the provider.
const LEFTOVERS_BUDGET: Duration = Duration::from_secs(20 * 60);

async fn forget_leftovers(state: AppState) -> Result<String, DomainError> {
    let Some(records) = state.provider_records.clone() else {
        return Ok("no provider account is configured".to_owned());
    };
    let run = provider_leftovers::forget(&state.db, &state.clock, records, LEFTOVERS_BUDGET);
    let forgotten = run.await?;
    Ok(format!(
        "{} records deleted at the provider, {} attempts failed",
        forgotten.deleted, forgotten.failed
    ))
}

/// The tasks every server runs.
pub const TASKS: [Task; 3] = [RETENTION, BILLING_CHECK, PROVIDER_LEFTOVERS];

/// A server's scheduler: its name (for the lease) and its tasks.
pub struct Scheduler {
    state: AppState,
    holder: String,
    tasks: Vec<Task>,
}

impl Scheduler {
    pub fn new(state: AppState, tasks: Vec<Task>) -> Self {
        Self {
            state,
            holder: format!("scheduler-{}", Uuid::now_v7()),
            tasks,
        }
    }

    /// One tick: starts every due task this server could take; the handles of those started.
    pub async fn tick(&self) -> Result<Vec<tokio::task::JoinHandle<()>>, DomainError> {
        let mut started = Vec::new();
        for task in &self.tasks {
            schedule::register(&self.state.db, task.name).await?;
            let now = self.state.clock.now();
            let timing = (task.every, task.lease);
            if schedule::take_if_due(&self.state.db, task.name, &self.holder, timing, now).await? {
                started.push(tokio::spawn(run(
                    self.state.clone(),
                    *task,
                    self.holder.clone(),
                )));
            }
        }
        Ok(started)
    }
}

/// Runs `task` and records how it ended.
async fn run(state: AppState, task: Task, holder: String) {
    let outcome = match (task.run)(state.clone()).await {
        Ok(outcome) => {
            tracing::info!(task = task.name, %outcome, "scheduled task finished");
            outcome
        }
        Err(error) => {
            tracing::error!(task = task.name, %error, "scheduled task failed; it runs again when next due");
            format!("failed: {error}")
        }
    };
    let finished = schedule::finish(&state.db, task.name, &holder, &outcome, state.clock.now());
    if let Err(error) = finished.await {
        tracing::error!(task = task.name, %error, "could not record the end of a scheduled task");
    }
}

/// Starts the scheduler in the background until `stop` turns true.
pub fn spawn(state: &AppState, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let scheduler = Scheduler::new(state.clone(), TASKS.to_vec());
    tokio::spawn(async move {
        loop {
            if let Err(error) = scheduler.tick().await {
                tracing::error!(%error, "the scheduler's tick failed; trying again at the next");
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => return,
            }
        }
    })
}
