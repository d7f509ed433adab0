//! Password hashing with argon2id (the crate's defaults: 19 MiB, 2 passes), and the rules a new
//! password must meet.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use ringback_shared::password as password_rule;

use ringback_core::error::DomainError;

/// Checks a new password against the shared rules, with a message the user can act on.
pub fn validate(password: &str) -> Result<(), DomainError> {
    password_rule::check(password).map_err(|problem| DomainError::BadUserInput(problem.to_string()))
}

/// Hashes `password` with a fresh salt, in PHC string form.
pub fn hash(password: &str) -> Result<String, DomainError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| DomainError::Internal(format!("password hashing: {e}")))
}

/// True when `password` matches the stored `hash`.
pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the account does not exist, so that timing does not reveal
/// which e-mail addresses have accounts.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password for timing").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let stored = hash("correct horse battery").expect("hash");
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("wrong horse battery", &stored));
        assert!(!verify("anything", "not a hash"));
    }

    #[test]
    fn rules_are_enforced_with_clear_messages() {
        assert!(validate("short").is_err());
        assert!(validate(&"x".repeat(password_rule::MAX_LENGTH + 1)).is_err());
        assert!(validate("long enough now").is_ok());
    }
}
