//! The server's errors as users see them: [`ApiError`] (from the core) with its code and HTTP
//! status, and its GraphQL form (from the GraphQL layer).

pub use ringback_core::error::ApiError;
pub use ringback_graphql::error::{graphql_error, to_graphql};
