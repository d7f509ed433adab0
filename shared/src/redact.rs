//! Removing what looks like a phone number from free text before it leaves for an outside model:
//! any run of at least [`MIN_DIGITS`] digits (of any script: full-width `０７７００` counts), whether
//! written together or split by spaces, hyphens and dashes, dots, slashes, commas, underscores or
//! brackets, with or without a leading `+`, and with spaces or a line break around a separator
//! (`07700 - 900 123`), becomes [`REMOVED`]. Shorter runs (house numbers, counts), times and their
//! ranges (`10:30`, `9.00 - 17.30`), dates (`2026-12-01`, `01/12/2026`, `1.12.26`, also with a
//! time or another date after them) and prices after a currency sign (`£10,000.00`) stay as
//! written.

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
        if let Some(end) = date_at(&chars, at).or_else(|| time_span_at(&chars, at)) {
            out.extend(&chars[at..end]);
            at = end;
            continue;
        }
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

/// A currency sign: what follows it is a price.
fn is_currency(c: char) -> bool {
    matches!(c, '£' | '$' | '€' | '¥' | '₹')
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
    // A run continues inside a word-like token only from its start; the minutes of a time and a
    // price are no number's start.
    if start > 0 && is_digit(chars[start - 1])
        || minutes_of_a_time(chars, start)
        || price_at(chars, start)
    {
        return None;
    }
    let (mut end, mut digits, mut last_digit_end) = (first_digit, 0, first_digit);
    // Digits since the last gap: how long the group before a gap is.
    let mut group = 0;
    while end < chars.len() {
        let c = chars[end];
        if is_digit(c) {
            digits += 1;
            group += 1;
            end += 1;
            last_digit_end = end;
        } else if let Some(gap) = gap_before_group(chars, end, group) {
            end += gap;
            group = 0;
        } else {
            break;
        }
    }
    let run: String = chars[first_digit..last_digit_end].iter().collect();
    (digits >= MIN_DIGITS && !is_date(&run)).then_some(last_digit_end)
}

/// Whether `start` is the minutes of a time (`10:30`: the `30`).
fn minutes_of_a_time(chars: &[char], start: usize) -> bool {
    start >= 2 && chars[start - 1] == ':' && chars[start - 2].is_ascii_digit()
}

/// Most digits of a price's whole part written without thousands separators (`£250000`).
const MOST_PRICE_DIGITS: usize = 6;

/// Whether a price starts at `start`: after a currency sign, a whole part of at most
/// [`MOST_PRICE_DIGITS`] digits or grouped in thousands (`£10,000.00`, `£1,250,000`). A longer
/// run after a sign (`$5550123456`) is still a number.
fn price_at(chars: &[char], start: usize) -> bool {
    if start == 0 || !is_currency(chars[start - 1]) {
        return false;
    }
    let whole: String = chars[start..]
        .iter()
        .take_while(|c| c.is_ascii_digit() || **c == ',')
        .collect();
    let groups: Vec<&str> = whole.trim_end_matches(',').split(',').collect();
    let in_thousands = groups.len() > 1
        && (1..=3).contains(&groups[0].len())
        && groups[1..].iter().all(|group| group.len() == 3);
    in_thousands || (groups.len() == 1 && groups[0].len() <= MOST_PRICE_DIGITS)
}

/// Most characters between two groups of one number (` - `, `) - `, a line break between spaces).
const MAX_GAP: usize = 4;
/// Most separators other than spaces between two groups (`) -`).
const MAX_MARKS_IN_GAP: usize = 2;
/// Fewest digits on each side of a gap wider than [`tight`] for the two to be read as parts of
/// one number: phone numbers are written in groups of three or more, while ranges of times, days
/// and prices (`9.00 - 17.30`, `10/12 - 12/12`, `1,200 - 1,500`) end or start with shorter ones.
const MIN_GROUP_ACROSS_A_GAP: usize = 3;

/// Whether `gap` is how digits of one number are usually separated: one or two separators
/// (`07700 900123`, `(07700) 900`, `07700  900123`).
fn tight(gap: &[char]) -> bool {
    gap.len() <= 2 && gap.iter().all(|c| is_separator(*c))
}

