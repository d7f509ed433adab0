//! Calls over GraphQL: the filtered, paginated list (staff and read keys), `recordCallEvents` for
//! integrators with write keys, and `logCallback` for staff.

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::parser::types::Field;
use async_graphql::resolver_utils::enum_value;
use async_graphql::{
    ComplexObject, Context, ContextSelectionSet, Enum, ID, InputObject, Object, Positioned,
    SimpleObject, Value,
};
use chrono::{DateTime, Utc};

use ringback_entity::call;
use ringback_shared::access::Permission;
use ringback_shared::attribution::{CallDirection, CallOutcome};

use crate::guard::{Access, principal, uuid_arg, with_tenant, with_tenant_read_only};
use crate::loaders::{CreditLoader, load_permitted};
use crate::plain::{Plain, PlainObject, answer_now, optional, scalar};
use ringback_core::error::DomainError;
use ringback_domain::Backend;
use ringback_domain::auth::Credential;
use ringback_domain::service::callers::parse_caller_key;
use ringback_domain::service::calls::{
    self, CallCursor, CallEvent, CallFilter, CallOnPage, Credit, EventResult, ListedCall, LoggedBy,
    LoggedCallback,
};

/// Largest page a list returns.
pub const MAX_PAGE: i32 = 100;

/// Which way a call went.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl From<Direction> for CallDirection {
    fn from(direction: Direction) -> Self {
        match direction {
            Direction::Inbound => Self::Inbound,
            Direction::Outbound => Self::Outbound,
        }
    }
}

/// How a call ended. Inbound calls other than ANSWERED are missed.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum CallStatus {
    Answered,
    NoAnswer,
    Busy,
    Failed,
    Canceled,
    Voicemail,
    Machine,
    /// No forwarding line was set; the caller was told they would be texted back.
    NoLine,
}

impl From<CallStatus> for CallOutcome {
    fn from(status: CallStatus) -> Self {
        match status {
            CallStatus::Answered => Self::Answered,
            CallStatus::NoAnswer => Self::NoAnswer,
            CallStatus::Busy => Self::Busy,
            CallStatus::Failed => Self::Failed,
            CallStatus::Canceled => Self::Canceled,
            CallStatus::Voicemail => Self::Voicemail,
            CallStatus::Machine => Self::Machine,
            CallStatus::NoLine => Self::NoLine,
        }
    }
}

impl CallStatus {
    fn from_stored(name: &str) -> Option<Self> {
        Some(match CallOutcome::parse(name)? {
            CallOutcome::Answered => Self::Answered,
            CallOutcome::NoAnswer => Self::NoAnswer,
            CallOutcome::Busy => Self::Busy,
            CallOutcome::Failed => Self::Failed,
            CallOutcome::Canceled => Self::Canceled,
            CallOutcome::Voicemail => Self::Voicemail,
            CallOutcome::Machine => Self::Machine,
            CallOutcome::NoLine => Self::NoLine,
        })
    }
}

/// A call, identified by its caller key and masked tail only.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Call {
    pub id: ID,
    #[graphql(skip)]
    pub call_id: uuid::Uuid,
    pub direction: Direction,
    pub status: CallStatus,
    pub missed: bool,
    pub caller_key: String,
    /// The last digits, e.g. "•••• 123".
    pub caller_tail: String,
    /// mobile, fixed_line, … when known.
    pub line_type: Option<String>,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Whether and how the caller was texted back (or why not).
    pub text_back_status: Option<String>,
    /// Why the text-back was not delivered, when the provider said: its error code (Twilio's
    /// `ErrorCode`, e.g. 30003 for a phone switched off or out of signal).
    pub text_back_error: Option<i32>,
    /// Where the call came from: api, staff or a provider.
    pub source: String,
    /// The credit read with the page (`Some`, possibly none), or `None` to load it when asked.
    #[graphql(skip)]
    pub credit: Option<Option<Credit>>,
}

