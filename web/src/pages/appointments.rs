//! Appointments: book one for a caller who missed the clinic (chosen by masked number, never
//! typed in full), change its value, cancel it; each shows whether it counts as recovered and why,
//! in plain words. The list is newest first, a page at a time.

use std::collections::BTreeSet;

use leptos::prelude::*;
use leptos::task::spawn_local;
use ringback_shared::display;

use crate::api::{
    self, ApiError, appointments, cancel_appointment, create_appointment, update_appointment,
};
use crate::session::clinic_currency;
use crate::time::{ClinicTime, use_clinic_time};

/// A change to send to the server.
type Work = std::pin::Pin<Box<dyn Future<Output = Result<(), ApiError>>>>;

/// The clinic's currency and clock, for showing values and instants.
#[derive(Clone)]
struct Locale {
    currency: String,
    clock: ClinicTime,
}

#[component]
pub fn Appointments() -> impl IntoView {
    let locale = Locale {
        currency: clinic_currency(),
        clock: use_clinic_time(),
    };
    // The cursors of the pages before this one; the last is where this page starts.
    let cursors = RwSignal::new(Vec::<String>::new());
    let data = LocalResource::new(move || {
        let variables = appointments::Variables {
            first: PAGE_SIZE,
            after: cursors.get().last().cloned(),
        };
        api::run::<api::Appointments>(variables)
    });
    let failure = RwSignal::new(None::<String>);
    // Runs a change, then reloads the list (or shows why the change failed).
    let change = move |work: Work| {
        spawn_local(async move {
            match work.await {
                Ok(()) => {
                    failure.set(None);
                    data.refetch();
                }
                Err(error) => failure.set(Some(error.to_string())),
            }
        });
    };
    view! {
        <h1>"Appointments"</h1>
        {move || failure.get().map(|message| view! { <p class="error" role="alert" data-testid="appointment-error">{message}</p> })}
        <Transition fallback=|| view! { <p aria-busy="true">"Loading appointments…"</p> }>
            {move || {
                let locale = locale.clone();
                data.get().map(move |result| match result {
                    Ok(data) => view! {
                        <NewAppointment callers=missed_callers(&data, locale.clock) change />
                        {pager(&data, cursors)}
                        {appointment_list(data, &locale, change, failure)}
                    }.into_any(),
                    Err(error) => crate::pages::failed(&error),
                })
            }}
        </Transition>
    }
}

/// What to type as a value.
const VALUE_HINT: &str = "Enter the value as a number, e.g. 45.50.";

/// Appointments shown at a time.
const PAGE_SIZE: i64 = 25;

/// Newer and older pages, and which page this is.
fn pager(data: &appointments::ResponseData, cursors: RwSignal<Vec<String>>) -> impl IntoView {
    let page_info = &data.appointments.page_info;
    let older = page_info
        .has_next_page
        .then(|| page_info.end_cursor.clone())
        .flatten();
    let page = cursors.with_untracked(Vec::len) + 1;
    view! {
        <nav class="pager" aria-label="Appointment pages">
            <button type="button" data-testid="appointments-newer" disabled=page == 1
                on:click=move |_| cursors.update(|stack| { stack.pop(); })>"Newer"</button>
            <span data-testid="appointments-page">{format!("Page {page}")}</span>
            <button type="button" data-testid="appointments-older" disabled=older.is_none()
                on:click=move |_| if let Some(cursor) = older.clone() { cursors.update(|stack| stack.push(cursor)) }>"Older"</button>
        </nav>
    }
}

/// Recent missed callers, one per caller key, newest first: (key, label).
fn missed_callers(data: &appointments::ResponseData, clock: ClinicTime) -> Vec<(String, String)> {
    let mut seen = BTreeSet::new();
    data.calls
        .edges
        .iter()
        .filter(|edge| seen.insert(edge.node.caller_key.clone()))
        .map(|edge| {
            let call = &edge.node;
            let label = format!(
                "{} (missed {})",
                call.caller_tail,
                clock.local_time(&call.started_at)
            );
            (call.caller_key.clone(), label)
        })
        .collect()
}

