//! Rate limits (governor, in memory per instance): sign-in attempts per client address and per
//! account, every request per client address (provider webhooks under their own, higher limit),
//! per API key and per clinic, and per staff member the calls Ringback places for them, the
//! callers they look up by number and the Stripe Checkout or Portal sessions they open. The
//! request limits are settings ([`RateLimitSettings`]); every refusal is `RATE_LIMITED` with the
//! limit it met and when to try again ([`Limited`]), which the HTTP layer turns into a 429 with
//! `Retry-After` and `RateLimit-*` headers.
//!
//! Keys are normalised and bounded before they count: an e-mail address is trimmed, lower-cased
//! and hashed (so spacing or case is no new bucket, and a huge address is kept as 32 bytes); an
//! IPv6 client counts by its /64 (one host can hold a whole /64), an IPv4-mapped one as IPv4.
//! Buckets that have refilled are pruned every [`PRUNE_EVERY`] checks, so the maps stay bounded.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use ringback_core::error::{DomainError, Limited};
use ringback_core::settings::{ConfigError, RawSettings};

/// Sign-in attempts per client address per minute.
pub const SIGN_IN_PER_ADDRESS_PER_MINUTE: u32 = 20;
/// Sign-in attempts per account (e-mail) per minute.
pub const SIGN_IN_PER_ACCOUNT_PER_MINUTE: u32 = 5;
/// Requests per client address per minute, unless `RINGBACK_RATE_LIMIT_PER_ADDRESS` says otherwise.
pub const REQUESTS_PER_ADDRESS_PER_MINUTE: u32 = 600;
/// Provider webhooks per client address per minute: a provider sends every clinic's traffic from
/// a few addresses, so its limit is far higher (its requests are signed and checked cheaply).
pub const WEBHOOKS_PER_ADDRESS_PER_MINUTE: u32 = 60_000;
/// Requests per API key per minute, unless `RINGBACK_RATE_LIMIT_PER_API_KEY` says otherwise.
pub const REQUESTS_PER_API_KEY_PER_MINUTE: u32 = 600;
/// Requests per clinic per minute (its staff and keys together), unless
/// `RINGBACK_RATE_LIMIT_PER_CLINIC` says otherwise.
pub const REQUESTS_PER_CLINIC_PER_MINUTE: u32 = 6_000;
/// The highest per-minute limit a setting may give.
const MAX_PER_MINUTE: u32 = 1_000_000;

/// Calls Ringback places for one staff member per minute (each rings their phone).
pub const CALLBACKS_PER_USER_PER_MINUTE: u32 = 10;
/// Callers one staff member may look up by number per minute: enough for a front desk, too few
/// to test a clinic's callers against a list of numbers.
pub const CALLER_LOOKUPS_PER_USER_PER_MINUTE: u32 = 20;

/// Stripe Checkout or Portal sessions one owner may open per minute (each is a request to Stripe).
pub const BILLING_SESSIONS_PER_USER_PER_MINUTE: u32 = 10;

/// Requests to Twilio about numbers (searches, purchases, re-pointing, releases) one clinic may
/// make per minute: each is a request to the provider, and a purchase costs money.
pub const NUMBER_REQUESTS_PER_CLINIC_PER_MINUTE: u32 = 20;

/// Choices of a Google calendar one clinic may make per minute, clearing included: each choice
/// asks Google whether the calendar is shared, and each choice or clearing syncs up to 500
/// bookings through the one service account every clinic shares.
pub const CALENDAR_CHANGES_PER_CLINIC_PER_MINUTE: u32 = 10;

/// Looks at a clinic's Google calendar by its staff (`calendarBusy`) per minute: each is a
/// request to Google on the one service account every clinic shares; a booking dialog asks once
/// per time picked.
pub const CALENDAR_LOOKS_PER_CLINIC_PER_MINUTE: u32 = 30;

/// Refused provider webhooks (a bad signature) written down per client address per minute: the
/// guided test call shows a few, and a flood of forged requests must not become a flood of writes.
pub const REFUSAL_NOTES_PER_ADDRESS_PER_MINUTE: u32 = 6;

/// How many checks pass between two prunings of the buckets that have refilled.
pub const PRUNE_EVERY: u64 = 10_000;

