//! Appointments, the way a front desk works them: the list narrowed to days and to a caller's
//! masked number, newest booking first, a page at a time; each shows when it starts, for whom
//! (the masked number) and whether it counts as recovered and why, in plain words. A booking can
//! be for any caller the clinic has spoken to (the recent ones listed, older ones found by the
//! three digits of their masked number; a number is never typed), with its start in the clinic's
//! time and what the clinic's Google calendar shows busy that day. An appointment is changed or cancelled in a dialog, which says what the save changed.
//! A form is emptied, and the dialog closed, only once the server has taken the change: a refused
//! one keeps what was typed and says why where it was typed. The list reloads after every change.

use leptos::html;
use leptos::prelude::*;
use ringback_shared::caller_key::{TAIL_DIGITS, tail_query};
use ringback_shared::display;

use crate::api::{
    self, ApiError, appointments, cancel_appointment, create_appointment, known_callers,
    update_appointment,
};
use crate::components::{Alert, AsyncView, BusyInCalendar, OwnEvent, changed_words, failure_of};
use crate::session::clinic_currency;
use crate::time::{ClinicTime, use_clinic_time};

/// Changes to appointments.
#[derive(Clone)]
enum AppointmentChange {
    Book(create_appointment::Variables),
    /// The change and the names of the fields it changes.
    Edit(update_appointment::Variables, Vec<&'static str>),
    Cancel(cancel_appointment::Variables),
}

/// A change the server took: which form sent it, and what it did in words.
#[derive(Clone)]
struct Done {
    booked: bool,
    words: String,
}

/// Sends `change`; what it did.
async fn change_appointment(change: AppointmentChange) -> Result<Done, ApiError> {
    let (booked, words) = match change {
        AppointmentChange::Book(variables) => {
            api::run::<api::CreateAppointment>(variables).await?;
            (true, "Booked.".to_owned())
        }
        AppointmentChange::Edit(variables, changed) => {
            api::run::<api::UpdateAppointment>(variables).await?;
            (false, changed_words(&changed))
        }
        AppointmentChange::Cancel(variables) => {
            api::run::<api::CancelAppointment>(variables).await?;
            (false, "Appointment cancelled.".to_owned())
        }
    };
    Ok(Done { booked, words })
}

/// The page's changes: each runs as an action, and the list is keyed on its version, so it
/// reloads after each; a value that cannot be read is refused before anything is sent.
#[derive(Clone, Copy)]
struct Changes {
    action: Action<AppointmentChange, Result<Done, ApiError>>,
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

    fn refuse(self, why: &str) {
        self.refused.set(Some(why.to_owned()));
    }

    /// What to show as the page's failure: a refused value, or why the last change failed.
    fn failure(self) -> Signal<Option<String>> {
        self.failure_since(RwSignal::new(0))
    }

    /// [`Self::failure`], counting only changes finished after the `since`-th: what a dialog
    /// opened then shows (not a booking's or another appointment's failure from before).
    fn failure_since(self, since: RwSignal<usize>) -> Signal<Option<String>> {
        let failed = failure_of(self.action);
        let (refused, finished) = (self.refused, self.action.version());
        Signal::derive(move || {
            refused.get().or_else(|| {
                (finished.get() > since.get())
                    .then(|| failed.get())
                    .flatten()
            })
        })
    }

    /// What the last change did, once it succeeded.
    fn done(self) -> Signal<Option<String>> {
        let outcome = self.action.value();
        Signal::derive(move || outcome.get().and_then(Result::ok).map(|done| done.words))
    }

