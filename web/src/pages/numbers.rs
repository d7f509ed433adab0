//! Phone numbers (admins and owners): the clinic's texting numbers (released from here when they
//! were got here, otherwise no longer used here, the number staying in the account), the line calls ring through to first, getting a number (searched among those
//! Twilio sells in the clinic's country, with the country's texting rules said plainly, and bought
//! with its webhooks set in the same step) or using one the account already has; and the guided
//! test call, which waits for the call to arrive and shows its text-back going out. Whatever
//! changes where calls go (stopping the forwarding, taking a number whose calls go elsewhere) is
//! asked once more first; the forwarding line typed is cleared once saved (only its tail is shown).

use std::time::Duration;

use leptos::prelude::*;
use leptos_router::components::A;
use ringback_shared::text_back::delivery_words;

use crate::api::{
    self, ApiError, account_numbers, buy_number, numbers_for_sale, numbers_page, release_number,
    remove_number, set_forwarding_line, test_call, use_account_number,
};
use crate::components::{Alert, AsyncView, failure_of, repeat_while};
use crate::time::use_clinic_time;

/// A change to the clinic's numbers.
#[derive(Clone, Debug)]
enum NumberChange {
    Buy(String),
    Use(String),
    Release(String),
    /// No longer the clinic's; the number stays in the Twilio account.
    Remove(String),
    Forward(Option<String>),
}

/// A change made: whether it set the forwarding line, and what changed in words.
#[derive(Clone)]
struct Changed {
    forwarding: bool,
    words: String,
}

/// Makes `change` and says what changed.
async fn change_numbers(change: NumberChange) -> Result<Changed, ApiError> {
    let forwarding = matches!(change, NumberChange::Forward(_));
    let words = change_words(change).await?;
    Ok(Changed { forwarding, words })
}

/// Makes `change` and says what changed, in words.
async fn change_words(change: NumberChange) -> Result<String, ApiError> {
    Ok(match change {
        NumberChange::Buy(number) => {
            let bought = api::run::<api::BuyNumber>(buy_number::Variables { number }).await?;
            format!(
                "{} is yours: its calls and texts now come here.",
                bought.buy_number.display
            )
        }
        NumberChange::Use(sid) => {
            let taken =
                api::run::<api::UseAccountNumber>(use_account_number::Variables { sid }).await?;
            format!(
                "{} is the {}'s: its calls and texts now come here.",
                taken.use_account_number.display,
                crate::session::place_word()
            )
        }
        NumberChange::Release(id) => {
            api::run::<api::ReleaseNumber>(release_number::Variables { id }).await?;
            "The number is released: it no longer rings here or costs anything.".to_owned()
        }
        NumberChange::Remove(id) => {
            api::run::<api::RemoveNumber>(remove_number::Variables { id }).await?;
            format!(
                "The number is no longer the {}'s: its calls and texts no longer reach you here.",
                crate::session::place_word()
            )
        }
        NumberChange::Forward(number) => {
            let cleared = number.is_none();
            let saved =
                api::run::<api::SetForwardingLine>(set_forwarding_line::Variables { number })
                    .await?;
            match saved.set_forwarding_line.forwarding_line_tail {
                Some(tail) if !cleared => {
                    format!("Calls now ring through to {tail} before they count as missed.")
                }
                _ => "No forwarding line: callers hear that they will be texted back.".to_owned(),
            }
        }
    })
}

type Change = Action<NumberChange, Result<Changed, ApiError>>;

/// Makes `then` once the admin agrees to `question` (the browser's own dialog): for changes to
/// where calls go.
fn asked_first(change: Change, question: &str, then: NumberChange) {
    if window().confirm_with_message(question).unwrap_or(false) {
        change.dispatch(then);
    }
}

/// What the last change did, as a status line.
fn changed_line(change: Change) -> impl IntoView {
    let outcome = change.value();
    move || {
        outcome.with(|outcome| match outcome {
            Some(Ok(said)) => {
                Some(view! { <p class="confirmation" role="status" data-testid="numbers-changed">{said.words.clone()}</p> })
            }
            _ => None,
        })
    }
}

