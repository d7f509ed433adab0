//! Errors as GraphQL reports them: a [`DomainError`]'s safe message, with the stable code clients
//! branch on in `extensions.code`. The code table lives here, in the API layer, not in the domain.

use async_graphql::ErrorExtensions;
pub use ringback_core::error::DomainError;

/// The stable code clients branch on for `error`.
pub fn code(error: &DomainError) -> &'static str {
    match error {
        DomainError::Unauthenticated => "UNAUTHENTICATED",
        DomainError::Forbidden => "FORBIDDEN",
        DomainError::NotFound => "NOT_FOUND",
        DomainError::BadUserInput(_) => "BAD_USER_INPUT",
        DomainError::RateLimited(_) => "RATE_LIMITED",
        DomainError::Conflict(_) => "CONFLICT",
        DomainError::Unavailable(_) => "UNAVAILABLE",
        DomainError::Internal(_) => "INTERNAL",
    }
}

/// Converts any error the server knows into a GraphQL error carrying `extensions.code`.
pub fn graphql_error(error: impl Into<DomainError>) -> async_graphql::Error {
    to_graphql(&error.into())
}

/// `error` as GraphQL reports it: its safe message, with its code in `extensions.code` (and for a
/// rate limit, `retryAfter` in seconds and `limitPerMinute`).
pub fn to_graphql(error: &DomainError) -> async_graphql::Error {
    let code = code(error);
    let limited = match error {
        DomainError::RateLimited(limited) => Some(*limited),
        _ => None,
    };
    async_graphql::Error::new(error.to_string()).extend_with(|_, extensions| {
        extensions.set("code", code);
        if let Some(limited) = limited {
            extensions.set("retryAfter", limited.retry_after_seconds);
            extensions.set("limitPerMinute", limited.per_minute);
        }
    })
}
