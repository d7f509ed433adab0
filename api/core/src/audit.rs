//! The audit log: append-only and hash-chained per clinic. Each entry's hash covers the previous
//! entry's hash and the entry's own fields, so editing, removing or reordering history breaks the
//! chain at that point, and `ringback audit verify` names the first broken entry.
//!
//! Writes append under the clinic's audit lock ([`append`]); reads of personal data only note
//! themselves ([`note_read`]) so that a clinic's reads never queue behind each other, and their
//! entries are sealed into the chain, in the order they happened, by the next append, the
//! audit-log view, verification, or the server's sweep ([`sweep`]). An entry's `at` is when it
//! happened; its `seq` is when it was sealed.

use chrono::{DateTime, SubsecRound, Utc};
use ringback_entity::{audit_log, audit_pending};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, ExprTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::clock::Clock;
use crate::db::{DbError, rest_after_batch, with_literal_limit};
use crate::read_notes::ReadNote;
use crate::tenant::{TenantScope, TenantTxn, begin_maintenance};

/// The `prev_hash` of a clinic's first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an entry records. `detail` must hold no personal data beyond ids and masked tails.
pub struct AuditEvent<'a> {
    pub actor: Option<Uuid>,
    pub action: &'a str,
    pub detail: Value,
}

/// The most waiting reads sealed in one batch: the sweep commits after each, so none of its
/// transactions grows with the backlog. A power of two: a full batch is one insert (see
/// [`in_power_of_two_runs`]).
pub const SEAL_BATCH: u64 = 512;

/// Appends `event` to the clinic's chain inside `txn`, after sealing the reads waiting for it
/// (so the chain keeps the order things happened in). Takes the clinic's audit lock: writes of
/// one clinic append one at a time. Reads use [`note_read`] instead.
pub async fn append(txn: &TenantTxn, event: AuditEvent<'_>) -> Result<(), DbError> {
    let mut tail = ChainTail::locked(txn).await?;
    tail.seal_all_waiting(txn).await?;
    let detail = naming_the_key(event.detail, txn.api_key());
    tail.push(txn, txn.now(), event.actor, event.action, detail)
        .await
}

/// Notes a read of personal data without the clinic's audit lock, so that reads of one clinic
/// never wait for each other: the note is written with the transaction's commit, or, when the
/// transaction only read, by the server's note writer before the answer goes out
/// ([`crate::read_notes`]); it waits in `audit_pending` until the next append, the audit-log
/// view, verification or the server's sweep seals it into the chain ([`seal_waiting`]).
pub async fn note_read(txn: &TenantTxn, event: AuditEvent<'_>) -> Result<(), DbError> {
    txn.note_read(ReadNote {
        id: Uuid::now_v7(),
        at: txn.now().trunc_subsecs(6),
        actor: event.actor,
        action: event.action.to_owned(),
        detail: naming_the_key(event.detail, txn.api_key()),
    });
    Ok(())
}

/// Seals every read the clinic has waiting into its chain, oldest first, and removes them from
/// waiting in the same transaction; returns how many. Takes the audit lock.
pub async fn seal_waiting(txn: &TenantTxn) -> Result<usize, DbError> {
    ChainTail::locked(txn).await?.seal_all_waiting(txn).await
}

/// A clinic with reads waiting to be sealed, as the database named it: the evidence behind
/// [`TenantScope::for_waiting_audit`].
pub struct WaitingAudit {
    pub(crate) clinic_id: Uuid,
}

/// Up to `max_clinics` clinics with waiting reads, the one whose oldest read has waited longest
/// first (so that, with more clinics waiting than a pass visits, none is passed over for long).
/// On PostgreSQL a security-definer function names them (ids only), since no clinic's scope
/// could see the others' rows.
pub async fn clinics_waiting(
    db: &DatabaseConnection,
    max_clinics: u32,
) -> Result<Vec<WaitingAudit>, DbError> {
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "SELECT clinic_id FROM ringback_clinics_awaiting_audit($1)",
        _ => {
            "SELECT clinic_id FROM audit_pending GROUP BY clinic_id ORDER BY MIN(at), clinic_id \
             LIMIT ?"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [(max_clinics as i32).into()],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            Ok(WaitingAudit {
                clinic_id: row.try_get("", "clinic_id")?,
            })
        })
        .collect()
}

/// Batches one pass seals of a clinic before it moves on, so that one clinic's backlog does not
/// hold back the others; the rest waits for the next pass.
pub const BATCHES_PER_CLINIC: usize = 20;

