//! The outbox table's life cycle: `pending` → `claimed` → `done`, or back to `pending` with a later
//! `run_at` after a failure, or `dead` after too many attempts (an admin may requeue it), or
//! `cancelled` when the work no longer applies (the caller opted out meanwhile), or back to
//! `pending` with a later `run_at` when it turned out not to be due yet (postponed).
//!
//! Claiming is atomic and safe with several workers: on PostgreSQL `ringback_claim_jobs` picks
//! rows `FOR UPDATE SKIP LOCKED`; on SQLite, which serialises writers, each `UPDATE … RETURNING`
//! does the same (one for claims to give up, then one for attempts). A claim older than the lease
//! belongs to a worker that died mid-job: it is claimed again and marked in doubt since that
//! claim (or since an earlier doubt it still carries: the search for what may have gone must reach
//! back to the first attempt that may have done it), so the worker asks the provider before any resend; after the last allowed attempt such
//! a claim is handed to the worker to give up (a dead letter, with the job type's own records of
//! it when they can be stored) instead, so attempts count however they ended. A claim is told
//! from the one before by its attempt and its time ([`ClaimStamp`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use ringback_entity::job_outbox;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::DomainError;
use crate::tenant::TenantTxn;
use crate::tenant::in_clinic;

/// Waiting for its `run_at`.
pub const PENDING: &str = "pending";
/// Taken by a worker.
pub const CLAIMED: &str = "claimed";
/// Finished.
pub const DONE: &str = "done";
/// Given up after too many attempts or a permanent refusal.
pub const DEAD: &str = "dead";
/// No longer applies.
pub const CANCELLED: &str = "cancelled";

/// A kind of background work, as a value: its name (stored as the row's `kind`), its payload (ids
/// only, never a number or a message text) and, for work that must happen at most once, the key
/// that deduplicates it. Services enqueue values of these types; the worker reads them back with
/// [`Job::from_row`].
pub trait Job: Serialize + DeserializeOwned {
    /// The name stored with every job of this type.
    const NAME: &'static str;

    /// Unique per clinic: a second job with the same key cannot be written ([`enqueue`] fails on
    /// it, [`enqueue_once`] leaves it). `None` for work that may be queued any number of times
    /// (each job then gets a key of its own).
    fn idempotency_key(&self) -> Option<String>;

    /// The payload of a stored job of this type.
    fn from_row(row: &job_outbox::Model) -> Result<Self, DomainError> {
        serde_json::from_value(row.payload.clone()).map_err(|error| {
            DomainError::Internal(format!(
                "{} job {} has a bad payload: {error}",
                Self::NAME,
                row.id
            ))
        })
    }
}

/// A job to write: a typed [`Job`] and what travels sealed beside it.
pub struct NewJob<J: Job> {
    pub job: J,
    pub sealed_number: Option<Vec<u8>>,
    pub body_sealed: Option<Vec<u8>>,
    pub run_at: DateTime<Utc>,
}

/// Writes `job` in the caller's transaction unless a job with its key was written before (in any
/// state): `None` then. Callers that may queue the same work twice serialise on a lock of their
/// own, so that two transactions never both find the key free.
pub async fn enqueue_once<J: Job>(
    txn: &TenantTxn,
    job: NewJob<J>,
    now: DateTime<Utc>,
) -> Result<Option<job_outbox::Model>, DomainError> {
    if written(txn, &job.job).await?.is_some() {
        return Ok(None);
    }
    enqueue(txn, job, now).await.map(Some)
}

/// The job written before with `job`'s key (in any state), if any; `None` also for work without
/// a key, which may be queued any number of times.
pub async fn written<J: Job>(
    txn: &TenantTxn,
    job: &J,
) -> Result<Option<job_outbox::Model>, DomainError> {
    let Some(key) = job.idempotency_key() else {
        return Ok(None);
    };
    Ok(txn
        .find::<job_outbox::Entity>()
        .filter(job_outbox::Column::IdempotencyKey.eq(key))
        .one(txn.conn())
        .await?)
}

