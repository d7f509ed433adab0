//! Settings (admins and owners): the clinic's profile (kind of business, country, time zone and
//! currency chosen from lists) and privacy, its business hours and holidays (checked by the shared hours rules before
//! sending), and the text-back with a live preview of each template, filled and marked as
//! automated exactly as the server will send it, with its SMS segment count (an empty box shows
//! the default wording, which the server then sends). Saving says which settings changed. Below
//! the form, the Google calendar bookings are kept in (`pages::calendar`).

use leptos::prelude::*;
use leptos_router::components::A;
use ringback_shared::hours::{self, BusinessHours, ClockTime, HoursError, Span};
use ringback_shared::sms::{self, Encoding, Moment};

use crate::api::{self, save_clinic, save_text_back, settings};
use crate::components::{Alert, AsyncView, ChangeTracker, choice, one_at_a_time, zone_choices};
use crate::session::use_session;
use ringback_shared::countries::COUNTRIES;

/// The preview of the template for `moment` (the default wording when it is left empty, as the
/// server then sends) and what it costs.
fn preview(template: &str, moment: Moment, clinic: &str, link: &str) -> (String, String) {
    let link = (!link.trim().is_empty()).then_some(link.trim());
    let own = !template.trim().is_empty();
    let template = if own {
        template
    } else {
        sms::default_template(moment, link.is_some())
    };
    let text = sms::render(template, clinic, link);
    let counted = sms::segments(&text);
    let encoding = match counted.encoding {
        Encoding::Gsm7 => "GSM-7",
        Encoding::Ucs2 => "UCS-2 (a character outside GSM-7)",
    };
    let cost = format!(
        "{}{} characters, {} SMS segment{} ({encoding})",
        if own {
            ""
        } else {
            "The default wording (the box is empty): "
        },
        text.chars().count(),
        counted.count,
        if counted.count == 1 { "" } else { "s" }
    );
    (text, cost)
}

/// The days of the week as the form lists them, Monday first (the order the server keeps them).
const DAY_LABELS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// One text box per weekday, filled with the saved spans as people write them.
fn hours_fields(saved: Vec<settings::SettingsPhoneSettingsBusinessHours>) -> [RwSignal<String>; 7] {
    let fields: [RwSignal<String>; 7] = std::array::from_fn(|_| RwSignal::new(String::new()));
    for day in saved {
        let spans: Vec<Span> = day
            .spans
            .iter()
            .filter_map(|span| {
                Some(Span {
                    opens: ClockTime::parse(&span.opens).ok()?,
                    closes: ClockTime::parse(&span.closes).ok()?,
                })
            })
            .collect();
        if let Some(field) = weekday_index(&day.weekday).and_then(|index| fields.get(index)) {
            field.set(hours::format_day(&spans));
        }
    }
    fields
}

fn weekday_index(weekday: &settings::Weekday) -> Option<usize> {
    use settings::Weekday::*;
    Some(match weekday {
        MONDAY => 0,
        TUESDAY => 1,
        WEDNESDAY => 2,
        THURSDAY => 3,
        FRIDAY => 4,
        SATURDAY => 5,
        SUNDAY => 6,
        Other(_) => return None,
    })
}

/// The week as typed, checked by the shared rules, ready to send.
fn hours_input(
    fields: &[RwSignal<String>; 7],
) -> Result<Vec<save_text_back::DayHoursInput>, HoursError> {
    use save_text_back::Weekday::*;
    let mut week = BusinessHours {
        days: Default::default(),
    };
    for (day, field) in week.days.iter_mut().zip(fields) {
        *day = hours::parse_day(&field.get_untracked())?;
    }
    week.validate()?;
    let weekdays = [
        MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, SUNDAY,
    ];
    Ok(weekdays
        .into_iter()
        .zip(week.days)
        .map(|(weekday, spans)| save_text_back::DayHoursInput {
            weekday,
            spans: spans
                .into_iter()
                .map(|span| save_text_back::OpeningSpanInput {
                    opens: span.opens.into(),
                    closes: span.closes.into(),
                })
                .collect(),
        })
        .collect())
}

