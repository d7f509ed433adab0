//! Queuing the text-back a missed call owes, in the same transaction as the call: the shared rule
//! decides (switch, opt-out, landline, freshness, one per caller per 24 hours); the decision is
//! recorded on the call either way; a queued job carries the number sealed with the clinic's data
//! key and an idempotency key, so a crash or a retry never sends twice.

use chrono::{DateTime, Duration, Utc};
use ringback_entity::{call, clinic, job_outbox};
use ringback_shared::text_back::{MissedCallFacts, decide};
use ringback_shared::{phone, sms};
use sea_orm::{ActiveModelTrait, ColumnTrait, PaginatorTrait, QueryFilter, Set};

use uuid::Uuid;

use crate::jobs::{TEXT_JOBS, TextBack};
use ringback_core::outbox::{self, NewJob};

use crate::service::billing::{self, BillingSettings};
use crate::service::callers::KeyedCaller;
use crate::service::usage::{self, Gate};
use crate::service::{clinic as clinic_settings, keys, opt_outs};
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;

/// Status recorded on a call whose text-back is queued.
pub const QUEUED: &str = "queued";

/// Whether `caller_key` had a text-back queued or sent in the 24 hours before `now`.
async fn texted_in_last_day(
    txn: &TenantTxn,
    caller_key: &str,
    except: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DomainError> {
    let recent = txn
        .find::<call::Entity>()
        .filter(call::Column::CallerKey.eq(caller_key))
        .filter(call::Column::Id.ne(except))
        .filter(call::Column::TextBackStatus.is_in([QUEUED, "sending", "sent", "delivered"]))
        .filter(call::Column::StartedAt.gte(now - Duration::hours(24)))
        .count(txn.conn())
        .await?;
    Ok(recent > 0)
}

/// The text-back statuses of calls whose text went, or is on its way: what the clinic's own cap
/// counts (held back, skipped and failed ones cost nothing).
const USES_THE_CAP: [&str; 5] = [QUEUED, "sending", "sent", "delivered", "undelivered"];

/// Whether the clinic has used the monthly cap it set itself (text-backs of calls since the
/// start of the clinic's local calendar month that went or are on their way): with billing off only, since
/// with billing on the plan owns the allowance.
async fn over_own_cap(
    txn: &TenantTxn,
    settings: &clinic::Model,
    now: DateTime<Utc>,
) -> Result<bool, DomainError> {
    let Some(quota) = settings.sms_monthly_quota else {
        return Ok(false);
    };
    let used = txn
        .find::<call::Entity>()
        .filter(call::Column::StartedAt.gte(clinic_settings::month_start(settings, now)?))
        .filter(call::Column::TextBackStatus.is_in(USES_THE_CAP))
        .count(txn.conn())
        .await?;
    Ok(used >= u64::try_from(quota).unwrap_or(0))
}

/// What billing says about an automated text of `segments` now: with billing off, only the
/// clinic's own cap.
async fn billing_gate(
    txn: &TenantTxn,
    billing: Option<&BillingSettings>,
    settings: &clinic::Model,
    segments: u64,
    now: DateTime<Utc>,
) -> Result<Gate, DomainError> {
    match billing {
        Some(billing) => usage::text_back_gate(txn, billing, settings, segments, now).await,
        None if over_own_cap(txn, settings, now).await? => Ok(Gate::OverAllowance),
        None => Ok(Gate::Open),
    }
}

/// Why the AI's automated texts (its answers and follow-ups) are held back now, if they are: the
/// gate a text-back passes (billing's, or with billing off the clinic's own cap), for a text of one
/// segment. Staff replies are never held by it. Takes the clinic's lock when the plan bills no
/// overage: call it after the rows the caller writes are locked.
pub async fn automated_text_held(
    txn: &TenantTxn,
    billing: Option<&BillingSettings>,
) -> Result<Option<&'static str>, DomainError> {
    let settings = clinic_settings::get(txn).await?;
    Ok(
        match billing_gate(txn, billing, &settings, 1, txn.now()).await? {
            Gate::Open => None,
            Gate::Stopped => Some("billing stopped the clinic's automated texts"),
            Gate::OverAllowance => Some("the plan's texts for this period are used up"),
        },
    )
}

/// Whether billing stops the clinic's automated texts now (a trial over, a subscription ended or
/// unpaid past its grace): checked again as each text-back or AI text goes out, without a lock
/// (the allowance was decided when it was queued).
pub async fn billing_stops_texts(
    txn: &TenantTxn,
    billing: Option<&BillingSettings>,
) -> Result<bool, DomainError> {
    let Some(billing) = billing else {
        return Ok(false);
    };
    let settings = clinic_settings::get(txn).await?;
    Ok(!billing::view(&settings, billing, txn.now())
        .entitlement
        .may_text())
}

