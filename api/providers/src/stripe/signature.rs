//! Stripe's webhook signature (`Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`): the
//! HMAC-SHA256, keyed by the endpoint's signing secret (`whsec_…`), of `t`, a dot and the raw
//! body. Any `v1` may match (Stripe sends several while a secret is being rolled); other schemes
//! (`v0`) are ignored; the timestamp must be within [`TOLERANCE_SECONDS`] of now, so a captured
//! request cannot be replayed later, and a body replayed under another timestamp no longer
//! matches. Compared in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How far the signed timestamp may be from now, either way.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Why a request's signature was refused (no detail that helps a forger).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no usable Stripe-Signature header")]
    Malformed,
    #[error("the signature's timestamp is too far from now")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

fn keyed(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header Stripe sends for `body` signed at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let signature = hex::encode(keyed(secret, timestamp, body).finalize().into_bytes());
    format!("t={timestamp},v1={signature}")
}

/// Checks `header` for `body` at `now` (unix seconds).
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => candidates.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(timestamp) > TOLERANCE_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let mac = keyed(secret, timestamp, body);
    if candidates
        .iter()
        .any(|candidate| mac.clone().verify_slice(candidate).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;

    /// Computed independently of this module, from Stripe's documented rule:
    /// `printf '1700000000.{"id":"evt_1","object":"event"}' | openssl dgst -sha256 -hmac whsec_test_secret`.
    const VECTOR: &str =
        "t=1700000000,v1=0c8670ed117751cc551a20e35839447075c42800ea3cf3e8a2fbda99cd1e6edd";

    #[test]
    fn a_signature_made_by_the_rule_is_accepted() {
        let header = sign(SECRET, 1_700_000_000, BODY);
        assert_eq!(verify(SECRET, &header, BODY, 1_700_000_100), Ok(()));
    }

    #[test]
    fn the_documented_rule_gives_the_independent_vector() {
        assert_eq!(sign(SECRET, 1_700_000_000, BODY), VECTOR);
    }

    #[test]
    fn bad_stale_and_replayed_signatures_are_refused() {
        let header = sign(SECRET, 1_700_000_000, BODY);
        assert_eq!(
            verify(SECRET, &header, BODY, 1_700_000_000 + TOLERANCE_SECONDS + 1),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify("whsec_other", &header, BODY, 1_700_000_000),
            Err(SignatureError::Mismatch)
        );
        let signature = header
            .split_once(",v1=")
            .map(|(_, v)| v)
            .unwrap_or_default();
        let replayed = format!("t=1700000100,v1={signature}");
        assert_eq!(
            verify(SECRET, &replayed, BODY, 1_700_000_100),
            Err(SignatureError::Mismatch),
            "the same signature under another timestamp"
        );
        assert_eq!(
            verify(SECRET, "nonsense", BODY, 0),
            Err(SignatureError::Malformed)
        );
        // Timestamps at the ends of the range are stale, not an overflow.
        for extreme in [i64::MIN, i64::MAX] {
            let header = format!("t={extreme},v1={}", "00".repeat(32));
            assert_eq!(
                verify(SECRET, &header, BODY, 1_700_000_000),
                Err(SignatureError::Stale)
            );
        }
    }

    #[test]
    fn any_v1_may_match() {
        let good = sign(SECRET, 1_700_000_000, BODY);
        let signature = good.split_once(",v1=").map(|(_, v)| v).unwrap_or_default();
        let rolled = format!("t=1700000000,v1={},v0=abc,v1={signature}", "00".repeat(32));
        assert_eq!(verify(SECRET, &rolled, BODY, 1_700_000_000), Ok(()));
    }
}