impl From<call::Model> for Call {
    fn from(model: call::Model) -> Self {
        Self::from(ListedCall::from(model))
    }
}

impl From<ListedCall> for Call {
    /// Takes the row's strings over instead of copying them (a calls page converts 50 rows).
    fn from(model: ListedCall) -> Self {
        Self {
            id: ID(model.id.to_string()),
            call_id: model.id,
            direction: if model.direction == "outbound" {
                Direction::Outbound
            } else {
                Direction::Inbound
            },
            status: CallStatus::from_stored(&model.status).unwrap_or(CallStatus::Failed),
            missed: model.missed,
            caller_key: model.caller_key,
            caller_tail: model.caller_tail,
            line_type: model.line_type,
            started_at: model.started_at,
            answered_at: model.answered_at,
            ended_at: model.ended_at,
            text_back_status: model.text_back_status,
            text_back_error: model.text_back_error,
            source: model.provider,
            credit: None,
        }
    }
}

/// The booking a missed call was credited with, and through which recovery touch.
#[derive(SimpleObject)]
pub struct CallCredit {
    pub appointment_id: ID,
    pub value_minor: i64,
    /// callback, text_reply or return_call.
    pub touch_kind: Option<String>,
    pub touch_at: Option<DateTime<Utc>>,
}

