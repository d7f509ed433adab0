//! The AI receptionist's settings and the clinic's price list. Off until an admin turns it on,
//! which needs two-way texts (`text_back` privacy mode; a switch to `strict` turns it off);
//! everything an admin sets is checked by the shared rules (`ringback_shared::ai`) before
//! anything is saved, and each change leaves an audit entry naming what changed (never the
//! description's or a question's text). The price list is what the AI quotes from, so a service
//! is only what the clinic wrote: a name, a price or range, a duration and a booking's value.

use ringback_core::error::DomainError;
use ringback_core::tenant::{TenantTxn, in_clinic};
use ringback_entity::{clinic as clinic_row, clinic_service};
use ringback_shared::ai::{self, AiSettingsError, Service};
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use uuid::Uuid;

use crate::service::audit::{self, AuditEvent};
use crate::service::clinic;

/// A clinic's AI settings, with the kind's intake questions when it set none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AiSettings {
    pub enabled: bool,
    pub tone: String,
    pub business_description: Option<String>,
    pub intake_questions: Vec<String>,
    pub follow_up_minutes: Option<i32>,
    pub monthly_token_budget: i64,
    /// What a booking without a service from the price list is worth, in minor units.
    pub standard_visit_value_minor: i64,
}

/// The AI settings `clinic` holds.
pub fn settings_of(clinic: &clinic_row::Model) -> AiSettings {
    let intake = clinic
        .ai_intake_questions
        .clone()
        .and_then(|json| serde_json::from_value::<Vec<String>>(json).ok())
        .unwrap_or_else(|| ai::default_intake(&clinic.kind));
    AiSettings {
        enabled: clinic.ai_enabled,
        tone: clinic.ai_tone.clone(),
        business_description: clinic.ai_business_description.clone(),
        intake_questions: intake,
        follow_up_minutes: clinic.ai_follow_up_minutes,
        monthly_token_budget: clinic.ai_monthly_token_budget,
        standard_visit_value_minor: clinic.ai_standard_visit_value_minor,
    }
}

/// Changes to the AI settings; `None` leaves a field as it is (`Some(None)` clears one).
#[derive(Clone, Debug, Default)]
pub struct AiSettingsChange {
    pub enabled: Option<bool>,
    pub tone: Option<String>,
    pub business_description: Option<Option<String>>,
    pub intake_questions: Option<Vec<String>>,
    pub follow_up_minutes: Option<Option<i32>>,
    pub monthly_token_budget: Option<i64>,
    pub standard_visit_value_minor: Option<i64>,
}

/// Why the AI cannot be turned on in `strict` privacy mode: it answers callers' texts, and in
/// that mode no number is kept to text them with.
pub const NEEDS_TWO_WAY_TEXTS: &str = "the AI answers callers' texts, which needs two-way texts: \
     choose \"two-way texts\" as the privacy mode in Settings first (strict mode keeps no number to \
     answer with)";

fn refused(error: AiSettingsError) -> DomainError {
    DomainError::BadUserInput(error.to_string())
}

/// Applies `change` after checking every field; audited as `ai.settings_changed` with the names
/// of the fields that changed.
pub async fn update(
    txn: &TenantTxn,
    actor: Uuid,
    change: AiSettingsChange,
) -> Result<clinic_row::Model, DomainError> {
    let current = clinic::get(txn).await?;
    let mut model: clinic_row::ActiveModel = current.clone().into();
    let mut changed = Vec::new();
    if let Some(enabled) = change.enabled {
        if enabled && current.privacy_mode == clinic::STRICT_MODE {
            return Err(DomainError::BadUserInput(NEEDS_TWO_WAY_TEXTS.to_owned()));
        }
        model.ai_enabled = Set(enabled);
        changed.push("enabled");
    }
    if let Some(tone) = change.tone {
        ai::check_tone(&tone).map_err(refused)?;
        model.ai_tone = Set(tone);
        changed.push("tone");
    }
    if let Some(description) = change.business_description {
        let description = description
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty());
        ai::check_description(description.as_deref().unwrap_or_default()).map_err(refused)?;
        model.ai_business_description = Set(description);
        changed.push("business_description");
    }
    if let Some(questions) = change.intake_questions {
        let cleaned = ai::clean_intake(&questions).map_err(refused)?;
        model.ai_intake_questions = Set(Some(json!(cleaned)));
        changed.push("intake_questions");
    }
    if let Some(minutes) = change.follow_up_minutes {
        ai::check_follow_up(minutes).map_err(refused)?;
        model.ai_follow_up_minutes = Set(minutes);
        changed.push("follow_up_minutes");
    }
    if let Some(budget) = change.monthly_token_budget {
        ai::check_budget(budget).map_err(refused)?;
        model.ai_monthly_token_budget = Set(budget);
        changed.push("monthly_token_budget");
    }
    if let Some(value) = change.standard_visit_value_minor {
        ai::check_standard_visit_value(value).map_err(refused)?;
        model.ai_standard_visit_value_minor = Set(value);
        changed.push("standard_visit_value_minor");
    }
    if changed.is_empty() {
        return Ok(current);
    }
    model.updated_at = Set(txn.now());
    let saved = model.update(txn.conn()).await?;
    let detail = json!({ "changed": changed, "enabled": saved.ai_enabled });
    record(txn, actor, "ai.settings_changed", detail).await?;
    Ok(saved)
}

