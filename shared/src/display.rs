//! How figures are shown and which days a chosen period covers, shared so that the dashboard, the
//! exports and the server's texts never disagree: money in a currency's minor units, rates as
//! percentages, durations in words, and the periods of the overview (this week, the last 30 days,
//! this month, a custom range) with the period each is compared against.

use chrono::{Datelike, Duration, NaiveDate};

use crate::metrics::LocalMonth;

/// `text` with its first letter in capitals: shared rules and the server speak in mid-sentence
/// form, a page starts a sentence with them.
pub fn capitalised(text: &str) -> String {
    let mut letters = text.chars();
    letters
        .next()
        .map(|first| first.to_uppercase().chain(letters).collect())
        .unwrap_or_default()
}

/// The name the clinic's whole-data download is saved as when made on the clinic's `day`.
pub fn clinic_data_file_name(day: NaiveDate) -> String {
    format!("clinic-data-{day}.jsonl")
}

/// Formats `minor` units of `currency` (ISO 4217) with a symbol where one is common, grouping
/// thousands: `£5,475.00`, `A$12.50`, `1,000.00 CHF`.
pub fn money(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let units = minor.unsigned_abs();
    let amount = format!("{}.{:02}", group_thousands(units / 100), units % 100);
    match currency {
        "GBP" => format!("{sign}£{amount}"),
        "EUR" => format!("{sign}€{amount}"),
        "USD" => format!("{sign}${amount}"),
        "AUD" => format!("{sign}A${amount}"),
        "CAD" => format!("{sign}C${amount}"),
        "NZD" => format!("{sign}NZ${amount}"),
        other => format!("{sign}{amount} {other}"),
    }
}

/// Reads an amount typed in major units ("45", "45.5", "1,250.00") as minor units; `None` for
/// anything else, negative amounts and more than two decimals. A comma is read only as a
/// thousands separator: "45,50" (a decimal comma) is refused, never read as 4,550.
pub fn parse_money(text: &str) -> Option<i64> {
    let text = text.trim();
    let (grouped_units, cents) = text.split_once('.').unwrap_or((text, ""));
    let units = ungroup_thousands(grouped_units)?;
    if units.is_empty() || !units.bytes().all(|b| b.is_ascii_digit()) || cents.len() > 2 {
        return None;
    }
    if !cents.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let cents = format!("{cents:0<2}").parse::<i64>().ok()?;
    units
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)
}

/// `units` without its thousands separators, when it has none or every group after the first
/// has exactly three digits ("1,250" and "12,500,000", never "45,5" or "1,25").
fn ungroup_thousands(units: &str) -> Option<String> {
    let mut groups = units.split(',');
    let first = groups.next().unwrap_or_default();
    let mut digits = first.to_owned();
    for group in groups {
        if first.is_empty() || first.len() > 3 || group.len() != 3 {
            return None;
        }
        digits.push_str(group);
    }
    Some(digits)
}

/// `minor` units as typed into a value field, in major units without symbol or grouping
/// (`4550` is `"45.50"`): what [`parse_money`] reads back.
pub fn amount(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let units = minor.unsigned_abs();
    format!("{sign}{}.{:02}", units / 100, units % 100)
}

fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// `n` and the word for it: "1 missed call", "3 missed calls".
pub fn count(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A rate as a whole percentage, or a dash when there is nothing to divide by.
pub fn percent(rate: Option<f64>) -> String {
    match rate {
        Some(rate) => format!("{:.0}%", rate * 100.0),
        None => "–".to_owned(),
    }
}

/// A duration in the largest units that keep it readable: `45 s`, `12 min`, `1 h 54 min`, `2 d 3 h`.
pub fn duration(seconds: Option<i64>) -> String {
    let Some(seconds) = seconds else {
        return "–".to_owned();
    };
    let seconds = seconds.max(0);
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3_600 => format!("{} min", s / 60),
        s if s < 86_400 => match (s / 3_600, (s % 3_600) / 60) {
            (hours, 0) => format!("{hours} h"),
            (hours, minutes) => format!("{hours} h {minutes} min"),
        },
        s => match (s / 86_400, (s % 86_400) / 3_600) {
            (days, 0) => format!("{days} d"),
            (days, hours) => format!("{days} d {hours} h"),
        },
    }
}

/// The periods the overview offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Period {
    /// Monday of this week to today.
    ThisWeek,
    /// The 30 days ending today.
    Last30Days,
    /// The first of this month to today.
    ThisMonth,
    /// Chosen days, both included.
    Custom { from: NaiveDate, to: NaiveDate },
}

/// Days, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DayRange {
    /// How many days the range covers.
    pub fn days(self) -> i64 {
        (self.to - self.from).num_days() + 1
    }
}

