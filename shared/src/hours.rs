//! Business hours: opening spans per weekday in the clinic's local time, validated, and the rule
//! that says whether a local moment is inside them (text-backs pick their template by it).

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};
use serde::{Deserialize, Serialize};

/// Errors in a business-hours definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("times are written HH:MM, 00:00 to 24:00")]
    BadTime,
    #[error("{day}: a span must end after it starts")]
    EmptySpan { day: &'static str },
    #[error("{day}: spans must not overlap and must be in order")]
    Overlap { day: &'static str },
    #[error("{day}: at most {max} spans a day")]
    TooMany { day: &'static str, max: usize },
}

/// Most opening spans in one day.
pub const MAX_SPANS_PER_DAY: usize = 4;

/// Minutes after local midnight, 0..=1440.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime(u16);

impl ClockTime {
    /// Parses `HH:MM` (24:00 means the end of the day).
    pub fn parse(text: &str) -> Result<Self, HoursError> {
        let (hours, minutes) = text.trim().split_once(':').ok_or(HoursError::BadTime)?;
        let (hours, minutes): (u16, u16) = (
            hours.parse().map_err(|_| HoursError::BadTime)?,
            minutes.parse().map_err(|_| HoursError::BadTime)?,
        );
        // Checked before the arithmetic: an hour of 1093 would wrap to 00:44 in a release build.
        if hours > 24 || minutes >= 60 || (hours == 24 && minutes > 0) {
            return Err(HoursError::BadTime);
        }
        Ok(Self(hours * 60 + minutes))
    }

    /// Minutes after local midnight.
    pub fn minutes(self) -> i64 {
        i64::from(self.0)
    }

    /// The time of day this is (24:00 as the last moment of the day).
    pub fn as_time(self) -> NaiveTime {
        NaiveTime::from_hms_opt(u32::from(self.0 / 60), u32::from(self.0 % 60), 0)
            .unwrap_or_else(|| NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN))
    }

    fn of(time: NaiveTime) -> Self {
        Self((time.hour() * 60 + time.minute()) as u16)
    }
}

impl TryFrom<String> for ClockTime {
    type Error = HoursError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<ClockTime> for String {
    fn from(time: ClockTime) -> Self {
        format!("{:02}:{:02}", time.0 / 60, time.0 % 60)
    }
}

/// One opening span, `[opens, closes)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub opens: ClockTime,
    pub closes: ClockTime,
}

/// Opening spans for each weekday, Monday first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessHours {
    pub days: [Vec<Span>; 7],
}

const DAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl Default for BusinessHours {
    /// Monday to Friday, 09:00 to 17:30.
    fn default() -> Self {
        let weekday = vec![Span {
            opens: ClockTime(9 * 60),
            closes: ClockTime(17 * 60 + 30),
        }];
        Self {
            days: [
                weekday.clone(),
                weekday.clone(),
                weekday.clone(),
                weekday.clone(),
                weekday,
                vec![],
                vec![],
            ],
        }
    }
}

impl BusinessHours {
    /// Checks every day: spans non-empty, in order, not overlapping, not too many.
    pub fn validate(&self) -> Result<(), HoursError> {
        for (day, spans) in DAY_NAMES.iter().zip(&self.days) {
            if spans.len() > MAX_SPANS_PER_DAY {
                return Err(HoursError::TooMany {
                    day,
                    max: MAX_SPANS_PER_DAY,
                });
            }
            for span in spans {
                if span.closes <= span.opens {
                    return Err(HoursError::EmptySpan { day });
                }
            }
            if spans.windows(2).any(|pair| pair[1].opens < pair[0].closes) {
                return Err(HoursError::Overlap { day });
            }
        }
        Ok(())
    }

    /// Whether the clinic is open on `weekday` at local `time`.
    pub fn is_open(&self, weekday: Weekday, time: NaiveTime) -> bool {
        let now = ClockTime::of(time);
        self.days[weekday.num_days_from_monday() as usize]
            .iter()
            .any(|span| span.opens <= now && now < span.closes)
    }

    /// The first local moment at or after `from` when the clinic is open (holidays closed all
    /// day), looking at most `within_days` days ahead; `None` when it never opens in that time.
    pub fn next_open(
        &self,
        holidays: &[NaiveDate],
        from: NaiveDateTime,
        within_days: u32,
    ) -> Option<NaiveDateTime> {
        let first_day = from.date();
        let days = first_day.iter_days().take(within_days as usize + 1);
        days.filter(|day| !holidays.contains(day))
            .flat_map(|day| {
                self.days[day.weekday().num_days_from_monday() as usize]
                    .iter()
                    .map(move |span| (day, span))
            })
            .find_map(|(day, span)| {
                let opens = day.and_time(span.opens.as_time());
                let closes = day.and_time(span.closes.as_time());
                (closes > from).then(|| opens.max(from))
            })
    }
}