/// The price list, by name.
pub async fn services(txn: &TenantTxn) -> Result<Vec<clinic_service::Model>, DomainError> {
    Ok(txn
        .find::<clinic_service::Entity>()
        .order_by_asc(clinic_service::Column::Name)
        .all(txn.conn())
        .await?)
}

/// Adds a service (`id` `None`) or changes one; names are unique within the clinic in any letter
/// case and the list holds at most [`ai::MAX_SERVICES`]. Audited as `service.saved`.
pub async fn save_service(
    txn: &TenantTxn,
    actor: Uuid,
    id: Option<Uuid>,
    service: Service,
) -> Result<clinic_service::Model, DomainError> {
    let service = service.checked().map_err(refused)?;
    // Names are compared in any letter case (the AI finds a service by its name so), one save at
    // a time per clinic: the list is short, so it is read whole.
    txn.lock_subject("price-list").await?;
    let listed = txn.find::<clinic_service::Entity>().all(txn.conn()).await?;
    let name = service.name.to_lowercase();
    let same_name = listed
        .iter()
        .find(|other| other.name.to_lowercase() == name && Some(other.id) != id);
    if same_name.is_some() {
        return Err(DomainError::Conflict(format!(
            "the price list already has a service named {:?}",
            service.name
        )));
    }
    let now = txn.now();
    let saved = match id {
        Some(id) => {
            let existing = in_clinic::<clinic_service::Entity>(txn, id)
                .await?
                .ok_or(DomainError::NotFound)?;
            let mut model: clinic_service::ActiveModel = existing.into();
            fill(&mut model, &service);
            model.updated_at = Set(now);
            model.update(txn.conn()).await?
        }
        None => {
            if listed.len() >= ai::MAX_SERVICES {
                return Err(DomainError::Conflict(format!(
                    "a price list holds at most {} services",
                    ai::MAX_SERVICES
                )));
            }
            let mut model = clinic_service::ActiveModel {
                clinic_id: Set(txn.clinic_id()),
                id: Set(Uuid::now_v7()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            };
            fill(&mut model, &service);
            model.insert(txn.conn()).await?
        }
    };
    record(txn, actor, "service.saved", json!({ "service": saved.id })).await?;
    Ok(saved)
}

fn fill(model: &mut clinic_service::ActiveModel, service: &Service) {
    model.name = Set(service.name.clone());
    model.price_from_minor = Set(service.price_from_minor);
    model.price_to_minor = Set(service.price_to_minor);
    model.duration_minutes = Set(service.duration_minutes);
    model.estimated_value_minor = Set(service.estimated_value_minor);
}

/// Removes a service from the price list. Audited as `service.deleted`.
pub async fn delete_service(txn: &TenantTxn, actor: Uuid, id: Uuid) -> Result<(), DomainError> {
    let deleted = txn
        .delete_many::<clinic_service::Entity>()
        .filter(clinic_service::Column::Id.eq(id))
        .exec(txn.conn())
        .await?;
    if deleted.rows_affected == 0 {
        return Err(DomainError::NotFound);
    }
    record(txn, actor, "service.deleted", json!({ "service": id })).await
}

/// The shared rules' view of a stored service.
pub fn as_service(row: &clinic_service::Model) -> Service {
    Service {
        name: row.name.clone(),
        price_from_minor: row.price_from_minor,
        price_to_minor: row.price_to_minor,
        duration_minutes: row.duration_minutes,
        estimated_value_minor: row.estimated_value_minor,
    }
}

async fn record(
    txn: &TenantTxn,
    actor: Uuid,
    action: &'static str,
    detail: serde_json::Value,
) -> Result<(), DomainError> {
    audit::append(
        txn,
        AuditEvent {
            actor: Some(actor),
            action,
            detail,
        },
    )
    .await?;
    Ok(())
}
