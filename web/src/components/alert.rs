//! The one way a page says something went wrong: a line read out as an alert, fed by a message
//! or by the last run of a change.

use leptos::prelude::*;

use crate::api::ApiError;

/// `message` as an alert line; nothing while there is none.
#[component]
pub fn Alert(
    #[prop(into)] message: Signal<Option<String>>,
    /// What end-to-end tests find the line by, where they look for it.
    #[prop(optional)]
    test_id: Option<&'static str>,
) -> impl IntoView {
    move || {
        message.get().map(|message| {
            view! { <p class="error" role="alert" data-testid=test_id>{message}</p> }
        })
    }
}

/// The failure of `change`'s last run, for an [`Alert`]; nothing once a run succeeds.
pub fn failure_of<I: 'static, T: 'static>(
    change: Action<I, Result<T, ApiError>>,
) -> Signal<Option<String>> {
    let outcome = change.value();
    Signal::derive(move || {
        outcome.with(|outcome| match outcome {
            Some(Err(error)) => Some(error.to_string()),
            _ => None,
        })
    })
}
