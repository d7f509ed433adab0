//! Sealed values: AES-256-GCM with the tenant and the purpose bound in as associated data.
//!
//! Version 1 layout (see DESIGN.md, "Exact byte layouts"):
//!
//! ```text
//! 0x01 (version) ‖ key id (u32, big-endian) ‖ nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes)
//! associated data = "ringback/seal/v1" ‖ clinic id (16 bytes) ‖ purpose (ASCII)
//! ```
//!
//! Phone numbers are sealed under the clinic's [`DataKey`]; each data key is itself sealed
//! ("wrapped") under the deployment's [`MasterKey`] with the purpose `data-key`, so destroying a
//! clinic's wrapped data key crypto-shreds every number sealed under it.
//!
//! The version byte and key id are not covered by the tag (the layout fixes the associated data);
//! [`open`] therefore checks both against what the caller expects before decrypting. Nonces come
//! from the caller (this crate has no randomness): they must be 12 fresh random bytes per seal.

use std::fmt;
use std::str::FromStr;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ids::ClinicId;

/// The version byte of the current layout.
pub const SEAL_VERSION_V1: u8 = 0x01;

/// The fixed prefix of the associated data.
pub const SEAL_AAD_PREFIX_V1: &[u8] = b"ringback/seal/v1";

/// The purpose string bound into wrapped data keys.
pub const DATA_KEY_PURPOSE: &str = "data-key";

/// Bytes in an AES-256 key.
pub const KEY_BYTES: usize = 32;

/// Bytes in an AES-GCM nonce.
pub const NONCE_BYTES: usize = 12;

/// Bytes in an AES-GCM tag.
pub const TAG_BYTES: usize = 16;

/// Bytes before the ciphertext: version, key id, nonce.
pub const HEADER_BYTES: usize = 1 + 4 + NONCE_BYTES;

/// The shortest possible sealed value (an empty plaintext).
pub const MIN_SEALED_BYTES: usize = HEADER_BYTES + TAG_BYTES;

/// Why a value could not be sealed or opened, or a key not built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SealError {
    /// Shorter than a version-1 header plus tag.
    #[error("sealed value is truncated: {actual} bytes, at least {MIN_SEALED_BYTES} needed")]
    Truncated { actual: usize },
    /// The first byte names a layout this code does not know.
    #[error("unsupported sealed value version {found}: only version 1 is known")]
    UnsupportedVersion { found: u8 },
    /// The value says it was sealed under another key than the one supplied.
    #[error("sealed value was sealed under key id {found}, but key id {expected} was supplied")]
    KeyIdMismatch { expected: u32, found: u32 },
    /// AES-GCM rejected the value. It cannot tell why, so all causes share one error.
    #[error(
        "sealed value failed authentication: it was tampered with, or sealed for another clinic, \
         for another purpose, or under another key"
    )]
    AuthenticationFailed,
    /// AES-GCM refused to encrypt (the plaintext exceeds its limit of about 64 GiB).
    #[error("plaintext too long to seal")]
    PlaintextTooLong,
    /// Key material of the wrong length.
    #[error("a key must be exactly {KEY_BYTES} bytes, got {actual}")]
    InvalidKeyLength { actual: usize },
    /// A purpose that is not one of the known purposes.
    #[error("unknown seal purpose: expected \"caller-number\"")]
    UnknownPurpose,
}

/// What a sealed value holds; bound into the associated data, so a value sealed for one purpose
/// cannot be opened as another. (`data-key` is reserved for [`wrap_data_key`].)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// A caller's E.164 number, as ASCII.
    CallerNumber,
    /// One of the clinic's own numbers (its forwarding line or a provider number), as ASCII.
    ClinicNumber,
    /// The text of an SMS, as UTF-8 (a caller may type anything, numbers included).
    MessageBody,
}

impl Purpose {
    /// The ASCII string bound into the associated data, e.g. `"caller-number"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::CallerNumber => "caller-number",
            Purpose::ClinicNumber => "clinic-number",
            Purpose::MessageBody => "message-body",
        }
    }
}

impl FromStr for Purpose {
    type Err = SealError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "caller-number" => Ok(Purpose::CallerNumber),
            "clinic-number" => Ok(Purpose::ClinicNumber),
            "message-body" => Ok(Purpose::MessageBody),
            _ => Err(SealError::UnknownPurpose),
        }
    }
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// 32 secret key bytes, overwritten with zeros when dropped (best effort: copies made by moves
/// before the drop are not reached).
#[derive(Clone)]
struct SecretKeyBytes([u8; KEY_BYTES]);

impl SecretKeyBytes {
    fn from_slice(bytes: &[u8]) -> Result<Self, SealError> {
        let array: [u8; KEY_BYTES] = bytes.try_into().map_err(|_| SealError::InvalidKeyLength {
            actual: bytes.len(),
        })?;
        Ok(SecretKeyBytes(array))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

impl Drop for SecretKeyBytes {
    fn drop(&mut self) {
        self.0.fill(0);
        // Keeps the zeroing from being removed as a dead store.
        std::hint::black_box(&mut self.0);
    }
}

/// A clinic's data key: seals that clinic's numbers. `Debug` prints nothing secret.
#[derive(Clone)]
pub struct DataKey(SecretKeyBytes);

impl DataKey {
    /// Wraps 32 key bytes (from a CSPRNG, or from [`unwrap_data_key`]).
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        DataKey(SecretKeyBytes(bytes))
    }

    /// Like [`DataKey::from_bytes`], checking the length.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SealError> {
        SecretKeyBytes::from_slice(bytes).map(DataKey)
    }

