//! Appointments from staff, integrators or the AI: create, update, cancel, each followed by
//! attribution for the caller and, when the clinic keeps a Google calendar, a sync of its event
//! (`calendar::queue_sync`). The caller is given as a number (keyed on arrival, never kept)
//! or as a caller key.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use ringback_entity::{appointment, attribution as attribution_row};
use ringback_shared::caller_key::{anonymous_key, is_anonymous};
use ringback_shared::metrics::local_day_bounds_utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, Select, Set,
};
use serde_json::json;
use uuid::Uuid;

use crate::service::audit::{self, AuditEvent};
use crate::service::callers::{CallerKeyer, parse_caller_key};
use crate::service::in_clinic;
use crate::service::{attribution, external_ids, known_callers, restrictions};
use crate::service::{calendar, clinic};
use ringback_core::db::with_literal_limit;
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;

/// Highest appointment value accepted, in minor units (10 million in major units).
pub const MAX_VALUE_MINOR: i64 = 1_000_000_000;
/// Sources an appointment can come from.
pub const SOURCES: &[&str] = &["staff", "integrator", "ai", "demo"];

/// Who the appointment is for.
pub enum CallerRef {
    Number(String),
    Key(String),
}

/// A new appointment.
pub struct NewAppointment {
    pub caller: CallerRef,
    pub value_minor: i64,
    pub starts_at: Option<DateTime<Utc>>,
    /// How long the visit takes, when known.
    pub duration_minutes: Option<i32>,
    pub source: &'static str,
    pub external_id: Option<String>,
    /// When it was booked: now for live bookings; earlier for imports and demo data.
    pub booked_at: DateTime<Utc>,
}

fn check_value(value_minor: i64) -> Result<(), DomainError> {
    if (0..=MAX_VALUE_MINOR).contains(&value_minor) {
        Ok(())
    } else {
        Err(DomainError::BadUserInput(format!(
            "valueMinor must be 0 to {MAX_VALUE_MINOR}"
        )))
    }
}

/// A booking time may be in the past (imported history), not in the future; a few minutes of
/// clock difference between systems are allowed.
fn check_booked_at(booked_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), DomainError> {
    crate::service::calls::not_ahead("bookedAt", booked_at, now)
}

/// Refuses a booking made before the line a purge froze attribution at
/// ([`attribution::frozen_before`]): the calls it would be weighed against are partly deleted, so
/// it could take a missed call a later booking holds, or be weighed against half its window.
async fn check_not_frozen(txn: &TenantTxn, booked_at: DateTime<Utc>) -> Result<(), DomainError> {
    match attribution::frozen_before(txn).await? {
        Some(line) if booked_at < line => Err(DomainError::BadUserInput(format!(
            "bookedAt must be on or after {}: the calls of earlier bookings are deleted (the \
             clinic's call retention), so they cannot be attributed",
            line.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ))),
        _ => Ok(()),
    }
}

async fn caller_key(
    txn: &TenantTxn,
    secrets: &Secrets,
    caller: CallerRef,
) -> Result<String, DomainError> {
    match caller {
        CallerRef::Key(key) => parse_caller_key(&key),
        CallerRef::Number(number) => {
            let clinic = clinic::get(txn).await?;
            Ok(CallerKeyer::new(secrets, txn, &clinic.default_region)?
                .meet(txn, &number)
                .await?
                .caller_key)
        }
    }
}

