//! Caller keys: the pseudonymous identifier that stands in for a phone number everywhere.
//!
//! Version 1 (see DESIGN.md, "Exact byte layouts"):
//! - clinic hashing key = HKDF-SHA256(salt = `ringback/caller-key/v1`, ikm = deployment pepper,
//!   info = the clinic id's 16 bytes, length 32);
//! - caller key = HMAC-SHA256(key = clinic hashing key, message = the E.164 string in ASCII),
//!   written `v1:` followed by 64 lowercase hex digits.
//!
//! The same caller at the same clinic always gets the same key; without the pepper, keys of two
//! clinics cannot be linked. The version prefix lets the pepper (or the scheme) rotate later.
//! Computing keys needs the `phone` feature (it takes an [`E164`](crate::phone::E164)); parsing
//! and comparing [`CallerKey`]s does not.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[cfg(feature = "phone")]
pub use self::derivation::{ClinicHashingKey, ROUTING_KEY_SALT_V1, routing_key};

/// The prefix of every version-1 caller key.
pub const CALLER_KEY_V1_PREFIX: &str = "v1:";

/// The prefix of a stand-in key that links to nobody: calls of a restricted caller, and what an
/// erased caller leaves for the figures, are stored under one.
pub const ANONYMOUS_PREFIX: &str = "anon:";

/// A fresh stand-in key, derived from nothing about the caller (see [`ANONYMOUS_PREFIX`]).
pub fn anonymous_key(id: uuid::Uuid) -> String {
    format!("{ANONYMOUS_PREFIX}{id}")
}

/// The masked tail shown for a caller stored under a stand-in key: no digit of the number.
pub const HIDDEN_TAIL: &str = "••••";

/// How many digits of a number its masked tail shows (`"•••• 123"`).
pub const TAIL_DIGITS: usize = 3;

/// What staff type to find a caller by masked number (`"555"`, `"•••• 555"`) as the stored
/// masked tail (`"•••• 555"`); `None` unless it holds exactly the [`TAIL_DIGITS`] digits a tail
/// shows, so a full number typed into a search is refused rather than looked for.
pub fn tail_query(typed: &str) -> Option<String> {
    let digits: String = typed.chars().filter(char::is_ascii_digit).collect();
    let only_tail_characters = typed
        .chars()
        .all(|c| c.is_ascii_digit() || c == '•' || c.is_whitespace());
    (only_tail_characters && digits.len() == TAIL_DIGITS).then(|| format!("{HIDDEN_TAIL} {digits}"))
}

/// Whether `key` is a stand-in that links to no caller.
pub fn is_anonymous(key: &str) -> bool {
    key.starts_with(ANONYMOUS_PREFIX)
}

/// HKDF salt for version-1 clinic hashing keys.
pub const CLINIC_HASHING_KEY_SALT_V1: &[u8] = b"ringback/caller-key/v1";

/// Fewest pepper bytes accepted. A deployment should generate 32 random bytes.
pub const MIN_PEPPER_BYTES: usize = 16;

/// Bytes in a caller key's digest (HMAC-SHA256 output).
const DIGEST_BYTES: usize = 32;

/// Why a caller key could not be derived or parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CallerKeyError {
    /// The deployment pepper is too short to keep caller keys unguessable.
    #[error("the caller-key pepper must be at least {minimum} bytes, got {actual}")]
    PepperTooShort { minimum: usize, actual: usize },
    /// HKDF refused the requested output length (cannot happen for 32 bytes; kept to avoid a panic).
    #[error("clinic hashing key derivation failed")]
    Derivation,
    /// The text does not start with a known version prefix.
    #[error("unsupported caller key version: expected a key starting with \"v1:\"")]
    UnsupportedVersion,
    /// `v1:` is not followed by exactly 64 lowercase hex digits.
    #[error("malformed caller key: expected \"v1:\" followed by 64 lowercase hex digits")]
    Malformed,
}

/// A version-1 caller key. Displays and serialises as `v1:` + 64 lowercase hex digits.
///
/// Equality runs in constant time, so comparing a stored key with a computed one does not reveal
/// how many leading bytes matched.
#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CallerKey([u8; DIGEST_BYTES]);

impl CallerKey {
    /// Parses `v1:<64 lowercase hex digits>`.
    pub fn parse(text: &str) -> Result<Self, CallerKeyError> {
        let hex_digits = text
            .strip_prefix(CALLER_KEY_V1_PREFIX)
            .ok_or(CallerKeyError::UnsupportedVersion)?;
        let is_lowercase_hex = hex_digits
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'));
        if !is_lowercase_hex {
            return Err(CallerKeyError::Malformed);
        }
        let mut digest = [0u8; DIGEST_BYTES];
        hex::decode_to_slice(hex_digits, &mut digest).map_err(|_| CallerKeyError::Malformed)?;
        Ok(CallerKey(digest))
    }

