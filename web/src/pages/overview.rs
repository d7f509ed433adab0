//! The overview: the chosen period's figures (missed calls, miss rate, text-backs, reply rate,
//! callbacks and median time to callback, recovered appointments, recovery rate, recovered
//! revenue), each against the period before it, the daily series as a chart, and (when it is on
//! or did anything) what the AI receptionist did: conversations, bookings and the revenue they
//! recovered, hand-offs, follow-ups. Days are the clinic's days, in its time zone.

use chrono::NaiveDate;
use leptos::prelude::*;
use ringback_shared::access::Permission;
use ringback_shared::display::{self, DayRange, Period};

use crate::api::{self, overview};
use crate::components::chart::{DailyChart, DayBars};
use crate::components::{AsyncView, SetupChecklist, UndeliveredNotice, use_activity};
use crate::session::{allows, clinic_currency, use_session};
use crate::time::use_clinic_time;

/// One figure as shown: label, test id, the period's value and the previous period's.
struct Shown {
    label: &'static str,
    test_id: &'static str,
    current: String,
    previous: String,
}

fn shown(
    current: &overview::FigureSet,
    previous: &overview::FigureSet,
    currency: &str,
) -> Vec<Shown> {
    let both = |label, test_id, read: &dyn Fn(&overview::FigureSet) -> String| Shown {
        label,
        test_id,
        current: read(current),
        previous: read(previous),
    };
    vec![
        both("Missed calls", "figure-missed-calls", &|f| {
            f.missed_calls.to_string()
        }),
        both("Miss rate", "figure-miss-rate", &|f| {
            display::percent(f.miss_rate)
        }),
        both("Text-backs sent", "figure-text-backs", &|f| {
            f.text_backs_sent.to_string()
        }),
        both("Reply rate", "figure-reply-rate", &|f| {
            display::percent(f.reply_rate)
        }),
        both("Time to text (median)", "figure-time-to-text", &|f| {
            display::duration(f.median_time_to_text_seconds)
        }),
        both(
            "Time to text (90% within)",
            "figure-time-to-text-p90",
            &|f| display::duration(f.p90_time_to_text_seconds),
        ),
        both("Callbacks", "figure-callbacks", &|f| {
            f.callbacks.to_string()
        }),
        both("Median time to callback", "figure-time-to-callback", &|f| {
            display::duration(f.median_time_to_callback_seconds)
        }),
        both("Recovered appointments", "figure-recovered", &|f| {
            f.recovered_appointments.to_string()
        }),
        both("Recovery rate", "figure-recovery-rate", &|f| {
            display::percent(f.recovery_rate)
        }),
        both("Recovered revenue", "figure-revenue", &|f| {
            display::money(f.recovered_revenue_minor, currency)
        }),
    ]
}

/// The choices of the period picker.
#[derive(Clone, Copy, PartialEq)]
enum Choice {
    ThisWeek,
    Last30Days,
    ThisMonth,
    Custom,
}

impl Choice {
    const ALL: [(Choice, &'static str, &'static str); 4] = [
        (Choice::ThisWeek, "This week", "this-week"),
        (Choice::Last30Days, "Last 30 days", "last-30-days"),
        (Choice::ThisMonth, "This month", "this-month"),
        (Choice::Custom, "Custom", "custom"),
    ];
}

