//! Checks the crate against the JSON test vectors written by the independent Python generator
//! (`tests/vectors/generate.py`), natively and under wasm32: both sides of Ringback must compute
//! the same E.164 numbers, caller keys and sealed bytes. Also checks that sealed values are refused
//! when tampered with, truncated, or opened for the wrong clinic, purpose, key id or version.
//!
//! The vectors are compiled in with `include_str!`, so the wasm run needs no filesystem.
//!
//! Natively: `cargo test -p ringback-shared --test vectors`.
//! Under wasm (Node): `cargo test -p ringback-shared --target wasm32-unknown-unknown --test vectors`.

#![cfg(feature = "phone")]

use std::collections::HashMap;

use ringback_shared::caller_key::{CallerKey, ClinicHashingKey};
use ringback_shared::ids::ClinicId;
use ringback_shared::phone::{Region, normalize};
use ringback_shared::seal::{
    self, DATA_KEY_PURPOSE, DataKey, HEADER_BYTES, MIN_SEALED_BYTES, MasterKey, Purpose, SealError,
};
use serde::Deserialize;

const CALLER_KEY_JSON: &str = include_str!("vectors/caller_key.json");
const SEAL_JSON: &str = include_str!("vectors/seal.json");

/// One line of `caller_key.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CallerKeyVector {
    pepper_hex: String,
    clinic_id: String,
    region: String,
    input: String,
    e164: String,
    caller_key: String,
}

/// One line of `seal.json`. For purpose `data-key`, `plaintext` is the hex of the wrapped 32-byte
/// data key and `key_hex` is the master key; otherwise `plaintext` is the sealed UTF-8 text.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealVector {
    key_hex: String,
    key_id: u32,
    clinic_id: String,
    purpose: String,
    plaintext: String,
    nonce_hex: String,
    sealed_hex: String,
}

impl SealVector {
    fn clinic(&self) -> ClinicId {
        clinic(&self.clinic_id)
    }

    fn is_wrapped_data_key(&self) -> bool {
        self.purpose == DATA_KEY_PURPOSE
    }

    fn key_bytes(&self) -> [u8; 32] {
        decode_array(&self.key_hex)
    }

    fn nonce(&self) -> [u8; 12] {
        decode_array(&self.nonce_hex)
    }

    fn sealed(&self) -> Vec<u8> {
        decode(&self.sealed_hex)
    }

    /// The bytes that were sealed (see the struct's doc for the two encodings).
    fn plaintext_bytes(&self) -> Vec<u8> {
        if self.is_wrapped_data_key() {
            decode(&self.plaintext)
        } else {
            self.plaintext.as_bytes().to_vec()
        }
    }

    /// Seals the plaintext again with the crate, through the function the purpose calls for.
    fn seal_with_crate(&self) -> Result<Vec<u8>, SealError> {
        if self.is_wrapped_data_key() {
            let data_key = DataKey::from_slice(&self.plaintext_bytes())?;
            let master = MasterKey::from_bytes(self.key_bytes());
            seal::wrap_data_key(&master, self.key_id, self.clinic(), &data_key, self.nonce())
        } else {
            let purpose: Purpose = self.purpose.parse()?;
            let key = DataKey::from_bytes(self.key_bytes());
            let plaintext = self.plaintext_bytes();
            seal::seal(
                &key,
                self.key_id,
                self.clinic(),
                purpose,
                &plaintext,
                self.nonce(),
            )
        }
    }

    /// Opens `sealed` with this vector's key, key id and purpose, for `clinic`.
    fn open_with_crate(&self, clinic: ClinicId, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if self.is_wrapped_data_key() {
            let master = MasterKey::from_bytes(self.key_bytes());
            seal::unwrap_data_key(&master, self.key_id, clinic, sealed)
                .map(|key| key.expose_bytes().to_vec())
        } else {
            let purpose: Purpose = self.purpose.parse()?;
            let key = DataKey::from_bytes(self.key_bytes());
            seal::open(&key, self.key_id, clinic, purpose, sealed)
        }
    }
}

fn caller_key_vectors() -> Vec<CallerKeyVector> {
    serde_json::from_str(CALLER_KEY_JSON).expect("caller_key.json parses")
}

fn seal_vectors() -> Vec<SealVector> {
    serde_json::from_str(SEAL_JSON).expect("seal.json parses")
}

fn clinic(text: &str) -> ClinicId {
    text.parse().expect("clinic id is a UUID")
}

fn decode(text: &str) -> Vec<u8> {
    hex::decode(text).expect("valid hex")
}

fn decode_array<const N: usize>(text: &str) -> [u8; N] {
    decode(text).try_into().expect("hex of the expected length")
}

fn hashing_key(vector: &CallerKeyVector) -> ClinicHashingKey {
    ClinicHashingKey::derive(&decode(&vector.pepper_hex), clinic(&vector.clinic_id))
        .expect("pepper long enough")
}

/// A clinic id no vector uses.
fn other_clinic() -> ClinicId {
    clinic("6b1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f")
}

