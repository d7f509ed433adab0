//! The clinic's Google calendar over GraphQL: admins and owners read which calendar the clinic's
//! bookings are kept in and the address to share one with (`googleCalendar`), and choose or clear
//! it (`setGoogleCalendar`). A choice is checked with Google first (at most a few a minute per
//! clinic), outside any transaction, and audited when stored.

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
}

#[derive(Default)]
pub struct CalendarQuery;

#[Object]
impl CalendarQuery {
    /// The clinic's Google calendar and the address to share one with. Admins and owners.
    async fn google_calendar(&self, ctx: &Context<'_>) -> async_graphql::Result<GoogleCalendar> {
        let desk = ctx.data::<Backend>()?.calendar.as_ref();
        let setting = with_tenant(
            ctx,
            Access::Read(Permission::ManageSettings),
            async |txn, _| calendar::setting(txn, desk).await,
        )
        .await?;
        Ok(GoogleCalendar {
            calendar_id: setting.calendar_id,
            share_with: setting.share_with,
        })
    }
}

#[derive(Default)]
pub struct CalendarMutation;

#[Object]
impl CalendarMutation {
    /// Keeps the clinic's bookings in Google calendar `calendarId` (none: in no calendar; the
    /// upcoming bookings' events then leave it, past ones stay). Google is asked first whether the calendar is shared with
    /// `googleCalendar.shareWith` for making changes to events: `BAD_USER_INPUT` says how to share
    /// it when not. Choosing a calendar puts the upcoming bookings in it. Admins and owners; at
    /// most 5 checks a minute per clinic; audited. Whether anything changed.
    async fn set_google_calendar(
        &self,
        ctx: &Context<'_>,
        calendar_id: Option<String>,
    ) -> async_graphql::Result<bool> {
        let backend = ctx.data::<Backend>()?;
        let calendar_id = calendar_id
            .map(|id| id.trim().to_owned())
            .filter(|id| !id.is_empty());
        if let Some(calendar_id) = &calendar_id {
            let checked = async {
                let scope = principal(ctx)
                    .await?
                    .require_write(Permission::ManageSettings)
                    .map_err(graphql_error)?;
                backend
                    .rate_limits
                    .calendar_check(scope.clinic_id())
                    .map_err(graphql_error)?;
                calendar::check_shared(backend.calendar.as_ref(), calendar_id)
                    .await
                    .map_err(graphql_error)
            };
            checked.await?;
        }
        with_tenant(
            ctx,
            Access::Write(Permission::ManageSettings),
            async |txn, principal| calendar::set(txn, principal.actor(), calendar_id).await,
        )
        .await
    }
}
