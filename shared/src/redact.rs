//! Removing what looks like a phone number from free text before it leaves for an outside model:
//! any run of at least [`MIN_DIGITS`] digits (of any script: full-width `０７７００` counts), whether
//! written together or split by spaces, hyphens and dashes, dots, slashes, commas, underscores or
//! brackets, with or without a leading `+`, becomes [`REMOVED`]. Shorter runs (times, prices,
//! house numbers) and dates (`2026-12-01`, `01/12/2026`) stay as written.

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

/// Separators a number may be written with between its digits (and their full-width forms).
fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '-' | '.' | '(' | ')' | '/' | ',' | '_' | '\u{a0}' | '\u{2010}'
            ..='\u{2015}'
                | '\u{2212}'
                | '\u{3000}'
                | '\u{ff08}'
                | '\u{ff09}'
                | '\u{ff0c}'
                | '\u{ff0d}'
                | '\u{ff0e}'
                | '\u{ff0f}'
    )
}

/// A digit of any script (`7`, `７`, `٧`): a number written in full-width digits is still one.
fn is_digit(c: char) -> bool {
    c.is_numeric()
}

/// A leading plus or opening bracket, in either width.
fn opens_number(c: char) -> bool {
    matches!(c, '+' | '(' | '\u{ff0b}' | '\u{ff08}')
}

/// The end (exclusive) of a number-like run starting at `start`, if one starts there.
fn number_run(chars: &[char], start: usize) -> Option<usize> {
    let first_digit = if opens_number(chars[start]) {
        start + 1
    } else {
        start
    };
    if !is_digit(*chars.get(first_digit)?) {
        return None;
    }
    // A run continues inside a word-like token only from its start.
    if start > 0 && is_digit(chars[start - 1]) {
        return None;
    }
    let (mut end, mut digits, mut last_digit_end) = (first_digit, 0, first_digit);
    while end < chars.len() {
        let c = chars[end];
        if is_digit(c) {
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
    (digits >= MIN_DIGITS && !is_date(&run)).then_some(last_digit_end)
}

/// Whether a digit follows the separator at `at` after at most one more separator (`) 900`).
fn digit_follows(chars: &[char], at: usize) -> bool {
    chars[at + 1..]
        .iter()
        .take(2)
        .find(|c| !is_separator(**c))
        .is_some_and(|c| is_digit(*c))
        && chars[at + 1..]
            .iter()
            .take_while(|c| is_separator(**c))
            .count()
            <= 1
}

/// Whether `run` is a date: ISO (`2026-12-01`) or day, month and year with slashes
/// (`1/12/2026`, `01/12/26`).
fn is_date(run: &str) -> bool {
    let digits = |part: &&str| part.bytes().all(|b| b.is_ascii_digit());
    let iso: Vec<&str> = run.split('-').collect();
    let slashed: Vec<&str> = run.split('/').collect();
    (iso.len() == 3
        && [4, 2, 2]
            .iter()
            .zip(&iso)
            .all(|(len, part)| part.len() == *len && digits(part)))
        || (slashed.len() == 3
            && slashed.iter().all(digits)
            && (1..=2).contains(&slashed[0].len())
            && (1..=2).contains(&slashed[1].len())
            && matches!(slashed[2].len(), 2 | 4))
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
            "07700/900/123",
            "07700,900,123",
            "07700_900123",
            "０７７００ ９００１２３",
            "＋４４ ７７００ ９００１２３",
            "07700–900–123",
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
            "Any time on 01/12/2026 or 1/12/26",
            "My boiler is 15 years old",
            "",
        ] {
            assert_eq!(remove_numbers(text), text);
            assert!(!holds_number(text));
        }
    }
}
