//! The dashboard's one GraphQL client: every request to the server goes through here, and every
//! failure becomes an [`ApiError`] the page can show.

use gloo_net::http::Request;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Where the server answers GraphQL; same origin as the dashboard.
const GRAPHQL_PATH: &str = "/graphql";

/// Failures talking to the API, in words a user can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    Network(String),
    Server {
        code: Option<String>,
        message: String,
    },
    Malformed(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Network(reason) => write!(f, "Cannot reach the server: {reason}"),
            Self::Server { message, .. } => write!(f, "The server refused: {message}"),
            Self::Malformed(reason) => write!(f, "Unexpected answer from the server: {reason}"),
        }
    }
}

#[derive(Serialize)]
struct GraphqlRequest<'a> {
    query: &'a str,
}

#[derive(Deserialize)]
struct GraphqlResponse<T> {
    data: Option<T>,
    #[serde(default)]
    errors: Vec<GraphqlError>,
}

#[derive(Deserialize)]
struct GraphqlError {
    message: String,
    #[serde(default)]
    extensions: Option<GraphqlErrorExtensions>,
}

#[derive(Deserialize)]
struct GraphqlErrorExtensions {
    code: Option<String>,
}

/// Sends `query` and decodes its `data`.
async fn execute<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let request = Request::post(GRAPHQL_PATH)
        .json(&GraphqlRequest { query })
        .map_err(|e| ApiError::Malformed(e.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    let body: GraphqlResponse<T> = response
        .json()
        .await
        .map_err(|e| ApiError::Malformed(e.to_string()))?;
    if let Some(error) = body.errors.into_iter().next() {
        return Err(ApiError::Server {
            code: error.extensions.and_then(|extensions| extensions.code),
            message: error.message,
        });
    }
    body.data
        .ok_or_else(|| ApiError::Malformed("no data".to_owned()))
}

/// The database engine, as the schema's `DatabaseEngine` enum.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DatabaseEngine {
    Sqlite,
    Postgresql,
}

impl DatabaseEngine {
    pub fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgresql => "PostgreSQL",
        }
    }
}

/// `serverInfo`, as the schema defines it.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    pub name: String,
    pub version: String,
    pub database: DatabaseEngine,
    pub schema_version: Option<String>,
    pub pending_migrations: i32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerInfoData {
    server_info: ServerInfo,
}

const SERVER_INFO_QUERY: &str =
    "query ServerInfo { serverInfo { name version database schemaVersion pendingMigrations } }";

/// Asks the server what it is.
pub async fn server_info() -> Result<ServerInfo, ApiError> {
    execute::<ServerInfoData>(SERVER_INFO_QUERY)
        .await
        .map(|data| data.server_info)
}
