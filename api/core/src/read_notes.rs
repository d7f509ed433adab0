//! Notes of reads whose transaction ends without a commit, written together.
//!
//! A read of personal data is noted in `audit_pending` ([`crate::audit::note_read`]). A
//! transaction that commits writes its notes with its commit. A transaction that only read ends
//! without one ([`TenantTxn::end_reading`](crate::tenant::TenantTxn::end_reading)) and hands its
//! notes to the server's [`NoteWriter`]: the notes of every request waiting at that moment are
//! written in one statement per clinic and one commit, then each request answers. A request
//! never answers before its notes are stored, and if they cannot be stored it answers an error
//! instead; under load, many reads share one write and one commit instead of paying two round
//! trips and a commit each.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, SecondsFormat, Utc};
use ringback_entity::audit_pending;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Set, Statement};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::db::{DbError, begin_writer};

/// The most notes one round of the writer takes (one statement per clinic among them).
const MOST_NOTES_A_ROUND: usize = 1024;

/// One read's note, as `audit_pending` will hold it.
#[derive(Debug)]
pub(crate) struct ReadNote {
    pub(crate) id: Uuid,
    pub(crate) at: DateTime<Utc>,
    pub(crate) actor: Option<Uuid>,
    pub(crate) action: String,
    pub(crate) detail: Value,
}

impl ReadNote {
    /// The row, for a write inside a tenant transaction.
    pub(crate) fn row(self, clinic_id: Uuid) -> audit_pending::ActiveModel {
        audit_pending::ActiveModel {
            clinic_id: Set(clinic_id),
            id: Set(self.id),
            at: Set(self.at),
            actor_user_id: Set(self.actor),
            action: Set(self.action),
            detail: Set(self.detail),
        }
    }

    /// The note as `ringback_note_reads` reads it (the instant with its microseconds).
    fn as_json(&self) -> Value {
        json!({
            "id": self.id,
            "at": self.at.to_rfc3339_opts(SecondsFormat::Micros, true),
            "actor": self.actor,
            "action": self.action,
            "detail": self.detail,
        })
    }
}

/// The notes a transaction that only read leaves to be written before its answer goes out.
#[must_use = "a read's answer may go out only once its notes are written (NoteWriter::write)"]
#[derive(Debug)]
pub struct NotedReads {
    pub(crate) clinic_id: Uuid,
    pub(crate) notes: Vec<ReadNote>,
}

impl NotedReads {
    /// True when the transaction noted no read.
    pub fn is_empty(&self) -> bool {
        self.notes.is_empty()
    }
}

/// A request's notes waiting for the write under way to end, and where it hears its turn.
struct Queued {
    noted: NotedReads,
    turn: oneshot::Sender<Turn>,
}

/// What a waiting request is told.
enum Turn {
    /// Its notes were written by another request's round (or could not be: the error).
    Written(Result<(), String>),
    /// The write before has ended: it writes the next round, its own notes (handed back) first,
    /// holding the baton.
    Lead(NotedReads, Baton),
}

impl Turn {
    /// A turn that could not be told (its request went away): a baton in it is not handed on
    /// from here, since the one telling goes on to the next request.
    fn untold(self) {
        if let Turn::Lead(_, mut baton) = self {
            baton.waiting = None;
        }
    }
}

/// Writes the notes of reads that ended without a commit, several requests' at a time. One per
/// server (it lives in the domain's `Backend`); cheap to clone. It has no task of its own: a
/// request that hands its notes over while no write is under way writes them itself, with the
/// notes of every request waiting, in one statement per clinic and one commit. Requests that
/// come during that write wait; when it ends, the first of them writes the next round for all
/// of them. A request alone writes its own notes at once; under load, many share one write.
#[derive(Clone)]
pub struct NoteWriter {
    db: DatabaseConnection,
    waiting: Arc<Mutex<Waiting>>,
    writes: Arc<AtomicU64>,
}

/// Whether a round is being written (a [`Baton`] exists), and the requests waiting for the next.
#[derive(Default)]
struct Waiting {
    writing: bool,
    queue: VecDeque<Queued>,
}

