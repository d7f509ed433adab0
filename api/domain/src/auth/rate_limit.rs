//! Rate limits (governor, in memory per instance): sign-in attempts per client address and per
//! account, every request per client address (provider webhooks under their own, higher limit)
//! and per API key, and per staff member the calls Ringback places for them, the callers they
//! look up by number and the Stripe Checkout or Portal sessions they open. A refused request gets `RATE_LIMITED`.
//!
//! Keys are normalised and bounded before they count: an e-mail address is trimmed, lower-cased
//! and hashed (so spacing or case is no new bucket, and a huge address is kept as 32 bytes); an
//! IPv6 client counts by its /64 (one host can hold a whole /64), an IPv4-mapped one as IPv4.
//! Buckets that have refilled are pruned every [`PRUNE_EVERY`] checks, so the maps stay bounded.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

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

/// Calls Ringback places for one staff member per minute (each rings their phone).
pub const CALLBACKS_PER_USER_PER_MINUTE: u32 = 10;
/// Callers one staff member may look up by number per minute: enough for a front desk, too few
/// to test a clinic's callers against a list of numbers.
pub const CALLER_LOOKUPS_PER_USER_PER_MINUTE: u32 = 20;

/// Stripe Checkout or Portal sessions one owner may open per minute (each is a request to Stripe).
pub const BILLING_SESSIONS_PER_USER_PER_MINUTE: u32 = 10;

/// How many checks pass between two prunings of the buckets that have refilled.
pub const PRUNE_EVERY: u64 = 10_000;

/// The limiters shared by all requests of one server.
pub struct RateLimits {
    sign_in_by_address: DefaultKeyedRateLimiter<IpAddr>,
    sign_in_by_account: DefaultKeyedRateLimiter<[u8; 32]>,
    requests_by_address: DefaultKeyedRateLimiter<IpAddr>,
    webhooks_by_address: DefaultKeyedRateLimiter<IpAddr>,
    requests_by_api_key: DefaultKeyedRateLimiter<Uuid>,
    callbacks_by_user: DefaultKeyedRateLimiter<Uuid>,
    caller_lookups_by_user: DefaultKeyedRateLimiter<Uuid>,
    billing_sessions_by_user: DefaultKeyedRateLimiter<Uuid>,
    checks: AtomicU64,
}

/// The bucket an address counts in: IPv6 by its /64, IPv4-mapped IPv6 as IPv4.
pub fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// The bucket an account counts in: its e-mail address trimmed, lower-cased and hashed.
pub fn account_key(email: &str) -> [u8; 32] {
    Sha256::digest(email.trim().to_lowercase().as_bytes()).into()
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
            callbacks_by_user: RateLimiter::keyed(per_minute(CALLBACKS_PER_USER_PER_MINUTE)),
            caller_lookups_by_user: RateLimiter::keyed(per_minute(
                CALLER_LOOKUPS_PER_USER_PER_MINUTE,
            )),
            billing_sessions_by_user: RateLimiter::keyed(per_minute(
                BILLING_SESSIONS_PER_USER_PER_MINUTE,
            )),
            checks: AtomicU64::new(0),
        }
    }
}

impl RateLimits {
    /// One sign-in attempt from `address` for `email`.
    pub fn sign_in(&self, address: Option<IpAddr>, email: &str) -> Result<(), DomainError> {
        self.counted();
        if let Some(address) = address {
            check(&self.sign_in_by_address, &address_key(address))?;
        }
        check(&self.sign_in_by_account, &account_key(email))
    }

    /// One request from `address`.
    pub fn request(&self, address: Option<IpAddr>) -> Result<(), DomainError> {
        self.counted();
        match address {
            Some(address) => check(&self.requests_by_address, &address_key(address)),
            None => Ok(()),
        }
    }

    /// One provider webhook from `address`.
    pub fn webhook(&self, address: Option<IpAddr>) -> Result<(), DomainError> {
        self.counted();
        match address {
            Some(address) => check(&self.webhooks_by_address, &address_key(address)),
            None => Ok(()),
        }
    }

