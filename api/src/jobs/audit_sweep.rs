//! The audit sweep: every few seconds, and at once again while a pass leaves some waiting, seals
//! the reads of personal data waiting in `audit_pending` into their clinics' hash chains (reads
//! note themselves without the clinic's audit lock so that they never wait for each other; see
//! `ringback_core::audit`). Any number of servers may sweep one database: each clinic is sealed
//! under its audit lock, so a second sweeper finds nothing left. A failed pass is logged and
//! retried at the next tick.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ringback_core::audit;
use tokio::sync::watch;

use crate::state::AppState;

/// How often waiting reads are sealed: the most a read stays outside its clinic's chain while
/// the server runs.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Clinics sealed per pass; when more wait, the next pass follows at once.
const CLINICS_PER_PASS: u32 = 200;

/// How long the sweep goes on sealing once the server is stopping: well inside the grace the
/// server gives its background work. What is left waits, noted, for the next start.
const LAST_PASS: Duration = Duration::from_secs(5);

/// Starts the sweep in the background; once `stop` turns true it seals for at most [`LAST_PASS`]
/// more and ends.
pub fn spawn(state: &AppState, stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run_until(state.clone(), stop))
}

async fn run_until(state: AppState, mut stop: watch::Receiver<bool>) {
    let stopping = Stopping::new(stop.clone(), LAST_PASS);
    let mut more_waiting = false;
    loop {
        // A pass that left reads waiting is followed at once, so a clinic reading faster than one
        // pass a tick seals is never left behind. Stop is the only change sent; a closed channel
        // ends the sweep too.
        let mut last = false;
        if !more_waiting {
            tokio::select! {
                _ = tokio::time::sleep(SWEEP_INTERVAL) => {}
                _ = stop.changed() => last = true,
            }
        }
        more_waiting = pass(&state, || stopping.time_left()).await;
        if last || stopping.asked() {
            return;
        }
    }
}

/// Whether the server is stopping, and whether the sweep still has time to seal.
struct Stopping {
    stop: watch::Receiver<bool>,
    budget: Duration,
    /// When the sweep first saw the server stopping.
    seen_at: OnceLock<Instant>,
}

impl Stopping {
    fn new(stop: watch::Receiver<bool>, budget: Duration) -> Self {
        Self {
            stop,
            budget,
            seen_at: OnceLock::new(),
        }
    }

    fn asked(&self) -> bool {
        *self.stop.borrow()
    }

    /// True while the server runs, and for `budget` after the sweep first saw it stopping.
    fn time_left(&self) -> bool {
        if !self.asked() {
            return true;
        }
        self.seen_at.get_or_init(Instant::now).elapsed() < self.budget
    }
}

/// One pass, errors logged, each batch started only while `go_on` says so; whether it left reads
/// waiting.
async fn pass(state: &AppState, go_on: impl Fn() -> bool) -> bool {
    match audit::sweep_while(&state.db, &state.clock, CLINICS_PER_PASS, go_on).await {
        Ok(swept) => {
            if swept.sealed > 0 {
                tracing::debug!(sealed = swept.sealed, "audit entries sealed");
            }
            swept.more_waiting
        }
        Err(error) => {
            tracing::error!(%error, "audit sweep failed; retrying at the next tick");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopping_server_leaves_the_sweep_its_budget_and_no_more() {
        let (stop, stopped) = watch::channel(false);
        let with_time = Stopping::new(stopped.clone(), Duration::from_secs(3_600));
        let without_time = Stopping::new(stopped, Duration::ZERO);
        assert!(with_time.time_left() && without_time.time_left(), "running");
        assert!(!with_time.asked());

        stop.send(true).expect("the sweep listens");
        assert!(with_time.asked());
        assert!(with_time.time_left(), "inside its budget");
        assert!(!without_time.time_left(), "its budget is spent");
    }
}
