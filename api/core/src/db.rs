//! Database connections and migrations, for embedded SQLite and for PostgreSQL.

use std::time::Duration;

use ringback_migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

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

/// Opens a pool for `url`. An in-memory SQLite database gets a single connection, because each
/// connection would otherwise see its own empty database. A SQLite file runs in write-ahead-log
/// mode: readers do not wait for the writer, and each commit costs one sync of the log (kept at
/// `FULL`, so a commit survives a power cut: the outbox relies on its claims being durable).
pub async fn connect_url(url: &str, kind: DatabaseKind) -> Result<DatabaseConnection, DbError> {
    use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10));
    if kind == DatabaseKind::Sqlite && url.contains(":memory:") {
        options.max_connections(1).min_connections(1);
    } else if kind == DatabaseKind::Sqlite {
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