#[ComplexObject]
impl Call {
    /// For a missed call: the appointment it was credited to, if any (read with the calls page,
    /// else batched per request).
    async fn credited_to(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<CallCredit>> {
        if let Some(credit) = self.credit_in_hand() {
            return Ok(credit);
        }
        let access = Access::Read(Permission::WorkCalls);
        let row = load_permitted::<CreditLoader, _>(ctx, access, self.call_id).await?;
        Ok(row.as_ref().map(CallCredit::from))
    }
}

impl Call {
    /// The credit when it needs no loading: none for a call that was not missed, else the one
    /// read with the page (`None` when it was not).
    fn credit_in_hand(&self) -> Option<Option<CallCredit>> {
        if !self.missed {
            return Some(None);
        }
        self.credit
            .as_ref()
            .map(|read| read.as_ref().map(CallCredit::from))
    }
}

impl From<&Credit> for CallCredit {
    fn from(credit: &Credit) -> Self {
        Self {
            appointment_id: ID(credit.appointment_id.to_string()),
            value_minor: credit.value_minor,
            touch_kind: credit.touch_kind.clone(),
            touch_at: credit.touch_at,
        }
    }
}

impl PlainObject for Call {
    fn plain_value(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> Option<Value> {
        Some(match field.node.name.node.as_str() {
            "id" => scalar(&self.id),
            "direction" => enum_value(self.direction),
            "status" => enum_value(self.status),
            "missed" => scalar(&self.missed),
            "callerKey" => scalar(&self.caller_key),
            "callerTail" => scalar(&self.caller_tail),
            "lineType" => optional(&self.line_type),
            "startedAt" => scalar(&self.started_at),
            "answeredAt" => optional(&self.answered_at),
            "endedAt" => optional(&self.ended_at),
            "textBackStatus" => optional(&self.text_back_status),
            "textBackError" => optional(&self.text_back_error),
            "source" => scalar(&self.source),
            "creditedTo" => match self.credit_in_hand()? {
                Some(credit) => answer_now(&credit, ctx, field)?,
                None => Value::Null,
            },
            _ => return None,
        })
    }
}

impl PlainObject for CallCredit {
    fn plain_value(&self, _: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> Option<Value> {
        Some(match field.node.name.node.as_str() {
            "appointmentId" => scalar(&self.appointment_id),
            "valueMinor" => scalar(&self.value_minor),
            "touchKind" => optional(&self.touch_kind),
            "touchAt" => optional(&self.touch_at),
            _ => return None,
        })
    }
}

/// Filters for `calls`; all optional.
#[derive(InputObject, Default)]
pub struct CallFilterInput {
    pub direction: Option<Direction>,
    pub status: Option<CallStatus>,
    pub missed: Option<bool>,
    /// Calls that started at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Calls that started before this instant.
    pub until: Option<DateTime<Utc>>,
    pub caller_key: Option<String>,
}

/// One call event from an integrator's phone system.
#[derive(InputObject)]
pub struct CallEventInput {
    /// Your system's id for the call; sending it again changes nothing.
    pub external_id: String,
    pub direction: Direction,
    pub status: CallStatus,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The other party's number in any common format; the clinic's region is the default. It is
    /// keyed on arrival and never stored. On an inbound call a withheld number (empty,
    /// `anonymous`, `restricted`, `private`, `unknown` and the like) is counted under no caller
    /// and never texted.
    pub caller_number: String,
}

/// A problem with one row of a batch.
#[derive(SimpleObject)]
pub struct RowError {
    pub code: String,
    pub message: String,
}

/// What happened to one event.
#[derive(SimpleObject)]
pub struct CallEventResult {
    pub external_id: String,
    /// The stored call (new or, for a repeat, the one stored before).
    pub call: Option<Call>,
    /// True when the event had been recorded before and nothing changed.
    pub duplicate: bool,
    pub error: Option<RowError>,
}

/// The outcome of a batch.
#[derive(SimpleObject)]
pub struct RecordCallEventsPayload {
    pub recorded: i32,
    pub duplicates: i32,
    pub rejected: i32,
    pub results: Vec<CallEventResult>,
}

fn filter_from(input: CallFilterInput) -> Result<CallFilter, DomainError> {
    Ok(CallFilter {
        direction: input.direction.map(Into::into),
        outcome: input.status.map(Into::into),
        missed: input.missed,
        from: input.from,
        until: input.until,
        caller_key: input
            .caller_key
            .as_deref()
            .map(parse_caller_key)
            .transpose()?,
    })
}

/// A page size within 1..=100 (default 50).
pub fn page_size(first: Option<i32>) -> Result<u64, DomainError> {
    let first = first.unwrap_or(50);
    if (1..=MAX_PAGE).contains(&first) {
        Ok(first as u64)
    } else {
        Err(DomainError::BadUserInput(format!(
            "first must be 1 to {MAX_PAGE}"
        )))
    }
}

/// `BAD_USER_INPUT` for an `after` that is not a cursor the list wrote.
pub fn bad_cursor() -> DomainError {
    DomainError::BadUserInput("bad cursor".to_owned())
}

/// A call's place in the list (`after`, `cursor`, `endCursor`): written out only where a query
/// asks for it.
pub struct PageCursor(CallCursor);

impl CursorType for PageCursor {
    type Error = DomainError;

    fn decode_cursor(text: &str) -> Result<Self, DomainError> {
        CallCursor::decode(text).map(Self).ok_or_else(bad_cursor)
    }

