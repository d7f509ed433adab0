//! "Call back": asks the server to ring the staff member's phone and connect them to a missed
//! caller (the number never comes to the browser), and the line that says which phone is ringing.

use leptos::prelude::*;

use crate::api::{self, ApiError, call_back};

/// Placing a callback for a missed call, by its id; the tail of the phone that rings.
pub type CallBack = Action<String, Result<String, ApiError>>;

/// A fresh "Call back" action.
pub fn call_back_action() -> CallBack {
    Action::new_local(|call_id: &String| {
        let variables = call_back::Variables {
            call_id: call_id.clone(),
        };
        async move {
            api::run::<api::CallBack>(variables)
                .await
                .map(|data| data.call_back.ringing_tail)
        }
    })
}

/// Which phone is ringing after the last successful "Call back".
#[component]
pub fn RingingNotice(call_back: CallBack) -> impl IntoView {
    move || {
        call_back.value().get().and_then(Result::ok).map(|tail| {
            view! {
                <p class="notice" role="status" data-testid="call-back-ringing">
                    {format!("Ringing {tail}: answer it to be connected to the caller.")}
                </p>
            }
        })
    }
}
