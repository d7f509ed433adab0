//! What a deleted clinic leaves at the phone provider, and its deletion there. Twilio keeps its
//! own log of every call and text (with the caller's number and a text's words); a living
//! clinic's erasures and purges delete those records through its outbox
//! ([`ForgetProviderRecords`](crate::jobs::ForgetProviderRecords)), but a deleted clinic's jobs go
//! with it. So [`leave_behind`], in the deletion's transaction, copies the provider's ids of every
//! call and text the clinic holds (and of those its unfinished deletion jobs still name), and of
//! the numbers Ringback bought for it (released, so that they neither cost the deployment nor,
//! taken by another clinic, bring it the deleted clinic's callers; until then no clinic may take
//! one), into the deployment-level
//! `provider_leftovers`, which holds nothing but those ids (a living clinic's
//! deletion job that gives up hands its ids over the same way: [`adopt`]); [`forget`], run by the
//! scheduler, deletes them at the provider, a row going once the provider confirms the record is
//! gone (or never existed). A failed attempt waits longer each time, from five minutes up to a
//! day, and the row stays until it succeeds (its last error kept; logged from the
//! [`WARN_AFTER_ATTEMPTS`]th).
//!
//! Cost: the deletion copies with two `INSERT … SELECT`s on the clinic's leading indexes (no row
//! reaches the server); [`forget`] reads due rows a page at a time by their due-time index and
//! makes a request or three per record, [`CONCURRENT`] at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ringback_core::clock::Clock;
use ringback_core::error::DomainError;
use ringback_core::outbox::{CLAIMED, DEAD, PENDING};
use ringback_core::tenant::{ClinicOwned, TenantTxn};
use ringback_entity::{call, job_outbox, message, provider_leftover, provider_number};
use ringback_providers::records::{ProviderRecords, is_record_id};
use ringback_providers::twilio::PROVIDER_NAME;
use sea_orm::sea_query::{Expr, Func, OnConflict, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Set,
};
use tokio::sync::Semaphore;

use crate::jobs::{ForgetProviderRecords, Job};

/// A call in the provider's log.
pub const CALL: &str = "call";
/// A text in the provider's log.
pub const MESSAGE: &str = "message";
/// A phone number the account bought for the clinic: released.
pub const NUMBER: &str = "number";
/// A phone number of the account a clinic used but did not buy here (taken from the account or
/// typed in), which that clinic no longer holds (deleted, or a stopped number it held back no
/// more room for): no clinic may take it until [`phone_lines::HELD_BACK_DAYS`] have passed, so
/// that its former callers' calls and texts reach nobody else meanwhile. Nothing is done at the
/// provider: the row goes when due ([`free_held_numbers`]).
///
/// [`phone_lines::HELD_BACK_DAYS`]: crate::service::phone_lines::HELD_BACK_DAYS
pub const HELD_NUMBER: &str = "held_number";
/// Failed attempts after which each further failure is logged for the operator.
pub const WARN_AFTER_ATTEMPTS: i32 = 12;
/// Records deleted at the provider side by side.
pub const CONCURRENT: usize = 4;
/// Due records read at once (a page takes at most a few minutes even when every request times
/// out, well inside the task's lease).
const PAGE: u64 = 20;
/// The longest id a leftover holds (Twilio's are 34 characters).
const LONGEST_SID: i32 = 64;

/// Copies, in the deletion transaction `txn`, the provider's ids of every call and text of the
/// clinic (automated answers to keywords included), of the numbers bought for it, and of the records its unfinished deletion jobs name,
/// into `provider_leftovers`; how many rows were added.
pub async fn leave_behind(txn: &TenantTxn) -> Result<u64, DomainError> {
    let now = txn.now();
    let calls = ids_of::<call::Entity>(txn, CALL, call::Column::ExternalId)
        .filter(call::Column::Provider.eq(PROVIDER_NAME));
    let texts = ids_of::<message::Entity>(txn, MESSAGE, message::Column::ProviderMessageId);
    let answers = ids_of::<message::Entity>(txn, MESSAGE, message::Column::AnswerProviderId);
    let numbers =
        ids_of::<provider_number::Entity>(txn, NUMBER, provider_number::Column::ProviderSid)
            .filter(provider_number::Column::BoughtHere.eq(true));
    let mut added = copy(txn, calls.into_query(), (now, now)).await?;
    added += copy(txn, texts.into_query(), (now, now)).await?;
    added += copy(txn, answers.into_query(), (now, now)).await?;
    added += copy(txn, numbers.into_query(), (now, now)).await?;
    added += carry_unfinished_jobs(txn, now).await?;
    Ok(added)
}

