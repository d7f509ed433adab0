//! Metrics maths: clinic-local calendar buckets (days and months in the clinic's IANA time zone), the
//! UTC bounds of a local day or month, medians, and the daily and monthly rollups the dashboard shows.
//!
//! Rollups keep counts, not rates: rates are computed by methods from numerator and denominator, so
//! days add up to months exactly. Medians do not add up, so each bucket keeps its sorted samples and
//! the median is recomputed from them.
//!
//! Bucketing rules: calls, text-backs and callbacks are counted on the local day they happened;
//! recovered appointments (and their revenue) on the local day the appointment was created. A reply
//! counts for the text-back it answers (the caller's latest text-back before it, at most
//! [`REPLY_WINDOW`] earlier), on that text-back's day, once however many texts the caller sends:
//! the reply rate counts callers who replied, so it never exceeds 100%. Time-to-text is counted on
//! the text-back's day too, from the missed call's end to the provider's acceptance.

use std::collections::BTreeMap;
use std::ops::Range;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::attribution::{AttributionReport, CallDirection, CallRecord, ReplyRecord};

/// Errors from metrics maths.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// The name is not an IANA time zone known to this build (names are case-sensitive).
    #[error("unknown IANA time zone {name:?} (expected a name such as \"Europe/London\")")]
    UnknownTimeZone {
        /// The rejected name.
        name: String,
    },
    /// The text is not a month in `YYYY-MM` form.
    #[error("invalid month {text:?} (expected YYYY-MM, e.g. \"2025-03\")")]
    InvalidMonth {
        /// The rejected text.
        text: String,
    },
    /// The local date is too close to the ends of the supported calendar to compute its bounds.
    #[error("local date {date} is outside the supported calendar range")]
    DateOutOfRange {
        /// The rejected date.
        date: NaiveDate,
    },
}

/// Parses an IANA time zone name such as `Europe/London`.
pub fn parse_time_zone(name: &str) -> Result<Tz, MetricsError> {
    Tz::from_str(name).map_err(|_| MetricsError::UnknownTimeZone {
        name: name.to_owned(),
    })
}

/// The clinic-local calendar day of an instant.
pub fn local_day(at: DateTime<Utc>, time_zone: Tz) -> NaiveDate {
    at.with_timezone(&time_zone).date_naive()
}

/// The clinic-local calendar month of an instant.
pub fn local_month(at: DateTime<Utc>, time_zone: Tz) -> LocalMonth {
    LocalMonth::containing(local_day(at, time_zone))
}

/// A calendar month, serialised as `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LocalMonth {
    /// Always the first day of the month.
    first_day: NaiveDate,
}

impl LocalMonth {
    /// The month that contains `date`.
    pub fn containing(date: NaiveDate) -> Self {
        Self {
            first_day: date.with_day(1).unwrap_or(date),
        }
    }

    /// The month `month` (1–12) of `year`, if it is a real month in the supported calendar.
    pub fn new(year: i32, month: u32) -> Option<Self> {
        NaiveDate::from_ymd_opt(year, month, 1).map(|first_day| Self { first_day })
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.first_day.year()
    }

    /// The month number, 1–12.
    pub fn month(self) -> u32 {
        self.first_day.month()
    }

    /// The first day of the month.
    pub fn first_day(self) -> NaiveDate {
        self.first_day
    }

    /// The month after this one, if it is in the supported calendar.
    pub fn next(self) -> Option<Self> {
        self.first_day
            .checked_add_months(Months::new(1))
            .map(|first_day| Self { first_day })
    }
}

impl std::fmt::Display for LocalMonth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

impl FromStr for LocalMonth {
    type Err = MetricsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = || MetricsError::InvalidMonth {
            text: text.to_owned(),
        };
        let (year, month) = text.rsplit_once('-').ok_or_else(invalid)?;
        let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(year.trim_start_matches('-')) || month.len() != 2 || !all_digits(month) {
            return Err(invalid());
        }
        let year = year.parse().map_err(|_| invalid())?;
        let month = month.parse().map_err(|_| invalid())?;
        Self::new(year, month).ok_or_else(invalid)
    }
}

