//! The worklist: callers waiting for a callback (missed within the attribution window), longest
//! wait first, 50 to a page, with when they called, how often, what became of their text-back and
//! whether they replied. A callback and its outcome are logged in one click; a caller who needs no
//! callback is dismissed with a reason, and the last dismissals can be undone. Where the provider
//! can place calls, "Call back" rings the staff member's phone and connects them to the caller
//! without the number ever reaching the browser; the list then refreshes every few seconds for two
//! minutes, so the caller leaves it once the callback is answered. In strict privacy mode Ringback
//! keeps no number to dial, and the page says how to call back instead. Each change runs as an
//! action; the list is keyed on their versions, so it reloads after each.

use std::cell::Cell;
use std::collections::HashMap;
use std::time::Duration;

use leptos::prelude::*;
use ringback_shared::display;
use ringback_shared::text_back::delivery_words;
use ringback_shared::worklist::DismissalReason;

use crate::api::{
    self, ApiError, dismiss_waiting_caller as dismiss, log_callback, set_my_callback_line, worklist,
};
use crate::components::{
    Alert, AsyncView, CallBack, FindCaller, PagingWords, RingingNotice, call_back_action,
    failure_of, paging, repeat_while, use_activity,
};
use crate::time::{ClinicTime, use_clinic_time};

/// Logging a callback to a caller.
type LogCallback = Action<log_callback::Variables, Result<(), ApiError>>;
/// Dismissing a caller with a reason.
type Dismiss = Action<dismiss::Variables, Result<(), ApiError>>;
/// Undoing a dismissal, by its id.
type Undo = Action<String, Result<(), ApiError>>;
/// Setting (or clearing) the phone a callback rings first.
type SetLine = Action<Option<String>, Result<(), ApiError>>;

/// How often the list refreshes while a placed callback may still be under way, and how often.
const REFRESH_EVERY: Duration = Duration::from_secs(3);
const REFRESHES_AFTER_A_CALLBACK: u32 = 40;

/// The page's changes, shared by every row, and what is typed or chosen but not yet sent (kept
/// in the page, not in the rows, so the list can reload under it without wiping it).
#[derive(Clone, Copy)]
struct Changes {
    log: LogCallback,
    dismiss: Dismiss,
    undo: Undo,
    call_back: CallBack,
    set_line: SetLine,
    /// The phone typed into the callback-line field.
    typed_line: RwSignal<String>,
    /// The dismissal reason chosen per waiting call, by call id.
    reasons: RwSignal<HashMap<String, DismissalReason>>,
}

#[component]
pub fn Worklist() -> impl IntoView {
    let clock = use_clinic_time();
    let changes = Changes {
        log: Action::new_local(|variables: &log_callback::Variables| {
            let variables = variables.clone();
            async move { api::run::<api::LogCallback>(variables).await.map(|_| ()) }
        }),
        dismiss: Action::new_local(|variables: &dismiss::Variables| {
            let variables = variables.clone();
            async move {
                api::run::<api::DismissWaitingCaller>(variables)
                    .await
                    .map(|_| ())
            }
        }),
        undo: Action::new_local(|id: &String| {
            let variables = api::undo_dismissal::Variables { id: id.clone() };
            async move { api::run::<api::UndoDismissal>(variables).await.map(|_| ()) }
        }),
        call_back: call_back_action(),
        set_line: Action::new_local(|number: &Option<String>| {
            let variables = set_my_callback_line::Variables {
                number: number.clone(),
            };
            async move {
                api::run::<api::SetMyCallbackLine>(variables)
                    .await
                    .map(|_| ())
            }
        }),
        typed_line: RwSignal::new(String::new()),
        reasons: RwSignal::new(HashMap::new()),
    };
    // Bumped while a placed callback may still be under way, so its outcome shows.
    let refresh = RwSignal::new(0_u32);
    Effect::new(move |_| {
        if matches!(changes.call_back.value().get(), Some(Ok(_))) {
            refresh_for_a_while(refresh);
        }
    });
    // Where the page starts: `None` for the longest waits, else after a cursor.
    let after = RwSignal::new(None::<String>);
    let activity = use_activity();
    let list = LocalResource::new(move || {
        activity.track();
        changes.log.version().track();
        changes.dismiss.version().track();
        changes.undo.version().track();
        changes.set_line.version().track();
        refresh.track();
        api::run::<api::Worklist>(worklist::Variables { after: after.get() })
    });
    view! {
        <h1>"Worklist"</h1>
        <p>"Callers who missed you and have not been spoken with, booked or dismissed since, longest wait first."</p>
        <FindCaller />
        <Alert message=failure_of(changes.log) />
        <Alert message=failure_of(changes.dismiss) />
        <Alert message=failure_of(changes.undo) />
        <Alert message=failure_of(changes.call_back) />
        <Alert message=failure_of(changes.set_line) />
        <RingingNotice call_back=changes.call_back />
        <AsyncView resource=list loading="Loading the worklist…" let:data>
            {page(data, clock, changes, after)}
        </AsyncView>
    }
}

