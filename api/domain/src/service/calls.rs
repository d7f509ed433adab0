//! Calls: events pushed by integrators from any phone system (idempotent by external id, numbers
//! keyed on arrival, bad rows reported one by one while good rows are kept; a withheld number is
//! counted under a stand-in key, never texted), callbacks logged by staff, and the filtered,
//! paginated call list.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use ringback_entity::attribution as attribution_row;
use ringback_entity::call;
use ringback_shared::attribution::{CallDirection, CallOutcome};
use ringback_shared::caller_key::{HIDDEN_TAIL, anonymous_key, is_anonymous};
use ringback_shared::phone::is_withheld;
use ringback_shared::text_back::SkipReason;
use sea_orm::sea_query::{Cond, Expr, ExprTrait, JoinType, Query, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QueryResult, QueryTrait, Select, Set,
};
use serde_json::json;
use uuid::Uuid;

use crate::service::audit::{self, AuditEvent};
use crate::service::billing::BillingSettings;
use crate::service::callers::CallerKeyer;
use crate::service::in_clinic;
use crate::service::{attribution, external_ids};
use crate::service::{clinic, keys, metrics, restrictions, text_back};
use ringback_core::db::{stored_instant, with_literal_limit};
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;

/// Most events accepted in one batch.
pub const MAX_BATCH: usize = 500;
/// The provider name recorded for events pushed over the API.
pub const API_PROVIDER: &str = "api";

/// One call event as an integrator sends it.
pub struct CallEvent {
    pub external_id: String,
    pub direction: CallDirection,
    pub outcome: CallOutcome,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The other party's number, in any common format; never stored.
    pub caller_number: String,
    /// Which of the clinic's numbers the call came in on (or went out from), when a provider's
    /// verified webhook said.
    pub provider_number_id: Option<Uuid>,
}

/// What happened to one event of a batch.
pub enum EventResult {
    Recorded(call::Model),
    Duplicate(call::Model),
    Rejected(DomainError),
}

/// Records a batch: each event is validated and keyed on its own; rejected rows do not stop the
/// others. Attribution is recomputed for every caller touched. Missed calls are texted back within
/// `billing`'s limits when billing is on.
pub async fn record_events(
    txn: &TenantTxn,
    secrets: &Secrets,
    billing: Option<&BillingSettings>,
    provider: &str,
    events: Vec<CallEvent>,
) -> Result<Vec<(String, EventResult)>, DomainError> {
    if events.len() > MAX_BATCH {
        return Err(DomainError::BadUserInput(format!(
            "send at most {MAX_BATCH} events per batch"
        )));
    }
    let clinic = clinic::get(txn).await?;
    let keyer = CallerKeyer::new(secrets, txn, &clinic.default_region)?;
    let mut results = Vec::with_capacity(events.len());
    let mut touched = BTreeSet::new();
    for event in events {
        let external_id = event.external_id.trim().to_owned();
        let result = record_one(txn, (secrets, billing), &clinic, &keyer, provider, event).await?;
        if let EventResult::Recorded(call) = &result
            && !is_anonymous(&call.caller_key)
        {
            touched.insert(call.caller_key.clone());
        }
        results.push((external_id, result));
    }
    attribution::recompute_callers(txn, &touched).await?;
    let recorded: Vec<&call::Model> = results
        .iter()
        .filter_map(|(_, result)| match result {
            EventResult::Recorded(call) => Some(call),
            _ => None,
        })
        .collect();
    let started = |missed: bool| {
        recorded
            .iter()
            .filter(|c| c.missed == missed)
            .map(|c| c.started_at)
            .collect()
    };
    metrics::mark_stale_of(txn, &clinic, started(false), false).await?;
    metrics::mark_stale_of(txn, &clinic, started(true), true).await?;
    Ok(results)
}

