//! E.164 normalisation and number classification, on the `phonenumber` port of libphonenumber.
//!
//! Every phone number that enters Ringback passes through [`normalize`] exactly once, with the
//! clinic's default [`Region`] for numbers written in national form. The result is an [`E164`]
//! string (the only form that is ever hashed or sealed) and a [`NumberKind`], so that text-backs can
//! skip landlines.
//!
//! Privacy: no error and no `Debug` output in this module contains the number. [`E164`] prints only
//! its masked tail in `Debug`; the full string is reachable through [`E164::as_str`], on purpose.

use std::fmt;
use std::str::FromStr;

use phonenumber::country::{Id as CountryId, Source};
use phonenumber::metadata::DATABASE;
use phonenumber::{Mode, PhoneNumber, Type};
use serde::{Deserialize, Serialize};

use crate::caller_key::{HIDDEN_TAIL, TAIL_DIGITS};
use thiserror::Error;

/// How Twilio and the carriers spell a caller who withheld their number: a word, or that word
/// spelt on a phone keypad (`+266696687` is ANONYMOUS, `+7378742833` RESTRICTED, `+8656696`
/// UNKNOWN, `+2562533` BLOCKED, `+86282452253` UNAVAILABLE).
const WITHHELD_SPELLINGS: &[&str] = &[
    "anonymous",
    "restricted",
    "unknown",
    "blocked",
    "unavailable",
    "private",
    "withheld",
    "+266696687",
    "+7378742833",
    "+8656696",
    "+2562533",
    "+86282452253",
];

/// Whether `from` says the caller withheld their number (or none came): there is nobody to key,
/// text or call back, but the call still counts.
pub fn is_withheld(from: &str) -> bool {
    let from = from.trim();
    from.is_empty()
        || WITHHELD_SPELLINGS
            .iter()
            .any(|spelling| from.eq_ignore_ascii_case(spelling))
}

/// Longest input accepted, in bytes. Generous for any written form of a number; it bounds the work
/// done on hostile input before the parser sees it.
pub const MAX_INPUT_BYTES: usize = 64;

/// Most digits accepted in an input: an international dialling prefix (up to 5 digits) plus the
/// 15 digits E.164 allows.
const MAX_INPUT_DIGITS: usize = 20;

/// Fewest digits in any E.164 number Ringback accepts (country code included).
const MIN_E164_DIGITS: usize = 7;

/// Most digits in an E.164 number (country code included), per ITU-T E.164.
const MAX_E164_DIGITS: usize = 15;

/// The UK mobile range Ofcom reserves for drama and fiction, `+44 7700 900000`–`+44 7700 900999`.
///
/// libphonenumber deliberately rejects it (its UK mobile pattern skips `7700 9`), but it is the one
/// UK mobile range that can never reach a real person, so demos, tests and documentation need it.
/// It is accepted as a mobile and is the only exception to libphonenumber's validity rule.
const RESERVED_FICTION_MOBILES_GB: std::ops::RangeInclusive<u64> = 7_700_900_000..=7_700_900_999;

/// UK country calling code, for [`RESERVED_FICTION_MOBILES_GB`].
const GB_COUNTRY_CODE: u16 = 44;

