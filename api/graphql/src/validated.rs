//! Requests that passed every validation rule before, kept by a digest of all that validation
//! reads: the query text, the operation name and the variables' values (an argument's bounds are
//! checked against a variable's value too). The dashboard and integrators send the same few
//! requests over and over; checking all of the rules again on each cost more than the rest of a
//! small read's GraphQL work. A request kept here runs on a schema that checks only what may
//! differ from one run to the next or guards the server: fragment cycles, depth and complexity
//! (async-graphql's fast validation). A request is kept only once it was answered without any
//! error, so a refused request is checked in full every time. At most [`MAX_KEPT`] are kept, none
//! longer than [`MAX_KEPT_TEXT`] (text and variables); when full, the set is emptied and refills
//! with what is sent now. Only the SHA-256 digest is kept, never the text: variables carry
//! callers' numbers (`findCaller`, `eraseCaller`), e-mail addresses and passwords, which must not
//! stay in the server's memory after their request. Validation depends on nothing but the request
//! and the schema, so one set serves every clinic of one schema.

use async_graphql::Request;
use sha2::{Digest, Sha256};

use crate::kept::Kept;

/// Most requests kept at once.
pub const MAX_KEPT: usize = 256;
/// Longest request kept, in bytes of query text and variables together.
pub const MAX_KEPT_TEXT: usize = 8 * 1024;

/// The digest of what validation of one request reads.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Checked([u8; 32]);

impl Checked {
    /// What validation of `request` reads, as a digest, or None when the request is too long to
    /// keep. Each part is prefixed by its length, so no two requests' parts run together alike.
    pub fn of(request: &Request) -> Option<Self> {
        let variables = serde_json::to_string(&request.variables).ok()?;
        if request.query.len() + variables.len() > MAX_KEPT_TEXT {
            return None;
        }
        let operation = request.operation_name.as_deref();
        let mut digest = Sha256::new();
        for part in [Some(request.query.as_str()), operation, Some(&variables)] {
            match part {
                Some(text) => {
                    digest.update((text.len() as u64 + 1).to_be_bytes());
                    digest.update(text.as_bytes());
                }
                None => digest.update(0u64.to_be_bytes()),
            }
        }
        Some(Self(digest.finalize().into()))
    }
}

/// The requests of one schema that passed every rule.
#[derive(Debug)]
pub struct Validated {
    kept: Kept<Checked, ()>,
}

impl Default for Validated {
    fn default() -> Self {
        Self {
            kept: Kept::new(MAX_KEPT),
        }
    }
}

impl Validated {
    /// Whether `checked` passed every rule before.
    pub fn passed(&self, checked: &Checked) -> bool {
        self.kept.get(checked).is_some()
    }

    /// Keeps `checked`, a request answered without any error.
    pub fn keep(&self, checked: Checked) {
        self.kept.keep(checked, ());
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::Variables;
    use serde_json::json;

    use super::*;

    fn with_variables(query: &str, variables: serde_json::Value) -> Request {
        Request::new(query).variables(Variables::from_json(variables))
    }

    #[test]
    fn the_same_request_is_known_and_any_change_is_not() {
        let validated = Validated::default();
        let query = "query Q($n: Int) { calls(first: $n) { edges { node { id } } } }";
        let first = Checked::of(&with_variables(query, json!({ "n": 5 }))).expect("short");
        validated.keep(first.clone());
        assert!(validated.passed(&first));
        let again = Checked::of(&with_variables(query, json!({ "n": 5 }))).expect("short");
        assert!(validated.passed(&again));
        let other_value = Checked::of(&with_variables(query, json!({ "n": 500 }))).expect("short");
        assert!(!validated.passed(&other_value));
        let named = Checked::of(&with_variables(query, json!({ "n": 5 })).operation_name("Q"))
            .expect("short");
        assert!(!validated.passed(&named));
        let other_text = Checked::of(&with_variables(
            "query Q($n: Int) { calls(first: $n) { edges { node { missed } } } }",
            json!({ "n": 5 }),
        ))
        .expect("short");
        assert!(!validated.passed(&other_text));
    }

    #[test]
    fn only_a_digest_is_kept() {
        let number = "07700 900456";
        let request = with_variables(
            "query($n: String!) { findCaller(number: $n) { callerTail } }",
            json!({ "n": number }),
        );
        let checked = Checked::of(&request).expect("short");
        let kept = format!("{checked:?}");
        assert!(
            !kept.contains("900456") && !kept.contains("findCaller"),
            "{kept}"
        );
    }

    #[test]
    fn long_requests_are_not_kept_and_a_full_set_starts_again() {
        let long = format!("{{ {} }}", "__typename ".repeat(MAX_KEPT_TEXT / 10));
        assert!(Checked::of(&Request::new(long)).is_none());
        let validated = Validated::default();
        for n in 0..=MAX_KEPT {
            let checked = Checked::of(&Request::new(format!("{{ fill{n}: __typename }}")));
            validated.keep(checked.expect("short"));
        }
        assert!(validated.kept.len() <= MAX_KEPT);
        let last = Checked::of(&Request::new(format!("{{ fill{MAX_KEPT}: __typename }}")));
        assert!(validated.passed(&last.expect("short")));
    }
}
