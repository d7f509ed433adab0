//! Retention: what each clinic's data is kept for, and the purge that deletes what has outlived it
//! (rows removed, not flagged, on PostgreSQL and SQLite). A purge visits every clinic through the
//! audited operator door and writes one `retention.purged` entry per clinic: each kind of data,
//! how many rows, the oldest and newest date removed; never a caller key or a number. A dry run
//! counts the same rows and removes and records nothing.
//!
//! Removed: calls (callbacks are calls) and worklist dismissals from before the clinic-local
//! day the clinic's call retention reaches back to (at most 90 days), messages older than the
//! clinic's conversation retention and conversations without a message since (their sealed
//! numbers with them; see `ringback_shared::retention`), the sealed numbers of calls older than
//! the conversation retention (when it is the shorter one), finished outbox jobs
//! (text-backs, replies, overage reports), texts due that long ago that never went (a deployment
//! without a phone provider never sends them: their sealed numbers and words go with them; other
//! jobs wait, such as deletions at the provider held for its credentials) and
//! provider-event records after the call retention,
//! the caller of each appointment booked and visited before the call horizon (moved to a stand-in
//! key, the appointment and its verdict kept),
//! dead letters after 30 days (their sealed numbers and texts with them), expired refresh tokens,
//! used or expired invitations, the clinic's numbers it stopped using after they were held back
//! for it ([`phone_lines::HELD_BACK_DAYS`]), and, deployment-wide, expired sign-up requests. The
//! phone provider's own records of the purged calls and texts are queued, batch by batch, to be
//! deleted there too ([`ForgetProviderRecords`](crate::jobs::ForgetProviderRecords); reported as
//! the kind `provider_records`, which a dry run does not count). A clinic in `strict` privacy mode has
//! them deleted early: each purge queues those of calls and texts more than a day old that no
//! purge queued before ([`forget_strict_clinics_records`]).
//!
//! Rows go oldest first in batches of [`BATCH_ROWS`], each batch its own transaction followed by
//! a rest as long as it took, so a clinic with a million calls never holds one long transaction
//! and leaves the API at least half the database (see `benches/purge.rs` for the rate and what
//! it costs the API meanwhile).
//!
//! Purging calls never changes a figure: the stale daily figures the purged calls feed are
//! recomputed first and then frozen (see `metrics::first_open_day`), and appointments booked too
//! soon after the horizon to see all their calls keep their verdict, value and reason; their link
//! to the purged call is cleared, as is a text-back message's.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use ringback_core::clock::Clock;
use ringback_core::error::DomainError;
use ringback_core::outbox::{CANCELLED, DEAD, DONE, PENDING};
use ringback_core::schedule;
use ringback_core::tenant::{ClinicOwned, TenantScope, TenantTxn};
use ringback_entity::{
    ai_step, appointment, attribution, call, clinic, conversation, invite, job_outbox, message,
    notification, password_reset, processed_webhook, provider_number, refresh_token,
    sign_up_request, worklist_dismissal,
};
use ringback_shared::attribution::RecoveryTouchKind;
use ringback_shared::caller_key::{ANONYMOUS_PREFIX, anonymous_key};
use ringback_shared::metrics::{local_day, local_day_bounds_utc};
use ringback_shared::retention::DEAD_LETTER_DAYS;
use sea_orm::sea_query::{Expr, Query, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::jobs::{TEXT_JOBS, forget_provider_records};
use crate::service::audit::{self, AuditEvent};
use crate::service::clinic::{self as clinic_settings, STRICT_MODE};
use crate::service::{metrics, phone_lines};

/// Clinics visited per page of a purge.
const CLINICS_PER_PAGE: u32 = 100;
/// Rows deleted per transaction.
pub const BATCH_ROWS: u64 = 5_000;

/// Rows of one kind a purge removed (or, on a dry run, would remove).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub kind: &'static str,
    pub rows: u64,
    pub oldest: Option<DateTime<Utc>>,
    pub newest: Option<DateTime<Utc>>,
}