impl TryFrom<String> for LocalMonth {
    type Error = MetricsError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<LocalMonth> for String {
    fn from(month: LocalMonth) -> Self {
        month.to_string()
    }
}

/// The UTC instants `[start, end)` of a clinic-local day. Days are 23 or 25 hours long when the clocks
/// change; a day skipped entirely by a time zone gives an empty range.
pub fn local_day_bounds_utc(
    day: NaiveDate,
    time_zone: Tz,
) -> Result<Range<DateTime<Utc>>, MetricsError> {
    let next_day = day
        .succ_opt()
        .ok_or(MetricsError::DateOutOfRange { date: day })?;
    Ok(start_of_local_day(day, time_zone)?..start_of_local_day(next_day, time_zone)?)
}

/// The UTC instants `[start, end)` of a clinic-local month.
pub fn local_month_bounds_utc(
    month: LocalMonth,
    time_zone: Tz,
) -> Result<Range<DateTime<Utc>>, MetricsError> {
    let first_day = month.first_day();
    let next_month = month
        .next()
        .ok_or(MetricsError::DateOutOfRange { date: first_day })?;
    Ok(start_of_local_day(first_day, time_zone)?
        ..start_of_local_day(next_month.first_day(), time_zone)?)
}

/// The first instant whose local date is `day`.
fn start_of_local_day(day: NaiveDate, time_zone: Tz) -> Result<DateTime<Utc>, MetricsError> {
    first_instant_at_or_after(time_zone, day.and_time(NaiveTime::MIN))
        .ok_or(MetricsError::DateOutOfRange { date: day })
}

/// How far forward to look for the end of a gap in local time. The longest on record is a whole day
/// (Pacific/Apia skipped 30 December 2011).
const LONGEST_LOCAL_TIME_GAP_MINUTES: u32 = 2 * 24 * 60;

/// The first instant whose local time is `local` or, if the clocks jumped over `local`, the instant of
/// that jump.
fn first_instant_at_or_after(time_zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    if let Some(instant) = earliest_instant(time_zone, local) {
        return Some(instant);
    }
    // `local` is in a gap. Walk forward a minute at a time to the first local time that exists, then
    // narrow down to the second (a few historical offsets are not whole minutes).
    let mut missing = local;
    for _ in 0..LONGEST_LOCAL_TIME_GAP_MINUTES {
        let candidate = missing.checked_add_signed(TimeDelta::minutes(1))?;
        if earliest_instant(time_zone, candidate).is_some() {
            return earliest_existing_between(time_zone, missing, candidate);
        }
        missing = candidate;
    }
    None
}

/// Binary search for the first existing local time in `(missing, existing]`.
fn earliest_existing_between(
    time_zone: Tz,
    mut missing: NaiveDateTime,
    mut existing: NaiveDateTime,
) -> Option<DateTime<Utc>> {
    while existing - missing > TimeDelta::seconds(1) {
        let middle = missing.checked_add_signed((existing - missing) / 2)?;
        if earliest_instant(time_zone, middle).is_some() {
            existing = middle;
        } else {
            missing = middle;
        }
    }
    earliest_instant(time_zone, existing)
}

/// The earliest instant with local time `local` (the first of the two when the clocks went back).
fn earliest_instant(time_zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    time_zone
        .from_local_datetime(&local)
        .earliest()
        .map(|instant| instant.with_timezone(&Utc))
}

/// The median of durations in seconds: the middle value, or for an even count the mean of the two
/// middle values rounded down. `None` when there are no samples.
pub fn median_seconds(samples: &[i64]) -> Option<i64> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    median_of_sorted(&sorted)
}

/// [`median_seconds`] for samples already sorted in ascending order.
/// The `percent`th percentile of ascending samples by nearest rank.
fn percentile_of_sorted(sorted: &[i64], percent: usize) -> Option<i64> {
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

fn median_of_sorted(sorted: &[i64]) -> Option<i64> {
    let middle = sorted.len() / 2;
    let upper = *sorted.get(middle)?;
    if sorted.len() % 2 == 1 {
        return Some(upper);
    }
    let lower = *sorted.get(middle.checked_sub(1)?)?;
    Some(mean_rounded_down(lower, upper))
}

fn mean_rounded_down(a: i64, b: i64) -> i64 {
    // Halve each side first so the sum cannot overflow; add back the carried halves.
    a.div_euclid(2) + b.div_euclid(2) + (a.rem_euclid(2) + b.rem_euclid(2)) / 2
}

/// A rate kept as its two counts, so that rollups stay additive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Ratio {
    /// What is counted (e.g. missed calls).
    pub numerator: u64,
    /// What it is counted out of (e.g. inbound calls).
    pub denominator: u64,
}

impl Ratio {
    /// The rate as a fraction (not a percentage); `None` when the denominator is zero.
    pub fn value(self) -> Option<f64> {
        (self.denominator != 0).then(|| self.numerator as f64 / self.denominator as f64)
    }
}

/// A callback to a caller after a missed call, with how long the caller waited for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CallbackRecord {
    /// When the callback was made.
    pub at: DateTime<Utc>,
    /// Seconds from the missed call to the callback.
    pub seconds_to_callback: i64,
}

/// How long after a text-back a caller's reply still counts as answering it.
pub const REPLY_WINDOW: TimeDelta = TimeDelta::days(7);

/// How long after a miss an outbound call still counts as its callback.
pub const CALLBACK_LIMIT: TimeDelta = TimeDelta::days(7);

/// How many days a day's figures reach back to calls and texts of earlier days (a callback
/// counted on its day looks back [`CALLBACK_LIMIT`] for its miss; a reply, [`REPLY_WINDOW`] for its
/// text-back): the longer of the two.
pub const FIGURES_REACH_DAYS: i64 = 7;

/// A text-back the provider accepted.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TextBackRecord {
    /// The caller key of the recipient.
    pub caller_key: String,
    /// When the provider accepted it.
    pub at: DateTime<Utc>,
    /// When the missed call it answers ended (its start when no end was reported); `None` when
    /// the call is unknown.
    pub missed_at: Option<DateTime<Utc>>,
}

/// Everything one clinic's rollup is computed from.
#[derive(Clone, Copy, Debug)]
pub struct MetricsInput<'a> {
    /// All calls, inbound and outbound.
    pub calls: &'a [CallRecord],
    /// Text-backs the provider accepted.
    pub text_backs: &'a [TextBackRecord],
    /// Text-backs sent after the period, up to [`REPLY_WINDOW`] after its end: not counted, but a
    /// reply after one of them answers it, not a text-back of the period (a period counted on its
    /// own, then the next, would otherwise count that reply twice).
    pub later_text_backs: &'a [TextBackRecord],
    /// Texts from callers (any number per caller; each text-back counts one reply at most).
    pub replies: &'a [ReplyRecord],
    /// Callbacks after missed calls.
    pub callbacks: &'a [CallbackRecord],
    /// The attribution of the clinic's appointments.
    pub attribution: &'a AttributionReport,
}

