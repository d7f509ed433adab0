//! The callers a clinic has spoken to, by a call either way or by text: each as its key and
//! masked tail, newest contact first. The booking form picks from them (any caller, not only
//! recent missed ones), staff find one by the three digits of its tail, and lists show the tail
//! beside a caller key. Callers whose number is hidden (withheld, or erased) are never listed:
//! there is nothing to tell them apart by.
//!
//! Each read scans a bounded number of the newest rows of calls and conversations (by the indexes
//! on start, last message and tail), so its cost does not grow with the clinic's history.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use ringback_entity::{call, conversation};
use ringback_shared::caller_key::{HIDDEN_TAIL, TAIL_DIGITS, tail_query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;
use uuid::Uuid;

use crate::service::audit::{self, AuditEvent};
use ringback_core::error::DomainError;
use ringback_core::tenant::{ClinicOwned, TenantTxn};

/// Most callers one read returns.
pub const MAX_CALLERS: u64 = 50;
/// Rows read from calls and from conversations per caller asked for: a caller who rang several
/// times still leaves room for others, and the read stays bounded.
const ROWS_PER_CALLER: u64 = 8;
/// Most callers a tail search narrows a list to; a tail is shared by about one caller in a
/// thousand, so even a large clinic stays far below it.
const MAX_KEYS_PER_TAIL: u64 = 2_000;

/// A caller the clinic has spoken to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownCaller {
    pub caller_key: String,
    pub caller_tail: String,
    /// The newest call or text with them.
    pub last_contact_at: DateTime<Utc>,
}

/// What staff typed to find a caller, as the stored masked tail; refused unless it is the three
/// digits a tail shows.
pub fn tail_searched(typed: &str) -> Result<String, DomainError> {
    tail_query(typed).ok_or_else(|| {
        DomainError::BadUserInput(format!(
            "search by the last {TAIL_DIGITS} digits of the caller's number"
        ))
    })
}

/// Up to `limit` (at most [`MAX_CALLERS`]) callers the clinic has spoken to, newest contact
/// first; only those whose tail is `tail` (as typed) when given. The read is audited.
pub async fn list(
    txn: &TenantTxn,
    actor: Option<Uuid>,
    tail: Option<&str>,
    limit: u64,
) -> Result<Vec<KnownCaller>, DomainError> {
    let tail = tail.map(tail_searched).transpose()?;
    let limit = limit.clamp(1, MAX_CALLERS);
    let scan = limit * ROWS_PER_CALLER;
    let mut contacts = newest(txn, &CALLS, tail.as_deref(), scan).await?;
    contacts.extend(newest(txn, &CONVERSATIONS, tail.as_deref(), scan).await?);
    contacts.sort_by_key(|contact| std::cmp::Reverse(contact.last_contact_at));
    let mut seen = BTreeSet::new();
    let callers: Vec<KnownCaller> = contacts
        .into_iter()
        .filter(|caller| seen.insert(caller.caller_key.clone()))
        .take(limit as usize)
        .collect();
    audit::note_read(
        txn,
        AuditEvent {
            actor,
            action: "callers.list_read",
            detail: json!({ "rows": callers.len(), "by_tail": tail.is_some() }),
        },
    )
    .await?;
    Ok(callers)
}

/// Where table `E` keeps a caller's key, masked tail and the time of its contact with them.
struct ContactColumns<E: EntityTrait> {
    key: E::Column,
    tail: E::Column,
    at: E::Column,
}

const CALLS: ContactColumns<call::Entity> = ContactColumns {
    key: call::Column::CallerKey,
    tail: call::Column::CallerTail,
    at: call::Column::StartedAt,
};

const CONVERSATIONS: ContactColumns<conversation::Entity> = ContactColumns {
    key: conversation::Column::CallerKey,
    tail: conversation::Column::CallerTail,
    at: conversation::Column::LastMessageAt,
};

/// The newest `scan` contacts in table `E` with a caller whose number is not hidden (only those
/// with `tail`, when given).
async fn newest<E>(
    txn: &TenantTxn,
    columns: &ContactColumns<E>,
    tail: Option<&str>,
    scan: u64,
) -> Result<Vec<KnownCaller>, DomainError>
where
    E: ClinicOwned,
{
    let mut query = txn.find::<E>().filter(columns.tail.ne(HIDDEN_TAIL));
    if let Some(tail) = tail {
        query = query.filter(columns.tail.eq(tail));
    }
    let rows: Vec<(String, String, DateTime<Utc>)> = query
        .select_only()
        .column(columns.key)
        .column(columns.tail)
        .column(columns.at)
        .order_by_desc(columns.at)
        .limit(scan)
        .into_tuple()
        .all(txn.conn())
        .await?;
    Ok(rows
        .into_iter()
        .map(|(caller_key, caller_tail, last_contact_at)| KnownCaller {
            caller_key,
            caller_tail,
            last_contact_at,
        })
        .collect())
}

/// The keys of every caller whose stored masked tail is `tail` (at most [`MAX_KEYS_PER_TAIL`]
/// from calls and as many from texts).
pub async fn keys_with_tail(txn: &TenantTxn, tail: &str) -> Result<Vec<String>, DomainError> {
    let mut keys = keys_in(txn, &CALLS, tail).await?;
    keys.extend(keys_in(txn, &CONVERSATIONS, tail).await?);
    Ok(keys.into_iter().collect())
}

async fn keys_in<E: ClinicOwned>(
    txn: &TenantTxn,
    columns: &ContactColumns<E>,
    tail: &str,
) -> Result<BTreeSet<String>, DomainError> {
    Ok(txn
        .find::<E>()
        .filter(columns.tail.eq(tail))
        .select_only()
        .column(columns.key)
        .distinct()
        .limit(MAX_KEYS_PER_TAIL)
        .into_tuple::<String>()
        .all(txn.conn())
        .await?
        .into_iter()
        .collect())
}

/// The masked tail of each of `keys` that the clinic has one for (calls first, then texts).
pub async fn tails_of(
    txn: &TenantTxn,
    keys: &[String],
) -> Result<HashMap<String, String>, DomainError> {
    let mut tails = tails_in(txn, &CALLS, keys).await?;
    let missing: Vec<String> = keys
        .iter()
        .filter(|key| !tails.contains_key(*key))
        .cloned()
        .collect();
    if !missing.is_empty() {
        tails.extend(tails_in(txn, &CONVERSATIONS, &missing).await?);
    }
    Ok(tails)
}

async fn tails_in<E: ClinicOwned>(
    txn: &TenantTxn,
    columns: &ContactColumns<E>,
    keys: &[String],
) -> Result<HashMap<String, String>, DomainError> {
    Ok(txn
        .find::<E>()
        .filter(columns.key.is_in(keys.iter().cloned()))
        .filter(columns.tail.ne(HIDDEN_TAIL))
        .select_only()
        .column(columns.key)
        .column(columns.tail)
        .distinct()
        .into_tuple::<(String, String)>()
        .all(txn.conn())
        .await?
        .into_iter()
        .collect())
}
