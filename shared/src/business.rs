//! The kinds of business Ringback serves, with the words the dashboard offers them by: one list
//! for the server's checks, the sign-up form and the settings page, so none offers a kind another
//! refuses.

/// A dental practice: privacy comes first (strict mode by default, the privacy notice for the AI).
pub const DENTAL: &str = "dental";

/// Every kind, with the label a person chooses it by.
pub const KINDS: &[(&str, &str)] = &[
    (DENTAL, "Dental practice"),
    ("trade", "Trade or home services"),
    ("other", "Another business"),
];

/// What the dashboard calls a business of `kind`: a dental practice is a "clinic", a plumber's
/// firm a "business" (a plumber is not told about "the clinic's time").
pub fn place_word(kind: &str) -> &'static str {
    if kind == DENTAL { "clinic" } else { "business" }
}

/// Whether `kind` (as stored: lowercase) is one of [`KINDS`].
pub fn is_kind(kind: &str) -> bool {
    KINDS.iter().any(|(value, _)| *value == kind)
}

/// The kinds' values, listed for a refusal: "dental, trade, other".
pub fn listed() -> String {
    KINDS
        .iter()
        .map(|(value, _)| *value)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_is_known_and_nothing_else() {
        assert!(KINDS.iter().all(|(value, _)| is_kind(value)));
        assert!(!is_kind("Dental") && !is_kind("") && !is_kind("plumber"));
        assert_eq!(listed(), "dental, trade, other");
    }

    #[test]
    fn only_a_dental_practice_is_a_clinic() {
        assert_eq!(place_word(DENTAL), "clinic");
        assert_eq!(place_word("trade"), "business");
        assert_eq!(place_word("other"), "business");
    }
}
