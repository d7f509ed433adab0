//! The dashboard's pages, one module each, and the two every app needs: not found and failure.

pub mod about;
pub mod account;
pub mod admin;
pub mod ai_receptionist;
pub mod appointments;
pub mod billing;
pub mod calendar;
pub mod export;
pub mod inbox;
pub mod numbers;
pub mod overview;
pub mod privacy;
pub mod privacy_requests;
pub mod settings;
pub mod sign_in;
pub mod what_if;
pub mod worklist;

use leptos::prelude::*;
use leptos_router::components::A;

/// A URL the dashboard does not know.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <h1>"Page not found"</h1>
        <p><A href="/">"Back to the overview"</A></p>
    }
}

/// What a page shows when rendering it failed, instead of a blank screen.
#[component]
pub fn Failure(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <div role="alert" class="error">
            <h1>"Something went wrong"</h1>
            <ul>
                {move || errors.get().into_iter().map(|(_, error)| view! { <li>{error.to_string()}</li> }).collect_view()}
            </ul>
        </div>
    }
}