impl Period {
    /// The days this period covers when the clinic's today is `today`.
    pub fn range(self, today: NaiveDate) -> DayRange {
        match self {
            Period::ThisWeek => DayRange {
                from: today - Duration::days(i64::from(today.weekday().num_days_from_monday())),
                to: today,
            },
            Period::Last30Days => DayRange {
                from: today - Duration::days(29),
                to: today,
            },
            Period::ThisMonth => DayRange {
                from: LocalMonth::containing(today).first_day(),
                to: today,
            },
            Period::Custom { from, to } => DayRange {
                from: from.min(to),
                to: from.max(to),
            },
        }
    }

    /// What the period is compared against: this month against the same days of last month
    /// (cut at its end), any other period against the same number of days just before it.
    pub fn comparison(self, today: NaiveDate) -> DayRange {
        let current = self.range(today);
        if self == Period::ThisMonth {
            let first = current.from;
            let last_month_end = first - Duration::days(1);
            let last_month_start = LocalMonth::containing(last_month_end).first_day();
            let same_day = last_month_start + Duration::days(current.days() - 1);
            return DayRange {
                from: last_month_start,
                to: same_day.min(last_month_end),
            };
        }
        DayRange {
            from: current.from - Duration::days(current.days()),
            to: current.from - Duration::days(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_the_singular_only_for_one() {
        assert_eq!(count(1, "missed call", "missed calls"), "1 missed call");
        assert_eq!(count(0, "attempt", "attempts"), "0 attempts");
        assert_eq!(count(12, "attempt", "attempts"), "12 attempts");
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn money_has_symbols_and_groups() {
        assert_eq!(money(547_500, "GBP"), "£5,475.00");
        assert_eq!(money(1_250, "AUD"), "A$12.50");
        assert_eq!(money(-5, "USD"), "-$0.05");
        assert_eq!(money(100_000_000, "CHF"), "1,000,000.00 CHF");
        assert_eq!(money(0, "EUR"), "€0.00");
    }

    #[test]
    fn typed_amounts_are_read_in_minor_units() {
        assert_eq!(parse_money("45"), Some(4_500));
        assert_eq!(parse_money(" 45.5 "), Some(4_550));
        assert_eq!(parse_money("1,250.05"), Some(125_005));
        assert_eq!(parse_money("12,500,000"), Some(1_250_000_000));
        for decimal_comma in ["45,50", "45,5", "1,25", ",250", "1250,000", "1,2500"] {
            assert_eq!(parse_money(decimal_comma), None, "{decimal_comma}");
        }
        assert_eq!(parse_money("-3"), None);
        assert_eq!(parse_money("4.555"), None);
        assert_eq!(parse_money("abc"), None);
        assert_eq!(parse_money(""), None);
    }

    #[test]
    fn an_amount_prefilled_reads_back_as_itself() {
        assert_eq!(amount(4_550), "45.50");
        assert_eq!(amount(125_005), "1250.05");
        for minor in [0, 7, 4_500, 125_005, 1_000_000_000] {
            assert_eq!(parse_money(&amount(minor)), Some(minor));
        }
    }

    #[test]
    fn rates_and_durations_read_as_words() {
        assert_eq!(percent(Some(0.2549)), "25%");
        assert_eq!(percent(None), "–");
        assert_eq!(duration(Some(45)), "45 s");
        assert_eq!(duration(Some(6_840)), "1 h 54 min");
        assert_eq!(duration(Some(7_200)), "2 h");
        assert_eq!(duration(Some(183_600)), "2 d 3 h");
        assert_eq!(duration(None), "–");
    }

    #[test]
    fn periods_cover_the_right_days() {
        let sunday = day("2026-11-22");
        assert_eq!(
            Period::ThisWeek.range(sunday),
            DayRange {
                from: day("2026-11-16"),
                to: sunday
            }
        );
        assert_eq!(Period::Last30Days.range(sunday).days(), 30);
        assert_eq!(Period::ThisMonth.range(sunday).from, day("2026-11-01"));
        assert_eq!(
            Period::ThisMonth.comparison(sunday),
            DayRange {
                from: day("2026-10-01"),
                to: day("2026-10-22")
            }
        );
        let march_31 = day("2027-03-31");
        assert_eq!(
            Period::ThisMonth.comparison(march_31),
            DayRange {
                from: day("2027-02-01"),
                to: day("2027-02-28")
            },
            "a longer month is compared with all of a shorter one"
        );
        assert_eq!(
            Period::Last30Days.comparison(sunday),
            DayRange {
                from: day("2026-09-24"),
                to: day("2026-10-23")
            }
        );
        let custom = Period::Custom {
            from: day("2026-11-10"),
            to: day("2026-11-01"),
        };
        assert_eq!(
            custom.range(sunday).from,
            day("2026-11-01"),
            "ends are put in order"
        );
    }
}