    /// The raw key bytes. Only for wrapping and for tests; never log them.
    pub fn expose_bytes(&self) -> &[u8; KEY_BYTES] {
        &self.0.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// The deployment's master key: wraps clinics' data keys. `Debug` prints nothing secret.
#[derive(Clone)]
pub struct MasterKey(SecretKeyBytes);

impl MasterKey {
    /// Wraps 32 key bytes (from configuration or a key-management service).
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        MasterKey(SecretKeyBytes(bytes))
    }

    /// Like [`MasterKey::from_bytes`], checking the length.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SealError> {
        SecretKeyBytes::from_slice(bytes).map(MasterKey)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// Seals `plaintext` for `clinic` and `purpose` under `key`, recording `key_id` in the header.
/// `nonce` must be 12 fresh random bytes: never reuse one with the same key.
pub fn seal(
    key: &DataKey,
    key_id: u32,
    clinic: ClinicId,
    purpose: Purpose,
    plaintext: &[u8],
    nonce: [u8; NONCE_BYTES],
) -> Result<Vec<u8>, SealError> {
    seal_with(&key.0, key_id, clinic, purpose.as_str(), plaintext, nonce)
}

/// Opens a value sealed by [`seal`], checking the version, that it names `key_id`, and (through the
/// tag) that it was sealed under `key` for this `clinic` and `purpose`.
pub fn open(
    key: &DataKey,
    key_id: u32,
    clinic: ClinicId,
    purpose: Purpose,
    sealed: &[u8],
) -> Result<Vec<u8>, SealError> {
    open_with(&key.0, key_id, clinic, purpose.as_str(), sealed)
}

/// The key id recorded in a sealed value's header, so the caller can pick the key to open it with
/// (keys rotate; old values keep naming the key that sealed them). Not authenticated by itself:
/// [`open`] is what proves the value genuine.
pub fn sealed_key_id(sealed: &[u8]) -> Result<u32, SealError> {
    SealedParts::split(sealed).map(|parts| parts.key_id)
}

/// Seals a clinic's data key under the master key (purpose `data-key`, same layout).
pub fn wrap_data_key(
    master: &MasterKey,
    master_key_id: u32,
    clinic: ClinicId,
    data_key: &DataKey,
    nonce: [u8; NONCE_BYTES],
) -> Result<Vec<u8>, SealError> {
    seal_with(
        &master.0,
        master_key_id,
        clinic,
        DATA_KEY_PURPOSE,
        data_key.expose_bytes(),
        nonce,
    )
}

/// Opens a data key wrapped by [`wrap_data_key`] for this clinic.
pub fn unwrap_data_key(
    master: &MasterKey,
    master_key_id: u32,
    clinic: ClinicId,
    wrapped: &[u8],
) -> Result<DataKey, SealError> {
    let mut bytes = open_with(&master.0, master_key_id, clinic, DATA_KEY_PURPOSE, wrapped)?;
    let key = DataKey::from_slice(&bytes);
    bytes.fill(0);
    std::hint::black_box(&mut bytes);
    key
}

/// A version-1 sealed value cut into its fields.
struct SealedParts<'a> {
    key_id: u32,
    nonce: &'a [u8; NONCE_BYTES],
    ciphertext_and_tag: &'a [u8],
}

impl<'a> SealedParts<'a> {
    /// Checks the version and the minimum length, and splits the header off.
    fn split(sealed: &'a [u8]) -> Result<Self, SealError> {
        let truncated = || SealError::Truncated {
            actual: sealed.len(),
        };
        let (&version, rest) = sealed.split_first().ok_or_else(truncated)?;
        if version != SEAL_VERSION_V1 {
            return Err(SealError::UnsupportedVersion { found: version });
        }
        if sealed.len() < MIN_SEALED_BYTES {
            return Err(truncated());
        }
        let (key_id, rest) = rest.split_first_chunk::<4>().ok_or_else(truncated)?;
        let (nonce, ciphertext_and_tag) = rest
            .split_first_chunk::<NONCE_BYTES>()
            .ok_or_else(truncated)?;
        Ok(SealedParts {
            key_id: u32::from_be_bytes(*key_id),
            nonce,
            ciphertext_and_tag,
        })
    }
}

/// `"ringback/seal/v1" ‖ clinic id bytes ‖ purpose`.
fn associated_data(clinic: ClinicId, purpose: &str) -> Vec<u8> {
    [SEAL_AAD_PREFIX_V1, clinic.as_bytes(), purpose.as_bytes()].concat()
}

fn seal_with(
    key: &SecretKeyBytes,
    key_id: u32,
    clinic: ClinicId,
    purpose: &str,
    plaintext: &[u8],
    nonce: [u8; NONCE_BYTES],
) -> Result<Vec<u8>, SealError> {
    let aad = associated_data(clinic, purpose);
    let ciphertext_and_tag = key
        .cipher()
        .encrypt(
            &nonce.into(),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .map_err(|_| SealError::PlaintextTooLong)?;
    let mut sealed = Vec::with_capacity(HEADER_BYTES + ciphertext_and_tag.len());
    sealed.push(SEAL_VERSION_V1);
    sealed.extend_from_slice(&key_id.to_be_bytes());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext_and_tag);
    Ok(sealed)
}

fn open_with(
    key: &SecretKeyBytes,
    expected_key_id: u32,
    clinic: ClinicId,
    purpose: &str,
    sealed: &[u8],
) -> Result<Vec<u8>, SealError> {
    let parts = SealedParts::split(sealed)?;
    if parts.key_id != expected_key_id {
        return Err(SealError::KeyIdMismatch {
            expected: expected_key_id,
            found: parts.key_id,
        });
    }
    let aad = associated_data(clinic, purpose);
    key.cipher()
        .decrypt(
            parts.nonce.into(),
            Payload {
                msg: parts.ciphertext_and_tag,
                aad: &aad,
            },
        )
        .map_err(|_| SealError::AuthenticationFailed)
}