/// Writes `job` in the caller's transaction.
pub async fn enqueue<J: Job>(
    txn: &TenantTxn,
    job: NewJob<J>,
    now: DateTime<Utc>,
) -> Result<job_outbox::Model, DomainError> {
    let payload = serde_json::to_value(&job.job)
        .map_err(|error| DomainError::Internal(format!("{} payload: {error}", J::NAME)))?;
    let id = Uuid::now_v7();
    let idempotency_key = job
        .job
        .idempotency_key()
        .unwrap_or_else(|| format!("{}:{id}", J::NAME));
    txn.note_queued_job();
    Ok(job_outbox::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        id: Set(id),
        kind: Set(J::NAME.to_owned()),
        idempotency_key: Set(idempotency_key),
        payload: Set(payload),
        sealed_number: Set(job.sealed_number),
        body_sealed: Set(job.body_sealed),
        status: Set(PENDING.to_owned()),
        attempts: Set(0),
        run_at: Set(job.run_at),
        claimed_at: Set(None),
        claimed_by: Set(None),
        last_error: Set(None),
        in_doubt_since: Set(None),
        provider_message_id: Set(None),
        api_key_id: Set(txn.api_key()),
        sender_number_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn.conn())
    .await?)
}

/// Cancels the transaction's clinic's unfinished jobs of type `J`, waiting or held by a worker,
/// keeping `reason` as each one's last error; how many. Only for a type whose attempt does nothing
/// outside the database: a worker holding one finds it no longer its claim when it stores the
/// outcome, and stores nothing (the type's own records must check the same under a lock, as the
/// worker reads the claim before it writes).
pub async fn cancel_unfinished<J: Job>(txn: &TenantTxn, reason: &str) -> Result<u64, DomainError> {
    let cancelled = txn
        .update_many::<job_outbox::Entity>()
        .col_expr(job_outbox::Column::Status, Expr::value(CANCELLED))
        .col_expr(job_outbox::Column::LastError, Expr::value(reason))
        .col_expr(job_outbox::Column::UpdatedAt, Expr::value(txn.now()))
        .filter(job_outbox::Column::Kind.eq(J::NAME))
        .filter(job_outbox::Column::Status.is_in([PENDING, CLAIMED]))
        .exec(txn.conn())
        .await?;
    Ok(cancelled.rows_affected)
}

/// A job a worker has claimed: which clinic and which row, and whether to attempt it or give it
/// up. Only [`claim_due`] makes one, so its clinic is a door
/// ([`TenantScope::for_job`](crate::tenant::TenantScope::for_job)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimedJob {
    pub(crate) clinic_id: Uuid,
    id: Uuid,
    give_up: bool,
}

impl ClaimedJob {
    /// The job's row id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Whether the job's last allowed attempt never settled (its worker died): the claim is to
    /// give the job up without another attempt (a dead letter, unless the job type finds its
    /// work was done after all).
    pub fn gives_up(&self) -> bool {
        self.give_up
    }
}

/// The error a job given up by [`ClaimedJob::gives_up`] keeps.
pub const NEVER_SETTLED: &str = "gave up: the last attempt never settled";

/// Claims due jobs and stale claims that have attempts left, for an attempt each (SQLite). Takes
/// now, the worker, now, now, the end of the lease of claims made before it, the attempts
/// allowed, the lane's kinds (a JSON array), whether the lane takes those kinds, and how many
/// jobs at most.
const SQLITE_CLAIM: &str = "UPDATE job_outbox SET \
     in_doubt_since = CASE WHEN status = 'claimed' THEN COALESCE(in_doubt_since, claimed_at) \
         ELSE in_doubt_since END, \
     status = 'claimed', attempts = attempts + 1, claimed_at = ?, claimed_by = ?, updated_at = ? \
     WHERE (clinic_id, id) IN (SELECT clinic_id, id FROM job_outbox \
         WHERE ((status = 'pending' AND run_at <= ?) \
             OR (status = 'claimed' AND claimed_at < ? AND attempts < ?)) \
         AND (kind IN (SELECT value FROM json_each(?))) = ? \
         ORDER BY run_at LIMIT ?) \
     RETURNING clinic_id, id, 0 AS give_up";

