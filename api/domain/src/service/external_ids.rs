//! Ids that integrators give their own records (a PBX's call id, a practice-management system's
//! appointment id): trimmed, and bounded so that one can always be stored and indexed. Calls and
//! appointments share the rule.

use ringback_core::error::DomainError;

/// Longest external id accepted, in characters.
pub const MAX_LENGTH: usize = 200;

/// `raw` trimmed, or why it cannot be an external id.
pub fn checked(raw: &str) -> Result<&str, DomainError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_LENGTH {
        return Err(DomainError::BadUserInput(format!(
            "externalId needs 1 to {MAX_LENGTH} characters"
        )));
    }
    Ok(trimmed)
}

/// An optional external id: absent or blank is none; otherwise as [`checked`].
pub fn optional(raw: Option<&str>) -> Result<Option<String>, DomainError> {
    match raw.map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => checked(id).map(|id| Some(id.to_owned())),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_ids_are_trimmed_and_bounded() {
        assert_eq!(checked("  pbx-1 ").expect("fine"), "pbx-1");
        assert!(checked("   ").is_err());
        assert!(checked(&"x".repeat(MAX_LENGTH)).is_ok());
        assert!(checked(&"x".repeat(MAX_LENGTH + 1)).is_err());
        assert!(
            checked(&"é".repeat(MAX_LENGTH)).is_ok(),
            "characters, not bytes"
        );
        assert_eq!(optional(None).expect("none"), None);
        assert_eq!(optional(Some("  ")).expect("blank"), None);
        assert!(optional(Some(&"x".repeat(5_000))).is_err());
    }
}
