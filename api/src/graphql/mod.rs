//! The GraphQL schema: per-domain query objects merged into one root, with depth and complexity
//! limits so that no single request can monopolise the server.

mod server_info;

use async_graphql::{EmptyMutation, EmptySubscription, MergedObject, Schema};

use crate::state::AppState;

pub use server_info::{DatabaseEngine, ServerInfo};

/// The merged root query.
#[derive(MergedObject, Default)]
pub struct QueryRoot(server_info::ServerInfoQuery);

/// The schema type served at `/graphql`.
pub type RingbackSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

/// Deepest query nesting accepted.
pub const MAX_DEPTH: usize = 12;
/// Highest query complexity accepted.
pub const MAX_COMPLEXITY: usize = 500;

/// Builds the schema with the application state available to resolvers.
pub fn build_schema(state: AppState) -> RingbackSchema {
    Schema::build(QueryRoot::default(), EmptyMutation, EmptySubscription)
        .data(state)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
}

/// The schema in SDL, as committed in `schema.graphql` at the repository root.
pub fn sdl() -> String {
    Schema::build(QueryRoot::default(), EmptyMutation, EmptySubscription)
        .finish()
        .sdl()
}
