//! A labelled choice among fixed options, the way forms offer a country, a time zone or a
//! currency instead of free text.

use leptos::prelude::*;

/// A choice among `options` (value, label) bound to `value`, with its label.
pub fn choice(
    id: &'static str,
    label: &'static str,
    options: Vec<(String, String)>,
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <select id=id data-testid=id prop:value=value on:change=move |ev| value.set(event_target_value(&ev))>
            {options.into_iter().map(|(option, text)| {
                let selected = option == value.get_untracked();
                view! { <option value=option selected=selected>{text}</option> }
            }).collect_view()}
        </select>
    }
}

/// The time zones of country `code` as choices (value, label), e.g. "America/New York".
pub fn zone_choices(code: &str) -> Vec<(String, String)> {
    ringback_shared::countries::country(code)
        .map(|country| {
            country
                .time_zones
                .iter()
                .map(|zone| (zone.to_string(), zone.replace('_', " ")))
                .collect()
        })
        .unwrap_or_default()
}
