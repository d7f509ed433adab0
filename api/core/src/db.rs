//! Database connections and migrations, for embedded SQLite and for PostgreSQL.

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use ringback_migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, QueryTrait, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
    TryInsertResult,
};

/// Errors reaching or preparing the database. Messages never include the URL (it may hold a
/// password).
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot connect to the {kind} database: {source}")]
    Connect {
        kind: &'static str,
        #[source]
        source: DbErr,
    },
    #[error("migrations failed: {0}")]
    Migrate(#[source] DbErr),
    #[error("database query failed: {0}")]
    Query(#[from] DbErr),
    /// The notes of a read could not be stored, so the read is not answered.
    #[error("the reads' audit notes could not be written: {0}")]
    NotesNotWritten(String),
    /// The server's login role would not be held by row-level security or the append-only audit
    /// log.
    #[error(
        "RINGBACK_DATABASE_URL logs in as a role that {0}: row-level security and the append-only \
         audit log would not hold. Run `ringback migrate` with RINGBACK_MIGRATION_DATABASE_URL as \
         the tables' owner, and serve with RINGBACK_DATABASE_URL as a login role that is a member \
         of ringback_app and owns nothing (README: PostgreSQL roles)"
    )]
    UnsafeRole(&'static str),
    /// The owner's login (migrations, audit verification, key rotations) does not own the tables:
    /// row-level security would hide every clinic's rows from it, and a verification would find
    /// nothing to check.
    #[error(
        "RINGBACK_MIGRATION_DATABASE_URL logs in as a role that does not own the tables: it would \
         see no clinic's rows. Set it to the tables' owner (README: PostgreSQL roles)"
    )]
    NotTheOwner,
}

/// Which database engine a URL selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseKind {
    /// Reads the engine from a database URL's scheme.
    pub fn from_url(url: &str) -> Result<Self, String> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err("expected a sqlite: or postgres:// URL".to_owned())
        }
    }

    /// The engine's name as shown to users.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// Connections to a SQLite file: readers run side by side in write-ahead-log mode; writers take
/// turns (see [`begin_writer`]).
const SQLITE_CONNECTIONS: u32 = 4;

/// Connections a PostgreSQL pool keeps open even when idle. Opening one costs a server process
/// and an authentication exchange (about 0.1 s on a busy machine); without warm spares, a request
/// that arrives while background work (a purge, the outbox worker) holds a connection and whose
/// resolvers run side by side would wait for one to open (see `benches/purge.rs`).
const POSTGRES_WARM_CONNECTIONS: u32 = 5;

/// A pooled connection idle at least this long is pinged before it is handed out (one round trip);
/// one in use moments ago is not: pinging on every checkout cost each request two round trips (a
/// signed-in request then checked its session on a connection of its own before its transaction).
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(10);

/// Most connections a server opens to PostgreSQL unless `RINGBACK_DATABASE_CONNECTIONS` says
/// otherwise.
pub const DEFAULT_POSTGRES_CONNECTIONS: u32 = 10;

/// The largest pool `RINGBACK_DATABASE_CONNECTIONS` may ask for (PostgreSQL's own default limit
/// is 100 connections for every client together).
pub const MAX_POSTGRES_CONNECTIONS: u32 = 500;

/// Opens the pool a server answers requests from: as [`connect_url`], with warm spare
/// connections on PostgreSQL and at most `postgres_connections` there (the SQLite file keeps its
/// own pool).
pub async fn connect_serving(
    url: &str,
    kind: DatabaseKind,
    postgres_connections: u32,
) -> Result<DatabaseConnection, DbError> {
    let pool = match kind {
        DatabaseKind::Postgres => Pool {
            warm: POSTGRES_WARM_CONNECTIONS.min(postgres_connections),
            most: postgres_connections,
        },
        DatabaseKind::Sqlite => Pool::cold(),
    };
    open(url, kind, pool).await
}

/// Opens a pool for `url` (one-off work: migrations, maintenance, tests' own connections).
pub async fn connect_url(url: &str, kind: DatabaseKind) -> Result<DatabaseConnection, DbError> {
    open(url, kind, Pool::cold()).await
}

/// How many PostgreSQL connections a pool keeps open when idle, and opens at most.
struct Pool {
    warm: u32,
    most: u32,
}

impl Pool {
    /// No warm connections and the default limit (one-off work; SQLite sizes its own pool).
    fn cold() -> Self {
        Self {
            warm: 0,
            most: DEFAULT_POSTGRES_CONNECTIONS,
        }
    }
}