    /// Runs `then` each time a change the server took came from the booking form (`booked`) or
    /// from the dialog (not `booked`).
    fn on_taken(self, booked: bool, then: impl Fn() + 'static) {
        let outcome = self.action.value();
        Effect::new(move |_| {
            let taken =
                outcome.with(|outcome| matches!(outcome, Some(Ok(done)) if done.booked == booked));
            if taken {
                then();
            }
        });
    }
}

/// The clinic's currency and clock, for showing values and instants.
#[derive(Clone)]
struct Locale {
    currency: String,
    clock: ClinicTime,
}

/// The list's filter as typed: days as a date field holds them (empty for an open end) and the
/// masked number's digits.
#[derive(Clone, Default, PartialEq)]
struct ListFilter {
    from: String,
    to: String,
    tail: String,
}

impl ListFilter {
    /// The filter to send; `None` when nothing narrows the list.
    fn input(&self) -> Option<appointments::AppointmentFilterInput> {
        let given = |text: &str| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
        let input = appointments::AppointmentFilterInput {
            from: given(&self.from),
            to: given(&self.to),
            caller_tail: given(&self.tail),
        };
        (input.from.is_some() || input.to.is_some() || input.caller_tail.is_some()).then_some(input)
    }
}

#[component]
pub fn Appointments() -> impl IntoView {
    let locale = Locale {
        currency: clinic_currency(),
        clock: use_clinic_time(),
    };
    let changes = Changes::new();
    let changed = changes.action.version();
    let filter = RwSignal::new(ListFilter::default());
    // The cursors of the pages before this one; the last is where this page starts.
    let cursors = RwSignal::new(Vec::<String>::new());
    let editing = RwSignal::new(None::<Editing>);
    let done = changes.done();
    // While the dialog is open its own line says why a change failed.
    let failure = changes.failure();
    let outside_dialog =
        Signal::derive(move || failure.get().filter(|_| editing.with(Option::is_none)));
    let listed = LocalResource::new(move || {
        changed.track();
        let variables = appointments::Variables {
            first: PAGE_SIZE,
            after: cursors.get().last().cloned(),
            filter: filter.get().input(),
        };
        api::run::<api::Appointments>(variables)
    });
    view! {
        <h1>"Appointments"</h1>
        <Alert message=outside_dialog test_id="appointment-error" />
        {move || done.get().map(|said| view! {
            <p class="confirmation" role="status" data-testid="appointment-done">{said}</p>
        })}
        <NewAppointment changes clock=locale.clock />
        <FilterForm filter cursors />
        <AsyncView resource=listed loading="Loading appointments…" let:data clone:locale>
            {pager(&data, cursors)}
            {appointment_list(data, &locale, editing)}
        </AsyncView>
        <EditDialog editing changes currency=locale.currency.clone() />
    }
}

/// What to type as a value.
const VALUE_HINT: &str = "Enter the value as a number, e.g. 45.50.";

/// Why a start cannot be emptied in the dialog (the server keeps a start it is not given).
const START_KEPT: &str = "An appointment's start can be moved but not removed: give the new start, or cancel the appointment.";

/// Appointments shown at a time.
const PAGE_SIZE: i64 = 25;

/// Callers listed in the booking form at a time.
const CALLERS_LISTED: i64 = 20;

/// Narrowing the list to days and to a masked number.
#[component]
fn FilterForm(filter: RwSignal<ListFilter>, cursors: RwSignal<Vec<String>>) -> impl IntoView {
    let (from, to, tail) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let show = move |typed: ListFilter| {
        cursors.set(Vec::new());
        filter.set(typed);
    };
    let apply = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        show(ListFilter {
            from: from.get_untracked(),
            to: to.get_untracked(),
            tail: tail.get_untracked(),
        });
    };
    let clear = move |_| {
        for field in [from, to, tail] {
            field.set(String::new());
        }
        show(ListFilter::default());
    };
    let field =
        |id: &'static str, label: &'static str, kind: &'static str, value: RwSignal<String>| {
            view! {
                <span class="field">
                    <label for=id>{label}</label>
                    <input id=id data-testid=id type=kind prop:value=value
                        on:input=move |ev| value.set(event_target_value(&ev)) />
                </span>
            }
        };
    view! {
        <form class="filters" role="search" aria-label="Find appointments" on:submit=apply>
            {field("appointments-from", "From", "date", from)}
            {field("appointments-to", "To", "date", to)}
            <span class="field">
                <label for="appointments-tail">"Caller's last three digits"</label>
                <input id="appointments-tail" data-testid="appointments-tail" inputmode="numeric"
                    maxlength=TAIL_DIGITS.to_string() size="4" autocomplete="off" prop:value=tail
                    on:input=move |ev| tail.set(event_target_value(&ev)) />
            </span>
            <button type="submit" data-testid="appointments-apply">"Show"</button>
            <button type="button" data-testid="appointments-clear" on:click=clear>"Show all"</button>
        </form>
    }
}

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