    /// One request with API key `key_id`.
    pub fn api_key(&self, key_id: Uuid) -> Result<(), DomainError> {
        self.counted();
        check(&self.requests_by_api_key, &key_id)
    }

    /// One call placed for staff member `user`.
    pub fn callback(&self, user: Uuid) -> Result<(), DomainError> {
        self.counted();
        check(&self.callbacks_by_user, &user)
    }

    /// One caller looked up by number by staff member `user`.
    pub fn caller_lookup(&self, user: Uuid) -> Result<(), DomainError> {
        self.counted();
        check(&self.caller_lookups_by_user, &user)
    }

    /// One Stripe Checkout or Portal session opened by owner `user`.
    pub fn billing_session(&self, user: Uuid) -> Result<(), DomainError> {
        self.counted();
        check(&self.billing_sessions_by_user, &user)
    }

    /// How many buckets the limiters hold now.
    pub fn buckets(&self) -> usize {
        self.sign_in_by_address.len()
            + self.sign_in_by_account.len()
            + self.requests_by_address.len()
            + self.webhooks_by_address.len()
            + self.requests_by_api_key.len()
            + self.callbacks_by_user.len()
            + self.caller_lookups_by_user.len()
            + self.billing_sessions_by_user.len()
    }

    /// Drops every bucket that has refilled (it holds nothing a new one would not).
    pub fn prune(&self) {
        self.sign_in_by_address.retain_recent();
        self.sign_in_by_account.retain_recent();
        self.requests_by_address.retain_recent();
        self.webhooks_by_address.retain_recent();
        self.requests_by_api_key.retain_recent();
        self.callbacks_by_user.retain_recent();
        self.caller_lookups_by_user.retain_recent();
        self.billing_sessions_by_user.retain_recent();
    }

    /// Counts one check, pruning every [`PRUNE_EVERY`] of them.
    fn counted(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.prune();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_and_case_of_an_address_are_the_same_account() {
        let limits = RateLimits::default();
        let spellings = [
            "owner@example.test",
            " owner@example.test",
            "OWNER@Example.test\t",
        ];
        for attempt in 0..SIGN_IN_PER_ACCOUNT_PER_MINUTE {
            let email = spellings[attempt as usize % spellings.len()];
            limits.sign_in(None, email).expect("within the limit");
        }
        let refused = limits.sign_in(None, "  Owner@EXAMPLE.test ").unwrap_err();
        assert!(matches!(refused, DomainError::RateLimited));
        let huge = "x".repeat(250_000);
        limits.sign_in(None, &huge).expect("a new account");
        assert_eq!(account_key(&huge).len(), 32, "kept as a hash, not 250 KB");
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let limits = RateLimits::default();
        let host = |tail: &str| -> IpAddr { format!("2001:db8:1:2::{tail}").parse().expect("v6") };
        for n in 0..SIGN_IN_PER_ADDRESS_PER_MINUTE {
            let email = format!("user{n}@example.test");
            limits
                .sign_in(Some(host(&format!("{:x}", n + 1))), &email)
                .expect("within");
        }
        let rotated = limits.sign_in(Some(host("ffff")), "other@example.test");
        assert!(matches!(rotated, Err(DomainError::RateLimited)), "same /64");
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().expect("v6");
        limits
            .sign_in(Some(elsewhere), "other@example.test")
            .expect("another /64");
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("mapped");
        assert_eq!(
            address_key(mapped),
            "192.0.2.7".parse::<IpAddr>().expect("v4")
        );
    }

    #[test]
    fn refilled_buckets_are_pruned() {
        let limits = RateLimits::default();
        for n in 0..100u8 {
            limits
                .request(Some(IpAddr::from([192, 0, 2, n])))
                .expect("within");
        }
        assert_eq!(limits.buckets(), 100);
        // 600 a minute refills one request in 100 ms.
        std::thread::sleep(std::time::Duration::from_millis(250));
        limits.prune();
        assert_eq!(limits.buckets(), 0);
    }

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
