//! The signed-in member's own account: deleting it (see `components::DeleteAccount`).

use leptos::prelude::*;

use crate::components::DeleteAccount;

#[component]
pub fn Account() -> impl IntoView {
    view! {
        <h1>"Your account"</h1>
        <DeleteAccount />
    }
}