// ---------------------------------------------------------------------------------------------
// Caller keys

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn there_are_enough_vectors_over_every_region() {
    let vectors = caller_key_vectors();
    assert!(vectors.len() >= 30, "{} caller-key vectors", vectors.len());
    for region in ["GB", "AU", "US", "IE"] {
        assert!(
            vectors.iter().any(|vector| vector.region == region),
            "no vector for {region}"
        );
    }
    assert!(seal_vectors().len() >= 10);
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn normalisation_matches_the_generator() {
    for vector in caller_key_vectors() {
        let region = Region::parse(&vector.region).expect("known region");
        let normalised = normalize(&vector.input, region)
            .unwrap_or_else(|error| panic!("{} {:?}: {error}", vector.region, vector.input));
        assert_eq!(
            normalised.e164.as_str(),
            vector.e164,
            "{} {:?}",
            vector.region,
            vector.input
        );
        assert!(
            normalised.kind.is_some(),
            "{:?} has a known kind",
            vector.input
        );
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn caller_keys_match_the_generator() {
    for vector in caller_key_vectors() {
        let region = Region::parse(&vector.region).expect("known region");
        let number = normalize(&vector.input, region).expect("valid").e164;
        let expected = CallerKey::parse(&vector.caller_key).expect("well-formed caller key");
        let key = hashing_key(&vector);

        let computed = key.caller_key(&number);

        assert_eq!(
            computed, expected,
            "{:?} at {}",
            vector.input, vector.clinic_id
        );
        assert_eq!(computed.to_string(), vector.caller_key);
        assert!(key.matches(&number, &expected));
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn caller_keys_link_within_a_clinic_and_not_across_clinics() {
    let mut keys_by_number: HashMap<(&str, &str, &str), &str> = HashMap::new();
    let vectors = caller_key_vectors();
    for vector in &vectors {
        let identity = (
            vector.pepper_hex.as_str(),
            vector.clinic_id.as_str(),
            vector.e164.as_str(),
        );
        let first = *keys_by_number.entry(identity).or_insert(&vector.caller_key);
        assert_eq!(
            first, vector.caller_key,
            "same caller, same clinic, same key"
        );
    }
    let mut owners: HashMap<&str, (&str, &str, &str)> = HashMap::new();
    for (identity, key) in &keys_by_number {
        assert!(
            owners.insert(key, *identity).is_none(),
            "{key} shared by two identities"
        );
    }
    let clinics_per_number = |e164: &str| {
        keys_by_number
            .keys()
            .filter(|(_, _, number)| *number == e164)
            .count()
    };
    assert!(
        clinics_per_number("+447700900123") >= 3,
        "one number seen by several clinics and peppers"
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn caller_keys_round_trip_through_json() {
    for vector in caller_key_vectors() {
        let json = format!("\"{}\"", vector.caller_key);
        let key: CallerKey = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(serde_json::to_string(&key).expect("serialises"), json);
    }
}

// ---------------------------------------------------------------------------------------------
// Sealed values

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn sealing_reproduces_the_generators_bytes() {
    for vector in seal_vectors() {
        let sealed = vector.seal_with_crate().expect("seals");
        assert_eq!(
            hex::encode(sealed),
            vector.sealed_hex,
            "{:?}",
            vector.plaintext
        );
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn opening_returns_the_plaintext_and_the_key_id_is_readable() {
    for vector in seal_vectors() {
        let sealed = vector.sealed();
        assert_eq!(seal::sealed_key_id(&sealed), Ok(vector.key_id));
        let opened = vector.open_with_crate(vector.clinic(), &sealed);
        assert_eq!(
            opened,
            Ok(vector.plaintext_bytes()),
            "{:?}",
            vector.plaintext
        );
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn a_wrapped_data_key_opens_the_numbers_it_sealed() {
    let vectors = seal_vectors();
    let mut opened_through_a_wrapped_key = 0;
    for wrapped in vectors.iter().filter(|vector| vector.is_wrapped_data_key()) {
        let master = MasterKey::from_bytes(wrapped.key_bytes());
        let data_key =
            seal::unwrap_data_key(&master, wrapped.key_id, wrapped.clinic(), &wrapped.sealed())
                .expect("unwraps");
        let numbers_sealed_under_it = vectors.iter().filter(|vector| {
            !vector.is_wrapped_data_key()
                && vector.key_bytes() == *data_key.expose_bytes()
                && vector.clinic_id == wrapped.clinic_id
        });
        for number in numbers_sealed_under_it {
            let opened = seal::open(
                &data_key,
                number.key_id,
                number.clinic(),
                Purpose::CallerNumber,
                &number.sealed(),
            );
            assert_eq!(opened, Ok(number.plaintext_bytes()));
            opened_through_a_wrapped_key += 1;
        }
    }
    assert!(
        opened_through_a_wrapped_key >= 3,
        "the vectors chain master → data key → number"
    );
}

// ---------------------------------------------------------------------------------------------
// Refusals

/// The vector's sealed value with one bit flipped at byte `index`, if the value is that long.
fn with_bit_flipped(vector: &SealVector, index: usize) -> Option<Vec<u8>> {
    let mut sealed = vector.sealed();
    *sealed.get_mut(index)? ^= 0x01;
    Some(sealed)
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn a_changed_version_byte_is_refused_as_unsupported() {
    for vector in seal_vectors() {
        for version in [0x00, 0x02, 0x80, 0xff] {
            let mut sealed = vector.sealed();
            sealed[0] = version;
            let unsupported = SealError::UnsupportedVersion { found: version };
            assert_eq!(
                vector.open_with_crate(vector.clinic(), &sealed),
                Err(unsupported.clone())
            );
            assert_eq!(seal::sealed_key_id(&sealed), Err(unsupported));
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn a_changed_key_id_is_refused_as_a_key_mismatch() {
    for vector in seal_vectors() {
        for index in 1..5 {
            let sealed = with_bit_flipped(&vector, index).expect("header present");
            let found = seal::sealed_key_id(&sealed).expect("header parses");
            assert_ne!(found, vector.key_id);
            assert_eq!(
                vector.open_with_crate(vector.clinic(), &sealed),
                Err(SealError::KeyIdMismatch {
                    expected: vector.key_id,
                    found
                })
            );
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn a_changed_nonce_ciphertext_or_tag_fails_authentication() {
    for vector in seal_vectors() {
        let length = vector.sealed().len();
        for index in HEADER_BYTES..length {
            let sealed = with_bit_flipped(&vector, index).expect("in range");
            assert_eq!(
                vector.open_with_crate(vector.clinic(), &sealed),
                Err(SealError::AuthenticationFailed),
                "bit flipped at byte {index} of {length}"
            );
        }
        for index in 5..HEADER_BYTES {
            let sealed = with_bit_flipped(&vector, index).expect("nonce present");
            assert_eq!(
                vector.open_with_crate(vector.clinic(), &sealed),
                Err(SealError::AuthenticationFailed),
                "nonce byte {index}"
            );
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn truncated_values_are_refused() {
    for vector in seal_vectors() {
        let sealed = vector.sealed();
        for length in 0..sealed.len() {
            let truncated = &sealed[..length];
            let opened = vector.open_with_crate(vector.clinic(), truncated);
            if length < MIN_SEALED_BYTES {
                assert_eq!(opened, Err(SealError::Truncated { actual: length }));
                assert_eq!(
                    seal::sealed_key_id(truncated),
                    Err(SealError::Truncated { actual: length })
                );
            } else {
                assert_eq!(
                    opened,
                    Err(SealError::AuthenticationFailed),
                    "{length} bytes"
                );
            }
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn a_value_cannot_move_to_another_clinic() {
    for vector in seal_vectors() {
        let opened = vector.open_with_crate(other_clinic(), &vector.sealed());
        assert_eq!(opened, Err(SealError::AuthenticationFailed));
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn a_value_cannot_be_opened_for_another_purpose() {
    for vector in seal_vectors() {
        let sealed = vector.sealed();
        let opened_as_other_purpose = if vector.is_wrapped_data_key() {
            let same_key = DataKey::from_bytes(vector.key_bytes());
            seal::open(
                &same_key,
                vector.key_id,
                vector.clinic(),
                Purpose::CallerNumber,
                &sealed,
            )
        } else {
            let same_key = MasterKey::from_bytes(vector.key_bytes());
            seal::unwrap_data_key(&same_key, vector.key_id, vector.clinic(), &sealed)
                .map(|key| key.expose_bytes().to_vec())
        };
        assert_eq!(
            opened_as_other_purpose,
            Err(SealError::AuthenticationFailed)
        );
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn a_value_is_refused_for_another_key_id_or_key() {
    for vector in seal_vectors() {
        let sealed = vector.sealed();
        let other_id = vector.key_id.wrapping_add(1);
        let key = DataKey::from_bytes(vector.key_bytes());
        let purpose = Purpose::CallerNumber;
        assert_eq!(
            seal::open(&key, other_id, vector.clinic(), purpose, &sealed),
            Err(SealError::KeyIdMismatch {
                expected: other_id,
                found: vector.key_id
            })
        );
        let mut other_key_bytes = vector.key_bytes();
        other_key_bytes[0] ^= 0x01;
        let other_key = DataKey::from_bytes(other_key_bytes);
        assert_eq!(
            seal::open(&other_key, vector.key_id, vector.clinic(), purpose, &sealed),
            Err(SealError::AuthenticationFailed)
        );
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn purposes_and_key_lengths_are_checked() {
    assert_eq!("caller-number".parse(), Ok(Purpose::CallerNumber));
    assert_eq!(
        DATA_KEY_PURPOSE.parse::<Purpose>(),
        Err(SealError::UnknownPurpose)
    );
    assert_eq!(
        DataKey::from_slice(&[0u8; 31]).map(|_| ()),
        Err(SealError::InvalidKeyLength { actual: 31 })
    );
    assert_eq!(
        MasterKey::from_slice(&[0u8; 33]).map(|_| ()),
        Err(SealError::InvalidKeyLength { actual: 33 })
    );
}
