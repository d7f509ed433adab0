//! The events behind a period's attribution, by caller key only (admins): the dashboard runs the
//! shared attribution engine over them to preview another window before it is saved.

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use ringback_shared::access::Permission;
use ringback_shared::metrics::{local_day_bounds_utc, parse_time_zone};

use crate::guard::{Access, with_tenant_read_only};
use ringback_core::error::DomainError;
use ringback_domain::service::{attribution, clinic};

/// A call, as attribution sees it.
#[derive(SimpleObject)]
pub struct EventCall {
    pub id: ID,
    pub caller_key: String,
    pub at: DateTime<Utc>,
    /// inbound or outbound.
    pub direction: String,
    /// answered, no_answer, busy, failed, canceled, voicemail or machine.
    pub outcome: String,
}

/// A caller's text (a reply to the text-back).
#[derive(SimpleObject)]
pub struct EventReply {
    pub id: ID,
    pub caller_key: String,
    pub at: DateTime<Utc>,
}

/// An appointment, as attribution sees it.
#[derive(SimpleObject)]
pub struct EventAppointment {
    pub id: ID,
    pub caller_key: String,
    pub created_at: DateTime<Utc>,
    pub value_minor: i64,
    pub cancelled: bool,
}

/// A period's attribution inputs and the clinic's saved window.
#[derive(SimpleObject)]
pub struct AttributionEvents {
    pub window_days: i32,
    /// The period's first instant (start of `from` in the clinic's zone).
    pub period_start: DateTime<Utc>,
    /// The instant after the period (start of the day after `to`).
    pub period_end: DateTime<Utc>,
    pub calls: Vec<EventCall>,
    pub replies: Vec<EventReply>,
    pub appointments: Vec<EventAppointment>,
}

/// Longest period a preview covers, in days.
const MAX_PERIOD_DAYS: i64 = 366;

#[derive(Default)]
pub struct WhatIfQuery;

#[Object]
impl WhatIfQuery {
    /// What the attribution of appointments booked from `from` to `to` (clinic days, inclusive)
    /// depends on. Caller keys only; no number is ever part of it.
    async fn attribution_events(
        &self,
        ctx: &Context<'_>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> async_graphql::Result<AttributionEvents> {
        if to < from || (to - from).num_days() >= MAX_PERIOD_DAYS {
            return Err(crate::error::graphql_error(DomainError::BadUserInput(
                format!("choose 1 to {MAX_PERIOD_DAYS} days, `from` first"),
            )));
        }
        with_tenant_read_only(
            ctx,
            Access::Read(Permission::ManageSettings),
            async |txn, principal| {
                let settings = clinic::get(txn).await?;
                let zone = parse_time_zone(&settings.time_zone)
                    .map_err(|e| DomainError::Internal(e.to_string()))?;
                let bound = |day| {
                    local_day_bounds_utc(day, zone)
                        .map_err(|e| DomainError::BadUserInput(e.to_string()))
                };
                let (start, end) = (bound(from)?.start, bound(to)?.end);
                let events = attribution::period_events(txn, principal.actor(), start, end).await?;
                Ok(AttributionEvents {
                    window_days: settings.attribution_window_days,
                    period_start: start,
                    period_end: end,
                    calls: events
                        .calls
                        .into_iter()
                        .map(|call| EventCall {
                            id: ID(call.id.to_string()),
                            caller_key: call.caller_key,
                            at: call.at,
                            direction: call.direction.as_str().to_owned(),
                            outcome: call.outcome.as_str().to_owned(),
                        })
                        .collect(),
                    replies: events
                        .replies
                        .into_iter()
                        .map(|reply| EventReply {
                            id: ID(reply.id.to_string()),
                            caller_key: reply.caller_key,
                            at: reply.at,
                        })
                        .collect(),
                    appointments: events
                        .appointments
                        .into_iter()
                        .map(|appointment| EventAppointment {
                            id: ID(appointment.id.to_string()),
                            caller_key: appointment.caller_key,
                            created_at: appointment.created_at,
                            value_minor: appointment.value_minor,
                            cancelled: appointment.cancelled,
                        })
                        .collect(),
                })
            },
        )
        .await
    }
}
