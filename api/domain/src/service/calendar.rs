//! The clinic's Google calendar: which one it shared with the deployment's service account
//! ([`set`], checked with Google before it is stored), and the events its bookings are kept as
//! there. Every clinic shares with the same account, so sharing proves nothing about whose
//! calendar it is: the calendar's description must also hold the clinic's own code
//! ([`ownership_code`]), which only its admins see, or one clinic could fill another's calendar
//! (and learn whether it is connected). Not shared and no code get the same answer. A booking with a start time, made or changed or cancelled while the clinic has a
//! calendar, queues a [`CalendarSync`] in the same transaction ([`queue_sync`]); choosing a
//! calendar queues one for each upcoming booking (they move there from a calendar chosen before),
//! and clearing it one for each upcoming booking with an event (its event leaves the calendar),
//! [`MAX_SYNCED_ON_CHANGE`] at once and the rest a batch at a time ([`CalendarFill`]). Past
//! events stay.
//!
//! The AI receptionist offers and books no time the calendar shows busy: before its slot tools
//! run, [`busy_times`] asks Google when the calendar is busy (times only, never an event's title
//! or details), and when Google cannot say, the tools offer nothing ([`CALENDAR_UNCHECKED`]).
//!
//! An event says nothing about the caller: not their number, tail or name, only that it is a
//! booking, who made it (staff, the AI receptionist, an integration) and a link to the dashboard's
//! appointments, where staff see who it is. So erasing or purging a caller changes nothing in the
//! calendar, and Google's copy holds no personal data of theirs.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use ringback_core::error::DomainError;
use ringback_core::outbox::{Job, NewJob, PENDING, cancel_unfinished, enqueue};
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;
use ringback_entity::{appointment, clinic as clinic_row, job_outbox};
use ringback_providers::google::{
    BusyTime, CalendarError, CalendarEvent, CalendarProvider, valid_calendar_id,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

use crate::jobs::CalendarSync;
use crate::jobs::calendar_fill::{CalendarFill, FILL_PAUSE};
use crate::service::audit::{self, AuditEvent};
use crate::service::clinic;

/// Upcoming bookings queued for a sync at once when the clinic chooses or clears its calendar,
/// soonest first; later ones follow a batch at a time ([`CalendarFill`]).
pub const MAX_SYNCED_ON_CHANGE: u64 = 500;
/// How long ago a booking may have started and still be put in the calendar when it is made (a
/// visit logged after it happened still shows; history imported by an integrator does not).
pub const PAST_START_HOURS: i64 = 24;
/// How long an event lasts when the booking does not say: a standard visit's length.
pub const DEFAULT_EVENT_MINUTES: i64 = ringback_shared::slots::STANDARD_VISIT_MINUTES;

/// Google Calendar on this server: the client and the dashboard's public URL events link to.
#[derive(Clone)]
pub struct CalendarDesk {
    pub provider: Arc<dyn CalendarProvider>,
    pub public_url: String,
}

/// The clinic's calendar as the settings page shows it.
pub struct CalendarSetting {
    /// The calendar chosen, if any.
    pub calendar_id: Option<String>,
    /// The address to share a calendar with; `None` when this server has no Google account.
    pub share_with: Option<String>,
    /// The code the calendar's description must hold.
    pub ownership_code: String,
}

/// The clinic's calendar, the address to share one with and the code that proves it its own.
pub async fn setting(
    txn: &TenantTxn,
    desk: Option<&CalendarDesk>,
    secrets: &Secrets,
) -> Result<CalendarSetting, DomainError> {
    Ok(CalendarSetting {
        calendar_id: clinic::get(txn).await?.google_calendar_id,
        share_with: desk.map(|desk| desk.provider.shared_with().to_owned()),
        ownership_code: ownership_code(secrets, txn.clinic_id()),
    })
}

/// The code clinic `clinic_id` puts in its calendar's description to show the calendar is its
/// own: `ringback-` and ten hex digits keyed with the deployment's secrets (a new session secret
/// gives new codes; calendars already chosen keep working).
pub fn ownership_code(secrets: &Secrets, clinic_id: Uuid) -> String {
    let tag = secrets.tag(&format!("google calendar of clinic {clinic_id}"));
    format!("ringback-{}", &tag[..10])
}

/// Checks with Google that `calendar` is shared with the service account for changing events and
/// that its description holds `code`: before [`set`] stores it, outside any transaction. The
/// problem in words for the admin.
pub async fn check_shared(
    desk: Option<&CalendarDesk>,
    calendar: &str,
    code: &str,
) -> Result<(), DomainError> {
    let desk = check_form(desk, calendar)?;
    let not_yours = || {
        DomainError::BadUserInput(format!(
            "Google does not show this calendar as yours to change: share it with {} (\"Make \
             changes to events\"), put {code} in its description, and save again",
            desk.provider.shared_with()
        ))
    };
    match desk.provider.check_access(calendar).await {
        Ok(description) if description.contains(code) => Ok(()),
        Ok(_) | Err(CalendarError::NotShared) => Err(not_yours()),
        Err(CalendarError::KeyRefused(reason)) => {
            tracing::error!(%reason, "Google refused the service account's key");
            Err(DomainError::Unavailable(
                "Google refused this server's Google account: tell the server's operator (its \
                 service account key may have been deleted)"
                    .to_owned(),
            ))
        }
        Err(other) => {
            tracing::warn!(error = %other, "a calendar could not be checked with Google");
            Err(DomainError::Unavailable(
                "Google Calendar could not be asked just now; try again in a minute".to_owned(),
            ))
        }
    }
}

/// The server's calendar desk, when `calendar` can be a calendar id and the server has a Google
/// account: what is checked before anything is asked of Google (or counted against its limit).
pub fn check_form<'a>(
    desk: Option<&'a CalendarDesk>,
    calendar: &str,
) -> Result<&'a CalendarDesk, DomainError> {
    let Some(desk) = desk else {
        return Err(DomainError::Unavailable(
            "this server has no Google account: its operator sets \
             RINGBACK_GOOGLE_SERVICE_ACCOUNT_FILE"
                .to_owned(),
        ));
    };
    if !valid_calendar_id(calendar) {
        return Err(DomainError::BadUserInput(
            "calendarId must be a Google calendar id such as frontdesk@example.co.uk or \
             …@group.calendar.google.com"
                .to_owned(),
        ));
    }
    Ok(desk)
}

