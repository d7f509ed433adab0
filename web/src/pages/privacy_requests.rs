//! Privacy, for admins and owners: what the clinic keeps and for how long (both retentions, in
//! plain words, with the time of the last purge), and a caller's data-protection requests: look a
//! caller up by the number they give, see everything held, download it as JSON, restrict its
//! processing or lift that, and erase it after a confirmation. The number stays in this page's
//! memory only while the request is handled; the server keys it and forgets it. Owners also find
//! the clinic's whole data to download and the clinic's deletion here.

use leptos::html;
use leptos::prelude::*;
use leptos::task::spawn_local;
use ringback_shared::display;
use ringback_shared::metrics::FIGURES_REACH_DAYS;
use ringback_shared::retention::{CALL_DAYS, CONVERSATION_DAYS};
use ringback_shared::text_back::delivery_words;

use crate::api::{
    self, ApiError, caller_record, erase_caller, export_caller_record, privacy_settings,
    restrict_caller, save_retention,
};
use crate::components::{Alert, AsyncView, ChangeTracker, ClinicData, DeleteClinic, one_at_a_time};
use crate::session::{allows, clinic_currency, use_session};
use crate::time::{ClinicTime, use_clinic_time};
use ringback_shared::access::Permission;

type Record = caller_record::CallerRecordCallerRecord;

#[component]
pub fn PrivacyRequests() -> impl IntoView {
    let session = use_session();
    let settings =
        LocalResource::new(|| api::run::<api::PrivacySettings>(privacy_settings::Variables));
    view! {
        <h1>"Privacy"</h1>
        <AsyncView resource=settings loading="Loading the retention settings…" let:loaded>
            <RetentionForm clinic=loaded.clinic />
        </AsyncView>
        <CallerRequests />
        {move || allows(session, Permission::ExportClinicData).then(|| view! {
            <ClinicData />
            <DeleteClinic />
        })}
    }
}

/// The retention form's names of its fields.
const CALLS: &str = "call retention";
const CONVERSATIONS: &str = "conversation retention";

/// The retention settings and what they mean.
#[component]
fn RetentionForm(clinic: privacy_settings::PrivacySettingsClinic) -> impl IntoView {
    let clock = use_clinic_time();
    let calls = RwSignal::new(clinic.call_retention_days.to_string());
    let conversations = RwSignal::new(clinic.conversation_retention_days.to_string());
    let words = RwSignal::new(clinic.retention_in_words);
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let tracker = ChangeTracker::new(vec![
        (CALLS, calls.into()),
        (CONVERSATIONS, conversations.into()),
    ]);
    let saving = RwSignal::new(false);
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let parsed = (
            calls.get_untracked().trim().parse::<i64>(),
            conversations.get_untracked().trim().parse::<i64>(),
        );
        let (Ok(calls), Ok(conversations)) = parsed else {
            return outcome.set(Some(Err(
                "Write both retentions as a number of days.".to_owned()
            )));
        };
        // Only what this form changed is sent: a tab left open must not write back a retention
        // another member changed meanwhile (the next purge would delete by it).
        let pending = tracker.pending();
        let variables = save_retention::Variables {
            calls: pending.has(CALLS).then_some(calls),
            conversations: pending.has(CONVERSATIONS).then_some(conversations),
        };
        one_at_a_time(saving, async move {
            let saved = api::run::<api::SaveRetention>(variables).await;
            outcome.set(Some(
                saved
                    .map(|data| {
                        words.set(data.update_clinic_settings.retention_in_words);
                        tracker.saved(pending)
                    })
                    .map_err(|error| error.to_string()),
            ));
        });
    };
    let last_purge = clinic.last_purge_at.map_or_else(
        || "The purge has not run yet.".to_owned(),
        |at| format!("The purge last ran {}.", clock.local_time(&at)),
    );
    view! {
        <section aria-labelledby="retention-heading">
            <h2 id="retention-heading">"What is kept, and for how long"</h2>
            <ul data-testid="retention-words">
                {move || words.get().into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
            </ul>
            <p data-testid="last-purge">{last_purge}</p>
            <form class="settings" on:submit=save>
                <fieldset>
                    <legend>"Retention"</legend>
                    <label for="call-retention">
                        {format!(
                            "Keep calls for (days, at most {}; at least the attribution window and {} more)",
                            CALL_DAYS.end(),
                            FIGURES_REACH_DAYS + 1
                        )}
                    </label>
                    <input id="call-retention" data-testid="call-retention" inputmode="numeric"
                        prop:value=calls on:input=move |ev| calls.set(event_target_value(&ev)) />
                    <label for="conversation-retention">
                        {format!(
                            "Keep conversations for (days, {} to {})",
                            CONVERSATION_DAYS.start(),
                            CONVERSATION_DAYS.end()
                        )}
                    </label>
                    <input id="conversation-retention" data-testid="conversation-retention" inputmode="numeric"
                        prop:value=conversations on:input=move |ev| conversations.set(event_target_value(&ev)) />
                </fieldset>
                <button type="submit" data-testid="retention-save" disabled=move || saving.get()>
                    "Save retention"
                </button>
            </form>
            {move || outcome.get().map(|result| match result {
                Ok(said) => view! { <p role="status" data-testid="retention-saved">{said}</p> }.into_any(),
                Err(error) => view! { <Alert message=Some(error) /> }.into_any(),
            })}
        </section>
    }
}

