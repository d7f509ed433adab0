//! The clinic's Google calendar over GraphQL: admins and owners read which calendar the clinic's
//! bookings are kept in and the address to share one with (`googleCalendar`), and choose or clear
//! it (`setGoogleCalendar`). A choice is checked with Google first, outside any transaction; at
//! most a few choices a minute per clinic, each audited when it changes something. Everyone who
//! books sees when the calendar is busy (`calendarBusy`), asked of Google outside any transaction.

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use ringback_domain::Backend;
use ringback_domain::service::calendar::{self, CalendarLook};
use ringback_domain::service::clinic;
use ringback_shared::access::Permission;

use crate::error::graphql_error;
use crate::guard::{Access, principal, with_tenant, with_tenant_read_only};

/// Where the clinic's bookings are kept as Google Calendar events.
#[derive(SimpleObject)]
pub struct GoogleCalendar {
    /// The calendar chosen; none: bookings are kept in Ringback only.
    pub calendar_id: Option<String>,
    /// The address to share a calendar with ("Make changes to events"); none when this server
    /// has no Google account, and no calendar can then be chosen.
    pub share_with: Option<String>,
    /// The code the calendar's description must hold, to show it is the clinic's own (every
    /// clinic shares with the same address).
    pub ownership_code: String,
}

/// What the clinic's Google calendar says of a stretch of time.
#[derive(SimpleObject)]
pub struct CalendarBusy {
    /// Whether the clinic keeps its bookings in a Google calendar (false: nothing to check).
    pub has_calendar: bool,
    /// Whether Google said when the calendar is busy (false: it could not just now, so a time
    /// may clash with the owner's own events unseen).
    pub checked: bool,
    /// The times within the stretch the calendar shows busy, soonest first (times only).
    pub busy: Vec<BusySpan>,
}

/// A time the clinic's calendar shows busy.
#[derive(SimpleObject)]
pub struct BusySpan {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl From<CalendarLook> for CalendarBusy {
    fn from(look: CalendarLook) -> Self {
        let (has_calendar, checked, busy) = match look {
            CalendarLook::NoCalendar => (false, false, Vec::new()),
            CalendarLook::Unchecked => (true, false, Vec::new()),
            CalendarLook::Busy(busy) => (true, true, busy),
        };
        Self {
            has_calendar,
            checked,
            busy: busy
                .into_iter()
                .map(|time| BusySpan {
                    starts_at: time.starts_at,
                    ends_at: time.ends_at,
                })
                .collect(),
        }
    }
}

#[derive(Default)]
pub struct CalendarQuery;

#[Object]
impl CalendarQuery {
    /// The clinic's Google calendar and the address to share one with. Admins and owners.
    async fn google_calendar(&self, ctx: &Context<'_>) -> async_graphql::Result<GoogleCalendar> {
        let backend = ctx.data::<Backend>()?;
        let setting = with_tenant(
            ctx,
            Access::Read(Permission::ManageSettings),
            async |txn, _| {
                calendar::setting(txn, backend.calendar.as_ref(), &backend.secrets).await
            },
        )
        .await?;
        Ok(GoogleCalendar {
            calendar_id: setting.calendar_id,
            share_with: setting.share_with,
            ownership_code: setting.ownership_code,
        })
    }

    /// When the clinic's Google calendar is busy on the local days `from` to `to` (at most 31;
    /// the busy times around them, a day either side, so that any time zone's days are covered),
    /// so that staff booking a visit see the owner's own events. Everyone who books (API keys
    /// too); at most 30 looks a minute per clinic with a calendar (each asks Google); times only,
    /// nothing about anyone, so no audit note. Days are of the years 1971 to 9998.
    async fn calendar_busy(
        &self,
        ctx: &Context<'_>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> async_graphql::Result<CalendarBusy> {
        let backend = ctx.data::<Backend>()?;
        let (clinic_id, calendar_id) =
            with_tenant_read_only(ctx, Access::Read(Permission::WorkCalls), async |txn, _| {
                calendar::check_days(from, to)?;
                Ok((txn.clinic_id(), clinic::get(txn).await?.google_calendar_id))
            })
            .await?;
        if calendar_id.is_some() {
            backend
                .rate_limits
                .calendar_look(clinic_id)
                .map_err(graphql_error)?;
        }
        let look = calendar::look(
            backend.calendar.as_ref(),
            calendar_id.as_deref(),
            (from, to),
        )
        .await;
        Ok(CalendarBusy::from(look))
    }
}

#[derive(Default)]
pub struct CalendarMutation;

#[Object]
impl CalendarMutation {
    /// Keeps the clinic's bookings in Google calendar `calendarId` (none: in no calendar; the
    /// upcoming bookings' events then leave it, past ones stay). Google is asked first whether
    /// the calendar is shared with `googleCalendar.shareWith` for making changes to events and
    /// holds `googleCalendar.ownershipCode` in its description: `BAD_USER_INPUT` says what to do
    /// when not. Choosing a calendar puts the upcoming bookings in it (saving it again puts them
    /// again). Admins and owners; at most 10 choices a minute per clinic (clearing included: it
    /// syncs the upcoming bookings too); audited. Whether the choice changed.
    async fn set_google_calendar(
        &self,
        ctx: &Context<'_>,
        calendar_id: Option<String>,
    ) -> async_graphql::Result<bool> {
        let backend = ctx.data::<Backend>()?;
        let calendar_id = calendar_id
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty());
        let checked = async {
            let scope = principal(ctx)
                .await?
                .require_write(Permission::ManageSettings)
                .map_err(graphql_error)?;
            if let Some(calendar_id) = &calendar_id {
                calendar::check_form(backend.calendar.as_ref(), calendar_id)
                    .map_err(graphql_error)?;
            }
            backend
                .rate_limits
                .calendar_change(scope.clinic_id())
                .map_err(graphql_error)?;
            if let Some(calendar_id) = &calendar_id {
                let code = calendar::ownership_code(&backend.secrets, scope.clinic_id());
                calendar::check_shared(backend.calendar.as_ref(), calendar_id, &code)
                    .await
                    .map_err(graphql_error)?;
            }
            Ok::<(), async_graphql::Error>(())
        };
        checked.await?;
        with_tenant(
            ctx,
            Access::Write(Permission::ManageSettings),
            async |txn, principal| calendar::set(txn, principal.actor(), calendar_id).await,
        )
        .await
    }
}