/// What one pass of the sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Entries sealed into their chains.
    pub sealed: usize,
    /// Whether reads may be left waiting (a clinic filled [`BATCHES_PER_CLINIC`] batches, the
    /// pass visited as many clinics as it may, or it was cut short), after a pass that sealed
    /// some: the next pass should start at once.
    pub more_waiting: bool,
    /// Clinics whose reads could not be sealed (each logged with its error); the next pass tries
    /// them again.
    pub failed: usize,
}

/// One pass of the sweep: seals the waiting reads of up to `max_clinics` clinics, each clinic
/// batch by batch ([`seal_clinic`]). A clinic that fails is logged and left for the next pass;
/// it never holds back the others.
pub async fn sweep(
    db: &DatabaseConnection,
    clock: &Clock,
    max_clinics: u32,
) -> Result<Swept, DbError> {
    sweep_while(db, clock, max_clinics, || true).await
}

/// [`sweep`], asking `go_on` before each batch: once it answers false, the pass starts no other
/// batch and ends (a server that is stopping seals what it can in the time it has; every batch
/// is a transaction of its own, so what is left simply waits for the next pass).
pub async fn sweep_while(
    db: &DatabaseConnection,
    clock: &Clock,
    max_clinics: u32,
    go_on: impl Fn() -> bool,
) -> Result<Swept, DbError> {
    let clinics = clinics_waiting(db, max_clinics).await?;
    let mut swept = Swept {
        sealed: 0,
        more_waiting: clinics.len() >= max_clinics as usize,
        failed: 0,
    };
    for waiting in &clinics {
        match seal_clinic(db, clock, waiting, &go_on).await {
            Ok((sealed, more_waiting)) => {
                swept.sealed += sealed;
                swept.more_waiting |= more_waiting;
            }
            Err(error) => {
                swept.failed += 1;
                tracing::error!(
                    clinic_id = %waiting.clinic_id,
                    %error,
                    "sealing a clinic's waiting reads failed; the next pass tries again"
                );
            }
        }
    }
    // A pass that sealed nothing (the clinics named have nothing their scope can seal) is no
    // reason to start the next at once.
    swept.more_waiting &= swept.sealed > 0;
    Ok(swept)
}

/// Seals a clinic's waiting reads, [`SEAL_BATCH`] to a transaction (so the clinic's audit lock
/// is held for one batch at a time and no transaction grows with the backlog), until a batch comes
/// short, [`BATCHES_PER_CLINIC`] are sealed or `go_on` answers false, resting after each full one
/// as background work does ([`rest_after_batch`]); returns how many, and whether reads may be
/// left.
async fn seal_clinic(
    db: &DatabaseConnection,
    clock: &Clock,
    waiting: &WaitingAudit,
    go_on: &impl Fn() -> bool,
) -> Result<(usize, bool), DbError> {
    let scope = TenantScope::for_waiting_audit(db.clone(), clock.clone(), waiting);
    let mut sealed = 0;
    for _ in 0..BATCHES_PER_CLINIC {
        if !go_on() {
            return Ok((sealed, true));
        }
        let started = std::time::Instant::now();
        let txn = scope.begin().await?;
        let batch = ChainTail::locked(&txn).await?.seal_batch(&txn).await?;
        txn.commit().await?;
        sealed += batch;
        if batch < SEAL_BATCH as usize {
            return Ok((sealed, false));
        }
        rest_after_batch(started).await;
    }
    Ok((sealed, true))
}

/// Seals every clinic's waiting reads until nothing is left (before verification, so that every
/// read is in a chain). Unlike the sweep, the first clinic that fails stops it with its error:
/// verification must not report a chain as whole while reads are missing from it.
async fn seal_everything(db: &DatabaseConnection) -> Result<usize, DbError> {
    let clock = Clock::system();
    let mut total = 0;
    loop {
        let mut sealed = 0;
        for waiting in &clinics_waiting(db, 100).await? {
            sealed += seal_clinic(db, &clock, waiting, &|| true).await?.0;
        }
        // Stops, too, if the clinics named hold nothing their scopes can seal.
        if sealed == 0 {
            return Ok(total);
        }
        total += sealed;
    }
}

/// The end of a clinic's chain, read under the clinic's audit lock.
struct ChainTail {
    seq: i64,
    hash: String,
}