/// A caller's request: look up, see, export, restrict, erase.
#[component]
fn CallerRequests() -> impl IntoView {
    let typed = RwSignal::new(String::new());
    // The record shown, with the number it was looked up by (in memory only, never shown again):
    // the buttons act on the number of the record on screen, never on one typed since.
    let record = RwSignal::new(None::<(String, Record)>);
    let failure = RwSignal::new(None::<String>);
    let notice = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    // Only the latest look-up's answer is shown: an earlier, slower one is dropped.
    let latest = StoredValue::new(0_u32);
    let look_up = move |given: String| {
        latest.update_value(|ticket| *ticket += 1);
        let ticket = latest.get_value();
        spawn_local(async move {
            let found = api::run::<api::CallerRecord>(caller_record::Variables {
                number: given.clone(),
            })
            .await
            .map(|data| (given, data.caller_record));
            if latest.get_value() == ticket {
                show(found, record, failure);
            }
        });
    };
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let given = typed.get_untracked();
        typed.set(String::new());
        notice.set(None);
        record.set(None);
        look_up(given);
    };
    let actions = Actions {
        record,
        failure,
        notice,
        busy,
    };
    view! {
        <section aria-labelledby="requests-heading">
            <h2 id="requests-heading">"A caller's request"</h2>
            <p>{format!("A caller may ask to see, take away, erase or restrict what the {} holds about them. \
               Type the number they give; it is not stored.", crate::session::place_word())}</p>
            <form class="inline" role="search" data-testid="privacy-lookup" on:submit=submit>
                <label for="privacy-number">"Caller's number"</label>
                <input id="privacy-number" type="tel" autocomplete="off" required
                    prop:value=typed on:input=move |ev| typed.set(event_target_value(&ev)) />
                <button type="submit">"Look up"</button>
            </form>
            <Alert message=failure />
            {move || notice.get().map(|text| view! { <p role="status" data-testid="privacy-notice">{text}</p> })}
            {move || record.get().map(|shown| held(shown, actions, look_up))}
        </section>
    }
}

/// The signals the request buttons share.
#[derive(Clone, Copy)]
struct Actions {
    record: RwSignal<Option<(String, Record)>>,
    failure: RwSignal<Option<String>>,
    notice: RwSignal<Option<String>>,
    /// A request is on its way: the buttons wait for it (a second click would send it again).
    busy: RwSignal<bool>,
}

fn show(
    found: Result<(String, Record), ApiError>,
    record: RwSignal<Option<(String, Record)>>,
    failure: RwSignal<Option<String>>,
) {
    match found {
        Ok(found) => {
            failure.set(None);
            record.set(Some(found));
        }
        Err(error) => {
            record.set(None);
            failure.set(Some(error.to_string()));
        }
    }
}

