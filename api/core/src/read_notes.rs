//! Notes of reads whose transaction ends without a commit, written together.
//!
//! A read of personal data is noted in `audit_pending` ([`crate::audit::note_read`]). A
//! transaction that commits writes its notes with its commit. A transaction that only read ends
//! without one ([`TenantTxn::end_reading`](crate::tenant::TenantTxn::end_reading)) and hands its
//! notes to the server's [`NoteWriter`], which writes the notes of every request waiting at that
//! moment in one statement per clinic and one commit, then lets each request answer. A request
//! never answers before its notes are stored, and if they cannot be stored it answers an error
//! instead; under load, many reads share one write and one commit instead of paying two round
//! trips and a commit each.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, SecondsFormat, Utc};
use ringback_entity::audit_pending;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, Set, Statement};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::db::{DbError, begin_writer};

/// How many requests' notes may wait for the writer before a request waits to hand its own over.
const QUEUE: usize = 4096;

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

/// A request's notes waiting for the writer, and where it waits for the outcome.
struct Queued {
    noted: NotedReads,
    done: oneshot::Sender<Result<(), String>>,
}

/// Writes the notes of reads that ended without a commit, several requests' at a time. One per
/// server (it lives in the domain's `Backend`); cheap to clone. Its task starts with the first
/// notes it is given, on that runtime, and ends once every clone is dropped and the notes handed
/// to it are written. Should the task ever end before that (a panic, or its runtime shut down),
/// the requests it held answer an error and the next notes start a new task.
#[derive(Clone)]
pub struct NoteWriter {
    db: DatabaseConnection,
    running: Arc<Mutex<Option<Running>>>,
    writes: Arc<AtomicU64>,
}

/// The writer's task, while it runs.
struct Running {
    /// Where requests hand their notes over; closed once the task has ended.
    queue: mpsc::Sender<Queued>,
    /// The task itself, for tests that end it.
    #[cfg(feature = "test-support")]
    task: tokio::task::AbortHandle,
}

impl NoteWriter {
    /// A writer for `db`.
    pub fn new(db: DatabaseConnection) -> Self {
        Self {
            db,
            running: Arc::new(Mutex::new(None)),
            writes: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Stores `noted` (together with whatever other requests' notes are waiting) and returns once
    /// they are committed; an error if they could not be.
    pub async fn write(&self, noted: NotedReads) -> Result<(), DbError> {
        if noted.is_empty() {
            return Ok(());
        }
        let stopped = || DbError::NotesNotWritten("the note writer has stopped".to_owned());
        let (done, outcome) = oneshot::channel();
        self.queue()
            .send(Queued { noted, done })
            .await
            .map_err(|_| stopped())?;
        outcome
            .await
            .map_err(|_| stopped())?
            .map_err(DbError::NotesNotWritten)
    }

    /// How many writes (one per clinic per round) the writer has made so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }

    /// The queue into the writer's task; the task is started on first use, and again if the last
    /// one has ended.
    fn queue(&self) -> mpsc::Sender<Queued> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(running) = running.as_ref().filter(|task| !task.queue.is_closed()) {
            return running.queue.clone();
        }
        let (queue, receiver) = mpsc::channel(QUEUE);
        let _task = tokio::spawn(write_rounds(
            self.db.clone(),
            Arc::clone(&self.writes),
            receiver,
        ));
        *running = Some(Running {
            queue: queue.clone(),
            #[cfg(feature = "test-support")]
            task: _task.abort_handle(),
        });
        queue
    }

    /// Ends the writer's task as a panic would, and returns once it has ended (for tests).
    #[cfg(feature = "test-support")]
    pub async fn end_task(&self) {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((queue, task)) = running
            .as_ref()
            .map(|running| (running.queue.clone(), running.task.clone()))
        else {
            return;
        };
        drop(running);
        task.abort();
        queue.closed().await;
    }
}

/// The writer's task: takes every request waiting (up to [`MOST_NOTES_A_ROUND`] notes), writes
/// them clinic by clinic, answers each request, and starts over.
async fn write_rounds(
    db: DatabaseConnection,
    writes: Arc<AtomicU64>,
    mut receiver: mpsc::Receiver<Queued>,
) {
    while let Some(first) = receiver.recv().await {
        let mut taken = first.noted.notes.len();
        let mut round = vec![first];
        while taken < MOST_NOTES_A_ROUND {
            let Ok(queued) = receiver.try_recv() else {
                break;
            };
            taken += queued.noted.notes.len();
            round.push(queued);
        }
        for (clinic_id, (notes, waiting)) in by_clinic(round) {
            let outcome = write_clinic(&db, clinic_id, notes)
                .await
                .map_err(|error| error.to_string());
            writes.fetch_add(1, Ordering::Relaxed);
            for done in waiting {
                // A request that stopped waiting (its client went away) needs no answer.
                let _ = done.send(outcome.clone());
            }
        }
    }
}

/// A round's notes and waiting requests, clinic by clinic.
type ByClinic = BTreeMap<Uuid, (Vec<ReadNote>, Vec<oneshot::Sender<Result<(), String>>>)>;

fn by_clinic(round: Vec<Queued>) -> ByClinic {
    let mut clinics = ByClinic::new();
    for queued in round {
        let (notes, waiting) = clinics.entry(queued.noted.clinic_id).or_default();
        notes.extend(queued.noted.notes);
        waiting.push(queued.done);
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
