//! Parsed query documents kept by their text. The dashboard and integrators send the same few
//! queries over and over; parsing one again on every request cost more than copying its parsed
//! form. Only documents that parsed are kept, at most [`MAX_KEPT`] of them and none longer than
//! [`MAX_KEPT_TEXT`]; when full, the set is emptied and refills with what is sent now. A document
//! with a string, a comment or a number-like run in it (`eraseCaller(number: "07700 900456")`)
//! is never kept: its text and parsed form would keep a caller's number, an address or a password
//! in memory after its request (values are sent as variables by the dashboard and by integrators
//! that follow the README). A document depends on nothing but its text, so one set serves every
//! clinic.

use std::sync::{Arc, LazyLock};

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, ServerResult};

use ringback_shared::redact::holds_number;

use crate::kept::Kept;

/// Most documents kept at once.
pub const MAX_KEPT: usize = 128;
/// Longest query text kept, in bytes.
pub const MAX_KEPT_TEXT: usize = 8 * 1024;

static KEPT: LazyLock<Kept<String, Arc<ExecutableDocument>>> =
    LazyLock::new(|| Kept::new(MAX_KEPT));

/// Gives `request` its parsed document, from the kept set when its text was parsed before.
pub fn parse(request: &mut Request) -> ServerResult<&ExecutableDocument> {
    match KEPT.get(request.query.as_str()) {
        Some(document) => request.set_parsed_query(ExecutableDocument::clone(&document)),
        None if request.query.len() <= MAX_KEPT_TEXT && may_keep(&request.query) => {
            let document = Arc::new(request.parsed_query()?.clone());
            KEPT.keep(request.query.clone(), document);
        }
        None => {}
    }
    request.parsed_query()
}

/// Whether `text` holds nothing that may be personal: no string, no comment, and no number-like
/// run (a number written without quotes, `callerRecord(number: 447700900456)`, still parses).
fn may_keep(text: &str) -> bool {
    !text.contains('"') && !text.contains('#') && !holds_number(text)
}

#[cfg(test)]
mod tests {
    use std::sync::{Mutex, MutexGuard};

    use super::*;

    /// The tests share the one set, and one of them fills and empties it.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

    fn one_at_a_time() -> MutexGuard<'static, ()> {
        ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn is_kept(text: &str) -> bool {
        KEPT.get(text).is_some()
    }

    #[test]
    fn a_document_parsed_once_is_reused_as_it_was_parsed() {
        let _turn = one_at_a_time();
        let text = "query Kept($n: Int) { calls(first: $n) { edges { node { id ...F } } } } \
                    fragment F on Call { missed callerTail }";
        let first = format!("{:?}", parse(&mut Request::new(text)).expect("parses"));
        assert!(is_kept(text));
        let again = format!("{:?}", parse(&mut Request::new(text)).expect("kept"));
        assert_eq!(again, first);
    }

    #[test]
    fn refused_and_long_texts_are_not_kept() {
        let _turn = one_at_a_time();
        let broken = "{ calls(first: 5) { edges ";
        assert!(parse(&mut Request::new(broken)).is_err());
        assert!(!is_kept(broken));
        let long = format!("{{ {} }}", "__typename ".repeat(MAX_KEPT_TEXT / 10));
        assert!(parse(&mut Request::new(long.as_str())).is_ok());
        assert!(!is_kept(&long));
    }

    #[test]
    fn a_document_with_a_string_in_it_is_not_kept() {
        let _turn = one_at_a_time();
        let literal = "mutation { eraseCaller(number: \"07700 900456\") { callsUnlinked } }";
        assert!(parse(&mut Request::new(literal)).is_ok());
        assert!(!is_kept(literal), "a caller's number stays in no set");
        for bare in [
            "{ callerRecord(number: 447700900456) { callerTail } }",
            "{ clinic { name } } # ring 07700 900456",
        ] {
            let _ = parse(&mut Request::new(bare));
            assert!(!is_kept(bare), "{bare}");
        }
    }

    #[test]
    fn a_full_set_starts_again() {
        let _turn = one_at_a_time();
        for n in 0..=MAX_KEPT {
            let text = format!("{{ fill{n}: __typename }}");
            parse(&mut Request::new(text.as_str())).expect("parses");
        }
        assert!(KEPT.len() <= MAX_KEPT);
        assert!(is_kept(&format!("{{ fill{MAX_KEPT}: __typename }}")));
    }
}