/// Why an input could not be normalised. Messages never contain the number itself.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PhoneError {
    /// The region is not two ASCII letters.
    #[error("a region must be a two-letter ISO 3166-1 alpha-2 code such as GB, AU, US or IE")]
    RegionFormat,
    /// Two letters, but not a region libphonenumber has numbering metadata for.
    #[error(
        "unknown region code {code}: expected an ISO 3166-1 alpha-2 code such as GB, AU, US or IE"
    )]
    UnknownRegion {
        /// The code as given, upper-cased (two ASCII letters, never a phone number).
        code: String,
    },
    /// Empty or blank input.
    #[error("the phone number is empty")]
    Empty,
    /// More than [`MAX_INPUT_BYTES`] bytes or too many digits to be a phone number.
    #[error("the phone number is too long")]
    TooLong,
    /// A character that has no place in a written phone number.
    #[error(
        "a phone number may contain only digits, spaces and + - . / ( ); letters and extensions are not accepted"
    )]
    UnexpectedCharacter,
    /// The parser found no phone number in the input.
    #[error("the input is not a phone number")]
    NotANumber,
    /// The international form names a country calling code that does not exist.
    #[error("the phone number has an unknown country calling code")]
    UnknownCountryCode,
    /// Too few digits for any phone number.
    #[error("the phone number is too short")]
    TooShort,
    /// An extension (for example "ext. 12") cannot be part of an E.164 number.
    #[error("the phone number has an extension, which cannot be texted or hashed; remove it")]
    HasExtension,
    /// Parsed, but not a valid number according to the numbering plan.
    #[error("not a valid phone number (numbers in national form are read as region {region})")]
    Invalid {
        /// The default region the input was read with.
        region: Region,
    },
    /// A string claimed to be E.164 but is not `+` followed by 7 to 15 digits.
    #[error("not an E.164 number: expected '+' followed by 7 to 15 digits, the first not 0")]
    NotE164,
}

/// A region (ISO 3166-1 alpha-2 code) that libphonenumber has numbering metadata for, used to read
/// numbers written in national form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(CountryId);

impl Region {
    /// Parses a two-letter code, case-insensitively ("gb" and "GB" are the same region).
    pub fn parse(code: &str) -> Result<Self, PhoneError> {
        let code = code.trim();
        if code.len() != 2 || !code.bytes().all(|byte| byte.is_ascii_alphabetic()) {
            return Err(PhoneError::RegionFormat);
        }
        let upper = code.to_ascii_uppercase();
        let unknown = || PhoneError::UnknownRegion {
            code: upper.clone(),
        };
        let id = CountryId::from_str(&upper).map_err(|_| unknown())?;
        if DATABASE.by_id(id.as_ref()).is_none() {
            return Err(unknown());
        }
        Ok(Region(id))
    }

    /// The upper-case two-letter code, e.g. `"GB"`.
    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }
}

impl FromStr for Region {
    type Err = PhoneError;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Region::parse(code)
    }
}

impl TryFrom<String> for Region {
    type Error = PhoneError;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        Region::parse(&code)
    }
}

impl From<Region> for String {
    fn from(region: Region) -> String {
        region.as_str().to_owned()
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Region({})", self.as_str())
    }
}

/// A phone number in E.164 form: `+`, the country calling code and the national number, digits
/// only, e.g. `+447700900123`. This exact ASCII string is what caller keys hash and what is sealed.
///
/// `Debug` shows only the masked tail, so a stray `{:?}` in a log line cannot leak the number.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

impl E164 {
    /// Checks the E.164 shape only (`+`, 7 to 15 digits, the first not 0), for numbers that were
    /// normalised before, e.g. after opening a sealed value. Use [`normalize`] for anything a person
    /// or a provider typed.
    pub fn parse(candidate: &str) -> Result<Self, PhoneError> {
        let digits = candidate.strip_prefix('+').ok_or(PhoneError::NotE164)?;
        let well_formed = (MIN_E164_DIGITS..=MAX_E164_DIGITS).contains(&digits.len())
            && digits.bytes().all(|byte| byte.is_ascii_digit())
            && !digits.starts_with('0');
        if well_formed {
            Ok(E164(candidate.to_owned()))
        } else {
            Err(PhoneError::NotE164)
        }
    }

    /// The full number, e.g. `"+447700900123"`. Handle with care: this is personal data.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for E164 {
    type Error = PhoneError;

    fn try_from(candidate: String) -> Result<Self, Self::Error> {
        E164::parse(&candidate)
    }
}

impl From<E164> for String {
    fn from(number: E164) -> String {
        number.0
    }
}

impl fmt::Debug for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E164({})", mask_tail(self))
    }
}

/// The masked form shown to staff and kept in `strict` privacy mode: four bullets, a space and the
/// last three digits, e.g. `"•••• 123"`.
pub fn mask_tail(number: &E164) -> String {
    let digits = number.as_str();
    let tail_start = digits.len().saturating_sub(TAIL_DIGITS);
    format!("{HIDDEN_TAIL} {}", &digits[tail_start..])
}

