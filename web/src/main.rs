//! The Ringback dashboard, a Leptos client-side app. This first page shows what the server reports
//! about itself, asked over GraphQL. Support builds (feature `number-check`) add a number check that
//! reads a phone number exactly as the server would, in the browser, without sending it anywhere.

mod api;
#[cfg(feature = "number-check")]
mod number_check;

use leptos::mount::mount_to_body;
use leptos::prelude::*;

fn main() {
    console_error_panic_hook::set_once();
    mount_to_body(App);
}

/// The page shell.
#[component]
fn App() -> impl IntoView {
    view! {
        <header>
            <h1>"Ringback"</h1>
        </header>
        <main>
            <ServerStatus />
            {number_check_panel()}
        </main>
    }
}

#[cfg(feature = "number-check")]
fn number_check_panel() -> impl IntoView {
    view! { <number_check::NumberCheck /> }
}

#[cfg(not(feature = "number-check"))]
fn number_check_panel() -> impl IntoView {}

/// What the server says about itself: version, database engine and schema version.
#[component]
fn ServerStatus() -> impl IntoView {
    let info = LocalResource::new(api::server_info);
    view! {
        <section aria-labelledby="server-heading">
            <h2 id="server-heading">"Server"</h2>
            <Suspense fallback=|| view! { <p aria-busy="true">"Asking the server…"</p> }>
                {move || info.get().map(render_server_info)}
            </Suspense>
        </section>
    }
}

fn render_server_info(result: Result<api::ServerInfo, api::ApiError>) -> AnyView {
    match result {
        Ok(info) => view! {
            <dl data-testid="server-info">
                <dt>"Version"</dt>
                <dd data-testid="server-version">{format!("{} {}", info.name, info.version)}</dd>
                <dt>"Database"</dt>
                <dd data-testid="server-database">{info.database.label()}</dd>
                <dt>"Schema"</dt>
                <dd data-testid="server-schema">{info.schema_version.unwrap_or_else(|| "not migrated".to_owned())}</dd>
                <dt>"Pending migrations"</dt>
                <dd data-testid="server-pending">{info.pending_migrations}</dd>
            </dl>
        }
        .into_any(),
        Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
    }
}
