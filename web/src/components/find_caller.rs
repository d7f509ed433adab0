//! Finding a caller by the number a receptionist has in front of them (a paper note, a patient at
//! the desk): the number goes to the server, which keys it and forgets it; what comes back is the
//! caller's masked tail, their calls and links to their conversations, never the number.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::{self, ApiError, find_caller};
use crate::components::{Alert, failure_of};
use crate::time::{ClinicTime, use_clinic_time};

/// Looking a number up.
type Lookup = Action<String, Result<find_caller::FindCallerFindCaller, ApiError>>;

/// The search form and what it found.
#[component]
pub fn FindCaller() -> impl IntoView {
    let clock = use_clinic_time();
    let number = RwSignal::new(String::new());
    let lookup: Lookup = Action::new_local(|number: &String| {
        let variables = find_caller::Variables {
            number: number.clone(),
        };
        async move {
            api::run::<api::FindCaller>(variables)
                .await
                .map(|data| data.find_caller)
        }
    });
    view! {
        <form class="inline" data-testid="find-caller" role="search"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                lookup.dispatch(number.get_untracked());
                // The number is not left on the screen.
                number.set(String::new());
            }>
            <label for="find-caller-number">"Find a caller by number"</label>
            <input id="find-caller-number" type="tel" autocomplete="off" required
                prop:value=number on:input=move |ev| number.set(event_target_value(&ev)) />
            <button type="submit" disabled=move || lookup.pending().get()>"Find"</button>
        </form>
        <Alert message=failure_of(lookup) />
        {move || lookup.value().get().and_then(Result::ok).map(|found| result(found, clock))}
    }
}

fn result(found: find_caller::FindCallerFindCaller, clock: ClinicTime) -> impl IntoView {
    if found.calls.is_empty() && found.conversations.is_empty() {
        return view! {
            <p data-testid="find-caller-none">{format!("Nothing is held for {}.", found.caller_tail)}</p>
        }
        .into_any();
    }
    let calls = found
        .calls
        .iter()
        .map(|call| {
            let what = match (call.missed, &call.direction) {
                (true, _) => "Missed call",
                (false, find_caller::Direction::OUTBOUND) => "Called back",
                (false, _) => "Answered call",
            };
            view! { <li>{what}" · "{clock.local_time(&call.started_at)}</li> }
        })
        .collect_view();
    let threads = found
        .conversations
        .iter()
        .map(|thread| {
            view! {
                <li>
                    <A href=format!("/inbox/{}", thread.id)>"Conversation"</A>
                    {format!(" · {} · last message ", thread.status)}
                    {clock.local_time(&thread.last_message_at)}
                </li>
            }
        })
        .collect_view();
    view! {
        <section data-testid="find-caller-result" data-caller-key=found.caller_key.clone()>
            <h2>{found.caller_tail.clone()}</h2>
            <ul>{calls}</ul>
            <ul>{threads}</ul>
        </section>
    }
    .into_any()
}
