//! Settings (admins and owners): the clinic's profile and privacy, and the text-back with a live
//! preview of each template, filled and marked as automated exactly as the server will send it,
//! with its SMS segment count.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use ringback_shared::sms::{self, Encoding};

use crate::api::{self, save_clinic, save_text_back, settings};

/// The preview of one template and what it costs.
fn preview(template: &str, clinic: &str, link: &str) -> (String, String) {
    let link = (!link.trim().is_empty()).then_some(link.trim());
    let text = sms::render(template, clinic, link);
    let counted = sms::segments(&text);
    let encoding = match counted.encoding {
        Encoding::Gsm7 => "GSM-7",
        Encoding::Ucs2 => "UCS-2 (a character outside GSM-7)",
    };
    let cost = format!(
        "{} characters, {} SMS segment{} ({encoding})",
        text.chars().count(),
        counted.count,
        if counted.count == 1 { "" } else { "s" }
    );
    (text, cost)
}

#[component]
pub fn Settings() -> impl IntoView {
    let loaded = LocalResource::new(|| api::run::<api::Settings>(settings::Variables));
    view! {
        <h1>"Settings"</h1>
        <p><A href="/settings/attribution">"Attribution window, with a what-if preview"</A></p>
        <Suspense fallback=|| view! { <p aria-busy="true">"Loading settings…"</p> }>
            {move || loaded.get().map(|result| match result {
                Ok(data) => view! { <SettingsForm data /> }.into_any(),
                Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
            })}
        </Suspense>
    }
}

#[component]
fn SettingsForm(data: settings::ResponseData) -> impl IntoView {
    let clinic = data.clinic;
    let phone = data.phone_settings;
    let name = RwSignal::new(clinic.name);
    let time_zone = RwSignal::new(clinic.time_zone);
    let region = RwSignal::new(clinic.default_region);
    let currency = RwSignal::new(clinic.currency);
    let privacy = RwSignal::new(clinic.privacy_mode);
    let retention = RwSignal::new(clinic.conversation_retention_days.to_string());
    let enabled = RwSignal::new(phone.text_back_enabled);
    let delay = RwSignal::new(phone.text_back_delay_seconds.to_string());
    let link = RwSignal::new(phone.booking_link.unwrap_or_default());
    let loaded_open = phone.business_hours_template.clone();
    let loaded_closed = phone.after_hours_template.clone();
    let open_template = RwSignal::new(phone.business_hours_template);
    let closed_template = RwSignal::new(phone.after_hours_template);
    // A template is sent only when edited, so untouched defaults stay defaults.
    let edited = move |value: RwSignal<String>, loaded: &str| {
        Some(value.get_untracked()).filter(|text| text != loaded)
    };
    let outcome = RwSignal::new(None::<Result<(), String>>);
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let clinic_input = save_clinic::ClinicSettingsInput {
            name: Some(name.get_untracked()),
            time_zone: Some(time_zone.get_untracked()),
            default_region: Some(region.get_untracked()),
            currency: Some(currency.get_untracked()),
            privacy_mode: Some(privacy.get_untracked()),
            conversation_retention_days: retention.get_untracked().trim().parse().ok(),
            kind: None,
            attribution_window_days: None,
        };
        let text_back_input = save_text_back::PhoneSettingsInput {
            text_back_enabled: Some(enabled.get_untracked()),
            text_back_delay_seconds: delay.get_untracked().trim().parse().ok(),
            booking_link: Some(link.get_untracked()),
            business_hours_template: edited(open_template, &loaded_open),
            after_hours_template: edited(closed_template, &loaded_closed),
            // Left out of the request (skip_serializing_none): these stay as they are.
            business_hours: None,
            ring_timeout_seconds: None,
            help_text: None,
            holidays: None,
            sms_monthly_quota: None,
        };
        spawn_local(async move {
            let saved = async {
                api::run::<api::SaveClinic>(save_clinic::Variables {
                    input: clinic_input,
                })
                .await?;
                api::run::<api::SaveTextBack>(save_text_back::Variables {
                    input: text_back_input,
                })
                .await
            };
            outcome.set(Some(
                saved.await.map(|_| ()).map_err(|error| error.to_string()),
            ));
        });
    };
    let field = |id: &'static str, label: &'static str, value: RwSignal<String>| {
        view! {
            <label for=id>{label}</label>
            <input id=id data-testid=id prop:value=value on:input=move |ev| value.set(event_target_value(&ev)) />
        }
    };
    let template = |id: &'static str, label: &'static str, value: RwSignal<String>| {
        let shown = move || preview(&value.get(), &name.get(), &link.get());
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
                <legend>"Clinic"</legend>
                {field("clinic-name", "Name", name)}
                {field("clinic-time-zone", "Time zone (IANA, e.g. Europe/London)", time_zone)}
                {field("clinic-region", "Region for numbers without a country code (e.g. GB)", region)}
                {field("clinic-currency", "Currency (ISO 4217, e.g. GBP)", currency)}
                <label for="clinic-privacy">"Privacy mode"</label>
                <select id="clinic-privacy" data-testid="clinic-privacy" prop:value=privacy
                    on:change=move |ev| privacy.set(event_target_value(&ev))>
                    <option value="strict">"Strict: keep no caller numbers (staff call back)"</option>
                    <option value="text_back">"Two-way texts: keep numbers sealed for conversations"</option>
                </select>
                {field("clinic-retention", "Keep conversations for (days)", retention)}
            </fieldset>
            <fieldset>
                <legend>"Text-back"</legend>
                <label class="inline">
                    <input type="checkbox" data-testid="text-back-enabled" prop:checked=enabled
                        on:change=move |ev| enabled.set(event_target_checked(&ev)) />
                    " Text missed callers back"
                </label>
                {field("text-back-delay", "Delay before the text (0–120 seconds)", delay)}
                {field("booking-link", "Booking link (optional)", link)}
                {template("template-open", "Text in business hours", open_template)}
                {template("template-closed", "Text after hours and on holidays", closed_template)}
            </fieldset>
            {move || outcome.get().map(|result| match result {
                Ok(()) => view! { <p role="status" data-testid="settings-saved">"Saved."</p> }.into_any(),
                Err(message) => view! { <p class="error" role="alert" data-testid="settings-error">{message}</p> }.into_any(),
            })}
            <button type="submit" data-testid="settings-save">"Save settings"</button>
        </form>
    }
}