async fn record_one(
    txn: &TenantTxn,
    (secrets, billing): (&Secrets, Option<&BillingSettings>),
    clinic: &ringback_entity::clinic::Model,
    keyer: &CallerKeyer,
    provider: &str,
    event: CallEvent,
) -> Result<EventResult, DomainError> {
    if let Err(error) = validate(&event, txn.now()) {
        return Ok(EventResult::Rejected(error));
    }
    if let Some(existing) = find_external(txn, provider, event.external_id.trim()).await? {
        return Ok(EventResult::Duplicate(existing));
    }
    // A caller who withheld their number rang in; any other call needs its number.
    if event.direction == CallDirection::Inbound && is_withheld(&event.caller_number) {
        return record_unkeyed(txn, (provider, &event), SkipReason::Withheld).await;
    }
    let caller = match keyer.meet(txn, &event.caller_number).await {
        Ok(caller) => caller,
        // A call that came in on one of the clinic's own numbers (a provider's verified webhook
        // said which) happened, whatever its caller ID: it is counted, as a withheld one is.
        Err(DomainError::BadUserInput(_))
            if event.direction == CallDirection::Inbound && event.provider_number_id.is_some() =>
        {
            tracing::warn!(
                provider,
                call = event.external_id.trim(),
                "a caller ID that is not a phone number: the call is counted without a caller"
            );
            return record_unkeyed(txn, (provider, &event), SkipReason::Unreadable).await;
        }
        Err(DomainError::BadUserInput(reason)) => {
            return Ok(EventResult::Rejected(DomainError::BadUserInput(reason)));
        }
        Err(error) => return Err(error),
    };
    let now = txn.now();
    let missed = event.direction == CallDirection::Inbound && event.outcome.is_missed();
    if restrictions::is_restricted(txn, &caller.keys()).await? {
        return record_unkeyed(txn, (provider, &event), SkipReason::Restricted).await;
    }
    let mut model = new_call(txn, Uuid::now_v7(), provider, &event, missed);
    model.caller_key = Set(caller.caller_key.clone());
    model.caller_tail = Set(caller.tail.clone());
    model.line_type = Set(caller.line_type.clone());
    if missed {
        model.number_sealed = Set(number_for_callback(secrets, clinic, &caller.e164)?);
    }
    let Some(model) = insert_reported(txn, model).await? else {
        return recorded_meanwhile(txn, provider, &event).await;
    };
    let model = if model.missed {
        text_back::after_missed_call(txn, secrets, billing, clinic, model, &caller, now).await?
    } else {
        model
    };
    Ok(EventResult::Recorded(model))
}

/// The row of a call as reported, before anything about its caller is known (no key, no tail,
/// no number).
fn new_call(
    txn: &TenantTxn,
    id: Uuid,
    provider: &str,
    event: &CallEvent,
    missed: bool,
) -> call::ActiveModel {
    let now = txn.now();
    call::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        id: Set(id),
        provider: Set(provider.to_owned()),
        external_id: Set(event.external_id.trim().to_owned()),
        direction: Set(event.direction.as_str().to_owned()),
        status: Set(event.outcome.as_str().to_owned()),
        missed: Set(missed),
        caller_key: Set(anonymous_key(id)),
        caller_tail: Set(HIDDEN_TAIL.to_owned()),
        line_type: Set(None),
        started_at: Set(stored_instant(event.started_at)),
        answered_at: Set(event.answered_at.map(stored_instant)),
        ended_at: Set(event.ended_at.map(stored_instant)),
        text_back_status: Set(None),
        text_back_error: Set(None),
        provider_number_id: Set(event.provider_number_id),
        number_sealed: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        callback_placed_at: Set(None),
        callback_placed_by: Set(None),
        callback_unconfirmed: Set(false),
        callback_placement: Set(None),
        callback_dialled_at: Set(None),
    }
}