/// Opens a pool for `url` sized by `pool` on PostgreSQL. An in-memory SQLite database gets a
/// single connection, because each connection would otherwise see its own empty database. A SQLite
/// file runs in write-ahead-log mode: readers do not wait for the writer, and each commit costs one
/// sync of the log (kept at `FULL`, so a commit survives a power cut: the outbox relies on its
/// claims being durable).
async fn open(url: &str, kind: DatabaseKind, pool: Pool) -> Result<DatabaseConnection, DbError> {
    use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire_if_idle_for(PING_WHEN_IDLE_FOR)
        .min_connections(pool.warm)
        .max_connections(pool.most);
    if kind == DatabaseKind::Sqlite && url.contains(":memory:") {
        options.max_connections(1).min_connections(1);
    } else if kind == DatabaseKind::Sqlite {
        options.max_connections(SQLITE_CONNECTIONS);
        options.map_sqlx_sqlite_opts(|sqlite| {
            sqlite
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
        });
    }
    Database::connect(options)
        .await
        .map_err(|source| DbError::Connect {
            kind: kind.label(),
            source,
        })
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbError> {
    Migrator::up(db, None).await.map_err(DbError::Migrate)
}

/// The name of the newest applied migration, if any. Read-only, so the application role (which
/// may not create tables) can ask.
pub async fn schema_version(db: &DatabaseConnection) -> Result<Option<String>, DbError> {
    let applied = Migrator::get_applied_migrations_read_only(db).await?;
    Ok(applied.last().map(|migration| migration.name().to_owned()))
}

/// How many known migrations have not been applied (read-only, like [`schema_version`]).
pub async fn pending_migrations(db: &DatabaseConnection) -> Result<usize, DbError> {
    Ok(Migrator::get_pending_migrations_read_only(db).await?.len())
}

/// What makes a PostgreSQL login role unfit to serve, checked in order.
const UNSAFE_ROLE_CHECKS: &[(&str, &str)] = &[
    (
        "is a superuser",
        "SELECT rolsuper AS unsafe FROM pg_roles WHERE rolname = current_user",
    ),
    (
        "bypasses row-level security",
        "SELECT rolbypassrls AS unsafe FROM pg_roles WHERE rolname = current_user",
    ),
    (
        "owns the tables (or may act as their owner)",
        "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() \
         AND pg_has_role(current_user, tableowner, 'USAGE')) AS unsafe",
    ),
];

/// Refuses a PostgreSQL login role that owns the tables, is a superuser or bypasses row-level
/// security: serving as one would turn the second wall between tenants off. SQLite has no roles.
pub async fn check_serving_role(db: &DatabaseConnection) -> Result<(), DbError> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for (reason, sql) in UNSAFE_ROLE_CHECKS {
        let row = db
            .query_one_raw(Statement::from_string(DbBackend::Postgres, *sql))
            .await?;
        let unsafe_role = row
            .map(|row| row.try_get::<bool>("", "unsafe"))
            .transpose()?
            .unwrap_or(true);
        if unsafe_role {
            return Err(DbError::UnsafeRole(reason));
        }
    }
    Ok(())
}

/// Refuses a PostgreSQL login role that does not own Ringback's tables (a fresh database, with
/// none yet, passes): the owner's work (migrations, audit verification, key rotations) run as the
/// server's role would see no clinic's rows, and a verification would report an empty log as
/// intact. SQLite has no roles.
pub async fn check_owner_role(db: &DatabaseConnection) -> Result<(), DbError> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    // Ringback's own tables only: an extension's (PostGIS's `spatial_ref_sys`) may have another.
    let sql = "SELECT NOT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() \
               AND tablename IN ('seaql_migrations', 'clinics', 'audit_log') \
               AND NOT pg_has_role(current_user, tableowner, 'USAGE')) AS owner";
    let row = db
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?;
    let owner = row
        .map(|row| row.try_get::<bool>("", "owner"))
        .transpose()?
        .unwrap_or(false);
    if owner {
        Ok(())
    } else {
        Err(DbError::NotTheOwner)
    }
}

/// `query` (which has no limit of its own) as a statement for `backend` that returns at most
/// `limit` rows, the limit written into the SQL rather than bound. PostgreSQL plans a prepared
/// statement whose limit is a parameter afresh on every run: its generic plan has to assume 10%
/// of the rows, which always looks dearer than a plan for the actual limit, so it is never kept.
/// With the limit in the text, each page size is a statement of its own whose plan is reused
/// (a page of calls spent more time being planned than being read). Only for limits the server
/// chooses or bounds: each distinct value is a statement in every connection's cache.
pub fn with_literal_limit(query: impl QueryTrait, backend: DbBackend, limit: u64) -> Statement {
    let mut statement = query.build(backend);
    statement.sql.push_str(&format!(" LIMIT {limit}"));
    statement
}