/// The callers the booking form offers: the most recent ones, or those whose masked number ends
/// in the digits typed.
fn callers_resource(
    search: RwSignal<String>,
) -> LocalResource<Result<Vec<known_callers::KnownCallersKnownCallers>, ApiError>> {
    LocalResource::new(move || {
        let typed = search.get();
        async move {
            let tail = match typed.trim() {
                "" => None,
                typed if tail_query(typed).is_some() => Some(typed.to_owned()),
                _ => return Ok(Vec::new()),
            };
            let variables = known_callers::Variables {
                tail,
                first: CALLERS_LISTED,
            };
            Ok(api::run::<api::KnownCallers>(variables)
                .await?
                .known_callers)
        }
    })
}

#[component]
fn NewAppointment(changes: Changes, clock: ClinicTime) -> impl IntoView {
    let search = RwSignal::new(String::new());
    let callers = callers_resource(search);
    let caller = RwSignal::new(String::new());
    let starts = RwSignal::new(String::new());
    let value = RwSignal::new(String::new());
    let invalid = RwSignal::new(None::<&'static str>);
    // The caller chosen stays chosen while listed; otherwise the first listed is.
    Effect::new(move |_| {
        if let Some(Ok(listed)) = callers.get() {
            let chosen = caller.get_untracked();
            if !listed.iter().any(|known| known.caller_key == chosen) {
                caller.set(
                    listed
                        .first()
                        .map(|known| known.caller_key.clone())
                        .unwrap_or_default(),
                );
            }
        }
    });
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let caller_key = caller.get_untracked();
        if caller_key.is_empty() {
            return invalid.set(Some(
                "Choose the caller: type the last three digits of their number to find them.",
            ));
        }
        let Some(value_minor) = display::parse_money(&value.get_untracked()) else {
            return invalid.set(Some(VALUE_HINT));
        };
        invalid.set(None);
        let variables = create_appointment::Variables {
            caller_key,
            value_minor,
            starts_local: Some(starts.get_untracked()).filter(|text| !text.is_empty()),
        };
        changes.send(AppointmentChange::Book(variables));
    };
    changes.on_taken(true, move || {
        value.set(String::new());
        starts.set(String::new());
    });
    let options = move || {
        callers.get().and_then(Result::ok).map(|listed| {
            let searched = !search.get_untracked().trim().is_empty();
            if listed.is_empty() {
                let none = if searched {
                    "No caller with those digits"
                } else {
                    "No callers yet"
                };
                return view! { <option value="">{none}</option> }.into_any();
            }
            listed
                .into_iter()
                .map(|known| {
                    let label = format!(
                        "{} (last contact {})",
                        known.caller_tail,
                        clock.local_time(&known.last_contact_at)
                    );
                    view! { <option value=known.caller_key>{label}</option> }
                })
                .collect_view()
                .into_any()
        })
    };
    let search_hint = move || {
        let typed = search.get();
        let partial = !typed.trim().is_empty() && tail_query(&typed).is_none();
        if partial {
            "Type all three last digits."
        } else {
            "Recent callers are listed; older ones by their last three digits."
        }
    };
    view! {
        <form class="new-appointment" on:submit=submit aria-labelledby="new-appointment-heading">
            <h2 id="new-appointment-heading">"Book an appointment"</h2>
            <label for="appointment-caller-search">"Find the caller by their last three digits"</label>
            <input id="appointment-caller-search" data-testid="appointment-caller-search" inputmode="numeric"
                maxlength=TAIL_DIGITS.to_string() autocomplete="off" aria-describedby="appointment-caller-search-help"
                prop:value=search on:input=move |ev| search.set(event_target_value(&ev)) />
            <small id="appointment-caller-search-help" aria-live="polite">{search_hint}</small>
            <label for="appointment-caller">"Caller"</label>
            <select id="appointment-caller" data-testid="appointment-caller"
                on:change=move |ev| caller.set(event_target_value(&ev)) prop:value=caller>
                {options}
            </select>
            <label for="appointment-starts">{format!("Starts (optional, the {}'s time)", crate::session::place_word())}</label>
            <input id="appointment-starts" data-testid="appointment-starts" type="datetime-local"
                prop:value=starts on:input=move |ev| starts.set(event_target_value(&ev)) />
            <BusyInCalendar starts=starts />
            <label for="appointment-value">"Value"</label>
            <input id="appointment-value" data-testid="appointment-value" inputmode="decimal" required
                aria-describedby="appointment-value-help" prop:value=value
                on:input=move |ev| value.set(event_target_value(&ev)) />
            <small id="appointment-value-help">"In your currency, e.g. 45 or 45.50."</small>
            <Alert message=Signal::derive(move || invalid.get().map(str::to_owned)) />
            <button type="submit" data-testid="appointment-create" disabled=move || changes.action.pending().get()>"Book"</button>
        </form>
    }
}