/// Stores `event` (from `provider`) as an unkeyed call ([`unkeyed_call`]) for reason `why`.
async fn record_unkeyed(
    txn: &TenantTxn,
    (provider, event): (&str, &CallEvent),
    why: SkipReason,
) -> Result<EventResult, DomainError> {
    let missed = event.direction == CallDirection::Inbound && event.outcome.is_missed();
    let call = new_call(txn, Uuid::now_v7(), provider, event, missed);
    match insert_reported(txn, unkeyed_call(call, missed, why)).await? {
        Some(model) => Ok(EventResult::Recorded(model)),
        None => recorded_meanwhile(txn, provider, event).await,
    }
}

/// Inserts `call` as reported; `None` when a request overlapping this one (an integrator's retry
/// sent while the first was still running) recorded the same provider's call first. The insert
/// waits for that request and then does nothing, so no unique violation ends this batch's
/// transaction and the event reads as the duplicate it is.
async fn insert_reported(
    txn: &TenantTxn,
    call: call::ActiveModel,
) -> Result<Option<call::Model>, DomainError> {
    let inserted = call::Entity::insert(call)
        .on_conflict_do_nothing_on([
            call::Column::ClinicId,
            call::Column::Provider,
            call::Column::ExternalId,
        ])
        .exec_with_returning(txn.conn())
        .await;
    Ok(ringback_core::db::stored_unless_taken(inserted)?)
}

/// The call another request recorded for `event` while this one ran, as a duplicate.
async fn recorded_meanwhile(
    txn: &TenantTxn,
    provider: &str,
    event: &CallEvent,
) -> Result<EventResult, DomainError> {
    find_external(txn, provider, event.external_id.trim())
        .await?
        .map(EventResult::Duplicate)
        .ok_or_else(|| DomainError::Internal("a call neither inserted nor found".to_owned()))
}

/// A call from a caller on the do-not-process list, one who withheld their number, or one whose
/// caller ID cannot be read (`why`):
/// counted in the figures, but stored under the stand-in key [`new_call`] gives it (it links to
/// nobody), with no tail, line type or number, never on the worklist and never texted.
fn unkeyed_call(mut call: call::ActiveModel, missed: bool, why: SkipReason) -> call::ActiveModel {
    call.text_back_status = Set(missed.then(|| why.status().to_owned()));
    call
}

/// A missed caller's number sealed for a callback from inside the server, in the `text_back`
/// privacy mode only (strict mode keeps no number).
fn number_for_callback(
    secrets: &Secrets,
    clinic: &ringback_entity::clinic::Model,
    e164: &str,
) -> Result<Option<Vec<u8>>, DomainError> {
    if clinic.privacy_mode != clinic::TEXT_BACK_MODE {
        return Ok(None);
    }
    let key = keys::data_key(secrets, clinic)?;
    keys::seal_caller_number(&key, clinic.id, e164).map(Some)
}

/// Checks an event's shape; `now` is the server's clock, which a start may not be far ahead of.
fn validate(event: &CallEvent, now: DateTime<Utc>) -> Result<(), DomainError> {
    external_ids::checked(&event.external_id)?;
    let answered = event.outcome == CallOutcome::Answered;
    if event.answered_at.is_some() && !answered {
        return Err(DomainError::BadUserInput(
            "answeredAt is only for answered calls".to_owned(),
        ));
    }
    if event.answered_at.is_some_and(|at| at < event.started_at)
        || event.ended_at.is_some_and(|at| at < event.started_at)
    {
        return Err(DomainError::BadUserInput(
            "answeredAt and endedAt cannot precede startedAt".to_owned(),
        ));
    }
    not_ahead("startedAt", event.started_at, now)
}

/// How far ahead of the server's clock an instant from another system may be.
const CLOCK_DIFFERENCE_ALLOWED: chrono::Duration = chrono::Duration::minutes(5);

