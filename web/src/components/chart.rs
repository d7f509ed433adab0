//! A daily bar chart in SVG with axes, labels and a tooltip per day, and the same numbers as a
//! table for screen readers and anyone who prefers one.

use leptos::prelude::*;

/// One day's bars.
#[derive(Clone, Debug, PartialEq)]
pub struct DayBars {
    pub day: String,
    pub missed: i64,
    pub recovered: i64,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 28.0;
const TOP: f64 = 12.0;

/// A round top for the y axis: the smallest of 1, 2, 5 × 10ⁿ at or above `max`.
fn axis_top(max: i64) -> i64 {
    let max = max.max(1);
    let mut step = 1;
    loop {
        for factor in [1, 2, 5] {
            if step * factor >= max {
                return step * factor;
            }
        }
        step *= 10;
    }
}

/// Missed calls and recovered appointments per day.
#[component]
pub fn DailyChart(title: &'static str, days: Vec<DayBars>) -> impl IntoView {
    let top = axis_top(
        days.iter()
            .map(|d| d.missed.max(d.recovered))
            .max()
            .unwrap_or(0),
    );
    let plot_width = WIDTH - LEFT - 8.0;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let slot = plot_width / days.len().max(1) as f64;
    let y = move |value: i64| TOP + plot_height * (1.0 - value as f64 / top as f64);
    let bars = days
        .iter()
        .enumerate()
        .map(|(index, day)| {
            let x = LEFT + slot * index as f64;
            let bar = (slot * 0.4).max(1.0);
            let tip = format!("{}: {} missed, {} recovered", day.day, day.missed, day.recovered);
            view! {
                <g>
                    <title>{tip}</title>
                    <rect class="missed" x=x + slot * 0.1 y=y(day.missed) width=bar height=(y(0) - y(day.missed)).max(0.0) />
                    <rect class="recovered" x=x + slot * 0.1 + bar y=y(day.recovered) width=bar height=(y(0) - y(day.recovered)).max(0.0) />
                </g>
            }
        })
        .collect_view();
    let label_every = (days.len() / 6).max(1);
    let labels = days
        .iter()
        .enumerate()
        .filter(|(index, _)| index % label_every == 0)
        .map(|(index, day)| {
            let x = LEFT + slot * index as f64 + slot / 2.0;
            view! { <text class="tick" x=x y=HEIGHT - 8.0 text-anchor="middle">{day.day[5..].to_owned()}</text> }
        })
        .collect_view();
    let ticks = [0, top / 2, top]
        .into_iter()
        .map(|value| {
            view! {
                <line class="grid" x1=LEFT x2=WIDTH - 8.0 y1=y(value) y2=y(value) />
                <text class="tick" x=LEFT - 6.0 y=y(value) + 4.0 text-anchor="end">{value}</text>
            }
        })
        .collect_view();
    let rows = days
        .iter()
        .map(|day| view! { <tr><th scope="row">{day.day.clone()}</th><td>{day.missed}</td><td>{day.recovered}</td></tr> })
        .collect_view();
    view! {
        <figure class="chart">
            <figcaption>{title}" "<span class="key missed">"missed calls"</span>" "<span class="key recovered">"recovered appointments"</span></figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") role="img" aria-label=title>
                {ticks}
                <line class="axis" x1=LEFT x2=LEFT y1=TOP y2=y(0) />
                <line class="axis" x1=LEFT x2=WIDTH - 8.0 y1=y(0) y2=y(0) />
                {bars}
                {labels}
            </svg>
            <details>
                <summary>"Show as a table"</summary>
                <table>
                    <thead><tr><th scope="col">"Day"</th><th scope="col">"Missed calls"</th><th scope="col">"Recovered"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </details>
        </figure>
    }
}
