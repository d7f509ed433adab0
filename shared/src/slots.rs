//! Free appointment slots, in the clinic's local time: starts on a fixed step inside the business
//! hours of each day from `from` to `to`, not on a holiday, not before the earliest start the
//! clinic accepts, long enough for the service, and clear of every busy span (existing
//! appointments, later calendar busy times). The AI receptionist offers these and books only one
//! of them; the same rule decides whether a slot is still free when it books.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime};

use crate::hours::BusinessHours;

/// Minutes between possible starts.
pub const STEP_MINUTES: i64 = 30;
/// Most slots offered at once (a text lists a handful, not a timetable).
pub const MAX_SLOTS: usize = 8;
/// Most days one search looks through.
pub const MAX_DAYS: i64 = 31;
/// How long a booking lasts when nothing says otherwise (no service, no duration): a standard
/// visit, and its calendar event.
pub const STANDARD_VISIT_MINUTES: i64 = 30;

/// A search for free slots.
#[derive(Clone, Debug)]
pub struct SlotSearch<'a> {
    pub hours: &'a BusinessHours,
    pub holidays: &'a [NaiveDate],
    /// Busy spans, `[start, end)`, local.
    pub busy: &'a [(NaiveDateTime, NaiveDateTime)],
    /// The first and last day to look at (at most [`MAX_DAYS`] apart; later days are not read).
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub duration_minutes: i64,
    /// No slot starts before this (now plus the notice the clinic needs).
    pub earliest: NaiveDateTime,
}

/// The first [`MAX_SLOTS`] free starts of `search`, in order.
pub fn free_slots(search: &SlotSearch<'_>) -> Vec<NaiveDateTime> {
    let last_day = search.to.min(search.from + Duration::days(MAX_DAYS - 1));
    search
        .from
        .iter_days()
        .take_while(|day| *day <= last_day)
        .filter(|day| !search.holidays.contains(day))
        .flat_map(|day| starts_on(search, day))
        .filter(|start| is_free(search, *start))
        .take(MAX_SLOTS)
        .collect()
}

/// Whether a slot of `search`'s duration starting at `start` is free: inside one opening span of
/// its day, not on a holiday, not before the earliest start, clear of every busy span.
pub fn is_free(search: &SlotSearch<'_>, start: NaiveDateTime) -> bool {
    let end = start + Duration::minutes(search.duration_minutes);
    start >= search.earliest
        && !search.holidays.contains(&start.date())
        && inside_opening(search.hours, start, end)
        && search
            .busy
            .iter()
            .all(|(busy_start, busy_end)| end <= *busy_start || *busy_end <= start)
}

/// Whether `start` is one of the slots [`free_slots`] would offer: a step-aligned start within one
/// of its day's opening spans, and free. A booking at any other time (`09:10`) would leave gaps
/// nobody could book.
pub fn is_offered(search: &SlotSearch<'_>, start: NaiveDateTime) -> bool {
    starts_on(search, start.date()).contains(&start) && is_free(search, start)
}

/// Every step-aligned start within the day's opening spans.
fn starts_on(search: &SlotSearch<'_>, day: NaiveDate) -> Vec<NaiveDateTime> {
    let spans = &search.hours.days[day.weekday().num_days_from_monday() as usize];
    let mut starts = Vec::new();
    for span in spans {
        let (opens, closes) = (span.opens.minutes(), span.closes.minutes());
        let first = (opens + STEP_MINUTES - 1) / STEP_MINUTES * STEP_MINUTES;
        let mut at = first;
        while at + search.duration_minutes <= closes {
            starts.push(day.and_time(NaiveTime::MIN) + Duration::minutes(at));
            at += STEP_MINUTES;
        }
    }
    starts
}

/// Whether `[start, end)` lies inside one opening span of `start`'s day.
fn inside_opening(hours: &BusinessHours, start: NaiveDateTime, end: NaiveDateTime) -> bool {
    let day = start.date();
    let midnight = day.and_time(NaiveTime::MIN);
    hours.days[day.weekday().num_days_from_monday() as usize]
        .iter()
        .any(|span| {
            midnight + Duration::minutes(span.opens.minutes()) <= start
                && end <= midnight + Duration::minutes(span.closes.minutes())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: NaiveDate, hour: u32, minute: u32) -> NaiveDateTime {
        day.and_hms_opt(hour, minute, 0).expect("a time")
    }

    /// A Monday well away from any calendar the tests run on.
    fn monday() -> NaiveDate {
        NaiveDate::from_isoywd_opt(2030, 10, chrono::Weekday::Mon).expect("a Monday")
    }

    #[test]
    fn slots_fill_opening_hours_around_busy_times() {
        let hours = BusinessHours::default();
        let day = monday();
        let busy = [(at(day, 9, 30), at(day, 10, 30))];
        let search = SlotSearch {
            hours: &hours,
            holidays: &[],
            busy: &busy,
            from: day,
            to: day,
            duration_minutes: 60,
            earliest: at(day, 8, 0),
        };
        let slots = free_slots(&search);
        assert_eq!(
            slots[0],
            at(day, 10, 30),
            "09:00 would run into the busy hour"
        );
        assert_eq!(slots[1], at(day, 11, 0));
        assert_eq!(slots.len(), MAX_SLOTS);
        assert!(!is_free(&search, at(day, 9, 0)));
        assert!(!is_free(&search, at(day, 17, 0)), "ends after 17:30");
        assert!(is_free(&search, at(day, 16, 30)));
        assert!(is_offered(&search, at(day, 16, 30)));
        assert!(is_free(&search, at(day, 11, 10)));
        assert!(!is_offered(&search, at(day, 11, 10)), "between two steps");
        assert!(!is_offered(&search, at(day, 9, 0)), "busy");
    }

    #[test]
    fn weekends_holidays_and_the_notice_are_skipped() {
        let hours = BusinessHours::default();
        let friday = monday() + Duration::days(4);
        let next_monday = monday() + Duration::days(7);
        let holidays = [next_monday];
        let search = SlotSearch {
            hours: &hours,
            holidays: &holidays,
            busy: &[],
            from: friday,
            to: next_monday + Duration::days(1),
            duration_minutes: 30,
            earliest: at(friday, 16, 10),
        };
        let slots = free_slots(&search);
        assert_eq!(slots[0], at(friday, 16, 30));
        assert_eq!(slots[1], at(friday, 17, 0));
        assert_eq!(slots[2], at(next_monday + Duration::days(1), 9, 0));
        assert!(!is_free(&search, at(next_monday, 10, 0)), "a holiday");
    }
}