/// Creates an appointment and attributes it.
pub async fn create(
    txn: &TenantTxn,
    secrets: &Secrets,
    actor: Option<Uuid>,
    input: NewAppointment,
) -> Result<appointment::Model, DomainError> {
    check_value(input.value_minor)?;
    check_booked_at(input.booked_at, txn.now())?;
    let external_id = external_ids::optional(input.external_id.as_deref())?;
    let key = caller_key(txn, secrets, input.caller).await?;
    // A caller who asked not to be processed is booked, counted, and kept apart from everything
    // else of theirs: under a stand-in key, as their calls are.
    let restricted = restrictions::is_restricted(txn, std::slice::from_ref(&key)).await?;
    if let Some(external_id) = &external_id
        && let Some(existing) = find_external(txn, input.source, external_id).await?
    {
        return repeated(existing, &key, restricted);
    }
    // A booking sent again (above) is answered whenever it was booked; a new one is refused.
    check_not_frozen(txn, input.booked_at).await?;
    let (booked_at, now) = (input.booked_at, txn.now());
    let id = Uuid::now_v7();
    let key = if restricted { anonymous_key(id) } else { key };
    let new_row = appointment::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        id: Set(id),
        caller_key: Set(key.clone()),
        source: Set(input.source.to_owned()),
        external_id: Set(external_id.clone()),
        value_minor: Set(input.value_minor),
        starts_at: Set(input.starts_at),
        duration_minutes: Set(input.duration_minutes),
        calendar_event_in: Set(None),
        cancelled_at: Set(None),
        created_at: Set(booked_at),
        updated_at: Set(now.max(booked_at)),
    };
    let Some(created) = insert_once(txn, new_row).await? else {
        // A request overlapping this one booked the same externalId first.
        let source = input.source;
        let external_id = external_id.as_deref().unwrap_or_default();
        let existing = find_external(txn, source, external_id)
            .await?
            .ok_or_else(|| {
                DomainError::Internal("a booking neither inserted nor found".to_owned())
            })?;
        return repeated(existing, &key, restricted);
    };
    audit::append(
        txn,
        AuditEvent {
            actor,
            action: "appointment.created",
            detail: json!({ "appointment": created.id, "source": input.source }),
        },
    )
    .await?;
    calendar::queue_sync(txn, &created).await?;
    attribution::recompute_callers(txn, &BTreeSet::from([key])).await?;
    Ok(created)
}

/// Inserts `row`; `None` when a request overlapping this one stored the same source and
/// `externalId` first (the insert waits for it and then does nothing, so no unique violation ends
/// the transaction).
async fn insert_once(
    txn: &TenantTxn,
    row: appointment::ActiveModel,
) -> Result<Option<appointment::Model>, DomainError> {
    let inserted = appointment::Entity::insert(row)
        .on_conflict_do_nothing_on([
            appointment::Column::ClinicId,
            appointment::Column::Source,
            appointment::Column::ExternalId,
        ])
        .exec_with_returning(txn.conn())
        .await;
    Ok(ringback_core::db::stored_unless_taken(inserted)?)
}

/// A booking sent again with the `externalId` of `existing`: the same booking (as it stands now)
/// when it is for the same caller (for a `restricted` caller, one kept under a stand-in key) and
/// still stands; otherwise a conflict, so that a sender never takes a cancelled booking, or
/// another caller's, for the one it asked for.
fn repeated(
    existing: appointment::Model,
    caller_key: &str,
    restricted: bool,
) -> Result<appointment::Model, DomainError> {
    let same_caller =
        existing.caller_key == caller_key || (restricted && is_anonymous(&existing.caller_key));
    if !same_caller {
        return Err(DomainError::Conflict(
            "this externalId already names an appointment for another caller".to_owned(),
        ));
    }
    if existing.cancelled_at.is_some() {
        return Err(DomainError::Conflict(
            "this externalId names an appointment that was cancelled: book again with a new \
             externalId"
                .to_owned(),
        ));
    }
    Ok(existing)
}

async fn find_external(
    txn: &TenantTxn,
    source: &str,
    external_id: &str,
) -> Result<Option<appointment::Model>, DomainError> {
    Ok(txn
        .find::<appointment::Entity>()
        .filter(appointment::Column::Source.eq(source))
        .filter(appointment::Column::ExternalId.eq(external_id))
        .one(txn.conn())
        .await?)
}

/// Whether `caller_key` was booked since `since`: an appointment made then or later that stands.
pub async fn booked_since(
    txn: &TenantTxn,
    caller_key: &str,
    since: DateTime<Utc>,
) -> Result<bool, DomainError> {
    Ok(txn
        .find::<appointment::Entity>()
        .filter(appointment::Column::CallerKey.eq(caller_key))
        .filter(appointment::Column::CreatedAt.gte(since))
        .filter(appointment::Column::CancelledAt.is_null())
        .one(txn.conn())
        .await?
        .is_some())
}