    /// The version of the scheme that produced this key (always 1 for now).
    pub fn version(&self) -> u8 {
        1
    }

    /// The 32 digest bytes, for compact storage.
    pub fn digest(&self) -> &[u8; DIGEST_BYTES] {
        &self.0
    }
}

impl PartialEq for CallerKey {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

impl Eq for CallerKey {}

impl Hash for CallerKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// Compares two digests without an early exit.
fn constant_time_eq(left: &[u8; DIGEST_BYTES], right: &[u8; DIGEST_BYTES]) -> bool {
    let difference = left
        .iter()
        .zip(right)
        .fold(0u8, |accumulated, (a, b)| accumulated | (a ^ b));
    // `black_box` keeps the optimiser from turning the fold back into a short-circuiting compare.
    std::hint::black_box(difference) == 0
}

impl fmt::Display for CallerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{CALLER_KEY_V1_PREFIX}{}", hex::encode(self.0))
    }
}

impl fmt::Debug for CallerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallerKey({self})")
    }
}

impl FromStr for CallerKey {
    type Err = CallerKeyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        CallerKey::parse(text)
    }
}

impl TryFrom<String> for CallerKey {
    type Error = CallerKeyError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        CallerKey::parse(&text)
    }
}

impl From<CallerKey> for String {
    fn from(key: CallerKey) -> String {
        key.to_string()
    }
}

#[cfg(feature = "phone")]
mod derivation {
    //! Deriving clinic hashing keys and computing caller keys (needs [`E164`], so the `phone`
    //! feature).

    use std::fmt;

    use hkdf::Hkdf;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    use super::{
        CLINIC_HASHING_KEY_SALT_V1, CallerKey, CallerKeyError, DIGEST_BYTES, MIN_PEPPER_BYTES,
    };
    use crate::ids::ClinicId;
    use crate::phone::E164;

    /// A clinic's caller-hashing key, derived from the deployment pepper and the clinic id.
    ///
    /// It holds the HMAC state keyed with the derived key, not the key bytes; `Debug` prints
    /// nothing secret.
    #[derive(Clone)]
    pub struct ClinicHashingKey {
        keyed_mac: Hmac<Sha256>,
    }

    impl ClinicHashingKey {
        /// HKDF-SHA256(salt = `ringback/caller-key/v1`, ikm = `pepper`, info = clinic id bytes,
        /// length 32). Refuses peppers shorter than [`MIN_PEPPER_BYTES`].
        pub fn derive(pepper: &[u8], clinic: ClinicId) -> Result<Self, CallerKeyError> {
            if pepper.len() < MIN_PEPPER_BYTES {
                return Err(CallerKeyError::PepperTooShort {
                    minimum: MIN_PEPPER_BYTES,
                    actual: pepper.len(),
                });
            }
            let mut key = [0u8; DIGEST_BYTES];
            let derived = Hkdf::<Sha256>::new(Some(CLINIC_HASHING_KEY_SALT_V1), pepper)
                .expand(clinic.as_bytes(), &mut key)
                .map_err(|_| CallerKeyError::Derivation)
                .and_then(|()| {
                    Hmac::<Sha256>::new_from_slice(&key).map_err(|_| CallerKeyError::Derivation)
                });
            key.fill(0);
            std::hint::black_box(&key);
            Ok(ClinicHashingKey {
                keyed_mac: derived?,
            })
        }

        /// HMAC-SHA256 of the E.164 string under this clinic's key.
        pub fn caller_key(&self, number: &E164) -> CallerKey {
            let mut mac = self.keyed_mac.clone();
            mac.update(number.as_str().as_bytes());
            CallerKey(mac.finalize().into_bytes().into())
        }

        /// Whether `key` is this clinic's key for `number`, compared in constant time.
        pub fn matches(&self, number: &E164, key: &CallerKey) -> bool {
            let mut mac = self.keyed_mac.clone();
            mac.update(number.as_str().as_bytes());
            mac.verify_slice(key.digest()).is_ok()
        }
    }

    /// Salt of the deployment-wide key that routes a clinic's own provider numbers.
    pub const ROUTING_KEY_SALT_V1: &[u8] = b"ringback/provider-number/v1";