/// Why the batches of an earlier choice were dropped.
pub const CHOSEN_AGAIN: &str = "the calendar was chosen again";

/// Stores `calendar` (checked by [`check_shared`]) as the clinic's, or none; audited as
/// `settings.calendar_changed` (whether one is set, not which: a personal calendar's id is an
/// address). Either way the upcoming bookings are synced: into the chosen calendar, or out of the
/// one cleared; the same choice saved again syncs them again (after its sharing was mended, or to
/// finish a clearing). Whether the choice changed.
pub async fn set(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    calendar: Option<String>,
) -> Result<bool, DomainError> {
    // One choice at a time, and none while a batch of an earlier one is being queued
    // ([`CalendarFill`] takes the same lock): each choice starts its own batches, and those of an
    // earlier one are dropped, waiting or under way.
    txn.lock_clinic().await?;
    let current = clinic::get(txn).await?;
    cancel_unfinished::<CalendarFill>(txn, CHOSEN_AGAIN).await?;
    if current.google_calendar_id == calendar {
        queue_upcoming(txn, (calendar.is_some(), Waiting::Skipped), None).await?;
        return Ok(false);
    }
    let connected = calendar.is_some();
    let mut model: clinic_row::ActiveModel = current.into();
    model.google_calendar_id = Set(calendar);
    model.updated_at = Set(txn.now());
    model.update(txn.conn()).await?;
    let queued = queue_upcoming(txn, (connected, Waiting::Synced), None).await?;
    audit::append(
        txn,
        AuditEvent {
            actor,
            action: "settings.calendar_changed",
            detail: json!({ "connected": connected, "upcoming_queued": queued }),
        },
    )
    .await?;
    Ok(true)
}

