//! Appointments over GraphQL: list (by day and by the caller's masked tail) with each one's
//! attribution and its reason in plain words; create, update and cancel (staff and write keys);
//! and the callers the clinic has spoken to, whom a booking can be for.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{ComplexObject, Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use ringback_core::tenant::TenantTxn;
use ringback_entity::attribution;
use ringback_shared::access::Permission;

use crate::calls::Call;
use crate::calls::page_size;
use crate::error::{DomainError, graphql_error};
use crate::guard::{Access, principal, uuid_arg, with_tenant, with_tenant_read_only};
use crate::loaders::{CallLoader, load_permitted};
use ringback_domain::Backend;
use ringback_domain::auth::Credential;
use ringback_domain::service::appointments::{
    self, AppointmentFilter, CallerRef, ListedAppointment, NewAppointment,
};
use ringback_domain::service::known_callers;

/// Recovered or not.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum AttributionStatus {
    Recovered,
    Unattributed,
}

/// Why an appointment counts as recovered, or why not.
#[derive(SimpleObject)]
pub struct AttributionView {
    pub status: AttributionStatus,
    /// recovered, cancelled, no_missed_call_in_window, no_recovery_touch or
    /// missed_calls_already_credited.
    pub reason: String,
    /// The reason in plain words.
    pub explanation: String,
    pub missed_call_id: Option<ID>,
    pub missed_call_at: Option<DateTime<Utc>>,
    /// callback, text_reply or return_call.
    pub touch_kind: Option<String>,
    pub touch_id: Option<ID>,
    pub touch_at: Option<DateTime<Utc>>,
    pub window_days: i32,
}

pub(crate) fn explain(row: &attribution::Model) -> String {
    match row.reason.as_str() {
        "recovered" => {
            let touch = match row.touch_kind.as_deref() {
                Some("callback") => "the clinic called back",
                Some("text_reply") => "the caller replied to the text-back",
                _ => "the caller rang back and got through",
            };
            format!(
                "Booked after a missed call; {touch} before the booking, within {} days.",
                row.window_days
            )
        }
        "cancelled" => "Cancelled appointments take no credit.".to_owned(),
        "no_missed_call_in_window" => format!(
            "No missed call from this caller in the {} days before booking.",
            row.window_days
        ),
        "no_recovery_touch" => {
            "There was a missed call, but no callback, reply or return call before booking."
                .to_owned()
        }
        "missed_calls_already_credited" => {
            "Every eligible missed call was already credited to an earlier booking.".to_owned()
        }
        other => other.to_owned(),
    }
}

impl From<&attribution::Model> for AttributionView {
    fn from(row: &attribution::Model) -> Self {
        Self {
            status: if row.outcome == "recovered" {
                AttributionStatus::Recovered
            } else {
                AttributionStatus::Unattributed
            },
            reason: row.reason.clone(),
            explanation: explain(row),
            missed_call_id: row.missed_call_id.map(|id| ID(id.to_string())),
            missed_call_at: row.missed_call_at,
            touch_kind: row.touch_kind.clone(),
            touch_id: row.touch_id.map(|id| ID(id.to_string())),
            touch_at: row.touch_at,
            window_days: row.window_days,
        }
    }
}

/// An appointment and its attribution.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Appointment {
    pub id: ID,
    pub caller_key: String,
    /// staff, integrator or ai.
    pub source: String,
    pub external_id: Option<String>,
    /// Value in minor units of the clinic's currency.
    pub value_minor: i64,
    pub starts_at: Option<DateTime<Utc>>,
    /// How long the visit takes in minutes, when known (a booked service's length); its event in
    /// the clinic's Google calendar lasts that long, else 30 minutes.
    pub duration_minutes: Option<i32>,
    /// Whether the booking has an event in a Google calendar of the clinic's (its last sync put
    /// one there).
    pub in_calendar: bool,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The caller's masked number (e.g. "•••• 123"), when the clinic has one for them.
    pub caller_tail: Option<String>,
    pub attribution: Option<AttributionView>,
    #[graphql(skip)]
    pub missed_call_id: Option<uuid::Uuid>,
}