/// What a purge did in one clinic.
#[derive(Clone, Debug)]
pub struct ClinicPurge {
    pub clinic_id: Uuid,
    pub purged: Vec<Purged>,
}

/// What a whole purge did.
#[derive(Clone, Debug, Default)]
pub struct PurgeReport {
    pub clinics: Vec<ClinicPurge>,
    /// Clinics whose purge failed (logged; the next run tries again): one clinic's failure holds
    /// back no other's purge.
    pub failed: Vec<Uuid>,
    /// Expired sign-up requests (deployment-wide).
    pub sign_up_requests: u64,
    /// Expired password-reset links (deployment-wide).
    pub password_resets: u64,
}

/// The days `clinic` keeps call-related data: its own choice, never above the maximum.
pub fn call_retention(clinic: &clinic::Model) -> Duration {
    Duration::days(i64::from(clinic_settings::retention_of(clinic).call_days()))
}

/// The days `clinic` keeps conversations and messages (strict mode: no longer than calls).
pub fn conversation_retention(clinic: &clinic::Model) -> Duration {
    Duration::days(i64::from(
        clinic_settings::retention_of(clinic).conversation_days(),
    ))
}

/// Counts (and unless `dry_run` deletes) the clinic's rows of `E` matching `condition`, with their
/// date range in column `at`. Rows go oldest first, at most [`BATCH_ROWS`] per transaction, so a
/// big clinic's purge never holds one long transaction, with a rest after each batch as long as
/// the batch took.
async fn sweep<E>(
    scope: &TenantScope,
    kind: &'static str,
    condition_at: (SimpleExpr, E::Column),
    dry_run: bool,
) -> Result<Purged, DomainError>
where
    E: ClinicOwned,
    E::Model: Sync,
{
    let swept = sweep_forgetting::<E>(scope, kind, condition_at, (dry_run, AtProvider::Nothing));
    Ok(swept.await?.0)
}

/// Which of the phone provider's records the rows of a kind name (deleted there with them).
#[derive(Clone, Copy, PartialEq, Eq)]
enum AtProvider {
    Nothing,
    /// Rows of `calls`: the calls that came through Twilio.
    Calls,
    /// Rows of `messages`: the texts Twilio carried.
    Texts,
}

impl AtProvider {
    /// Queues, in `txn`, the deletion at the provider of the records named by the rows matching
    /// `batch`; how many were queued.
    async fn queue(self, txn: &TenantTxn, batch: &SimpleExpr) -> Result<u64, DomainError> {
        let (calls, texts) = match self {
            Self::Nothing => return Ok(0),
            Self::Calls => (
                forget_provider_records::call_ids(txn, batch.clone()).await?,
                Vec::new(),
            ),
            Self::Texts => (
                Vec::new(),
                forget_provider_records::message_ids(txn, batch.clone()).await?,
            ),
        };
        forget_provider_records::queue(txn, calls, texts, txn.now()).await
    }
}

/// [`sweep`], also queuing (unless `dry_run`) the deletion of the provider's records the deleted
/// rows name, batch by batch in the transaction that deletes them; with how many were queued.
async fn sweep_forgetting<E>(
    scope: &TenantScope,
    kind: &'static str,
    (condition, at): (SimpleExpr, E::Column),
    (dry_run, at_provider): (bool, AtProvider),
) -> Result<(Purged, u64), DomainError>
where
    E: ClinicOwned,
    E::Model: Sync,
{
    let txn = scope.begin().await?;
    let Found {
        oldest,
        newest,
        counted,
    } = found::<E>(&txn, &condition, at, dry_run).await?;
    txn.commit().await?;
    let (rows, queued) = match oldest {
        Some(_) if !dry_run => delete_in_batches::<E>(scope, &condition, at, at_provider).await?,
        _ => (counted, 0),
    };
    let purged = Purged {
        kind,
        rows,
        oldest,
        newest,
    };
    Ok((purged, queued))
}

