//! The number check: type a phone number and see how Ringback will read it (E.164 and type), using
//! the same shared code as the server. Nothing typed here leaves the browser.

use leptos::prelude::*;
use ringback_shared::phone::{self, Region};

/// Regions offered in the picker; any ISO code works on the server.
const REGIONS: &[(&str, &str)] = &[
    ("GB", "United Kingdom"),
    ("IE", "Ireland"),
    ("AU", "Australia"),
    ("US", "United States"),
];

/// The number check panel.
#[component]
pub fn NumberCheck() -> impl IntoView {
    let (number, set_number) = signal(String::new());
    let (region, set_region) = signal(REGIONS[0].0.to_owned());
    let reading = move || describe(&number.get(), &region.get());
    view! {
        <section aria-labelledby="number-check-heading">
            <h2 id="number-check-heading">"Number check"</h2>
            <p>"See how a number will be read. It is checked in your browser and not sent anywhere."</p>
            <div class="field">
                <label for="number-check-region">"Default region"</label>
                <select id="number-check-region" on:change=move |ev| set_region.set(event_target_value(&ev))>
                    {REGIONS
                        .iter()
                        .map(|(code, name)| view! { <option value=*code>{*name}</option> })
                        .collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="number-check-input">"Phone number"</label>
                <input
                    id="number-check-input"
                    type="tel"
                    autocomplete="off"
                    prop:value=number
                    on:input=move |ev| set_number.set(event_target_value(&ev))
                />
            </div>
            <output for="number-check-input" data-testid="number-check-result" aria-live="polite">
                {reading}
            </output>
        </section>
    }
}

/// The sentence shown for `input` read with `region` as the default.
fn describe(input: &str, region: &str) -> String {
    if input.trim().is_empty() {
        return String::new();
    }
    let region: Region = match region.parse() {
        Ok(region) => region,
        Err(error) => return format!("{error}"),
    };
    match phone::normalize(input, region) {
        Ok(number) => {
            let kind = number
                .kind
                .map(|kind| kind.as_str())
                .unwrap_or("unknown type");
            format!("{} · {}", number.e164.as_str(), kind.replace('_', " "))
        }
        Err(error) => error.to_string(),
    }
}
