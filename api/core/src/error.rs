//! The domain's error type: what a service or a job can fail with, in the domain's words. It
//! converts from database errors with `?` (logged in full, reported as `Internal`). What a user
//! sees — the stable code clients branch on and the HTTP status — is decided above, by the API
//! layers (`ringback_graphql::error` and the binary's `error` module); jobs ask
//! [`DomainError::is_retryable`].

use crate::db::DbError;

/// Errors a service, a resolver, a handler or a job can return.
#[derive(Clone, Debug, thiserror::Error)]
pub enum DomainError {
    /// No valid credential, or one that no longer counts.
    #[error("sign in first")]
    Unauthenticated,
    /// The caller's role or key does not allow the action.
    #[error("your role does not allow this")]
    Forbidden,
    /// Nothing with this id in the caller's clinic.
    #[error("not found")]
    NotFound,
    /// The input breaks a rule; the message says which, in plain words.
    #[error("{0}")]
    BadUserInput(String),
    /// Too many attempts or requests for now: the limit met, and when to try again.
    #[error("too many requests; try again in {} s", .0.retry_after_seconds)]
    RateLimited(Limited),
    /// The action collides with what is stored (a duplicate, a changed state).
    #[error("{0}")]
    Conflict(String),
    /// An outside provider we need for this could not answer now; the message says which, in plain
    /// words, and the same request may succeed later.
    #[error("{0}")]
    Unavailable(String),
    /// Our side failed (the database, a broken invariant); the cause is logged, not shown.
    #[error("internal error")]
    Internal(String),
}

/// What a refused request is told: the limit it met and how long until it may try again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    /// Requests allowed per minute (the burst; the bucket refills evenly over the minute).
    pub per_minute: u32,
    /// Whole seconds until the next request would be allowed (at least 1).
    pub retry_after_seconds: u64,
}

impl DomainError {
    /// Whether the same work may succeed later unchanged: our own failures (a database outage)
    /// may pass; a refusal of the input, the caller or the state will not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Internal(_) | Self::RateLimited(_) | Self::Unavailable(_)
        )
    }
}

impl From<DbError> for DomainError {
    fn from(error: DbError) -> Self {
        tracing::error!(error = %error, "database error");
        Self::Internal(error.to_string())
    }
}

impl From<sea_orm::DbErr> for DomainError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::from(DbError::from(error))
    }
}