/// Business hours, one line per weekday, and the holidays (closed all day).
fn hours_fieldset(week: [RwSignal<String>; 7], holidays: RwSignal<Vec<String>>) -> impl IntoView {
    let new_holiday = RwSignal::new(String::new());
    let add = move |_| {
        let day = new_holiday.get_untracked();
        if !day.is_empty() {
            holidays.update(|days| {
                if !days.contains(&day) {
                    days.push(day);
                    days.sort();
                }
            });
            new_holiday.set(String::new());
        }
    };
    view! {
        <fieldset>
            <legend>"Business hours"</legend>
            <p class="hint" id="hours-hint">{format!(
                "In the {}'s time zone, e.g. 09:00–13:00, 14:00–17:30; 00:00–24:00 for a line open all day. Leave a day empty when closed.",
                crate::session::place_word()
            )}</p>
            {DAY_LABELS.iter().zip(week).enumerate().map(|(index, (label, value))| {
                let id = format!("hours-{index}");
                view! {
                    <label for=id.clone()>{*label}</label>
                    <input id=id.clone() data-testid=id aria-describedby="hours-hint" prop:value=value
                        on:input=move |ev| value.set(event_target_value(&ev)) />
                }
            }).collect_view()}
            <p>"Holidays (closed all day; the after-hours text is sent):"</p>
            <ul class="plain" data-testid="holidays">
                {move || holidays.get().into_iter().map(|day| {
                    let removed = day.clone();
                    view! {
                        <li>{day.clone()}" "
                            <button type="button" aria-label=format!("Remove {day}")
                                on:click=move |_| holidays.update(|days| days.retain(|kept| kept != &removed))>"Remove"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <label for="holiday-new">"Add a holiday"</label>
            <input id="holiday-new" data-testid="holiday-new" type="date" prop:value=new_holiday
                on:input=move |ev| new_holiday.set(event_target_value(&ev)) />
            <button type="button" data-testid="holiday-add" on:click=add>"Add"</button>
        </fieldset>
    }
}

/// The form's fields saved with the text-back's settings (the others are the clinic's).
const TEXT_BACK_FIELDS: &[&str] = &[
    "text-back switch",
    "delay",
    "booking link",
    "business hours",
    "holidays",
    "text in business hours",
    "text after hours",
];

/// Asked before strict privacy is saved: what switching to it destroys.
const STRICT_WARNING: &str = "Switch to strict privacy? Every caller number kept for conversations \
    and callbacks is destroyed at once: replies to callers and calling back from Ringback end, the \
    AI receptionist is turned off (it answers by text), and the numbers cannot be recovered.";

#[component]
pub fn Settings() -> impl IntoView {
    let loaded = LocalResource::new(|| api::run::<api::Settings>(settings::Variables));
    view! {
        <h1>"Settings"</h1>
        <p>
            <A href="/settings/numbers">"Phone numbers and forwarding line"</A>
            " · "<A href="/settings/attribution">"Attribution window, with a what-if preview"</A>
            " · "<A href="/settings/undelivered">"Texts not sent"</A>
            " · "<A href="/settings/ai">"AI receptionist"</A>
        </p>
        <AsyncView resource=loaded loading="Loading settings…" let:data>
            <SettingsForm data />
        </AsyncView>
        <crate::pages::calendar::GoogleCalendarSection />
    }
}

#[component]
fn SettingsForm(data: settings::ResponseData) -> impl IntoView {
    // Hours and wording the setup checklist still waits for are sent with the next save even
    // unchanged: saving the form confirms the defaults it shows (the step is then ticked).
    let waiting = |kind: settings::SetupStepKind| {
        data.setup_checklist
            .steps
            .iter()
            .any(|state| state.step == kind && !state.done)
    };
    let unconfirmed = StoredValue::new((
        waiting(settings::SetupStepKind::BUSINESS_HOURS),
        waiting(settings::SetupStepKind::TEXT_BACK_WORDING),
    ));
    let clinic = data.clinic;
    let phone = data.phone_settings;
    let name = RwSignal::new(clinic.name);
    let kind = RwSignal::new(clinic.kind);
    let time_zone = RwSignal::new(clinic.time_zone);
    let region = RwSignal::new(clinic.default_region);
    let currency = RwSignal::new(clinic.currency);
    // The privacy mode as last saved, to ask before a save that turns strict privacy on.
    let saved_privacy = std::rc::Rc::new(std::cell::RefCell::new(clinic.privacy_mode.clone()));
    let privacy = RwSignal::new(clinic.privacy_mode);
    let enabled = RwSignal::new(phone.text_back_enabled);
    let delay = RwSignal::new(phone.text_back_delay_seconds.to_string());
    let link = RwSignal::new(phone.booking_link.unwrap_or_default());
    let week = hours_fields(phone.business_hours);
    let holidays = RwSignal::new(phone.holidays);
    // Whether each box shows the default wording (the clinic has none of its own for it).
    let shows_default = (
        phone.business_hours_template_is_default,
        phone.after_hours_template_is_default,
    );
    let open_template = RwSignal::new(phone.business_hours_template);
    let closed_template = RwSignal::new(phone.after_hours_template);
    let session = use_session();
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let tracker = ChangeTracker::new(vec![
        ("name", name.into()),
        ("kind of business", kind.into()),
        ("country", region.into()),
        ("time zone", time_zone.into()),
        ("currency", currency.into()),
        ("privacy mode", privacy.into()),
        (
            "text-back switch",
            Signal::derive(move || enabled.get().to_string()),
        ),
        ("delay", delay.into()),
        ("booking link", link.into()),
        (
            "business hours",
            Signal::derive(move || {
                week.iter()
                    .map(|day| day.get())
                    .collect::<Vec<_>>()
                    .join("|")
            }),
        ),
        ("holidays", Signal::derive(move || holidays.get().join(","))),
        ("text in business hours", open_template.into()),
        ("text after hours", closed_template.into()),
    ]);
    // A save on its way: the button waits for it (a second click would send it again).
    let saving = RwSignal::new(false);
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        outcome.set(None);
        let pending = tracker.pending();
        let business_hours = match hours_input(&week) {
            Ok(days) => days,
            Err(problem) => return outcome.set(Some(Err(format!("Business hours: {problem}.")))),
        };
        let Ok(delay_seconds) = delay.get_untracked().trim().parse() else {
            return outcome.set(Some(Err(
                "Delay: a whole number of seconds, from 0 to 120.".to_owned(),
            )));
        };
        let chosen_privacy = privacy.get_untracked();
        let to_strict = chosen_privacy == "strict" && *saved_privacy.borrow() != "strict";
        if to_strict
            && !window()
                .confirm_with_message(STRICT_WARNING)
                .unwrap_or(false)
        {
            return;
        }
        // Only what this form changed is sent: a tab left open must not write back what another
        // member changed meanwhile (above all strict privacy, which destroys kept numbers).
        let (hours_unconfirmed, wording_unconfirmed) = unconfirmed.get_value();
        let sent = |field: &str, value: String| pending.has(field).then_some(value);
        // A box still showing the default it was given is sent empty while the checklist waits
        // for the wording: the default is kept (it follows the booking link) and counts as saved.
        let wording = |field: &str, value: String, default_shown: bool| {
            if pending.has(field) {
                Some(value)
            } else if wording_unconfirmed {
                Some(if default_shown { String::new() } else { value })
            } else {
                None
            }
        };
        let clinic_input = save_clinic::ClinicSettingsInput {
            name: sent("name", name.get_untracked()),
            time_zone: sent("time zone", time_zone.get_untracked()),
            default_region: sent("country", region.get_untracked()),
            currency: sent("currency", currency.get_untracked()),
            privacy_mode: sent("privacy mode", chosen_privacy.clone()),
            // On the Privacy page.
            conversation_retention_days: None,
            call_retention_days: None,
            kind: sent("kind of business", kind.get_untracked()),
            attribution_window_days: None,
        };
        let text_back_input = save_text_back::PhoneSettingsInput {
            text_back_enabled: pending
                .has("text-back switch")
                .then(|| enabled.get_untracked()),
            text_back_delay_seconds: pending.has("delay").then_some(delay_seconds),
            booking_link: sent("booking link", link.get_untracked()),
            business_hours_template: wording(
                "text in business hours",
                open_template.get_untracked(),
                shows_default.0,
            ),
            after_hours_template: wording(
                "text after hours",
                closed_template.get_untracked(),
                shows_default.1,
            ),
            // Left out of the request (skip_serializing_none): these stay as they are.
            business_hours: (pending.has("business hours") || hours_unconfirmed)
                .then_some(business_hours),
            holidays: pending.has("holidays").then(|| holidays.get_untracked()),
            ring_timeout_seconds: None,
            help_text: None,
            sms_monthly_quota: None,
            sms_countries: None,
            sms_daily_limit: None,
        };
        let saved_privacy = saved_privacy.clone();
        one_at_a_time(saving, async move {
            // The text-back's settings first, the clinic's (strict privacy among them, which
            // cannot be undone) only once those are saved: a refused link or template then leaves
            // everything as it was, as the page says.
            let text_back = api::run::<api::SaveTextBack>(save_text_back::Variables {
                input: text_back_input,
            })
            .await;
            if let Err(error) = text_back {
                return outcome.set(Some(Err(error.to_string())));
            }
            unconfirmed.set_value((false, false));
            let clinic = api::run::<api::SaveClinic>(save_clinic::Variables {
                input: clinic_input,
            })
            .await;
            outcome.set(Some(match clinic {
                Ok(_) => {
                    *saved_privacy.borrow_mut() = chosen_privacy;
                    session.reload();
                    Ok(tracker.saved(pending))
                }
                Err(error) => {
                    let text_back_changed = TEXT_BACK_FIELDS.iter().any(|field| pending.has(field));
                    let saved = tracker.saved_part(&pending, TEXT_BACK_FIELDS);
                    Err(if text_back_changed {
                        format!("{saved} The clinic's details were not saved: {error}")
                    } else {
                        error.to_string()
                    })
                }
            }));
        });
    };
    let field = |id: &'static str, label: &'static str, value: RwSignal<String>| {
        view! {
            <label for=id>{label}</label>
            <input id=id data-testid=id prop:value=value on:input=move |ev| value.set(event_target_value(&ev)) />
        }
    };
    let template = |id: &'static str, label: &'static str, value: RwSignal<String>, moment| {
        let shown = move || preview(&value.get(), moment, &name.get(), &link.get());
        view! {
            <label for=id>{label}</label>
            <textarea id=id data-testid=id rows="3" prop:value=value
                on:input=move |ev| value.set(event_target_value(&ev))></textarea>
            <p class="preview" aria-live="polite">
                <span class="label">"Preview: "</span>
                <span data-testid=format!("{id}-preview")>{move || shown().0}</span>
                <br />
                <small data-testid=format!("{id}-segments")>{move || shown().1}</small>
            </p>
        }
    };
    view! {
        <form class="settings" on:submit=save>
            <fieldset>
                <legend>{ringback_shared::display::capitalised(crate::session::place_word())}</legend>
                {field("clinic-name", "Name", name)}
                {choice("clinic-kind", "Kind of business (sets the AI's default questions)", kind_options(), kind)}
                {choice("clinic-region", "Country (a number written without a country code is taken as this country's)", region_options(&region.get_untracked()), region)}
                {move || choice("clinic-time-zone", "Time zone", zone_options(&region.get(), &time_zone.get_untracked()), time_zone)}
                {choice("clinic-currency", "Currency", currency_options(&currency.get_untracked()), currency)}
                <label for="clinic-privacy">"Privacy mode"</label>
                <select id="clinic-privacy" data-testid="clinic-privacy" prop:value=privacy
                    on:change=move |ev| privacy.set(event_target_value(&ev))>
                    <option value="strict">"Strict: keep no caller numbers (staff call back)"</option>
                    <option value="text_back">"Two-way texts: keep numbers sealed for conversations"</option>
                </select>
                <p><A href="/settings/privacy">"Retention and callers' requests: Privacy"</A></p>
            </fieldset>
            {hours_fieldset(week, holidays)}
            <fieldset>
                <legend>"Text-back"</legend>
                <label class="inline">
                    <input type="checkbox" data-testid="text-back-enabled" prop:checked=enabled
                        on:change=move |ev| enabled.set(event_target_checked(&ev)) />
                    " Text missed callers back"
                </label>
                {field("text-back-delay", "Delay before the text (0–120 seconds)", delay)}
                {field("booking-link", "Booking link (optional)", link)}
                {template("template-open", "Text in business hours", open_template, Moment::BusinessHours)}
                {template("template-closed", "Text after hours and on holidays", closed_template, Moment::AfterHours)}
            </fieldset>
            {move || outcome.get().map(|result| match result {
                Ok(said) => view! { <p role="status" data-testid="settings-saved">{said}</p> }.into_any(),
                Err(message) => view! { <Alert message=Some(message) test_id="settings-error" /> }.into_any(),
            })}
            <button type="submit" data-testid="settings-save" disabled=move || saving.get()>
                "Save settings"
            </button>
        </form>
    }
}

/// `options` with `current` added first when it is not among them (a value set before the lists).
fn keeping_current(mut options: Vec<(String, String)>, current: &str) -> Vec<(String, String)> {
    if !current.is_empty() && !options.iter().any(|(value, _)| value == current) {
        options.insert(0, (current.to_owned(), current.to_owned()));
    }
    options
}

/// The kinds of business offered.
fn kind_options() -> Vec<(String, String)> {
    ringback_shared::business::KINDS
        .iter()
        .map(|(value, label)| ((*value).to_owned(), (*label).to_owned()))
        .collect()
}

/// The countries offered.
fn region_options(current: &str) -> Vec<(String, String)> {
    let listed = COUNTRIES
        .iter()
        .map(|country| (country.code.to_owned(), country.name.to_owned()))
        .collect();
    keeping_current(listed, current)
}

/// The time zones of country `region`.
fn zone_options(region: &str, current: &str) -> Vec<(String, String)> {
    keeping_current(zone_choices(region), current)
}

/// The currencies of the countries offered.
fn currency_options(current: &str) -> Vec<(String, String)> {
    let mut listed: Vec<(String, String)> = COUNTRIES
        .iter()
        .map(|country| (country.currency.to_owned(), country.currency.to_owned()))
        .collect();
    listed.sort();
    listed.dedup();
    keeping_current(listed, current)
}
