//! What the clinic's Google calendar shows busy on the day a new booking's start falls on, so that
//! staff do not book over the owner's own events or a booking already there: the busy times of
//! that day, and a warning when the start chosen clashes with one (a visit taken as
//! [`STANDARD_VISIT_MINUTES`] long, as its event is). Nothing shows for a clinic without a
//! calendar; when the calendar could not be asked (Google, the server or the looks' limit), the
//! form says so. The calendar is asked once per day chosen (times only, nothing of anyone).

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};
use leptos::prelude::*;
use ringback_shared::slots::STANDARD_VISIT_MINUTES;

use crate::api::{self, calendar_busy};
use crate::time::{ClinicTime, use_clinic_time};

/// How a date-and-time field writes a start.
const FIELD_FORMAT: &str = "%Y-%m-%dT%H:%M";

/// What the calendar says of the day `starts` (a date-and-time field's value) falls on.
#[component]
pub fn BusyInCalendar(starts: RwSignal<String>) -> impl IntoView {
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
                notice(found.as_ref(), day, start, clock)
            }}
        </div>
    }
}

/// The words for what the calendar said of `day` (`None`: the question was not answered), with
/// a warning when `start` clashes.
fn notice(
    found: Option<&calendar_busy::CalendarBusyCalendarBusy>,
    day: NaiveDate,
    start: Option<NaiveDateTime>,
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
    let listed: Vec<String> = spans.iter().map(|span| span_words(*span, day)).collect();
    let clash = start.and_then(|start| {
        let end = start + Duration::minutes(STANDARD_VISIT_MINUTES);
        spans.iter().find(|(from, to)| start < *to && end > *from)
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