impl ChainTail {
    /// Locks the clinic's chain (one append at a time per clinic, so it never forks) and reads
    /// its last entry.
    async fn locked(txn: &TenantTxn) -> Result<Self, DbError> {
        txn.lock_clinic().await?;
        let last = txn
            .find::<audit_log::Entity>()
            .order_by_desc(audit_log::Column::Seq)
            .limit(1)
            .one(txn.conn())
            .await?;
        Ok(last.map_or(
            Self {
                seq: 0,
                hash: GENESIS_HASH.to_owned(),
            },
            |entry| Self {
                seq: entry.seq,
                hash: entry.hash,
            },
        ))
    }

    /// Moves every waiting read, oldest first, into the chain, batch after batch, and removes
    /// them from waiting: so that an append after them lands after all of them.
    async fn seal_all_waiting(&mut self, txn: &TenantTxn) -> Result<usize, DbError> {
        // The reads this transaction noted wait too.
        txn.write_noted_reads().await?;
        let mut sealed = 0;
        loop {
            let batch = self.seal_batch(txn).await?;
            sealed += batch;
            if batch < SEAL_BATCH as usize {
                return Ok(sealed);
            }
        }
    }

    /// Moves up to [`SEAL_BATCH`] waiting reads, oldest first, into the chain, and removes them
    /// from waiting: a few statements a batch, each of a shape the connection has seen before.
    async fn seal_batch(&mut self, txn: &TenantTxn) -> Result<usize, DbError> {
        let waiting = txn
            .find::<audit_pending::Entity>()
            .order_by_asc(audit_pending::Column::At)
            .order_by_asc(audit_pending::Column::Id)
            .limit(SEAL_BATCH)
            .all(txn.conn())
            .await?;
        if waiting.is_empty() {
            return Ok(0);
        }
        let sealed = waiting.len();
        let ids: Vec<Uuid> = waiting.iter().map(|entry| entry.id).collect();
        let entries: Vec<audit_log::ActiveModel> = waiting
            .into_iter()
            .map(|entry| {
                self.next_entry(
                    txn.clinic_id(),
                    entry.at,
                    entry.actor_user_id,
                    entry.action,
                    entry.detail,
                )
            })
            .collect();
        for run in in_power_of_two_runs(entries) {
            audit_log::Entity::insert_many(run)
                .exec_without_returning(txn.conn())
                .await?;
        }
        for run in in_power_of_two_runs(ids) {
            txn.delete_many::<audit_pending::Entity>()
                .filter(audit_pending::Column::Id.is_in(run))
                .exec(txn.conn())
                .await?;
        }
        Ok(sealed)
    }

    /// Appends one entry after the tail.
    async fn push(
        &mut self,
        txn: &TenantTxn,
        at: DateTime<Utc>,
        actor: Option<Uuid>,
        action: &str,
        detail: Value,
    ) -> Result<(), DbError> {
        let entry = self.next_entry(txn.clinic_id(), at, actor, action.to_owned(), detail);
        audit_log::Entity::insert(entry)
            .exec_without_returning(txn.conn())
            .await?;
        Ok(())
    }

    /// The entry after the tail, chained to it; it becomes the tail.
    fn next_entry(
        &mut self,
        clinic_id: Uuid,
        at: DateTime<Utc>,
        actor: Option<Uuid>,
        action: String,
        detail: Value,
    ) -> audit_log::ActiveModel {
        let seq = self.seq + 1;
        // Stored timestamps keep microseconds on every engine; hash what will be read back.
        let at = at.trunc_subsecs(6);
        let hash = entry_hash(clinic_id, seq, at, actor, &action, &detail, &self.hash);
        self.seq = seq;
        audit_log::ActiveModel {
            clinic_id: Set(clinic_id),
            seq: Set(seq),
            at: Set(at),
            actor_user_id: Set(actor),
            action: Set(action),
            detail: Set(detail),
            prev_hash: Set(std::mem::replace(&mut self.hash, hash.clone())),
            hash: Set(hash),
        }
    }
}