impl NoteWriter {
    /// A writer for `db`.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            waiting: Arc::new(Mutex::new(Waiting::default())),
            writes: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Stores `noted` (together with whatever other requests' notes are waiting) and returns once
    /// they are committed; an error if they could not be.
    pub async fn write(&self, noted: NotedReads) -> Result<(), DbError> {
        if noted.is_empty() {
            return Ok(());
        }
        let (mine, baton) = match self.wait_for_turn(noted) {
            Ok(lead) => lead,
            Err(turn) => match turn.await {
                Ok(Turn::Written(outcome)) => return outcome.map_err(DbError::NotesNotWritten),
                Ok(Turn::Lead(mine, baton)) => (mine, baton),
                Err(_) => {
                    return Err(DbError::NotesNotWritten(
                        "the request writing these notes went away before they were stored"
                            .to_owned(),
                    ));
                }
            },
        };
        // On the heap: the write's futures are large, and a request's whole answer waits on this
        // one (a debug build's stack overflowed with them inline).
        Box::pin(self.lead(mine, baton)).await
    }

    /// How many writes (one per clinic per round) the writer has made so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// `noted` back with the baton when no round is being written (the caller writes the next);
    /// otherwise queues them and gives where the caller will hear its turn.
    fn wait_for_turn(
        &self,
        noted: NotedReads,
    ) -> Result<(NotedReads, Baton), oneshot::Receiver<Turn>> {
        let mut waiting = lock(&self.waiting);
        if !waiting.writing {
            waiting.writing = true;
            let baton = Baton {
                waiting: Some(Arc::clone(&self.waiting)),
            };
            return Ok((noted, baton));
        }
        let (turn, heard) = oneshot::channel();
        waiting.queue.push_back(Queued { noted, turn });
        Err(heard)
    }

    /// Writes `mine` with the notes of the requests waiting (up to [`MOST_NOTES_A_ROUND`]) and
    /// answers each of them; the baton then goes to the first request left waiting, even if this
    /// request goes away during the write (its round's requests then hear an error).
    async fn lead(&self, mine: NotedReads, baton: Baton) -> Result<(), DbError> {
        let others = self.take_waiting(mine.notes.len());
        let mut clinics = by_clinic(others);
        let (notes, waiters) = clinics.entry(mine.clinic_id).or_default();
        notes.extend(mine.notes);
        waiters.push(Waiter::Leader);
        let mut outcome = Ok(());
        for (clinic_id, (notes, waiters)) in clinics {
            let written = write_clinic(&self.db, clinic_id, notes)
                .await
                .map_err(|error| error.to_string());
            self.writes.fetch_add(1, Ordering::Relaxed);
            for waiter in waiters {
                match waiter {
                    Waiter::Leader => outcome = written.clone(),
                    Waiter::Request(turn) => {
                        // A request that stopped waiting (its client went away) needs no answer.
                        let _ = turn.send(Turn::Written(written.clone()));
                    }
                }
            }
        }
        drop(baton);
        outcome.map_err(DbError::NotesNotWritten)
    }

    /// The requests waiting, oldest first, up to [`MOST_NOTES_A_ROUND`] notes with `taken`.
    fn take_waiting(&self, mut taken: usize) -> Vec<Queued> {
        let mut waiting = lock(&self.waiting);
        let mut round = Vec::new();
        while taken < MOST_NOTES_A_ROUND {
            let Some(queued) = waiting.queue.pop_front() else {
                break;
            };
            taken += queued.noted.notes.len();
            round.push(queued);
        }
        round
    }
}

/// The right to write the next round. Dropped (at the end of a round, when the request writing
/// goes away, or unreceived by a request that went away), it goes to the first request still
/// waiting; with none waiting, the next request to come writes at once.
struct Baton {
    /// The writer's state; None once the baton has been handed on.
    waiting: Option<Arc<Mutex<Waiting>>>,
}

impl Drop for Baton {
    fn drop(&mut self) {
        let Some(state) = self.waiting.take() else {
            return;
        };
        loop {
            let next = {
                let mut waiting = lock(&state);
                let Some(next) = waiting.queue.pop_front() else {
                    waiting.writing = false;
                    return;
                };
                next
            };
            // Told outside the lock: a request that goes away before it hears drops the baton,
            // which comes back here.
            let baton = Baton {
                waiting: Some(Arc::clone(&state)),
            };
            match next.turn.send(Turn::Lead(next.noted, baton)) {
                Ok(()) => return,
                Err(untold) => untold.untold(),
            }
        }
    }
}

fn lock(waiting: &Mutex<Waiting>) -> MutexGuard<'_, Waiting> {
    waiting.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Who waits for a clinic's write in a round: the request writing it, or another.
enum Waiter {
    Leader,
    Request(oneshot::Sender<Turn>),
}

/// A round's notes and waiting requests, clinic by clinic.
type ByClinic = BTreeMap<Uuid, (Vec<ReadNote>, Vec<Waiter>)>;

fn by_clinic(round: Vec<Queued>) -> ByClinic {
    let mut clinics = ByClinic::new();
    for queued in round {
        let (notes, waiters) = clinics.entry(queued.noted.clinic_id).or_default();
        notes.extend(queued.noted.notes);
        waiters.push(Waiter::Request(queued.turn));
    }
    clinics
}

/// Writes one clinic's notes and commits them: on PostgreSQL in one statement
/// (`ringback_note_reads`, which names the clinic to row-level security); on SQLite in a
/// transaction of its own.
async fn write_clinic(
    db: &DatabaseConnection,
    clinic_id: Uuid,
    notes: Vec<ReadNote>,
) -> Result<(), DbError> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let notes = Value::Array(notes.iter().map(ReadNote::as_json).collect());
            db.execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT ringback_note_reads($1, $2)",
                [clinic_id.into(), notes.into()],
            ))
            .await?;
            Ok(())
        }
        _ => {
            let txn = begin_writer(db).await?;
            insert_rows(&txn, clinic_id, notes).await?;
            Ok(txn.commit().await?)
        }
    }
}