/// The counts for one period (a local day, a month, or any sum of them).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PeriodMetrics {
    /// Calls the clinic received.
    pub inbound_calls: u64,
    /// Inbound calls no person took.
    pub missed_calls: u64,
    /// Text-backs sent.
    pub text_backs_sent: u64,
    /// Text-backs the caller replied to (however many texts they sent).
    pub replied_text_backs: u64,
    /// Every text-back's seconds from the missed call to the provider's acceptance, sorted.
    #[serde(default)]
    pub text_back_delays_seconds: Vec<i64>,
    /// Callbacks made.
    pub callbacks: u64,
    /// Every callback's time-to-callback in seconds, sorted ascending (medians need the samples).
    pub callback_delays_seconds: Vec<i64>,
    /// Appointments created in the period and recovered.
    pub recovered_appointments: u64,
    /// The value of those appointments, in minor units (saturating on overflow).
    pub recovered_revenue_minor: i64,
}

impl PeriodMetrics {
    /// Missed calls out of inbound calls.
    pub fn miss_rate(&self) -> Ratio {
        Ratio {
            numerator: self.missed_calls,
            denominator: self.inbound_calls,
        }
    }

    /// Text-backs replied to out of text-backs sent: callers who replied, at most 1.
    pub fn reply_rate(&self) -> Ratio {
        Ratio {
            numerator: self.replied_text_backs,
            denominator: self.text_backs_sent,
        }
    }

    /// Recovered appointments out of missed calls. Both are counted when they happen, so a single day
    /// can exceed 1 when bookings come in after the day of the missed calls.
    pub fn recovery_rate(&self) -> Ratio {
        Ratio {
            numerator: self.recovered_appointments,
            denominator: self.missed_calls,
        }
    }

    /// The median time-to-callback in seconds; `None` when there were no callbacks.
    pub fn median_time_to_callback_seconds(&self) -> Option<i64> {
        median_of_sorted(&self.callback_delays_seconds)
    }

    /// The median time-to-text in seconds; `None` when no text-back was sent.
    pub fn median_time_to_text_seconds(&self) -> Option<i64> {
        median_of_sorted(&self.text_back_delays_seconds)
    }

    /// The 90th percentile time-to-text in seconds (nearest rank); `None` when none was sent.
    pub fn p90_time_to_text_seconds(&self) -> Option<i64> {
        percentile_of_sorted(&self.text_back_delays_seconds, 90)
    }

    /// The sum of `periods` (a range's days, a month's days): the counts added, the samples
    /// gathered and sorted once, not once per period.
    pub fn sum<'a>(periods: impl IntoIterator<Item = &'a PeriodMetrics>) -> PeriodMetrics {
        let mut total = PeriodMetrics::default();
        for period in periods {
            total.add_counts(period);
            total
                .text_back_delays_seconds
                .extend_from_slice(&period.text_back_delays_seconds);
            total
                .callback_delays_seconds
                .extend_from_slice(&period.callback_delays_seconds);
        }
        total.text_back_delays_seconds.sort_unstable();
        total.callback_delays_seconds.sort_unstable();
        total
    }

    /// Adds `other`'s counts (not its samples) to this period's.
    fn add_counts(&mut self, other: &PeriodMetrics) {
        self.inbound_calls = self.inbound_calls.saturating_add(other.inbound_calls);
        self.missed_calls = self.missed_calls.saturating_add(other.missed_calls);
        self.text_backs_sent = self.text_backs_sent.saturating_add(other.text_backs_sent);
        self.replied_text_backs = self
            .replied_text_backs
            .saturating_add(other.replied_text_backs);
        self.callbacks = self.callbacks.saturating_add(other.callbacks);
        self.recovered_appointments = self
            .recovered_appointments
            .saturating_add(other.recovered_appointments);
        self.recovered_revenue_minor = self
            .recovered_revenue_minor
            .saturating_add(other.recovered_revenue_minor);
    }
}

/// One clinic-local day's metrics.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DayMetrics {
    /// The local date.
    pub day: NaiveDate,
    /// Its counts.
    pub metrics: PeriodMetrics,
}

/// One clinic-local month's metrics.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MonthMetrics {
    /// The local month.
    pub month: LocalMonth,
    /// Its counts.
    pub metrics: PeriodMetrics,
}

/// Daily and monthly metrics, in date order. Only days and months with at least one event appear.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MetricsReport {
    /// Per local day.
    pub days: Vec<DayMetrics>,
    /// Per local month.
    pub months: Vec<MonthMetrics>,
}

impl MetricsReport {
    /// The sum over the whole report.
    pub fn total(&self) -> PeriodMetrics {
        PeriodMetrics::sum(self.months.iter().map(|month| &month.metrics))
    }
}

/// Rolls one clinic's events up into clinic-local days and months.
pub fn aggregate_metrics(time_zone: Tz, input: &MetricsInput<'_>) -> MetricsReport {
    let days = daily_metrics(time_zone, input);
    let months = monthly_metrics(&days);
    MetricsReport { days, months }
}