/// Claims, to give up, the stale claims of jobs that have had their last attempt: no attempt is
/// counted, and each is in doubt since the claim that never settled (SQLite; the PostgreSQL
/// claim function picks both kinds in one statement). Takes the values of [`SQLITE_CLAIM`] but
/// the fourth (the due time).
const SQLITE_CLAIM_TO_GIVE_UP: &str = "UPDATE job_outbox SET \
     in_doubt_since = COALESCE(in_doubt_since, claimed_at), \
     claimed_at = ?, claimed_by = ?, updated_at = ? \
     WHERE (clinic_id, id) IN (SELECT clinic_id, id FROM job_outbox \
         WHERE status = 'claimed' AND claimed_at < ? AND attempts >= ? \
         AND (kind IN (SELECT value FROM json_each(?))) = ? \
         ORDER BY run_at LIMIT ?) \
     RETURNING clinic_id, id, 1 AS give_up";

/// How a claim is made: by whom, when, how long a claim lasts, how many jobs at most, after how
/// many attempts a job whose attempts never settle is given up, and which kinds it takes.
#[derive(Clone, Copy, Debug)]
pub struct Claim<'a> {
    pub worker: &'a str,
    pub now: DateTime<Utc>,
    pub lease: Duration,
    pub max_jobs: u32,
    pub max_attempts: i32,
    pub lane: Lane,
}

/// Which job kinds a worker claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// Every kind (tests and single-lane tools).
    All,
    /// Only these kinds.
    Only(&'static [&'static str]),
    /// Every kind but these.
    AllBut(&'static [&'static str]),
}

impl Lane {
    /// Whether a worker of this lane claims jobs of `kind`.
    pub fn takes(self, kind: &str) -> bool {
        match self {
            Self::All => true,
            Self::Only(kinds) => kinds.contains(&kind),
            Self::AllBut(kinds) => !kinds.contains(&kind),
        }
    }

    /// The kinds named, as a JSON array, and whether the claim takes them (or all the others).
    fn filter(self) -> (String, bool) {
        let (kinds, in_lane): (&[&str], bool) = match self {
            Self::All => (&[], false),
            Self::Only(kinds) => (kinds, true),
            Self::AllBut(kinds) => (kinds, false),
        };
        (serde_json::json!(kinds).to_string(), in_lane)
    }
}

/// Claims up to `claim.max_jobs` jobs that are due or whose claim is older than the lease; a
/// stale claim after the last allowed attempt is claimed to be given up instead
/// ([`ClaimedJob::gives_up`]), however the attempt ended (preparation or settlement that keeps
/// failing, a worker that keeps dying); the worker that gives it up stores it as a dead letter
/// even when the job type's own records of it cannot be stored.
pub async fn claim_due(
    db: &DatabaseConnection,
    claim: Claim<'_>,
) -> Result<Vec<ClaimedJob>, DomainError> {
    let stale_before =
        claim.now - chrono::Duration::from_std(claim.lease).unwrap_or(chrono::Duration::MAX);
    match db.get_database_backend() {
        DbBackend::Postgres => claim_on_postgres(db, claim, stale_before).await,
        _ => {
            let mut claimed =
                claim_on_sqlite(db, claim, stale_before, SqliteClaim::ToGiveUp).await?;
            let room = claim.max_jobs.saturating_sub(claimed.len() as u32);
            if room > 0 {
                let attempts = Claim {
                    max_jobs: room,
                    ..claim
                };
                let more = claim_on_sqlite(db, attempts, stale_before, SqliteClaim::Attempts);
                claimed.extend(more.await?);
            }
            Ok(claimed)
        }
    }
}

/// Both kinds of claim in one call of `ringback_claim_jobs`.
async fn claim_on_postgres(
    db: &DatabaseConnection,
    claim: Claim<'_>,
    stale_before: DateTime<Utc>,
) -> Result<Vec<ClaimedJob>, DomainError> {
    let (lane_kinds, in_lane) = claim.lane.filter();
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT clinic_id, id, give_up FROM ringback_claim_jobs($1, $2, $3, $4, $5, \
         ARRAY(SELECT jsonb_array_elements_text($6::jsonb)), $7)",
        [
            claim.worker.into(),
            claim.now.into(),
            stale_before.into(),
            (claim.max_jobs as i32).into(),
            claim.max_attempts.into(),
            lane_kinds.into(),
            in_lane.into(),
        ],
    );
    claimed_jobs(db, statement).await
}

/// SQLite's two claim statements.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SqliteClaim {
    /// [`SQLITE_CLAIM_TO_GIVE_UP`].
    ToGiveUp,
    /// [`SQLITE_CLAIM`].
    Attempts,
}