/// Refuses `field`'s instant `at` when it is in the future (a few minutes of clock difference
/// between systems allowed): a call, callback or booking reported ahead of time would, for one,
/// keep every missed call of its caller until then off the worklist.
pub(crate) fn not_ahead(
    field: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    if at > now + CLOCK_DIFFERENCE_ALLOWED {
        return Err(DomainError::BadUserInput(format!(
            "{field} is in the future"
        )));
    }
    Ok(())
}

async fn find_external(
    txn: &TenantTxn,
    provider: &str,
    external_id: &str,
) -> Result<Option<call::Model>, DomainError> {
    Ok(txn
        .find::<call::Entity>()
        .filter(call::Column::Provider.eq(provider))
        .filter(call::Column::ExternalId.eq(external_id))
        .one(txn.conn())
        .await?)
}

/// Most ids one `IN (…)` lists: SQLite and PostgreSQL cap a statement's parameters, and a
/// metrics range at 100× today's texts names tens of thousands of calls.
pub(crate) const IDS_PER_QUERY: usize = 1_000;

/// The clinic's calls among `ids` (missing ones are left out), read [`IDS_PER_QUERY`] at a time.
pub async fn with_ids(txn: &TenantTxn, ids: &[Uuid]) -> Result<Vec<call::Model>, DomainError> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_QUERY) {
        found.extend(
            txn.find::<call::Entity>()
                .filter(call::Column::Id.is_in(chunk.iter().copied()))
                .all(txn.conn())
                .await?,
        );
    }
    Ok(found)
}

/// One call by id.
pub async fn find(txn: &TenantTxn, id: Uuid) -> Result<call::Model, DomainError> {
    in_clinic::<call::Entity>(txn, id)
        .await?
        .ok_or(DomainError::NotFound)
}

/// The calls with `call`'s caller that came after it (by start, then id), as the shared rules
/// read them: one range of the `(clinic, caller_key, started_at)` index, a caller's calls since
/// one of theirs.
pub async fn of_caller_after(
    txn: &TenantTxn,
    call: &call::Model,
) -> Result<Vec<ringback_shared::attribution::CallRecord>, DomainError> {
    let later = txn
        .find::<call::Entity>()
        .filter(call::Column::CallerKey.eq(call.caller_key.as_str()))
        .filter(call::Column::StartedAt.gte(call.started_at))
        .filter(call::Column::Id.ne(call.id))
        .all(txn.conn())
        .await?;
    Ok(later
        .iter()
        .filter(|later| (later.started_at, later.id) > (call.started_at, call.id))
        .filter_map(call_record)
        .collect())
}

/// Who logged a callback: staff in the dashboard, or an integrator through an API key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoggedBy {
    Staff,
    Integrator,
}

impl LoggedBy {
    /// The `provider` a logged callback is stored under: an integrator's ids share the namespace
    /// of the calls it records, staff's are the server's own.
    fn provider(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Integrator => API_PROVIDER,
        }
    }
}

/// A callback logged by hand: by whom, and the sender's own id for it when it has one (a
/// retry with the same id returns the callback logged the first time).
pub struct LoggedCallback {
    pub by: LoggedBy,
    pub external_id: Option<String>,
    pub outcome: CallOutcome,
    pub at: DateTime<Utc>,
}

/// A callback logged by hand to the caller of call `call_id`, with its outcome.
pub async fn log_callback(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    call_id: Uuid,
    logged: LoggedCallback,
) -> Result<call::Model, DomainError> {
    let original = find(txn, call_id).await?;
    let provider = logged.by.provider();
    let external_id = external_ids::optional(logged.external_id.as_deref())?;
    if let Some(external_id) = &external_id
        && let Some(existing) = find_external(txn, provider, external_id).await?
    {
        return repeated_callback(txn, existing, &original).await;
    }
    let external_id = external_id.unwrap_or_else(|| Uuid::now_v7().to_string());
    let inserted = insert_callback(
        txn,
        &original,
        (provider, &external_id),
        logged.outcome,
        logged.at,
    )
    .await?;
    let Some(callback) = inserted else {
        let existing = find_external(txn, provider, &external_id)
            .await?
            .ok_or_else(|| {
                DomainError::Internal("a callback neither inserted nor found".to_owned())
            })?;
        return repeated_callback(txn, existing, &original).await;
    };
    audit::append(
        txn,
        AuditEvent {
            actor,
            action: "call.callback_logged",
            detail: json!({ "call": call_id, "callback": callback.id, "outcome": logged.outcome.as_str() }),
        },
    )
    .await?;
    Ok(callback)
}

