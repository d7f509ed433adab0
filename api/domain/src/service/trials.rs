//! When each clinic's free trial starts: when billing first applies to it. A clinic signed up on a
//! server with billing on starts its trial then ([`started_with_sign_up`]); a server starting
//! with billing on starts the trial of every clinic that has none yet ([`start_all`]), so turning
//! billing on for a deployment gives its existing clinics their whole trial from that moment
//! instead of ending it at once for every clinic older than the trial.

use chrono::{DateTime, Utc};
use ringback_core::clock::Clock;
use ringback_core::error::DomainError;
use ringback_core::schedule;
use ringback_core::tenant::TenantScope;
use ringback_entity::clinic;
use ringback_migration::m20261216_110000_add_trial_start::CLINICS_WITHOUT_TRIAL;
use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};
use serde_json::json;
use uuid::Uuid;

use crate::service::audit::{self, AuditEvent};
use crate::service::clinic as clinic_settings;

/// The most clinics read in one page of [`start_all`].
const PAGE: u32 = 500;

/// The trial start a clinic signed up at `now` records: `now` with billing on, none with billing
/// off (its trial starts when a server with billing on first starts).
pub fn started_with_sign_up(billing_on: bool, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    billing_on.then_some(now)
}

/// Starts, at the clock's now, the trial of every clinic that has none (each audited as
/// `billing.trial_started` by the operator); how many were started. A clinic whose trial cannot
/// be started (deleted meanwhile by another server, say) is logged and left for the next start.
pub async fn start_all(db: &DatabaseConnection, clock: &Clock) -> Result<usize, DomainError> {
    let mut started = 0;
    let mut after = None;
    loop {
        let page = without_trial(db, after).await?;
        let Some(last) = page.last().copied() else {
            return Ok(started);
        };
        for clinic_id in page {
            match start_one(db, clock, clinic_id).await {
                Ok(done) => started += usize::from(done),
                Err(error) => {
                    tracing::warn!(clinic = %clinic_id, %error, "a clinic's trial was not started; the next start tries again");
                }
            }
        }
        after = Some(last);
    }
}

/// Up to [`PAGE`] clinics after `after` (in id order) whose trial has not started.
async fn without_trial(
    db: &DatabaseConnection,
    after: Option<Uuid>,
) -> Result<Vec<Uuid>, DomainError> {
    Ok(schedule::clinic_ids(
        db,
        "ringback_clinics_without_trial($1, $2)",
        CLINICS_WITHOUT_TRIAL,
        vec![after.into(), (PAGE as i32).into()],
    )
    .await?)
}

/// Starts clinic `clinic_id`'s trial through the operator's door.
async fn start_one(
    db: &DatabaseConnection,
    clock: &Clock,
    clinic_id: Uuid,
) -> Result<bool, DomainError> {
    let scope =
        TenantScope::for_operator(db.clone(), clock.clone(), clinic_id, "billing trial").await?;
    start(&scope).await
}

/// Starts the scope's clinic's trial now unless another server did meanwhile; whether it did.
async fn start(scope: &TenantScope) -> Result<bool, DomainError> {
    let txn = scope.begin().await?;
    txn.lock_clinic().await?;
    let found = clinic_settings::get(&txn).await?;
    if found.billing_trial_started_at.is_some() {
        return Ok(false);
    }
    let now = txn.now();
    let mut started: clinic::ActiveModel = found.into();
    started.billing_trial_started_at = Set(Some(now));
    started.update(txn.conn()).await?;
    audit::append(
        &txn,
        AuditEvent {
            actor: None,
            action: "billing.trial_started",
            detail: json!({ "started_at": now }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}
