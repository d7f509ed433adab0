//! Rate limits (governor, in memory per instance): sign-in attempts per client address and per
//! account, every request per client address (provider webhooks under their own, higher limit)
//! and per API key. A refused request gets
//! `RATE_LIMITED`.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use ringback_core::error::DomainError;

/// Sign-in attempts per client address per minute.
pub const SIGN_IN_PER_ADDRESS_PER_MINUTE: u32 = 20;
/// Sign-in attempts per account (e-mail) per minute.
pub const SIGN_IN_PER_ACCOUNT_PER_MINUTE: u32 = 5;
/// Requests per client address per minute.
pub const REQUESTS_PER_ADDRESS_PER_MINUTE: u32 = 600;
/// Provider webhooks per client address per minute: a provider sends every clinic's traffic from
/// a few addresses, so its limit is far higher (its requests are signed and checked cheaply).
pub const WEBHOOKS_PER_ADDRESS_PER_MINUTE: u32 = 60_000;
/// Requests per API key per minute.
pub const REQUESTS_PER_API_KEY_PER_MINUTE: u32 = 600;

/// The limiters shared by all requests of one server.
pub struct RateLimits {
    sign_in_by_address: DefaultKeyedRateLimiter<IpAddr>,
    sign_in_by_account: DefaultKeyedRateLimiter<String>,
    requests_by_address: DefaultKeyedRateLimiter<IpAddr>,
    webhooks_by_address: DefaultKeyedRateLimiter<IpAddr>,
    requests_by_api_key: DefaultKeyedRateLimiter<Uuid>,
}

fn per_minute(limit: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(limit).unwrap_or(NonZeroU32::MIN))
}

fn check<K: std::hash::Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), DomainError> {
    limiter.check_key(key).map_err(|_| DomainError::RateLimited)
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            sign_in_by_address: RateLimiter::keyed(per_minute(SIGN_IN_PER_ADDRESS_PER_MINUTE)),
            sign_in_by_account: RateLimiter::keyed(per_minute(SIGN_IN_PER_ACCOUNT_PER_MINUTE)),
            requests_by_address: RateLimiter::keyed(per_minute(REQUESTS_PER_ADDRESS_PER_MINUTE)),
            webhooks_by_address: RateLimiter::keyed(per_minute(WEBHOOKS_PER_ADDRESS_PER_MINUTE)),
            requests_by_api_key: RateLimiter::keyed(per_minute(REQUESTS_PER_API_KEY_PER_MINUTE)),
        }
    }
}

impl RateLimits {
    /// One sign-in attempt from `address` for `email`.
    pub fn sign_in(&self, address: Option<IpAddr>, email: &str) -> Result<(), DomainError> {
        if let Some(address) = address {
            check(&self.sign_in_by_address, &address)?;
        }
        check(&self.sign_in_by_account, &email.to_ascii_lowercase())
    }

    /// One request from `address`.
    pub fn request(&self, address: Option<IpAddr>) -> Result<(), DomainError> {
        match address {
            Some(address) => check(&self.requests_by_address, &address),
            None => Ok(()),
        }
    }

    /// One provider webhook from `address`.
    pub fn webhook(&self, address: Option<IpAddr>) -> Result<(), DomainError> {
        match address {
            Some(address) => check(&self.webhooks_by_address, &address),
            None => Ok(()),
        }
    }

    /// One request with API key `key_id`.
    pub fn api_key(&self, key_id: Uuid) -> Result<(), DomainError> {
        check(&self.requests_by_api_key, &key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_per_account_is_limited() {
        let limits = RateLimits::default();
        for _ in 0..SIGN_IN_PER_ACCOUNT_PER_MINUTE {
            limits
                .sign_in(None, "owner@example.test")
                .expect("within the limit");
        }
        let refused = limits.sign_in(None, "OWNER@example.test").unwrap_err();
        assert!(matches!(refused, DomainError::RateLimited));
        limits
            .sign_in(None, "other@example.test")
            .expect("other accounts unaffected");
    }
}