/// One appointment by id.
pub async fn find(txn: &TenantTxn, id: Uuid) -> Result<appointment::Model, DomainError> {
    in_clinic::<appointment::Entity>(txn, id)
        .await?
        .ok_or(DomainError::NotFound)
}

/// Changes an appointment's value or start; a cancelled appointment cannot change.
pub async fn update(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    id: Uuid,
    value_minor: Option<i64>,
    starts_at: Option<DateTime<Utc>>,
) -> Result<appointment::Model, DomainError> {
    let current = find(txn, id).await?;
    if current.cancelled_at.is_some() {
        return Err(DomainError::Conflict(
            "a cancelled appointment cannot be changed".to_owned(),
        ));
    }
    let key = current.caller_key.clone();
    let mut model: appointment::ActiveModel = current.into();
    if let Some(value) = value_minor {
        check_value(value)?;
        model.value_minor = Set(value);
    }
    if let Some(starts_at) = starts_at {
        model.starts_at = Set(Some(starts_at));
    }
    model.updated_at = Set(txn.now());
    let updated = model.update(txn.conn()).await?;
    audit::append(
        txn,
        AuditEvent {
            actor,
            action: "appointment.updated",
            detail: json!({ "appointment": id }),
        },
    )
    .await?;
    if starts_at.is_some() {
        calendar::queue_sync(txn, &updated).await?;
    }
    attribution::recompute_callers(txn, &BTreeSet::from([key])).await?;
    Ok(updated)
}

/// Cancels an appointment; it takes no credit from then on.
pub async fn cancel(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    id: Uuid,
) -> Result<appointment::Model, DomainError> {
    let current = find(txn, id).await?;
    if current.cancelled_at.is_some() {
        return Ok(current);
    }
    let key = current.caller_key.clone();
    let mut model: appointment::ActiveModel = current.into();
    model.cancelled_at = Set(Some(txn.now()));
    model.updated_at = Set(txn.now());
    let cancelled = model.update(txn.conn()).await?;
    audit::append(
        txn,
        AuditEvent {
            actor,
            action: "appointment.cancelled",
            detail: json!({ "appointment": id }),
        },
    )
    .await?;
    calendar::queue_sync(txn, &cancelled).await?;
    attribution::recompute_callers(txn, &BTreeSet::from([key])).await?;
    Ok(cancelled)
}

/// Which appointments a list shows: those on the clinic-local days `from..=to` (by their start,
/// or by their booking when they have no start), for callers whose masked tail is `caller_tail`
/// (its three digits as typed). Each part is optional.
#[derive(Clone, Debug, Default)]
pub struct AppointmentFilter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub caller_tail: Option<String>,
}

/// One appointment of a list: its stored attribution and the caller's masked tail, when the
/// clinic has one for them.
pub struct ListedAppointment {
    pub appointment: appointment::Model,
    pub verdict: Option<attribution_row::Model>,
    pub caller_tail: Option<String>,
}

