//! `TenantScope`: the only way to one clinic's data, opened through named doors (a checked
//! session or API key, a signed webhook, a claimed job, the audited operator door; never request
//! input), and every transaction it opens names its clinic to
//! PostgreSQL (`set_config('app.clinic_id', …, true)`, a `SET LOCAL`), so row-level security
//! confines it even if a query forgot its `clinic_id` filter. Services take a [`TenantTxn`] and
//! query through its finders ([`TenantTxn::find`], [`TenantTxn::first_of_each`],
//! [`TenantTxn::update_many`], [`TenantTxn::delete_many`]), which add the clinic filter that
//! isolates tenants on SQLite.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};
use ringback_entity as entity;
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, IntoCondition, Order, Query, WindowStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DeleteMany,
    EntityTrait, FromQueryResult, QueryFilter, QueryTrait, Select, Statement, TransactionTrait,
    UpdateMany,
};
use uuid::Uuid;

use crate::audit::{self, AuditEvent, WaitingAudit};
use crate::clock::Clock;
use crate::db::{DbError, begin_writer};
use crate::outbox::ClaimedJob;
use crate::read_notes::{self, NotedReads, ReadNote};

/// Access to one clinic's data.
#[derive(Clone)]
pub struct TenantScope {
    db: DatabaseConnection,
    clock: Clock,
    clinic_id: Uuid,
    /// The integrator's API key acting through this scope, if any: named in every audit entry.
    api_key: Option<Uuid>,
}

impl TenantScope {
    /// The unchecked door: trusts `clinic_id` as it is. Only the named doors call it — the core's
    /// [`for_job`](Self::for_job), [`for_running_job`](Self::for_running_job),
    /// [`for_waiting_audit`](Self::for_waiting_audit) and
    /// [`for_operator`](Self::for_operator), and the domain's
    /// `doors` module (sessions, API keys, memberships, one-time tokens, sign-up, signed
    /// webhooks), which a test there holds to that list. Anything else wants a door, not this.
    pub fn open_unverified(db: DatabaseConnection, clock: Clock, clinic_id: Uuid) -> Self {
        Self {
            db,
            clock,
            clinic_id,
            api_key: None,
        }
    }

    /// This scope, acting for API key `key_id`: the audit entries it writes name the key.
    pub fn acting_for_api_key(mut self, key_id: Uuid) -> Self {
        self.api_key = Some(key_id);
        self
    }

    /// The door for a job the queue handed to a worker: the clinic of the claimed row.
    pub fn for_job(db: DatabaseConnection, clock: Clock, job: &ClaimedJob) -> Self {
        Self::open_unverified(db, clock, job.clinic_id)
    }

    /// The door for a job's own work while it runs (the row the queue handed to a worker and
    /// whose claim the worker checked): the clinic of that row.
    pub fn for_running_job(
        db: DatabaseConnection,
        clock: Clock,
        row: &entity::job_outbox::Model,
    ) -> Self {
        Self::open_unverified(db, clock, row.clinic_id)
    }

    /// The door for sealing a clinic's waiting audit entries: a clinic that has some.
    pub fn for_waiting_audit(db: DatabaseConnection, clock: Clock, waiting: &WaitingAudit) -> Self {
        Self::open_unverified(db, clock, waiting.clinic_id)
    }

    /// The audited door for deployment-wide maintenance run by the operator (the command line,
    /// scheduled tasks): each opening leaves `operator.access` with `task` in the clinic's audit
    /// log before anything else happens.
    pub async fn for_operator(
        db: DatabaseConnection,
        clock: Clock,
        clinic_id: Uuid,
        task: &str,
    ) -> Result<Self, DbError> {
        let scope = Self::open_unverified(db, clock, clinic_id);
        let txn = scope.begin().await?;
        let event = AuditEvent {
            actor: None,
            action: "operator.access",
            detail: serde_json::json!({ "task": task }),
        };
        audit::append(&txn, event).await?;
        txn.commit().await?;
        Ok(scope)
    }

