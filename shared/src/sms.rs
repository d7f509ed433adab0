//! Text-back wording and SMS arithmetic, shared so the dashboard's live preview shows exactly what
//! the server will send: which template applies (business hours or after hours, holidays closed),
//! how placeholders are filled, the "automated" marker every automated text carries, and how many
//! SMS segments a text costs (GSM-7 or UCS-2).

use chrono::{DateTime, Datelike, NaiveDate, TimeZone};

use crate::hours::BusinessHours;

/// Placeholder for the clinic's name.
pub const CLINIC_PLACEHOLDER: &str = "{clinic}";
/// Placeholder for the clinic's booking link.
pub const BOOKING_LINK_PLACEHOLDER: &str = "{booking_link}";
/// Appended to an automated text whose wording does not already say it is automated.
pub const AUTOMATED_MARKER: &str = " (Automated text)";
/// Longest template accepted, in characters.
pub const MAX_TEMPLATE_CHARS: usize = 480;

/// Problems with a template, in words staff can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the template is empty")]
    Empty,
    #[error("the template is longer than {MAX_TEMPLATE_CHARS} characters")]
    TooLong,
    #[error("unknown placeholder {0}; use {{clinic}} or {{booking_link}}")]
    UnknownPlaceholder(String),
    #[error("the template uses {{booking_link}} but the clinic has no booking link")]
    NoBookingLink,
}

/// Which of the clinic's two templates applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moment {
    BusinessHours,
    AfterHours,
}

/// Whether `at` falls in business hours in the clinic's zone; holidays are closed all day.
pub fn moment<Tz: TimeZone>(
    hours: &BusinessHours,
    holidays: &[NaiveDate],
    at: DateTime<Tz>,
) -> Moment {
    let local = at.naive_local();
    if holidays.contains(&local.date()) || !hours.is_open(local.weekday(), local.time()) {
        Moment::AfterHours
    } else {
        Moment::BusinessHours
    }
}

/// The wording used when the clinic has not written its own.
pub fn default_template(moment: Moment, has_booking_link: bool) -> &'static str {
    match (moment, has_booking_link) {
        (Moment::BusinessHours, false) => {
            "Sorry we missed your call to {clinic}. Reply to this text and we will get back to you shortly."
        }
        (Moment::BusinessHours, true) => {
            "Sorry we missed your call to {clinic}. Reply to this text and we will get back to you shortly, or book at {booking_link}"
        }
        (Moment::AfterHours, false) => {
            "Thanks for calling {clinic}. We are closed now; reply to this text and we will get back to you when we open."
        }
        (Moment::AfterHours, true) => {
            "Thanks for calling {clinic}. We are closed now; reply to this text and we will get back to you when we open, or book at {booking_link}"
        }
    }
}