/// Texts a clinic sends per rolling 24 hours unless it sets its own limit.
pub const DEFAULT_DAILY_TEXTS: i32 = 200;
/// Texts the calls one API key reports may cause per rolling 24 hours.
pub const API_KEY_DAILY_TEXTS: u64 = 50;

/// Whether the clinic, or the API key acting in `txn`, has queued its texts for the 24 hours
/// before `now`: those sent or still to go (one cancelled before it went, the caller reached
/// or opted out meanwhile, is no text).
pub async fn over_daily_limit(
    txn: &TenantTxn,
    settings: &clinic::Model,
    now: DateTime<Utc>,
) -> Result<bool, DomainError> {
    let since = now - Duration::hours(24);
    let texts = || {
        txn.find::<job_outbox::Entity>()
            .filter(job_outbox::Column::Kind.is_in(TEXT_JOBS))
            .filter(job_outbox::Column::CreatedAt.gte(since))
            .filter(job_outbox::Column::Status.ne(outbox::CANCELLED))
    };
    let limit = settings.sms_daily_limit.unwrap_or(DEFAULT_DAILY_TEXTS);
    if texts().count(txn.conn()).await? >= u64::try_from(limit).unwrap_or(0) {
        return Ok(true);
    }
    let Some(key) = txn.api_key() else {
        return Ok(false);
    };
    let by_key = texts()
        .filter(job_outbox::Column::ApiKeyId.eq(key))
        .count(txn.conn())
        .await?;
    Ok(by_key >= API_KEY_DAILY_TEXTS)
}

/// Whether the clinic texts numbers of `region`: those of its own region, or of the regions it
/// listed (the UK's taking in the Crown Dependencies: [`phone::texts_numbers_of`]).
pub fn texts_region(settings: &clinic::Model, region: Option<&str>) -> bool {
    region.is_some_and(|region| {
        clinic_settings::texted_regions(settings)
            .iter()
            .any(|allowed| phone::texts_numbers_of(allowed, region))
    })
}

/// What the text-back rule needs to know about `missed` now.
async fn facts_now(
    txn: &TenantTxn,
    (billing, settings): (Option<&BillingSettings>, &clinic::Model),
    missed: &call::Model,
    caller: &KeyedCaller,
    (text, now): (&str, DateTime<Utc>),
) -> Result<MissedCallFacts, DomainError> {
    let segments = u64::try_from(sms::segments(text).count).unwrap_or(u64::MAX);
    let gate = billing_gate(txn, billing, settings, segments, now).await?;
    Ok(MissedCallFacts {
        text_back_enabled: settings.text_back_enabled,
        opted_out: opt_outs::is_opted_out(txn, &missed.caller_key).await?,
        accepts_sms: caller.accepts_sms,
        reported_after: now - missed.started_at,
        texted_in_last_day: texted_in_last_day(txn, &missed.caller_key, missed.id, now).await?,
        billing_stopped: gate == Gate::Stopped,
        over_quota: gate == Gate::OverAllowance,
        in_texted_country: texts_region(settings, caller.region.as_deref()),
        over_daily_limit: over_daily_limit(txn, settings, now).await?,
    })
}

/// Decides and records the text-back for a just-recorded missed call; returns the call as updated.
/// `billing` holds billing's settings when billing is on.
pub async fn after_missed_call(
    txn: &TenantTxn,
    secrets: &Secrets,
    billing: Option<&BillingSettings>,
    settings: &clinic::Model,
    missed: call::Model,
    caller: &KeyedCaller,
    now: DateTime<Utc>,
) -> Result<call::Model, DomainError> {
    let text = clinic_settings::text_back_text(settings, now);
    // One text-back decision at a time per caller: two missed calls of one caller committed side
    // by side would otherwise both be queued (PostgreSQL; SQLite serialises its writers anyway).
    // Taken before the facts are read, and so before the billing gate may take the clinic's lock:
    // the caller's lock, then the clinic's, as every writer takes them.
    txn.lock_caller(&missed.caller_key).await?;
    let facts = facts_now(txn, (billing, settings), &missed, caller, (&text, now)).await?;
    let status = match decide(facts) {
        Ok(()) => {
            let key = keys::data_key(secrets, settings)?;
            let job = NewJob {
                job: TextBack {
                    call: missed.id,
                    caller_key: missed.caller_key.clone(),
                },
                sealed_number: Some(keys::seal_caller_number(
                    &key,
                    txn.clinic_id(),
                    &caller.e164,
                )?),
                body_sealed: Some(keys::seal_message(&key, txn.clinic_id(), &text)?),
                run_at: now + Duration::seconds(i64::from(settings.text_back_delay_seconds)),
            };
            outbox::enqueue(txn, job, now).await?;
            QUEUED
        }
        Err(reason) => reason.status(),
    };
    let mut model: call::ActiveModel = missed.into();
    model.text_back_status = Set(Some(status.to_owned()));
    Ok(model.update(txn.conn()).await?)
}