/// The appointment the dialog changes, as it was when opened.
#[derive(Clone)]
struct Editing {
    id: String,
    caller: String,
    value: String,
    /// The start as a date-and-time field holds it, in the clinic's time; empty when none.
    starts: String,
    /// How long the visit takes, when known.
    minutes: Option<i64>,
    /// Whether the booking has an event in the clinic's Google calendar.
    in_calendar: bool,
}

/// How one appointment reads.
fn status_of(
    appointment: &appointments::AppointmentsAppointmentsEdgesNode,
) -> (&'static str, String) {
    let recovered = appointment
        .attribution
        .as_ref()
        .is_some_and(|a| a.status == appointments::AttributionStatus::RECOVERED);
    let explanation = appointment
        .attribution
        .as_ref()
        .map(|a| a.explanation.clone())
        .unwrap_or_default();
    let status = match (appointment.cancelled_at.is_some(), recovered) {
        (true, _) => "Cancelled",
        (false, true) => "Recovered",
        (false, false) => "Unattributed",
    };
    (status, explanation)
}

fn appointment_list(
    data: appointments::ResponseData,
    locale: &Locale,
    editing: RwSignal<Option<Editing>>,
) -> impl IntoView {
    if data.appointments.edges.is_empty() {
        return view! { <p data-testid="appointments-none">"No appointments match."</p> }
            .into_any();
    }
    let items = data
        .appointments
        .edges
        .into_iter()
        .map(|edge| appointment_item(edge.node, locale, editing))
        .collect_view();
    view! { <ul class="appointments" data-testid="appointments">{items}</ul> }.into_any()
}

fn appointment_item(
    appointment: appointments::AppointmentsAppointmentsEdgesNode,
    locale: &Locale,
    editing: RwSignal<Option<Editing>>,
) -> impl IntoView {
    let (status, explanation) = status_of(&appointment);
    let caller = appointment
        .caller_tail
        .clone()
        .unwrap_or_else(|| "a caller".to_owned());
    let when = appointment.starts_at.as_deref().map_or_else(
        || "No start time".to_owned(),
        |at| format!("Starts {}", locale.clock.local_time(at)),
    );
    let edit = (appointment.cancelled_at.is_none()).then(|| {
        let target = Editing {
            id: appointment.id.clone(),
            caller: caller.clone(),
            value: display::amount(appointment.value_minor),
            starts: appointment
                .starts_at
                .as_deref()
                .map(|at| locale.clock.field_value(at))
                .unwrap_or_default(),
            minutes: appointment.duration_minutes,
            in_calendar: appointment.in_calendar,
        };
        // Begins with the words shown, so that "click Change or cancel" finds it by voice.
        let label = format!("Change or cancel the appointment for {caller}");
        view! {
            <div class="actions">
                <button type="button" data-testid="appointment-edit" aria-label=label
                    on:click=move |_| editing.set(Some(target.clone()))>"Change or cancel"</button>
            </div>
        }
    });
    view! {
        <li class="appointment" data-testid="appointment" data-id=appointment.id.clone() data-caller-key=appointment.caller_key.clone()>
            <p>
                <strong data-testid="appointment-amount">{display::money(appointment.value_minor, &locale.currency)}</strong>
                " for "<span data-testid="appointment-caller-tail">{caller.clone()}</span>" · "
                <span data-testid="appointment-starts-at">{when}</span>
                " · booked "{locale.clock.local_time(&appointment.created_at)}
                {(appointment.source == "ai").then(|| view! {
                    " · "<span data-testid="appointment-source">"booked by the AI receptionist"</span>
                })}
            </p>
            <p><span class="status" data-testid="appointment-status">{status}</span>": "
                <span data-testid="appointment-reason">{explanation}</span></p>
            {edit}
        </li>
    }
}

