//! About this server: version, database engine and schema, as the API reports them. Public, so
//! that an operator can check a deployment before anyone signs in.

use leptos::prelude::*;

use crate::api::{self, server_info};
use crate::components::AsyncView;

#[component]
pub fn About() -> impl IntoView {
    let info = LocalResource::new(|| api::run::<api::ServerInfo>(server_info::Variables));
    view! {
        <h1>"About this server"</h1>
        <section aria-labelledby="server-heading">
            <h2 id="server-heading">"Server"</h2>
            <AsyncView resource=info loading="Asking the server…" let:data>
                {facts(data.server_info)}
            </AsyncView>
        </section>
        {number_check_panel()}
    }
}

fn facts(info: server_info::ServerInfoServerInfo) -> impl IntoView {
    let database = match info.database {
        server_info::DatabaseEngine::SQLITE => "SQLite".to_owned(),
        server_info::DatabaseEngine::POSTGRESQL => "PostgreSQL".to_owned(),
        server_info::DatabaseEngine::Other(other) => other,
    };
    view! {
        <dl data-testid="server-info">
            <dt>"Version"</dt>
            <dd data-testid="server-version">{format!("{} {}", info.name, info.version)}</dd>
            <dt>"Database"</dt>
            <dd data-testid="server-database">{database}</dd>
            <dt>"Schema"</dt>
            <dd data-testid="server-schema">{info.schema_version.unwrap_or_else(|| "not migrated".to_owned())}</dd>
            <dt>"Pending migrations"</dt>
            <dd data-testid="server-pending">{info.pending_migrations}</dd>
        </dl>
    }
}

#[cfg(feature = "number-check")]
fn number_check_panel() -> impl IntoView {
    view! { <crate::components::number_check::NumberCheck /> }
}

#[cfg(not(feature = "number-check"))]
fn number_check_panel() -> impl IntoView {}