/// Everything held for the caller with `number`, with the request buttons, which act on it.
fn held(
    (number, found): (String, Record),
    actions: Actions,
    look_up: impl Fn(String) + Copy + 'static,
) -> impl IntoView {
    let clock = use_clinic_time();
    let nothing =
        found.calls.is_empty() && found.conversations.is_empty() && found.appointments.is_empty();
    let download = RwSignal::new(None::<(String, String)>);
    let confirm_erasure = NodeRef::<html::Dialog>::new();
    let tail = found.caller_tail.clone();
    let restricted = found.restricted;
    let number = StoredValue::new(number);
    let busy = move || actions.busy.get();
    view! {
        <article data-testid="caller-record">
            <h3>{found.caller_tail.clone()}</h3>
            <p data-testid="caller-lists">{lists_in_words(&found, clock)}</p>
            {nothing.then(|| view! { <p data-testid="caller-nothing">"No calls, conversations or appointments are held for this caller."</p> })}
            {calls_view(&found, clock)}
            {conversations_view(&found, clock)}
            {appointments_view(&found, clock)}
            <div class="actions" role="group" aria-label="The caller's request">
                <button type="button" data-testid="caller-export" disabled=busy
                    on:click=move |_| export(actions, number.get_value(), download)>
                    "Prepare a JSON copy"
                </button>
                <button type="button" data-testid="caller-restrict" disabled=busy
                    on:click=move |_| restrict(actions, (number.get_value(), !restricted), look_up)>
                    {if restricted { "Lift the restriction" } else { "Restrict processing" }}
                </button>
                <button type="button" class="danger" data-testid="caller-erase" disabled=busy aria-haspopup="dialog"
                    on:click=move |_| { if let Some(dialog) = confirm_erasure.get() { let _ = dialog.show_modal(); } }>
                    "Erase…"
                </button>
            </div>
            {move || download.get().map(|(filename, href)| view! {
                <p role="status"><a data-testid="caller-download" href=href download=filename.clone()>{format!("Download {filename}")}</a></p>
            })}
            // A modal dialog: focus starts on Cancel, Escape closes it, and closing it returns focus
            // to "Erase…".
            <dialog node_ref=confirm_erasure role="alertdialog" aria-labelledby="erase-question"
                class="confirm" data-testid="caller-erase-dialog">
                <p id="erase-question">{format!(
                    "Erase everything held for {tail}? Conversations and messages are deleted; calls, \
                     appointments and the times of text-backs and replies stay for the figures and \
                     accounts, without words, linked to nobody. This cannot be undone."
                )}</p>
                <div class="actions">
                    <button type="button" autofocus
                        on:click=move |_| { if let Some(dialog) = confirm_erasure.get() { dialog.close(); } }>
                        "Cancel"
                    </button>
                    <button type="button" class="danger" data-testid="caller-erase-confirm" disabled=busy
                        on:click=move |_| {
                            if let Some(dialog) = confirm_erasure.get() { dialog.close(); }
                            erase(actions, number.get_value());
                        }>
                        "Yes, erase"
                    </button>
                </div>
            </dialog>
        </article>
    }
}

fn lists_in_words(found: &Record, clock: ClinicTime) -> String {
    let mut words = vec![match &found.opted_out_since {
        Some(since) => format!(
            "Opted out of texts (STOP) since {}.",
            clock.local_time(since)
        ),
        None => "Not opted out of texts.".to_owned(),
    }];
    words.push(match &found.restricted_since {
        Some(since) => format!("Processing restricted since {}.", clock.local_time(since)),
        None => "Processing not restricted.".to_owned(),
    });
    words.push(format!(
        "{} waiting to be sent; {}.",
        display::count(found.queued_texts, "text", "texts"),
        display::count(
            found.worklist_dismissals,
            "worklist dismissal",
            "worklist dismissals"
        ),
    ));
    words.join(" ")
}

