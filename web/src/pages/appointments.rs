//! Appointments: book one for a caller who missed the clinic (chosen by masked number, never
//! typed in full), change its value, cancel it; each shows whether it counts as recovered and why,
//! in plain words. The list is newest first, a page at a time, and reloads after every change.

use std::collections::BTreeSet;

use leptos::prelude::*;
use ringback_shared::display;

use crate::api::{
    self, ApiError, appointments, cancel_appointment, create_appointment, update_appointment,
};
use crate::components::{Alert, AsyncView, failure_of};
use crate::session::clinic_currency;
use crate::time::{ClinicTime, use_clinic_time};

/// Changes to appointments.
#[derive(Clone)]
enum AppointmentChange {
    Book(create_appointment::Variables),
    SetValue(update_appointment::Variables),
    Cancel(cancel_appointment::Variables),
}

/// Sends `change`.
async fn change_appointment(change: AppointmentChange) -> Result<(), ApiError> {
    match change {
        AppointmentChange::Book(variables) => api::run::<api::CreateAppointment>(variables)
            .await
            .map(|_| ()),
        AppointmentChange::SetValue(variables) => api::run::<api::UpdateAppointment>(variables)
            .await
            .map(|_| ()),
        AppointmentChange::Cancel(variables) => api::run::<api::CancelAppointment>(variables)
            .await
            .map(|_| ()),
    }
}

/// The page's changes: each runs as an action, and the list is keyed on its version, so it
/// reloads after each; a value that cannot be read is refused before anything is sent.
#[derive(Clone, Copy)]
struct Changes {
    action: Action<AppointmentChange, Result<(), ApiError>>,
    /// Why a typed value was refused.
    refused: RwSignal<Option<String>>,
}

impl Changes {
    fn new() -> Self {
        Self {
            action: Action::new_local(|change: &AppointmentChange| {
                change_appointment(change.clone())
            }),
            refused: RwSignal::new(None),
        }
    }

    fn send(self, change: AppointmentChange) {
        self.refused.set(None);
        self.action.dispatch(change);
    }

    fn refuse_value(self) {
        self.refused.set(Some(VALUE_HINT.to_owned()));
    }

    /// What to show as the page's failure: a refused value, or why the last change failed.
    fn failure(self) -> Signal<Option<String>> {
        let failed = failure_of(self.action);
        let refused = self.refused;
        Signal::derive(move || refused.get().or_else(|| failed.get()))
    }
}

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
    let changes = Changes::new();
    let changed = changes.action.version();
    // The cursors of the pages before this one; the last is where this page starts.
    let cursors = RwSignal::new(Vec::<String>::new());
    let listed = LocalResource::new(move || {
        changed.track();
        let variables = appointments::Variables {
            first: PAGE_SIZE,
            after: cursors.get().last().cloned(),
        };
        api::run::<api::Appointments>(variables)
    });
    view! {
        <h1>"Appointments"</h1>
        <Alert message=changes.failure() test_id="appointment-error" />
        <AsyncView resource=listed loading="Loading appointments…" let:data clone:locale>
            <NewAppointment callers=missed_callers(&data, locale.clock) changes />
            {pager(&data, cursors)}
            {appointment_list(data, &locale, changes)}
        </AsyncView>
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
fn NewAppointment(callers: Vec<(String, String)>, changes: Changes) -> impl IntoView {
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
        changes.send(AppointmentChange::Book(variables));
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
            <Alert message=Signal::derive(move || invalid.get().then(|| VALUE_HINT.to_owned())) />
            <button type="submit" data-testid="appointment-create">"Book"</button>
        </form>
    }
}

fn appointment_list(
    data: appointments::ResponseData,
    locale: &Locale,
    changes: Changes,
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
                        {(appointment.source == "ai").then(|| view! {
                            " · "<span data-testid="appointment-source">"booked by the AI receptionist"</span>
                        })}
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
                                            changes.send(AppointmentChange::SetValue(variables));
                                        }
                                        None => changes.refuse_value(),
                                    }
                                }
                            }>"Save value"</button>
                            <button type="button" data-testid="appointment-cancel" on:click={
                                let cancel_id = cancel_id.clone();
                                move |_| {
                                    let variables = cancel_appointment::Variables { id: cancel_id.clone() };
                                    changes.send(AppointmentChange::Cancel(variables));
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
