//! Export: calls, appointments or daily metrics for chosen days as CSV (recorded in the audit
//! log; no phone numbers in it), offered as a download link once the server has built it.

use chrono::Duration;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, export_csv};
use crate::components::Alert;
use crate::time::use_clinic_time;

/// A finished export, ready to download.
#[derive(Clone)]
struct Ready {
    filename: String,
    href: String,
    rows: i64,
}

#[component]
pub fn Export() -> impl IntoView {
    let to = use_clinic_time().today();
    let what = RwSignal::new("CALLS".to_owned());
    let from_day = RwSignal::new((to - Duration::days(29)).to_string());
    let to_day = RwSignal::new(to.to_string());
    let ready = RwSignal::new(None::<Ready>);
    let failure = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let variables = export_csv::Variables {
            what: match what.get_untracked().as_str() {
                "APPOINTMENTS" => export_csv::ExportWhat::APPOINTMENTS,
                "METRICS" => export_csv::ExportWhat::METRICS,
                _ => export_csv::ExportWhat::CALLS,
            },
            from: from_day.get_untracked(),
            to: to_day.get_untracked(),
        };
        busy.set(true);
        ready.set(None);
        spawn_local(async move {
            match api::run::<api::ExportCsv>(variables).await {
                Ok(data) => {
                    let file = data.export_csv;
                    match api::file_href(&file.content, "text/csv;charset=utf-8") {
                        Ok(href) => {
                            failure.set(None);
                            ready.set(Some(Ready {
                                filename: file.filename,
                                href,
                                rows: file.rows,
                            }));
                        }
                        Err(error) => failure.set(Some(error.to_string())),
                    }
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
                    <option value="CALLS">"Calls"</option>
                    <option value="APPOINTMENTS">"Appointments, with why each counts or not"</option>
                    <option value="METRICS">"Daily figures"</option>
                </select>
                <label for="export-from">"From"</label>
                <input id="export-from" type="date" prop:value=from_day on:change=move |ev| from_day.set(event_target_value(&ev)) />
                <label for="export-to">"To"</label>
                <input id="export-to" type="date" prop:value=to_day on:change=move |ev| to_day.set(event_target_value(&ev)) />
            </fieldset>
            <button type="submit" data-testid="export-create" disabled=move || busy.get()>"Prepare the CSV"</button>
        </form>
        <Alert message=failure />
        {move || ready.get().map(|file| view! {
            <p role="status">
                <a data-testid="export-download" href=file.href download=file.filename.clone()>
                    {format!("Download {} ({} rows)", file.filename, file.rows)}
                </a>
            </p>
        })}
    }
}