    /// A door for tests, which make up clinics of their own.
    #[cfg(feature = "test-support")]
    pub fn for_test(db: DatabaseConnection, clock: Clock, clinic_id: Uuid) -> Self {
        Self::open_unverified(db, clock, clinic_id)
    }

    /// The clinic this scope reaches.
    pub fn clinic_id(&self) -> Uuid {
        self.clinic_id
    }

    /// Member `user_id`'s stored role and session version in this clinic, and whether sign-in
    /// `sign_in` (the refresh-token family a session token names) has ended, read in one statement
    /// without a transaction (the check a signed-in request makes when it opens no tenant
    /// transaction): on PostgreSQL through `ringback_session_member`, which names the clinic to
    /// row-level security itself.
    pub async fn session_member(
        &self,
        user_id: Uuid,
        sign_in: Option<Uuid>,
    ) -> Result<Option<StoredMember>, DbError> {
        let sql = match self.db.get_database_backend() {
            DbBackend::Postgres => {
                "SELECT member_role, session_version, sign_in_ended \
                 FROM ringback_session_member($1, $2, $3)"
            }
            _ => SQLITE_SESSION_MEMBER,
        };
        read_member(&self.db, sql, (self.clinic_id, user_id, sign_in)).await
    }

    /// Opens a transaction confined to this clinic whose first statement is the member check of
    /// [`session_member`](Self::session_member): on PostgreSQL through `ringback_enter_as_member`,
    /// which also names the clinic to row-level security, so the check costs no round trip of its
    /// own. With no such member the transaction is returned all the same; the caller drops it (a
    /// rollback).
    pub async fn begin_as_member(
        &self,
        user_id: Uuid,
        sign_in: Option<Uuid>,
    ) -> Result<(TenantTxn, Option<StoredMember>), DbError> {
        let txn = begin_writer(&self.db).await?;
        let sql = match txn.get_database_backend() {
            DbBackend::Postgres => {
                "SELECT member_role, session_version, sign_in_ended \
                 FROM ringback_enter_as_member($1, $2, $3)"
            }
            _ => SQLITE_SESSION_MEMBER,
        };
        let member = read_member(&txn, sql, (self.clinic_id, user_id, sign_in)).await?;
        Ok((self.opened(txn), member))
    }

    /// Opens a transaction confined to this clinic; on SQLite it starts as a writer
    /// ([`begin_writer`]), since most tenant transactions write (an audit entry, if nothing else).
    pub async fn begin(&self) -> Result<TenantTxn, DbError> {
        let txn = begin_writer(&self.db).await?;
        set_local(&txn, "app.clinic_id", &self.clinic_id.to_string()).await?;
        Ok(self.opened(txn))
    }

    /// `txn`, already confined to this clinic, as a [`TenantTxn`].
    fn opened(&self, txn: DatabaseTransaction) -> TenantTxn {
        TenantTxn {
            txn,
            clock: self.clock.clone(),
            clinic_id: self.clinic_id,
            api_key: self.api_key,
            queued_jobs: AtomicBool::new(false),
            noted_reads: Mutex::new(Vec::new()),
        }
    }
}

/// What the member check of a signed-in request reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMember {
    /// The member's role as stored (re-read on every request, so changes apply at once).
    pub role: String,
    /// The user's session version: it moves on when every session of the user ends.
    pub session_version: i32,
    /// The request's sign-in was signed out, or its refresh token was found reused.
    pub sign_in_ended: bool,
}

/// The member check on SQLite, which confines nothing by itself: the clinic is in the statement.
const SQLITE_SESSION_MEMBER: &str = "SELECT m.role AS member_role, u.session_version, \
     EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.clinic_id = m.clinic_id \
     AND r.family_id = ?3 AND r.revoked_at IS NOT NULL) AS sign_in_ended \
     FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.clinic_id = ?1 AND m.user_id = ?2";