/// The request limits an operator sets (requests per minute; each bucket holds a minute's worth
/// and refills evenly).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Per client address (`RINGBACK_RATE_LIMIT_PER_ADDRESS`).
    pub per_address: u32,
    /// Per API key (`RINGBACK_RATE_LIMIT_PER_API_KEY`).
    pub per_api_key: u32,
    /// Per clinic, its sessions and keys together (`RINGBACK_RATE_LIMIT_PER_CLINIC`).
    pub per_clinic: u32,
    /// Provider webhooks per client address (`RINGBACK_RATE_LIMIT_WEBHOOKS_PER_ADDRESS`).
    pub webhooks_per_address: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            per_address: REQUESTS_PER_ADDRESS_PER_MINUTE,
            per_api_key: REQUESTS_PER_API_KEY_PER_MINUTE,
            per_clinic: REQUESTS_PER_CLINIC_PER_MINUTE,
            webhooks_per_address: WEBHOOKS_PER_ADDRESS_PER_MINUTE,
        }
    }
}

impl RateLimitSettings {
    /// Reads the limits from `settings`, defaults for those not set, naming any malformed one.
    pub fn from_settings(settings: &RawSettings) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let read = |key: &str, default: u32| -> Result<u32, ConfigError> {
            Ok(settings.parse(key, parse_per_minute)?.unwrap_or(default))
        };
        Ok(Self {
            per_address: read("rate_limit_per_address", defaults.per_address)?,
            per_api_key: read("rate_limit_per_api_key", defaults.per_api_key)?,
            per_clinic: read("rate_limit_per_clinic", defaults.per_clinic)?,
            webhooks_per_address: read(
                "rate_limit_webhooks_per_address",
                defaults.webhooks_per_address,
            )?,
        })
    }
}

fn parse_per_minute(value: &str) -> Result<u32, String> {
    match value.trim().parse::<u32>() {
        Ok(limit @ 1..=MAX_PER_MINUTE) => Ok(limit),
        _ => Err(format!(
            "expected requests per minute, a whole number from 1 to {MAX_PER_MINUTE}"
        )),
    }
}

/// One keyed limit: its buckets and the per-minute figure a refusal reports.
struct Limit<K: Hash + Eq + Clone> {
    buckets: DefaultKeyedRateLimiter<K>,
    per_minute: u32,
}

impl<K: Hash + Eq + Clone> Limit<K> {
    fn per_minute(limit: u32) -> Self {
        let per_minute = limit.max(1);
        Self {
            buckets: RateLimiter::keyed(Quota::per_minute(
                NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN),
            )),
            per_minute,
        }
    }

    /// One request counted for `key`; refused with the limit and the wait when its bucket is
    /// empty (one request refills every minute / limit, so that is the longest wait).
    fn check(&self, key: &K) -> Result<(), DomainError> {
        self.buckets.check_key(key).map_err(|_| {
            DomainError::RateLimited(Limited {
                per_minute: self.per_minute,
                retry_after_seconds: 60_u64.div_ceil(u64::from(self.per_minute)).max(1),
            })
        })
    }
}

/// Requests each API key made in the current minute, for admins to see beside the key's limit.
#[derive(Default)]
struct KeyUsage {
    by_key: Mutex<HashMap<Uuid, (u64, u32)>>,
}

impl KeyUsage {
    fn current_minute() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs() / 60)
    }

    fn count(&self, key: Uuid) {
        let minute = Self::current_minute();
        let mut by_key = self
            .by_key
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = by_key.entry(key).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    fn this_minute(&self, key: Uuid) -> u32 {
        let minute = Self::current_minute();
        let by_key = self
            .by_key
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        by_key
            .get(&key)
            .filter(|(at, _)| *at == minute)
            .map_or(0, |(_, count)| *count)
    }

    fn prune(&self) {
        let minute = Self::current_minute();
        let mut by_key = self
            .by_key
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        by_key.retain(|_, (at, _)| *at == minute);
    }

    fn len(&self) -> usize {
        self.by_key.lock().map_or(0, |by_key| by_key.len())
    }
}

