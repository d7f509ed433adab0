//! The server's errors as users see them: a [`DomainError`] with its GraphQL code (from the
//! GraphQL layer's table) and, outside GraphQL, its HTTP status (decided here).

use poem::http::StatusCode;
pub use ringback_core::error::DomainError;
pub use ringback_graphql::error::{code, graphql_error, to_graphql};

/// The HTTP status for `error` outside GraphQL.
pub fn http_status(error: &DomainError) -> StatusCode {
    match error {
        DomainError::Unauthenticated => StatusCode::UNAUTHORIZED,
        DomainError::Forbidden => StatusCode::FORBIDDEN,
        DomainError::NotFound => StatusCode::NOT_FOUND,
        DomainError::BadUserInput(_) => StatusCode::BAD_REQUEST,
        DomainError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
        DomainError::Conflict(_) => StatusCode::CONFLICT,
        DomainError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        DomainError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
