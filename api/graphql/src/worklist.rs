//! The worklist over GraphQL (receptionists and up): who is waiting for a callback, oldest first,
//! a page at a time. A callback is logged with `logCallback` on the row's `callId`; a caller who
//! needs no callback is dismissed with a reason (`dismissWaitingCaller`, undone with
//! `undoDismissal`), and `worklistDismissals` counts the dismissals by reason. `findCaller` finds a
//! caller by the number staff have (keyed in the server, never stored or answered back).

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use ringback_entity::worklist_dismissal;
use ringback_shared::access::Permission;
use ringback_shared::worklist::DismissalReason as Reason;

use crate::calls::{Call, bad_cursor, page_size};
use crate::error::DomainError;
use crate::guard::{Access, uuid_arg, with_tenant, with_tenant_read_only};
use ringback_domain::Backend;
use ringback_domain::service::caller_lookup;
use ringback_domain::service::worklist::{self, WaitingCaller as Row, WorklistCursor};

/// A caller who missed the clinic and has not been spoken with, booked or dismissed since.
#[derive(SimpleObject)]
pub struct WaitingCaller {
    pub caller_key: String,
    /// e.g. "•••• 123".
    pub caller_tail: String,
    /// The first missed call since the caller was last spoken with.
    pub first_missed_at: DateTime<Utc>,
    pub latest_missed_at: DateTime<Utc>,
    pub missed_calls: i32,
    /// Callback attempts nobody answered since the first missed call.
    pub callback_attempts: i32,
    /// The latest missed call: log the callback (or the dismissal) against it.
    pub call_id: ID,
    /// What became of the text-back of the latest missed call (or why none was sent).
    pub text_back_status: Option<String>,
    /// Why that text-back was not delivered (the provider's error code), when it was not.
    pub text_back_error: Option<i32>,
    /// Whether the caller texted back since.
    pub replied: bool,
}

impl From<Row> for WaitingCaller {
    fn from(row: Row) -> Self {
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Self {
            caller_key: row.waiting.caller_key,
            caller_tail: row.caller_tail,
            first_missed_at: row.waiting.first_missed_at,
            latest_missed_at: row.waiting.latest_missed_at,
            missed_calls: count(row.waiting.missed_calls),
            callback_attempts: count(row.waiting.attempts),
            call_id: ID(row.waiting.latest_missed.to_string()),
            text_back_status: row.text_back_status,
            text_back_error: row.text_back_error,
            replied: row.replied,
        }
    }
}

/// Why staff took a caller off the worklist.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum DismissalReason {
    Spam,
    WrongNumber,
    NoActionNeeded,
    HandledElsewhere,
}

impl From<DismissalReason> for Reason {
    fn from(reason: DismissalReason) -> Self {
        match reason {
            DismissalReason::Spam => Reason::Spam,
            DismissalReason::WrongNumber => Reason::WrongNumber,
            DismissalReason::NoActionNeeded => Reason::NoActionNeeded,
            DismissalReason::HandledElsewhere => Reason::HandledElsewhere,
        }
    }
}

impl From<Reason> for DismissalReason {
    fn from(reason: Reason) -> Self {
        match reason {
            Reason::Spam => DismissalReason::Spam,
            Reason::WrongNumber => DismissalReason::WrongNumber,
            Reason::NoActionNeeded => DismissalReason::NoActionNeeded,
            Reason::HandledElsewhere => DismissalReason::HandledElsewhere,
        }
    }
}

/// A caller taken off the worklist.
#[derive(SimpleObject)]
pub struct Dismissal {
    pub id: ID,
    pub caller_tail: String,
    pub reason: DismissalReason,
    pub dismissed_at: DateTime<Utc>,
    /// Set once undone: the caller is back on the worklist if still waiting.
    pub undone_at: Option<DateTime<Utc>>,
}

impl Dismissal {
    fn from_row(row: worklist_dismissal::Model) -> Option<Self> {
        Some(Self {
            id: ID(row.id.to_string()),
            reason: Reason::parse(&row.reason)?.into(),
            caller_tail: row.caller_tail,
            dismissed_at: row.dismissed_at,
            undone_at: row.undone_at,
        })
    }
}

/// How many dismissals (not undone) had one reason.
#[derive(SimpleObject)]
pub struct DismissalCount {
    pub reason: DismissalReason,
    pub count: i32,
}

/// Dismissals over a period: counts by reason, and the latest (undone ones included).
#[derive(SimpleObject)]
pub struct Dismissals {
    pub counts: Vec<DismissalCount>,
    pub latest: Vec<Dismissal>,
}

/// A conversation with a caller found by number: open it in the inbox.
#[derive(SimpleObject)]
pub struct CallerConversation {
    pub id: ID,
    pub status: String,
    pub last_message_at: DateTime<Utc>,
}