#[ComplexObject]
impl Appointment {
    /// The missed call this appointment recovered, if any (loaded in one batch for a whole list).
    async fn missed_call(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Call>> {
        let Some(id) = self.missed_call_id else {
            return Ok(None);
        };
        let access = Access::Read(Permission::WorkCalls);
        let call = load_permitted::<CallLoader, _>(ctx, access, id).await?;
        Ok(call.map(Call::from))
    }
}

impl From<ListedAppointment> for Appointment {
    fn from(listed: ListedAppointment) -> Self {
        let ListedAppointment {
            appointment: model,
            verdict,
            caller_tail,
        } = listed;
        let verdict = verdict.as_ref();
        Self {
            id: ID(model.id.to_string()),
            caller_key: model.caller_key.clone(),
            source: model.source.clone(),
            external_id: model.external_id.clone(),
            value_minor: model.value_minor,
            starts_at: model.starts_at,
            duration_minutes: model.duration_minutes,
            in_calendar: model.calendar_event_in.is_some(),
            cancelled_at: model.cancelled_at,
            created_at: model.created_at,
            caller_tail,
            attribution: verdict.map(AttributionView::from),
            missed_call_id: verdict.and_then(|v| v.missed_call_id),
        }
    }
}

/// A new appointment: give the caller as a number (keyed on arrival, never stored) or as a key.
#[derive(InputObject)]
pub struct CreateAppointmentInput {
    pub caller_number: Option<String>,
    pub caller_key: Option<String>,
    pub value_minor: i64,
    pub starts_at: Option<DateTime<Utc>>,
    /// The start in the clinic's own time, written `YYYY-MM-DDTHH:MM` (instead of `startsAt`).
    pub starts_local: Option<String>,
    /// Your system's id; sending it again for the same caller returns the appointment created
    /// the first time, as it stands now (CONFLICT when that appointment was cancelled or is for
    /// another caller).
    pub external_id: Option<String>,
    /// When it was booked, for imported history (not in the future, nor before the calls the
    /// clinic's retention has deleted could be weighed: BAD_USER_INPUT names the earliest); now
    /// when left out. Attribution credits the calls that preceded this moment.
    pub booked_at: Option<DateTime<Utc>>,
}

/// Which appointments to list: the clinic-local days `from..=to` (by start, or by booking when
/// there is no start; either end may be left open) and the callers whose masked number ends in
/// `callerTail` (its three digits).
#[derive(InputObject, Default)]
pub struct AppointmentFilterInput {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub caller_tail: Option<String>,
}

impl From<AppointmentFilterInput> for AppointmentFilter {
    fn from(input: AppointmentFilterInput) -> Self {
        Self {
            from: input.from,
            to: input.to,
            caller_tail: input.caller_tail,
        }
    }
}

/// A caller the clinic has spoken to, as staff may see them: the key and the masked number.
#[derive(SimpleObject)]
pub struct KnownCaller {
    pub caller_key: String,
    /// E.g. "•••• 123".
    pub caller_tail: String,
    /// The newest call or text with them.
    pub last_contact_at: DateTime<Utc>,
}

impl From<known_callers::KnownCaller> for KnownCaller {
    fn from(caller: known_callers::KnownCaller) -> Self {
        Self {
            caller_key: caller.caller_key,
            caller_tail: caller.caller_tail,
            last_contact_at: caller.last_contact_at,
        }
    }
}

#[derive(Default)]
pub struct AppointmentQuery;

#[Object]
impl AppointmentQuery {
    /// Appointments, newest first, each with its attribution; at most 100 per page. `filter`
    /// narrows them to clinic-local days and to callers by masked tail.
    async fn appointments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        filter: Option<AppointmentFilterInput>,
    ) -> async_graphql::Result<Connection<String, Appointment>> {
        let filter = filter.map(AppointmentFilter::from).unwrap_or_default();
        let (mut rows, limit) = with_tenant_read_only(
            ctx,
            Access::Read(Permission::WorkCalls),
            async |txn, principal| {
                let limit = page_size(first)?;
                let after = after
                    .as_deref()
                    .map(|text| uuid_arg(&ID(text.to_owned())))
                    .transpose()?;
                let rows =
                    appointments::list(txn, principal.actor(), &filter, after, limit).await?;
                Ok((rows, limit))
            },
        )
        .await?;
        let has_next = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let mut connection = Connection::new(false, has_next);
        for listed in rows {
            let cursor = listed.appointment.id.to_string();
            connection
                .edges
                .push(Edge::new(cursor, Appointment::from(listed)));
        }
        Ok(connection)
    }

    /// The callers the clinic has spoken to (a call either way, or a text), newest contact
    /// first, up to `first` (at most 50); with `tail` (the three digits of a masked number)
    /// only those it matches. Callers with a hidden number are not listed.
    async fn known_callers(
        &self,
        ctx: &Context<'_>,
        tail: Option<String>,
        #[graphql(default = 20)] first: i32,
    ) -> async_graphql::Result<Vec<KnownCaller>> {
        let callers = with_tenant_read_only(
            ctx,
            Access::Read(Permission::WorkCalls),
            async |txn, principal| {
                let limit = u64::try_from(first).unwrap_or(1);
                known_callers::list(txn, principal.actor(), tail.as_deref(), limit).await
            },
        )
        .await?;
        Ok(callers.into_iter().map(KnownCaller::from).collect())
    }