/// Queues a sync for each upcoming booking that stands (`connected`), or that stands and has an
/// event (a calendar cleared), and each cancelled one whose event is still recorded, soonest first (by start, then id) and after `after` when given:
/// at most [`MAX_SYNCED_ON_CHANGE`], and when that many were queued, a [`CalendarFill`] to queue
/// the next batch [`FILL_PAUSE`] later. How many syncs were queued.
pub async fn queue_upcoming(
    txn: &TenantTxn,
    (connected, waiting): (bool, Waiting),
    after: Option<(DateTime<Utc>, Uuid)>,
) -> Result<u64, DomainError> {
    // A cancelled booking whose event is still recorded somewhere (a removal the calendar
    // refused) is synced again too: its event leaves once the sharing is mended.
    let mut upcoming = txn
        .find::<appointment::Entity>()
        .filter(appointment::Column::StartsAt.gte(txn.now()))
        .filter(
            Condition::any()
                .add(appointment::Column::CancelledAt.is_null())
                .add(appointment::Column::CalendarEventIn.is_not_null()),
        );
    if !connected {
        upcoming = upcoming.filter(appointment::Column::CalendarEventIn.is_not_null());
    }
    if let Some((starts, id)) = after {
        upcoming = upcoming.filter(
            Condition::any()
                .add(appointment::Column::StartsAt.gt(starts))
                .add(
                    Condition::all()
                        .add(appointment::Column::StartsAt.eq(starts))
                        .add(appointment::Column::Id.gt(id)),
                ),
        );
    }
    let upcoming: Vec<(Uuid, Option<DateTime<Utc>>)> = upcoming
        .order_by_asc(appointment::Column::StartsAt)
        .order_by_asc(appointment::Column::Id)
        .select_only()
        .columns([appointment::Column::Id, appointment::Column::StartsAt])
        .limit(MAX_SYNCED_ON_CHANGE)
        .into_tuple()
        .all(txn.conn())
        .await?;
    let still_waiting = match waiting {
        Waiting::Skipped => waiting_syncs(txn).await?,
        Waiting::Synced => std::collections::HashSet::new(),
    };
    for (appointment, _) in &upcoming {
        if !still_waiting.contains(appointment) {
            enqueue_sync(txn, *appointment).await?;
        }
    }
    if upcoming.len() as u64 == MAX_SYNCED_ON_CHANGE
        && let Some(&(last, Some(starts))) = upcoming.last()
    {
        let next = CalendarFill {
            connected,
            after: (starts, last),
            waiting,
        };
        queue_fill(txn, next).await?;
    }
    Ok(upcoming.len() as u64)
}

/// What [`queue_upcoming`] does with a booking whose sync still waits to be taken by a worker
/// (kept by a choice's later batches, [`CalendarFill::waiting`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Waiting {
    /// It gets no second sync: the choice was saved again unchanged, and the waiting one reads
    /// the booking and the clinic when it runs (the same choice saved again would otherwise
    /// queue a batch on top of the last, on the Google quota every clinic of the server shares).
    Skipped,
    /// It gets one all the same: the choice changed, and a worker may have taken the waiting one
    /// just before, reading the calendar chosen before (one no longer shared fails for good).
    #[default]
    Synced,
}

/// The bookings with a sync waiting to be taken by a worker (at most the most a change queues
/// at once, twice over: more may be queued again, which only costs requests).
async fn waiting_syncs(txn: &TenantTxn) -> Result<std::collections::HashSet<Uuid>, DomainError> {
    let payloads: Vec<serde_json::Value> = txn
        .find::<job_outbox::Entity>()
        .filter(job_outbox::Column::Kind.eq(CalendarSync::NAME))
        .filter(job_outbox::Column::Status.eq(PENDING))
        .select_only()
        .column(job_outbox::Column::Payload)
        .limit(2 * MAX_SYNCED_ON_CHANGE)
        .into_tuple()
        .all(txn.conn())
        .await?;
    Ok(payloads
        .into_iter()
        .filter_map(|payload| serde_json::from_value::<CalendarSync>(payload).ok())
        .map(|sync| sync.appointment)
        .collect())
}

