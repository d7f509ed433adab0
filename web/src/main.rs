//! The Ringback dashboard, a Leptos client-side app with real URLs: sign in, the overview of
//! recovered revenue, and the pages around it. Every page that needs a session sits behind
//! [`session::RequireSession`], which sends a signed-out visitor to sign in and back again.
//! Support builds (feature `number-check`) add a number check on the about page.

mod api;
mod chart;
#[cfg(feature = "number-check")]
mod number_check;
mod pages;
mod session;
mod time;

use leptos::mount::mount_to_body;
use leptos::prelude::*;
use leptos_router::components::{A, Route, Router, Routes};
use leptos_router::path;
use ringback_shared::access::Permission;

fn main() {
    console_error_panic_hook::set_once();
    mount_to_body(App);
}

/// The routes, inside the shell every page shares.
#[component]
fn App() -> impl IntoView {
    session::provide();
    view! {
        <Router>
            <a class="skip" href="#main">"Skip to content"</a>
            <session::Header />
            <main id="main" tabindex="-1">
                <ErrorBoundary fallback=|errors| view! { <pages::Failure errors /> }>
                    <Routes fallback=|| view! { <pages::NotFound /> }>
                        <Route path=path!("/sign-in") view=pages::sign_in::SignIn />
                        <Route path=path!("/accept-invite") view=pages::sign_in::AcceptInvite />
                        <Route path=path!("/about") view=pages::about::About />
                        <Route path=path!("/privacy") view=pages::privacy::Privacy />
                        <Route
                            path=path!("/team")
                            view=|| view! {
                                <session::RequireSession>
                                    <session::RequirePermission permission=Permission::ManageTeam>
                                        <pages::admin::Team />
                                    </session::RequirePermission>
                                </session::RequireSession>
                            }
                        />
                        <Route
                            path=path!("/api-keys")
                            view=|| view! {
                                <session::RequireSession>
                                    <session::RequirePermission permission=Permission::ManageApiKeys>
                                        <pages::admin::ApiKeys />
                                    </session::RequirePermission>
                                </session::RequireSession>
                            }
                        />
                        <Route
                            path=path!("/audit-log")
                            view=|| view! {
                                <session::RequireSession>
                                    <session::RequirePermission permission=Permission::ReadAuditLog>
                                        <pages::admin::AuditLog />
                                    </session::RequirePermission>
                                </session::RequireSession>
                            }
                        />
                        <Route
                            path=path!("/export")
                            view=|| view! {
                                <session::RequireSession>
                                    <session::RequirePermission permission=Permission::ManageSettings>
                                        <pages::export::Export />
                                    </session::RequirePermission>
                                </session::RequireSession>
                            }
                        />
                        <Route
                            path=path!("/settings/undelivered")
                            view=|| view! {
                                <session::RequireSession>
                                    <session::RequirePermission permission=Permission::ManageSettings>
                                        <pages::admin::Undelivered />
                                    </session::RequirePermission>
                                </session::RequireSession>
                            }
                        />
                        <Route
                            path=path!("/settings")
                            view=|| view! {
                                <session::RequireSession>
                                    <session::RequirePermission permission=Permission::ManageSettings>
                                        <pages::settings::Settings />
                                    </session::RequirePermission>
                                </session::RequireSession>
                            }
                        />
                        <Route
                            path=path!("/settings/attribution")
                            view=|| view! {
                                <session::RequireSession>
                                    <session::RequirePermission permission=Permission::ManageSettings>
                                        <pages::what_if::WhatIf />
                                    </session::RequirePermission>
                                </session::RequireSession>
                            }
                        />
                        <Route
                            path=path!("/inbox")
                            view=|| view! { <session::RequireSession><pages::inbox::Inbox /></session::RequireSession> }
                        />
                        <Route
                            path=path!("/inbox/:id")
                            view=|| view! { <session::RequireSession><pages::inbox::Thread /></session::RequireSession> }
                        />
                        <Route
                            path=path!("/appointments")
                            view=|| view! { <session::RequireSession><pages::appointments::Appointments /></session::RequireSession> }
                        />
                        <Route
                            path=path!("/worklist")
                            view=|| view! { <session::RequireSession><pages::worklist::Worklist /></session::RequireSession> }
                        />
                        <Route
                            path=path!("/")
                            view=|| view! { <session::RequireSession><pages::overview::Overview /></session::RequireSession> }
                        />
                    </Routes>
                </ErrorBoundary>
            </main>
            <footer>
                <A href="/privacy">"Privacy and cookies"</A>
                " · "
                <A href="/about">"About this server"</A>
            </footer>
        </Router>
    }
}