/// What a purge finds of one kind before it removes anything: the range of its dates and, for a
/// dry run, how many rows.
struct Found {
    oldest: Option<DateTime<Utc>>,
    newest: Option<DateTime<Utc>>,
    /// Counted for a dry run only (0 otherwise).
    counted: u64,
}

/// The clinic's rows of `E` matching `condition`: the ends of their range in column `at` (read
/// from its index, not from every row) and, when `dry_run`, their count.
async fn found<E>(
    txn: &TenantTxn,
    condition: &SimpleExpr,
    at: E::Column,
    dry_run: bool,
) -> Result<Found, DomainError>
where
    E: ClinicOwned,
    E::Model: Sync,
{
    let end = async |ascending: bool| -> Result<Option<DateTime<Utc>>, DomainError> {
        let query = txn
            .find::<E>()
            .filter(condition.clone())
            .select_only()
            .column(at);
        let query = if ascending {
            query.order_by_asc(at)
        } else {
            query.order_by_desc(at)
        };
        Ok(query.limit(1).into_tuple().one(txn.conn()).await?)
    };
    let (oldest, newest) = (end(true).await?, end(false).await?);
    let counted = if dry_run && oldest.is_some() {
        use sea_orm::PaginatorTrait;
        txn.find::<E>()
            .filter(condition.clone())
            .count(txn.conn())
            .await?
    } else {
        0
    };
    Ok(Found {
        oldest,
        newest,
        counted,
    })
}

/// Deletes the clinic's rows of `E` matching `condition`, oldest (by `at`) first, a batch per
/// transaction, queuing in each the deletion of the provider's records its rows name; how many
/// rows went and how many records were queued.
async fn delete_in_batches<E>(
    scope: &TenantScope,
    condition: &SimpleExpr,
    at: E::Column,
    at_provider: AtProvider,
) -> Result<(u64, u64), DomainError>
where
    E: ClinicOwned,
{
    let (mut deleted, mut queued) = (0, 0);
    loop {
        let started = std::time::Instant::now();
        let txn = scope.begin().await?;
        // The batch ends at the date of its last row (rows sharing that date go with it).
        let last_of_batch: Option<DateTime<Utc>> = txn
            .find::<E>()
            .filter(condition.clone())
            .select_only()
            .column(at)
            .order_by_asc(at)
            .offset(BATCH_ROWS - 1)
            .limit(1)
            .into_tuple()
            .one(txn.conn())
            .await?;
        let batch = match last_of_batch {
            Some(last) => condition.clone().and(at.lte(last)),
            None => condition.clone(),
        };
        queued += at_provider.queue(&txn, &batch).await?;
        deleted += txn
            .delete_many::<E>()
            .filter(batch)
            .exec(txn.conn())
            .await?
            .rows_affected;
        txn.commit().await?;
        if last_of_batch.is_none() {
            return Ok((deleted, queued));
        }
        ringback_core::db::rest_after_batch(started).await;
    }
}

/// Purges the clinic `scope` opens at its clock's now; what was (or would be) removed, kind by
/// kind. The figures are frozen first, in a transaction of their own; each kind is then swept in
/// batches; the audit entry comes last, and a purge cut short by a failure still leaves one: what
/// it removed before it stopped, marked `interrupted` (the clinic's last purge time unchanged).
pub async fn purge_clinic(scope: &TenantScope, dry_run: bool) -> Result<Vec<Purged>, DomainError> {
    let txn = scope.begin().await?;
    let now = txn.now();
    let settings = clinic_settings::get(&txn).await?;
    let horizon = call_horizon(&settings, now)?;
    if !dry_run {
        freeze_before(&txn, &settings, Horizons::at(&settings, horizon, now)).await?;
    }
    txn.commit().await?;
    let mut progress = Progress::default();
    let swept = sweep_everything(scope, (&settings, now, horizon), dry_run, &mut progress).await;
    if dry_run {
        return swept.map(|()| progress.kinds);
    }
    if let Err(error) = swept {
        if let Err(unrecorded) = record_interruption(scope, &progress).await {
            tracing::warn!(error = %unrecorded, "could not record a purge cut short");
        }
        return Err(error);
    }
    let txn = scope.begin().await?;
    let settings = clinic_settings::get(&txn).await?;
    record_run(&txn, settings, &progress.kinds).await?;
    txn.commit().await?;
    Ok(progress.kinds)
}

