//! The rule a new password must meet, checked by the dashboard as the user types and by the server
//! before hashing, so both give the same answer in the same words.

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 10;
/// Longest password accepted (hashing cost stays bounded).
pub const MAX_LENGTH: usize = 256;

/// Why a new password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password needs at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("the password may have at most {MAX_LENGTH} characters")]
    TooLong,
}

/// Checks a new password's length, counted in characters (not bytes).
pub fn check(password: &str) -> Result<(), PasswordError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        Err(PasswordError::TooShort)
    } else if length > MAX_LENGTH {
        Err(PasswordError::TooLong)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_characters() {
        assert_eq!(check("short"), Err(PasswordError::TooShort));
        assert_eq!(check("ééééééééé"), Err(PasswordError::TooShort));
        assert_eq!(check("éééééééééé"), Ok(()));
        assert_eq!(check(&"a".repeat(MAX_LENGTH)), Ok(()));
        assert_eq!(
            check(&"a".repeat(MAX_LENGTH + 1)),
            Err(PasswordError::TooLong)
        );
    }
}