/// Queues `fill` to run [`FILL_PAUSE`] from now.
pub async fn queue_fill(txn: &TenantTxn, fill: CalendarFill) -> Result<(), DomainError> {
    let next = NewJob {
        job: fill,
        sealed_number: None,
        body_sealed: None,
        run_at: txn.now() + FILL_PAUSE,
    };
    enqueue(txn, next, txn.now()).await?;
    Ok(())
}

/// What the AI's slot tools answer when the clinic has a calendar and Google could not say when
/// it is busy: no time is offered or booked that the owner may already have taken.
pub const CALENDAR_UNCHECKED: &str = "the clinic's calendar could not be checked just now, so no \
     time can be offered or booked: say the team will text back with a time, and use hand_off";

/// The times the clinic's calendar `calendar` is busy between the two instants, asked of Google
/// outside any transaction. Why not, when Google could not say (or this server lost its Google
/// account since the calendar was chosen): logged without the calendar's id (an address).
pub async fn busy_times(
    desk: Option<&CalendarDesk>,
    calendar: &str,
    between: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<BusyTime>, CalendarError> {
    let Some(desk) = desk else {
        tracing::warn!("a clinic has a Google calendar but this server has no Google account");
        return Err(CalendarError::Unreachable("no Google account"));
    };
    desk.provider
        .busy_times(calendar, between)
        .await
        .inspect_err(|error| {
            tracing::warn!(%error, "Google could not say when a clinic's calendar is busy (free/busy query)");
        })
}

/// Most days staff may ask the clinic's calendar about at once.
pub const MAX_LOOK_DAYS: i64 = 31;

/// What the clinic's Google calendar says of some days, for staff booking in them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CalendarLook {
    /// The clinic keeps its bookings in no calendar.
    NoCalendar,
    /// The times the calendar is busy on the days (times only: never an event's title).
    Busy(Vec<BusyTime>),
    /// Google could not say just now (busy, unreachable, no longer shared).
    Unchecked,
}

/// The years staff may ask the calendar about (Google writes four-digit years; a day either
/// side must stay within them).
pub const LOOK_YEARS: (i32, i32) = (1971, 9998);

/// Checks the days staff ask the calendar about: `from` to `to`, at most [`MAX_LOOK_DAYS`], in
/// [`LOOK_YEARS`].
pub fn check_days(from: NaiveDate, to: NaiveDate) -> Result<(), DomainError> {
    let in_years = |day: NaiveDate| (LOOK_YEARS.0..=LOOK_YEARS.1).contains(&day.year());
    if !in_years(from) || !in_years(to) {
        return Err(DomainError::BadUserInput(format!(
            "from and to are days of the years {} to {}",
            LOOK_YEARS.0, LOOK_YEARS.1
        )));
    }
    if to < from || (to - from).num_days() >= MAX_LOOK_DAYS {
        return Err(DomainError::BadUserInput(format!(
            "to is from or a later day, at most {MAX_LOOK_DAYS} days in all"
        )));
    }
    Ok(())
}

/// The instants that cover local days `from..=to` in every time zone (a local day starts up to
/// 14 hours either side of UTC's).
pub fn covering((from, to): (NaiveDate, NaiveDate)) -> (DateTime<Utc>, DateTime<Utc>) {
    let midnight = |day: NaiveDate| day.and_time(NaiveTime::MIN).and_utc();
    (
        midnight(from) - Duration::days(1),
        midnight(to) + Duration::days(2),
    )
}