fn calls_view(found: &Record, clock: ClinicTime) -> impl IntoView {
    let rows = found
        .calls
        .iter()
        .map(|call| {
            let what = match (call.missed, &call.direction) {
                (true, _) => "Missed call",
                (false, caller_record::Direction::OUTBOUND) => "Called back",
                (false, _) => "Answered call",
            };
            view! {
                <li>{what}" · "{clock.local_time(&call.started_at)}" · Text-back: "
                    {delivery_words(call.text_back_status.as_deref(), call.text_back_error)}</li>
            }
        })
        .collect_view();
    view! { <h4>"Calls"</h4><ul data-testid="caller-calls">{rows}</ul> }
}

fn conversations_view(found: &Record, clock: ClinicTime) -> impl IntoView {
    let threads = found
        .conversations
        .iter()
        .map(|thread| {
            let messages = thread
                .messages
                .iter()
                .map(|message| {
                    let who = if message.direction == "inbound" { "Caller" } else { "Clinic" };
                    let text = if message.unreadable {
                        super::inbox::UNREADABLE.to_owned()
                    } else {
                        message.text.clone()
                    };
                    view! { <li>{format!("{who} · ")}{clock.local_time(&message.at)}": "{text}</li> }
                })
                .collect_view();
            let details = thread.intake_details.as_ref().map(|details| {
                let answers = details
                    .answers
                    .iter()
                    .map(|a| (a.question.clone(), a.answer.clone()))
                    .collect();
                super::inbox::intake_details(answers, details.unreadable, 5)
            });
            view! {
                <li>{format!("Conversation ({}) from ", thread.status)}{clock.local_time(&thread.started_at)}
                    <ul>{messages}</ul>{details}</li>
            }
        })
        .collect_view();
    view! { <h4>"Conversations"</h4><ul data-testid="caller-conversations">{threads}</ul> }
}

fn appointments_view(found: &Record, clock: ClinicTime) -> impl IntoView {
    let currency = clinic_currency();
    let rows = found
        .appointments
        .iter()
        .map(|booking| {
            let verdict = match (&booking.outcome, &booking.explanation) {
                (Some(outcome), Some(why)) => format!(" · {outcome}: {why}"),
                _ => String::new(),
            };
            let cancelled = booking
                .cancelled_at
                .as_ref()
                .map(|_| " · cancelled")
                .unwrap_or_default();
            view! {
                <li>"Booked "{clock.local_time(&booking.booked_at)}
                    {format!(" · value {}{verdict}{cancelled}", display::money(booking.value_minor, &currency))}</li>
            }
        })
        .collect_view();
    view! { <h4>"Appointments"</h4><ul data-testid="caller-appointments">{rows}</ul> }
}

fn export(actions: Actions, number: String, download: RwSignal<Option<(String, String)>>) {
    one_at_a_time(actions.busy, async move {
        match api::run::<api::ExportCallerRecord>(export_caller_record::Variables { number }).await
        {
            Ok(data) => {
                let file = data.export_caller_record;
                match api::file_href(&file.json, "application/json;charset=utf-8") {
                    Ok(href) => download.set(Some((file.filename, href))),
                    Err(error) => actions.failure.set(Some(error.to_string())),
                }
            }
            Err(error) => actions.failure.set(Some(error.to_string())),
        }
    });
}

fn restrict(
    actions: Actions,
    (number, restricted): (String, bool),
    look_up: impl Fn(String) + 'static,
) {
    one_at_a_time(actions.busy, async move {
        let variables = restrict_caller::Variables {
            number: number.clone(),
            restricted,
        };
        match api::run::<api::RestrictCaller>(variables).await {
            Ok(_) => {
                actions.notice.set(Some(if restricted {
                    "Restricted: no texts, no conversation; their calls are counted without their key."
                } else {
                    "The restriction is lifted."
                }
                .to_owned()));
                look_up(number);
            }
            Err(error) => actions.failure.set(Some(error.to_string())),
        }
    });
}

fn erase(actions: Actions, number: String) {
    one_at_a_time(actions.busy, async move {
        match api::run::<api::EraseCaller>(erase_caller::Variables { number }).await {
            Ok(data) => {
                actions.record.set(None);
                actions.notice.set(Some(data.erase_caller.summary));
            }
            Err(error) => actions.failure.set(Some(error.to_string())),
        }
    });
}
