//! Attribution settings with a what-if: moving the window re-runs the shared attribution engine in
//! the browser over the last 30 days' events (caller keys only), shows the recovered figures it
//! would give against the saved ones, and saves the window on confirm. The server, recomputing
//! after the save, must arrive at the same figures.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use leptos::prelude::*;
use ringback_shared::attribution::{
    AppointmentRecord, AttributionWindow, CallDirection, CallOutcome, CallRecord, ReplyRecord,
    attribute,
};
use ringback_shared::display;
use uuid::Uuid;

use crate::api::{self, ApiError, save_window, what_if};
use crate::components::{Alert, AsyncView, failure_of};
use crate::time::{instant, use_clinic_time};

/// Saving the window (in days); the figures are keyed on its version, so they reload after it.
type SaveWindow = Action<(i64, i64), Result<String, ApiError>>;

/// Days the preview covers, ending today.
const PERIOD_DAYS: i64 = 30;

/// The engine's inputs, read from the API's answer (rows it cannot read are left out, as the
/// server leaves them out).
struct Events {
    calls: Vec<CallRecord>,
    replies: Vec<ReplyRecord>,
    appointments: Vec<AppointmentRecord>,
    period: std::ops::Range<DateTime<Utc>>,
}

fn events(data: &what_if::WhatIfAttributionEvents) -> Events {
    let id = |text: &str| Uuid::parse_str(text).ok();
    Events {
        calls: data
            .calls
            .iter()
            .filter_map(|call| {
                Some(CallRecord {
                    id: id(&call.id)?,
                    caller_key: call.caller_key.clone(),
                    at: instant(&call.at)?,
                    direction: CallDirection::parse(&call.direction)?,
                    outcome: CallOutcome::parse(&call.outcome)?,
                })
            })
            .collect(),
        replies: data
            .replies
            .iter()
            .filter_map(|reply| {
                Some(ReplyRecord {
                    id: id(&reply.id)?,
                    caller_key: reply.caller_key.clone(),
                    at: instant(&reply.at)?,
                })
            })
            .collect(),
        appointments: data
            .appointments
            .iter()
            .filter_map(|appointment| {
                Some(AppointmentRecord {
                    id: id(&appointment.id)?,
                    caller_key: appointment.caller_key.clone(),
                    created_at: instant(&appointment.created_at)?,
                    value_minor: appointment.value_minor,
                    cancelled: appointment.cancelled,
                })
            })
            .collect(),
        period: instant(&data.period_start).unwrap_or_default()
            ..instant(&data.period_end).unwrap_or_default(),
    }
}

/// Recovered appointments and revenue in the period with a `days`-day window.
fn preview(events: &Events, days: u32) -> (u64, i64) {
    let Ok(window) = AttributionWindow::from_days(days) else {
        return (0, 0);
    };
    attribute(window, &events.calls, &events.replies, &events.appointments)
        .recovered_between(events.period.clone())
}

#[component]
pub fn WhatIf() -> impl IntoView {
    let to: NaiveDate = use_clinic_time().today();
    let from = to - Duration::days(PERIOD_DAYS - 1);
    // (saved days, new days): the save says what it changed.
    let save: SaveWindow = Action::new_local(|&(before, days): &(i64, i64)| {
        let variables = save_window::Variables { days };
        async move {
            api::run::<api::SaveWindow>(variables).await?;
            Ok(format!(
                "Saved: attribution window changed from {before} to {days} days."
            ))
        }
    });
    let said = save.value();
    let saved = save.version();
    let loaded = LocalResource::new(move || {
        saved.track();
        api::run::<api::WhatIf>(what_if::Variables {
            from: from.to_string(),
            to: to.to_string(),
        })
    });
    view! {
        <h1>"Attribution window"</h1>
        <p>
            "An appointment counts as recovered when the caller missed you, was called back, replied "
            "to the text or rang back, and booked within the window after the missed call. Try another "
            "window: the figures below are recomputed here, in your browser, for "
            <span data-testid="whatif-period" data-from=from.to_string() data-to=to.to_string()>
                {format!("{from} to {to}")}
            </span>"."
        </p>
        {move || said.get().and_then(Result::ok).map(|said| view! {
            <p class="confirmation" role="status" data-testid="whatif-saved">{said}</p>
        })}
        <AsyncView resource=loaded loading="Loading the last 30 days…" let:data>
            <Preview data save />
        </AsyncView>
    }
}

#[component]
fn Preview(data: what_if::ResponseData, save: SaveWindow) -> impl IntoView {
    let currency = data.clinic.currency.clone();
    let saved_days = data.clinic.attribution_window_days;
    let saved = (
        data.metrics.totals.recovered_appointments,
        data.metrics.totals.recovered_revenue_minor,
    );
    let events = StoredValue::new_local(events(&data.attribution_events));
    let days = RwSignal::new(u32::try_from(saved_days).unwrap_or(7));
    let figures = Memo::new(move |_| events.with_value(|events| preview(events, days.get())));
    let money = move |minor: i64| display::money(minor, &currency);
    let money_preview = money.clone();
    view! {
        <label for="whatif-window">{move || format!("Window: {} days", days.get())}</label>
        <input id="whatif-window" data-testid="whatif-window" type="range" min="1" max="30" step="1"
            prop:value=move || days.get().to_string()
            on:input=move |ev| days.set(event_target_value(&ev).parse().unwrap_or(7)) />
        <dl class="figures">
            <div class="figure">
                <dt>{move || format!("Recovered with {} days", days.get())}</dt>
                <dd data-testid="whatif-recovered">{move || figures.get().0}</dd>
                <dd data-testid="whatif-revenue">{move || money_preview(figures.get().1)}</dd>
            </div>
            <div class="figure">
                <dt>{format!("Saved: {saved_days} days")}</dt>
                <dd data-testid="saved-recovered">{saved.0}</dd>
                <dd data-testid="saved-revenue">{money(saved.1)}</dd>
            </div>
            <div class="figure">
                <dt>"Difference"</dt>
                <dd data-testid="whatif-difference">{move || format!("{:+}", figures.get().0 as i64 - saved.0)}</dd>
            </div>
        </dl>
        <Alert message=failure_of(save) />
        <button type="button" data-testid="whatif-save" data-saved-days=saved_days
            disabled=move || i64::from(days.get()) == saved_days on:click=move |_| { save.dispatch((saved_days, i64::from(days.get_untracked()))); }>
            {move || format!("Save a {}-day window", days.get())}
        </button>
    }
}