#[component]
pub fn Overview() -> impl IntoView {
    let session = use_session();
    let currency = clinic_currency();
    let clock = use_clinic_time();
    let today = clock.today();
    let choice = RwSignal::new(Choice::ThisMonth);
    let custom_from = RwSignal::new((today - chrono::Duration::days(6)).to_string());
    let custom_to = RwSignal::new(today.to_string());
    let period = Memo::new(move |_| match choice.get() {
        Choice::ThisWeek => Period::ThisWeek,
        Choice::Last30Days => Period::Last30Days,
        Choice::ThisMonth => Period::ThisMonth,
        Choice::Custom => {
            let parse = |text: String| text.parse::<NaiveDate>().unwrap_or_else(|_| clock.today());
            Period::Custom {
                from: parse(custom_from.get()),
                to: parse(custom_to.get()),
            }
        }
    });
    // The figures follow the clinic's activity: a call missed while the page is open counts, and
    // the periods end on the clinic's today when the day turns.
    let activity = use_activity();
    let figures = LocalResource::new(move || {
        activity.track();
        let (period, today) = (period.get(), clock.today());
        let (range, before) = (period.range(today), period.comparison(today));
        async move {
            let variables = overview::Variables {
                from: range.from.to_string(),
                to: range.to.to_string(),
                previous_from: before.from.to_string(),
                previous_to: before.to.to_string(),
            };
            api::run::<api::Overview>(variables)
                .await
                .map(|data| (range, before, data))
        }
    });
    let admin = allows(session, Permission::ManageSettings);
    view! {
        <h1>"Overview"</h1>
        {admin.then(|| view! { <SetupChecklist /> <UndeliveredNotice /> })}
        <fieldset class="periods">
            <legend>"Period"</legend>
            {Choice::ALL.into_iter().map(|(value, label, id)| view! {
                <label>
                    <input type="radio" name="period" id=format!("period-{id}") data-testid=format!("period-{id}")
                        prop:checked=move || choice.get() == value
                        on:change=move |_| choice.set(value) />
                    {label}
                </label>
            }).collect_view()}
            <Show when=move || choice.get() == Choice::Custom>
                <label>"From "<input type="date" data-testid="period-from" prop:value=custom_from
                    on:change=move |ev| custom_from.set(event_target_value(&ev)) /></label>
                <label>"To "<input type="date" data-testid="period-to" prop:value=custom_to
                    on:change=move |ev| custom_to.set(event_target_value(&ev)) /></label>
            </Show>
        </fieldset>
        <AsyncView resource=figures loading="Loading figures…" let:((range, before, data))>
            {report(range, before, data, &currency)}
        </AsyncView>
    }
}

/// What the AI receptionist did in the period, when it is on or did anything.
fn ai_figures(
    enabled: bool,
    ai: overview::OverviewAi,
    currency: &str,
) -> Option<impl IntoView + use<>> {
    let anything = ai.conversations + ai.bookings + ai.hand_offs + ai.follow_ups > 0;
    (enabled || anything).then(|| {
        let cards = [
            (
                "Conversations the AI answered",
                "figure-ai-conversations",
                ai.conversations.to_string(),
            ),
            (
                "Bookings by the AI",
                "figure-ai-bookings",
                ai.bookings.to_string(),
            ),
            (
                "Recovered by the AI",
                "figure-ai-recovered",
                ai.recovered_bookings.to_string(),
            ),
            (
                "Revenue recovered by the AI",
                "figure-ai-revenue",
                display::money(ai.recovered_revenue_minor, currency),
            ),
            (
                "Handed to the team",
                "figure-ai-hand-offs",
                ai.hand_offs.to_string(),
            ),
            (
                "Follow-ups sent",
                "figure-ai-follow-ups",
                ai.follow_ups.to_string(),
            ),
        ];
        view! {
            <h2>"AI receptionist"</h2>
            <dl class="figures" data-testid="overview-ai">
                {cards.into_iter().map(|(label, test_id, value)| view! {
                    <div class="figure"><dt>{label}</dt><dd data-testid=test_id>{value}</dd></div>
                }).collect_view()}
            </dl>
        }
    })
}

fn report(
    range: DayRange,
    before: DayRange,
    data: overview::ResponseData,
    currency: &str,
) -> impl IntoView + use<> {
    let cards = shown(&data.current.totals, &data.previous.totals, currency)
        .into_iter()
        .map(|figure| {
            view! {
                <div class="figure">
                    <dt>{figure.label}</dt>
                    <dd data-testid=figure.test_id>{figure.current}</dd>
                    <dd class="previous">"before: "{figure.previous}</dd>
                </div>
            }
        })
        .collect_view();
    let days = data
        .current
        .daily
        .into_iter()
        .map(|day| DayBars {
            day: day.day,
            missed: day.figures.missed_calls,
            recovered: day.figures.recovered_appointments,
        })
        .collect();
    let ai = ai_figures(data.ai_receptionist.enabled, data.ai, currency);
    view! {
        <p class="range" data-testid="overview-range">
            {format!("{} to {}, compared with {} to {}", range.from, range.to, before.from, before.to)}
        </p>
        <dl class="figures" data-testid="overview-figures">{cards}</dl>
        {ai}
        <DailyChart title="Missed calls and recovered appointments per day" days />
    }
}
