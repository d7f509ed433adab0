//! `serverInfo`: what this server is and whether its database is ready. Public, so the dashboard
//! can show it before anyone signs in; it reveals nothing about any clinic.

use async_graphql::{Context, Enum, Object, SimpleObject};

use crate::error::graphql_error;
use ringback_core::db;
use ringback_core::db::DatabaseKind;
use ringback_domain::Backend;

/// The database engine behind this server.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum DatabaseEngine {
    Sqlite,
    Postgresql,
}

impl From<DatabaseKind> for DatabaseEngine {
    fn from(kind: DatabaseKind) -> Self {
        match kind {
            DatabaseKind::Sqlite => Self::Sqlite,
            DatabaseKind::Postgres => Self::Postgresql,
        }
    }
}

/// Facts about the running server.
#[derive(SimpleObject, Debug)]
pub struct ServerInfo {
    /// Product name.
    pub name: String,
    /// Version of the server binary.
    pub version: String,
    /// Which database engine stores the data.
    pub database: DatabaseEngine,
    /// Newest applied migration, read from the database itself.
    pub schema_version: Option<String>,
    /// Migrations the binary knows that the database has not applied yet.
    pub pending_migrations: i32,
    /// The terms of service and privacy notice in force: what `SignUpInput.acceptedTerms` names.
    pub terms_version: String,
    /// Whether sign-up confirms the address by mail (`requestSignUp`, then `confirmSignUp`)
    /// rather than signing in at once (`signUp`).
    pub sign_up_confirms_by_mail: bool,
    /// Whether a forgotten password is reset by a mailed link (`requestPasswordReset`); on a
    /// server that sends no mail, its operator issues the links.
    pub password_reset_by_mail: bool,
}

#[derive(Default)]
pub struct ServerInfoQuery;

#[Object]
impl ServerInfoQuery {
    /// What this server is, and the state of its database schema.
    async fn server_info(&self, ctx: &Context<'_>) -> async_graphql::Result<ServerInfo> {
        let backend = ctx.data::<Backend>()?;
        let schema_version = db::schema_version(&backend.db)
            .await
            .map_err(graphql_error)?;
        let pending = db::pending_migrations(&backend.db)
            .await
            .map_err(graphql_error)?;
        Ok(ServerInfo {
            name: "Ringback".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            database: backend.database_kind.into(),
            schema_version,
            pending_migrations: i32::try_from(pending).unwrap_or(i32::MAX),
            terms_version: ringback_shared::terms::VERSION.to_owned(),
            sign_up_confirms_by_mail: backend.mail.is_some(),
            password_reset_by_mail: backend.mail.is_some(),
        })
    }
}
