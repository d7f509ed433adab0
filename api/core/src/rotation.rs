//! Rotating the deployment's keys.
//!
//! The master key: every clinic's data key is unwrapped with the current master key and
//! wrapped again with the new one, and the database's key check moves to the new key, all in one
//! transaction of the tables' owner: either every clinic opens with the new key, or nothing
//! changed. Numbers and messages are sealed under the data keys, which stay as they are, so nothing
//! else is rewritten and the cost grows with the number of clinics only.
//!
//! Servers hold the master key in memory: stop them all first, and start them with the new key
//! (a server started with the old one refuses to start, by the key check).
//!
//! The pepper: caller keys are one-way, so the keys already stored cannot be recomputed. A
//! rotation moves the key checks (the new pepper current, the old one previous) and re-keys the
//! provider numbers' routing keys (their numbers are sealed, so they can be); servers then run with
//! both peppers, make new caller keys with the new one, look callers up under both and re-key a
//! caller met again, until the old keys have aged out by retention and the previous pepper is
//! removed from the settings. The opt-out and do-not-process lists never age out (they honour a
//! STOP or an objection): their rows are flagged by the rotation and keep the previous pepper
//! needed until each has moved with its caller.

use std::collections::HashMap;

use ringback_entity::{caller_restriction, clinic, opt_out, provider_number};
use ringback_shared::caller_key::routing_key;
use ringback_shared::phone::E164;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use crate::db::DbError;
use crate::keys;
use crate::secrets::{
    KeyCheckError, KeyLock, Secret, Secrets, move_check, move_pepper_checks, take_master_key_lock,
};
use crate::tenant::begin_maintenance;

/// Why a rotation was refused or failed; nothing was changed in any case.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("the new master key is the current one")]
    Unchanged,
    #[error("clinic {0}'s data key does not open with the current master key")]
    Unreadable(Uuid),
    #[error("the pepper rotation needs the pepper rotated from as RINGBACK_PREVIOUS_PEPPER")]
    NoPreviousPepper,
    #[error("provider number {0} does not open or is not a number")]
    UnreadableNumber(Uuid),
    #[error(
        "{0} opt-outs or processing restrictions are still keyed under the pepper before the \
         previous rotation: another rotation would lose them. Rotate again once their callers \
         were met again (the server's start-up check then passes without RINGBACK_PREVIOUS_PEPPER)"
    )]
    ListsUnderPreviousPepper(u64),
    #[error("{0}")]
    KeyCheck(#[from] KeyCheckError),
    #[error("{0}")]
    Database(#[from] DbError),
}

impl From<sea_orm::DbErr> for RotationError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Database(error.into())
    }
}

/// Rewraps every clinic's data key from `current`'s master key to `new_master`, and records
/// `new_master`'s key check; returns how many clinics' keys were rewrapped.
pub async fn rotate_master_key(
    db: &DatabaseConnection,
    current: &Secrets,
    new_master: &Secret,
) -> Result<usize, RotationError> {
    if new_master == &current.master_key {
        return Err(RotationError::Unchanged);
    }
    let next = current.with_master_key(new_master.clone());
    let txn = begin_maintenance(db).await?;
    // Alone: a running server wrapping a new clinic's key under the old one finishes first (and
    // its clinic is rewrapped below), or waits and then sees the new key's check and refuses.
    take_master_key_lock(&txn, KeyLock::Alone).await?;
    let wrapped: Vec<(Uuid, Option<Vec<u8>>)> = clinic::Entity::find()
        .select_only()
        .columns([clinic::Column::Id, clinic::Column::WrappedDataKey])
        .order_by_asc(clinic::Column::Id)
        .lock_exclusive()
        .into_tuple()
        .all(&txn)
        .await?;
    let mut rewrapped = 0;
    for (clinic_id, key) in wrapped {
        let Some(key) = key else { continue };
        let data_key = keys::unwrap(current, clinic_id, &key)
            .map_err(|_| RotationError::Unreadable(clinic_id))?;
        let key = keys::wrap(&next, clinic_id, &data_key)
            .map_err(|_| RotationError::Unreadable(clinic_id))?;
        clinic::Entity::update_many()
            .col_expr(clinic::Column::WrappedDataKey, Expr::value(key))
            .filter(clinic::Column::Id.eq(clinic_id))
            .exec(&txn)
            .await?;
        rewrapped += 1;
    }
    move_check(&txn, "master_key", new_master).await?;
    txn.commit().await?;
    Ok(rewrapped)
}

