//! Opaque secrets handed to clients (refresh tokens, API keys, invite tokens): random, carrying
//! the clinic they belong to so that the lookup itself runs inside that clinic's scope, and stored
//! only as SHA-256 hashes.
//!
//! Form: `<kind>_<clinic id, 32 hex>_<secret, 64 hex>`, e.g. `rbk_0192…_9f3a…`.

use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// What a token is for; its prefix makes leaked tokens recognisable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Refresh,
    ApiKey,
    Invite,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            Self::Refresh => "rbr",
            Self::ApiKey => "rbk",
            Self::Invite => "rbi",
        }
    }
}

/// A token as issued: the full value (given to the client once) and its hash (stored).
pub struct IssuedToken {
    pub value: String,
    pub hash: String,
}

/// A presented token, split into its clinic and the hash to look up.
#[derive(Debug, PartialEq, Eq)]
pub struct PresentedToken {
    pub clinic_id: Uuid,
    pub hash: String,
    /// The first characters of the secret, for display ("rbk_…9f3a").
    pub hint: String,
}

/// Issues a new random token of `kind` for `clinic_id`.
pub fn issue(kind: TokenKind, clinic_id: Uuid) -> IssuedToken {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = hex::encode(secret);
    IssuedToken {
        hash: hash_secret(&secret),
        value: format!("{}_{}_{secret}", kind.prefix(), clinic_id.simple()),
    }
}

/// Parses a presented token of `kind`; None when it is not one.
pub fn parse(kind: TokenKind, value: &str) -> Option<PresentedToken> {
    let mut parts = value.trim().splitn(3, '_');
    let (prefix, clinic, secret) = (parts.next()?, parts.next()?, parts.next()?);
    if prefix != kind.prefix()
        || secret.len() != 64
        || !secret.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    let clinic_id = Uuid::try_parse(clinic).ok()?;
    Some(PresentedToken {
        clinic_id,
        hash: hash_secret(secret),
        hint: secret[..6].to_owned(),
    })
}

/// SHA-256 of the secret part, lowercase hex. Tokens carry 256 random bits, so a fast hash is
/// enough (unlike passwords).
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_parse_back_to_their_clinic_and_hash() {
        let clinic = Uuid::now_v7();
        let token = issue(TokenKind::ApiKey, clinic);
        assert!(token.value.starts_with("rbk_"));
        let presented = parse(TokenKind::ApiKey, &token.value).expect("parses");
        assert_eq!(presented.clinic_id, clinic);
        assert_eq!(presented.hash, token.hash);
        assert_ne!(token.hash, token.value);
    }

    #[test]
    fn wrong_kind_or_shape_is_refused() {
        let token = issue(TokenKind::Refresh, Uuid::now_v7());
        assert!(parse(TokenKind::ApiKey, &token.value).is_none());
        assert!(parse(TokenKind::Refresh, "rbr_nothex_zz").is_none());
        assert!(parse(TokenKind::Refresh, "").is_none());
    }
}