/// Runs `sql` (a member check taking the clinic, the user and the sign-in) on `conn`.
async fn read_member(
    conn: &impl ConnectionTrait,
    sql: &str,
    (clinic_id, user_id, sign_in): (Uuid, Uuid, Option<Uuid>),
) -> Result<Option<StoredMember>, DbError> {
    let statement = Statement::from_sql_and_values(
        conn.get_database_backend(),
        sql,
        [clinic_id.into(), user_id.into(), sign_in.into()],
    );
    conn.query_one_raw(statement)
        .await?
        .map(|row| -> Result<StoredMember, DbError> {
            Ok(StoredMember {
                role: row.try_get("", "member_role")?,
                session_version: row.try_get("", "session_version")?,
                sign_in_ended: row.try_get("", "sign_in_ended")?,
            })
        })
        .transpose()
}

/// A transaction inside one clinic. Dropping it without [`TenantTxn::commit`] rolls back.
pub struct TenantTxn {
    txn: DatabaseTransaction,
    clock: Clock,
    clinic_id: Uuid,
    api_key: Option<Uuid>,
    /// Whether a job was written to the outbox ([`crate::outbox::enqueue`]).
    queued_jobs: AtomicBool,
    /// Reads noted in this transaction and not yet written ([`crate::audit::note_read`]).
    noted_reads: Mutex<Vec<ReadNote>>,
}

impl TenantTxn {
    /// Whether this transaction wrote a job to the outbox: once it commits, the workers have
    /// something to wake up for.
    pub fn queued_jobs(&self) -> bool {
        self.queued_jobs.load(Ordering::Relaxed)
    }

    /// Notes that a job was written in this transaction.
    pub(crate) fn note_queued_job(&self) {
        self.queued_jobs.store(true, Ordering::Relaxed);
    }

    /// The clinic every statement in this transaction must be about.
    pub fn clinic_id(&self) -> Uuid {
        self.clinic_id
    }

    /// The API key acting through this transaction, if any.
    pub fn api_key(&self) -> Option<Uuid> {
        self.api_key
    }

    /// This transaction, acting for API key `key_id` from here on: the audit entries it writes
    /// name the key (for the transaction that checked the key, opened before it was known).
    pub fn acting_for_api_key(mut self, key_id: Uuid) -> Self {
        self.api_key = Some(key_id);
        self
    }

    /// The current instant, from the server's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The rows of table `E` in this transaction's clinic: the clinic filter, applied once here
    /// instead of by hand in every query.
    pub fn find<E: ClinicOwned>(&self) -> Select<E> {
        E::find().filter(E::clinic_column().eq(self.clinic_id))
    }

    /// Up to `most` rows of table `E` in this transaction's clinic for each value of `group`
    /// among the rows `filter` selects, the first by `order` within each group: one statement for
    /// a whole list's worth of groups, however many rows a group holds. The rows come grouped,
    /// each group in `order`.
    pub async fn first_of_each<E: ClinicOwned>(
        &self,
        filter: impl IntoCondition,
        group: E::Column,
        order: &[(E::Column, Order)],
        most: u64,
    ) -> Result<Vec<E::Model>, DbError> {
        const RANK: &str = "rank_in_group";
        let mut window = WindowStatement::partition_by(group);
        for (column, direction) in order {
            window.order_by(*column, direction.clone());
        }
        let mut ranked = self.find::<E>().filter(filter).into_query();
        ranked.expr_window_as(Expr::cust("ROW_NUMBER()"), window, RANK);
        let first = Query::select()
            .column(Asterisk)
            .from_subquery(ranked, "ranked")
            .and_where(Expr::col(RANK).lte(most))
            .order_by(group, Order::Asc)
            .order_by(RANK, Order::Asc)
            .to_owned();
        let statement = self.txn.get_database_backend().build(&first);
        Ok(E::Model::find_by_statement(statement)
            .all(&self.txn)
            .await?)
    }