#[component]
fn NewAppointment(
    callers: Vec<(String, String)>,
    change: impl Fn(Work) + Copy + 'static,
) -> impl IntoView {
    let caller = RwSignal::new(
        callers
            .first()
            .map(|(key, _)| key.clone())
            .unwrap_or_default(),
    );
    let value = RwSignal::new(String::new());
    let invalid = RwSignal::new(false);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(value_minor) = display::parse_money(&value.get_untracked()) else {
            invalid.set(true);
            return;
        };
        invalid.set(false);
        let variables = create_appointment::Variables {
            caller_key: caller.get_untracked(),
            value_minor,
        };
        value.set(String::new());
        change(Box::pin(async move {
            api::run::<api::CreateAppointment>(variables)
                .await
                .map(|_| ())
        }));
    };
    let options = callers
        .into_iter()
        .map(|(key, label)| view! { <option value=key>{label}</option> })
        .collect_view();
    view! {
        <form class="new-appointment" on:submit=submit aria-labelledby="new-appointment-heading">
            <h2 id="new-appointment-heading">"Book an appointment"</h2>
            <label for="appointment-caller">"Caller"</label>
            <select id="appointment-caller" data-testid="appointment-caller"
                on:change=move |ev| caller.set(event_target_value(&ev)) prop:value=caller>
                {options}
            </select>
            <label for="appointment-value">"Value"</label>
            <input id="appointment-value" data-testid="appointment-value" inputmode="decimal" required
                aria-describedby="appointment-value-help" prop:value=value
                on:input=move |ev| value.set(event_target_value(&ev)) />
            <small id="appointment-value-help">"In your currency, e.g. 45 or 45.50."</small>
            {move || invalid.get().then(|| view! { <p class="error" role="alert">{VALUE_HINT}</p> })}
            <button type="submit" data-testid="appointment-create">"Book"</button>
        </form>
    }
}

fn appointment_list(
    data: appointments::ResponseData,
    locale: &Locale,
    change: impl Fn(Work) + Copy + 'static,
    failure: RwSignal<Option<String>>,
) -> impl IntoView {
    let items = data
        .appointments
        .edges
        .into_iter()
        .map(|edge| {
            let appointment = edge.node;
            let recovered = appointment.attribution.as_ref().is_some_and(|a| {
                a.status == appointments::AttributionStatus::RECOVERED
            });
            let explanation = appointment
                .attribution
                .as_ref()
                .map(|a| a.explanation.clone())
                .unwrap_or_default();
            let cancelled = appointment.cancelled_at.is_some();
            let status = match (cancelled, recovered) {
                (true, _) => "Cancelled",
                (false, true) => "Recovered",
                (false, false) => "Unattributed",
            };
            let (cancel_id, save_id) = (appointment.id.clone(), appointment.id.clone());
            let new_value = RwSignal::new(String::new());
            let caller = appointment
                .missed_call
                .as_ref()
                .map(|call| call.caller_tail.clone())
                .unwrap_or_else(|| "a caller".to_owned());
            view! {
                <li class="appointment" data-testid="appointment" data-id=appointment.id.clone() data-caller-key=appointment.caller_key.clone()>
                    <p>
                        <strong data-testid="appointment-amount">{display::money(appointment.value_minor, &locale.currency)}</strong>
                        " booked "{locale.clock.local_time(&appointment.created_at)}" for "{caller}
                    </p>
                    <p><span class="status" data-testid="appointment-status">{status}</span>": "
                        <span data-testid="appointment-reason">{explanation}</span></p>
                    {(!cancelled).then(|| view! {
                        <div class="actions">
                            <label class="inline">"New value "
                                <input inputmode="decimal" size="8" data-testid="appointment-new-value" prop:value=new_value
                                    on:input=move |ev| new_value.set(event_target_value(&ev)) />
                            </label>
                            <button type="button" data-testid="appointment-save-value" on:click={
                                let save_id = save_id.clone();
                                move |_| {
                                    match display::parse_money(&new_value.get_untracked()) {
                                        Some(value_minor) => {
                                            let variables = update_appointment::Variables { id: save_id.clone(), value_minor };
                                            change(Box::pin(async move {
                                                api::run::<api::UpdateAppointment>(variables).await.map(|_| ())
                                            }));
                                        }
                                        None => failure.set(Some(VALUE_HINT.to_owned())),
                                    }
                                }
                            }>"Save value"</button>
                            <button type="button" data-testid="appointment-cancel" on:click={
                                let cancel_id = cancel_id.clone();
                                move |_| {
                                    let variables = cancel_appointment::Variables { id: cancel_id.clone() };
                                    change(Box::pin(async move {
                                        api::run::<api::CancelAppointment>(variables).await.map(|_| ())
                                    }));
                                }
                            }>"Cancel appointment"</button>
                        </div>
                    })}
                </li>
            }
        })
        .collect_view();
    view! { <ul class="appointments" data-testid="appointments">{items}</ul> }
}