/// Writes one day's spans as people read them: `09:00–13:00, 14:00–17:30`; empty when closed.
pub fn format_day(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|span| format!("{}–{}", String::from(span.opens), String::from(span.closes)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads one day written as [`format_day`] writes it (an en dash or a hyphen between the times,
/// commas between spans); empty or "closed" means closed. Order and overlap are checked by
/// [`BusinessHours::validate`], which names the day.
pub fn parse_day(text: &str) -> Result<Vec<Span>, HoursError> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("closed") {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|span| {
            let (opens, closes) = span.split_once(['–', '-']).ok_or(HoursError::BadTime)?;
            Ok(Span {
                opens: ClockTime::parse(opens)?,
                closes: ClockTime::parse(closes)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, "%H:%M").expect("time")
    }

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("moment")
    }

    #[test]
    fn the_next_opening_skips_closed_hours_weekends_and_holidays() {
        let hours = BusinessHours::default();
        // 2030-01-04 is a Friday.
        let open = at("2030-01-04 10:15");
        assert_eq!(hours.next_open(&[], open, 7), Some(open), "open already");
        assert_eq!(
            hours.next_open(&[], at("2030-01-04 07:00"), 7),
            Some(at("2030-01-04 09:00"))
        );
        assert_eq!(
            hours.next_open(&[], at("2030-01-04 17:30"), 7),
            Some(at("2030-01-07 09:00")),
            "Friday evening waits for Monday"
        );
        let monday = NaiveDate::from_ymd_opt(2030, 1, 7).expect("day");
        assert_eq!(
            hours.next_open(&[monday], at("2030-01-05 12:00"), 7),
            Some(at("2030-01-08 09:00")),
            "a holiday is closed all day"
        );
        assert_eq!(hours.next_open(&[], at("2030-01-05 12:00"), 1), None);
    }

    #[test]
    fn default_hours_are_weekdays_nine_to_half_five() {
        let hours = BusinessHours::default();
        assert!(hours.validate().is_ok());
        assert!(hours.is_open(Weekday::Mon, time("09:00")));
        assert!(
            !hours.is_open(Weekday::Mon, time("17:30")),
            "closing time is exclusive"
        );
        assert!(!hours.is_open(Weekday::Sat, time("11:00")));
    }

    #[test]
    fn bad_definitions_are_refused_with_the_day_named() {
        assert_eq!(ClockTime::parse("25:00"), Err(HoursError::BadTime));
        assert_eq!(ClockTime::parse("24:30"), Err(HoursError::BadTime));
        assert_eq!(
            ClockTime::parse("1093:00"),
            Err(HoursError::BadTime),
            "not 00:44 by wrapping"
        );
        assert_eq!(
            ClockTime::parse("24:00").map(ClockTime::minutes),
            Ok(24 * 60)
        );
        assert_eq!(ClockTime::parse("9.30"), Err(HoursError::BadTime));
        let mut hours = BusinessHours::default();
        hours.days[2] = vec![
            Span {
                opens: ClockTime::parse("09:00").unwrap(),
                closes: ClockTime::parse("13:00").unwrap(),
            },
            Span {
                opens: ClockTime::parse("12:00").unwrap(),
                closes: ClockTime::parse("17:00").unwrap(),
            },
        ];
        assert_eq!(
            hours.validate(),
            Err(HoursError::Overlap { day: "wednesday" })
        );
    }

    #[test]
    fn a_day_reads_back_as_it_is_written() {
        let hours = BusinessHours::default();
        assert_eq!(format_day(&hours.days[0]), "09:00–17:30");
        assert_eq!(format_day(&hours.days[6]), "");
        assert_eq!(parse_day("09:00–17:30"), Ok(hours.days[0].clone()));
        let split = parse_day(" 8:30 - 12:00 ,13:00-24:00").expect("two spans");
        assert_eq!(format_day(&split), "08:30–12:00, 13:00–24:00");
        assert_eq!(parse_day("Closed"), Ok(Vec::new()));
        assert_eq!(parse_day("9 to 5"), Err(HoursError::BadTime));
        assert_eq!(parse_day("09:00–"), Err(HoursError::BadTime));
    }

    #[test]
    fn hours_round_trip_as_json() {
        let hours = BusinessHours::default();
        let json = serde_json::to_string(&hours).expect("json");
        assert!(json.contains("\"09:00\""));
        assert_eq!(
            serde_json::from_str::<BusinessHours>(&json).expect("parse"),
            hours
        );
    }
}
