//! Signing in: e-mail and password; on success the user goes back to where they were sent from
//! (`?next=`), or to the overview.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api::{self, me};
use crate::session::{safe_next, use_session};

#[component]
pub fn SignIn() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let query = use_query_map();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let navigate = navigate.clone();
        let next = safe_next(query.get_untracked().get("next"));
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let signed_in = async {
                api::sign_in(email.get_untracked(), password.get_untracked()).await?;
                api::run::<api::Me>(me::Variables).await
            };
            match signed_in.await {
                Ok(data) => {
                    session.member.set(Some(data.me));
                    navigate(&next, NavigateOptions::default());
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
            busy.set(false);
        });
    };
    view! {
        <h1>"Sign in"</h1>
        <form class="sign-in" on:submit=submit>
            <label for="email">"E-mail"</label>
            <input id="email" name="email" type="email" autocomplete="username" required
                prop:value=email on:input=move |ev| email.set(event_target_value(&ev)) />
            <label for="password">"Password"</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required
                prop:value=password on:input=move |ev| password.set(event_target_value(&ev)) />
            {move || error.get().map(|message| view! { <p class="error" role="alert" data-testid="sign-in-error">{message}</p> })}
            <button type="submit" data-testid="sign-in" disabled=move || busy.get()>
                {move || if busy.get() { "Signing in…" } else { "Sign in" }}
            </button>
        </form>
    }
}
