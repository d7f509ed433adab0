//! `schema.graphql` at the repository root is the contract the dashboard and integrators build
//! against; it must match the code. Regenerate with
//! `RINGBACK_UPDATE_SCHEMA=1 cargo test -p ringback-api --test all graphql_schema`.

use std::path::Path;

#[test]
fn committed_schema_matches_the_code() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("schema.graphql");
    let generated = ringback_api::graphql::sdl();
    if std::env::var_os("RINGBACK_UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &generated).expect("write schema.graphql");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schema.graphql is stale; regenerate it with RINGBACK_UPDATE_SCHEMA=1 cargo test -p ringback-api --test all graphql_schema"
    );
}