/// A callback logged again with the id of `existing`: the same callback when it went to the
/// caller of `original` (kept under a stand-in key when that caller objected: [`insert_callback`]);
/// otherwise the id names another call, a conflict.
async fn repeated_callback(
    txn: &TenantTxn,
    existing: call::Model,
    original: &call::Model,
) -> Result<call::Model, DomainError> {
    let to_the_same_caller = existing.caller_key == original.caller_key
        || (is_anonymous(&existing.caller_key)
            && restrictions::is_restricted(txn, std::slice::from_ref(&original.caller_key))
                .await?);
    if existing.direction == CallDirection::Outbound.as_str() && to_the_same_caller {
        Ok(existing)
    } else {
        Err(DomainError::Conflict(
            "this externalId already names another call".to_owned(),
        ))
    }
}

/// A callback the provider placed for staff (`external_id` is its call id) to the caller of
/// `original`, with the outcome it reported; recorded once per provider call.
pub async fn record_placed_callback(
    txn: &TenantTxn,
    original: &call::Model,
    provider: &str,
    external_id: &str,
    outcome: CallOutcome,
    at: DateTime<Utc>,
) -> Result<(), DomainError> {
    if find_external(txn, provider, external_id).await?.is_none() {
        insert_callback(txn, original, (provider, external_id), outcome, at).await?;
    }
    Ok(())
}

/// Stores an outbound call to the caller of `original` and brings attribution and the metrics up
/// to date; `None` when a request overlapping this one stored the same `(provider, external_id)`
/// first.
async fn insert_callback(
    txn: &TenantTxn,
    original: &call::Model,
    (provider, external_id): (&str, &str),
    outcome: CallOutcome,
    at: DateTime<Utc>,
) -> Result<Option<call::Model>, DomainError> {
    let at = stored_instant(at);
    if at < original.started_at {
        return Err(DomainError::BadUserInput(
            "a callback cannot precede the call it answers".to_owned(),
        ));
    }
    let now = txn.now();
    not_ahead("at", at, now)?;
    // A caller who objected is counted without their key: the callback is kept as a call to
    // nobody in particular, and their record is not recomputed.
    let restricted =
        restrictions::is_restricted(txn, std::slice::from_ref(&original.caller_key)).await?;
    let id = Uuid::now_v7();
    let (caller_key, caller_tail, line_type) = if restricted {
        (anonymous_key(id), HIDDEN_TAIL.to_owned(), None)
    } else {
        (
            original.caller_key.clone(),
            original.caller_tail.clone(),
            original.line_type.clone(),
        )
    };
    let callback = call::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        id: Set(id),
        provider: Set(provider.to_owned()),
        external_id: Set(external_id.to_owned()),
        direction: Set(CallDirection::Outbound.as_str().to_owned()),
        status: Set(outcome.as_str().to_owned()),
        missed: Set(false),
        caller_key: Set(caller_key),
        caller_tail: Set(caller_tail),
        line_type: Set(line_type),
        started_at: Set(at),
        answered_at: Set((outcome == CallOutcome::Answered).then_some(at)),
        ended_at: Set(None),
        text_back_status: Set(None),
        text_back_error: Set(None),
        provider_number_id: Set(None),
        number_sealed: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        callback_placed_at: Set(None),
        callback_placed_by: Set(None),
        callback_unconfirmed: Set(false),
        callback_placement: Set(None),
        callback_dialled_at: Set(None),
    };
    let Some(callback) = insert_reported(txn, callback).await? else {
        return Ok(None);
    };
    if !restricted {
        attribution::recompute_callers(txn, &BTreeSet::from([original.caller_key.clone()])).await?;
    }
    metrics::mark_stale(txn, [callback.started_at], false).await?;
    Ok(Some(callback))
}