/// Appointments newest first, with their stored attribution and tails; at most `limit + 1` rows
/// after `after` (an appointment id, ids being time-ordered), narrowed by `filter`. The read is
/// audited.
pub async fn list(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    filter: &AppointmentFilter,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<ListedAppointment>, DomainError> {
    let mut query = filtered(txn, filter).await?;
    if let Some(after) = after {
        query = query.filter(appointment::Column::Id.lt(after));
    }
    let page = query.order_by_desc(appointment::Column::Id);
    let statement = with_literal_limit(page, txn.conn().get_database_backend(), limit + 1);
    let appointments = appointment::Model::find_by_statement(statement)
        .all(txn.conn())
        .await?;
    let ids: Vec<Uuid> = appointments.iter().map(|a| a.id).collect();
    let keys: Vec<String> = appointments.iter().map(|a| a.caller_key.clone()).collect();
    let verdicts = txn
        .find::<attribution_row::Entity>()
        .filter(attribution_row::Column::AppointmentId.is_in(ids))
        .all(txn.conn())
        .await?;
    let tails = known_callers::tails_of(txn, &keys).await?;
    audit::note_read(
        txn,
        AuditEvent {
            actor,
            action: "appointments.list_read",
            detail: json!({ "rows": appointments.len() }),
        },
    )
    .await?;
    Ok(appointments
        .into_iter()
        .map(|appointment| ListedAppointment {
            verdict: verdicts
                .iter()
                .find(|v| v.appointment_id == appointment.id)
                .cloned(),
            caller_tail: tails.get(&appointment.caller_key).cloned(),
            appointment,
        })
        .collect())
}

/// The clinic's appointments narrowed by `filter`.
async fn filtered(
    txn: &TenantTxn,
    filter: &AppointmentFilter,
) -> Result<Select<appointment::Entity>, DomainError> {
    let mut query = txn.find::<appointment::Entity>();
    if let Some(typed) = filter.caller_tail.as_deref() {
        let tail = known_callers::tail_searched(typed)?;
        let keys = known_callers::keys_with_tail(txn, &tail).await?;
        query = query.filter(appointment::Column::CallerKey.is_in(keys));
    }
    if filter.from.is_some() || filter.to.is_some() {
        let (start, end) = days_in_utc(txn, filter.from, filter.to).await?;
        let within = |column: appointment::Column| {
            let mut condition = Condition::all();
            if let Some(start) = start {
                condition = condition.add(column.gte(start));
            }
            if let Some(end) = end {
                condition = condition.add(column.lt(end));
            }
            condition
        };
        let booked_without_start =
            within(appointment::Column::CreatedAt).add(appointment::Column::StartsAt.is_null());
        query = query.filter(
            Condition::any()
                .add(within(appointment::Column::StartsAt))
                .add(booked_without_start),
        );
    }
    Ok(query)
}

/// The instants `[start, end)` of the clinic-local days `from..=to` (an open end stays open);
/// refused when `from` is after `to`.
async fn days_in_utc(
    txn: &TenantTxn,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>), DomainError> {
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        return Err(DomainError::BadUserInput(
            "the first day is after the last".to_owned(),
        ));
    }
    let zone = clinic::time_zone(&clinic::get(txn).await?)?;
    let bounds = |day: NaiveDate| {
        local_day_bounds_utc(day, zone)
            .map_err(|e| DomainError::BadUserInput(format!("that day cannot be read: {e}")))
    };
    let start = from.map(bounds).transpose()?.map(|day| day.start);
    let end = to.map(bounds).transpose()?.map(|day| day.end);
    Ok((start, end))
}

/// `text`, a start as the clinic writes it (`YYYY-MM-DDTHH:MM`, as a browser's date-and-time
/// field gives it), as an instant in the clinic's time zone; refused when it cannot be read or
/// does not exist there (a time skipped when the clocks go forward).
pub async fn local_start(txn: &TenantTxn, text: &str) -> Result<DateTime<Utc>, DomainError> {
    let local = NaiveDateTime::parse_from_str(text.trim(), LOCAL_START_FORMAT)
        .map_err(|_| DomainError::BadUserInput("write the start as YYYY-MM-DDTHH:MM".to_owned()))?;
    let zone = clinic::time_zone(&clinic::get(txn).await?)?;
    zone.from_local_datetime(&local)
        .earliest()
        .map(|start| start.with_timezone(&Utc))
        .ok_or_else(|| {
            DomainError::BadUserInput(
                "that time does not exist in the time zone set in Settings (the clocks change)"
                    .to_owned(),
            )
        })
}

/// How a clinic-local start is written: a browser's date-and-time field's value.
pub const LOCAL_START_FORMAT: &str = "%Y-%m-%dT%H:%M";

/// The stored attribution of one appointment.
pub async fn verdict(
    txn: &TenantTxn,
    id: Uuid,
) -> Result<Option<attribution_row::Model>, DomainError> {
    in_clinic::<attribution_row::Entity>(txn, id).await
}

/// `appointment` as a list shows it: with its verdict and the caller's masked tail.
pub async fn listed(
    txn: &TenantTxn,
    appointment: appointment::Model,
) -> Result<ListedAppointment, DomainError> {
    let verdict = verdict(txn, appointment.id).await?;
    let caller_tail = known_callers::tails_of(txn, std::slice::from_ref(&appointment.caller_key))
        .await?
        .remove(&appointment.caller_key);
    Ok(ListedAppointment {
        appointment,
        verdict,
        caller_tail,
    })
}