/// Holds back from every clinic, in the deletion transaction `txn`, the numbers the clinic used
/// without buying them here ([`HELD_NUMBER`]); how many.
pub async fn hold_numbers_left(txn: &TenantTxn) -> Result<u64, DomainError> {
    let now = txn.now();
    let until = now + chrono::Duration::days(crate::service::phone_lines::HELD_BACK_DAYS);
    let numbers =
        ids_of::<provider_number::Entity>(txn, HELD_NUMBER, provider_number::Column::ProviderSid)
            .filter(provider_number::Column::BoughtHere.eq(false));
    copy(txn, numbers.into_query(), (now, until)).await
}

/// Holds provider number `sid`, which a clinic no longer holds, back from every clinic until
/// `until` ([`HELD_NUMBER`]), through `conn` in the caller's transaction.
pub async fn hold_number<C: ConnectionTrait>(
    conn: &C,
    sid: &str,
    (now, until): (DateTime<Utc>, DateTime<Utc>),
) -> Result<(), DomainError> {
    provider_leftover::Entity::insert(new_leftover(HELD_NUMBER, sid, (now, until)))
        .on_conflict(keep_existing())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// A new leftover of `kind` for the provider's id `sid`, made `now` and due `due`.
fn new_leftover(
    kind: &str,
    sid: &str,
    (now, due): (DateTime<Utc>, DateTime<Utc>),
) -> provider_leftover::ActiveModel {
    provider_leftover::ActiveModel {
        provider: Set(PROVIDER_NAME.to_owned()),
        kind: Set(kind.to_owned()),
        sid: Set(sid.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(due),
        last_error: Set(None),
        created_at: Set(now),
    }
}

/// Frees the held numbers ([`HELD_NUMBER`]) whose time is up at `now`; how many.
pub async fn free_held_numbers(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> Result<u64, DomainError> {
    Ok(provider_leftover::Entity::delete_many()
        .filter(provider_leftover::Column::Kind.eq(HELD_NUMBER))
        .filter(provider_leftover::Column::NextAttemptAt.lte(now))
        .exec(db)
        .await?
        .rows_affected)
}

/// The clinic's rows of `E` as `(kind, sid)`: the provider's id in column `sid`, where it is set
/// and can be one.
fn ids_of<E: ClinicOwned>(txn: &TenantTxn, kind: &str, sid: E::Column) -> sea_orm::Select<E> {
    txn.find::<E>()
        .select_only()
        .expr(Expr::val(kind))
        .column(sid)
        .filter(sid.is_not_null())
        .filter(Expr::expr(Func::cust("length").arg(Expr::col(sid))).lte(LONGEST_SID))
}

/// Inserts the `(kind, sid)` rows `select` gives as leftovers made `now` and due `due`, keeping
/// any already there.
async fn copy(
    txn: &TenantTxn,
    mut select: sea_orm::sea_query::SelectStatement,
    (now, due): (DateTime<Utc>, DateTime<Utc>),
) -> Result<u64, DomainError> {
    select
        .expr(Expr::val(PROVIDER_NAME))
        .expr(Expr::val(0))
        .expr(Expr::val(due))
        .expr(Expr::val(now));
    let insert = Query::insert()
        .into_table(provider_leftover::Entity)
        .columns([
            provider_leftover::Column::Kind,
            provider_leftover::Column::Sid,
            provider_leftover::Column::Provider,
            provider_leftover::Column::Attempts,
            provider_leftover::Column::NextAttemptAt,
            provider_leftover::Column::CreatedAt,
        ])
        .select_from(select)
        .map_err(|error| DomainError::Internal(error.to_string()))?
        .on_conflict(keep_existing())
        .to_owned();
    Ok(txn.conn().execute(&insert).await?.rows_affected())
}

/// A leftover already waiting stays as it is (with its attempts).
fn keep_existing() -> OnConflict {
    OnConflict::columns([
        provider_leftover::Column::Provider,
        provider_leftover::Column::Kind,
        provider_leftover::Column::Sid,
    ])
    .do_nothing()
    .to_owned()
}

/// The records the clinic's deletion jobs that have not finished (waiting, running, given up)
/// still name, as leftovers (a job whose payload cannot be read is logged and skipped).
async fn carry_unfinished_jobs(txn: &TenantTxn, now: DateTime<Utc>) -> Result<u64, DomainError> {
    let unfinished = txn
        .find::<job_outbox::Entity>()
        .filter(job_outbox::Column::Kind.eq(ForgetProviderRecords::NAME))
        .filter(job_outbox::Column::Status.is_in([PENDING, CLAIMED, DEAD]))
        .all(txn.conn())
        .await?;
    let mut added = 0;
    for row in &unfinished {
        match ForgetProviderRecords::from_row(row) {
            Ok(job) => added += adopt(txn.conn(), &job, now).await?,
            Err(error) => {
                tracing::error!(%error, "a deletion job's records cannot be carried over")
            }
        }
    }
    Ok(added)
}

/// Makes the records `job` names leftovers due `now` (through `conn`, in the caller's
/// transaction), keeping any already waiting; how many were added.
pub async fn adopt<C: ConnectionTrait>(
    conn: &C,
    job: &ForgetProviderRecords,
    now: DateTime<Utc>,
) -> Result<u64, DomainError> {
    let calls = job.calls.iter().map(|sid| (CALL, sid));
    let named = calls.chain(job.messages.iter().map(|sid| (MESSAGE, sid)));
    let rows: Vec<provider_leftover::ActiveModel> = named
        .filter(|(_, sid)| is_record_id(sid))
        .map(|(kind, sid)| new_leftover(kind, sid, (now, now)))
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    Ok(provider_leftover::Entity::insert_many(rows)
        .on_conflict(keep_existing())
        .exec_without_returning(conn)
        .await?)
}

/// Twilio's ids of the numbers no clinic may take: those deleted clinics left to be released
/// (the release would take one from its taker) and those held back from every clinic
/// ([`HELD_NUMBER`]). A handful at most.
pub async fn numbers_kept_from_clinics<C: ConnectionTrait>(
    db: &C,
) -> Result<std::collections::HashSet<String>, DomainError> {
    Ok(provider_leftover::Entity::find()
        .select_only()
        .column(provider_leftover::Column::Sid)
        .filter(provider_leftover::Column::Kind.is_in([NUMBER, HELD_NUMBER]))
        .into_tuple::<String>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// What one run of [`forget`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Forgotten {
    /// Records the provider confirmed gone.
    pub deleted: u64,
    /// Attempts that failed (each record waits longer for its next).
    pub failed: u64,
}

/// Deletes due leftovers at the provider through `records`, a page at a time, until none is due
/// or `budget` has passed.
pub async fn forget(
    db: &DatabaseConnection,
    clock: &Clock,
    records: Arc<dyn ProviderRecords>,
    budget: Duration,
) -> Result<Forgotten, DomainError> {
    let started = Instant::now();
    let mut forgotten = Forgotten::default();
    free_held_numbers(db, clock.now()).await?;
    while started.elapsed() < budget {
        let due: Vec<provider_leftover::Model> = provider_leftover::Entity::find()
            .filter(provider_leftover::Column::Kind.ne(HELD_NUMBER))
            .filter(provider_leftover::Column::NextAttemptAt.lte(clock.now()))
            .order_by_asc(provider_leftover::Column::NextAttemptAt)
            .limit(PAGE)
            .all(db)
            .await?;
        if due.is_empty() {
            break;
        }
        let page = due.len();
        let outcomes = attempt_all(&records, due).await;
        // A request that panicked leaves its row as it was: this run stops rather than read it
        // again and again.
        let stalled = outcomes.len() < page;
        for (row, outcome) in outcomes {
            match outcome {
                Ok(()) => {
                    provider_leftover::Entity::delete_by_id((row.provider, row.kind, row.sid))
                        .exec(db)
                        .await?;
                    forgotten.deleted += 1;
                }
                Err(error) => {
                    postpone(db, clock.now(), row, error).await?;
                    forgotten.failed += 1;
                }
            }
        }
        if stalled {
            break;
        }
    }
    Ok(forgotten)
}

/// Asks the provider to delete each of `rows`, [`CONCURRENT`] at once; each row with how it went
/// (the error in words: statuses and codes only).
async fn attempt_all(
    records: &Arc<dyn ProviderRecords>,
    rows: Vec<provider_leftover::Model>,
) -> Vec<(provider_leftover::Model, Result<(), String>)> {
    let permits = Arc::new(Semaphore::new(CONCURRENT));
    let mut running = tokio::task::JoinSet::new();
    for row in rows {
        let (records, permits) = (records.clone(), permits.clone());
        running.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let outcome = match row.kind.as_str() {
                CALL => records.forget_call(&row.sid).await,
                NUMBER => records.release_number(&row.sid).await,
                _ => records.forget_message(&row.sid).await,
            };
            (row, outcome.map_err(|error| error.to_string()))
        });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = running.join_next().await {
        match joined {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => tracing::error!(%error, "a provider deletion task failed"),
        }
    }
    outcomes
}

/// Records a failed attempt on `row`: its next comes after five minutes, doubled with each
/// attempt, at most a day. A row another server deleted meanwhile stays deleted.
async fn postpone(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    row: provider_leftover::Model,
    error: String,
) -> Result<(), DomainError> {
    let attempts = row.attempts.saturating_add(1);
    let wait =
        chrono::Duration::minutes(5 << (attempts.clamp(1, 10) - 1)).min(chrono::Duration::days(1));
    if attempts >= WARN_AFTER_ATTEMPTS {
        tracing::warn!(kind = %row.kind, attempts, %error, "a provider record still cannot be deleted; it is tried again daily");
    }
    provider_leftover::Entity::update_many()
        .col_expr(provider_leftover::Column::Attempts, Expr::value(attempts))
        .col_expr(
            provider_leftover::Column::NextAttemptAt,
            Expr::value(now + wait),
        )
        .col_expr(
            provider_leftover::Column::LastError,
            Expr::value(Some(error)),
        )
        .filter(provider_leftover::Column::Provider.eq(row.provider))
        .filter(provider_leftover::Column::Kind.eq(row.kind))
        .filter(provider_leftover::Column::Sid.eq(row.sid))
        .exec(db)
        .await?;
    Ok(())
}

/// What waits in `provider_leftovers`, for the operator (`ringback provider-leftovers`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Waiting {
    /// Records waiting to be deleted at the provider.
    pub records: u64,
    /// Of those, the ones whose last attempt failed.
    pub failing: u64,
    /// When the oldest was left behind.
    pub oldest: Option<DateTime<Utc>>,
    /// The failing records' last errors (statuses and codes only), with how many share each.
    pub errors: Vec<(String, u64)>,
}

/// What waits in `provider_leftovers`: one pass over the table's rows (it holds only what
/// deleted clinics left and the provider has not yet confirmed).
pub async fn waiting(db: &DatabaseConnection) -> Result<Waiting, DomainError> {
    let rows: Vec<(i32, DateTime<Utc>, Option<String>)> = provider_leftover::Entity::find()
        .filter(provider_leftover::Column::Kind.ne(HELD_NUMBER))
        .select_only()
        .column(provider_leftover::Column::Attempts)
        .column(provider_leftover::Column::CreatedAt)
        .column(provider_leftover::Column::LastError)
        .into_tuple()
        .all(db)
        .await?;
    let mut errors = std::collections::BTreeMap::<String, u64>::new();
    let mut summary = Waiting::default();
    for (attempts, created_at, last_error) in rows {
        summary.records += 1;
        summary.oldest = Some(
            summary
                .oldest
                .map_or(created_at, |at| std::cmp::min(at, created_at)),
        );
        if attempts > 0 {
            summary.failing += 1;
            *errors.entry(last_error.unwrap_or_default()).or_default() += 1;
        }
    }
    summary.errors = errors.into_iter().collect();
    Ok(summary)
}

/// Makes every waiting record due at `now` (after the operator put right what made them fail),
/// so that the next run tries them at once; how many.
pub async fn retry_now(db: &DatabaseConnection, now: DateTime<Utc>) -> Result<u64, DomainError> {
    Ok(provider_leftover::Entity::update_many()
        .col_expr(provider_leftover::Column::NextAttemptAt, Expr::value(now))
        .filter(provider_leftover::Column::Kind.ne(HELD_NUMBER))
        .filter(provider_leftover::Column::NextAttemptAt.gt(now))
        .exec(db)
        .await?
        .rows_affected)
}