/// Filters for the call list; all optional.
#[derive(Default)]
pub struct CallFilter {
    pub direction: Option<CallDirection>,
    pub outcome: Option<CallOutcome>,
    pub missed: Option<bool>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub caller_key: Option<String>,
}

/// Where a page starts: after this (started_at, id), newest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallCursor {
    pub started_at: DateTime<Utc>,
    pub id: Uuid,
}

impl CallCursor {
    /// Opaque text form.
    pub fn encode(&self) -> String {
        format!(
            "{}_{}",
            self.started_at.timestamp_micros(),
            self.id.simple()
        )
    }

    /// Parses [`CallCursor::encode`]'s output.
    pub fn decode(text: &str) -> Option<Self> {
        let (micros, id) = text.split_once('_')?;
        Some(Self {
            started_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: Uuid::try_parse(id).ok()?,
        })
    }
}

ringback_core::row_by_position! {
    /// A call as lists show it: the stored row without the sealed number, the provider's own id
    /// and the row's bookkeeping times, which no list shows (a page of calls reads and decodes
    /// less).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct ListedCall {
        pub id: Uuid => call::Column::Id,
        pub provider: String => call::Column::Provider,
        pub direction: String => call::Column::Direction,
        pub status: String => call::Column::Status,
        pub missed: bool => call::Column::Missed,
        pub caller_key: String => call::Column::CallerKey,
        pub caller_tail: String => call::Column::CallerTail,
        pub line_type: Option<String> => call::Column::LineType,
        pub started_at: DateTime<Utc> => call::Column::StartedAt,
        pub answered_at: Option<DateTime<Utc>> => call::Column::AnsweredAt,
        pub ended_at: Option<DateTime<Utc>> => call::Column::EndedAt,
        pub text_back_status: Option<String> => call::Column::TextBackStatus,
        pub text_back_error: Option<i32> => call::Column::TextBackError,
    }
}

impl From<call::Model> for ListedCall {
    /// Takes the row's strings over instead of copying them.
    fn from(model: call::Model) -> Self {
        Self {
            id: model.id,
            provider: model.provider,
            direction: model.direction,
            status: model.status,
            missed: model.missed,
            caller_key: model.caller_key,
            caller_tail: model.caller_tail,
            line_type: model.line_type,
            started_at: model.started_at,
            answered_at: model.answered_at,
            ended_at: model.ended_at,
            text_back_status: model.text_back_status,
            text_back_error: model.text_back_error,
        }
    }
}

/// The booking a missed call was credited with: the appointment, its value and the recovery
/// touch that earned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credit {
    pub appointment_id: Uuid,
    pub value_minor: i64,
    pub touch_kind: Option<String>,
    pub touch_at: Option<DateTime<Utc>>,
}

impl From<&attribution_row::Model> for Credit {
    fn from(row: &attribution_row::Model) -> Self {
        Self {
            appointment_id: row.appointment_id,
            value_minor: row.value_minor,
            touch_kind: row.touch_kind.clone(),
            touch_at: row.touch_at,
        }
    }
}

ringback_core::row_by_position! {
    /// The credit columns a page reads beside each call, from the attribution crediting it: all
    /// null for a call that was not missed or was credited to no appointment.
    struct CreditColumns {
        appointment_id: Option<Uuid> => attribution_row::Column::AppointmentId,
        value_minor: Option<i64> => attribution_row::Column::ValueMinor,
        touch_kind: Option<String> => attribution_row::Column::TouchKind,
        touch_at: Option<DateTime<Utc>> => attribution_row::Column::TouchAt,
    }
}