/// What the clinic holds about a caller found by number (never the number itself).
#[derive(SimpleObject)]
pub struct FoundCaller {
    pub caller_key: String,
    /// e.g. "•••• 123".
    pub caller_tail: String,
    /// Their calls, newest first (at most 50).
    pub calls: Vec<Call>,
    /// Their conversations, newest first (at most 5).
    pub conversations: Vec<CallerConversation>,
}

/// How many dismissals `worklistDismissals` lists.
const LATEST_DISMISSALS: usize = 20;

#[derive(Default)]
pub struct WorklistQuery;

#[Object]
impl WorklistQuery {
    /// Callers waiting for a callback (missed within the clinic's attribution window),
    /// longest-waiting first; at most 100 per page.
    async fn worklist(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, WaitingCaller>> {
        let page = with_tenant_read_only(
            ctx,
            Access::Read(Permission::WorkCalls),
            async |txn, principal| {
                let limit = page_size(first)? as usize;
                let cursor = after
                    .as_deref()
                    .map(|text| WorklistCursor::decode(text).ok_or_else(bad_cursor))
                    .transpose()?;
                worklist::waiting_callers(txn, principal.actor(), txn.now(), cursor.as_ref(), limit)
                    .await
            },
        )
        .await?;
        let mut connection = Connection::new(false, page.has_next);
        for row in page.callers {
            let cursor = WorklistCursor::of(&row.waiting).encode();
            connection
                .edges
                .push(Edge::new(cursor, WaitingCaller::from(row)));
        }
        Ok(connection)
    }

    /// The caller with `number` (as staff have it, any common format): their calls and
    /// conversations. The number is keyed in the server and forgotten. Audited; at most 20 a
    /// minute per person.
    async fn find_caller(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(max_length = 40))] number: String,
    ) -> async_graphql::Result<FoundCaller> {
        let backend = ctx.data::<Backend>()?;
        let found = with_tenant_read_only(
            ctx,
            Access::Read(Permission::WorkCalls),
            async |txn, principal| {
                let user = principal.user_id()?;
                backend.rate_limits.caller_lookup(user)?;
                caller_lookup::find(txn, &backend.secrets, Some(user), &number).await
            },
        )
        .await?;
        Ok(FoundCaller {
            caller_key: found.caller_key,
            caller_tail: found.caller_tail,
            calls: found.calls.into_iter().map(Call::from).collect(),
            conversations: found
                .conversations
                .into_iter()
                .map(|thread| CallerConversation {
                    id: ID(thread.id.to_string()),
                    status: thread.status,
                    last_message_at: thread.last_message_at,
                })
                .collect(),
        })
    }

    /// Dismissals of the last `days` days (1 to 90, default 30).
    async fn worklist_dismissals(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 30, validator(minimum = 1, maximum = 90))] days: i32,
    ) -> async_graphql::Result<Dismissals> {
        let rows = with_tenant(ctx, Access::Read(Permission::WorkCalls), async |txn, _| {
            worklist::dismissals_since(txn, txn.now(), i64::from(days)).await
        })
        .await?;
        let counts = Reason::ALL
            .into_iter()
            .map(|reason| DismissalCount {
                reason: reason.into(),
                count: rows
                    .iter()
                    .filter(|row| row.undone_at.is_none() && row.reason == reason.as_str())
                    .count()
                    .try_into()
                    .unwrap_or(i32::MAX),
            })
            .collect();
        let latest = rows
            .into_iter()
            .take(LATEST_DISMISSALS)
            .filter_map(Dismissal::from_row)
            .collect();
        Ok(Dismissals { counts, latest })
    }
}

#[derive(Default)]
pub struct WorklistMutation;

#[Object]
impl WorklistMutation {
    /// Takes the caller of missed call `callId` off the worklist for `reason` (their missed calls
    /// so far; a later one puts them back). Audited.
    async fn dismiss_waiting_caller(
        &self,
        ctx: &Context<'_>,
        call_id: ID,
        reason: DismissalReason,
    ) -> async_graphql::Result<Dismissal> {
        let row = with_tenant(
            ctx,
            Access::Write(Permission::WorkCalls),
            async |txn, principal| {
                worklist::dismiss(txn, principal.actor(), uuid_arg(&call_id)?, reason.into()).await
            },
        )
        .await?;
        dismissal_answer(row)
    }

    /// Undoes a dismissal: the caller is back on the worklist if still waiting. Audited.
    async fn undo_dismissal(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Dismissal> {
        let row = with_tenant(
            ctx,
            Access::Write(Permission::WorkCalls),
            async |txn, principal| {
                worklist::undo_dismissal(txn, principal.actor(), uuid_arg(&id)?).await
            },
        )
        .await?;
        dismissal_answer(row)
    }
}

fn dismissal_answer(row: worklist_dismissal::Model) -> async_graphql::Result<Dismissal> {
    Dismissal::from_row(row).ok_or_else(|| {
        crate::error::graphql_error(DomainError::Internal("unknown stored reason".to_owned()))
    })
}
