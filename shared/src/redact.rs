//! Removing what looks like a phone number from free text before it leaves for an outside model:
//! any run of at least [`MIN_DIGITS`] digits, whether written together or split by spaces,
//! hyphens, dots or brackets, with or without a leading `+`, becomes [`REMOVED`]. Shorter runs
//! (times, prices, house numbers) and ISO dates (`2026-12-01`) stay as written.

/// Fewest digits a run needs to be taken for a number (local numbers without an area code have
/// seven).
pub const MIN_DIGITS: usize = 7;
/// What a removed run reads as.
pub const REMOVED: &str = "[number removed]";

/// `text` with every number-like run replaced by [`REMOVED`].
pub fn remove_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < chars.len() {
        match number_run(&chars, at) {
            Some(end) => {
                out.push_str(REMOVED);
                at = end;
            }
            None => {
                out.push(chars[at]);
                at += 1;
            }
        }
    }
    out
}

/// Whether `text` holds a number-like run.
pub fn holds_number(text: &str) -> bool {
    remove_numbers(text) != text
}

/// Separators a number may be written with between its digits.
fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}')
}

/// The end (exclusive) of a number-like run starting at `start`, if one starts there.
fn number_run(chars: &[char], start: usize) -> Option<usize> {
    let first_digit = if chars[start] == '+' || chars[start] == '(' {
        start + 1
    } else {
        start
    };
    if !chars.get(first_digit)?.is_ascii_digit() {
        return None;
    }
    // A run continues inside a word-like token only from its start.
    if start > 0 && chars[start - 1].is_ascii_digit() {
        return None;
    }
    let (mut end, mut digits, mut last_digit_end) = (first_digit, 0, first_digit);
    while end < chars.len() {
        let c = chars[end];
        if c.is_ascii_digit() {
            digits += 1;
            end += 1;
            last_digit_end = end;
        } else if is_separator(c) && digit_follows(chars, end) {
            end += 1;
        } else {
            break;
        }
    }
    let run: String = chars[start..last_digit_end].iter().collect();
    (digits >= MIN_DIGITS && !is_iso_date(&run)).then_some(last_digit_end)
}

/// Whether a digit follows the separator at `at` after at most one more separator (`) 900`).
fn digit_follows(chars: &[char], at: usize) -> bool {
    chars[at + 1..]
        .iter()
        .take(2)
        .find(|c| !is_separator(**c))
        .is_some_and(char::is_ascii_digit)
        && chars[at + 1..]
            .iter()
            .take_while(|c| is_separator(**c))
            .count()
            <= 1
}

fn is_iso_date(run: &str) -> bool {
    let parts: Vec<&str> = run.split('-').collect();
    parts.len() == 3
        && [4, 2, 2]
            .iter()
            .zip(&parts)
            .all(|(len, part)| part.len() == *len && part.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_a_number_goes() {
        for spelling in [
            "+447700900123",
            "07700 900123",
            "07700-900-123",
            "(07700) 900 123",
            "447700900123",
            "+44 7700 900 123",
            "0491 570 156",
            "+61 491 570 156",
            "555-0123 4567",
            "07700.900.123",
        ] {
            let text = format!("Call me on {spelling} please");
            assert_eq!(
                remove_numbers(&text),
                format!("Call me on {REMOVED} please"),
                "{spelling}"
            );
            assert!(holds_number(&text));
        }
    }

    #[test]
    fn times_prices_and_dates_stay() {
        for text in [
            "Tomorrow at 10:30 would suit",
            "Is it £120 or £1,500?",
            "Flat 12, 221 Baker Street",
            "Any time on 2026-12-01",
            "My boiler is 15 years old",
            "",
        ] {
            assert_eq!(remove_numbers(text), text);
            assert!(!holds_number(text));
        }
    }
}