    /// A routing key for one of a clinic's own provider numbers: HMAC-SHA256 under
    /// HKDF-SHA256(salt = `ringback/provider-number/v1`, ikm = `pepper`, no info), lowercase hex.
    /// Deployment-wide, not per clinic, because a webhook must find the clinic from its `To`
    /// number before it knows the clinic.
    pub fn routing_key(pepper: &[u8], number: &E164) -> Result<String, CallerKeyError> {
        if pepper.len() < MIN_PEPPER_BYTES {
            return Err(CallerKeyError::PepperTooShort {
                minimum: MIN_PEPPER_BYTES,
                actual: pepper.len(),
            });
        }
        let mut key = [0u8; DIGEST_BYTES];
        Hkdf::<Sha256>::new(Some(ROUTING_KEY_SALT_V1), pepper)
            .expand(&[], &mut key)
            .map_err(|_| CallerKeyError::Derivation)?;
        let mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|_| CallerKeyError::Derivation);
        key.fill(0);
        std::hint::black_box(&key);
        let mut mac = mac?;
        mac.update(number.as_str().as_bytes());
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    impl fmt::Debug for ClinicHashingKey {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("ClinicHashingKey(<redacted>)")
        }
    }
}

#[cfg(all(test, feature = "phone"))]
mod tests {
    use super::*;

    #[test]
    fn a_tail_is_searched_by_its_three_digits_only() {
        assert_eq!(tail_query("555").as_deref(), Some("•••• 555"));
        assert_eq!(tail_query(" •••• 555 ").as_deref(), Some("•••• 555"));
        assert_eq!(tail_query("55"), None);
        assert_eq!(tail_query("07700 900555"), None);
        assert_eq!(tail_query("5a5"), None);
    }
    use crate::ids::ClinicId;
    use crate::phone::E164;

    fn clinic(text: &str) -> ClinicId {
        text.parse().expect("UUID")
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn short_peppers_are_refused_and_keys_are_not_printed() {
        let clinic = clinic("3f2a5c1e-8b4d-4e7a-9c61-2d0b7f4e8a15");
        assert_eq!(
            ClinicHashingKey::derive(&[7u8; 15], clinic).map(|_| ()),
            Err(CallerKeyError::PepperTooShort {
                minimum: MIN_PEPPER_BYTES,
                actual: 15
            })
        );
        let key = ClinicHashingKey::derive(&[7u8; 32], clinic).expect("long enough");
        assert_eq!(format!("{key:?}"), "ClinicHashingKey(<redacted>)");
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn caller_key_text_is_validated() {
        let valid = format!("v1:{}", "ab".repeat(32));
        assert_eq!(
            CallerKey::parse(&valid).map(|key| key.to_string()),
            Ok(valid)
        );
        assert_eq!(
            CallerKey::parse(&format!("v2:{}", "ab".repeat(32))),
            Err(CallerKeyError::UnsupportedVersion)
        );
        for malformed in [
            format!("v1:{}", "AB".repeat(32)),
            format!("v1:{}", "ab".repeat(31)),
            format!("v1:{}", "ab".repeat(33)),
            format!("v1:{}g", "a".repeat(63)),
            "v1:".to_owned(),
        ] {
            assert_eq!(CallerKey::parse(&malformed), Err(CallerKeyError::Malformed));
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn one_caller_gets_unlinkable_keys_at_two_clinics() {
        let number = E164::parse("+447700900123").expect("E.164");
        let pepper = [9u8; 32];
        let at_first =
            ClinicHashingKey::derive(&pepper, clinic("3f2a5c1e-8b4d-4e7a-9c61-2d0b7f4e8a15"))
                .expect("derives");
        let at_second =
            ClinicHashingKey::derive(&pepper, clinic("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"))
                .expect("derives");
        assert_eq!(at_first.caller_key(&number), at_first.caller_key(&number));
        assert_ne!(at_first.caller_key(&number), at_second.caller_key(&number));
        assert!(!at_second.matches(&number, &at_first.caller_key(&number)));
    }
}

#[cfg(all(test, feature = "phone"))]
mod routing_tests {
    use super::*;
    use crate::phone::E164;

    #[test]
    fn routing_keys_are_stable_per_number_and_differ_between_numbers() {
        let pepper = [9u8; 32];
        let first = E164::parse("+447700900001").expect("e164");
        let second = E164::parse("+447700900002").expect("e164");
        let key = routing_key(&pepper, &first).expect("key");
        assert_eq!(key.len(), 64);
        assert_eq!(key, routing_key(&pepper, &first).expect("key"));
        assert_ne!(key, routing_key(&pepper, &second).expect("key"));
        assert!(
            routing_key(&[1u8; 4], &first).is_err(),
            "short peppers are refused"
        );
    }
}