/// The limiters shared by all requests of one server.
pub struct RateLimits {
    sign_in_by_address: Limit<IpAddr>,
    sign_in_by_account: Limit<[u8; 32]>,
    requests_by_address: Limit<IpAddr>,
    webhooks_by_address: Limit<IpAddr>,
    requests_by_api_key: Limit<Uuid>,
    requests_by_clinic: Limit<Uuid>,
    callbacks_by_user: Limit<Uuid>,
    caller_lookups_by_user: Limit<Uuid>,
    billing_sessions_by_user: Limit<Uuid>,
    number_requests_by_clinic: Limit<Uuid>,
    calendar_changes_by_clinic: Limit<Uuid>,
    calendar_looks_by_clinic: Limit<Uuid>,
    refusal_notes_by_address: Limit<IpAddr>,
    api_key_usage: KeyUsage,
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

impl Default for RateLimits {
    fn default() -> Self {
        Self::new(&RateLimitSettings::default())
    }
}

impl RateLimits {
    /// The limiters, with the request limits of `settings`.
    pub fn new(settings: &RateLimitSettings) -> Self {
        Self {
            sign_in_by_address: Limit::per_minute(SIGN_IN_PER_ADDRESS_PER_MINUTE),
            sign_in_by_account: Limit::per_minute(SIGN_IN_PER_ACCOUNT_PER_MINUTE),
            requests_by_address: Limit::per_minute(settings.per_address),
            webhooks_by_address: Limit::per_minute(settings.webhooks_per_address),
            requests_by_api_key: Limit::per_minute(settings.per_api_key),
            requests_by_clinic: Limit::per_minute(settings.per_clinic),
            callbacks_by_user: Limit::per_minute(CALLBACKS_PER_USER_PER_MINUTE),
            caller_lookups_by_user: Limit::per_minute(CALLER_LOOKUPS_PER_USER_PER_MINUTE),
            billing_sessions_by_user: Limit::per_minute(BILLING_SESSIONS_PER_USER_PER_MINUTE),
            number_requests_by_clinic: Limit::per_minute(NUMBER_REQUESTS_PER_CLINIC_PER_MINUTE),
            calendar_changes_by_clinic: Limit::per_minute(CALENDAR_CHANGES_PER_CLINIC_PER_MINUTE),
            calendar_looks_by_clinic: Limit::per_minute(CALENDAR_LOOKS_PER_CLINIC_PER_MINUTE),
            refusal_notes_by_address: Limit::per_minute(REFUSAL_NOTES_PER_ADDRESS_PER_MINUTE),
            api_key_usage: KeyUsage::default(),
            checks: AtomicU64::new(0),
        }
    }

    /// One sign-in attempt from `address` for `email`.
    pub fn sign_in(&self, address: Option<IpAddr>, email: &str) -> Result<(), DomainError> {
        self.counted();
        if let Some(address) = address {
            self.sign_in_by_address.check(&address_key(address))?;
        }
        self.sign_in_by_account.check(&account_key(email))
    }

    /// One request from `address`.
    pub fn request(&self, address: Option<IpAddr>) -> Result<(), DomainError> {
        self.counted();
        match address {
            Some(address) => self.requests_by_address.check(&address_key(address)),
            None => Ok(()),
        }
    }

    /// One provider webhook from `address`.
    pub fn webhook(&self, address: Option<IpAddr>) -> Result<(), DomainError> {
        self.counted();
        match address {
            Some(address) => self.webhooks_by_address.check(&address_key(address)),
            None => Ok(()),
        }
    }

    /// One request with API key `key_id` (counted in the key's usage whether or not allowed).
    pub fn api_key(&self, key_id: Uuid) -> Result<(), DomainError> {
        self.counted();
        self.api_key_usage.count(key_id);
        self.requests_by_api_key.check(&key_id)
    }

    /// One request in clinic `clinic_id`, by any of its staff or keys.
    pub fn clinic(&self, clinic_id: Uuid) -> Result<(), DomainError> {
        self.counted();
        self.requests_by_clinic.check(&clinic_id)
    }

    /// An API key's limit per minute, and the requests it made in the current minute.
    pub fn api_key_usage(&self, key_id: Uuid) -> (u32, u32) {
        (
            self.requests_by_api_key.per_minute,
            self.api_key_usage.this_minute(key_id),
        )
    }

    /// One call placed for staff member `user`.
    pub fn callback(&self, user: Uuid) -> Result<(), DomainError> {
        self.counted();
        self.callbacks_by_user.check(&user)
    }

    /// One caller looked up by number by staff member `user`.
    pub fn caller_lookup(&self, user: Uuid) -> Result<(), DomainError> {
        self.counted();
        self.caller_lookups_by_user.check(&user)
    }

    /// One Stripe Checkout or Portal session opened by owner `user`.
    pub fn billing_session(&self, user: Uuid) -> Result<(), DomainError> {
        self.counted();
        self.billing_sessions_by_user.check(&user)
    }

    /// One request to Twilio about clinic `clinic_id`'s numbers.
    pub fn number_request(&self, clinic_id: Uuid) -> Result<(), DomainError> {
        self.counted();
        self.number_requests_by_clinic.check(&clinic_id)
    }