/// `number` as its own country writes it (e.g. `07700 900123`), for the clinic's own numbers
/// shown to its admins; E.164 when the metadata has no national format for it.
pub fn national(number: &E164) -> String {
    let Ok(parsed) = phonenumber::parse(None, number.as_str()) else {
        return number.as_str().to_owned();
    };
    if is_reserved_fiction_mobile(&parsed) {
        let digits = &number.as_str()[3..];
        return format!("0{} {}", &digits[..4], &digits[4..]);
    }
    parsed.format().mode(Mode::National).to_string()
}

/// What kind of line a number belongs to, as libphonenumber classifies it by its numbering plan.
/// (Ported numbers keep their original range's kind; the SMS provider has the final word.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberKind {
    Mobile,
    FixedLine,
    /// The plan does not tell mobiles from landlines (e.g. the US and Canada).
    FixedLineOrMobile,
    TollFree,
    PremiumRate,
    Voip,
    SharedCost,
    PersonalNumber,
    Pager,
    /// Universal access ("company") numbers.
    Uan,
    /// Voicemail access numbers.
    Voicemail,
}

impl NumberKind {
    /// Whether a text-back to this kind of number can be delivered. Landlines and service numbers
    /// cannot; where the plan cannot tell mobiles from landlines, Ringback tries.
    pub fn accepts_sms(self) -> bool {
        matches!(
            self,
            NumberKind::Mobile | NumberKind::FixedLineOrMobile | NumberKind::Voip
        )
    }

    /// Whether a call to this kind of number pays whoever rents it (premium-rate, shared-cost,
    /// personal and pager numbers, the UK's 076 range among the last, a favourite of missed-call
    /// scams): Ringback never rings one on a clinic's behalf, so no account can be used to pump
    /// calls, paid by the deployment, to a number that earns from them.
    pub fn shares_revenue(self) -> bool {
        matches!(
            self,
            NumberKind::PremiumRate
                | NumberKind::SharedCost
                | NumberKind::PersonalNumber
                | NumberKind::Pager
        )
    }

    /// The kind named by its snake_case name ([`Self::as_str`]), as stored with a call.
    pub fn from_name(name: &str) -> Option<Self> {
        ALL_KINDS.iter().copied().find(|kind| kind.as_str() == name)
    }

    /// The snake_case name, as serialised (`"fixed_line"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            NumberKind::Mobile => "mobile",
            NumberKind::FixedLine => "fixed_line",
            NumberKind::FixedLineOrMobile => "fixed_line_or_mobile",
            NumberKind::TollFree => "toll_free",
            NumberKind::PremiumRate => "premium_rate",
            NumberKind::Voip => "voip",
            NumberKind::SharedCost => "shared_cost",
            NumberKind::PersonalNumber => "personal_number",
            NumberKind::Pager => "pager",
            NumberKind::Uan => "uan",
            NumberKind::Voicemail => "voicemail",
        }
    }

    /// libphonenumber's classification; `None` where it has no kind Ringback distinguishes
    /// (unknown, short codes, emergency, …).
    fn from_libphonenumber(kind: Type) -> Option<NumberKind> {
        match kind {
            Type::Mobile => Some(NumberKind::Mobile),
            Type::FixedLine => Some(NumberKind::FixedLine),
            Type::FixedLineOrMobile => Some(NumberKind::FixedLineOrMobile),
            Type::TollFree => Some(NumberKind::TollFree),
            Type::PremiumRate => Some(NumberKind::PremiumRate),
            Type::Voip => Some(NumberKind::Voip),
            Type::SharedCost => Some(NumberKind::SharedCost),
            Type::PersonalNumber => Some(NumberKind::PersonalNumber),
            Type::Pager => Some(NumberKind::Pager),
            Type::Uan => Some(NumberKind::Uan),
            Type::Voicemail => Some(NumberKind::Voicemail),
            _ => None,
        }
    }
}

/// Every [`NumberKind`].
const ALL_KINDS: [NumberKind; 11] = [
    NumberKind::Mobile,
    NumberKind::FixedLine,
    NumberKind::FixedLineOrMobile,
    NumberKind::TollFree,
    NumberKind::PremiumRate,
    NumberKind::Voip,
    NumberKind::SharedCost,
    NumberKind::PersonalNumber,
    NumberKind::Pager,
    NumberKind::Uan,
    NumberKind::Voicemail,
];

