//! The audit log: append-only and hash-chained per clinic. Each entry's hash covers the previous
//! entry's hash and the entry's own fields, so editing, removing or reordering history breaks the
//! chain at that point, and `ringback audit verify` names the first broken entry.

use chrono::{DateTime, SubsecRound, Utc};
use ringback_entity::audit_log;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::DbError;
use crate::tenant::{TenantTxn, begin_maintenance};

/// The `prev_hash` of a clinic's first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an entry records. `detail` must hold no personal data beyond ids and masked tails.
pub struct AuditEvent<'a> {
    pub actor: Option<Uuid>,
    pub action: &'a str,
    pub detail: Value,
}

/// Appends `event` to the clinic's chain inside `txn`.
pub async fn append(txn: &TenantTxn, event: AuditEvent<'_>) -> Result<(), DbError> {
    let clinic_id = txn.clinic_id();
    // One append at a time per clinic, so the chain never forks.
    txn.lock_clinic().await?;
    let last = txn
        .find::<audit_log::Entity>()
        .order_by_desc(audit_log::Column::Seq)
        .limit(1)
        .one(txn.conn())
        .await?;
    let (seq, prev_hash) = last.map_or((1, GENESIS_HASH.to_owned()), |entry| {
        (entry.seq + 1, entry.hash)
    });
    // Stored timestamps keep microseconds on every engine; hash what will be read back.
    let at = txn.now().trunc_subsecs(6);
    let detail = naming_the_key(event.detail, txn.api_key());
    let hash = entry_hash(
        clinic_id,
        seq,
        at,
        event.actor,
        event.action,
        &detail,
        &prev_hash,
    );
    audit_log::ActiveModel {
        clinic_id: Set(clinic_id),
        seq: Set(seq),
        at: Set(at),
        actor_user_id: Set(event.actor),
        action: Set(event.action.to_owned()),
        detail: Set(detail),
        prev_hash: Set(prev_hash),
        hash: Set(hash),
    }
    .insert(txn.conn())
    .await?;
    Ok(())
}

/// `detail` with `apiKey` set when an integrator's key acted (an entry with no user as its actor
/// still says who did it).
fn naming_the_key(detail: Value, api_key: Option<Uuid>) -> Value {
    match (detail, api_key) {
        (Value::Object(mut fields), Some(key)) => {
            fields.insert("apiKey".to_owned(), Value::String(key.to_string()));
            Value::Object(fields)
        }
        (Value::Null, Some(key)) => serde_json::json!({ "apiKey": key.to_string() }),
        (detail, _) => detail,
    }
}

/// SHA-256 over the previous hash and the entry's fields, lowercase hex.
fn entry_hash(
    clinic_id: Uuid,
    seq: i64,
    at: DateTime<Utc>,
    actor: Option<Uuid>,
    action: &str,
    detail: &Value,
    prev_hash: &str,
) -> String {
    let actor = actor.map(|id| id.to_string()).unwrap_or_default();
    let canonical = format!(
        "{prev_hash}\n{clinic_id}\n{seq}\n{}\n{actor}\n{action}\n{detail}",
        at.timestamp_micros()
    );
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// A place where a chain does not hold.
#[derive(Debug, PartialEq, Eq)]
pub struct BrokenEntry {
    pub clinic_id: Uuid,
    pub seq: i64,
    pub reason: &'static str,
}

/// What `verify` found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub clinics: usize,
    pub entries: usize,
    /// The first broken entry of each clinic whose chain is broken.
    pub broken: Vec<BrokenEntry>,
}

/// Checks every clinic's chain. Needs the tables' owner on PostgreSQL (it reads in a
/// [`begin_maintenance`] transaction).
pub async fn verify(db: &DatabaseConnection) -> Result<VerifyReport, DbError> {
    let txn = begin_maintenance(db).await?;
    let entries = audit_log::Entity::find()
        .order_by_asc(audit_log::Column::ClinicId)
        .order_by_asc(audit_log::Column::Seq)
        .all(&txn)
        .await?;
    txn.commit().await?;
    let mut report = VerifyReport::default();
    let mut current: Option<(Uuid, i64, String, bool)> = None;
    for entry in entries {
        report.entries += 1;
        let starts_clinic = current
            .as_ref()
            .is_none_or(|(clinic, ..)| *clinic != entry.clinic_id);
        if starts_clinic {
            report.clinics += 1;
            current = Some((entry.clinic_id, 0, GENESIS_HASH.to_owned(), false));
        }
        let Some((_, expected_seq, expected_prev, broken)) = current.as_mut() else {
            continue;
        };
        if *broken {
            continue;
        }
        if let Some(reason) = check_entry(&entry, *expected_seq + 1, expected_prev) {
            report.broken.push(BrokenEntry {
                clinic_id: entry.clinic_id,
                seq: entry.seq,
                reason,
            });
            *broken = true;
        }
        *expected_seq = entry.seq;
        *expected_prev = entry.hash.clone();
    }
    Ok(report)
}

fn check_entry(
    entry: &audit_log::Model,
    expected_seq: i64,
    expected_prev: &str,
) -> Option<&'static str> {
    if entry.seq != expected_seq {
        return Some("an entry is missing before this one");
    }
    if entry.prev_hash != expected_prev {
        return Some("does not follow the previous entry's hash");
    }
    let recomputed = entry_hash(
        entry.clinic_id,
        entry.seq,
        entry.at,
        entry.actor_user_id,
        &entry.action,
        &entry.detail,
        &entry.prev_hash,
    );
    (recomputed != entry.hash).then_some("its content was changed after it was written")
}

/// The clinic's entries, newest first: at most `limit + 1` with `seq` below `before`.
pub async fn list(
    txn: &TenantTxn,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<audit_log::Model>, DbError> {
    let mut query = txn.find::<audit_log::Entity>();
    if let Some(before) = before {
        query = query.filter(audit_log::Column::Seq.lt(before));
    }
    Ok(query
        .order_by_desc(audit_log::Column::Seq)
        .limit(limit + 1)
        .all(txn.conn())
        .await?)
}
