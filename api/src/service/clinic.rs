//! Clinic settings: read them, and change them with validation and an audit entry naming which
//! settings changed (not their values).

use chrono::Utc;
use ringback_entity::clinic;
use ringback_shared::attribution::AttributionWindow;
use ringback_shared::hours::BusinessHours;
use ringback_shared::metrics::parse_time_zone;
use ringback_shared::phone::Region;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::json;
use uuid::Uuid;

use crate::error::ApiError;
use crate::service::audit::{self, AuditEvent};
use crate::service::db_error;
use crate::tenant::TenantTxn;

/// Privacy modes (DESIGN.md, "Privacy by construction").
pub const PRIVACY_MODES: &[&str] = &["strict", "text_back"];
/// Allowed delays before a text-back goes out, in seconds.
pub const TEXT_BACK_DELAY_RANGE: std::ops::RangeInclusive<i32> = 0..=120;
/// Allowed ring timeouts, in seconds.
pub const RING_TIMEOUT_RANGE: std::ops::RangeInclusive<i32> = 5..=60;
/// Longest conversation retention, in days.
pub const MAX_RETENTION_DAYS: i32 = 3650;

/// Settings to change; `None` leaves a setting as it is.
#[derive(Default)]
pub struct SettingsChange {
    pub name: Option<String>,
    pub kind: Option<String>,
    pub time_zone: Option<String>,
    pub default_region: Option<String>,
    pub currency: Option<String>,
    pub attribution_window_days: Option<i32>,
    pub privacy_mode: Option<String>,
    pub conversation_retention_days: Option<i32>,
    pub business_hours: Option<BusinessHours>,
    pub ring_timeout_seconds: Option<i32>,
    pub text_back_enabled: Option<bool>,
    pub text_back_delay_seconds: Option<i32>,
}

/// The clinic of the transaction.
pub async fn get(txn: &TenantTxn) -> Result<clinic::Model, ApiError> {
    clinic::Entity::find_by_id(txn.clinic_id())
        .one(txn.conn())
        .await
        .map_err(db_error)?
        .ok_or(ApiError::NotFound)
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::BadUserInput(message.into())
}

/// Applies `change` after validating every field; nothing is saved if any field is invalid.
pub async fn update(
    txn: &TenantTxn,
    actor: Uuid,
    change: SettingsChange,
) -> Result<clinic::Model, ApiError> {
    let current = get(txn).await?;
    let mut model: clinic::ActiveModel = current.into();
    let mut changed: Vec<&str> = Vec::new();
    if let Some(name) = change.name {
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 120 {
            return Err(bad("the clinic's name needs 1 to 120 characters"));
        }
        model.name = Set(name);
        changed.push("name");
    }
    if let Some(kind) = change.kind {
        let kind = kind.trim().to_ascii_lowercase();
        if !crate::service::account::CLINIC_KINDS.contains(&kind.as_str()) {
            return Err(bad(format!(
                "kind must be one of {}",
                crate::service::account::CLINIC_KINDS.join(", ")
            )));
        }
        model.kind = Set(kind);
        changed.push("kind");
    }
    if let Some(zone) = change.time_zone {
        let zone = parse_time_zone(zone.trim()).map_err(|e| bad(e.to_string()))?;
        model.time_zone = Set(zone.name().to_owned());
        changed.push("time_zone");
    }
    if let Some(region) = change.default_region {
        let region = Region::parse(region.trim()).map_err(|e| bad(e.to_string()))?;
        model.default_region = Set(region.as_str().to_owned());
        changed.push("default_region");
    }
    if let Some(currency) = change.currency {
        let currency = currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(bad("currency must be a three-letter ISO 4217 code"));
        }
        model.currency = Set(currency);
        changed.push("currency");
    }
    if let Some(days) = change.attribution_window_days {
        let window = u32::try_from(days)
            .ok()
            .and_then(|days| AttributionWindow::from_days(days).ok())
            .ok_or_else(|| bad("the attribution window must be 1 to 30 days"))?;
        model.attribution_window_days = Set(window.days() as i32);
        changed.push("attribution_window_days");
    }
    if let Some(mode) = change.privacy_mode {
        if !PRIVACY_MODES.contains(&mode.as_str()) {
            return Err(bad(format!(
                "privacy mode must be one of {}",
                PRIVACY_MODES.join(", ")
            )));
        }
        model.privacy_mode = Set(mode);
        changed.push("privacy_mode");
    }
    if let Some(days) = change.conversation_retention_days {
        if !(1..=MAX_RETENTION_DAYS).contains(&days) {
            return Err(bad(format!(
                "conversation retention must be 1 to {MAX_RETENTION_DAYS} days"
            )));
        }
        model.conversation_retention_days = Set(days);
        changed.push("conversation_retention_days");
    }
    if let Some(hours) = change.business_hours {
        hours.validate().map_err(|e| bad(e.to_string()))?;
        let json = serde_json::to_value(&hours).map_err(|e| ApiError::Internal(e.to_string()))?;
        model.business_hours = Set(Some(json));
        changed.push("business_hours");
    }
    if let Some(seconds) = change.ring_timeout_seconds {
        if !(RING_TIMEOUT_RANGE).contains(&seconds) {
            return Err(bad("the ring timeout must be 5 to 60 seconds"));
        }
        model.ring_timeout_seconds = Set(seconds);
        changed.push("ring_timeout_seconds");
    }
    if let Some(enabled) = change.text_back_enabled {
        model.text_back_enabled = Set(enabled);
        changed.push("text_back_enabled");
    }
    if let Some(delay) = change.text_back_delay_seconds {
        if !TEXT_BACK_DELAY_RANGE.contains(&delay) {
            return Err(bad("the text-back delay must be 0 to 120 seconds"));
        }
        model.text_back_delay_seconds = Set(delay);
        changed.push("text_back_delay_seconds");
    }
    if changed.is_empty() {
        return get(txn).await;
    }
    model.updated_at = Set(Utc::now());
    let updated = model.update(txn.conn()).await.map_err(db_error)?;
    if changed.contains(&"attribution_window_days") {
        crate::service::attribution::recompute_clinic(txn).await?;
    }
    audit::append(
        txn,
        AuditEvent {
            actor: Some(actor),
            action: "clinic.settings_changed",
            detail: json!({ "fields": changed }),
        },
    )
    .await?;
    Ok(updated)
}

/// The clinic's business hours (the default when none are set).
pub fn business_hours(model: &clinic::Model) -> BusinessHours {
    model
        .business_hours
        .clone()
        .and_then(|json| serde_json::from_value(json).ok())
        .unwrap_or_default()
}