/// Why a number cannot be one a clinic's calls are put through to (its forwarding line, a team
/// member's callback phone), if it cannot: one that pays whoever rents it, or one outside the
/// clinic's country `region` (an international call the deployment pays for).
pub fn staff_line_refusal(number: &NormalizedNumber, region: Region) -> Option<&'static str> {
    if number.kind.is_some_and(NumberKind::shares_revenue) {
        return Some(
            "premium-rate, shared-cost, personal and pager numbers cannot take the clinic's \
             calls: give a mobile or a landline",
        );
    }
    if !region_of(&number.e164).is_some_and(|of| same_dialling_area(of, region)) {
        return Some("give a number in the clinic's own country");
    }
    None
}

/// The North American numbering plan's regions (whose toll-free numbers read as American).
const NORTH_AMERICA: [&str; 2] = ["US", "CA"];

/// The UK's numbering plan: the UK and the Crown Dependencies (Jersey, Guernsey, the Isle of
/// Man), whose +44 numbers are on the UK's networks although libphonenumber places their mobiles
/// in regions of their own.
const UNITED_KINGDOM: [&str; 4] = ["GB", "JE", "GG", "IM"];

/// Whether regions `a` and `b` are both in numbering plan `plan`.
fn in_plan(plan: &[&str], a: &str, b: &str) -> bool {
    plan.contains(&a) && plan.contains(&b)
}

/// Whether numbers of regions `a` and `b` are called as domestic numbers of each other: the same
/// region, or North America's plan. (Calls to the Crown Dependencies are priced as their own
/// countries', so a UK clinic's staff lines stay in the UK.)
fn same_dialling_area(a: Region, b: Region) -> bool {
    a == b || in_plan(&NORTH_AMERICA, a.as_str(), b.as_str())
}

impl fmt::Display for NumberKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A number after [`normalize`]: its E.164 form and, when known, its kind (`None` serialises as
/// `null`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NormalizedNumber {
    pub e164: E164,
    pub kind: Option<NumberKind>,
}

impl NormalizedNumber {
    /// Whether a text-back should be attempted; unknown kinds are not texted.
    pub fn accepts_sms(&self) -> bool {
        self.kind.is_some_and(NumberKind::accepts_sms)
    }
}

/// Reads a number as typed by a person or sent by a provider — national form read with
/// `default_region` ("07700 900123"), international form with `+` or an international dialling
/// prefix ("+44 7700 900123", "0044 7700 900123", "011 44 …") — and returns it in E.164 form.
///
/// Only numbers that libphonenumber considers valid are accepted, plus Ofcom's UK drama mobile
/// range (`+44 7700 900xxx`), which libphonenumber rejects on purpose. Letters, extensions and other
/// punctuation are refused before parsing.
pub fn normalize(input: &str, default_region: Region) -> Result<NormalizedNumber, PhoneError> {
    let input = screen_input(input)?;
    let parsed = parse_in_its_country(input, default_region).map_err(parse_error)?;
    if parsed.extension().is_some() {
        return Err(PhoneError::HasExtension);
    }
    let kind = if is_reserved_fiction_mobile(&parsed) {
        Some(NumberKind::Mobile)
    } else if parsed.is_valid() {
        NumberKind::from_libphonenumber(parsed.number_type(&DATABASE))
    } else {
        return Err(PhoneError::Invalid {
            region: default_region,
        });
    };
    let e164 = E164::parse(&parsed.format().mode(Mode::E164).to_string())?;
    if !reads_back(&e164, default_region) {
        return Err(PhoneError::Invalid {
            region: default_region,
        });
    }
    Ok(NormalizedNumber { e164, kind })
}