impl CreditColumns {
    fn credit(self) -> Option<Credit> {
        Some(Credit {
            appointment_id: self.appointment_id?,
            value_minor: self.value_minor.unwrap_or_default(),
            touch_kind: self.touch_kind,
            touch_at: self.touch_at,
        })
    }
}

/// A call on a page of the list, with its credit read in the same statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallOnPage {
    pub call: ListedCall,
    /// The appointment the call was credited to, if any (each missed call is credited at most
    /// once; were a second attribution ever to name it, the page shows the one whose appointment
    /// id sorts first, never the call twice).
    pub credit: Option<Credit>,
}

impl FromQueryResult for CallOnPage {
    fn from_query_result(row: &QueryResult, _prefix: &str) -> Result<Self, DbErr> {
        Ok(Self {
            call: ListedCall::read_at(row, 0)?,
            credit: CreditColumns::read_at(row, ListedCall::COLUMNS)?.credit(),
        })
    }
}

/// Whether an attribution (a row of `attributions`) is the first, by appointment id, to name its
/// call: the one credit a call shows, on a calls page (where a call joins at most one row) and
/// when it loads its credit on its own ([`crate::service::attribution::crediting_calls`]).
/// Written once for both databases (quoted names); PostgreSQL checks it only for the rows the
/// index on the missed call finds, an anti-join that is empty unless a call were ever named twice.
pub(crate) const FIRST_TO_NAME_ITS_CALL: &str = "NOT EXISTS (SELECT 1 FROM \"attributions\" AS \"earlier\" \
     WHERE \"earlier\".\"clinic_id\" = \"attributions\".\"clinic_id\" \
     AND \"earlier\".\"missed_call_id\" = \"attributions\".\"missed_call_id\" \
     AND \"earlier\".\"appointment_id\" < \"attributions\".\"appointment_id\")";

/// `query` (calls) with the attribution that credits each missed call, if any, under the name
/// `attributions` (so [`CreditColumns`] reads it the same way on both databases).
///
/// On PostgreSQL a lateral subquery per call: it probes the index on the missed call only for
/// missed calls (a plain left join probes it for every call on the page and drops the rows after)
/// and keeps the first to name its call. Measured with pgbench on the bench's demo clinic, the
/// page's transaction ran 9,052 times a second this way against 6,947 with the plain join (both
/// with the calls read in index order). SQLite has no lateral joins: there it is the plain join,
/// with the same rule for which attribution a call shows.
fn with_credits(mut query: Select<call::Entity>, backend: DbBackend) -> Select<call::Entity> {
    let select = QueryTrait::query(&mut query);
    match backend {
        DbBackend::Postgres => {
            let mut first_credit = Query::select();
            CreditColumns::select_into(&mut first_credit)
                .from(attribution_row::Entity)
                .cond_where(names_the_missed_call());
            select.join_lateral(
                JoinType::LeftJoin,
                first_credit,
                attribution_row::Entity,
                Expr::cust("TRUE"),
            );
        }
        _ => {
            select.join(
                JoinType::LeftJoin,
                attribution_row::Entity,
                names_the_missed_call(),
            );
        }
    }
    query
}

/// An attribution (a row of `attributions`) that credits the call (a row of `calls`) it is
/// joined with: the call was missed, and the attribution is the first to name it.
fn names_the_missed_call() -> Cond {
    let attribution = |column| Expr::col((attribution_row::Entity, column));
    Cond::all()
        .add(
            attribution(attribution_row::Column::ClinicId)
                .equals((call::Entity, call::Column::ClinicId)),
        )
        .add(
            attribution(attribution_row::Column::MissedCallId)
                .equals((call::Entity, call::Column::Id)),
        )
        .add(Expr::col((call::Entity, call::Column::Missed)).eq(true))
        .add(Expr::cust(FIRST_TO_NAME_ITS_CALL))
}

