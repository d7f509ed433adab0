//! Turns a phone number given to the API into what Ringback keeps: the caller key (HMAC under the
//! clinic's hashing key), a masked tail and the line type. The number itself is dropped here.

use ringback_shared::caller_key::{CallerKey, ClinicHashingKey};
use ringback_shared::ids::ClinicId;
use ringback_shared::phone::{self, Region};

use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;

/// What is kept about a caller.
pub struct KeyedCaller {
    pub caller_key: String,
    pub tail: String,
    pub line_type: Option<String>,
    /// Whether the number can receive SMS (not a fixed line).
    pub accepts_sms: bool,
    /// The number in E.164, for sealing into a job that must text it. Never stored in clear.
    pub e164: String,
    /// The region the number belongs to (ISO 3166), when known.
    pub region: Option<String>,
}

/// Keys numbers for one clinic.
pub struct CallerKeyer {
    hashing_key: ClinicHashingKey,
    region: Region,
}

impl CallerKeyer {
    /// A keyer for the transaction's clinic, reading numbers with `region` as the default.
    pub fn new(secrets: &Secrets, txn: &TenantTxn, region: &str) -> Result<Self, DomainError> {
        let hashing_key =
            ClinicHashingKey::derive(secrets.pepper.expose(), ClinicId(txn.clinic_id()))
                .map_err(|e| DomainError::Internal(format!("caller key derivation: {e}")))?;
        let region = Region::parse(region)
            .map_err(|e| DomainError::Internal(format!("stored region: {e}")))?;
        Ok(Self {
            hashing_key,
            region,
        })
    }

    /// Normalises and keys `number`; the error never repeats the number.
    pub fn key(&self, number: &str) -> Result<KeyedCaller, DomainError> {
        let normalized = phone::normalize(number, self.region)
            .map_err(|e| DomainError::BadUserInput(e.to_string()))?;
        Ok(KeyedCaller {
            caller_key: self.hashing_key.caller_key(&normalized.e164).to_string(),
            tail: phone::mask_tail(&normalized.e164),
            line_type: normalized.kind.map(|kind| kind.as_str().to_owned()),
            accepts_sms: normalized.accepts_sms(),
            region: phone::region_of(&normalized.e164).map(|region| region.as_str().to_owned()),
            e164: normalized.e164.as_str().to_owned(),
        })
    }
}

/// Checks a caller key given directly (integrators may already hold one).
pub fn parse_caller_key(text: &str) -> Result<String, DomainError> {
    CallerKey::parse(text.trim())
        .map(|key| key.to_string())
        .map_err(|_| {
            DomainError::BadUserInput("callerKey must look like v1:<64 hex digits>".to_owned())
        })
}