/// What `calendar` (the clinic's, if it keeps one) shows busy around the local days `from` to
/// `to` ([`covering`]), asked of Google outside any transaction.
pub async fn look(
    desk: Option<&CalendarDesk>,
    calendar: Option<&str>,
    days: (NaiveDate, NaiveDate),
) -> CalendarLook {
    let Some(calendar) = calendar else {
        return CalendarLook::NoCalendar;
    };
    match busy_times(desk, calendar, covering(days)).await {
        Ok(busy) => CalendarLook::Busy(busy),
        Err(_) => CalendarLook::Unchecked,
    }
}

/// Queues a [`CalendarSync`] for `booking` after it was made, moved or cancelled, when it has an
/// event somewhere or may need one: the clinic has a calendar and the booking a start no more
/// than [`PAST_START_HOURS`] ago (an integrator importing past bookings does not fill the
/// calendar with history).
pub async fn queue_sync(txn: &TenantTxn, booking: &appointment::Model) -> Result<(), DomainError> {
    let earliest = txn.now() - Duration::hours(PAST_START_HOURS);
    let needs_sync = booking.calendar_event_in.is_some()
        || (booking.starts_at.is_some_and(|starts| starts >= earliest)
            && clinic::get(txn).await?.google_calendar_id.is_some());
    if needs_sync {
        enqueue_sync(txn, booking.id).await?;
    }
    Ok(())
}

/// Queues a sync of `booking` that also removes its event from `strays`, calendars it may have
/// been put in by a sync that ran beside another (see [`SyncPlan::outcome`]).
pub async fn queue_sync_removing(
    txn: &TenantTxn,
    booking: &appointment::Model,
    strays: Vec<String>,
) -> Result<(), DomainError> {
    if strays.is_empty() {
        return queue_sync(txn, booking).await;
    }
    enqueue_job(
        txn,
        CalendarSync {
            appointment: booking.id,
            also_remove: strays,
        },
    )
    .await
}

async fn enqueue_sync(txn: &TenantTxn, appointment: Uuid) -> Result<(), DomainError> {
    enqueue_job(
        txn,
        CalendarSync {
            appointment,
            also_remove: Vec::new(),
        },
    )
    .await
}

async fn enqueue_job(txn: &TenantTxn, job: CalendarSync) -> Result<(), DomainError> {
    let new = NewJob {
        job,
        sealed_number: None,
        body_sealed: None,
        run_at: txn.now(),
    };
    enqueue(txn, new, txn.now()).await?;
    Ok(())
}

/// What a sync does for one booking: put its event in one calendar and remove it from others.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncPlan {
    pub put: Option<(String, CalendarEvent)>,
    pub remove_from: Vec<String>,
    /// The clinic's calendar when the plan was made: a removal there that Google refuses as not
    /// shared fails the sync (the sharing may be mended; the event must not be forgotten while it
    /// still blocks a time the AI would offer), where one from a calendar the clinic left is let
    /// go.
    #[serde(default)]
    pub current: Option<String>,
}

/// Where a carried-out sync leaves a booking's event: the calendar to record it in, and any
/// other calendar it may still be in (put there by a sync that ran beside this one).
#[derive(Debug, PartialEq, Eq)]
pub struct SyncOutcome {
    pub recorded: Option<String>,
    pub strays: Vec<String>,
}

impl SyncPlan {
    /// This plan, also removing the event from `strays` (unless it is put there).
    pub fn also_removing(mut self, strays: &[String]) -> Self {
        for stray in strays {
            let put_there = self.kept_in().is_some_and(|put| same_calendar(&put, stray));
            if !put_there && !self.removes_from(stray) {
                self.remove_from.push(stray.clone());
            }
        }
        self
    }

    /// Whether this plan removes the event from `calendar`.
    pub fn removes_from(&self, calendar: &str) -> bool {
        self.remove_from
            .iter()
            .any(|removed| same_calendar(removed, calendar))
    }

