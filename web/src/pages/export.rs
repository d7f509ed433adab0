//! Export: calls, appointments or daily metrics for chosen days as CSV (recorded in the audit
//! log; no phone numbers in it), downloaded streamed from the server (however many rows, without
//! one answer holding them all) and offered as a link to save once it has arrived.

use chrono::{Duration, NaiveDate};
use leptos::prelude::*;
use leptos::task::spawn_local;
use ringback_shared::exports::{csv_download_path, csv_file_name};

use crate::api;
use crate::components::Alert;
use crate::time::use_clinic_time;

/// A finished export, ready to save.
#[derive(Clone)]
struct Ready {
    filename: String,
    href: String,
    rows: u64,
}

#[component]
pub fn Export() -> impl IntoView {
    let to = use_clinic_time().today();
    let what = RwSignal::new("calls".to_owned());
    let from_day = RwSignal::new((to - Duration::days(29)).to_string());
    let to_day = RwSignal::new(to.to_string());
    let ready = RwSignal::new(None::<Ready>);
    let failure = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let received = RwSignal::new(0_u64);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let days = (
            from_day.get_untracked().parse::<NaiveDate>(),
            to_day.get_untracked().parse::<NaiveDate>(),
        );
        let (Ok(from), Ok(to)) = days else {
            failure.set(Some("Choose both days.".to_owned()));
            return;
        };
        let kind = what.get_untracked();
        busy.set(true);
        ready.set(None);
        received.set(0);
        spawn_local(async move {
            let url = csv_download_path(&kind, from, to);
            let progress = move |lines| received.set(lines);
            match api::download_lines(&url, "text/csv;charset=utf-8", progress).await {
                Ok(file) => {
                    failure.set(None);
                    ready.set(Some(Ready {
                        filename: csv_file_name(&kind, from, to),
                        href: file.href,
                        // The header line is not a row.
                        rows: file.lines.saturating_sub(1),
                    }));
                }
                Err(error) => failure.set(Some(error.to_string())),
            }
            busy.set(false);
        });
    };
    view! {
        <h1>"Export"</h1>
        <form class="settings" on:submit=submit>
            <fieldset>
                <legend>"What and when"</legend>
                <label for="export-what">"Export"</label>
                <select id="export-what" data-testid="export-what" prop:value=what
                    on:change=move |ev| what.set(event_target_value(&ev))>
                    <option value="calls">"Calls"</option>
                    <option value="appointments">"Appointments, with why each counts or not"</option>
                    <option value="metrics">"Daily figures"</option>
                </select>
                <label for="export-from">"From"</label>
                <input id="export-from" type="date" prop:value=from_day on:change=move |ev| from_day.set(event_target_value(&ev)) />
                <label for="export-to">"To"</label>
                <input id="export-to" type="date" prop:value=to_day on:change=move |ev| to_day.set(event_target_value(&ev)) />
            </fieldset>
            <button type="submit" data-testid="export-create" disabled=move || busy.get()>"Prepare the CSV"</button>
        </form>
        <Alert message=failure />
        {move || busy.get().then(|| view! {
            <p role="status" aria-busy="true">{format!("Downloading… {} lines so far", received.get())}</p>
        })}
        {move || ready.get().map(|file| view! {
            <p role="status">
                <a data-testid="export-download" href=file.href download=file.filename.clone()>
                    {format!("Download {} ({} rows)", file.filename, file.rows)}
                </a>
            </p>
        })}
    }
}
