//! The worklist: callers waiting for a callback, longest-waiting first, with when they called, how
//! often, what became of their text-back and whether they replied; a callback and its outcome are
//! logged in one click. A caller whose latest miss is older than the attribution window is marked:
//! calling back still helps them, but a booking now will not count as recovered. Logging runs as
//! an action; the list is keyed on its version, so it reloads after each.

use leptos::prelude::*;
use ringback_shared::attribution::AttributionWindow;
use ringback_shared::display;
use ringback_shared::text_back::status_words;

use crate::api::{self, ApiError, log_callback, worklist};
use crate::components::{Alert, AsyncView, failure_of};
use crate::time::{ClinicTime, now, use_clinic_time};

/// Logging a callback to a caller.
type LogCallback = Action<log_callback::Variables, Result<(), ApiError>>;

#[component]
pub fn Worklist() -> impl IntoView {
    let clock = use_clinic_time();
    let log: LogCallback = Action::new_local(|variables: &log_callback::Variables| {
        let variables = variables.clone();
        async move { api::run::<api::LogCallback>(variables).await.map(|_| ()) }
    });
    let logged = log.version();
    let list = LocalResource::new(move || {
        logged.track();
        api::run::<api::Worklist>(worklist::Variables)
    });
    view! {
        <h1>"Worklist"</h1>
        <p>"Callers who missed you and have not been spoken with since, longest wait first."</p>
        <Alert message=failure_of(log) />
        <AsyncView resource=list loading="Loading the worklist…" let:data>
            {waiting(data, clock, log)}
        </AsyncView>
    }
}

/// The callers waiting, or word that nobody is.
fn waiting(data: worklist::ResponseData, clock: ClinicTime, log: LogCallback) -> AnyView {
    if data.worklist.is_empty() {
        return view! { <p data-testid="worklist-empty">"Nobody is waiting. Well done."</p> }
            .into_any();
    }
    let window = u32::try_from(data.clinic.attribution_window_days)
        .ok()
        .and_then(|days| AttributionWindow::from_days(days).ok())
        .unwrap_or_default();
    rows(data.worklist, clock, window, log).into_any()
}

fn rows(
    waiting: Vec<worklist::WorklistWorklist>,
    clock: ClinicTime,
    window: AttributionWindow,
    log: LogCallback,
) -> impl IntoView {
    let items = waiting
        .into_iter()
        .map(|caller| {
            let call_id = caller.call_id.clone();
            // The click handler of a button logging `status`.
            let logged = move |status: log_callback::CallStatus| {
                let call_id = call_id.clone();
                move |_: leptos::ev::MouseEvent| {
                    log.dispatch(log_callback::Variables {
                        call_id: call_id.clone(),
                        status: status.clone(),
                    });
                }
            };
            let calls = display::count(caller.missed_calls, "missed call", "missed calls");
            let attempts = (caller.callback_attempts > 0).then(|| {
                let attempts = caller.callback_attempts;
                format!(", {}", display::count(attempts, "unanswered callback", "unanswered callbacks"))
            });
            let past_window = chrono::DateTime::parse_from_rfc3339(&caller.latest_missed_at)
                .is_ok_and(|missed| !window.covers(missed.to_utc(), now()));
            view! {
                <li class="waiting" data-testid="worklist-row" data-caller-key=caller.caller_key.clone()>
                    <p class="caller">
                        <strong data-testid="worklist-tail">{caller.caller_tail.clone()}</strong>
                        " waiting since "{clock.local_time(&caller.first_missed_at)}
                    </p>
                    <p class="detail">
                        {calls}{attempts}" · Text-back: "{status_words(caller.text_back_status.as_deref())}
                        {caller.replied.then_some(" · Replied by text")}
                    </p>
                    {past_window.then(|| view! {
                        <p class="detail" data-testid="worklist-past-window">
                            {format!(
                                "Missed more than {} days ago: worth a call, but a booking now will not count as recovered.",
                                window.days()
                            )}
                        </p>
                    })}
                    <div class="actions" role="group" aria-label=format!("Log a callback to {}", caller.caller_tail)>
                        <button type="button" data-testid="callback-answered"
                            on:click=logged(log_callback::CallStatus::ANSWERED)>
                            "Called back: answered"
                        </button>
                        <button type="button" data-testid="callback-no-answer"
                            on:click=logged(log_callback::CallStatus::NO_ANSWER)>
                            "Called back: no answer"
                        </button>
                    </div>
                </li>
            }
        })
        .collect_view();
    view! { <ul class="worklist" data-testid="worklist">{items}</ul> }
}