/// One of SQLite's two claim statements.
async fn claim_on_sqlite(
    db: &DatabaseConnection,
    claim: Claim<'_>,
    stale_before: DateTime<Utc>,
    which: SqliteClaim,
) -> Result<Vec<ClaimedJob>, DomainError> {
    let (lane_kinds, in_lane) = claim.lane.filter();
    let mut values = vec![claim.now.into(), claim.worker.into(), claim.now.into()];
    let sql = match which {
        SqliteClaim::ToGiveUp => SQLITE_CLAIM_TO_GIVE_UP,
        SqliteClaim::Attempts => {
            values.push(claim.now.into());
            SQLITE_CLAIM
        }
    };
    values.extend([
        stale_before.into(),
        claim.max_attempts.into(),
        lane_kinds.into(),
        in_lane.into(),
        (claim.max_jobs as i32).into(),
    ]);
    let statement = Statement::from_sql_and_values(DbBackend::Sqlite, sql, values);
    claimed_jobs(db, statement).await
}

/// Runs a claim statement returning `clinic_id`, `id` and `give_up`.
async fn claimed_jobs(
    db: &DatabaseConnection,
    statement: Statement,
) -> Result<Vec<ClaimedJob>, DomainError> {
    let rows = db.query_all_raw(statement).await?;
    rows.iter()
        .map(|row| {
            Ok(ClaimedJob {
                clinic_id: row.try_get("", "clinic_id")?,
                id: row.try_get("", "id")?,
                give_up: row.try_get("", "give_up")?,
            })
        })
        .collect()
}

/// The job row, if it still exists.
pub async fn find(txn: &TenantTxn, id: Uuid) -> Result<Option<job_outbox::Model>, DomainError> {
    in_clinic::<job_outbox::Entity>(txn, id).await
}

/// Which claim of a job a worker holds: the attempt it counts and when it was made (a claim to
/// give a job up counts no attempt, and the same worker may make it: its time tells it apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimStamp {
    attempts: i32,
    claimed_at: Option<DateTime<Utc>>,
}

impl ClaimStamp {
    /// The claim `job` holds now.
    pub fn of(job: &job_outbox::Model) -> Self {
        Self {
            attempts: job.attempts,
            claimed_at: job.claimed_at,
        }
    }
}

/// Whether `job` is still the claim `worker` made (its lease did not run out and pass it on).
pub fn still_claimed_by(job: &job_outbox::Model, worker: &str, claim: ClaimStamp) -> bool {
    job.status == CLAIMED
        && job.claimed_by.as_deref() == Some(worker)
        && ClaimStamp::of(job) == claim
}