/// The strict-mode note, the callers waiting (or word that nobody is), paging and dismissals.
fn page(
    data: worklist::ResponseData,
    clock: ClinicTime,
    changes: Changes,
    after: RwSignal<Option<String>>,
) -> impl IntoView {
    let strict = data.clinic.privacy_mode == "strict";
    let setup = data.call_back_setup;
    let can_call = setup.available;
    let page_info = data.worklist.page_info;
    let next = page_info.end_cursor.filter(|_| page_info.has_next_page);
    let callers: Vec<worklist::WorklistWorklistEdgesNode> = data
        .worklist
        .edges
        .into_iter()
        .map(|edge| edge.node)
        .collect();
    let on_later_page = after.with_untracked(Option::is_some);
    view! {
        {strict.then(|| view! {
            <p class="notice" data-testid="worklist-strict">
                "Strict privacy: Ringback keeps no number to dial. Call back from your phone \
                 system's call log, matching the last digits shown here, then log the outcome."
            </p>
        })}
        {can_call.then(|| callback_line(setup.my_line_tail, setup.rings_tail, changes))}
        {if callers.is_empty() && !on_later_page {
            view! { <p data-testid="worklist-empty">"Nobody is waiting. Well done."</p> }.into_any()
        } else {
            rows(callers, clock, changes, can_call).into_any()
        }}
        {paging(after, next, PagingWords {
            first: "Back to the longest waits",
            next: "Next 50",
            next_test_id: "worklist-next",
        })}
        {dismissals(data.worklist_dismissals, clock, changes.undo)}
    }
}

/// The waiting callers grouped by the clinic's day they have waited since: earlier, yesterday,
/// today. The list is longest-waiting first, so the groups keep its order.
fn rows(
    waiting: Vec<worklist::WorklistWorklistEdgesNode>,
    clock: ClinicTime,
    changes: Changes,
    can_call: bool,
) -> impl IntoView {
    let today = clock.today();
    let mut groups: [(&'static str, &'static str, Vec<_>); 3] = [
        ("Earlier", "worklist-earlier", Vec::new()),
        ("Yesterday", "worklist-yesterday", Vec::new()),
        ("Today", "worklist-today", Vec::new()),
    ];
    for caller in waiting {
        let group = match clock.day_of(&caller.first_missed_at) {
            Some(day) if day >= today => 2,
            Some(day) if day.succ_opt() == Some(today) => 1,
            _ => 0,
        };
        groups[group].2.push(caller);
    }
    let sections = groups
        .into_iter()
        .filter(|(_, _, callers)| !callers.is_empty())
        .map(|(title, test_id, callers)| {
            view! {
                <section data-testid=test_id>
                    <h2>{title}</h2>
                    {group_rows(callers, clock, changes, can_call)}
                </section>
            }
        })
        .collect_view();
    view! { <div data-testid="worklist">{sections}</div> }
}