/// `items` cut into runs whose lengths are powers of two, longest first (300 = 256 + 32 + 8 + 4).
/// A statement written per run has one of at most ten shapes for a batch, so each connection's
/// statement cache, and each PostgreSQL backend's prepared statements, keep those few rather than
/// one more for every batch size (a clinic's last batch of a pass can have any size).
pub(crate) fn in_power_of_two_runs<T>(items: Vec<T>) -> Vec<Vec<T>> {
    let mut items = items.into_iter();
    let mut runs = Vec::new();
    while !items.as_slice().is_empty() {
        let run = 1 << items.len().ilog2();
        runs.push(items.by_ref().take(run).collect());
    }
    runs
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

/// Entries `verify` reads at a time: the log is kept for ever, so it is never read whole.
const VERIFY_PAGE: u64 = 5_000;

/// Checks every clinic's chain, after sealing every waiting read into it, a page of
/// [`VERIFY_PAGE`] entries at a time in `(clinic, seq)` order. Needs the tables' owner on
/// PostgreSQL (it reads in [`begin_maintenance`] transactions).
pub async fn verify(db: &DatabaseConnection) -> Result<VerifyReport, DbError> {
    verify_in_pages(db, VERIFY_PAGE).await
}

/// [`verify`], reading `page` entries at a time (tests read small pages, so that chains cross
/// them).
pub async fn verify_in_pages(db: &DatabaseConnection, page: u64) -> Result<VerifyReport, DbError> {
    seal_everything(db).await?;
    let mut report = VerifyReport::default();
    let mut current: Option<(Uuid, i64, String, bool)> = None;
    let mut after: Option<(Uuid, i64)> = None;
    let page = Ord::max(page, 1);
    loop {
        let entries = verify_page(db, after, page).await?;
        let full = entries.len() as u64 == page;
        after = entries.last().map(|last| (last.clinic_id, last.seq));
        check_page(entries, &mut current, &mut report);
        if !full {
            return Ok(report);
        }
    }
}

/// The `page` entries after `after` (a clinic and a sequence number), in `(clinic, seq)` order.
async fn verify_page(
    db: &DatabaseConnection,
    after: Option<(Uuid, i64)>,
    page: u64,
) -> Result<Vec<audit_log::Model>, DbError> {
    let txn = begin_maintenance(db).await?;
    let mut query = audit_log::Entity::find()
        .order_by_asc(audit_log::Column::ClinicId)
        .order_by_asc(audit_log::Column::Seq)
        .limit(page);
    if let Some((clinic, seq)) = after {
        query = query.filter(
            Condition::any()
                .add(audit_log::Column::ClinicId.gt(clinic))
                .add(
                    audit_log::Column::ClinicId
                        .eq(clinic)
                        .and(audit_log::Column::Seq.gt(seq)),
                ),
        );
    }
    let entries = query.all(&txn).await?;
    txn.commit().await?;
    Ok(entries)
}

/// Checks a page of entries, carrying the clinic under way in `current` (its id, the last
/// sequence number and hash, whether its chain broke) from one page to the next.
fn check_page(
    entries: Vec<audit_log::Model>,
    current: &mut Option<(Uuid, i64, String, bool)>,
    report: &mut VerifyReport,
) {
    for entry in entries {
        report.entries += 1;
        let starts_clinic = current
            .as_ref()
            .is_none_or(|(clinic, ..)| *clinic != entry.clinic_id);
        if starts_clinic {
            report.clinics += 1;
            *current = Some((entry.clinic_id, 0, GENESIS_HASH.to_owned(), false));
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

/// The clinic's entries, newest first: at most `limit + 1` with `seq` below `before`. The first
/// page seals the reads waiting to be chained first, so the view shows every read made so far.
pub async fn list(
    txn: &TenantTxn,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<audit_log::Model>, DbError> {
    if before.is_none() {
        seal_waiting(txn).await?;
    }
    let mut query = txn.find::<audit_log::Entity>();
    if let Some(before) = before {
        query = query.filter(audit_log::Column::Seq.lt(before));
    }
    let page = query.order_by_desc(audit_log::Column::Seq);
    let statement = with_literal_limit(page, txn.conn().get_database_backend(), limit + 1);
    Ok(audit_log::Model::find_by_statement(statement)
        .all(txn.conn())
        .await?)
}

#[cfg(test)]
mod tests {
    use super::{SEAL_BATCH, in_power_of_two_runs};

    #[test]
    fn a_batch_of_any_size_is_written_in_a_few_shapes_in_order() {
        let mut shapes = std::collections::BTreeSet::new();
        for size in 0..=SEAL_BATCH as usize {
            let items: Vec<usize> = (0..size).collect();
            let runs = in_power_of_two_runs(items.clone());
            assert!(runs.iter().all(|run| run.len().is_power_of_two()));
            assert!(runs.windows(2).all(|pair| pair[0].len() > pair[1].len()));
            assert_eq!(runs.concat(), items, "every item once, in order");
            shapes.extend(runs.iter().map(Vec::len));
        }
        assert_eq!(shapes.len(), 10, "1 to 512 rows: {shapes:?}");
        assert_eq!(in_power_of_two_runs(vec![0; 300]).len(), 4);
    }
}