/// Checks a template's length and placeholders.
pub fn validate_template(template: &str, has_booking_link: bool) -> Result<(), TemplateError> {
    if template.trim().is_empty() {
        return Err(TemplateError::Empty);
    }
    if template.chars().count() > MAX_TEMPLATE_CHARS {
        return Err(TemplateError::TooLong);
    }
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open..];
        let Some(close) = after.find('}') else { break };
        let placeholder = &after[..=close];
        match placeholder {
            CLINIC_PLACEHOLDER => {}
            BOOKING_LINK_PLACEHOLDER if has_booking_link => {}
            BOOKING_LINK_PLACEHOLDER => return Err(TemplateError::NoBookingLink),
            other => return Err(TemplateError::UnknownPlaceholder(other.to_owned())),
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Fills a template and makes sure it says it is automated.
pub fn render(template: &str, clinic_name: &str, booking_link: Option<&str>) -> String {
    let text = template
        .replace(CLINIC_PLACEHOLDER, clinic_name)
        .replace(BOOKING_LINK_PLACEHOLDER, booking_link.unwrap_or_default());
    with_automated_marker(text.trim())
}

/// `text`, followed by [`AUTOMATED_MARKER`] unless it already says that it is automated.
pub fn with_automated_marker(text: &str) -> String {
    if says_it_is_automated(text) {
        text.to_owned()
    } else {
        format!("{text}{AUTOMATED_MARKER}")
    }
}

/// What an automated text may call itself ("an automated text", "automated message: …").
const AUTOMATED_NOUNS: &[&str] = &["text", "message", "note", "reply", "response", "sms"];

/// Whether `text` calls itself automated: the word "automated", then a space and a word for a
/// text, not denied just before ("not an automated text"). Merely speaking of something automated
/// ("we send automated reminders", "bookings are automated. Reply …") is not saying so.
fn says_it_is_automated(text: &str) -> bool {
    let lower = text.to_lowercase();
    lower.match_indices("automated").any(|(at, word)| {
        let (before, after) = (&lower[..at], &lower[at + word.len()..]);
        let whole_word = !before.ends_with(char::is_alphanumeric);
        let noun: String = after
            .trim_start_matches([' ', '\t'])
            .chars()
            .take_while(|c| c.is_alphanumeric())
            .collect();
        whole_word
            && after.starts_with([' ', '\t'])
            && AUTOMATED_NOUNS.contains(&noun.as_str())
            && !denied(before)
    })
}

/// Whether the two words before "automated" deny it ("not an", "isn't an", "never").
fn denied(before: &str) -> bool {
    before.split_whitespace().rev().take(2).any(|word| {
        let word = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’');
        matches!(word, "not" | "no" | "never") || word.ends_with("n't") || word.ends_with("n’t")
    })
}

/// How a text is encoded on the air.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// What a text costs: its encoding, length in code units and segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segments {
    pub encoding: Encoding,
    /// Septets for GSM-7 (extension characters count two), UTF-16 units for UCS-2.
    pub units: usize,
    pub count: usize,
}