#[component]
pub fn Numbers() -> impl IntoView {
    let change: Change = Action::new_local(|change: &NumberChange| change_numbers(change.clone()));
    let changed = change.version();
    let page = LocalResource::new(move || {
        changed.track();
        api::run::<api::NumbersPage>(numbers_page::Variables)
    });
    // Outside the list that reloads with each change, so a refused line stays as typed.
    let typed_line = RwSignal::new(String::new());
    let outcome = change.value();
    Effect::new(move |_| {
        if outcome.with(|outcome| matches!(outcome, Some(Ok(done)) if done.forwarding)) {
            typed_line.set(String::new());
        }
    });
    view! {
        <h1>"Phone numbers"</h1>
        {changed_line(change)}
        <Alert message=failure_of(change) test_id="numbers-error" />
        <AsyncView resource=page loading="Loading your numbers…" let:data>
            {held_numbers(data.provider_numbers, change)}
            {forwarding_line(data.phone_settings.forwarding_line_tail, typed_line, change)}
        </AsyncView>
        <GetNumber change />
        <AccountNumbers change />
    }
}

/// The clinic's numbers: each released when it was got here, otherwise removed (it stays in the
/// account, for the one who brought it).
fn held_numbers(
    numbers: Vec<numbers_page::NumbersPageProviderNumbers>,
    change: Change,
) -> impl IntoView {
    let none = numbers.is_empty();
    view! {
        <section>
            <h2>"Your Ringback numbers"</h2>
            {none.then(|| view! { <p>"No number yet: get one below. Callers ring it, and text-backs come from it."</p> })}
            <ul class="numbers" data-testid="held-numbers">
                {numbers.into_iter().map(|number| {
                    let id = number.id.clone();
                    let label = format!("Release {}", number.display);
                    let remove_label = format!("Stop using {}", number.display);
                    let remove_id = number.id.clone();
                    view! {
                        <li data-testid="held-number">
                            <strong>{number.display.clone()}</strong>
                            {number.provisioned.then(|| view! {
                                " "<button type="button" aria-label=label data-testid="release-number"
                                    on:click=move |_| asked_first(
                                        change,
                                        "Release this number? Callers who ring it will no longer reach you.",
                                        NumberChange::Release(id.clone()),
                                    )>"Release"</button>
                            })}
                            {(!number.provisioned).then(|| view! {
                                " "<button type="button" aria-label=remove_label data-testid="remove-number"
                                    on:click=move |_| asked_first(
                                        change,
                                        "Stop using this number here? Callers who ring it will no longer reach you. It stays in the Twilio account, held for you for 90 days (nobody else on Ringback can take it; you can take it back).",
                                        NumberChange::Remove(remove_id.clone()),
                                    )>"Stop using"</button>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ul>
            {(!none).then(|| view! {
                <p><A href="/settings/numbers/test-call" attr:data-testid="to-test-call">"Place a test call"</A></p>
            })}
        </section>
    }
}

/// The line calls ring through to before they count as missed.
fn forwarding_line(tail: Option<String>, typed: RwSignal<String>, change: Change) -> impl IntoView {
    let busy = change.pending();
    let stop = move |_| {
        asked_first(
            change,
            "Stop forwarding? Calls will no longer ring your staff: every call counts as missed and is texted back.",
            NumberChange::Forward(None),
        )
    };
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        change.dispatch(NumberChange::Forward(Some(typed.get_untracked())));
    };
    let current = tail.clone().map_or_else(
        || "None yet: calls are not forwarded, and every call counts as missed.".to_owned(),
        |tail| format!("Now: {tail}"),
    );
    view! {
        <form class="settings" id="forwarding" on:submit=save>
            <fieldset>
                <legend>"Forwarding line"</legend>
                <p>"Calls to your Ringback number ring this phone first; unanswered, they count as missed and are texted back."</p>
                <p data-testid="forwarding-now">{current}</p>
                <label for="forwarding-line">{format!("Your {}'s phone", crate::session::place_word())}</label>
                <input id="forwarding-line" type="tel" autocomplete="tel" data-testid="forwarding-line" required
                    prop:value=typed on:input=move |ev| typed.set(event_target_value(&ev)) />
                <button type="submit" data-testid="save-forwarding" disabled=busy>"Save the forwarding line"</button>
                {tail.is_some().then(|| view! {
                    " "<button type="button" data-testid="stop-forwarding" disabled=busy on:click=stop>"Stop forwarding"</button>
                })}
            </fieldset>
        </form>
    }
}

/// Searching the numbers Twilio sells in the clinic's country, and buying one.
#[component]
fn GetNumber(change: Change) -> impl IntoView {
    let contains = RwSignal::new(String::new());
    let area_code = RwSignal::new(String::new());
    let locality = RwSignal::new(String::new());
    let search = Action::new_local(move |_: &()| {
        let optional = |text: String| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
        let variables = numbers_for_sale::Variables {
            contains: optional(contains.get_untracked()),
            area_code: optional(area_code.get_untracked()),
            locality: optional(locality.get_untracked()),
        };
        api::run::<api::NumbersForSale>(variables)
    });
    let offer = search.value();
    let local = move || {
        offer.with(|offer| {
            matches!(offer, Some(Ok(found)) if found.numbers_for_sale.kind == numbers_for_sale::TextingNumberKind::LOCAL)
        })
    };
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        search.dispatch(());
    };
    view! {
        <form class="settings" on:submit=submit>
            <fieldset>
                <legend>"Get a number"</legend>
                <label for="number-contains">"Digits it should contain (optional)"</label>
                <input id="number-contains" inputmode="numeric" prop:value=contains
                    on:input=move |ev| contains.set(event_target_value(&ev)) />
                <Show when=local>
                    <label for="number-area-code">"Area code (optional)"</label>
                    <input id="number-area-code" inputmode="numeric" prop:value=area_code
                        on:input=move |ev| area_code.set(event_target_value(&ev)) />
                    <label for="number-locality">"Town or city (optional)"</label>
                    <input id="number-locality" autocomplete="address-level2" prop:value=locality
                        on:input=move |ev| locality.set(event_target_value(&ev)) />
                </Show>
                <button type="submit" data-testid="search-numbers">"Find numbers"</button>
            </fieldset>
        </form>
        <Alert message=failure_of(search) />
        {move || offer.get().and_then(Result::ok).map(|found| for_sale(found.numbers_for_sale, change))}
    }
}

/// The numbers found, with the country's texting rules.
fn for_sale(
    found: numbers_for_sale::NumbersForSaleNumbersForSale,
    change: Change,
) -> impl IntoView {
    let rule = found.registration.map(|rule| {
        view! {
            <p class="notice" data-testid="texting-rules">
                {rule}" "<a href=found.console_url.clone() target="_blank" rel="noopener">"Twilio's console"</a>
            </p>
        }
    });
    let none = found.numbers.is_empty();
    view! {
        <section data-testid="numbers-for-sale">
            {rule}
            {none.then(|| view! { <p>"No number matches; try other digits."</p> })}
            <ul class="numbers">
                {found.numbers.into_iter().map(|number| {
                    let place = number.locality.map(|place| format!(" ({place})")).unwrap_or_default();
                    let label = format!("Buy {}", number.display);
                    let chosen = number.number.clone();
                    let question = format!(
                        "Buy {}? Twilio charges your account for it every month until it is released.",
                        number.display
                    );
                    view! {
                        <li>
                            {number.display.clone()}{place}" "
                            <button type="button" aria-label=label.clone() data-testid="buy-number"
                                disabled=move || change.pending().get()
                                on:click=move |_| {
                                    if window().confirm_with_message(&question).unwrap_or(false) {
                                        change.dispatch(NumberChange::Buy(chosen.clone()));
                                    }
                                }>
                                "Buy"
                            </button>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}

/// The account's numbers no clinic uses, to take one.
#[component]
fn AccountNumbers(change: Change) -> impl IntoView {
    let list =
        Action::new_local(|_: &()| api::run::<api::AccountNumbers>(account_numbers::Variables));
    let listed = list.value();
    view! {
        <section>
            <h2>"Use a number you already have"</h2>
            <p>"A number already in this deployment's Twilio account can be pointed here instead of buying one."</p>
            <button type="button" on:click=move |_| { list.dispatch(()); }>"List the account's numbers"</button>
            <Alert message=failure_of(list) />
            {move || listed.get().and_then(Result::ok).map(|found| {
                let none = found.account_numbers.is_empty();
                view! {
                    {none.then(|| view! { <p>"Every number of the account is in use."</p> })}
                    <ul class="numbers">
                        {found.account_numbers.into_iter().map(|number| {
                            let sid = number.sid.clone();
                            let elsewhere = number.pointed_elsewhere;
                            let warning = elsewhere
                                .then_some(" (its calls now go elsewhere; using it points them here)");
                            let usable = number.can_text;
                            let question = format!(
                                "Use {}? Its calls and texts now go elsewhere; from now on they come here instead.",
                                number.display
                            );
                            let take = move |_| {
                                let sure = !elsewhere
                                    || window().confirm_with_message(&question).unwrap_or(false);
                                if sure {
                                    change.dispatch(NumberChange::Use(sid.clone()));
                                }
                            };
                            view! {
                                <li>
                                    {number.display.clone()}{warning}" "
                                    {if usable {
                                        view! { <button type="button" disabled=change.pending() on:click=take>"Use"</button> }.into_any()
                                    } else {
                                        view! { <span class="hint">"Cannot send texts, so it cannot text callers back"</span> }.into_any()
                                    }}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }
            })}
        </section>
    }
}

/// Seconds between two looks for the test call.
const POLL_SECONDS: u64 = 3;
/// Looks after which the page says what to check (two minutes).
const POLLS_BEFORE_HINTS: u32 = 40;

/// The guided test call: the owner rings the number and lets it ring out; the page looks every few
/// seconds, shows the call arriving and its text-back going out, and after two minutes without a
/// call says what to check, with the webhooks refused lately.
#[component]
pub fn TestCall() -> impl IntoView {
    let polls = RwSignal::new(0u32);
    let baseline = RwSignal::new(None::<Option<String>>);
    let state = LocalResource::new(move || {
        polls.track();
        api::run::<api::TestCall>(test_call::Variables)
    });
    keep_polling(polls);
    view! {
        <h1>"Test call"</h1>
        <AsyncView resource=state loading="Getting ready…" let:data>
            {test_call_view(data, baseline, polls.get_untracked())}
        </AsyncView>
    }
}

/// Bumps `polls` every few seconds while the page is open.
fn keep_polling(polls: RwSignal<u32>) {
    repeat_while(Duration::from_secs(POLL_SECONDS), move || {
        polls.try_update(|n| *n = n.wrapping_add(1)).is_some()
    });
}

fn test_call_view(
    data: test_call::ResponseData,
    baseline: RwSignal<Option<Option<String>>>,
    polls: u32,
) -> impl IntoView {
    let clock = use_clinic_time();
    let latest = data.calls.edges.into_iter().next().map(|edge| edge.node);
    let latest_id = latest.as_ref().map(|call| call.id.clone());
    if baseline.get_untracked().is_none() {
        baseline.set(Some(latest_id.clone()));
    }
    let arrived = latest.filter(|call| Some(Some(call.id.clone())) != baseline.get_untracked());
    let Some(number) = data
        .provider_numbers
        .first()
        .map(|number| number.display.clone())
    else {
        return view! {
            <p>"Get a number first: "<A href="/settings/numbers">"Phone numbers"</A></p>
        }
        .into_any();
    };
    let step_done = data
        .setup_checklist
        .steps
        .iter()
        .any(|step| step.step == test_call::SetupStepKind::TEST_CALL && step.done);
    let refusals = data.webhook_refusals;
    view! {
        <p data-testid="test-call-ask">
            {format!("Call {number} now from any phone and let it ring out: do not answer it on your forwarding line.")}
        </p>
        {match arrived {
            Some(call) => view! {
                <p role="status" data-testid="test-call-arrived">
                    {format!(
                        "Your call arrived at {} from {}{}.",
                        clock.local_time(&call.started_at),
                        call.caller_tail,
                        if call.missed { ", missed" } else { ", answered" }
                    )}
                </p>
                <p role="status" data-testid="test-call-text-back">
                    {format!("Text-back: {}", delivery_words(call.text_back_status.as_deref(), call.text_back_error))}
                </p>
            }.into_any(),
            None => view! {
                <p role="status" data-testid="test-call-waiting">"Waiting for your call…"</p>
                {(polls >= POLLS_BEFORE_HINTS).then(|| what_to_check(refusals))}
            }.into_any(),
        }}
        {step_done.then(|| view! {
            <p class="confirmation" data-testid="test-call-step-done">"Test call done: the step is ticked on your checklist. "<A href="/">"Back to the overview"</A></p>
        })}
    }
    .into_any()
}

/// What to check when no test call arrived in two minutes.
fn what_to_check(refusals: Vec<test_call::TestCallWebhookRefusals>) -> impl IntoView {
    let origin = window().location().origin().unwrap_or_default();
    let refused = (!refusals.is_empty()).then(|| {
        view! {
            <li data-testid="test-call-refusals">
                {format!(
                    "Twilio's requests for your number were refused {} time{} in the last 10 minutes ({}): \
                     the deployment's Twilio auth token or public URL does not match the ones Twilio signs with.",
                    refusals.len(),
                    if refusals.len() == 1 { "" } else { "s" },
                    refusals.first().map(|refusal| refusal.reason.clone()).unwrap_or_default()
                )}
            </li>
        }
    });
    view! {
        <section class="notice" data-testid="test-call-hints">
            <h2>"Nothing has arrived in two minutes. Check:"</h2>
            <ul>
                {refused}
                <li>{format!("The number's voice webhook is {origin}/webhooks/twilio/voice and its messaging webhook {origin}/webhooks/twilio/sms (numbers got on this page are set so).")}</li>
                <li>"Your forwarding line rang and nobody answered it, and your phone's own voicemail did not pick up first."</li>
                <li>"The call reached the number: Twilio's console lists each call with its errors."</li>
            </ul>
        </section>
    }
}
