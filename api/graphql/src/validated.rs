//! Requests that passed every validation rule before, kept by a digest of all that validation
//! reads: the query text, the operation name and the variables' values (an argument's bounds are
//! checked against a variable's value too). The dashboard and integrators send the same few
//! requests over and over; checking all of the rules again on each cost more than the rest of a
//! small read's GraphQL work. A request kept here runs on a schema that checks only what may
//! differ from one run to the next or guards the server: fragment cycles, depth and complexity
//! (async-graphql's fast validation). A request is kept only once it was answered without any
//! error, so a refused request is checked in full every time. At most [`MAX_KEPT`] are kept, none
//! longer than [`MAX_KEPT_TEXT`] (text and variables); when full, the set is emptied and refills
//! with what is sent now. Only the SHA-256 digest is kept, never the text, and not even that for
//! a mutation or for variables holding something number-like: a caller's number (`findCaller`,
//! `callerRecord`) or a password has too few possibilities for a digest to hide it. Validation depends on nothing but the request
//! and the schema, so one set serves every clinic of one schema.

use async_graphql::Request;
use ringback_shared::redact;
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
        if request.query.len() + variables.len() > MAX_KEPT_TEXT || !safe_to_keep(request) {
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

/// Whether even a digest of `request` may be kept: not for a mutation (passwords, numbers and
/// addresses are sent to mutations), nor when a variable holds something number-like (a
/// caller's number has too few possibilities for its digest to hide it). Ids (UUIDs) and dates
/// do not count as numbers.
fn safe_to_keep(request: &Request) -> bool {
    if request.query.contains("mutation") {
        return false;
    }
    let Ok(variables) = serde_json::to_value(&request.variables) else {
        return false;
    };
    !holds_number(&variables)
}

/// Whether any string in `value` (an id aside) is number-like.
fn holds_number(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => {
            uuid::Uuid::try_parse(text).is_err() && redact::holds_number(text)
        }
        serde_json::Value::Array(items) => items.iter().any(holds_number),
        serde_json::Value::Object(fields) => fields.values().any(holds_number),
        _ => false,
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
    fn requests_with_numbers_or_mutations_are_not_kept() {
        let find = with_variables(
            "query($n: String!) { findCaller(number: $n) { callerTail } }",
            json!({ "n": "07700 900456" }),
        );
        assert!(Checked::of(&find).is_none());
        let sign_in = with_variables(
            "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p) { role } }",
            json!({ "e": "ada@clinic.test", "p": "a password" }),
        );
        assert!(Checked::of(&sign_in).is_none());
        let by_id = with_variables(
            "query($id: ID!, $f: NaiveDate!) { call(id: $id) { id } overview(from: $f) { calls } }",
            json!({ "id": "01a249fc-ef32-7312-3456-3eb780061234", "f": "2026-12-01" }),
        );
        assert!(Checked::of(&by_id).is_some(), "ids and dates are kept");
    }

    #[test]
    fn only_a_digest_is_kept() {
        let request = with_variables(
            "query($n: Int) { calls(first: $n) { edges { node { callerTail } } } }",
            json!({ "n": 5 }),
        );
        let checked = Checked::of(&request).expect("short");
        let kept = format!("{checked:?}");
        assert!(!kept.contains("calls"), "{kept}");
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