fn daily_metrics(time_zone: Tz, input: &MetricsInput<'_>) -> Vec<DayMetrics> {
    let mut days: BTreeMap<NaiveDate, PeriodMetrics> = BTreeMap::new();

    for call in input.calls {
        if call.direction == CallDirection::Inbound {
            let metrics = day_bucket(&mut days, time_zone, call.at);
            metrics.inbound_calls += 1;
            metrics.missed_calls += u64::from(call.outcome.is_missed());
        }
    }
    let every_text_back: Vec<TextBackRecord> = input
        .text_backs
        .iter()
        .chain(input.later_text_backs)
        .cloned()
        .collect();
    // In the order given: the period's own come first, and the zip below stops after them.
    let answered = replied_text_backs(&every_text_back, input.replies);
    for (text_back, replied) in input.text_backs.iter().zip(answered) {
        let metrics = day_bucket(&mut days, time_zone, text_back.at);
        metrics.text_backs_sent += 1;
        metrics.replied_text_backs += u64::from(replied);
        if let Some(missed_at) = text_back.missed_at {
            metrics
                .text_back_delays_seconds
                .push((text_back.at - missed_at).num_seconds().max(0));
        }
    }
    for callback in input.callbacks {
        let metrics = day_bucket(&mut days, time_zone, callback.at);
        metrics.callbacks += 1;
        metrics
            .callback_delays_seconds
            .push(callback.seconds_to_callback);
    }
    for attribution in input
        .attribution
        .attributions
        .iter()
        .filter(|a| a.is_recovered())
    {
        let metrics = day_bucket(&mut days, time_zone, attribution.created_at);
        metrics.recovered_appointments += 1;
        metrics.recovered_revenue_minor = metrics
            .recovered_revenue_minor
            .saturating_add(attribution.value_minor);
    }

    days.into_iter()
        .map(|(day, mut metrics)| {
            metrics.callback_delays_seconds.sort_unstable();
            metrics.text_back_delays_seconds.sort_unstable();
            DayMetrics { day, metrics }
        })
        .collect()
}

/// For each text-back (in the order given), whether its caller replied to it: a reply at or after
/// it, before the caller's next text-back and within [`REPLY_WINDOW`].
pub fn replied_text_backs(text_backs: &[TextBackRecord], replies: &[ReplyRecord]) -> Vec<bool> {
    let mut replies_by_caller: BTreeMap<&str, Vec<DateTime<Utc>>> = BTreeMap::new();
    for reply in replies {
        replies_by_caller
            .entry(&reply.caller_key)
            .or_default()
            .push(reply.at);
    }
    replies_by_caller
        .values_mut()
        .for_each(|times| times.sort_unstable());
    let mut sent_by_caller: BTreeMap<&str, Vec<DateTime<Utc>>> = BTreeMap::new();
    for text_back in text_backs {
        sent_by_caller
            .entry(&text_back.caller_key)
            .or_default()
            .push(text_back.at);
    }
    sent_by_caller
        .values_mut()
        .for_each(|times| times.sort_unstable());
    text_backs
        .iter()
        .map(|text_back| {
            let key = text_back.caller_key.as_str();
            let next_sent = sent_by_caller[key]
                .iter()
                .find(|at| **at > text_back.at)
                .copied();
            let until = next_sent.map_or(text_back.at + REPLY_WINDOW, |next| {
                next.min(text_back.at + REPLY_WINDOW)
            });
            replies_by_caller.get(key).is_some_and(|times| {
                let first = times.partition_point(|at| *at < text_back.at);
                times.get(first).is_some_and(|at| *at < until)
            })
        })
        .collect()
}

fn day_bucket(
    days: &mut BTreeMap<NaiveDate, PeriodMetrics>,
    time_zone: Tz,
    at: DateTime<Utc>,
) -> &mut PeriodMetrics {
    days.entry(local_day(at, time_zone)).or_default()
}

/// The local months `days` fall in, in order, each with the sum of its days.
pub fn monthly_metrics(days: &[DayMetrics]) -> Vec<MonthMetrics> {
    let mut months: BTreeMap<LocalMonth, Vec<&PeriodMetrics>> = BTreeMap::new();
    for day in days {
        months
            .entry(LocalMonth::containing(day.day))
            .or_default()
            .push(&day.metrics);
    }
    months
        .into_iter()
        .map(|(month, days)| MonthMetrics {
            month,
            metrics: PeriodMetrics::sum(days),
        })
        .collect()
}

/// Callbacks to missed callers, as the metrics count them. Per caller, in time order: missed
/// inbound calls gather into a streak; an answered inbound call (the caller got through) ends the
/// streak uncounted; an outbound call ends it and counts as one callback if any miss of the streak
/// lies within `within` before it, timed from the earliest such miss. Only the `within` before a
/// callback matters, so counting a day needs just that much history before it.
pub fn callbacks_to_missed_calls(
    calls: &[CallRecord],
    within: chrono::TimeDelta,
) -> Vec<CallbackRecord> {
    let mut ordered: Vec<&CallRecord> = calls.iter().collect();
    ordered.sort_by(|a, b| (&a.caller_key, a.at, a.id).cmp(&(&b.caller_key, b.at, b.id)));
    let mut callbacks = Vec::new();
    let mut streak: Vec<DateTime<Utc>> = Vec::new();
    let mut caller: Option<&str> = None;
    for call in ordered {
        if caller != Some(call.caller_key.as_str()) {
            streak.clear();
            caller = Some(&call.caller_key);
        }
        match call.direction {
            CallDirection::Inbound if call.outcome.is_missed() => streak.push(call.at),
            CallDirection::Inbound => streak.clear(),
            CallDirection::Outbound => {
                let earliest_recent = streak
                    .iter()
                    .find(|missed_at| call.at - **missed_at <= within);
                if let Some(missed_at) = earliest_recent {
                    callbacks.push(CallbackRecord {
                        at: call.at,
                        seconds_to_callback: (call.at - *missed_at).num_seconds(),
                    });
                }
                streak.clear();
            }
        }
    }
    callbacks
}

