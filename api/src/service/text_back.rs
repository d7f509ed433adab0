//! Queuing the text-back a missed call owes, in the same transaction as the call: the shared rule
//! decides (switch, opt-out, landline, freshness, one per caller per 24 hours); the decision is
//! recorded on the call either way; a queued job carries the number sealed with the clinic's data
//! key and an idempotency key, so a crash or a retry never sends twice.

use chrono::{DateTime, Duration, Utc};
use ringback_entity::{call, clinic, job_outbox};
use ringback_shared::text_back::{MissedCallFacts, decide};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

use crate::error::ApiError;
use crate::secrets::Secrets;
use crate::service::callers::KeyedCaller;
use crate::service::{db_error, keys, opt_outs};
use crate::tenant::TenantTxn;

/// Job kind of a text-back.
pub const JOB_KIND: &str = "text_back";
/// Status recorded on a call whose text-back is queued.
pub const QUEUED: &str = "queued";

/// Whether `caller_key` had a text-back queued or sent in the 24 hours before `now`.
async fn texted_in_last_day(
    txn: &TenantTxn,
    caller_key: &str,
    except: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let recent = call::Entity::find()
        .filter(call::Column::ClinicId.eq(txn.clinic_id()))
        .filter(call::Column::CallerKey.eq(caller_key))
        .filter(call::Column::Id.ne(except))
        .filter(call::Column::TextBackStatus.is_in([QUEUED, "sent", "delivered"]))
        .filter(call::Column::StartedAt.gte(now - Duration::hours(24)))
        .count(txn.conn())
        .await
        .map_err(db_error)?;
    Ok(recent > 0)
}

/// Decides and records the text-back for a just-recorded missed call; returns the call as updated.
pub async fn after_missed_call(
    txn: &TenantTxn,
    secrets: &Secrets,
    settings: &clinic::Model,
    missed: call::Model,
    caller: &KeyedCaller,
    now: DateTime<Utc>,
) -> Result<call::Model, ApiError> {
    let facts = MissedCallFacts {
        text_back_enabled: settings.text_back_enabled,
        opted_out: opt_outs::is_opted_out(txn, &missed.caller_key).await?,
        accepts_sms: caller.accepts_sms,
        reported_after: now - missed.started_at,
        texted_in_last_day: texted_in_last_day(txn, &missed.caller_key, missed.id, now).await?,
    };
    let status = match decide(facts) {
        Ok(()) => {
            let key = keys::data_key(
                secrets,
                txn.clinic_id(),
                settings.wrapped_data_key.as_deref(),
            )?;
            job_outbox::ActiveModel {
                clinic_id: Set(txn.clinic_id()),
                id: Set(Uuid::now_v7()),
                kind: Set(JOB_KIND.to_owned()),
                idempotency_key: Set(format!("{JOB_KIND}:{}", missed.id)),
                payload: Set(json!({ "call": missed.id })),
                sealed_number: Set(Some(keys::seal_caller_number(
                    &key,
                    txn.clinic_id(),
                    &caller.e164,
                )?)),
                status: Set("pending".to_owned()),
                attempts: Set(0),
                run_at: Set(now + Duration::seconds(i64::from(settings.text_back_delay_seconds))),
                claimed_at: Set(None),
                claimed_by: Set(None),
                last_error: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(txn.conn())
            .await
            .map_err(db_error)?;
            QUEUED
        }
        Err(reason) => reason.status(),
    };
    let mut model: call::ActiveModel = missed.into();
    model.text_back_status = Set(Some(status.to_owned()));
    model.update(txn.conn()).await.map_err(db_error)
}
