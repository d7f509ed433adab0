//! What the clinic's Google calendar shows busy on the day a booking's start falls on, so that
//! staff do not book over the owner's own events or a booking already there: the busy times of
//! that day, and a warning when the start chosen clashes with one (a visit taken as long as the
//! booking being changed, else [`STANDARD_VISIT_MINUTES`], as its event is). When a booking
//! with an event in the calendar is changed, a busy time that is exactly that event's is named so
//! and clashes with nothing: it moves with the booking (Google merges touching times, so its event
//! beside another's counts as busy; another event at exactly its times cannot be told from it). Nothing shows for a clinic without a calendar; when the calendar could not
//! be asked (Google, the server or the looks' limit), the form says so. The calendar is asked
//! once per day chosen (times only, nothing of anyone).

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use leptos::prelude::*;
use ringback_shared::slots::STANDARD_VISIT_MINUTES;

use crate::api::{self, calendar_busy};
use crate::time::{ClinicTime, use_clinic_time};

/// How a date-and-time field writes a start.
const FIELD_FORMAT: &str = "%Y-%m-%dT%H:%M";

/// The booking being changed: how long it lasts and, when the calendar holds its event, the
/// times that event takes (from its start as stored, the clinic's time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OwnEvent {
    pub minutes: i64,
    pub span: Option<(NaiveDateTime, NaiveDateTime)>,
}

impl OwnEvent {
    /// A booking starting at `field` (a date-and-time field's value, empty without a start),
    /// lasting `minutes` (a standard visit when unknown), with an event in the calendar or not.
    pub fn of(field: &str, minutes: Option<i64>, in_calendar: bool) -> Self {
        let minutes = minutes.unwrap_or(STANDARD_VISIT_MINUTES);
        let span = local_start(field)
            .filter(|_| in_calendar)
            .map(|starts| (starts, starts + Duration::minutes(minutes)));
        Self { minutes, span }
    }
}

/// What the calendar says of the day `starts` (a date-and-time field's value) falls on; `own`
/// is the booking being changed, if any.
#[component]
pub fn BusyInCalendar(
    starts: RwSignal<String>,
    #[prop(optional, into)] own: MaybeProp<OwnEvent>,
) -> impl IntoView {
    let clock = use_clinic_time();
    let day = Memo::new(move |_| starts.with(|text| local_start(text).map(|at| at.date())));
    // The day asked about comes back with its answer: while another day loads, the last answer
    // (still held) is not read as the new day's.
    let looked = LocalResource::new(move || {
        let day = day.get();
        async move {
            let day = day?;
            let text = day.format("%Y-%m-%d").to_string();
            let asked = calendar_busy::Variables {
                from: text.clone(),
                to: text,
            };
            let answer = api::run::<api::CalendarBusy>(asked).await;
            Some((day, answer.map(|data| data.calendar_busy).ok()))
        }
    });
    view! {
        <div role="status" data-testid="calendar-busy">
            {move || {
                let (asked, found) = looked.get().flatten()?;
                let day = day.get().filter(|day| *day == asked)?;
                let start = local_start(&starts.get());
                notice(found.as_ref(), day, (start, own.get()), clock)
            }}
        </div>
    }
}

/// The words for what the calendar said of `day` (`None`: the question was not answered), with
/// a warning when `start` clashes; `own`, the booking being changed, clashes with nothing.
fn notice(
    found: Option<&calendar_busy::CalendarBusyCalendarBusy>,
    day: NaiveDate,
    (start, own): (Option<NaiveDateTime>, Option<OwnEvent>),
    clock: ClinicTime,
) -> Option<AnyView> {
    if found.is_some_and(|found| !found.has_calendar) {
        return None;
    }
    let Some(found) = found.filter(|found| found.checked) else {
        return Some(view! {
            <p class="hint">"Your Google calendar could not be checked just now: look at it before booking."</p>
        }.into_any());
    };
    let spans: Vec<_> = found
        .busy
        .iter()
        .filter_map(|span| local_span(clock, span))
        .filter(|span| touches(*span, day))
        .collect();
    if spans.is_empty() {
        return Some(
            view! { <p class="hint">"Your Google calendar shows nothing busy that day."</p> }
                .into_any(),
        );
    }
    let own_span = own.and_then(|own| own.span);
    let listed: Vec<String> = spans
        .iter()
        .map(|span| {
            let words = span_words(*span, day);
            if Some(*span) == own_span {
                format!("{words} (this booking)")
            } else {
                words
            }
        })
        .collect();
    let minutes = own.map_or(STANDARD_VISIT_MINUTES, |own| own.minutes);
    let clash = start.and_then(|start| {
        let end = start + Duration::minutes(minutes);
        spans
            .iter()
            .filter(|span| Some(**span) != own_span)
            .find(|(from, to)| start < *to && end > *from)
    });
    Some(view! {
        <p class="hint">{format!("Your Google calendar is busy that day: {}.", listed.join(", "))}</p>
        {clash.map(|span| view! {
            <p class="notice" data-testid="calendar-clash">
                {format!("The start chosen clashes with {} in your Google calendar.", span_words(*span, day))}
            </p>
        })}
    }.into_any())
}

/// A busy time in the clinic's time.
fn local_span(
    clock: ClinicTime,
    span: &calendar_busy::CalendarBusyCalendarBusyBusy,
) -> Option<(NaiveDateTime, NaiveDateTime)> {
    let from = local_start(&clock.field_value(&span.starts_at))?;
    let to = local_start(&clock.field_value(&span.ends_at))?;
    Some((from, to))
}

/// Whether a busy time covers part of `day`.
fn touches((from, to): (NaiveDateTime, NaiveDateTime), day: NaiveDate) -> bool {
    let midnight = |day: NaiveDate| day.and_time(NaiveTime::MIN);
    from < midnight(day + Duration::days(1)) && to > midnight(day)
}

/// A busy time as `day` reads it: "10:00–11:00", "until 09:00" or "from 22:00" when it runs over
/// midnight, "all day".
fn span_words((from, to): (NaiveDateTime, NaiveDateTime), day: NaiveDate) -> String {
    let time = |at: NaiveDateTime| at.format("%H:%M").to_string();
    let ends_later = to > (day + Duration::days(1)).and_time(NaiveTime::MIN);
    match (from.date() < day, ends_later) {
        (true, true) => "all day".to_owned(),
        (true, false) => format!("until {}", time(to)),
        (false, true) => format!("from {}", time(from)),
        (false, false) => format!("{}–{}", time(from), time(to)),
    }
}

/// A date-and-time field's value as a local time, if it holds one.
fn local_start(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, FIELD_FORMAT).ok()
}
