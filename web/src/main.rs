//! The Ringback dashboard, a Leptos client-side app with real URLs: sign in, the overview of
//! recovered revenue, and the pages around it. The routes read as the app's map: the public pages
//! first, then one parent route, [`session::RequireSession`], whose children need a session (a
//! signed-out visitor is sent to sign in and back again); pages for some roles only say which
//! permission they need.
//! Support builds (feature `number-check`) add a number check on the about page.

mod api;
mod components;
mod pages;
mod session;
mod time;

use leptos::mount::mount_to_body;
use leptos::prelude::*;
use leptos_router::components::{A, ParentRoute, Route, Router, Routes};
use leptos_router::path;
use ringback_shared::access::Permission;

fn main() {
    console_error_panic_hook::set_once();
    mount_to_body(App);
}

/// Shows `page` to members whose role grants `permission`; others learn why.
fn permitted<Page, View>(
    permission: Permission,
    page: Page,
) -> impl Fn() -> AnyView + Clone + Send + 'static
where
    Page: Fn() -> View + Copy + Send + Sync + 'static,
    View: IntoView + 'static,
{
    move || {
        view! {
            <session::RequirePermission permission>{page()}</session::RequirePermission>
        }
        .into_any()
    }
}

/// The routes, inside the shell every page shares.
#[component]
fn App() -> impl IntoView {
    session::provide();
    components::provide_activity();
    view! {
        <Router>
            <components::PageName />
            <a class="skip" href="#main">"Skip to content"</a>
            <session::Header />
            <main id="main" tabindex="-1">
                <ErrorBoundary fallback=|errors| view! { <pages::Failure errors /> }>
                    <Routes fallback=|| view! { <pages::NotFound /> }>
                        <Route path=path!("/sign-in") view=pages::sign_in::SignIn />
                        <Route path=path!("/accept-invite") view=pages::sign_in::AcceptInvite />
                        <Route path=path!("/confirm-sign-up") view=pages::sign_in::ConfirmSignUp />
                        <Route path=path!("/forgot-password") view=pages::sign_in::ForgotPassword />
                        <Route path=path!("/reset-password") view=pages::sign_in::ResetPassword />
                        <Route path=path!("/about") view=pages::about::About />
                        <Route path=path!("/privacy") view=pages::privacy::Privacy />
                        <Route path=path!("/terms") view=pages::privacy::Terms />
                        <Route path=path!("/sign-up") view=pages::sign_in::SignUp />
                        <ParentRoute path=path!("") view=session::RequireSession>
                            <Route path=path!("/team") view=permitted(Permission::ManageTeam, pages::admin::Team) />
                            <Route path=path!("/api-keys") view=permitted(Permission::ManageApiKeys, pages::admin::ApiKeys) />
                            <Route path=path!("/audit-log") view=permitted(Permission::ReadAuditLog, pages::admin::AuditLog) />
                            <Route path=path!("/export") view=permitted(Permission::ManageSettings, pages::export::Export) />
                            <Route path=path!("/billing") view=permitted(Permission::ManageBilling, pages::billing::Billing) />
                            <Route path=path!("/settings/undelivered") view=permitted(Permission::ManageSettings, pages::admin::Undelivered) />
                            <Route path=path!("/settings") view=permitted(Permission::ManageSettings, pages::settings::Settings) />
                            <Route path=path!("/settings/numbers") view=permitted(Permission::ManageSettings, pages::numbers::Numbers) />
                            <Route path=path!("/settings/numbers/test-call") view=permitted(Permission::ManageSettings, pages::numbers::TestCall) />
                            <Route path=path!("/settings/privacy") view=permitted(Permission::HandlePrivacyRequests, pages::privacy_requests::PrivacyRequests) />
                            <Route path=path!("/settings/ai") view=permitted(Permission::ManageSettings, pages::ai_receptionist::AiReceptionist) />
                            <Route path=path!("/settings/attribution") view=permitted(Permission::ManageSettings, pages::what_if::WhatIf) />
                            <Route path=path!("/account") view=pages::account::Account />
                            <Route path=path!("/inbox") view=pages::inbox::Inbox />
                            <Route path=path!("/inbox/:id") view=pages::inbox::Thread />
                            <Route path=path!("/appointments") view=pages::appointments::Appointments />
                            <Route path=path!("/worklist") view=pages::worklist::Worklist />
                            <Route path=path!("/") view=pages::overview::Overview />
                        </ParentRoute>
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
