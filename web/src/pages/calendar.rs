//! The Google Calendar part of Settings (admins and owners): how to share a calendar with the
//! server's Google account and show it is the clinic's own (a code in its description), the
//! calendar ID to keep bookings in, and saving it (the server asks
//! Google whether the calendar is shared before it keeps the choice, and says how to share it when
//! not). A server without a Google account says so instead of offering the form.

use leptos::prelude::*;

use crate::api::{self, ApiError, google_calendar, set_google_calendar};
use crate::components::{Alert, AsyncView, failure_of};

/// Saving the calendar ID (none: no calendar); whether anything changed.
type SaveCalendar = Action<Option<String>, Result<bool, ApiError>>;

/// The clinic's Google calendar: how to share one, which one, and saving the choice.
#[component]
pub fn GoogleCalendarSection() -> impl IntoView {
    let sent: RwSignal<Option<String>> = RwSignal::new(None);
    let save: SaveCalendar = Action::new_local(move |calendar_id: &Option<String>| {
        let calendar_id = calendar_id.clone();
        sent.set(calendar_id.clone());
        async move {
            api::run::<api::SetGoogleCalendar>(set_google_calendar::Variables { calendar_id })
                .await
                .map(|data| data.set_google_calendar)
        }
    });
    let saved = save.version();
    // While a save runs, the last one's outcome is not shown: what shows is always this one's.
    let failure = failure_of(save);
    let failure = Signal::derive(move || failure.get().filter(|_| !save.pending().get()));
    let current = LocalResource::new(move || {
        saved.track();
        api::run::<api::GoogleCalendar>(google_calendar::Variables)
    });
    view! {
        <section aria-labelledby="calendar-heading">
            <h2 id="calendar-heading">"Google Calendar"</h2>
            <AsyncView resource=current loading="Loading the calendar…" let:data>
                {calendar_form(data.google_calendar, save)}
            </AsyncView>
            <Alert message=failure test_id="calendar-error" />
            <p role="status" data-testid="calendar-saved">
                {move || match (save.value().get().filter(|_| !save.pending().get()), sent.get()) {
                    (Some(Ok(_)), Some(calendar)) => {
                        format!("Saved: bookings are kept in {calendar}, the upcoming ones too.")
                    }
                    (Some(Ok(_)), None) => {
                        "Saved: bookings are kept in no calendar; the upcoming ones leave it."
                            .to_owned()
                    }
                    _ => String::new(),
                }}
            </p>
        </section>
    }
}

/// The steps and the form, or why this server offers no calendar.
fn calendar_form(
    setting: google_calendar::GoogleCalendarGoogleCalendar,
    save: SaveCalendar,
) -> AnyView {
    let Some(share_with) = setting.share_with else {
        return view! {
            <p class="hint" data-testid="calendar-unavailable">
                "This server keeps no calendars: its operator has not given it a Google account."
            </p>
        }
        .into_any();
    };
    let typed = RwSignal::new(setting.calendar_id.unwrap_or_default());
    view! {
        <p>
            "Bookings with a start time can be kept as events in a Google calendar. An event says \
             only that there is a booking and who made it (staff, the AI receptionist, an \
             integration), never who the caller is. The AI receptionist offers and books no time \
             the calendar shows busy. An event set to “Free” does not count, and Google makes \
             all-day events Free unless you choose Busy: days off go under holidays in these \
             settings. When Google cannot be asked, the AI offers no time and leaves the caller to \
             you."
        </p>
        <ol>
            <li>
                "In Google Calendar, open the calendar's “Settings and sharing”, share it with "
                <code data-testid="calendar-share-with">{share_with}</code>
                " and choose “Make changes to events”."
            </li>
            <li>
                "Put this code anywhere in the calendar's description (it shows that the calendar \
                 is yours; every business on this server shares with the same address): "
                <code data-testid="calendar-ownership-code">{setting.ownership_code}</code>
            </li>
            <li>"Copy its Calendar ID (under “Integrate calendar”) into the box and save. Leave the box empty to stop: the upcoming bookings then leave the calendar, past ones stay."</li>
        </ol>
        <p class="hint">
            "If Google says the calendar cannot be shared with that address, your organisation's \
             Google Workspace may forbid sharing outside it: its administrator can allow it. To \
             move to another calendar, save the new one before you stop sharing the old one, so \
             the bookings can leave it."
        </p>
        <form on:submit=move |ev| {
            ev.prevent_default();
            let calendar_id = typed.get_untracked().trim().to_owned();
            save.dispatch((!calendar_id.is_empty()).then_some(calendar_id));
        }>
            <label for="calendar-id">"Calendar ID"</label>
            <input id="calendar-id" data-testid="calendar-id" autocomplete="off"
                prop:value=typed on:input=move |ev| typed.set(event_target_value(&ev)) />
            <button type="submit" data-testid="calendar-save"
                disabled=move || save.pending().get()>"Save calendar"</button>
        </form>
    }
    .into_any()
}
