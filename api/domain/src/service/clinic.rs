//! Clinic settings: read them, and change them with validation and an audit entry naming which
//! settings changed (not their values).

use chrono::{DateTime, NaiveDate, Utc};
use ringback_entity::clinic;
use ringback_shared::attribution::AttributionWindow;
use ringback_shared::hours::BusinessHours;
use ringback_shared::metrics::parse_time_zone;
use ringback_shared::phone::Region;
use ringback_shared::retention::{self, Retention};
use ringback_shared::sms;
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::json;
use uuid::Uuid;

use crate::service::audit::{self, AuditEvent};
use crate::service::sealed_numbers;
use ringback_core::error::DomainError;
use ringback_core::tenant::TenantTxn;

/// Privacy mode that keeps only the caller key and tail (the number lives sealed in the outbox
/// until the text-back is sent).
pub const STRICT_MODE: &str = "strict";
/// Privacy mode that keeps the number sealed for two-way conversations.
pub const TEXT_BACK_MODE: &str = "text_back";
/// Privacy modes (DESIGN.md, "Privacy by construction").
pub const PRIVACY_MODES: &[&str] = &[STRICT_MODE, TEXT_BACK_MODE];
/// Allowed delays before a text-back goes out, in seconds.
pub const TEXT_BACK_DELAY_RANGE: std::ops::RangeInclusive<i32> = 0..=120;
/// Allowed ring timeouts, in seconds.
pub const RING_TIMEOUT_RANGE: std::ops::RangeInclusive<i32> = 5..=60;

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
    pub call_retention_days: Option<i32>,
    pub business_hours: Option<BusinessHours>,
    pub ring_timeout_seconds: Option<i32>,
    pub text_back_enabled: Option<bool>,
    pub text_back_delay_seconds: Option<i32>,
    pub text_back_templates: Option<TextBackTemplates>,
    /// An empty string clears the link.
    pub booking_link: Option<String>,
    /// An empty string restores the default answer to HELP.
    pub help_text: Option<String>,
    pub holidays: Option<Vec<NaiveDate>>,
    /// `Some(None)` removes the allowance.
    pub sms_monthly_quota: Option<Option<i32>>,
    /// The regions whose numbers are texted; `Some(empty)` goes back to the clinic's own region.
    pub sms_countries: Option<Vec<String>>,
    /// `Some(None)` goes back to the default daily limit.
    pub sms_daily_limit: Option<Option<i32>>,
}

/// Changes to the clinic's own text-back wording: `None` leaves a template as it is, an empty
/// string goes back to the default wording for that moment.
#[derive(Default)]
pub struct TextBackTemplates {
    pub business_hours: Option<String>,
    pub after_hours: Option<String>,
}

/// Longest HELP answer, in characters.
pub const MAX_HELP_TEXT_CHARS: usize = 320;
/// Most holidays kept.
pub const MAX_HOLIDAYS: usize = 100;

/// The clinic of the transaction.
pub async fn get(txn: &TenantTxn) -> Result<clinic::Model, DomainError> {
    clinic::Entity::find_by_id(txn.clinic_id())
        .one(txn.conn())
        .await?
        .ok_or(DomainError::NotFound)
}

/// The regions whose numbers `clinic` texts: those it listed, or its own region.
pub fn texted_regions(clinic: &clinic::Model) -> Vec<String> {
    match clinic.sms_countries.as_deref() {
        Some(listed) => listed.split(',').map(str::to_owned).collect(),
        None => vec![clinic.default_region.clone()],
    }
}

/// Most texts a clinic may allow itself per 24 hours.
pub const MAX_DAILY_TEXTS: i32 = 10_000;