    fn encode_cursor(&self) -> String {
        self.0.encode()
    }
}

#[derive(Default)]
pub struct CallQuery;

#[Object]
impl CallQuery {
    /// Calls, newest first, filtered; at most 100 per page.
    async fn calls(
        &self,
        ctx: &Context<'_>,
        filter: Option<CallFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Plain<Connection<PageCursor, Plain<Call>>>> {
        let rows = with_tenant_read_only(
            ctx,
            Access::Read(Permission::WorkCalls),
            async |txn, principal| {
                let limit = page_size(first)?;
                let filter = filter_from(filter.unwrap_or_default())?;
                let cursor = match after.as_deref() {
                    Some(text) => Some(PageCursor::decode_cursor(text)?.0),
                    None => None,
                };
                let rows = calls::list(txn, principal.actor(), &filter, cursor, limit).await?;
                Ok((rows, limit))
            },
        )
        .await?;
        let (mut rows, limit) = rows;
        let has_next = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let mut connection = Connection::new(false, has_next);
        connection.edges.reserve(rows.len());
        for CallOnPage { call, credit } in rows {
            let cursor = PageCursor(CallCursor {
                started_at: call.started_at,
                id: call.id,
            });
            // The page read each call's credit with it: no loading when asked.
            let call = Call {
                credit: Some(credit),
                ..Call::from(call)
            };
            connection.edges.push(Edge::new(cursor, Plain(call)));
        }
        Ok(Plain(connection))
    }
}

#[derive(Default)]
pub struct CallMutation;

#[Object]
impl CallMutation {
    /// Records call events from any phone system. Bad rows come back with their error; good rows
    /// are kept.
    async fn record_call_events(
        &self,
        ctx: &Context<'_>,
        events: Vec<CallEventInput>,
    ) -> async_graphql::Result<RecordCallEventsPayload> {
        let backend = ctx.data::<Backend>()?;
        let events: Vec<CallEvent> = events
            .into_iter()
            .map(|event| CallEvent {
                external_id: event.external_id,
                direction: event.direction.into(),
                outcome: event.status.into(),
                started_at: event.started_at,
                answered_at: event.answered_at,
                ended_at: event.ended_at,
                caller_number: event.caller_number,
                provider_number_id: None,
            })
            .collect();
        let results = with_tenant(ctx, Access::Write(Permission::WorkCalls), async |txn, _| {
            calls::record_events(
                txn,
                &backend.secrets,
                backend.billing_settings(),
                calls::API_PROVIDER,
                events,
            )
            .await
        })
        .await?;
        Ok(payload(results))
    }

    /// Logs a callback to the caller of call `callId` and its outcome (`at`: when it was made, now
    /// when left out). `externalId`: your system's id for the callback, at most 200 characters;
    /// sending it again returns the callback logged the first time (CONFLICT when it names
    /// another call).
    async fn log_callback(
        &self,
        ctx: &Context<'_>,
        call_id: ID,
        status: CallStatus,
        at: Option<DateTime<Utc>>,
        external_id: Option<String>,
    ) -> async_graphql::Result<Call> {
        let by = match principal(ctx).await?.credential {
            Credential::Session { .. } => LoggedBy::Staff,
            Credential::ApiKey { .. } => LoggedBy::Integrator,
        };
        let callback = with_tenant(
            ctx,
            Access::Write(Permission::WorkCalls),
            async |txn, principal| {
                let logged = LoggedCallback {
                    by,
                    external_id,
                    outcome: status.into(),
                    at: at.unwrap_or_else(|| txn.now()),
                };
                calls::log_callback(txn, principal.actor(), uuid_arg(&call_id)?, logged).await
            },
        )
        .await?;
        Ok(Call::from(callback))
    }
}

fn payload(results: Vec<(String, EventResult)>) -> RecordCallEventsPayload {
    let mut payload = RecordCallEventsPayload {
        recorded: 0,
        duplicates: 0,
        rejected: 0,
        results: Vec::new(),
    };
    for (external_id, result) in results {
        let row = match result {
            EventResult::Recorded(call) => {
                payload.recorded += 1;
                CallEventResult {
                    external_id,
                    call: Some(Call::from(call)),
                    duplicate: false,
                    error: None,
                }
            }
            EventResult::Duplicate(call) => {
                payload.duplicates += 1;
                CallEventResult {
                    external_id,
                    call: Some(Call::from(call)),
                    duplicate: true,
                    error: None,
                }
            }
            EventResult::Rejected(error) => {
                payload.rejected += 1;
                let error = RowError {
                    code: crate::error::code(&error).to_owned(),
                    message: error.to_string(),
                };
                CallEventResult {
                    external_id,
                    call: None,
                    duplicate: false,
                    error: Some(error),
                }
            }
        };
        payload.results.push(row);
    }
    payload
}
