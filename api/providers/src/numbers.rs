//! The phone numbers of the deployment's provider account. A clinic's number routes calls,
//! receives texts and sends them only once the account is shown to hold it, so nobody can claim a
//! number that is not ours to give. Numbers are also found, bought, pointed at this deployment's
//! webhooks and released here: a number bought or pointed through Ringback is the clinic's by
//! construction.

use crate::sms::ProviderFuture;

/// Which kind of number can text in a country: mobile numbers in the UK and Australia (their
/// landline numbers cannot send texts), local numbers in the US and Canada.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberKind {
    Local,
    Mobile,
}

impl NumberKind {
    /// The kind a clinic in `country` (ISO 3166 alpha-2) texts from.
    pub fn for_country(country: &str) -> Self {
        match country {
            "US" | "CA" => NumberKind::Local,
            _ => NumberKind::Mobile,
        }
    }

    /// The path segment of the provider's search (`Local`, `Mobile`).
    pub fn as_path(self) -> &'static str {
        match self {
            NumberKind::Local => "Local",
            NumberKind::Mobile => "Mobile",
        }
    }
}

/// A search for numbers the account could buy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberSearch {
    /// ISO 3166 alpha-2, upper case.
    pub country: String,
    pub kind: NumberKind,
    /// Only numbers in this area code (where the country has them), when given.
    pub area_code: Option<String>,
    /// Only numbers whose digits contain these, when given.
    pub contains: Option<String>,
    /// Only numbers of this town or city (where the country has them), when given.
    pub locality: Option<String>,
}

/// A number the account could buy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvailableNumber {
    /// E.164.
    pub e164: String,
    /// The town or area the number belongs to, when the provider says.
    pub locality: Option<String>,
    /// Whether the country's rules need an address (or more) on file before it can be bought.
    pub address_required: bool,
}

/// A number the account holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedNumber {
    /// The provider's id of the number (`PN…`).
    pub sid: String,
    /// E.164.
    pub e164: String,
    /// Where its calls are sent, if anywhere.
    pub voice_url: Option<String>,
    /// Where its texts are sent, if anywhere.
    pub sms_url: Option<String>,
    /// Whether it can send texts (a voice-only number cannot text callers back).
    pub can_text: bool,
}

/// Where a number's calls, call status reports and texts go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberHooks {
    pub voice_url: String,
    pub status_callback: String,
    pub sms_url: String,
}

/// The provider account's numbers.
pub trait NumberDirectory: Send + Sync {
    /// The account's id of `e164` (a number in E.164 form) when the account holds it.
    fn holds<'a>(&'a self, e164: &'a str) -> ProviderFuture<'a, Option<String>>;

    /// Numbers the account could buy, as `search` asks (at most a page of them).
    fn search<'a>(&'a self, search: &'a NumberSearch) -> ProviderFuture<'a, Vec<AvailableNumber>>;

    /// Buys `e164` and points it at `hooks` in the same request.
    fn buy<'a>(&'a self, e164: &'a str, hooks: &'a NumberHooks) -> ProviderFuture<'a, OwnedNumber>;

    /// Every number the account holds (up to a bounded number of pages).
    fn owned(&self) -> ProviderFuture<'_, Vec<OwnedNumber>>;

    /// Points the account's number `sid` at `hooks`.
    fn point<'a>(&'a self, sid: &'a str, hooks: &'a NumberHooks)
    -> ProviderFuture<'a, OwnedNumber>;

    /// Releases the account's number `sid`: it stops being the account's.
    fn release<'a>(&'a self, sid: &'a str) -> ProviderFuture<'a, ()>;
}