/// Changing or cancelling one appointment, in a modal dialog: open while `editing` holds one.
#[component]
fn EditDialog(
    editing: RwSignal<Option<Editing>>,
    changes: Changes,
    currency: String,
) -> impl IntoView {
    let dialog = NodeRef::<html::Dialog>::new();
    let value = RwSignal::new(String::new());
    let starts = RwSignal::new(String::new());
    // How many changes had finished when the dialog opened: it shows only later failures.
    let opened_after = RwSignal::new(0_usize);
    Effect::new(move |_| {
        let Some(element) = dialog.get() else { return };
        match editing.get() {
            Some(target) => {
                value.set(target.value);
                starts.set(target.starts);
                if !element.open() {
                    opened_after.set(changes.action.version().get_untracked());
                    let _ = element.show_modal();
                }
            }
            None if element.open() => element.close(),
            None => {}
        }
    });
    let finish = move || {
        changes.refused.set(None);
        editing.set(None);
    };
    let busy = changes.action.pending();
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let Some(target) = editing.get_untracked() else {
            return;
        };
        let Some(value_minor) = display::parse_money(&value.get_untracked()) else {
            return changes.refuse(VALUE_HINT);
        };
        let typed_starts = starts.get_untracked();
        if typed_starts.is_empty() && !target.starts.is_empty() {
            return changes.refuse(START_KEPT);
        }
        // The start is sent only when it was edited: sent back unchanged, it would be read again
        // (in the hour a clock change repeats, or in a time zone changed since the page loaded)
        // and could move.
        let start_edited = typed_starts != target.starts;
        // So is the value: sent back unchanged, it would undo a change a colleague or an
        // integration made since the page loaded (and the recovered revenue with it).
        let value_edited = display::parse_money(&target.value) != Some(value_minor);
        let changed: Vec<&'static str> = [("value", value_edited), ("start", start_edited)]
            .into_iter()
            .filter_map(|(name, differs)| differs.then_some(name))
            .collect();
        let variables = update_appointment::Variables {
            id: target.id,
            value_minor: value_edited.then_some(value_minor),
            starts_local: start_edited.then_some(typed_starts),
        };
        changes.send(AppointmentChange::Edit(variables, changed));
    };
    changes.on_taken(false, finish);
    let cancel = move |_| {
        let Some(target) = editing.get_untracked() else {
            return finish();
        };
        let sure = window()
            .confirm_with_message(
                "Cancel this appointment? It then takes no credit for a missed call.",
            )
            .unwrap_or(false);
        if sure {
            changes.send(AppointmentChange::Cancel(cancel_appointment::Variables {
                id: target.id,
            }));
        }
    };
    let own_event = Signal::derive(move || {
        editing.with(|target| {
            let target = target.as_ref()?;
            Some(OwnEvent::of(
                &target.starts,
                target.minutes,
                target.in_calendar,
            ))
        })
    });
    let heading = move || {
        editing
            .get()
            .map(|target| format!("The appointment for {}", target.caller))
            .unwrap_or_default()
    };
    view! {
        <dialog node_ref=dialog class="edit-appointment" data-testid="appointment-dialog"
            aria-labelledby="edit-appointment-heading" on:close=move |_| finish()>
            <form on:submit=save>
                <h2 id="edit-appointment-heading">{heading}</h2>
                <Alert message=changes.failure_since(opened_after) test_id="appointment-dialog-error" />
                <label for="edit-appointment-value">{format!("Value ({currency})")}</label>
                <input id="edit-appointment-value" data-testid="appointment-new-value" inputmode="decimal" required
                    prop:value=value on:input=move |ev| value.set(event_target_value(&ev)) />
                <label for="edit-appointment-starts">{format!("Starts (the {}'s time)", crate::session::place_word())}</label>
                <input id="edit-appointment-starts" data-testid="appointment-new-starts" type="datetime-local"
                    prop:value=starts on:input=move |ev| starts.set(event_target_value(&ev)) />
                <BusyInCalendar starts=starts own=own_event />
                <div class="actions">
                    <button type="submit" data-testid="appointment-save" disabled=busy>"Save"</button>
                    <button type="button" class="danger" data-testid="appointment-cancel" disabled=busy on:click=cancel>"Cancel appointment"</button>
                    <button type="button" data-testid="appointment-close" on:click=move |_| finish()>"Close"</button>
                </div>
            </form>
        </dialog>
    }
}
