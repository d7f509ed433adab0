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

/// Opens a pool as the tables' owner (migrations, audit verification).
pub async fn connect_owner(config: &Config) -> Result<DatabaseConnection, DbError> {
    if config.migration_database_url == config.database_url {
        return connect(config).await;
    }
    connect_url(&config.migration_database_url, config.database_kind).await
}