#[cfg(test)]
mod callback_pairing_tests {
    use super::*;

    #[test]
    fn the_figures_reach_is_the_longer_look_back() {
        let longer = CALLBACK_LIMIT.max(REPLY_WINDOW);
        assert_eq!(FIGURES_REACH_DAYS, longer.num_days());
    }
    use crate::attribution::CallOutcome;
    use uuid::Uuid;

    fn call(
        n: u128,
        caller: &str,
        minute: i64,
        direction: CallDirection,
        outcome: CallOutcome,
    ) -> CallRecord {
        CallRecord {
            id: Uuid::from_u128(n),
            caller_key: caller.to_owned(),
            at: DateTime::<Utc>::UNIX_EPOCH + chrono::TimeDelta::minutes(minute),
            direction,
            outcome,
        }
    }

    #[test]
    fn a_streak_of_misses_is_timed_from_its_first_and_called_back_once() {
        let calls = [
            call(1, "a", 0, CallDirection::Inbound, CallOutcome::NoAnswer),
            call(2, "a", 10, CallDirection::Inbound, CallOutcome::Busy),
            call(3, "a", 30, CallDirection::Outbound, CallOutcome::Answered),
            call(4, "a", 40, CallDirection::Outbound, CallOutcome::Answered),
            call(5, "b", 0, CallDirection::Inbound, CallOutcome::NoAnswer),
            call(6, "b", 5, CallDirection::Inbound, CallOutcome::Answered),
            call(7, "b", 9, CallDirection::Outbound, CallOutcome::Answered),
        ];
        let callbacks = callbacks_to_missed_calls(&calls, chrono::TimeDelta::days(7));
        assert_eq!(
            callbacks.len(),
            1,
            "b got through before any callback; a's second call is no callback"
        );
        assert_eq!(callbacks[0].seconds_to_callback, 30 * 60);
    }

    #[test]
    fn only_misses_within_the_limit_time_a_callback() {
        let day = 60 * 24;
        let calls = [
            call(1, "a", 0, CallDirection::Inbound, CallOutcome::NoAnswer),
            call(
                2,
                "a",
                6 * day,
                CallDirection::Inbound,
                CallOutcome::NoAnswer,
            ),
            call(
                3,
                "a",
                8 * day,
                CallDirection::Outbound,
                CallOutcome::Answered,
            ),
        ];
        let callbacks = callbacks_to_missed_calls(&calls, chrono::TimeDelta::days(7));
        assert_eq!(callbacks.len(), 1);
        assert_eq!(
            callbacks[0].seconds_to_callback,
            2 * day * 60,
            "timed from the recent miss only"
        );
    }