/// How long to wait before attempt `attempts + 1`: exponential from `base`, capped at `cap`, with
/// jitter over the upper half so that jobs failing together do not retry together.
pub fn backoff(attempts: i32, base: Duration, cap: Duration) -> Duration {
    let exponent = attempts.saturating_sub(1).clamp(0, 30) as u32;
    let full = base.saturating_mul(1u32 << exponent).min(cap);
    let half = full / 2;
    half + half.mul_f64(rand::thread_rng().r#gen::<f64>())
}

/// The outcome of an attempt, as stored.
pub enum Settlement {
    Done {
        provider_message_id: String,
    },
    Retry {
        run_at: DateTime<Utc>,
        error: String,
        in_doubt_since: Option<DateTime<Utc>>,
    },
    Dead {
        error: String,
        in_doubt_since: Option<DateTime<Utc>>,
    },
    Cancelled {
        reason: String,
    },
}

/// Stores `settlement` on `job` if it is still the claim `worker` made (`claim`), in the same
/// statement: a lease that ran out after the worker looked and before it wrote passed the job on,
/// and the new claim must not be overwritten. Whether it was stored (if not, the caller rolls its
/// transaction back). Finished jobs lose their sealed number and text.
pub async fn settle(
    txn: &TenantTxn,
    job: job_outbox::Model,
    (worker, claim): (&str, ClaimStamp),
    settlement: Settlement,
    now: DateTime<Utc>,
) -> Result<bool, DomainError> {
    let id = job.id;
    let mut model: job_outbox::ActiveModel = job.into();
    let finished = |model: &mut job_outbox::ActiveModel| {
        model.sealed_number = Set(None);
        model.body_sealed = Set(None);
        model.in_doubt_since = Set(None);
    };
    match settlement {
        Settlement::Done {
            provider_message_id,
        } => {
            model.status = Set(DONE.to_owned());
            model.provider_message_id = Set(Some(provider_message_id));
            model.last_error = Set(None);
            finished(&mut model);
        }
        Settlement::Retry {
            run_at,
            error,
            in_doubt_since,
        } => {
            model.status = Set(PENDING.to_owned());
            model.run_at = Set(run_at);
            model.last_error = Set(Some(error));
            model.in_doubt_since = Set(in_doubt_since);
        }
        Settlement::Dead {
            error,
            in_doubt_since,
        } => {
            model.status = Set(DEAD.to_owned());
            model.last_error = Set(Some(error));
            model.in_doubt_since = Set(in_doubt_since);
        }
        Settlement::Cancelled { reason } => {
            model.status = Set(CANCELLED.to_owned());
            model.last_error = Set(Some(reason));
            finished(&mut model);
        }
    }
    model.claimed_by = Set(None);
    model.updated_at = Set(now);
    let claimed_then = match claim.claimed_at {
        Some(at) => job_outbox::Column::ClaimedAt.eq(at),
        None => job_outbox::Column::ClaimedAt.is_null(),
    };
    let stored = txn
        .update_many::<job_outbox::Entity>()
        .set(model)
        .filter(job_outbox::Column::Id.eq(id))
        .filter(job_outbox::Column::Status.eq(CLAIMED))
        .filter(job_outbox::Column::ClaimedBy.eq(worker))
        .filter(job_outbox::Column::Attempts.eq(claim.attempts))
        .filter(claimed_then)
        .exec(txn.conn())
        .await?;
    Ok(stored.rows_affected == 1)
}

/// The clinic's dead letters, newest first.
pub async fn dead_letters(
    txn: &TenantTxn,
    limit: u64,
) -> Result<Vec<job_outbox::Model>, DomainError> {
    Ok(txn
        .find::<job_outbox::Entity>()
        .filter(job_outbox::Column::Status.eq(DEAD))
        .order_by_desc(job_outbox::Column::UpdatedAt)
        .limit(limit)
        .all(txn.conn())
        .await?)
}

/// Puts a dead job back in the queue with a fresh set of attempts. It keeps its doubt, if any,
/// when `keeps_doubt` says so of its kind (a job that asks the provider before it sends again);
/// otherwise the work is done again, as the person retrying it asked.
pub async fn requeue(
    txn: &TenantTxn,
    id: Uuid,
    now: DateTime<Utc>,
    keeps_doubt: impl FnOnce(&str) -> bool,
) -> Result<job_outbox::Model, DomainError> {
    let Some(dead) = find(txn, id).await?.filter(|job| job.status == DEAD) else {
        return Err(DomainError::NotFound);
    };
    let doubt = dead.in_doubt_since.filter(|_| keeps_doubt(&dead.kind));
    let updated = txn
        .update_many::<job_outbox::Entity>()
        .col_expr(job_outbox::Column::InDoubtSince, Expr::value(doubt))
        .col_expr(job_outbox::Column::Status, Expr::value(PENDING))
        .col_expr(job_outbox::Column::Attempts, Expr::value(0))
        .col_expr(job_outbox::Column::RunAt, Expr::value(now))
        .col_expr(job_outbox::Column::UpdatedAt, Expr::value(now))
        .filter(job_outbox::Column::Id.eq(id))
        .filter(job_outbox::Column::Status.eq(DEAD))
        .exec(txn.conn())
        .await?;
    if updated.rows_affected == 0 {
        return Err(DomainError::NotFound);
    }
    find(txn, id).await?.ok_or(DomainError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_in_the_upper_half_and_stops_at_the_cap() {
        let base = Duration::from_secs(5);
        let cap = Duration::from_secs(60);
        for attempts in 1..=6 {
            let full = (base * 2u32.pow(attempts as u32 - 1)).min(cap);
            for _ in 0..50 {
                let wait = backoff(attempts, base, cap);
                assert!(wait >= full / 2 && wait <= full, "{attempts}: {wait:?}");
            }
        }
        assert!(backoff(1_000, base, cap) <= cap);
    }
}