/// The length of the gap at `at` when it joins the group of `group_before` digits before it to a
/// group of digits after it: a [`tight`] gap always; a wider one (at most [`MAX_GAP`] separators
/// or spaces, line breaks included, at most [`MAX_MARKS_IN_GAP`] of them not spaces) only between
/// groups of [`MIN_GROUP_ACROSS_A_GAP`] digits or more (`07700 - 900 123`).
fn gap_before_group(chars: &[char], at: usize, group_before: usize) -> Option<usize> {
    let gap = gap_at(chars, at);
    let group_after = chars[at + gap.len()..]
        .iter()
        .take_while(|c| is_digit(**c))
        .count();
    if gap.is_empty() || group_after == 0 {
        return None;
    }
    let marks = gap.iter().filter(|c| !c.is_whitespace()).count();
    let wide = gap.len() <= MAX_GAP
        && marks <= MAX_MARKS_IN_GAP
        && group_before >= MIN_GROUP_ACROSS_A_GAP
        && group_after >= MIN_GROUP_ACROSS_A_GAP;
    (tight(gap) || wide).then_some(gap.len())
}

/// The separators and spaces at `at`, at most one more than [`MAX_GAP`] of them (enough to tell
/// a gap too wide).
fn gap_at(chars: &[char], at: usize) -> &[char] {
    let len = chars[at..]
        .iter()
        .take(MAX_GAP + 1)
        .take_while(|c| in_gap(**c))
        .count();
    &chars[at..at + len]
}

/// The gap at `at` and where the digits after it start, when digits follow a gap of at most
/// [`MAX_GAP`] characters.
fn digits_after_gap(chars: &[char], at: usize) -> Option<(&[char], usize)> {
    let gap = gap_at(chars, at);
    let next = at + gap.len();
    (gap.len() <= MAX_GAP && chars.get(next).is_some_and(|c| is_digit(*c))).then_some((gap, next))
}

/// A character that may stand between two groups of digits: a separator or any space.
fn in_gap(c: char) -> bool {
    is_separator(c) || c.is_whitespace()
}

/// Longest date written (`2026-12-01`, `01/12/2026`) and one more character, read at a time.
const DATE_WINDOW: usize = 11;

/// The end (exclusive) of the date written at `at` (see [`is_date`]), if one is, not inside a
/// longer run of digits and not followed by another digit; whatever follows it.
fn date_shape_at(chars: &[char], at: usize) -> Option<usize> {
    if at > 0 && is_digit(chars[at - 1]) || !chars.get(at)?.is_ascii_digit() {
        return None;
    }
    let token: String = chars[at..]
        .iter()
        .take(DATE_WINDOW)
        .take_while(|c| c.is_ascii_digit() || matches!(c, '-' | '/' | '.'))
        .collect();
    // The longest prefix that is a date and is not followed by another digit.
    (6..=token.len().min(10)).rev().find_map(|len| {
        let candidate = &token[..len];
        let next_is_digit = token[len..].starts_with(|c: char| c.is_ascii_digit())
            || (len == token.len() && chars.get(at + len).is_some_and(|c| is_digit(*c)));
        (is_date(candidate) && !next_is_digit).then_some(at + len)
    })
}

/// The end (exclusive) of a date at `at` ([`date_shape_at`]) that is not the start of a longer
/// number. Right after it (no space between) only another date may follow
/// (`01/12/2026-03/12/2026`; not `06.12.34.12.30`). After a space, a time or another date may
/// (`2026-12-03 10:00`), and a short group that ends there (`3 of us`, `10am`); not a group of
/// three digits or more (`01/12/2026 900123`) nor short groups that go on (`06-12-34 56 78`).
fn date_at(chars: &[char], at: usize) -> Option<usize> {
    let end = date_shape_at(chars, at)?;
    let Some((gap, next)) = digits_after_gap(chars, end) else {
        return Some(end);
    };
    if date_shape_at(chars, next).is_some() {
        return Some(end);
    }
    let spaced = gap.iter().any(|c| c.is_whitespace());
    if !spaced {
        return None;
    }
    if time_at(chars, next).is_some() {
        return Some(end);
    }
    let group = chars[next..].iter().take_while(|c| is_digit(**c)).count();
    let goes_on = gap_before_group(chars, next + group, group).is_some();
    (group < MIN_GROUP_ACROSS_A_GAP && !goes_on).then_some(end)
}

/// Most times in one range (`9.00 - 17.30` has two).
const MOST_TIMES_IN_A_RANGE: usize = 3;

/// The end (exclusive) of a time of day starting at `at` (`10:30`, `9.00`), or of a range of
/// them (`9.00 - 17.30`, `10.30-11.30`), unless what follows makes it part of a longer number
/// (`12.34.56.78.90`): only a date may follow it closely (`10:30, 03/12/2026`).
fn time_span_at(chars: &[char], at: usize) -> Option<usize> {
    if at > 0 && is_digit(chars[at - 1]) {
        return None;
    }
    let mut end = time_at(chars, at)?;
    for _ in 1..MOST_TIMES_IN_A_RANGE {
        let Some((_, next)) = digits_after_gap(chars, end) else {
            return Some(end);
        };
        match time_at(chars, next) {
            Some(after) => end = after,
            None => return date_shape_at(chars, next).map(|_| end),
        }
    }
    Some(end)
}

