//! Errors as GraphQL reports them: [`ApiError`] (from the core) with its code in
//! `extensions.code`.

use async_graphql::ErrorExtensions;
pub use ringback_core::error::ApiError;

/// Converts any error the server knows into a GraphQL error carrying `extensions.code`.
pub fn graphql_error(error: impl Into<ApiError>) -> async_graphql::Error {
    to_graphql(&error.into())
}

/// `error` as GraphQL reports it: its safe message, with its code in `extensions.code`.
pub fn to_graphql(error: &ApiError) -> async_graphql::Error {
    let code = error.code();
    async_graphql::Error::new(error.to_string())
        .extend_with(|_, extensions| extensions.set("code", code))
}