/// How far a purge got: the kinds swept so far, and the provider records queued with them.
#[derive(Default)]
struct Progress {
    kinds: Vec<Purged>,
    provider_records: u64,
}

/// Sweeps every kind of the clinic's data that outlived its retention (see the module doc) in
/// order, adding each to `progress` as it finishes: a sweep that fails leaves those before it on
/// record.
async fn sweep_everything(
    scope: &TenantScope,
    (settings, now, horizon): (&clinic::Model, DateTime<Utc>, DateTime<Utc>),
    dry_run: bool,
    progress: &mut Progress,
) -> Result<(), DomainError> {
    let calls_before = now - call_retention(settings);
    let dead_before = now - Duration::days(i64::from(DEAD_LETTER_DAYS));
    let conversations_before = now - conversation_retention(settings);
    let (calls, call_records) = sweep_forgetting::<call::Entity>(
        scope,
        "calls",
        (call::Column::StartedAt.lt(horizon), call::Column::StartedAt),
        (dry_run, AtProvider::Calls),
    )
    .await?;
    progress.kinds.push(calls);
    progress.provider_records += call_records;
    progress.kinds.push(
        sweep::<worklist_dismissal::Entity>(
            scope,
            "worklist_dismissals",
            (
                worklist_dismissal::Column::DismissedAt.lt(horizon),
                worklist_dismissal::Column::DismissedAt,
            ),
            dry_run,
        )
        .await?,
    );
    let (messages, text_records) = sweep_forgetting::<message::Entity>(
        scope,
        "messages",
        (
            message::Column::CreatedAt.lt(conversations_before),
            message::Column::CreatedAt,
        ),
        (dry_run, AtProvider::Texts),
    )
    .await?;
    progress.kinds.push(messages);
    progress.provider_records += text_records;
    if !dry_run && settings.privacy_mode == STRICT_MODE {
        // Whole seconds: the mark stores what both databases keep exactly.
        let until = (now - Duration::days(STRICT_PROVIDER_DAYS)).trunc_subsecs(0);
        progress.provider_records += forget_strict_clinics_records(scope, horizon, until).await?;
    }
    progress.kinds.push(Purged {
        kind: "provider_records",
        rows: progress.provider_records,
        oldest: None,
        newest: None,
    });
    progress.kinds.push(
        sweep::<ai_step::Entity>(
            scope,
            "ai_steps",
            (
                ai_step::Column::CreatedAt.lt(conversations_before),
                ai_step::Column::CreatedAt,
            ),
            dry_run,
        )
        .await?,
    );
    progress.kinds.push(
        sweep::<notification::Entity>(
            scope,
            "notifications",
            (
                notification::Column::CreatedAt.lt(conversations_before),
                notification::Column::CreatedAt,
            ),
            dry_run,
        )
        .await?,
    );
    progress.kinds.push(
        sweep::<conversation::Entity>(
            scope,
            "conversations",
            (
                conversation::Column::LastMessageAt.lt(conversations_before),
                conversation::Column::LastMessageAt,
            ),
            dry_run,
        )
        .await?,
    );
    progress
        .kinds
        .push(forget_call_numbers(scope, conversations_before, dry_run).await?);
    progress
        .kinds
        .push(forget_appointment_callers(scope, horizon, dry_run).await?);
    progress.kinds.push(
        sweep::<job_outbox::Entity>(
            scope,
            "dead_letters",
            (
                job_outbox::Column::Status
                    .eq(DEAD)
                    .and(job_outbox::Column::UpdatedAt.lt(dead_before)),
                job_outbox::Column::UpdatedAt,
            ),
            dry_run,
        )
        .await?,
    );
    progress.kinds.push(
        sweep::<job_outbox::Entity>(
            scope,
            "stuck_texts",
            (
                job_outbox::Column::Status
                    .eq(PENDING)
                    .and(job_outbox::Column::Kind.is_in(TEXT_JOBS))
                    .and(job_outbox::Column::RunAt.lt(calls_before)),
                job_outbox::Column::RunAt,
            ),
            dry_run,
        )
        .await?,
    );
    progress.kinds.push(
        sweep::<job_outbox::Entity>(
            scope,
            "finished_jobs",
            (
                job_outbox::Column::Status
                    .is_in([DONE, CANCELLED])
                    .and(job_outbox::Column::UpdatedAt.lt(calls_before)),
                job_outbox::Column::UpdatedAt,
            ),
            dry_run,
        )
        .await?,
    );
    progress.kinds.push(
        sweep::<processed_webhook::Entity>(
            scope,
            "provider_event_records",
            (
                processed_webhook::Column::ReceivedAt.lt(calls_before),
                processed_webhook::Column::ReceivedAt,
            ),
            dry_run,
        )
        .await?,
    );
    progress.kinds.push(
        sweep::<refresh_token::Entity>(
            scope,
            "expired_refresh_tokens",
            (
                refresh_token::Column::ExpiresAt.lt(now),
                refresh_token::Column::ExpiresAt,
            ),
            dry_run,
        )
        .await?,
    );
    progress.kinds.push(
        sweep::<invite::Entity>(
            scope,
            "used_or_expired_invitations",
            (
                invite::Column::AcceptedAt
                    .is_not_null()
                    .or(invite::Column::ExpiresAt.lt(now)),
                invite::Column::CreatedAt,
            ),
            dry_run,
        )
        .await?,
    );
    let held_back_before = now - Duration::days(phone_lines::HELD_BACK_DAYS);
    progress.kinds.push(
        sweep::<provider_number::Entity>(
            scope,
            "stopped_numbers",
            (
                provider_number::Column::StoppedAt.lt(held_back_before),
                provider_number::Column::StoppedAt,
            ),
            dry_run,
        )
        .await?,
    );
    Ok(())
}

