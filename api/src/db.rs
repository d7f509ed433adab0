//! The configured database: the pool the server and the command line open from [`Config`]. The
//! connection, migration and error machinery itself is the core's ([`ringback_core::db`]).

use sea_orm::DatabaseConnection;

use crate::config::Config;
pub use ringback_core::db::*;

/// Opens a pool for the configured database. SQL statement logging stays off: statements can carry
/// personal data in their parameters.
pub async fn connect(config: &Config) -> Result<DatabaseConnection, DbError> {
    if config.embedded_database {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| DbError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
    }
    connect_serving(
        &config.database_url,
        config.database_kind,
        config.database_connections,
    )
    .await
}

/// Opens a pool as the tables' owner (migrations, audit verification, key rotations), refused
/// unless it owns them: `RINGBACK_MIGRATION_DATABASE_URL`, or without it the serving database
/// (right for SQLite, which has no roles; the command line asks PostgreSQL for the setting).
pub async fn connect_owner(config: &Config) -> Result<DatabaseConnection, DbError> {
    let db = match &config.migration_database_url {
        Some(url) => connect_url(url, config.database_kind).await?,
        None => connect(config).await?,
    };
    check_owner_role(&db).await?;
    Ok(db)
}