    /// One appointment.
    async fn appointment(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Appointment> {
        let listed = with_tenant(ctx, Access::Read(Permission::WorkCalls), async |txn, _| {
            let model = appointments::find(txn, uuid_arg(&id)?).await?;
            appointments::listed(txn, model).await
        })
        .await?;
        Ok(Appointment::from(listed))
    }
}

#[derive(Default)]
pub struct AppointmentMutation;

/// The start a change gives: `startsAt` as an instant, or `startsLocal` in the clinic's time;
/// not both.
async fn start_given(
    txn: &TenantTxn,
    starts_at: Option<DateTime<Utc>>,
    starts_local: Option<&str>,
) -> Result<Option<DateTime<Utc>>, DomainError> {
    match (starts_at, starts_local) {
        (Some(_), Some(_)) => Err(DomainError::BadUserInput(
            "give startsAt or startsLocal, not both".to_owned(),
        )),
        (None, Some(text)) => Ok(Some(appointments::local_start(txn, text).await?)),
        (at, None) => Ok(at),
    }
}

#[Object]
impl AppointmentMutation {
    /// Books an appointment and attributes it.
    async fn create_appointment(
        &self,
        ctx: &Context<'_>,
        input: CreateAppointmentInput,
    ) -> async_graphql::Result<Appointment> {
        let backend = ctx.data::<Backend>()?;
        let staff_member = match principal(ctx).await?.credential {
            Credential::Session { user_id } => Some(user_id),
            Credential::ApiKey { .. } => None,
        };
        let source = if staff_member.is_some() {
            "staff"
        } else {
            "integrator"
        };
        let caller = match (input.caller_number, input.caller_key) {
            (Some(number), None) => CallerRef::Number(number),
            (None, Some(key)) => CallerRef::Key(key),
            _ => {
                return Err(graphql_error(DomainError::BadUserInput(
                    "give callerNumber or callerKey, not both".to_owned(),
                )));
            }
        };
        // A number staff type in says who is a caller (the answer's tail and attribution), as
        // `findCaller` does: it counts against the same allowance per person.
        if let (CallerRef::Number(_), Some(user)) = (&caller, staff_member) {
            backend
                .rate_limits
                .caller_lookup(user)
                .map_err(graphql_error)?;
        }
        let listed = with_tenant(
            ctx,
            Access::Write(Permission::WorkCalls),
            async |txn, principal| {
                let new = NewAppointment {
                    caller,
                    value_minor: input.value_minor,
                    starts_at: start_given(txn, input.starts_at, input.starts_local.as_deref())
                        .await?,
                    duration_minutes: None,
                    source,
                    external_id: input.external_id,
                    booked_at: input.booked_at.unwrap_or_else(|| backend.clock.now()),
                };
                let created =
                    appointments::create(txn, &backend.secrets, principal.actor(), new).await?;
                appointments::listed(txn, created).await
            },
        )
        .await?;
        Ok(Appointment::from(listed))
    }

    /// Changes an appointment's value or start (`startsAt` as an instant, or `startsLocal` in
    /// the clinic's time, written `YYYY-MM-DDTHH:MM`).
    async fn update_appointment(
        &self,
        ctx: &Context<'_>,
        id: ID,
        value_minor: Option<i64>,
        starts_at: Option<DateTime<Utc>>,
        starts_local: Option<String>,
    ) -> async_graphql::Result<Appointment> {
        let listed = with_tenant(
            ctx,
            Access::Write(Permission::WorkCalls),
            async |txn, principal| {
                let starts_at = start_given(txn, starts_at, starts_local.as_deref()).await?;
                let id = uuid_arg(&id)?;
                let updated =
                    appointments::update(txn, principal.actor(), id, value_minor, starts_at)
                        .await?;
                appointments::listed(txn, updated).await
            },
        )
        .await?;
        Ok(Appointment::from(listed))
    }

    /// Cancels an appointment; it takes no credit from then on.
    async fn cancel_appointment(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Appointment> {
        let listed = with_tenant(
            ctx,
            Access::Write(Permission::WorkCalls),
            async |txn, principal| {
                let cancelled =
                    appointments::cancel(txn, principal.actor(), uuid_arg(&id)?).await?;
                appointments::listed(txn, cancelled).await
            },
        )
        .await?;
        Ok(Appointment::from(listed))
    }
}