/// How long a `strict` clinic's records stay at the provider: long enough for every text whose
/// outcome was in doubt to have been looked up there.
pub const STRICT_PROVIDER_DAYS: i64 = 1;

/// Queues the deletion at the provider of a `strict` clinic's calls and texts from before `until`
/// ([`STRICT_PROVIDER_DAYS`] before the purge) that no purge queued before (from where the last
/// one stopped, or from the call horizon `horizon`, before which the calls' own purge queues
/// them): a day's worth per transaction, each moving the clinic's mark on. How many records were
/// queued.
async fn forget_strict_clinics_records(
    scope: &TenantScope,
    horizon: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<u64, DomainError> {
    let txn = scope.begin().await?;
    let mark = clinic_settings::get(&txn)
        .await?
        .provider_records_forgotten_before;
    txn.commit().await?;
    let mut from = mark.map_or(horizon, |mark| std::cmp::max(mark, horizon));
    let mut queued = 0;
    while from < until {
        let to = std::cmp::min(from + Duration::days(1), until);
        let txn = scope.begin().await?;
        let calls = call::Column::StartedAt
            .gte(from)
            .and(call::Column::StartedAt.lt(to));
        let texts = message::Column::CreatedAt
            .gte(from)
            .and(message::Column::CreatedAt.lt(to));
        let calls = forget_provider_records::call_ids(&txn, calls).await?;
        let texts = forget_provider_records::message_ids(&txn, texts).await?;
        queued += forget_provider_records::queue(&txn, calls, texts, txn.now()).await?;
        let mut marked: clinic::ActiveModel = clinic_settings::get(&txn).await?.into();
        marked.provider_records_forgotten_before = Set(Some(to));
        marked.update(txn.conn()).await?;
        txn.commit().await?;
        from = to;
    }
    Ok(queued)
}

/// Destroys the sealed numbers of calls older than `before` (the conversation retention's
/// horizon) that are kept while the calls stay: a number is kept for callbacks and conversations
/// no longer than the conversation retention, which may be shorter than the calls'. One
/// statement (a day's calls, run daily); reported as the kind `call_numbers`.
async fn forget_call_numbers(
    scope: &TenantScope,
    before: DateTime<Utc>,
    dry_run: bool,
) -> Result<Purged, DomainError> {
    let kept = || {
        call::Column::NumberSealed
            .is_not_null()
            .and(call::Column::StartedAt.lt(before))
    };
    let txn = scope.begin().await?;
    let Found {
        oldest,
        newest,
        counted,
    } = found::<call::Entity>(&txn, &kept(), call::Column::StartedAt, dry_run).await?;
    let rows = if dry_run {
        counted
    } else {
        txn.update_many::<call::Entity>()
            .col_expr(call::Column::NumberSealed, Expr::value(None::<Vec<u8>>))
            .filter(kept())
            .exec(txn.conn())
            .await?
            .rows_affected
    };
    txn.commit().await?;
    Ok(Purged {
        kind: "call_numbers",
        rows,
        oldest,
        newest,
    })
}

/// Unlinks from their callers the appointments booked, and to be visited, before `before` (the
/// call horizon): each moves to a stand-in key of its own, derived from nothing about the caller,
/// so nobody's number finds it any more. Their verdict, value and reason stay (a verdict from
/// before the horizon is frozen: see `freeze_before`), and so do the figures; a booking for a
/// visit still to come keeps its caller until the visit is past the horizon too. Reported as the
/// kind `appointment_callers`; batches of [`UNLINK_BATCH_ROWS`], one statement per appointment
/// (each its own stand-in).
async fn forget_appointment_callers(
    scope: &TenantScope,
    before: DateTime<Utc>,
    dry_run: bool,
) -> Result<Purged, DomainError> {
    let linked = || {
        appointment::Column::CreatedAt
            .lt(before)
            .and(
                appointment::Column::StartsAt
                    .is_null()
                    .or(appointment::Column::StartsAt.lt(before)),
            )
            .and(appointment::Column::CallerKey.not_like(format!("{ANONYMOUS_PREFIX}%")))
    };
    let txn = scope.begin().await?;
    let Found {
        oldest,
        newest,
        counted,
    } = found::<appointment::Entity>(&txn, &linked(), appointment::Column::CreatedAt, dry_run)
        .await?;
    txn.commit().await?;
    let rows = match oldest {
        Some(_) if !dry_run => unlink_in_batches(scope, &linked()).await?,
        _ => counted,
    };
    Ok(Purged {
        kind: "appointment_callers",
        rows,
        oldest,
        newest,
    })
}

/// Appointments unlinked per transaction: a statement each, so fewer than rows deleted per batch,
/// and the transaction stays short beside the webhooks that write meanwhile.
const UNLINK_BATCH_ROWS: u64 = 500;

/// Moves the clinic's appointments matching `linked` to stand-in keys, oldest first, a batch
/// per transaction; how many moved. Each update checks `linked` again (a visit moved later since
/// the batch was read keeps its caller).
async fn unlink_in_batches(scope: &TenantScope, linked: &SimpleExpr) -> Result<u64, DomainError> {
    let mut unlinked = 0;
    loop {
        let started = std::time::Instant::now();
        let txn = scope.begin().await?;
        let batch: Vec<Uuid> = txn
            .find::<appointment::Entity>()
            .filter(linked.clone())
            .select_only()
            .column(appointment::Column::Id)
            .order_by_asc(appointment::Column::CreatedAt)
            .limit(UNLINK_BATCH_ROWS)
            .into_tuple()
            .all(txn.conn())
            .await?;
        for id in &batch {
            unlinked += txn
                .update_many::<appointment::Entity>()
                .col_expr(
                    appointment::Column::CallerKey,
                    Expr::value(anonymous_key(Uuid::new_v4())),
                )
                .filter(linked.clone().and(appointment::Column::Id.eq(*id)))
                .exec(txn.conn())
                .await?
                .rows_affected;
        }
        txn.commit().await?;
        if (batch.len() as u64) < UNLINK_BATCH_ROWS {
            return Ok(unlinked);
        }
        ringback_core::db::rest_after_batch(started).await;
    }
}

/// The start of the clinic-local day the call retention reaches back to at `now`: calls before it
/// are purged.
fn call_horizon(
    settings: &clinic::Model,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, DomainError> {
    let zone = crate::service::clinic::time_zone(settings)?;
    let day = local_day(now - call_retention(settings), zone);
    local_day_bounds_utc(day, zone)
        .map(|bounds| bounds.start)
        .map_err(|e| DomainError::Internal(e.to_string()))
}

/// How far back a purge reaches.
struct Horizons {
    /// Calls from before it go.
    calls: DateTime<Utc>,
    /// Rows the figures and verdicts are computed from go before it: calls, and text-backs and
    /// replies past the conversation retention (when that is the shorter one, it reaches less far
    /// back), so figures and verdicts from before it are frozen.
    frozen: DateTime<Utc>,
}

impl Horizons {
    /// The horizons of a purge at `now` whose calls go before `calls`.
    fn at(settings: &clinic::Model, calls: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        let texts = now - conversation_retention(settings);
        Self {
            calls,
            frozen: Ord::max(calls, texts),
        }
    }
}

/// Before rows from before `horizons` go: settles and freezes the figures and verdicts they feed,
/// records how far back they are frozen, and clears the links to purged calls from verdicts and
/// messages: only links still set are written (verdicts are kept for ever, so clearing every old
/// one again would rewrite the clinic's whole history each day). The clinic row is taken first,
/// as every writer takes it, so the verdicts' row locks never come before it.
async fn freeze_before(
    txn: &TenantTxn,
    settings: &clinic::Model,
    horizons: Horizons,
) -> Result<(), DomainError> {
    let zone = crate::service::clinic::time_zone(settings)?;
    metrics::settle_before(txn, metrics::first_open_day(horizons.frozen, zone)).await?;
    let frozen = settings
        .calls_purged_before
        .map_or(horizons.frozen, |earlier| {
            Ord::max(earlier, horizons.frozen)
        });
    let mut model: clinic::ActiveModel = settings.clone().into();
    model.calls_purged_before = Set(Some(frozen));
    model.update(txn.conn()).await?;
    let horizon = horizons.calls;
    txn.update_many::<attribution::Entity>()
        .col_expr(
            attribution::Column::MissedCallId,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(attribution::Column::MissedCallId.is_not_null())
        .filter(attribution::Column::MissedCallAt.lt(horizon))
        .exec(txn.conn())
        .await?;
    txn.update_many::<attribution::Entity>()
        .col_expr(
            attribution::Column::TouchId,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(attribution::Column::TouchId.is_not_null())
        .filter(attribution::Column::TouchAt.lt(horizon))
        .exec(txn.conn())
        .await?;
    // The replies a shorter conversation retention purges: their verdicts keep the reply's time,
    // not a link to nothing.
    txn.update_many::<attribution::Entity>()
        .col_expr(
            attribution::Column::TouchId,
            Expr::value(Option::<Uuid>::None),
        )
        .filter(attribution::Column::TouchId.is_not_null())
        .filter(attribution::Column::TouchKind.eq(RecoveryTouchKind::TextReply.as_str()))
        .filter(attribution::Column::TouchAt.lt(horizons.frozen))
        .exec(txn.conn())
        .await?;
    let purged_calls = Query::select()
        .column(call::Column::Id)
        .from(call::Entity)
        .and_where(call::Column::ClinicId.eq(txn.clinic_id()))
        .and_where(call::Column::StartedAt.lt(horizon))
        .to_owned();
    // A text-back is written within minutes of its call: only messages from before the day after
    // the horizon can point to a purged call (so the database looks at those few, not every call).
    txn.update_many::<message::Entity>()
        .col_expr(message::Column::CallId, Expr::value(Option::<Uuid>::None))
        .filter(message::Column::CallId.is_not_null())
        .filter(message::Column::CreatedAt.lt(horizon + Duration::days(1)))
        .filter(message::Column::CallId.in_subquery(purged_calls))
        .exec(txn.conn())
        .await?;
    Ok(())
}

/// The audit entry of a purge run, and the clinic's time of its last purge.
async fn record_run(
    txn: &TenantTxn,
    settings: clinic::Model,
    kinds: &[Purged],
) -> Result<(), DomainError> {
    audit::append(
        txn,
        AuditEvent {
            actor: None,
            action: "retention.purged",
            detail: json!({ "removed": kinds }),
        },
    )
    .await?;
    let mut model: clinic::ActiveModel = settings.into();
    model.last_purge_at = Set(Some(txn.now()));
    model.update(txn.conn()).await?;
    Ok(())
}

/// The audit entry of a purge cut short: the kinds it finished and the provider records it queued
/// before the failure (which the log names; the entry holds no error text, which could quote data).
async fn record_interruption(scope: &TenantScope, progress: &Progress) -> Result<(), DomainError> {
    let txn = scope.begin().await?;
    audit::append(
        &txn,
        AuditEvent {
            actor: None,
            action: "retention.purged",
            detail: json!({
                "removed": progress.kinds,
                "provider_records_queued": progress.provider_records,
                "interrupted": true,
            }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Purges every clinic, a page of clinics at a time, each through the audited operator door (a
/// clinic whose purge fails is counted in the report and the others go on), then the
/// deployment's expired sign-up requests and password resets.
pub async fn purge_all(
    db: &DatabaseConnection,
    clock: &Clock,
    dry_run: bool,
) -> Result<PurgeReport, DomainError> {
    let mut report = PurgeReport::default();
    let mut after = None;
    loop {
        let page = schedule::clinic_page(db, after, CLINICS_PER_PAGE).await?;
        let Some(last) = page.last().copied() else {
            break;
        };
        for clinic_id in page {
            match purge_one(db, clock, clinic_id, dry_run).await {
                Ok(purged) => report.clinics.push(ClinicPurge { clinic_id, purged }),
                Err(error) => {
                    tracing::warn!(clinic = %clinic_id, %error, "a clinic's purge failed; the next run tries again");
                    report.failed.push(clinic_id);
                }
            }
        }
        after = Some(last);
    }
    let now = clock.now();
    report.sign_up_requests = purge_expired::<sign_up_request::Entity>(
        db,
        sign_up_request::Column::ExpiresAt,
        now,
        dry_run,
    )
    .await?;
    report.password_resets = purge_expired::<password_reset::Entity>(
        db,
        password_reset::Column::ExpiresAt,
        now,
        dry_run,
    )
    .await?;
    Ok(report)
}

/// Purges clinic `clinic_id` through the audited operator door.
async fn purge_one(
    db: &DatabaseConnection,
    clock: &Clock,
    clinic_id: Uuid,
    dry_run: bool,
) -> Result<Vec<Purged>, DomainError> {
    let scope =
        TenantScope::for_operator(db.clone(), clock.clone(), clinic_id, "retention purge").await?;
    purge_clinic(&scope, dry_run).await
}

/// Expired rows of a deployment-wide table of one-time links: sign-up requests hold an address
/// and a password hash until confirmed, password resets an address.
async fn purge_expired<E: EntityTrait>(
    db: &DatabaseConnection,
    expires_at: E::Column,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<u64, DomainError>
where
    E::Model: Sync,
{
    if dry_run {
        use sea_orm::PaginatorTrait;
        return Ok(E::find().filter(expires_at.lt(now)).count(db).await?);
    }
    Ok(E::delete_many()
        .filter(expires_at.lt(now))
        .exec(db)
        .await?
        .rows_affected)
}