/// Inserts `notes` of `clinic_id` on `conn`, in runs of a few statement shapes.
pub(crate) async fn insert_rows(
    conn: &impl ConnectionTrait,
    clinic_id: Uuid,
    notes: Vec<ReadNote>,
) -> Result<(), DbError> {
    let rows = notes.into_iter().map(|note| note.row(clinic_id)).collect();
    for run in crate::audit::in_power_of_two_runs(rows) {
        audit_pending::Entity::insert_many(run)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state with a round under way and `n` requests waiting, and where each hears its turn.
    fn waiting_requests(n: usize) -> (Arc<Mutex<Waiting>>, Vec<oneshot::Receiver<Turn>>) {
        let mut waiting = Waiting {
            writing: true,
            queue: VecDeque::new(),
        };
        let mut heard = Vec::new();
        for _ in 0..n {
            let (turn, hears) = oneshot::channel();
            let noted = no_notes();
            waiting.queue.push_back(Queued { noted, turn });
            heard.push(hears);
        }
        (Arc::new(Mutex::new(waiting)), heard)
    }

    /// A request's notes; the baton's hand-over does not look inside them.
    fn no_notes() -> NotedReads {
        NotedReads {
            clinic_id: Uuid::nil(),
            notes: Vec::new(),
        }
    }

    fn baton(state: &Arc<Mutex<Waiting>>) -> Baton {
        Baton {
            waiting: Some(Arc::clone(state)),
        }
    }

    #[test]
    fn the_baton_skips_requests_that_went_away_whenever_they_went() {
        let (state, mut heard) = waiting_requests(3);
        let third = heard.pop().expect("third");
        let second = heard.pop().expect("second");
        drop(heard); // The first went away before its turn came.
        drop(baton(&state));
        // The second was told, then went away without hearing: the baton comes back from it.
        assert_eq!(lock(&state).queue.len(), 1, "the second holds the baton");
        drop(second);
        let mut third = third;
        let Ok(Turn::Lead(_, held)) = third.try_recv() else {
            panic!("the third writes the next round");
        };
        assert!(
            lock(&state).writing,
            "a round is under way while the baton is held"
        );
        drop(held);
        let waiting = lock(&state);
        assert!(waiting.queue.is_empty());
        assert!(
            !waiting.writing,
            "with nobody waiting, the next request writes at once"
        );
    }

    #[test]
    fn a_turn_that_could_not_be_told_hands_nothing_on() {
        let (state, heard) = waiting_requests(1);
        let untold = Turn::Lead(no_notes(), baton(&state));
        untold.untold();
        assert_eq!(
            lock(&state).queue.len(),
            1,
            "the one telling goes on itself"
        );
        drop(heard);
    }
}