    /// One choice (or clearing) of clinic `clinic_id`'s Google calendar.
    pub fn calendar_change(&self, clinic_id: Uuid) -> Result<(), DomainError> {
        self.counted();
        self.calendar_changes_by_clinic.check(&clinic_id)
    }

    /// One look by clinic `clinic_id`'s staff at its Google calendar.
    pub fn calendar_look(&self, clinic_id: Uuid) -> Result<(), DomainError> {
        self.counted();
        self.calendar_looks_by_clinic.check(&clinic_id)
    }

    /// One refused provider webhook from `address` to write down (beyond the limit it is only
    /// logged).
    pub fn refusal_note(&self, address: Option<IpAddr>) -> Result<(), DomainError> {
        self.counted();
        match address {
            Some(address) => self.refusal_notes_by_address.check(&address_key(address)),
            None => Ok(()),
        }
    }

    /// How many buckets the limiters hold now.
    pub fn buckets(&self) -> usize {
        self.sign_in_by_address.buckets.len()
            + self.sign_in_by_account.buckets.len()
            + self.requests_by_address.buckets.len()
            + self.webhooks_by_address.buckets.len()
            + self.requests_by_api_key.buckets.len()
            + self.requests_by_clinic.buckets.len()
            + self.callbacks_by_user.buckets.len()
            + self.caller_lookups_by_user.buckets.len()
            + self.billing_sessions_by_user.buckets.len()
            + self.number_requests_by_clinic.buckets.len()
            + self.calendar_changes_by_clinic.buckets.len()
            + self.calendar_looks_by_clinic.buckets.len()
            + self.refusal_notes_by_address.buckets.len()
            + self.api_key_usage.len()
    }

    /// Drops every bucket that has refilled (it holds nothing a new one would not), and usage
    /// counts of past minutes.
    pub fn prune(&self) {
        self.sign_in_by_address.buckets.retain_recent();
        self.sign_in_by_account.buckets.retain_recent();
        self.requests_by_address.buckets.retain_recent();
        self.webhooks_by_address.buckets.retain_recent();
        self.requests_by_api_key.buckets.retain_recent();
        self.requests_by_clinic.buckets.retain_recent();
        self.callbacks_by_user.buckets.retain_recent();
        self.caller_lookups_by_user.buckets.retain_recent();
        self.billing_sessions_by_user.buckets.retain_recent();
        self.number_requests_by_clinic.buckets.retain_recent();
        self.calendar_changes_by_clinic.buckets.retain_recent();
        self.calendar_looks_by_clinic.buckets.retain_recent();
        self.refusal_notes_by_address.buckets.retain_recent();
        self.api_key_usage.prune();
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
        assert!(matches!(refused, DomainError::RateLimited(_)));
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
        assert!(
            matches!(rotated, Err(DomainError::RateLimited(_))),
            "same /64"
        );
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
    fn a_refusal_names_its_limit_and_the_wait_and_settings_set_the_limits() {
        let limits = RateLimits::new(&RateLimitSettings {
            per_api_key: 4,
            per_clinic: 2,
            ..RateLimitSettings::default()
        });
        let key = Uuid::now_v7();
        for _ in 0..4 {
            limits.api_key(key).expect("within the key's limit");
        }
        let refused = limits.api_key(key).unwrap_err();
        assert!(
            matches!(
                refused,
                DomainError::RateLimited(Limited {
                    per_minute: 4,
                    retry_after_seconds: 15
                })
            ),
            "{refused:?}"
        );
        assert_eq!(
            limits.api_key_usage(key),
            (4, 5),
            "refused requests count as use"
        );
        assert_eq!(limits.api_key_usage(Uuid::now_v7()), (4, 0));
        let clinic = Uuid::now_v7();
        limits.clinic(clinic).expect("first");
        limits.clinic(clinic).expect("second");
        assert!(matches!(
            limits.clinic(clinic),
            Err(DomainError::RateLimited(Limited { per_minute: 2, .. }))
        ));
        limits.clinic(Uuid::now_v7()).expect("another clinic");
        let generous = RateLimits::default();
        let refused = (0..=CALLER_LOOKUPS_PER_USER_PER_MINUTE)
            .map(|_| generous.caller_lookup(key))
            .find_map(Result::err);
        assert!(
            matches!(
                refused,
                Some(DomainError::RateLimited(Limited {
                    per_minute: 20,
                    retry_after_seconds: 3
                }))
            ),
            "20 a minute refills one every 3 s: {refused:?}"
        );
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
        assert!(matches!(refused, DomainError::RateLimited(_)));
        limits
            .sign_in(None, "other@example.test")
            .expect("other accounts unaffected");
    }
}