/// Whether `e164`, read again as `normalize` reads it, is an accepted number and the same one.
/// libphonenumber keeps some national leading zeros that do not survive the E.164 form when read
/// with a default region, so an input such as "+4 700 09023" would otherwise be stored as a number
/// that no longer reads (found by fuzzing).
fn reads_back(e164: &E164, default_region: Region) -> bool {
    parse_in_its_country(e164.as_str(), default_region).is_ok_and(|again| {
        (is_reserved_fiction_mobile(&again) || again.is_valid())
            && again.format().mode(Mode::E164).to_string() == e164.as_str()
    })
}

/// `input` parsed with `default_region`, or, when written with `+` or an international dialling
/// prefix and a country code of another region, with that code's main region: the parser strips
/// the default region's national prefix even after another country code, so an Italian landline
/// (`+39 06…`, whose 0 belongs to the number) read by a UK clinic lost its 0, and
/// "+44 (0)7700 900123" read by a US one kept it.
fn parse_in_its_country(
    input: &str,
    default_region: Region,
) -> Result<PhoneNumber, phonenumber::ParseError> {
    let parsed = phonenumber::parse(Some(default_region.0), input)?;
    let own_code = DATABASE
        .by_id(default_region.0.as_ref())
        .map(|meta| meta.country_code());
    let code = parsed.code().value();
    if own_code == Some(code) {
        return Ok(parsed);
    }
    let written = match parsed.code().source() {
        Source::Plus => Some(input.to_owned()),
        Source::Idd => with_plus_for_dialling_prefix(input, code),
        Source::Number | Source::Default => None,
    };
    let home = DATABASE
        .by_code(&code)
        .and_then(|metas| metas.first().map(|meta| meta.id().to_owned()))
        .and_then(|id| id.parse::<CountryId>().ok());
    match (written, home) {
        (Some(written), Some(home)) => phonenumber::parse(Some(home), written),
        _ => Ok(parsed),
    }
}

/// The international dialling prefixes a number may be written with ("0044 …", "011 44 …" from
/// North America, "0011 44 …" from Australia), longest first.
const DIALLING_PREFIXES: [&str; 3] = ["0011", "011", "00"];

/// `input`, written with an international dialling prefix before country code `code`, as its
/// digits after a `+` instead (the country's own rules then read the rest).
fn with_plus_for_dialling_prefix(input: &str, code: u16) -> Option<String> {
    let digits: String = input.chars().filter(char::is_ascii_digit).collect();
    let code = code.to_string();
    DIALLING_PREFIXES.iter().find_map(|prefix| {
        let rest = digits.strip_prefix(prefix)?;
        rest.starts_with(&code).then(|| format!("+{rest}"))
    })
}

/// The region `number` belongs to, as libphonenumber's metadata places it (the UK's drama range is
/// GB); `None` when the metadata cannot tell.
pub fn region_of(number: &E164) -> Option<Region> {
    let parsed = phonenumber::parse(None, number.as_str()).ok()?;
    if is_reserved_fiction_mobile(&parsed) {
        return Region::parse("GB").ok();
    }
    parsed.country().id().map(Region)
}

/// Whether a business that texts numbers of region `allowed` texts those of `region` ([`region_of`]):
/// the same region, or for the UK (GB) also the Crown Dependencies, whose callers a UK business
/// reaches as UK numbers (a provider account not allowed to text them refuses, and the text-back
/// is skipped as another country's). Texts do not cross North America's plan: its countries are
/// texted as each other's foreign numbers.
pub fn texts_numbers_of(allowed: &str, region: &str) -> bool {
    allowed == region || (allowed == "GB" && in_plan(&UNITED_KINGDOM, allowed, region))
}

/// Cheap checks before the parser runs: the parser is a large regex machine, so hostile input is
/// bounded and restricted to the characters a written number uses.
fn screen_input(input: &str) -> Result<&str, PhoneError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(PhoneError::Empty);
    }
    if input.len() > MAX_INPUT_BYTES {
        return Err(PhoneError::TooLong);
    }
    if !input.chars().all(is_allowed_character) {
        return Err(PhoneError::UnexpectedCharacter);
    }
    match input.chars().filter(char::is_ascii_digit).count() {
        0..=3 => Err(PhoneError::TooShort),
        digits if digits > MAX_INPUT_DIGITS => Err(PhoneError::TooLong),
        _ => Ok(input),
    }
}

