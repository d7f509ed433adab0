//! Per-clinic data keys and sealed numbers. Each clinic's data key is random, stored only wrapped by
//! the deployment's master key (AES-256-GCM, DESIGN.md's layout), and unwrapped in memory when a
//! number must be sealed or opened. Destroying the wrapped key crypto-shreds every number it sealed.

use rand::RngCore;
use ringback_entity::clinic;
use ringback_shared::ids::ClinicId;
use ringback_shared::seal::{self, DataKey, MasterKey, Purpose};
use uuid::Uuid;

use crate::error::DomainError;
use crate::secrets::Secrets;

/// Id of the master key scheme (recorded in every wrapped key). A rotation rewraps every clinic's
/// key at once (see [`crate::rotation`]), so one master key is in use at any time.
pub const MASTER_KEY_ID: u32 = 1;
/// Id of a clinic's data key (recorded in every sealed value).
pub const DATA_KEY_ID: u32 = 1;

fn nonce() -> [u8; 12] {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    nonce
}

fn master_key(secrets: &Secrets) -> MasterKey {
    MasterKey::from_bytes(*secrets.master_key.expose())
}

fn sealing_error(error: seal::SealError) -> DomainError {
    DomainError::Internal(format!("sealing: {error}"))
}

/// A new random data key for `clinic_id`, wrapped by the master key.
pub fn new_wrapped_data_key(secrets: &Secrets, clinic_id: Uuid) -> Result<Vec<u8>, DomainError> {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let key = DataKey::from_bytes(bytes);
    bytes.fill(0);
    wrap(secrets, clinic_id, &key)
}

/// The clinic's data key, unwrapped.
pub fn data_key(secrets: &Secrets, clinic: &clinic::Model) -> Result<DataKey, DomainError> {
    let wrapped = clinic
        .wrapped_data_key
        .as_deref()
        .ok_or_else(|| DomainError::Internal("the clinic has no data key".to_owned()))?;
    unwrap(secrets, clinic.id, wrapped)
}

/// Unwraps clinic `clinic_id`'s data key with the master key of `secrets`.
pub fn unwrap(secrets: &Secrets, clinic_id: Uuid, wrapped: &[u8]) -> Result<DataKey, DomainError> {
    seal::unwrap_data_key(
        &master_key(secrets),
        MASTER_KEY_ID,
        ClinicId(clinic_id),
        wrapped,
    )
    .map_err(sealing_error)
}

/// Wraps clinic `clinic_id`'s data key with the master key of `secrets`.
pub fn wrap(secrets: &Secrets, clinic_id: Uuid, key: &DataKey) -> Result<Vec<u8>, DomainError> {
    seal::wrap_data_key(
        &master_key(secrets),
        MASTER_KEY_ID,
        ClinicId(clinic_id),
        key,
        nonce(),
    )
    .map_err(sealing_error)
}

/// Seals one of the clinic's own numbers.
pub fn seal_clinic_number(
    key: &DataKey,
    clinic_id: Uuid,
    e164: &str,
) -> Result<Vec<u8>, DomainError> {
    seal::seal(
        key,
        DATA_KEY_ID,
        ClinicId(clinic_id),
        Purpose::ClinicNumber,
        e164.as_bytes(),
        nonce(),
    )
    .map_err(sealing_error)
}

/// Opens a number sealed by [`seal_clinic_number`].
pub fn open_clinic_number(
    key: &DataKey,
    clinic_id: Uuid,
    sealed: &[u8],
) -> Result<String, DomainError> {
    open_number(key, clinic_id, Purpose::ClinicNumber, sealed)
}

fn open_number(
    key: &DataKey,
    clinic_id: Uuid,
    purpose: Purpose,
    sealed: &[u8],
) -> Result<String, DomainError> {
    let bytes = seal::open(key, DATA_KEY_ID, ClinicId(clinic_id), purpose, sealed)
        .map_err(sealing_error)?;
    String::from_utf8(bytes)
        .map_err(|_| DomainError::Internal("sealed number is not text".to_owned()))
}

/// Seals the text of a message.
pub fn seal_message(key: &DataKey, clinic_id: Uuid, body: &str) -> Result<Vec<u8>, DomainError> {
    seal::seal(
        key,
        DATA_KEY_ID,
        ClinicId(clinic_id),
        Purpose::MessageBody,
        body.as_bytes(),
        nonce(),
    )
    .map_err(sealing_error)
}

/// Opens a message sealed by [`seal_message`].
pub fn open_message(key: &DataKey, clinic_id: Uuid, sealed: &[u8]) -> Result<String, DomainError> {
    let bytes = seal::open(
        key,
        DATA_KEY_ID,
        ClinicId(clinic_id),
        Purpose::MessageBody,
        sealed,
    )
    .map_err(sealing_error)?;
    String::from_utf8(bytes)
        .map_err(|_| DomainError::Internal("sealed message is not text".to_owned()))
}

/// Seals a caller's number for a job that must text it (destroyed once the job is done).
pub fn seal_caller_number(
    key: &DataKey,
    clinic_id: Uuid,
    e164: &str,
) -> Result<Vec<u8>, DomainError> {
    seal::seal(
        key,
        DATA_KEY_ID,
        ClinicId(clinic_id),
        Purpose::CallerNumber,
        e164.as_bytes(),
        nonce(),
    )
    .map_err(sealing_error)
}

/// Opens a number sealed by [`seal_caller_number`].
pub fn open_caller_number(
    key: &DataKey,
    clinic_id: Uuid,
    sealed: &[u8],
) -> Result<String, DomainError> {
    open_number(key, clinic_id, Purpose::CallerNumber, sealed)
}
