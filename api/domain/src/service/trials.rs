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
/// `billing.trial_started` by the operator); how many were started.
pub async fn start_all(db: &DatabaseConnection, clock: &Clock) -> Result<usize, DomainError> {
    let mut started = 0;
    loop {
        let page = without_trial(db).await?;
        if page.is_empty() {
            return Ok(started);
        }
        for clinic_id in page {
            let scope =
                TenantScope::for_operator(db.clone(), clock.clone(), clinic_id, "billing trial")
                    .await?;
            started += usize::from(start(&scope).await?);
        }
    }
}

/// Up to [`PAGE`] clinics whose trial has not started.
async fn without_trial(db: &DatabaseConnection) -> Result<Vec<Uuid>, DomainError> {
    Ok(schedule::clinic_ids(
        db,
        "ringback_clinics_without_trial($1)",
        CLINICS_WITHOUT_TRIAL,
        vec![(PAGE as i32).into()],
    )
    .await?)
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