fn group_rows(
    waiting: Vec<worklist::WorklistWorklistEdgesNode>,
    clock: ClinicTime,
    changes: Changes,
    can_call: bool,
) -> impl IntoView {
    let items = waiting
        .into_iter()
        .map(|caller| {
            let call_id = caller.call_id.clone();
            // The click handler of a button logging `status`.
            let logged = move |status: log_callback::CallStatus| {
                let call_id = call_id.clone();
                move |_: leptos::ev::MouseEvent| {
                    changes.log.dispatch(log_callback::Variables {
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
            view! {
                <li class="waiting" data-testid="worklist-row" data-caller-key=caller.caller_key.clone()>
                    <p class="caller">
                        <strong data-testid="worklist-tail">{caller.caller_tail.clone()}</strong>
                        " waiting since "{clock.local_time(&caller.first_missed_at)}
                    </p>
                    <p class="detail">
                        {calls}{attempts}" · Text-back: "{delivery_words(caller.text_back_status.as_deref(), caller.text_back_error)}
                        {caller.replied.then_some(" · Replied by text")}
                    </p>
                    {can_call.then(|| {
                        let call_id = caller.call_id.clone();
                        view! {
                            <button type="button" class="primary" data-testid="call-back"
                                disabled=move || changes.call_back.pending().get()
                                on:click=move |_| { changes.call_back.dispatch(call_id.clone()); }>
                                {format!("Call back {}", caller.caller_tail)}
                            </button>
                        }
                    })}
                    <div class="actions" role="group" aria-label=format!("Log a callback to {}", caller.caller_tail)>
                        <button type="button" data-testid="callback-answered"
                            disabled=move || changes.log.pending().get()
                            on:click=logged(log_callback::CallStatus::ANSWERED)>
                            "Called back: answered"
                        </button>
                        <button type="button" data-testid="callback-no-answer"
                            disabled=move || changes.log.pending().get()
                            on:click=logged(log_callback::CallStatus::NO_ANSWER)>
                            "Called back: no answer"
                        </button>
                    </div>
                    {dismiss_form(caller.call_id.clone(), caller.caller_tail.clone(), changes)}
                </li>
            }
        })
        .collect_view();
    view! { <ul class="worklist">{items}</ul> }
}

/// Refreshes the list every few seconds for the next two minutes, or until the page is left or
/// another callback starts its own two minutes.
fn refresh_for_a_while(refresh: RwSignal<u32>) {
    let ticks = Cell::new(0_u32);
    repeat_while(REFRESH_EVERY, move || {
        refresh.update(|n| *n = n.wrapping_add(1));
        ticks.set(ticks.get() + 1);
        ticks.get() < REFRESHES_AFTER_A_CALLBACK
    });
}

/// The phone a callback rings first, a field to choose your own, and a button to forget it. An
/// empty field saves nothing.
fn callback_line(mine: Option<String>, rings: Option<String>, changes: Changes) -> impl IntoView {
    let number = changes.typed_line;
    let set_line = changes.set_line;
    let rings = rings.map_or_else(
        || "Set the phone to ring for your callbacks.".to_owned(),
        |tail| format!("Call back rings {tail} first, then connects you to the caller."),
    );
    view! {
        <form class="inline" data-testid="callback-line"
            on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                let typed = number.get_untracked();
                if !typed.trim().is_empty() {
                    set_line.dispatch(Some(typed));
                    number.set(String::new());
                }
            }>
            <p>{rings}</p>
            <label for="callback-line">"My phone for callbacks"</label>
            <input id="callback-line" type="tel" autocomplete="tel"
                placeholder=mine.clone().unwrap_or_else(|| "e.g. 07700 900555".to_owned())
                prop:value=number on:input=move |ev| number.set(event_target_value(&ev)) />
            <button type="submit" disabled=move || set_line.pending().get()>"Save"</button>
            {mine.is_some().then(|| view! {
                " " <button type="button" data-testid="forget-callback-line"
                    disabled=move || set_line.pending().get()
                    on:click=move |_| { set_line.dispatch(None); }>
                    "Forget my phone"
                </button>
            })}
        </form>
    }
}

/// A reason to choose (kept in the page while the list reloads) and a button that takes the
/// caller off the list.
fn dismiss_form(call_id: String, tail: String, changes: Changes) -> impl IntoView {
    let dismiss = changes.dismiss;
    let reasons = changes.reasons;
    let reason = {
        let call_id = call_id.clone();
        Signal::derive(move || {
            reasons
                .with(|chosen| chosen.get(&call_id).copied())
                .unwrap_or(DismissalReason::ALL[0])
        })
    };
    let chosen_id = call_id.clone();
    let options = DismissalReason::ALL
        .into_iter()
        .map(|option| view! { <option value=option.as_str()>{option.words()}</option> })
        .collect_view();
    let label = format!("Why {tail} needs no callback");
    view! {
        <div class="actions" role="group" aria-label=format!("Dismiss {tail}")>
            <select aria-label=label data-testid="dismiss-reason"
                prop:value=move || reason.get().as_str()
                on:change=move |ev| {
                    if let Some(chosen) = DismissalReason::parse(&event_target_value(&ev)) {
                        reasons.update(|all| { all.insert(chosen_id.clone(), chosen); });
                    }
                }>
                {options}
            </select>
            <button type="button" data-testid="dismiss"
                disabled=move || dismiss.pending().get()
                on:click=move |_| {
                    dismiss.dispatch(dismiss::Variables {
                        call_id: call_id.clone(),
                        reason: wire_reason(reason.get_untracked()),
                    });
                }>
                "Dismiss"
            </button>
        </div>
    }
}

/// A reason as the mutation takes it.
fn wire_reason(reason: DismissalReason) -> dismiss::DismissalReason {
    match reason {
        DismissalReason::Spam => dismiss::DismissalReason::SPAM,
        DismissalReason::WrongNumber => dismiss::DismissalReason::WRONG_NUMBER,
        DismissalReason::NoActionNeeded => dismiss::DismissalReason::NO_ACTION_NEEDED,
        DismissalReason::HandledElsewhere => dismiss::DismissalReason::HANDLED_ELSEWHERE,
    }
}

/// A reason as the worklist query answers it, in plain words.
fn reason_words(reason: &worklist::DismissalReason) -> &'static str {
    let shared = match reason {
        worklist::DismissalReason::SPAM => DismissalReason::Spam,
        worklist::DismissalReason::WRONG_NUMBER => DismissalReason::WrongNumber,
        worklist::DismissalReason::NO_ACTION_NEEDED => DismissalReason::NoActionNeeded,
        worklist::DismissalReason::HANDLED_ELSEWHERE => DismissalReason::HandledElsewhere,
        worklist::DismissalReason::Other(_) => return "Other",
    };
    shared.words()
}

/// The last 30 days' dismissals: counts by reason, and the latest with an undo button.
fn dismissals(
    data: worklist::WorklistWorklistDismissals,
    clock: ClinicTime,
    undo: Undo,
) -> impl IntoView {
    let total: i64 = data.counts.iter().map(|c| c.count).sum();
    if total == 0 && data.latest.is_empty() {
        return ().into_any();
    }
    let counts = data
        .counts
        .iter()
        .filter(|c| c.count > 0)
        .map(|c| format!("{}: {}", reason_words(&c.reason), c.count))
        .collect::<Vec<_>>()
        .join(" · ");
    let latest = data
        .latest
        .into_iter()
        .map(|row| {
            let undone = row.undone_at.is_some();
            let id = row.id.clone();
            view! {
                <li data-testid="dismissal-row">
                    {row.caller_tail.clone()}" · "{reason_words(&row.reason)}" · "
                    {clock.local_time(&row.dismissed_at)}
                    {if undone {
                        view! { " · undone" }.into_any()
                    } else {
                        view! {
                            <button type="button" data-testid="undo-dismissal"
                                disabled=move || undo.pending().get()
                                on:click=move |_| { undo.dispatch(id.clone()); }>
                                "Undo"
                            </button>
                        }.into_any()
                    }}
                </li>
            }
        })
        .collect_view();
    view! {
        <h2>"Dismissed in the last 30 days"</h2>
        <p data-testid="dismissal-counts">{counts}</p>
        <ul class="dismissals">{latest}</ul>
    }
    .into_any()
}
