//! Turns a phone number given to the API into what Ringback keeps: the caller key (HMAC under the
//! clinic's hashing key), a masked tail and the line type. The number itself is dropped here.
//! During a pepper rotation a caller met again is re-keyed from the previous pepper's key to the
//! current one ([`CallerKeyer::meet`]).

use ringback_shared::caller_key::{CallerKey, ClinicHashingKey};
use ringback_shared::ids::ClinicId;
use ringback_shared::phone::{self, Region};

use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;
use ringback_entity::{appointment, call, conversation, message, opt_out};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, QueryFilter};

use crate::service::{opt_outs, restrictions};

/// What is kept about a caller.
pub struct KeyedCaller {
    pub caller_key: String,
    /// The caller's key under the previous pepper, during a pepper rotation.
    pub previous_key: Option<String>,
    pub tail: String,
    pub line_type: Option<String>,
    /// Whether the number can receive SMS (not a fixed line).
    pub accepts_sms: bool,
    /// The number in E.164, for sealing into a job that must text it. Never stored in clear.
    pub e164: String,
    /// The region the number belongs to (ISO 3166), when known.
    pub region: Option<String>,
}

impl KeyedCaller {
    /// Every key the caller may be stored under: the current pepper's, then the previous one's
    /// while a pepper rotation is under way.
    pub fn keys(&self) -> Vec<String> {
        std::iter::once(self.caller_key.clone())
            .chain(self.previous_key.clone())
            .collect()
    }
}

/// Keys numbers for one clinic.
pub struct CallerKeyer {
    hashing_key: ClinicHashingKey,
    /// The clinic's hashing key under the previous pepper, during a pepper rotation.
    previous: Option<ClinicHashingKey>,
    region: Region,
}

fn hashing_key(pepper: &[u8], clinic_id: uuid::Uuid) -> Result<ClinicHashingKey, DomainError> {
    ClinicHashingKey::derive(pepper, ClinicId(clinic_id))
        .map_err(|e| DomainError::Internal(format!("caller key derivation: {e}")))
}

impl CallerKeyer {
    /// A keyer for the transaction's clinic, reading numbers with `region` as the default.
    pub fn new(secrets: &Secrets, txn: &TenantTxn, region: &str) -> Result<Self, DomainError> {
        let previous = secrets
            .previous_pepper
            .as_ref()
            .map(|pepper| hashing_key(pepper.expose(), txn.clinic_id()))
            .transpose()?;
        let region = Region::parse(region)
            .map_err(|e| DomainError::Internal(format!("stored region: {e}")))?;
        Ok(Self {
            hashing_key: hashing_key(secrets.pepper.expose(), txn.clinic_id())?,
            previous,
            region,
        })
    }

    /// Keys `number` for a caller met now (a call, a text, a booking): during a pepper rotation,
    /// what is stored under the caller's previous key moves to the current one first, so every
    /// later look-up finds the caller's whole history under one key.
    pub async fn meet(&self, txn: &TenantTxn, number: &str) -> Result<KeyedCaller, DomainError> {
        let caller = self.key(number)?;
        if let Some(previous) = &caller.previous_key {
            rekey(txn, previous, &caller.caller_key).await?;
        }
        Ok(caller)
    }

    /// Normalises and keys `number`; the error never repeats the number.
    pub fn key(&self, number: &str) -> Result<KeyedCaller, DomainError> {
        let normalized = phone::normalize(number, self.region)
            .map_err(|e| DomainError::BadUserInput(e.to_string()))?;
        Ok(KeyedCaller {
            previous_key: self
                .previous
                .as_ref()
                .map(|previous| previous.caller_key(&normalized.e164).to_string()),
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

/// Moves everything stored under caller key `from` to `to` (calls, appointments, conversations,
/// messages, the opt-out and do-not-process lists). An index probe per table when there is nothing to move.
async fn rekey(txn: &TenantTxn, from: &str, to: &str) -> Result<(), DomainError> {
    restrictions::move_key(txn, from, to).await?;
    if opt_outs::is_opted_out(txn, to).await? {
        txn.delete_many::<opt_out::Entity>()
            .filter(opt_out::Column::CallerKey.eq(from))
            .exec(txn.conn())
            .await?;
    } else {
        txn.update_many::<opt_out::Entity>()
            .col_expr(opt_out::Column::CallerKey, Expr::value(to))
            .col_expr(opt_out::Column::UnderPreviousPepper, Expr::value(false))
            .filter(opt_out::Column::CallerKey.eq(from))
            .exec(txn.conn())
            .await?;
    }
    txn.update_many::<call::Entity>()
        .col_expr(call::Column::CallerKey, Expr::value(to))
        .filter(call::Column::CallerKey.eq(from))
        .exec(txn.conn())
        .await?;
    txn.update_many::<appointment::Entity>()
        .col_expr(appointment::Column::CallerKey, Expr::value(to))
        .filter(appointment::Column::CallerKey.eq(from))
        .exec(txn.conn())
        .await?;
    txn.update_many::<conversation::Entity>()
        .col_expr(conversation::Column::CallerKey, Expr::value(to))
        .filter(conversation::Column::CallerKey.eq(from))
        .exec(txn.conn())
        .await?;
    txn.update_many::<message::Entity>()
        .col_expr(message::Column::CallerKey, Expr::value(to))
        .filter(message::Column::CallerKey.eq(from))
        .exec(txn.conn())
        .await?;
    Ok(())
}