    /// An update of rows of table `E` in this transaction's clinic.
    pub fn update_many<E: ClinicOwned>(&self) -> UpdateMany<E> {
        E::update_many().filter(E::clinic_column().eq(self.clinic_id))
    }

    /// A deletion of rows of table `E` in this transaction's clinic.
    pub fn delete_many<E: ClinicOwned>(&self) -> DeleteMany<E> {
        E::delete_many().filter(E::clinic_column().eq(self.clinic_id))
    }

    /// The connection to run statements on.
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Serialises this transaction with others that lock the same clinic, until it ends
    /// (PostgreSQL row lock on the clinic; SQLite serialises all writes anyway). `NO KEY UPDATE`,
    /// so that the key-share locks foreign-key checks take on the clinic never conflict with it.
    pub async fn lock_clinic(&self) -> Result<(), DbError> {
        if self.txn.get_database_backend() == DbBackend::Postgres {
            self.txn
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT id FROM clinics WHERE id = $1 FOR NO KEY UPDATE",
                    [self.clinic_id.into()],
                ))
                .await?;
        }
        Ok(())
    }

    /// Serialises this transaction with others that lock the same caller of the clinic, until it
    /// ends (a PostgreSQL advisory lock on the clinic and caller key, in the two-key space no
    /// other lock here uses; SQLite serialises all writes anyway). Narrower than
    /// [`lock_clinic`](Self::lock_clinic), for work that must not wait for the clinic's other
    /// writers (a text job recording its message holds rows a delivery report, which takes the
    /// clinic's lock first, may want).
    pub async fn lock_caller(&self, caller_key: &str) -> Result<(), DbError> {
        self.lock_subject(caller_key).await
    }

    /// Serialises this transaction with others that lock the same `subject` of the clinic (such
    /// as `price-list`), until it ends: the advisory lock of [`lock_caller`](Self::lock_caller),
    /// for a check-then-write a unique index cannot make (names unique in any letter case). A
    /// subject never looks like a caller key (`v1:…`, `anon:…`), whose locks share the space.
    pub async fn lock_subject(&self, subject: &str) -> Result<(), DbError> {
        if self.txn.get_database_backend() == DbBackend::Postgres {
            self.txn
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))",
                    [self.clinic_id.to_string().into(), subject.into()],
                ))
                .await?;
        }
        Ok(())
    }

    /// Keeps a read's note until the transaction ends (or an audit entry is appended in it).
    pub(crate) fn note_read(&self, note: ReadNote) {
        self.noted_reads_now().push(note);
    }

    /// The reads noted and not yet written, leaving none.
    fn take_noted_reads(&self) -> Vec<ReadNote> {
        std::mem::take(&mut *self.noted_reads_now())
    }

    /// The reads noted so far; a poisoned lock (a panic while pushing) still holds whole notes.
    fn noted_reads_now(&self) -> std::sync::MutexGuard<'_, Vec<ReadNote>> {
        self.noted_reads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes the reads noted so far inside this transaction (before it commits, and before it
    /// seals waiting reads into the chain, so they are among them).
    pub(crate) async fn write_noted_reads(&self) -> Result<(), DbError> {
        let notes = self.take_noted_reads();
        if notes.is_empty() {
            return Ok(());
        }
        read_notes::insert_rows(&self.txn, self.clinic_id, notes).await
    }

    /// A savepoint in this transaction, in the same clinic: for work that may fail without ending
    /// the whole transaction (on PostgreSQL a failed statement aborts the transaction it is in).
    /// [`keep_in`](Self::keep_in) keeps its work; [`undo`](Self::undo) undoes it alone.
    pub async fn savepoint(&self) -> Result<TenantTxn, DbError> {
        Ok(TenantTxn {
            txn: self.txn.begin().await?,
            clock: self.clock.clone(),
            clinic_id: self.clinic_id,
            api_key: self.api_key,
            queued_jobs: AtomicBool::new(false),
            noted_reads: Mutex::new(Vec::new()),
        })
    }

    /// Keeps this savepoint's work in `parent`, the transaction it was made in: its jobs and the
    /// reads it noted count there.
    pub async fn keep_in(self, parent: &TenantTxn) -> Result<(), DbError> {
        if self.queued_jobs() {
            parent.note_queued_job();
        }
        parent.noted_reads_now().extend(self.take_noted_reads());
        Ok(self.txn.commit().await?)
    }

    /// Undoes this savepoint's work; the transaction it was made in goes on.
    pub async fn undo(self) -> Result<(), DbError> {
        Ok(self.txn.rollback().await?)
    }

    /// Makes the transaction's writes permanent, the notes of its reads with them.
    pub async fn commit(self) -> Result<(), DbError> {
        self.write_noted_reads().await?;
        Ok(self.txn.commit().await?)
    }

    /// Ends a transaction that only read, without a round trip of its own: it is dropped, which
    /// queues a rollback that reaches the database together with the check the pool makes when
    /// the connection returns, after the answer has gone. A commit would make the request wait
    /// for one more exchange with the database and keep nothing more. Anything the transaction
    /// wrote is undone, so only work that knows it wrote nothing ends this way. The reads it noted
    /// are returned: the answer may go out once the server's
    /// [`NoteWriter`](crate::read_notes::NoteWriter) has written them.
    pub fn end_reading(self) -> NotedReads {
        NotedReads {
            clinic_id: self.clinic_id,
            notes: self.take_noted_reads(),
        }
    }
}