/// Digits, whitespace and the punctuation people put in phone numbers.
fn is_allowed_character(character: char) -> bool {
    character.is_ascii_digit()
        || character.is_whitespace()
        || matches!(character, '+' | '-' | '.' | '/' | '(' | ')')
}

/// Whether the number is in Ofcom's drama mobile range (see [`RESERVED_FICTION_MOBILES_GB`]).
fn is_reserved_fiction_mobile(number: &PhoneNumber) -> bool {
    number.code().value() == GB_COUNTRY_CODE
        && number.national().zeros() == 0
        && RESERVED_FICTION_MOBILES_GB.contains(&number.national().value())
}

/// Maps the parser's errors onto ours; the parser's own messages are not passed on.
fn parse_error(error: phonenumber::ParseError) -> PhoneError {
    match error {
        phonenumber::ParseError::InvalidCountryCode => PhoneError::UnknownCountryCode,
        phonenumber::ParseError::TooShortAfterIdd | phonenumber::ParseError::TooShortNsn => {
            PhoneError::TooShort
        }
        phonenumber::ParseError::TooLong => PhoneError::TooLong,
        phonenumber::ParseError::NoNumber | phonenumber::ParseError::MalformedInteger(_) => {
            PhoneError::NotANumber
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn withheld_callers_in_every_spelling() {
        for from in [
            "anonymous",
            "Anonymous",
            " RESTRICTED ",
            "+266696687",
            "+7378742833",
            "",
        ] {
            assert!(is_withheld(from), "{from:?}");
        }
        for from in ["+447700900123", "07700 900123", "anonymous caller"] {
            assert!(!is_withheld(from), "{from:?}");
        }
    }

    fn region(code: &str) -> Region {
        Region::parse(code).expect("known region")
    }

    fn normalized(input: &str, code: &str) -> NormalizedNumber {
        normalize(input, region(code)).expect("valid number")
    }

    #[test]
    fn only_the_clinics_own_country_and_no_paying_number_takes_its_calls() {
        let gb = region("GB");
        assert_eq!(
            staff_line_refusal(&normalized("07700 900123", "GB"), gb),
            None
        );
        assert_eq!(
            staff_line_refusal(&normalized("020 7946 0321", "GB"), gb),
            None
        );
        // Ofcom's drama range of premium-rate numbers.
        let premium = normalized("0909 879 0000", "GB");
        assert_eq!(premium.kind, Some(NumberKind::PremiumRate));
        assert!(staff_line_refusal(&premium, gb).is_some_and(|why| why.contains("premium")));
        let abroad = normalized("0491 570 006", "AU");
        assert!(staff_line_refusal(&abroad, gb).is_some_and(|why| why.contains("country")));
        // A US number for a Canadian clinic is a call at home.
        let american = normalized("+1 202 555 0143", "US");
        assert_eq!(staff_line_refusal(&american, region("CA")), None);
        assert!(staff_line_refusal(&american, gb).is_some());
        // A number written with another country's code is read by that country's rules: its
        // national prefix in brackets is dropped whatever the clinic's country.
        for (input, clinic) in [
            ("+44 (0)7700 900123", "US"),
            ("+44 (0)7700 900123", "AU"),
            ("+61 (0)491 570 006", "GB"),
            ("+61491570006", "US"),
            ("0061 (0)491 570 006", "GB"),
            ("011 44 (0)7700 900123", "US"),
            ("0011 44 7700 900123", "AU"),
            ("(+44) 07700 900123", "US"),
        ] {
            let read =
                normalize(input, region(clinic)).map(|number| number.e164.as_str().to_owned());
            let expected = if input.contains(" 44") || input.contains("+44") {
                "+447700900123"
            } else {
                "+61491570006"
            };
            assert_eq!(read.as_deref(), Ok(expected), "{input} in {clinic}");
        }
        // Pagers (the UK's 076 range) earn from calls as premium numbers do; mobiles do not.
        assert!(NumberKind::Pager.shares_revenue());
        assert!(!NumberKind::Mobile.shares_revenue() && !NumberKind::FixedLine.shares_revenue());
    }

    #[test]
    fn a_kind_reads_back_from_its_name() {
        for kind in ALL_KINDS {
            assert_eq!(NumberKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(NumberKind::from_name("landline"), None);
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn a_clinic_number_is_written_as_its_country_writes_it() {
        let national_of = |input: &str, code: &str| national(&normalized(input, code).e164);
        assert_eq!(national_of("+447700900123", "GB"), "07700 900123");
        assert_eq!(national_of("+442079460321", "GB"), "020 7946 0321");
        assert_eq!(national_of("+61491570006", "AU"), "0491 570 006");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn a_number_whose_e164_form_is_another_number_is_refused() {
        // Norway's code with national leading zeros: the E.164 form would drop them.
        assert!(normalize("+4 700 09023", region("GB")).is_err());
        let accepted = normalized("+47 22 22 22 22", "GB").e164;
        assert_eq!(
            normalize(accepted.as_str(), region("GB")).map(|n| n.e164),
            Ok(accepted)
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn numbers_are_placed_in_their_region() {
        for (input, home, expected) in [
            ("07700 900123", "GB", "GB"),
            ("0491 570 006", "AU", "AU"),
            ("+1 202 555 0123", "GB", "US"),
        ] {
            let number = normalized(input, home).e164;
            assert_eq!(
                region_of(&number).map(|found| found.as_str().to_owned()),
                Some(expected.to_owned()),
                "{input}"
            );
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn regions_parse_case_insensitively_and_unknown_ones_are_named() {
        assert_eq!(region("gb"), region("GB"));
        assert_eq!(region(" ie ").as_str(), "IE");
        assert_eq!(
            Region::parse("XX"),
            Err(PhoneError::UnknownRegion {
                code: "XX".to_owned()
            })
        );
        assert_eq!(Region::parse("GBR"), Err(PhoneError::RegionFormat));
        assert_eq!(Region::parse("4"), Err(PhoneError::RegionFormat));
        assert_eq!(
            serde_json::from_str::<Region>("\"au\"")
                .map(String::from)
                .ok(),
            Some("AU".to_owned())
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn national_and_international_forms_agree() {
        for (input, code) in [
            ("07700 900123", "GB"),
            ("+44 7700 900123", "GB"),
            ("0044 7700 900123", "GB"),
            ("+44 7700 900123", "US"),
            ("011 44 7700 900123", "US"),
            ("0011 44 7700 900123", "AU"),
            ("0044 (0)7700 900123", "GB"),
        ] {
            assert_eq!(normalized(input, code).e164.as_str(), "+447700900123");
        }
        assert_eq!(
            normalized("(201) 555-0199", "US").e164.as_str(),
            "+12015550199"
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn kinds_are_classified_and_only_mobiles_take_texts() {
        let cases = [
            ("07700 900123", "GB", Some(NumberKind::Mobile)),
            ("020 7946 0123", "GB", Some(NumberKind::FixedLine)),
            ("0808 157 0123", "GB", Some(NumberKind::TollFree)),
            ("0909 879 0123", "GB", Some(NumberKind::PremiumRate)),
            ("0491 570 156", "AU", Some(NumberKind::Mobile)),
            ("(02) 5550 0123", "AU", Some(NumberKind::FixedLine)),
            ("(201) 555-0123", "US", Some(NumberKind::FixedLineOrMobile)),
            ("085 000 0123", "IE", Some(NumberKind::Mobile)),
        ];
        for (input, code, kind) in cases {
            assert_eq!(normalized(input, code).kind, kind, "{input}");
        }
        assert!(normalized("07700 900123", "GB").accepts_sms());
        assert!(normalized("(201) 555-0123", "US").accepts_sms());
        assert!(!normalized("020 7946 0123", "GB").accepts_sms());
        assert!(!normalized("0808 157 0123", "GB").accepts_sms());
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn kinds_serialise_in_snake_case_and_unknown_as_null() {
        let number = NormalizedNumber {
            e164: E164::parse("+442079460123").expect("E.164"),
            kind: Some(NumberKind::FixedLineOrMobile),
        };
        let json = serde_json::to_string(&number).expect("serialises");
        assert_eq!(
            json,
            r#"{"e164":"+442079460123","kind":"fixed_line_or_mobile"}"#
        );
        let unknown = NormalizedNumber {
            kind: None,
            ..number
        };
        let json = serde_json::to_string(&unknown).expect("serialises");
        assert_eq!(json, r#"{"e164":"+442079460123","kind":null}"#);
        assert_eq!(
            serde_json::to_string(&NumberKind::Uan).expect("serialises"),
            format!("\"{}\"", NumberKind::Uan.as_str())
        );
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn invalid_inputs_are_refused_without_echoing_the_number() {
        let gb = region("GB");
        let us = region("US");
        let cases = [
            ("", gb, PhoneError::Empty),
            ("   ", gb, PhoneError::Empty),
            ("07700 9001", gb, PhoneError::Invalid { region: gb }),
            ("07700 901123", gb, PhoneError::Invalid { region: gb }),
            ("(555) 010-0199", us, PhoneError::Invalid { region: us }),
            ("020 7946 0123 ext. 12", gb, PhoneError::UnexpectedCharacter),
            ("0800 FLOWERS", gb, PhoneError::UnexpectedCharacter),
            ("+44 7700 900123;ext=1", gb, PhoneError::UnexpectedCharacter),
            ("123", gb, PhoneError::TooShort),
            ("0770090012307700900123", gb, PhoneError::TooLong),
        ];
        for (input, default_region, expected) in cases {
            let error = normalize(input, default_region).expect_err(input);
            assert_eq!(error, expected, "{input:?}");
            let shown = format!("{error} {error:?}");
            assert!(
                !shown.contains("7700") && !shown.contains("0199") && !shown.contains("7946"),
                "{shown}"
            );
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn only_ofcoms_drama_range_is_excepted_from_validity() {
        assert!(normalize("07700 900000", region("GB")).is_ok());
        assert!(normalize("07700 900999", region("GB")).is_ok());
        // libphonenumber rejects all of 07700 9xxxxx; only Ofcom's 1000 drama numbers come back.
        assert!(normalize("07700 901000", region("GB")).is_err());
        assert!(normalize("07700 999999", region("GB")).is_err());
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn e164_checks_shape_and_debug_masks_the_number() {
        let number = E164::parse("+447700900123").expect("E.164");
        assert_eq!(mask_tail(&number), "•••• 123");
        assert_eq!(
            crate::caller_key::tail_query("123"),
            Some(mask_tail(&number))
        );
        assert_eq!(format!("{number:?}"), "E164(•••• 123)");
        let normalised = normalized("07700 900123", "GB");
        assert!(!format!("{normalised:?}").contains("7700"));
        for not_e164 in [
            "447700900123",
            "+0447700900",
            "+44770",
            "+4477009001234567",
            "+44 7700",
        ] {
            assert_eq!(
                E164::parse(not_e164),
                Err(PhoneError::NotE164),
                "{not_e164}"
            );
        }
        assert!(serde_json::from_str::<E164>("\"+44 7700 900123\"").is_err());
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The parser is third-party and has panicked on odd input before; ours must never.
        #[test]
        fn normalize_never_panics(input in "[0-9 +()./-]{0,40}", code in "(GB|AU|US|IE|NZ|CA)") {
            let region = Region::parse(&code).expect("known region");
            let _ = normalize(&input, region);
        }

        #[test]
        fn normalize_never_panics_on_any_text(input in "\\PC{0,40}") {
            let _ = normalize(&input, Region::parse("GB").expect("known region"));
        }
    }

    #[test]
    fn a_uk_business_texts_the_crown_dependencies_numbers() {
        // libphonenumber places +44 7797/7781/7624 mobiles in JE/GG/IM (no fiction range there,
        // so the regions stand for them here).
        for region in ["JE", "GG", "IM", "GB"] {
            assert!(texts_numbers_of("GB", region), "{region}");
            assert!(!texts_numbers_of("IE", region), "{region}");
        }
        assert!(texts_numbers_of("JE", "JE"));
        assert!(
            !texts_numbers_of("JE", "GB"),
            "a Jersey business lists the UK itself"
        );
        assert!(!texts_numbers_of("AU", "GB"));
    }
}