/// Whether `listed`, a text as the provider keeps it, is the text we asked it to send as
/// `intended`. Providers may rewrite punctuation and spacing on the way (Twilio's Smart Encoding
/// turns curly quotes, dashes and odd spaces into GSM-7 ones), so only letters and digits are
/// compared, in order; two texts that differ only in punctuation count as the same text.
pub fn same_text(listed: &str, intended: &str) -> bool {
    let words = |text: &str| {
        text.chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<Vec<_>>()
    };
    words(listed) == words(intended)
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{c}";

/// The septets `c` takes in GSM-7 (an extension character is an escape and itself), if it has one.
fn septets_of(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Segments of `text`: GSM-7 fits 160 septets in one SMS and 153 per part when split; anything
/// outside GSM-7 sends the whole text as UCS-2, 70 units in one SMS and 67 per part. A character
/// is never split between parts (an extension character with its escape, an emoji's two UTF-16
/// units), so a part may hold one unit less than it could.
pub fn segments(text: &str) -> Segments {
    let septets: Option<Vec<usize>> = text.chars().map(septets_of).collect();
    let (encoding, widths, single, part) = match septets {
        Some(septets) => (Encoding::Gsm7, septets, 160, 153),
        None => (
            Encoding::Ucs2,
            text.chars().map(char::len_utf16).collect(),
            70,
            67,
        ),
    };
    let units = widths.iter().sum();
    let count = match units {
        0 => 0,
        n if n <= single => 1,
        _ => parts_holding(&widths, part),
    };
    Segments {
        encoding,
        units,
        count,
    }
}

/// How many parts of `part` units the characters of `widths` fill, in order, none split.
fn parts_holding(widths: &[usize], part: usize) -> usize {
    let mut parts = 1;
    let mut used = 0;
    for &width in widths {
        if used + width > part {
            parts += 1;
            used = 0;
        }
        used += width;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A character is never split between parts: an extension character or an emoji at a part's
    /// end starts the next one.
    #[test]
    fn a_character_is_not_split_between_parts() {
        let euro = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!((segments(&euro).units, segments(&euro).count), (306, 3));
        let fits = format!("{}€{}", "a".repeat(151), "a".repeat(153));
        assert_eq!(segments(&fits).count, 2);
        let emoji = format!("{}\u{1F600}{}", "a".repeat(66), "a".repeat(66));
        assert_eq!((segments(&emoji).units, segments(&emoji).count), (134, 3));
        let fits = format!("{}\u{1F600}{}", "a".repeat(65), "a".repeat(67));
        assert_eq!(segments(&fits).count, 2);
    }

    #[test]
    fn a_text_rewritten_by_smart_encoding_is_the_same_text() {
        let intended = "Sorry we missed you \u{2014} it\u{2019}s \u{201c}Riverside\u{201d}\u{2026}";
        assert!(same_text(
            "Sorry we missed you - it's \"Riverside\"...",
            intended
        ));
        assert!(same_text(intended, intended));
        assert!(!same_text(
            "Sorry we missed you - it's \"Riverview\"...",
            intended
        ));
        assert!(!same_text("", intended));
    }
    use chrono::Utc;

    #[test]
    fn gsm_texts_split_at_153_septets() {
        assert_eq!(segments("").count, 0);
        assert_eq!(segments(&"a".repeat(160)).count, 1);
        assert_eq!(segments(&"a".repeat(161)).count, 2);
        assert_eq!(segments(&"a".repeat(306)).count, 2);
        assert_eq!(segments(&"a".repeat(307)).count, 3);
        // The euro sign is an escape plus a septet.
        let euros = segments(&"€".repeat(80));
        assert_eq!(
            (euros.encoding, euros.units, euros.count),
            (Encoding::Gsm7, 160, 1)
        );
    }

    #[test]
    fn anything_outside_gsm_is_ucs2() {
        let text = format!("{}😀", "a".repeat(68));
        let counted = segments(&text);
        assert_eq!(counted.encoding, Encoding::Ucs2);
        assert_eq!(counted.units, 70);
        assert_eq!(counted.count, 1);
        assert_eq!(segments(&format!("{text}a")).count, 2);
    }

    #[test]
    fn rendering_fills_placeholders_and_marks_automation() {
        let text = render(
            "Hi from {clinic}: {booking_link}",
            "Bright Smile",
            Some("https://b.test"),
        );
        assert_eq!(
            text,
            "Hi from Bright Smile: https://b.test (Automated text)"
        );
        assert_eq!(
            render("An automated note from {clinic}", "X", None),
            "An automated note from X"
        );
        assert_eq!(
            with_automated_marker("AUTOMATED MESSAGE: we are closed"),
            "AUTOMATED MESSAGE: we are closed"
        );
    }

    #[test]
    fn speaking_of_something_automated_is_not_saying_a_text_is() {
        assert_eq!(
            with_automated_marker("We send automated reminders the day before."),
            "We send automated reminders the day before. (Automated text)"
        );
        assert_eq!(
            with_automated_marker("Our automated booking is open"),
            "Our automated booking is open (Automated text)"
        );
        assert_eq!(
            with_automated_marker("Bookings are automated. Reply STOP to opt out"),
            "Bookings are automated. Reply STOP to opt out (Automated text)"
        );
        assert_eq!(
            with_automated_marker("This is not an automated message"),
            "This is not an automated message (Automated text)"
        );
        assert_eq!(
            with_automated_marker("Semiautomated text"),
            "Semiautomated text (Automated text)"
        );
    }

    #[test]
    fn templates_are_checked() {
        assert_eq!(validate_template("  ", false), Err(TemplateError::Empty));
        assert_eq!(
            validate_template("Hi {name}", false),
            Err(TemplateError::UnknownPlaceholder("{name}".into()))
        );
        assert_eq!(
            validate_template("Book {booking_link}", false),
            Err(TemplateError::NoBookingLink)
        );
        assert!(validate_template("Book {booking_link} at {clinic}", true).is_ok());
        for moment in [Moment::BusinessHours, Moment::AfterHours] {
            for link in [false, true] {
                assert!(validate_template(default_template(moment, link), link).is_ok());
            }
        }
    }

    #[test]
    fn holidays_and_closed_hours_are_after_hours() {
        let hours = BusinessHours::default();
        // Monday 2026-11-23 10:00 UTC is open; the same time on a holiday is not.
        let monday = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
        assert_eq!(moment(&hours, &[], monday), Moment::BusinessHours);
        let holiday = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(moment(&hours, &[holiday], monday), Moment::AfterHours);
        let sunday = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
        assert_eq!(moment(&hours, &[], sunday), Moment::AfterHours);
    }
}