    /// Whether `calendar` was the clinic's when the plan was made.
    pub fn is_current(&self, calendar: &str) -> bool {
        self.current
            .as_deref()
            .is_some_and(|current| same_calendar(current, calendar))
    }

    /// Where the event is once this plan was carried out, the booking recording it in `stored`
    /// by then (another sync may have stored a calendar meanwhile) and wanting it in `wanted` now:
    /// the calendar it was put in, else the stored one unless this plan removed the event from
    /// it. A stored calendar it was neither put in nor removed from is a stray to remove, and so
    /// is the calendar it was put in when that is no longer wanted (a sync beside this one may
    /// have removed the event there before this one put it back).
    pub fn outcome(&self, stored: Option<&str>, wanted: Option<&str>) -> SyncOutcome {
        let mut outcome = self.recorded(stored);
        if let Some(put) = self.kept_in()
            && !wanted.is_some_and(|wanted| same_calendar(wanted, &put))
            && !outcome
                .strays
                .iter()
                .any(|stray| same_calendar(stray, &put))
        {
            outcome.strays.push(put);
        }
        outcome
    }

    fn recorded(&self, stored: Option<&str>) -> SyncOutcome {
        let kept_stored = stored.filter(|stored| !self.removes_from(stored));
        match (self.kept_in(), kept_stored) {
            (Some(put), Some(stored)) if !same_calendar(&put, stored) => SyncOutcome {
                recorded: Some(put),
                strays: vec![stored.to_owned()],
            },
            (Some(put), _) => SyncOutcome {
                recorded: Some(put),
                strays: Vec::new(),
            },
            (None, kept) => SyncOutcome {
                recorded: kept.map(str::to_owned),
                strays: Vec::new(),
            },
        }
    }

    /// Whether, once this plan was carried out, `now` (the plan for the booking as it stands
    /// now) has nothing left to do: the same event in the same calendar, and no calendar to
    /// remove it from that this plan did not.
    pub fn leaves_nothing_of(&self, now: &SyncPlan) -> bool {
        self.put == now.put
            && now
                .remove_from
                .iter()
                .all(|calendar| self.remove_from.contains(calendar))
    }

    /// The calendar the event is in once this plan was carried out.
    pub fn kept_in(&self) -> Option<String> {
        self.put.as_ref().map(|(calendar, _)| calendar.clone())
    }
}

/// The clinic's side of a sync: its calendar, if any, and its time zone.
pub struct ClinicCalendar<'a> {
    pub calendar_id: Option<&'a str>,
    pub time_zone: &'a str,
}

impl<'a> ClinicCalendar<'a> {
    /// `clinic`'s calendar and zone.
    pub fn of(clinic: &'a clinic_row::Model) -> Self {
        Self {
            calendar_id: clinic.google_calendar_id.as_deref(),
            time_zone: &clinic.time_zone,
        }
    }
}

/// The calendar `booking` should have its event in now: the clinic's, while the booking stands
/// and has a start time.
pub fn wanted_calendar(booking: &appointment::Model, clinic: &ClinicCalendar) -> Option<String> {
    if booking.cancelled_at.is_some() || booking.starts_at.is_none() {
        return None;
    }
    clinic.calendar_id.map(str::to_owned)
}

/// The plan for `booking` of `clinic`: its event in the calendar it should be in, and removed
/// from the calendar it was last put in and the clinic's (where a sync running beside this one may
/// have just put it) when those are not that one.
pub fn plan(booking: &appointment::Model, clinic: &ClinicCalendar, public_url: &str) -> SyncPlan {
    let wanted = wanted_calendar(booking, clinic);
    let mut remove_from: Vec<String> = [booking.calendar_event_in.as_deref(), clinic.calendar_id]
        .into_iter()
        .flatten()
        .filter(|calendar| {
            !wanted
                .as_deref()
                .is_some_and(|w| same_calendar(w, calendar))
        })
        .map(str::to_owned)
        .collect();
    remove_from.dedup_by(|a, b| same_calendar(a, b));
    let put = wanted.zip(booking.starts_at).map(|(calendar, starts_at)| {
        (
            calendar,
            event(booking, starts_at, clinic.time_zone, public_url),
        )
    });
    SyncPlan {
        put,
        remove_from,
        current: clinic.calendar_id.map(str::to_owned),
    }
}