/// Calls after `cursor` in the list's order (newest first): one row comparison, which the index
/// on the clinic's calls by start and id answers as a range (the equivalent `started_at < t OR
/// (started_at = t AND id < i)` made PostgreSQL read every newer call and drop it).
fn older_than(cursor: CallCursor) -> SimpleExpr {
    let column = |column| Expr::col((call::Entity, column));
    Expr::tuple([column(call::Column::StartedAt), column(call::Column::Id)]).lt(Expr::tuple([
        Expr::value(cursor.started_at),
        Expr::value(cursor.id),
    ]))
}

/// Up to `limit + 1` calls matching `filter` after `cursor`, newest first (the extra row tells
/// whether another page exists), each with its credit, in one statement. Reading the list is
/// audited.
pub async fn list(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    filter: &CallFilter,
    after: Option<CallCursor>,
    limit: u64,
) -> Result<Vec<CallOnPage>, DomainError> {
    let mut query = txn.find::<call::Entity>();
    if let Some(direction) = filter.direction {
        query = query.filter(call::Column::Direction.eq(direction.as_str()));
    }
    if let Some(outcome) = filter.outcome {
        query = query.filter(call::Column::Status.eq(outcome.as_str()));
    }
    if let Some(missed) = filter.missed {
        query = query.filter(call::Column::Missed.eq(missed));
    }
    if let Some(from) = filter.from {
        query = query.filter(call::Column::StartedAt.gte(from));
    }
    if let Some(until) = filter.until {
        query = query.filter(call::Column::StartedAt.lt(until));
    }
    if let Some(key) = &filter.caller_key {
        query = query.filter(call::Column::CallerKey.eq(key.clone()));
    }
    if let Some(cursor) = after {
        query = query.filter(older_than(cursor));
    }
    let backend = txn.conn().get_database_backend();
    let page = CreditColumns::select_also(ListedCall::select(with_credits(
        query
            .order_by_desc(call::Column::StartedAt)
            .order_by_desc(call::Column::Id),
        backend,
    )));
    let statement = with_literal_limit(page, backend, limit + 1);
    let calls = CallOnPage::find_by_statement(statement)
        .all(txn.conn())
        .await?;
    audit::note_read(
        txn,
        AuditEvent {
            actor,
            action: "calls.list_read",
            detail: json!({ "rows": calls.len() }),
        },
    )
    .await?;
    Ok(calls)
}

/// Records on a call what became of its text-back (`sent`, `delivered`, `failed`, a skip reason).
pub async fn set_text_back_status(
    txn: &TenantTxn,
    call_id: Uuid,
    status: &str,
) -> Result<(), DomainError> {
    let mut model: call::ActiveModel = find(txn, call_id).await?.into();
    model.text_back_status = Set(Some(status.to_owned()));
    model.update(txn.conn()).await?;
    Ok(())
}

/// Shows on call `call_id` how its text-back `message` fared: its status, and why it was not
/// delivered when it was not.
pub async fn set_text_back_delivery(
    txn: &TenantTxn,
    call_id: Uuid,
    message: &ringback_entity::message::Model,
) -> Result<(), DomainError> {
    let mut model: call::ActiveModel = find(txn, call_id).await?.into();
    model.text_back_status = Set(Some(message.status.clone()));
    model.text_back_error = Set(message.delivery_error);
    model.update(txn.conn()).await?;
    Ok(())
}

/// A stored call as the shared rules see it; rows with unknown names are skipped.
pub fn call_record(model: &call::Model) -> Option<ringback_shared::attribution::CallRecord> {
    Some(ringback_shared::attribution::CallRecord {
        id: model.id,
        caller_key: model.caller_key.clone(),
        at: model.started_at,
        direction: CallDirection::parse(&model.direction)?,
        outcome: CallOutcome::parse(&model.status)?,
    })
}
