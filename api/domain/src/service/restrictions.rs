//! The clinic's do-not-process list, keyed by caller key: a caller who asked the clinic to restrict
//! the processing of their data gets no text-back, no AI and no conversation, and their calls are
//! counted in the figures but stored under a stand-in key that links to nobody. Like the opt-out
//! list it holds no number, and it outlives purges and erasure: it is what honours the request.

use ringback_entity::caller_restriction;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use ringback_core::error::DomainError;
use ringback_core::tenant::TenantTxn;

use crate::service::opt_outs;

/// Puts `caller_key` on the list (again is fine).
pub async fn restrict(txn: &TenantTxn, caller_key: &str) -> Result<(), DomainError> {
    restrict_since(txn, caller_key, txn.now()).await
}

/// Moves the list's entry of key `from` to key `to` (the caller met again during a pepper
/// rotation), keeping when the caller first objected: the subject access record and the privacy
/// page say since when, not since the rotation.
pub async fn move_key(txn: &TenantTxn, from: &str, to: &str) -> Result<(), DomainError> {
    let Some(since) = restricted_since(txn, &[from.to_owned()]).await? else {
        return Ok(());
    };
    let since = restricted_since(txn, &[to.to_owned()])
        .await?
        .map_or(since, |already| already.min(since));
    lift(txn, &[from.to_owned(), to.to_owned()]).await?;
    restrict_since(txn, to, since).await
}

/// Puts `caller_key` on the list as of `since` (an entry already there stays as it is).
async fn restrict_since(
    txn: &TenantTxn,
    caller_key: &str,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<(), DomainError> {
    let row = caller_restriction::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        caller_key: Set(caller_key.to_owned()),
        created_at: Set(since),
        under_previous_pepper: Set(false),
    };
    caller_restriction::Entity::insert(row)
        .on_conflict_do_nothing_on([
            caller_restriction::Column::ClinicId,
            caller_restriction::Column::CallerKey,
        ])
        .exec(txn.conn())
        .await?;
    Ok(())
}

/// Takes every key in `caller_keys` off the list.
pub async fn lift(txn: &TenantTxn, caller_keys: &[String]) -> Result<(), DomainError> {
    txn.delete_many::<caller_restriction::Entity>()
        .filter(caller_restriction::Column::CallerKey.is_in(caller_keys.iter().cloned()))
        .exec(txn.conn())
        .await?;
    Ok(())
}

/// When any key in `caller_keys` (a caller's current and previous keys) went on the list.
pub async fn restricted_since(
    txn: &TenantTxn,
    caller_keys: &[String],
) -> Result<Option<chrono::DateTime<chrono::Utc>>, DomainError> {
    Ok(txn
        .find::<caller_restriction::Entity>()
        .filter(caller_restriction::Column::CallerKey.is_in(caller_keys.iter().cloned()))
        .all(txn.conn())
        .await?
        .into_iter()
        .map(|row| row.created_at)
        .min())
}

/// Whether the caller of `caller_key` may be texted by the AI: they sent no STOP (the opt-out
/// list) and did not restrict the processing of their data (this list).
pub(crate) async fn may_be_texted(txn: &TenantTxn, caller_key: &str) -> Result<bool, DomainError> {
    Ok(why_not_texted(txn, caller_key).await?.is_none())
}

/// Why the AI may not text (nor act for) the caller of `caller_key`, if it may not: they sent
/// STOP, or restricted the processing of their data.
pub(crate) async fn why_not_texted(
    txn: &TenantTxn,
    caller_key: &str,
) -> Result<Option<&'static str>, DomainError> {
    Ok(if opt_outs::is_opted_out(txn, caller_key).await? {
        Some("the caller sent STOP")
    } else if is_restricted(txn, &[caller_key.to_owned()]).await? {
        Some("the caller restricted the processing of their data")
    } else {
        None
    })
}

/// Whether any key in `caller_keys` is on the list.
pub async fn is_restricted(txn: &TenantTxn, caller_keys: &[String]) -> Result<bool, DomainError> {
    Ok(restricted_since(txn, caller_keys).await?.is_some())
}