/// The row an insert made with `ON CONFLICT DO NOTHING … RETURNING` stored, or `None` when a
/// row with the same key was there first (a request overlapping this one): the insert waited for
/// it and did nothing, so no unique violation ended the transaction. SeaORM reports the empty
/// `RETURNING` as `RecordNotFound` on some engines.
pub fn stored_unless_taken<M>(
    inserted: Result<TryInsertResult<M>, DbErr>,
) -> Result<Option<M>, DbErr> {
    match inserted {
        Ok(TryInsertResult::Inserted(row)) => Ok(Some(row)),
        Ok(TryInsertResult::Conflicted | TryInsertResult::Empty)
        | Err(DbErr::RecordNotFound(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// `at` as PostgreSQL stores it, in whole microseconds (the driver drops the rest). SQLite keeps
/// the text it is given, so an instant written there unrounded would sort after the same instant
/// read back from PostgreSQL, or from a list cursor (which carries microseconds): both databases
/// store what this returns.
pub fn stored_instant(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// The rest background work takes after a batch it started at `started`: as long as the batch
/// took, so the requests it shares the database with (on SQLite, its one writer) keep at least
/// half of it. The retention purge and the audit sweep rest so between batches.
pub async fn rest_after_batch(started: std::time::Instant) {
    tokio::time::sleep(started.elapsed()).await;
}

/// Begins a transaction that may write. On SQLite it starts as a writer (`BEGIN IMMEDIATE`): a
/// transaction that read first and wrote later could otherwise find its snapshot overtaken by
/// another writer's commit and fail at once (`SQLITE_BUSY_SNAPSHOT`), where a writer that starts
/// as one simply waits its turn (the busy timeout). PostgreSQL needs nothing special.
pub async fn begin_writer(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbError> {
    let options = TransactionOptions {
        sqlite_transaction_mode: (db.get_database_backend() == DbBackend::Sqlite)
            .then_some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    Ok(db.begin_with_options(options).await?)
}

/// Declares a row type read by position: `Row::select(query)` selects exactly its fields'
/// columns, in the order the fields are written, and the row decodes each value by its index.
/// Decoding by name looks every column up in the row's name map, once per value: on a page of
/// rows that lookup cost more than the decoding itself. The one list of `field: Type => Column`
/// keeps the selection and the decoding in step. Rows of joined tables read side by side:
/// `Other::select_also` adds its columns after the first row's, and a row type made of both
/// decodes `Other::read_at(row, First::COLUMNS)`; `Other::select_into` selects the same columns in
/// a subquery standing in for their table.
#[macro_export]
macro_rules! row_by_position {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $($(#[$field_meta:meta])* $field_vis:vis $field:ident: $ty:ty => $column:expr),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $($(#[$field_meta])* $field_vis $field: $ty),+
        }

        impl $name {
            /// How many columns the row reads.
            $vis const COLUMNS: usize = [$(stringify!($field)),+].len();

            /// `query` selecting only this row's columns, in its fields' order.
            $vis fn select<E: ::sea_orm::EntityTrait>(
                query: ::sea_orm::Select<E>,
            ) -> ::sea_orm::Select<E> {
                Self::select_also(::sea_orm::QuerySelect::select_only(query))
            }

            /// `query` selecting this row's columns after those it already selects (a row read
            /// beside another, from a joined table).
            $vis fn select_also<E: ::sea_orm::EntityTrait>(
                query: ::sea_orm::Select<E>,
            ) -> ::sea_orm::Select<E> {
                $(let query = ::sea_orm::QuerySelect::column(query, $column);)+
                query
            }

            /// `subquery` selecting this row's columns, each under its own name: a derived table
            /// named as the columns' table then reads as that table would (`select_also`).
            $vis fn select_into(
                subquery: &mut ::sea_orm::sea_query::SelectStatement,
            ) -> &mut ::sea_orm::sea_query::SelectStatement {
                $(subquery.column(::sea_orm::ColumnTrait::as_column_ref(&$column));)+
                subquery
            }

            /// The row whose first column is the result's column `first`.
            $vis fn read_at(
                row: &::sea_orm::QueryResult,
                first: usize,
            ) -> Result<Self, ::sea_orm::DbErr> {
                let mut position = first..;
                Ok(Self {
                    $($field: <$ty as $crate::columns::ByPosition>::read(
                        row,
                        position.next().unwrap_or_default(),
                    )?),+
                })
            }
        }

        impl ::sea_orm::FromQueryResult for $name {
            fn from_query_result(
                row: &::sea_orm::QueryResult,
                _prefix: &str,
            ) -> Result<Self, ::sea_orm::DbErr> {
                Self::read_at(row, 0)
            }
        }
    };
}