/// Whether two calendar ids name one calendar: Google reads the addresses they are whatever the
/// letters' case (saved again in another spelling, the calendar is the one its events are in).
fn same_calendar(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// The event id of `booking`: its id's hex digits (base32hex, as Google wants).
pub fn event_id(booking: Uuid) -> String {
    booking.simple().to_string()
}

/// The event for `booking` starting at `starts_at`, shown in `time_zone`; nothing about the
/// caller.
fn event(
    booking: &appointment::Model,
    starts_at: DateTime<Utc>,
    time_zone: &str,
    public_url: &str,
) -> CalendarEvent {
    let minutes = booking
        .duration_minutes
        .map_or(DEFAULT_EVENT_MINUTES, i64::from)
        .max(1);
    let link = format!("{}/appointments", public_url.trim_end_matches('/'));
    CalendarEvent {
        id: event_id(booking.id),
        summary: "Booking (Ringback)".to_owned(),
        description: format!(
            "Booked by {}. Who it is and what it is worth are in Ringback: {link}",
            booked_by(&booking.source)
        ),
        starts_at,
        ends_at: starts_at + Duration::minutes(minutes),
        time_zone: time_zone.to_owned(),
        link,
    }
}

/// Who made a booking, in words, by its source.
fn booked_by(source: &str) -> &'static str {
    match source {
        "ai" => "the AI receptionist",
        "integrator" => "an integration",
        "demo" => "the demo data",
        _ => "staff",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn booking(cancelled: bool, event_in: Option<&str>) -> appointment::Model {
        let now = Utc::now();
        appointment::Model {
            clinic_id: Uuid::nil(),
            id: Uuid::now_v7(),
            caller_key: "v1:abc".to_owned(),
            source: "ai".to_owned(),
            external_id: None,
            value_minor: 4500,
            starts_at: Some(now),
            cancelled_at: cancelled.then_some(now),
            created_at: now,
            updated_at: now,
            duration_minutes: Some(45),
            calendar_event_in: event_in.map(str::to_owned),
        }
    }

    #[test]
    fn a_sync_puts_the_event_where_it_belongs_and_removes_it_elsewhere() {
        let clinic = |calendar_id| ClinicCalendar {
            calendar_id,
            time_zone: "Europe/London",
        };
        let standing = booking(false, Some("old@example.com"));
        let plan_now = plan(
            &standing,
            &clinic(Some("new@example.com")),
            "https://rb.example/",
        );
        let (calendar, event) = plan_now.put.expect("an event");
        assert_eq!(calendar, "new@example.com");
        assert_eq!(plan_now.remove_from, vec!["old@example.com".to_owned()]);
        assert_eq!(event.ends_at - event.starts_at, Duration::minutes(45));
        assert_eq!(event.link, "https://rb.example/appointments");
        assert!(event.description.contains("the AI receptionist"));
        assert!(ringback_providers::google::valid_event_id(&event.id));

        let cancelled = booking(true, Some("new@example.com"));
        let plan_now = plan(
            &cancelled,
            &clinic(Some("new@example.com")),
            "https://rb.example",
        );
        assert_eq!(plan_now.put, None);
        assert_eq!(plan_now.remove_from, vec!["new@example.com".to_owned()]);

        // A sync that put the event while the booking was being cancelled, or the clinic moved
        // to another calendar, has left work for the next one; one that did what is needed has not.
        let put = plan(
            &standing,
            &clinic(Some("new@example.com")),
            "https://rb.example/",
        );
        let mut cancelled_meanwhile = standing.clone();
        cancelled_meanwhile.cancelled_at = Some(Utc::now());
        cancelled_meanwhile.calendar_event_in = put.kept_in();
        let needed = plan(
            &cancelled_meanwhile,
            &clinic(Some("new@example.com")),
            "https://rb.example/",
        );
        assert!(!put.leaves_nothing_of(&needed));
        let mut moved_meanwhile = standing.clone();
        moved_meanwhile.calendar_event_in = put.kept_in();
        let needed = plan(
            &moved_meanwhile,
            &clinic(Some("third@example.com")),
            "https://rb.example/",
        );
        assert!(!put.leaves_nothing_of(&needed));
        let needed = plan(
            &moved_meanwhile,
            &clinic(Some("new@example.com")),
            "https://rb.example/",
        );
        assert!(put.leaves_nothing_of(&needed), "{put:?} {needed:?}");
        let removed = plan(
            &cancelled_meanwhile,
            &clinic(Some("new@example.com")),
            "https://rb.example/",
        );
        assert!(
            removed.leaves_nothing_of(&removed),
            "a removal is not repeated for ever"
        );

        // The calendar saved again in another spelling is the one the event is in.
        let respelled = plan(
            &booking(false, Some("Front@Example.com")),
            &clinic(Some("front@example.com")),
            "https://rb.example/",
        );
        assert_eq!(respelled.remove_from, Vec::<String>::new());
        assert!(respelled.put.is_some());

        let never_put = booking(true, None);
        let plan_now = plan(&never_put, &clinic(None), "https://rb.example");
        assert_eq!(
            plan_now,
            SyncPlan {
                put: None,
                remove_from: vec![],
                current: None,
            }
        );
    }

    /// Two syncs side by side, one putting the event in the calendar chosen before, the other in
    /// the one chosen since: whichever stores its outcome second records its own calendar and
    /// names the other as a stray for the next sync to remove the event from; a removal leaves
    /// a calendar it did not remove from recorded.
    #[test]
    fn a_sync_beside_another_names_the_calendar_it_may_have_left_an_event_in() {
        let clinic = |calendar_id| ClinicCalendar {
            calendar_id,
            time_zone: "Europe/London",
        };
        let standing = booking(false, None);
        let into_old = plan(&standing, &clinic(Some("old@example.com")), "https://rb");
        let into_new = plan(&standing, &clinic(Some("new@example.com")), "https://rb");
        let outcome = into_new.outcome(Some("old@example.com"), Some("new@example.com"));
        assert_eq!(outcome.recorded.as_deref(), Some("new@example.com"));
        assert_eq!(outcome.strays, vec!["old@example.com".to_owned()]);
        let outcome = into_old.outcome(Some("OLD@example.com"), Some("old@example.com"));
        assert_eq!(outcome.strays, Vec::<String>::new(), "the same calendar");
        // Put in the old calendar after a sync beside it removed the event there and recorded
        // the new one: the old calendar is named, not forgotten.
        let outcome = into_old.outcome(Some("new@example.com"), Some("new@example.com"));
        assert_eq!(outcome.recorded.as_deref(), Some("old@example.com"));
        assert_eq!(
            outcome.strays,
            vec!["new@example.com".to_owned(), "old@example.com".to_owned()]
        );

        let next = plan(
            &booking(false, Some("new@example.com")),
            &clinic(Some("new@example.com")),
            "https://rb",
        )
        .also_removing(&outcome_strays());
        assert_eq!(next.remove_from, vec!["old@example.com".to_owned()]);
        assert!(next.is_current("NEW@example.com") && !next.is_current("old@example.com"));

        let cancelled = plan(&booking(true, None), &clinic(None), "https://rb");
        let outcome = cancelled.outcome(Some("new@example.com"), None);
        assert_eq!(
            outcome.recorded.as_deref(),
            Some("new@example.com"),
            "not removed there"
        );
        assert!(outcome.strays.is_empty());
    }

    fn outcome_strays() -> Vec<String> {
        vec!["old@example.com".to_owned(), "New@example.com".to_owned()]
    }
}