/// Applies the countries texted and the daily limit, checking both.
fn apply_texting_limits(
    model: &mut clinic::ActiveModel,
    countries: Option<Vec<String>>,
    daily_limit: Option<Option<i32>>,
    changed: &mut Vec<&'static str>,
) -> Result<(), DomainError> {
    if let Some(countries) = countries {
        let mut regions = Vec::new();
        for code in &countries {
            let region = Region::parse(code.trim()).map_err(|_| {
                bad("each country texted must be a two-letter region code, e.g. GB")
            })?;
            regions.push(region.as_str().to_owned());
        }
        regions.sort();
        regions.dedup();
        model.sms_countries = Set((!regions.is_empty()).then(|| regions.join(",")));
        changed.push("sms_countries");
    }
    if let Some(limit) = daily_limit {
        if limit.is_some_and(|limit| !(1..=MAX_DAILY_TEXTS).contains(&limit)) {
            return Err(bad(format!(
                "the daily texting limit must be between 1 and {MAX_DAILY_TEXTS}"
            )));
        }
        model.sms_daily_limit = Set(limit);
        changed.push("sms_daily_limit");
    }
    Ok(())
}

fn bad(message: impl Into<String>) -> DomainError {
    DomainError::BadUserInput(message.into())
}

/// Applies `change` after validating every field; nothing is saved if any field is invalid. A
/// switch to `strict` destroys every kept number and turns the AI off (it has nothing to answer
/// with); both are in the audit entry's fields.
pub async fn update(
    txn: &TenantTxn,
    actor: Uuid,
    change: SettingsChange,
) -> Result<clinic::Model, DomainError> {
    let current = get(txn).await?;
    let ai_was_on = current.ai_enabled;
    let mut model: clinic::ActiveModel = current.into();
    let mut changed: Vec<&str> = Vec::new();
    if let Some(name) = change.name {
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 120 {
            return Err(bad("the name needs 1 to 120 characters"));
        }
        model.name = Set(name);
        changed.push("name");
    }
    if let Some(kind) = change.kind {
        model.kind = Set(crate::service::account::checked_kind(&kind)?);
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
        if mode == STRICT_MODE && ai_was_on {
            // The AI answers texts, which strict mode keeps no number for.
            model.ai_enabled = Set(false);
            changed.push("ai_enabled");
        }
        model.privacy_mode = Set(mode);
        changed.push("privacy_mode");
    }
    apply_retention(
        &mut model,
        (
            change.call_retention_days,
            change.conversation_retention_days,
        ),
        &mut changed,
    )?;
    if [
        "call_retention_days",
        "conversation_retention_days",
        "attribution_window_days",
    ]
    .iter()
    .any(|field| changed.contains(field))
    {
        retention_outlasts_the_window(&model)?;
    }
    if let Some(hours) = change.business_hours {
        hours.validate().map_err(|e| bad(e.to_string()))?;
        let json =
            serde_json::to_value(&hours).map_err(|e| DomainError::Internal(e.to_string()))?;
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
    apply_texting_limits(
        &mut model,
        change.sms_countries,
        change.sms_daily_limit,
        &mut changed,
    )?;
    let wording = Wording {
        templates: change.text_back_templates,
        booking_link: change.booking_link,
        help_text: change.help_text,
    };
    apply_wording(&mut model, wording, &mut changed)?;
    if changed.contains(&"text_back_templates") {
        model.text_back_wording_saved_at = Set(Some(txn.now()));
    }
    if let Some(holidays) = change.holidays {
        model.holidays = Set(Some(holidays_json(holidays)?));
        changed.push("holidays");
    }
    if let Some(quota) = change.sms_monthly_quota {
        if quota.is_some_and(|quota| quota < 0) {
            return Err(bad("the monthly SMS allowance cannot be negative"));
        }
        model.sms_monthly_quota = Set(quota);
        changed.push("sms_monthly_quota");
    }
    if changed.is_empty() {
        return get(txn).await;
    }
    model.updated_at = Set(txn.now());
    let updated = model.update(txn.conn()).await?;
    if changed.contains(&"attribution_window_days") {
        crate::service::attribution::recompute_clinic(txn).await?;
    }
    if changed.contains(&"time_zone") {
        crate::service::metrics::restate_in_new_zone(txn, &updated).await?;
    }
    if changed.contains(&"privacy_mode") && updated.privacy_mode == STRICT_MODE {
        sealed_numbers::forget(txn, sealed_numbers::Whose::Everyone).await?;
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

/// Applies the retention settings: calls 1 to 90 days, conversations 30 days to ten years.
fn apply_retention(
    model: &mut clinic::ActiveModel,
    (call_days, conversation_days): (Option<i32>, Option<i32>),
    changed: &mut Vec<&'static str>,
) -> Result<(), DomainError> {
    if let Some(days) = call_days {
        if !retention::CALL_DAYS.contains(&days) {
            return Err(bad(format!(
                "call retention must be 1 to {} days",
                retention::MAX_CALL_DAYS
            )));
        }
        model.call_retention_days = Set(days);
        changed.push("call_retention_days");
    }
    if let Some(days) = conversation_days {
        if !retention::CONVERSATION_DAYS.contains(&days) {
            return Err(bad(format!(
                "conversation retention must be {} to {} days",
                retention::MIN_CONVERSATION_DAYS,
                retention::MAX_CONVERSATION_DAYS
            )));
        }
        model.conversation_retention_days = Set(days);
        changed.push("conversation_retention_days");
    }
    Ok(())
}

/// Refuses a call or conversation retention, or an attribution window, that would purge calls
/// or replies the figures and bookings still read ([`retention::min_call_days`]).
fn retention_outlasts_the_window(model: &clinic::ActiveModel) -> Result<(), DomainError> {
    let (Some(&calls), Some(&conversations), Some(&window)) = (
        active(&model.call_retention_days),
        active(&model.conversation_retention_days),
        active(&model.attribution_window_days),
    ) else {
        return Ok(());
    };
    let least = retention::min_call_days(window);
    for (kept, what) in [(calls, "call"), (conversations, "conversation")] {
        if kept < least {
            return Err(bad(format!(
                "{what} retention must be at least {least} days with a {window}-day attribution \
                 window: bookings look back over the window for their calls and replies, and the \
                 figures eight days more"
            )));
        }
    }
    Ok(())
}

/// The clinic's retention settings.
pub fn retention_of(model: &clinic::Model) -> Retention {
    Retention {
        call_days: model.call_retention_days,
        conversation_days: model.conversation_retention_days,
        strict: model.privacy_mode == STRICT_MODE,
        window_days: model.attribution_window_days,
    }
}

/// The clinic's time zone (stored only after it was checked, so a failure here is internal).
pub fn time_zone(model: &clinic::Model) -> Result<chrono_tz::Tz, DomainError> {
    parse_time_zone(&model.time_zone).map_err(|e| DomainError::Internal(e.to_string()))
}

/// The first instant of the clinic's local calendar month at `now`: where the clinic's own
/// monthly text cap and the AI's monthly token budget start again (a Sydney clinic's February
/// starts eleven hours before London's).
pub fn month_start(
    model: &clinic::Model,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, DomainError> {
    let zone = time_zone(model)?;
    ringback_shared::metrics::local_month_bounds_utc(
        ringback_shared::metrics::local_month(now, zone),
        zone,
    )
    .map(|month| month.start)
    .map_err(|e| DomainError::Internal(e.to_string()))
}

/// The clinic's business hours (the default when none are set).
pub fn business_hours(model: &clinic::Model) -> BusinessHours {
    model
        .business_hours
        .clone()
        .and_then(|json| serde_json::from_value(json).ok())
        .unwrap_or_default()
}

/// The text-back wording settings of one change.
struct Wording {
    templates: Option<TextBackTemplates>,
    booking_link: Option<String>,
    help_text: Option<String>,
}

/// Validates and applies booking link, templates and HELP answer. Templates are checked against
/// the booking link as it will be after the change.
fn apply_wording(
    model: &mut clinic::ActiveModel,
    wording: Wording,
    changed: &mut Vec<&'static str>,
) -> Result<(), DomainError> {
    if let Some(link) = wording.booking_link {
        let link = link.trim();
        let stored = if link.is_empty() {
            None
        } else if (link.starts_with("https://") || link.starts_with("http://"))
            && link.len() <= 300
            && !link.contains(char::is_whitespace)
        {
            Some(link.to_owned())
        } else {
            return Err(bad(
                "the booking link must be an http(s) URL of at most 300 characters",
            ));
        };
        model.booking_link = Set(stored);
        changed.push("booking_link");
    }
    if let Some(templates) = wording.templates {
        let own = |text: String| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
        if let Some(text) = templates.business_hours {
            model.text_back_template_open = Set(own(text));
        }
        if let Some(text) = templates.after_hours {
            model.text_back_template_closed = Set(own(text));
        }
        changed.push("text_back_templates");
    }
    // Both templates must fit the link as it is after this change.
    let has_link = active(&model.booking_link).is_some_and(|link| link.is_some());
    for template in [
        &model.text_back_template_open,
        &model.text_back_template_closed,
    ] {
        if let Some(Some(text)) = active(template) {
            sms::validate_template(text, has_link).map_err(|e| bad(e.to_string()))?;
        }
    }
    if let Some(help) = wording.help_text {
        let help = help.trim();
        if help.chars().count() > MAX_HELP_TEXT_CHARS {
            return Err(bad(format!(
                "the HELP answer needs at most {MAX_HELP_TEXT_CHARS} characters"
            )));
        }
        model.help_text = Set((!help.is_empty()).then(|| help.to_owned()));
        changed.push("help_text");
    }
    Ok(())
}

fn holidays_json(mut holidays: Vec<NaiveDate>) -> Result<serde_json::Value, DomainError> {
    holidays.sort();
    holidays.dedup();
    if holidays.len() > MAX_HOLIDAYS {
        return Err(bad(format!("at most {MAX_HOLIDAYS} holidays")));
    }
    serde_json::to_value(holidays).map_err(|e| DomainError::Internal(e.to_string()))
}

/// The clinic's holidays (closed all day), earliest first.
pub fn holidays(model: &clinic::Model) -> Vec<NaiveDate> {
    model
        .holidays
        .clone()
        .and_then(|json| serde_json::from_value(json).ok())
        .unwrap_or_default()
}

/// The clinic's template for `moment`: its own, or the default.
pub fn template(model: &clinic::Model, moment: sms::Moment) -> String {
    let own = match moment {
        sms::Moment::BusinessHours => &model.text_back_template_open,
        sms::Moment::AfterHours => &model.text_back_template_closed,
    };
    own.clone()
        .unwrap_or_else(|| sms::default_template(moment, model.booking_link.is_some()).to_owned())
}

/// The text-back a caller who missed the clinic at `at` receives.
pub fn text_back_text(model: &clinic::Model, at: DateTime<Utc>) -> String {
    sms::render(
        &template_at(model, at),
        &model.name,
        model.booking_link.as_deref(),
    )
}

/// The clinic's template for the moment `at` (business hours or not, in its zone).
fn template_at(model: &clinic::Model, at: DateTime<Utc>) -> String {
    template(model, moment_at(model, at))
}

/// Whether the clinic is open at `at` in its zone (holidays closed all day).
pub fn moment_at(model: &clinic::Model, at: DateTime<Utc>) -> sms::Moment {
    let zone = parse_time_zone(&model.time_zone).unwrap_or(chrono_tz::UTC);
    sms::moment(
        &business_hours(model),
        &holidays(model),
        at.with_timezone(&zone),
    )
}

/// What the AI receptionist sends when it cannot answer (no model, the model failing, the budget
/// spent): the text-back wording of the moment, with the booking link added when the wording
/// lacks it.
pub fn fallback_text(model: &clinic::Model, at: DateTime<Utc>) -> String {
    let mut wording = template_at(model, at);
    if model.booking_link.is_some() && !wording.contains(sms::BOOKING_LINK_PLACEHOLDER) {
        wording.push_str(" Book at ");
        wording.push_str(sms::BOOKING_LINK_PLACEHOLDER);
    }
    sms::render(&wording, &model.name, model.booking_link.as_deref())
}

/// The answer to a HELP text: the clinic's own, or a default; always marked automated.
pub fn help_text(model: &clinic::Model) -> String {
    let text = model.help_text.clone().unwrap_or_else(|| {
        format!(
            "{}: reply to this message to reach us, or call us. Reply STOP to stop texts.",
            model.name
        )
    });
    sms::with_automated_marker(&text)
}

/// The value an active-model field will have after saving, when it is known.
fn active<T: Into<sea_orm::Value>>(value: &sea_orm::ActiveValue<T>) -> Option<&T> {
    match value {
        sea_orm::ActiveValue::Set(v) | sea_orm::ActiveValue::Unchanged(v) => Some(v),
        sea_orm::ActiveValue::NotSet => None,
    }
}
