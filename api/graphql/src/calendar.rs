//! The clinic's Google calendar over GraphQL: admins and owners read which calendar the clinic's
//! bookings are kept in and the address to share one with (`googleCalendar`), and choose or clear
//! it (`setGoogleCalendar`). A choice is checked with Google first, outside any transaction; at
//! most a few choices a minute per clinic, each audited when it changes something.

use async_graphql::{Context, Object, SimpleObject};
use ringback_domain::Backend;
use ringback_domain::service::calendar;
use ringback_shared::access::Permission;

use crate::error::graphql_error;
use crate::guard::{Access, principal, with_tenant};

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
