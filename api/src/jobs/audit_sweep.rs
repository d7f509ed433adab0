//! The audit sweep: every few seconds, and at once again while a pass leaves some waiting, seals
//! the reads of personal data waiting in `audit_pending` into their clinics' hash chains (reads
//! note themselves without the clinic's audit lock so that they never wait for each other; see
//! `ringback_core::audit`). Any number of servers may sweep one database: each clinic is sealed
//! under its audit lock, so a second sweeper finds nothing left. A failed pass is logged and
//! retried at the next tick.

use std::time::Duration;

use ringback_core::audit;
use tokio::sync::watch;

use crate::state::AppState;

/// How often waiting reads are sealed: the most a read stays outside its clinic's chain while
/// the server runs.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Clinics sealed per pass; when more wait, the next pass follows at once.
const CLINICS_PER_PASS: u32 = 200;

/// Starts the sweep in the background; after `stop` turns true it makes one last pass and ends.
pub fn spawn(state: &AppState, stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run_until(state.clone(), stop))
}

async fn run_until(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut more_waiting = false;
    loop {
        // A pass that left reads waiting is followed at once, so a clinic reading faster than one
        // pass a tick seals is never left behind.
        let stopping = if more_waiting {
            *stop.borrow()
        } else {
            tokio::select! {
                _ = tokio::time::sleep(SWEEP_INTERVAL) => false,
                _ = stop.changed() => true,
            }
        };
        more_waiting = pass(&state).await;
        if stopping || *stop.borrow() {
            return;
        }
    }
}

/// One pass, errors logged; whether it left reads waiting.
async fn pass(state: &AppState) -> bool {
    match audit::sweep(&state.db, &state.clock, CLINICS_PER_PASS).await {
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