/// The end (exclusive) of a time of day at `at`: an hour (0–24, one or two digits), `:` or `.`,
/// two digits of minutes (00–59), and no digit after them.
fn time_at(chars: &[char], at: usize) -> Option<usize> {
    let digits_from = |from: usize| {
        chars[from.min(chars.len())..]
            .iter()
            .take(3)
            .take_while(|c| c.is_ascii_digit())
            .collect::<String>()
    };
    let hours = digits_from(at);
    let mark = at + hours.len();
    let minutes = digits_from(mark + 1);
    let in_range = |text: &str, most: u32| text.parse::<u32>().is_ok_and(|n| n <= most);
    ((1..=2).contains(&hours.len())
        && matches!(chars.get(mark), Some(':' | '.'))
        && minutes.len() == 2
        && in_range(&hours, 24)
        && in_range(&minutes, 59))
    .then_some(mark + 3)
}

/// Whether `run` is a date, its parts split by one kind of mark (`-`, `/` or `.`): year, month and
/// day (`2026-12-01`, `2026/12/01`), or day, month and year (`1/12/2026`, `01-12-26`,
/// `1.12.2026`), with a month of 1–12 and a day of 1–31 (either order of day and month).
fn is_date(run: &str) -> bool {
    ['-', '/', '.'].into_iter().any(|mark| {
        let parts: Vec<&str> = run.split(mark).collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
            && (year_first(&parts) || day_first(&parts))
    })
}

/// `[year, month, day]`: four digits, then one or two each.
fn year_first(parts: &[&str]) -> bool {
    let value = |part: &str| part.parse::<u32>().unwrap_or(0);
    parts[0].len() == 4
        && (1..=2).contains(&parts[1].len())
        && (1..=2).contains(&parts[2].len())
        && (1..=12).contains(&value(parts[1]))
        && (1..=31).contains(&value(parts[2]))
}

/// `[day, month, year]` (or month first): one or two digits each, then two or four.
fn day_first(parts: &[&str]) -> bool {
    let value = |part: &str| part.parse::<u32>().unwrap_or(0);
    let (first, second) = (value(parts[0]), value(parts[1]));
    (1..=2).contains(&parts[0].len())
        && (1..=2).contains(&parts[1].len())
        && matches!(parts[2].len(), 2 | 4)
        && (1..=31).contains(&first)
        && (1..=31).contains(&second)
        && (first <= 12 || second <= 12)
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
            "07700 - 900 123",
            "07700  900123",
            "07700 – 900123",
            "07700\n900123",
            "07700 \r\n 900 123",
            "(07700) - 900 123",
            "06/12/34/56/78",
            "12.34.56.78.90",
            "06 12 34 56 78",
            "06.12.34.12.30",
            "07.01.99.23.45",
            "06-12-34 56 78",
            "06/12/34 56 78",
            "01/23/4567 890",
            "2026-12-03 900123",
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
    fn a_number_after_a_currency_sign_goes_too() {
        for spelling in ["$5550123456", "£07700900123", "€0612345678"] {
            let text = format!("Call me on {spelling} please");
            let kept = remove_numbers(&text);
            assert!(kept.contains(REMOVED), "{kept}");
            assert!(!kept.contains("555") && !kept.contains("7700") && !kept.contains("6123"));
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
            "2026-12-03 10:00 please",
            "03/12/2026 10:30 if free",
            "Either 2026-12-03 10:00 or 2026-12-04 09:30",
            "Open 9.00 - 17.30",
            "Could you do 10.30 - 11.30?",
            "Away 10/12 - 12/12",
            "A budget of 1,200 - 1,500",
            "2026-12-03 10:00 - 2026-12-04",
            "On 2026-12-01, 10:30 if free",
            "Any time on 2026-12-03 10am please",
            "Free 03/12/2026 2pm?",
            "Free on 2026-12-01, 2026-12-02 or 2026-12-03",
            "Away 01/12/2026-03/12/2026",
            "On 2026-12-01, 3 of us",
            "Could you do 10.30-11.30?",
            "Quote was £10,000.00",
            "Can I come on 01-12-2026?",
            "Or 01.12.2026, or 2026/12/01",
            "10:30, 03/12/2026",
            "Postcode SW1A 1AA",
            "2 or 3 people, 1st-3rd floor",
            "Booked (2026-12-03) ok, or (03/12/2026)",
            "On 2026-12-1 or 2026/12/1",
            "From £1,250,000 or £250000",
            "My boiler is 15 years old",
            "",
        ] {
            assert_eq!(remove_numbers(text), text);
            assert!(!holds_number(text));
        }
    }
}