    #[test]
    fn callbacks_beyond_the_limit_do_not_count() {
        let calls = [
            call(1, "a", 0, CallDirection::Inbound, CallOutcome::NoAnswer),
            call(
                2,
                "a",
                60 * 24 * 8,
                CallDirection::Outbound,
                CallOutcome::Answered,
            ),
        ];
        assert!(callbacks_to_missed_calls(&calls, chrono::TimeDelta::days(7)).is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribution::{AppointmentRecord, AttributionWindow, CallOutcome, attribute};
    use uuid::Uuid;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn london() -> Tz {
        parse_time_zone("Europe/London").unwrap()
    }

    #[test]
    fn time_zone_names_parse_with_a_clear_error() {
        assert_eq!(
            parse_time_zone("Australia/Sydney").unwrap(),
            Tz::Australia__Sydney
        );
        let error = parse_time_zone("Europe/Londn").unwrap_err();
        assert_eq!(
            error,
            MetricsError::UnknownTimeZone {
                name: "Europe/Londn".into()
            }
        );
        assert!(error.to_string().contains("Europe/Londn"));
    }

    #[test]
    fn london_spring_forward_day_is_23_hours() {
        let bounds = local_day_bounds_utc(date(2025, 3, 30), london()).unwrap();
        assert_eq!(bounds.start, utc(2025, 3, 30, 0, 0));
        assert_eq!(bounds.end, utc(2025, 3, 30, 23, 0));
        assert_eq!(bounds.end - bounds.start, TimeDelta::hours(23));
    }

    #[test]
    fn london_fall_back_day_is_25_hours() {
        let bounds = local_day_bounds_utc(date(2025, 10, 26), london()).unwrap();
        assert_eq!(bounds.start, utc(2025, 10, 25, 23, 0));
        assert_eq!(bounds.end, utc(2025, 10, 27, 0, 0));
        assert_eq!(bounds.end - bounds.start, TimeDelta::hours(25));
        // Both 01:30s of that morning belong to the day.
        assert_eq!(
            local_day(utc(2025, 10, 26, 0, 30), london()),
            date(2025, 10, 26)
        );
        assert_eq!(
            local_day(utc(2025, 10, 26, 1, 30), london()),
            date(2025, 10, 26)
        );
    }

    #[test]
    fn ordinary_london_summer_day_is_24_hours_shifted_by_an_hour() {
        let bounds = local_day_bounds_utc(date(2025, 7, 1), london()).unwrap();
        assert_eq!(bounds.start, utc(2025, 6, 30, 23, 0));
        assert_eq!(bounds.end, utc(2025, 7, 1, 23, 0));
    }

    #[test]
    fn a_day_whose_midnight_was_skipped_starts_at_the_jump() {
        // São Paulo moved its clocks from 00:00 to 01:00 on 4 November 2018.
        let bounds = local_day_bounds_utc(date(2018, 11, 4), Tz::America__Sao_Paulo).unwrap();
        assert_eq!(bounds.start, utc(2018, 11, 4, 3, 0));
        assert_eq!(bounds.end, utc(2018, 11, 5, 2, 0));
    }

    #[test]
    fn a_skipped_day_is_empty() {
        // Samoa skipped 30 December 2011 when it crossed the date line.
        let bounds = local_day_bounds_utc(date(2011, 12, 30), Tz::Pacific__Apia).unwrap();
        assert_eq!(bounds.start, bounds.end);
    }

    #[test]
    fn month_bucketing_follows_local_midnight_not_utc() {
        // 31 March 2025 23:30 UTC is already 1 April 00:30 in London (BST).
        let at = utc(2025, 3, 31, 23, 30);
        assert_eq!(local_month(at, london()), LocalMonth::new(2025, 4).unwrap());
        assert_eq!(local_month(at, Tz::UTC), LocalMonth::new(2025, 3).unwrap());
        // 1 January 2025 03:00 UTC is still 31 December 2024 in New York.
        let at = utc(2025, 1, 1, 3, 0);
        assert_eq!(
            local_month(at, Tz::America__New_York),
            LocalMonth::new(2024, 12).unwrap()
        );
        // In winter London is on UTC, so 31 January 23:30 UTC stays in January.
        assert_eq!(
            local_month(utc(2025, 1, 31, 23, 30), london()),
            LocalMonth::new(2025, 1).unwrap()
        );
    }

    #[test]
    fn month_bounds_cover_the_local_month() {
        let bounds = local_month_bounds_utc(LocalMonth::new(2025, 3).unwrap(), london()).unwrap();
        assert_eq!(bounds.start, utc(2025, 3, 1, 0, 0));
        assert_eq!(bounds.end, utc(2025, 3, 31, 23, 0));
    }

    #[test]
    fn months_print_and_parse_as_year_dash_month() {
        let month = LocalMonth::new(2025, 3).unwrap();
        assert_eq!(month.to_string(), "2025-03");
        assert_eq!("2025-03".parse::<LocalMonth>().unwrap(), month);
        assert_eq!(serde_json::to_string(&month).unwrap(), "\"2025-03\"");
        assert_eq!(
            serde_json::from_str::<LocalMonth>("\"2025-03\"").unwrap(),
            month
        );
        for bad in ["2025-13", "2025-3", "2025", "20x5-03", "2025-03-01", ""] {
            assert!(bad.parse::<LocalMonth>().is_err(), "{bad}");
        }
        assert_eq!(
            LocalMonth::containing(date(2024, 2, 29)),
            LocalMonth::new(2024, 2).unwrap()
        );
        assert_eq!(
            LocalMonth::new(2024, 12).unwrap().next(),
            LocalMonth::new(2025, 1)
        );
    }

    #[test]
    fn medians() {
        assert_eq!(median_seconds(&[]), None);
        assert_eq!(median_seconds(&[42]), Some(42));
        assert_eq!(median_seconds(&[30, 10, 20]), Some(20));
        assert_eq!(median_seconds(&[40, 10, 20, 30]), Some(25));
        assert_eq!(median_seconds(&[10, 21]), Some(15));
        assert_eq!(median_seconds(&[-3, 0]), Some(-2));
        assert_eq!(median_seconds(&[i64::MAX, i64::MAX]), Some(i64::MAX));
        assert_eq!(median_seconds(&[i64::MIN, i64::MIN]), Some(i64::MIN));
    }

    #[test]
    fn ratios_keep_counts_and_divide_safely() {
        let ratio = Ratio {
            numerator: 1,
            denominator: 4,
        };
        assert_eq!(ratio.value(), Some(0.25));
        assert_eq!(
            Ratio {
                numerator: 0,
                denominator: 0
            }
            .value(),
            None
        );
    }

    fn call(
        n: u128,
        at: DateTime<Utc>,
        direction: CallDirection,
        outcome: CallOutcome,
    ) -> CallRecord {
        CallRecord {
            id: Uuid::from_u128(n),
            caller_key: "v1:k".into(),
            at,
            direction,
            outcome,
        }
    }

    #[test]
    fn aggregation_buckets_by_local_day_and_rolls_up_by_month() {
        let tz = london();
        let calls = [
            // 31 March, local.
            call(
                1,
                utc(2025, 3, 31, 9, 0),
                CallDirection::Inbound,
                CallOutcome::NoAnswer,
            ),
            call(
                2,
                utc(2025, 3, 31, 10, 0),
                CallDirection::Inbound,
                CallOutcome::Answered,
            ),
            call(
                3,
                utc(2025, 3, 31, 11, 0),
                CallDirection::Outbound,
                CallOutcome::Answered,
            ),
            // 23:30 UTC on 31 March is 00:30 on 1 April in London.
            call(
                4,
                utc(2025, 3, 31, 23, 30),
                CallDirection::Inbound,
                CallOutcome::Voicemail,
            ),
        ];
        let text_backs = [
            text_back(utc(2025, 3, 31, 9, 1), Some(utc(2025, 3, 31, 9, 0))),
            text_back(utc(2025, 3, 31, 23, 31), Some(utc(2025, 3, 31, 23, 30))),
        ];
        let replies = [reply(5, utc(2025, 3, 31, 9, 30))];
        let callbacks = [
            CallbackRecord {
                at: utc(2025, 3, 31, 11, 0),
                seconds_to_callback: 7200,
            },
            CallbackRecord {
                at: utc(2025, 4, 1, 8, 0),
                seconds_to_callback: 600,
            },
            CallbackRecord {
                at: utc(2025, 4, 2, 8, 0),
                seconds_to_callback: 301,
            },
        ];
        let appointments = [AppointmentRecord {
            id: Uuid::from_u128(6),
            caller_key: "v1:k".into(),
            created_at: utc(2025, 3, 31, 12, 0),
            value_minor: 9_500,
            cancelled: false,
        }];
        let attribution = attribute(
            AttributionWindow::default(),
            &calls,
            &replies,
            &appointments,
        );
        assert_eq!(attribution.recovered_count, 1);

        let report = aggregate_metrics(
            tz,
            &MetricsInput {
                calls: &calls,
                text_backs: &text_backs,
                later_text_backs: &[],
                replies: &replies,
                callbacks: &callbacks,
                attribution: &attribution,
            },
        );

        let days: Vec<NaiveDate> = report.days.iter().map(|d| d.day).collect();
        assert_eq!(
            days,
            vec![date(2025, 3, 31), date(2025, 4, 1), date(2025, 4, 2)]
        );
        let march_31 = &report.days[0].metrics;
        assert_eq!(march_31.inbound_calls, 2);
        assert_eq!(march_31.missed_calls, 1);
        assert_eq!(march_31.miss_rate().value(), Some(0.5));
        assert_eq!(march_31.text_backs_sent, 1);
        assert_eq!(march_31.reply_rate().value(), Some(1.0));
        assert_eq!(march_31.callbacks, 1);
        assert_eq!(march_31.median_time_to_callback_seconds(), Some(7200));
        assert_eq!(march_31.recovered_appointments, 1);
        assert_eq!(march_31.recovery_rate().value(), Some(1.0));
        assert_eq!(march_31.recovered_revenue_minor, 9_500);
        let april_1 = &report.days[1].metrics;
        assert_eq!((april_1.inbound_calls, april_1.missed_calls), (1, 1));
        assert_eq!(april_1.text_backs_sent, 1);
        assert_eq!(april_1.reply_rate().value(), Some(0.0));
        assert_eq!(april_1.median_time_to_text_seconds(), Some(60));
        assert_eq!(april_1.recovery_rate().value(), Some(0.0));

        let months: Vec<String> = report.months.iter().map(|m| m.month.to_string()).collect();
        assert_eq!(months, vec!["2025-03", "2025-04"]);
        let april = &report.months[1].metrics;
        assert_eq!(april.missed_calls, 1);
        assert_eq!(april.callbacks, 2);
        assert_eq!(april.callback_delays_seconds, vec![301, 600]);
        assert_eq!(april.median_time_to_callback_seconds(), Some(450));
        assert_eq!(april.recovered_revenue_minor, 0);

        let total = report.total();
        assert_eq!(total.inbound_calls, 3);
        assert_eq!(total.missed_calls, 2);
        assert_eq!(total.callbacks, 3);
        assert_eq!(total.median_time_to_callback_seconds(), Some(600));
        assert_eq!(total.recovered_revenue_minor, 9_500);
    }

    fn text_back(at: DateTime<Utc>, missed_at: Option<DateTime<Utc>>) -> TextBackRecord {
        TextBackRecord {
            caller_key: "v1:k".into(),
            at,
            missed_at,
        }
    }

    fn reply(n: u128, at: DateTime<Utc>) -> ReplyRecord {
        ReplyRecord {
            id: Uuid::from_u128(n),
            caller_key: "v1:k".into(),
            at,
        }
    }

    #[test]
    fn a_caller_who_replies_three_times_counts_once() {
        let text_backs = [
            text_back(utc(2025, 3, 3, 9, 0), Some(utc(2025, 3, 3, 8, 59))),
            // Ten days later: the replies before it belong to the first text-back only.
            text_back(utc(2025, 3, 13, 9, 0), None),
        ];
        let replies = [
            reply(1, utc(2025, 3, 3, 9, 5)),
            reply(2, utc(2025, 3, 3, 9, 6)),
            reply(3, utc(2025, 3, 4, 10, 0)),
        ];
        assert_eq!(
            replied_text_backs(&text_backs, &replies),
            [true, false],
            "three replies answer one text-back; the later one was never answered"
        );
        let attribution = AttributionReport::default();
        let report = aggregate_metrics(
            Tz::UTC,
            &MetricsInput {
                calls: &[],
                text_backs: &text_backs,
                later_text_backs: &[],
                replies: &replies,
                callbacks: &[],
                attribution: &attribution,
            },
        );
        let total = report.total();
        assert_eq!(total.text_backs_sent, 2);
        assert_eq!(total.replied_text_backs, 1);
        assert_eq!(total.reply_rate().value(), Some(0.5));
        assert_eq!(report.days[0].metrics.reply_rate().value(), Some(1.0));
        assert_eq!(
            total.text_back_delays_seconds,
            [60],
            "an unknown call has no delay"
        );
        let late = [reply(4, utc(2025, 3, 20, 9, 1))];
        assert_eq!(
            replied_text_backs(&text_backs, &late),
            [false, false],
            "a reply more than a week later answers nothing"
        );
    }

    #[test]
    fn a_reply_after_a_later_text_back_answers_that_one_alone() {
        // A text-back on the period's last evening, another the next morning (after the period),
        // and a reply after the second: the period's text-back was not answered.
        let period = [text_back(utc(2025, 3, 31, 20, 0), None)];
        let later = [text_back(utc(2025, 4, 1, 9, 0), None)];
        let replies = [reply(1, utc(2025, 4, 1, 9, 30))];
        let attribution = AttributionReport::default();
        let counted = |later_text_backs: &[TextBackRecord]| {
            aggregate_metrics(
                Tz::UTC,
                &MetricsInput {
                    calls: &[],
                    text_backs: &period,
                    later_text_backs,
                    replies: &replies,
                    callbacks: &[],
                    attribution: &attribution,
                },
            )
            .total()
        };
        let total = counted(&later);
        assert_eq!((total.text_backs_sent, total.replied_text_backs), (1, 0));
        // Without the later text-back, the reply is the period's.
        assert_eq!(counted(&[]).replied_text_backs, 1);
    }

    #[test]
    fn time_to_text_has_a_median_and_a_90th_percentile() {
        let samples = PeriodMetrics {
            text_back_delays_seconds: (1..=20).collect(),
            ..PeriodMetrics::default()
        };
        assert_eq!(samples.median_time_to_text_seconds(), Some(10));
        assert_eq!(samples.p90_time_to_text_seconds(), Some(18));
        let one = PeriodMetrics {
            text_back_delays_seconds: vec![7],
            ..PeriodMetrics::default()
        };
        assert_eq!(one.p90_time_to_text_seconds(), Some(7));
        assert_eq!(PeriodMetrics::default().p90_time_to_text_seconds(), None);
    }

    #[test]
    fn aggregation_of_nothing_is_empty() {
        let attribution = AttributionReport::default();
        let report = aggregate_metrics(
            Tz::UTC,
            &MetricsInput {
                calls: &[],
                text_backs: &[],
                later_text_backs: &[],
                replies: &[],
                callbacks: &[],
                attribution: &attribution,
            },
        );
        assert_eq!(report, MetricsReport::default());
        assert_eq!(report.total().median_time_to_callback_seconds(), None);
    }
}

#[cfg(test)]
mod period_sum_tests {
    use super::*;

    fn period(calls: u64, callbacks: &[i64], texts: &[i64]) -> PeriodMetrics {
        PeriodMetrics {
            inbound_calls: calls,
            missed_calls: calls / 2,
            callbacks: callbacks.len() as u64,
            callback_delays_seconds: callbacks.to_vec(),
            text_backs_sent: texts.len() as u64,
            text_back_delays_seconds: texts.to_vec(),
            recovered_revenue_minor: i64::MAX - 1,
            ..PeriodMetrics::default()
        }
    }

    #[test]
    fn a_sum_adds_the_counts_and_keeps_every_sample_in_order() {
        let days = [
            period(4, &[30, 300], &[9]),
            period(0, &[], &[]),
            period(6, &[5, 40, 41], &[2, 60]),
        ];
        let total = PeriodMetrics::sum(&days);
        assert_eq!(total.inbound_calls, 10);
        assert_eq!(total.missed_calls, 5);
        assert_eq!(total.callbacks, 5);
        assert_eq!(total.callback_delays_seconds, [5, 30, 40, 41, 300]);
        assert_eq!(total.text_back_delays_seconds, [2, 9, 60]);
        assert_eq!(total.median_time_to_callback_seconds(), Some(40));
        assert_eq!(total.recovered_revenue_minor, i64::MAX, "saturates");
        assert_eq!(PeriodMetrics::sum([]), PeriodMetrics::default());
    }

    #[test]
    fn months_sum_their_days_and_the_report_its_months() {
        let day = |d: u32, metrics: PeriodMetrics| DayMetrics {
            day: NaiveDate::from_ymd_opt(2025, 1 + d / 40, 1 + d % 28).expect("a date"),
            metrics,
        };
        let days = vec![
            day(1, period(2, &[70], &[])),
            day(2, period(3, &[10], &[4])),
            day(41, period(1, &[20], &[1])),
        ];
        let months = monthly_metrics(&days);
        assert_eq!(months.len(), 2);
        assert_eq!(months[0].metrics.callback_delays_seconds, [10, 70]);
        assert_eq!(months[1].metrics.inbound_calls, 1);
        let report = MetricsReport { days, months };
        assert_eq!(report.total().callback_delays_seconds, [10, 20, 70]);
        assert_eq!(report.total().inbound_calls, 6);
    }
}
