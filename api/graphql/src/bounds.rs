//! Bounds on one request's shape beyond depth and complexity, checked as soon as it is parsed and
//! before anything runs ([`check_request`], which [`crate::execute`] calls): at most
//! [`MAX_ROOT_FIELDS`] root fields per operation (each may reach the database, and root query
//! fields resolve side by side, so this bounds a request's parallelism) and at most
//! [`MAX_ALIASES`] aliases in the document (aliases are how one request repeats a cheap field
//! hundreds of times). A refusal is `BAD_USER_INPUT`, saying which bound.

use std::collections::HashMap;

use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Pos, Positioned, Request, ServerError, ServerResult};

use crate::error::{DomainError, to_graphql};

/// Most root fields one operation may select (fragments included).
pub const MAX_ROOT_FIELDS: usize = 20;
/// Most aliases one document may use.
pub const MAX_ALIASES: usize = 30;
/// How deep fragments may nest while counting (a cycle is refused by validation later).
const MAX_FRAGMENT_NESTING: usize = 16;

type Fragments = HashMap<Name, Positioned<FragmentDefinition>>;

/// Parses `request` (the parsed document stays in it, so execution does not parse it again; a
/// text parsed before is not parsed again at all, see [`crate::documents`]) and refuses it when it
/// breaks a bound. Not a schema extension: any extension sends every field of every answer through
/// async-graphql's slower path (a registry lookup and an extension chain per field).
pub fn check_request(request: &mut Request) -> ServerResult<()> {
    check(crate::documents::parse(request)?)
}

/// Refuses `document` when it breaks a bound.
fn check(document: &ExecutableDocument) -> ServerResult<()> {
    for (_, operation) in document.operations.iter() {
        let roots = root_fields(&operation.node.selection_set.node, &document.fragments, 0);
        if roots > MAX_ROOT_FIELDS {
            return Err(refusal(format!(
                "an operation may select at most {MAX_ROOT_FIELDS} root fields; this one selects {roots}"
            )));
        }
    }
    let aliases: usize = document
        .operations
        .iter()
        .map(|(_, operation)| aliases_in(&operation.node.selection_set.node))
        .chain(
            document
                .fragments
                .values()
                .map(|fragment| aliases_in(&fragment.node.selection_set.node)),
        )
        .sum();
    if aliases > MAX_ALIASES {
        return Err(refusal(format!(
            "a request may use at most {MAX_ALIASES} aliases; this one uses {aliases}"
        )));
    }
    Ok(())
}

/// The fields `set` selects at its own level, through fragments too.
fn root_fields(set: &SelectionSet, fragments: &Fragments, nesting: usize) -> usize {
    if nesting > MAX_FRAGMENT_NESTING {
        return 0;
    }
    set.items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(_) => 1,
            Selection::InlineFragment(inline) => {
                root_fields(&inline.node.selection_set.node, fragments, nesting + 1)
            }
            Selection::FragmentSpread(spread) => fragments
                .get(&spread.node.fragment_name.node)
                .map_or(0, |fragment| {
                    root_fields(&fragment.node.selection_set.node, fragments, nesting + 1)
                }),
        })
        .sum()
}

/// The aliased fields in `set` and below (fragment definitions are counted once, on their own).
fn aliases_in(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + aliases_in(&field.node.selection_set.node)
            }
            Selection::InlineFragment(inline) => aliases_in(&inline.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

fn refusal(message: String) -> ServerError {
    to_graphql(&DomainError::BadUserInput(message)).into_server_error(Pos::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(query: &str) -> ServerResult<()> {
        check(&async_graphql::parser::parse_query(query).expect("parses"))
    }

    #[test]
    fn root_fields_and_aliases_are_bounded() {
        let fields = |n: usize| {
            (0..n)
                .map(|i| format!("a{i}: serverInfo {{ name }}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert!(checked(&format!("{{ {} }}", fields(MAX_ROOT_FIELDS))).is_ok());
        let too_many = checked(&format!("{{ {} }}", fields(MAX_ROOT_FIELDS + 1)));
        assert!(too_many.is_err_and(|e| e.message.contains("root fields")));
        let through_fragment = format!(
            "query {{ ...Many }} fragment Many on QueryRoot {{ {} }}",
            fields(MAX_ROOT_FIELDS + 1)
        );
        assert!(checked(&through_fragment).is_err());
        let nested = (0..=MAX_ALIASES)
            .map(|i| format!("n{i}: name"))
            .collect::<Vec<_>>()
            .join(" ");
        let aliased = checked(&format!("{{ serverInfo {{ {nested} }} }}"));
        assert!(aliased.is_err_and(|e| e.message.contains("aliases")));
    }
}
