//! What a phone provider keeps of our callers: its own log of each call and text, which holds the
//! caller's number (and a text's words) for as long as the provider keeps it. [`ProviderRecords`]
//! deletes those records, so that an erasure or a retention purge reaches the provider's copy
//! too, and finds them by the numbers they were between, for the records Ringback never kept an
//! id of. Deleting a record that is already gone succeeds: the work is done either way.

use chrono::{DateTime, Utc};

use crate::sms::{ProviderError, ProviderFuture};

/// A provider that can delete its records of calls and texts.
pub trait ProviderRecords: Send + Sync {
    /// Deletes the provider's record of call `sid` and of the calls it started (the forwarded or
    /// connected legs, which hold the same numbers).
    fn forget_call<'a>(&'a self, sid: &'a str) -> ProviderFuture<'a, ()>;

    /// Deletes the provider's record of text `sid` (its words and numbers with it).
    fn forget_message<'a>(&'a self, sid: &'a str) -> ProviderFuture<'a, ()>;

    /// Releases the account's phone number `sid`, which a deleted clinic held: it stops taking
    /// that clinic's callers' calls and texts, and stops being paid for (a number already gone
    /// counts as released).
    fn release_number<'a>(&'a self, sid: &'a str) -> ProviderFuture<'a, ()>;

    /// The provider's records of the calls and texts between the two `numbers` (E.164),
    /// either way, made at `since` or later, newest first, at most [`MAX_LISTED`] of each kind
    /// each way (see [`HeldRecords::complete`]).
    fn records_between<'a>(
        &'a self,
        numbers: (&'a str, &'a str),
        since: DateTime<Utc>,
    ) -> ProviderFuture<'a, HeldRecords>;
}

/// The most records of one kind one way [`ProviderRecords::records_between`] lists (two pages):
/// more than one caller makes to one clinic number in a long while; the rest, if any, is listed
/// again once these are deleted.
pub const MAX_LISTED: usize = 200;

/// The ids of records the provider holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeldRecords {
    /// Calls (Twilio's `CA…`).
    pub calls: Vec<String>,
    /// Texts (Twilio's `SM…`/`MM…`).
    pub messages: Vec<String>,
    /// Whether these are all there were (no list was cut at [`MAX_LISTED`]).
    pub complete: bool,
}

/// Whether `sid` can name a provider record (in a URL path): two capital letters for its kind
/// (Twilio's `CA`, `SM`, `MM`), then letters and digits (and the `-` and `_` of test ids) only,
/// never a path separator or a query. Demo data's ids (`demo-…`) name nothing.
pub fn is_record_id(sid: &str) -> bool {
    let bytes = sid.as_bytes();
    (3..=64).contains(&bytes.len())
        && bytes[..2].iter().all(u8::is_ascii_uppercase)
        && bytes[2..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
}

impl ProviderError {
    /// Whether the provider answered that the record does not exist (Twilio's 404 with its
    /// code 20404: a 404 without it is a wrong address, not a missing record).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            ProviderError::Refused {
                status: 404,
                code: Some(20404)
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_name_a_record() {
        assert!(is_record_id("CA0123456789abcdef0123456789abcdef"));
        assert!(is_record_id("CA-test-1-leg"));
        for bad in [
            "",
            "CA",
            "demo-3-1",
            "CA/../Messages",
            "SM1?x=1",
            "SM1#",
            "CA 1",
            &"C".repeat(65),
        ] {
            assert!(!is_record_id(bad), "{bad}");
        }
    }
}
