//! The dashboard's one GraphQL client. Every operation is a typed query compiled against the
//! committed `schema.graphql` (a query the schema does not allow fails the build), every request
//! goes through [`run`], and every failure becomes an [`ApiError`] a page can show. An expired
//! session is refreshed once with the refresh cookie; when that fails too the caller gets
//! [`ApiError::SignedOut`] and the app sends the user to sign in.

use gloo_net::http::Request;
use graphql_client::GraphQLQuery;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Where the server answers GraphQL; same origin as the dashboard.
const GRAPHQL_PATH: &str = "/graphql";

/// `NaiveDate` in the schema: an ISO date, `2026-11-22`.
pub type NaiveDate = String;
/// `DateTime` in the schema: RFC 3339.
pub type DateTime = String;
/// `JSON` in the schema (audit details); the generated code names the scalar as the schema does.
#[allow(clippy::upper_case_acronyms)]
pub type JSON = serde_json::Value;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/server_info.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct ServerInfo;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/session.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct Me;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/session.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct SignIn;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/session.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct RefreshSession;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/session.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct SignOut;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/overview.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct Overview;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/worklist.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct Worklist;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/worklist.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct LogCallback;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/appointments.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct Appointments;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/appointments.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct CreateAppointment;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/appointments.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct UpdateAppointment;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/appointments.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct CancelAppointment;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/inbox.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct Conversations;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/inbox.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct Conversation;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/inbox.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct Reply;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/inbox.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct Assign;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/inbox.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct Close;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/settings.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct Settings;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/settings.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug",
    skip_serializing_none
)]
pub struct SaveClinic;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/settings.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug",
    skip_serializing_none
)]
pub struct SaveTextBack;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/what_if.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct WhatIf;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/what_if.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct SaveWindow;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/admin.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct Team;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/admin.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct InviteMember;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/admin.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct RevokeInvite;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/admin.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct RemoveMember;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/admin.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct ApiKeys;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/admin.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct CreateApiKey;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/admin.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct RevokeApiKey;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/admin.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct AuditLog;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "../schema.graphql",
    query_path = "graphql/export.graphql",
    response_derives = "Debug, Clone, PartialEq",
    variables_derives = "Clone, Debug"
)]
pub struct ExportCsv;

/// Failures talking to the API, in words a user can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The session is over and could not be renewed: sign in again.
    SignedOut,
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
            Self::SignedOut => write!(f, "Your session has ended; please sign in again."),
            Self::Network(reason) => write!(f, "Cannot reach the server: {reason}"),
            Self::Server { message, .. } => write!(f, "{message}"),
            Self::Malformed(reason) => write!(f, "Unexpected answer from the server: {reason}"),
        }
    }
}

impl std::error::Error for ApiError {}

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

/// Sends one operation; no retry.
async fn send<Q: GraphQLQuery>(variables: &Q::Variables) -> Result<Q::ResponseData, ApiError>
where
    Q::ResponseData: DeserializeOwned,
    Q::Variables: Clone,
{
    let body = Q::build_query(variables.clone());
    let request = Request::post(GRAPHQL_PATH)
        .json(&body)
        .map_err(|e| ApiError::Malformed(e.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    if response.status() == 429 {
        return Err(ApiError::Server {
            code: Some("RATE_LIMITED".to_owned()),
            message: "Too many requests; try again in a moment.".to_owned(),
        });
    }
    let body: GraphqlResponse<Q::ResponseData> = response
        .json()
        .await
        .map_err(|e| ApiError::Malformed(e.to_string()))?;
    if let Some(error) = body.errors.into_iter().next() {
        let code = error.extensions.and_then(|extensions| extensions.code);
        if code.as_deref() == Some("UNAUTHENTICATED") {
            return Err(ApiError::SignedOut);
        }
        return Err(ApiError::Server {
            code,
            message: error.message,
        });
    }
    body.data
        .ok_or_else(|| ApiError::Malformed("no data".to_owned()))
}

/// Runs an operation; an ended session is renewed once and the operation tried again.
pub async fn run<Q: GraphQLQuery>(variables: Q::Variables) -> Result<Q::ResponseData, ApiError>
where
    Q::ResponseData: DeserializeOwned,
    Q::Variables: Clone,
{
    match send::<Q>(&variables).await {
        Err(ApiError::SignedOut) => {
            send::<RefreshSession>(&refresh_session::Variables).await?;
            send::<Q>(&variables).await
        }
        other => other,
    }
}

/// Signs in; the server sets the session cookies.
pub async fn sign_in(email: String, password: String) -> Result<(), ApiError> {
    send::<SignIn>(&sign_in::Variables { email, password })
        .await
        .map(|_| ())
        .map_err(|error| match error {
            ApiError::SignedOut => ApiError::Server {
                code: Some("UNAUTHENTICATED".to_owned()),
                message: "That e-mail and password do not match.".to_owned(),
            },
            other => other,
        })
}

/// Signs out; the server clears the session cookies.
pub async fn sign_out() -> Result<(), ApiError> {
    send::<SignOut>(&sign_out::Variables).await.map(|_| ())
}