/// A table whose rows belong to one clinic, by a `clinic_id` column.
pub trait ClinicOwned: EntityTrait {
    /// The column naming the row's clinic.
    fn clinic_column() -> Self::Column;
}

/// Marks each tenant table's entity as [`ClinicOwned`] by its `ClinicId` column.
macro_rules! clinic_owned {
    ($($table:ident),* $(,)?) => {
        $(
            impl ClinicOwned for entity::$table::Entity {
                fn clinic_column() -> Self::Column {
                    entity::$table::Column::ClinicId
                }
            }
        )*
    };
}

clinic_owned!(
    ai_step,
    api_key,
    appointment,
    attribution,
    audit_log,
    audit_pending,
    billing_usage,
    call,
    caller_restriction,
    clinic_service,
    conversation,
    daily_metric,
    invite,
    job_outbox,
    membership,
    message,
    notification,
    opt_out,
    processed_webhook,
    provider_number,
    refresh_token,
    webhook_refusal,
    worklist_dismissal,
);

/// The row with `id` in the transaction's clinic, for tables keyed by `(clinic_id, id)`.
pub async fn in_clinic<E>(
    txn: &TenantTxn,
    id: uuid::Uuid,
) -> Result<Option<E::Model>, crate::error::DomainError>
where
    E: sea_orm::EntityTrait,
    (uuid::Uuid, uuid::Uuid): Into<<E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType>,
{
    Ok(E::find_by_id((txn.clinic_id(), id)).one(txn.conn()).await?)
}

/// Sets a transaction-local PostgreSQL setting; a no-op on SQLite, which has none.
pub async fn set_local(txn: &DatabaseTransaction, name: &str, value: &str) -> Result<(), DbError> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT set_config($1, $2, true)",
        [name.into(), value.into()],
    ))
    .await?;
    Ok(())
}

/// A transaction of the tables' owner for work across clinics (audit verification, operator
/// reports): on PostgreSQL it declares `app.maintenance`, which only the owner's own policy
/// honours; row-level security is forced, so the owner sees no rows without it. A connection of
/// the application role still sees only what the tenant policies allow.
pub async fn begin_maintenance(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbError> {
    let txn = db.begin().await?;
    set_local(&txn, "app.maintenance", "on").await?;
    Ok(txn)
}