/// Rotates from `secrets.previous_pepper` to `secrets.pepper`: moves the key checks, flags every
/// opt-out and restriction as keyed under the previous pepper ([`flag_lists`]) and re-keys every
/// provider number's routing key, in one transaction of the tables' owner; returns how many
/// numbers were re-keyed. Running it again with the same peppers changes nothing more.
pub async fn rotate_pepper(
    db: &DatabaseConnection,
    secrets: &Secrets,
) -> Result<usize, RotationError> {
    let previous = secrets
        .previous_pepper
        .as_ref()
        .ok_or(RotationError::NoPreviousPepper)?;
    if previous == &secrets.pepper {
        return Err(RotationError::Unchanged);
    }
    let txn = begin_maintenance(db).await?;
    if move_pepper_checks(&txn, &secrets.pepper, previous).await? {
        flag_lists(&txn).await?;
    }
    let wrapped: HashMap<Uuid, Option<Vec<u8>>> = clinic::Entity::find()
        .select_only()
        .columns([clinic::Column::Id, clinic::Column::WrappedDataKey])
        .into_tuple::<(Uuid, Option<Vec<u8>>)>()
        .all(&txn)
        .await?
        .into_iter()
        .collect();
    let numbers = provider_number::Entity::find()
        .order_by_asc(provider_number::Column::Id)
        .all(&txn)
        .await?;
    for number in &numbers {
        let unreadable = || RotationError::UnreadableNumber(number.id);
        let key = wrapped
            .get(&number.clinic_id)
            .and_then(Option::as_deref)
            .ok_or_else(unreadable)?;
        let data_key = keys::unwrap(secrets, number.clinic_id, key).map_err(|_| unreadable())?;
        let e164 = keys::open_clinic_number(&data_key, number.clinic_id, &number.number_sealed)
            .ok()
            .and_then(|text| E164::parse(&text).ok())
            .ok_or_else(unreadable)?;
        let routing = routing_key(secrets.pepper.expose(), &e164).map_err(|_| unreadable())?;
        provider_number::Entity::update_many()
            .col_expr(provider_number::Column::RoutingKey, Expr::value(routing))
            .filter(provider_number::Column::ClinicId.eq(number.clinic_id))
            .filter(provider_number::Column::Id.eq(number.id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(numbers.len())
}

/// Flags every opt-out and restriction as keyed under the previous pepper: each moves to the
/// current pepper when its caller is met again, and the previous pepper is needed until all have
/// ([`crate::secrets::Secrets::check_against`]). Rows still flagged from the rotation before are
/// keyed under a pepper about to be dropped: the rotation is refused.
async fn flag_lists(txn: &sea_orm::DatabaseTransaction) -> Result<(), RotationError> {
    let stranded = opt_out::Entity::find()
        .filter(opt_out::Column::UnderPreviousPepper.eq(true))
        .count(txn)
        .await?
        + caller_restriction::Entity::find()
            .filter(caller_restriction::Column::UnderPreviousPepper.eq(true))
            .count(txn)
            .await?;
    if stranded > 0 {
        return Err(RotationError::ListsUnderPreviousPepper(stranded));
    }
    opt_out::Entity::update_many()
        .col_expr(opt_out::Column::UnderPreviousPepper, Expr::value(true))
        .exec(txn)
        .await?;
    caller_restriction::Entity::update_many()
        .col_expr(
            caller_restriction::Column::UnderPreviousPepper,
            Expr::value(true),
        )
        .exec(txn)
        .await?;
    Ok(())
}
