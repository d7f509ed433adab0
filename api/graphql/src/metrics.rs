//! Metrics over GraphQL: DESIGN.md's figures for a range of clinic-local days, with daily and
//! monthly series.

use async_graphql::parser::types::Field;
use async_graphql::{Context, ContextSelectionSet, Object, Positioned, SimpleObject, Value};
use chrono::NaiveDate;
use ringback_shared::access::Permission;
use ringback_shared::metrics::{PeriodMetrics, Ratio};

use crate::guard::{Access, Ending, with_tenant_reading};
use crate::plain::{Plain, PlainObject, answer_now, date, list_now, optional, scalar};
use ringback_domain::service::metrics;

/// The figures for one period. Rates are null when there is nothing to divide by.
#[derive(SimpleObject)]
pub struct Figures {
    pub inbound_calls: u64,
    pub missed_calls: u64,
    pub miss_rate: Option<f64>,
    pub text_backs_sent: u64,
    /// Callers who replied out of text-backs sent (a caller counts once per text-back).
    pub reply_rate: Option<f64>,
    /// Seconds from the missed call to the provider's acceptance of its text-back: the median.
    pub median_time_to_text_seconds: Option<i64>,
    /// The same, 90th percentile.
    pub p90_time_to_text_seconds: Option<i64>,
    pub callbacks: u64,
    pub median_time_to_callback_seconds: Option<i64>,
    pub recovered_appointments: u64,
    /// Recovered appointments out of missed calls.
    pub recovery_rate: Option<f64>,
    pub recovered_revenue_minor: i64,
}

fn rate(ratio: Ratio) -> Option<f64> {
    ratio.value()
}

impl From<&PeriodMetrics> for Figures {
    fn from(metrics: &PeriodMetrics) -> Self {
        Self {
            inbound_calls: metrics.inbound_calls,
            missed_calls: metrics.missed_calls,
            miss_rate: rate(metrics.miss_rate()),
            text_backs_sent: metrics.text_backs_sent,
            reply_rate: rate(metrics.reply_rate()),
            median_time_to_text_seconds: metrics.median_time_to_text_seconds(),
            p90_time_to_text_seconds: metrics.p90_time_to_text_seconds(),
            callbacks: metrics.callbacks,
            median_time_to_callback_seconds: metrics.median_time_to_callback_seconds(),
            recovered_appointments: metrics.recovered_appointments,
            recovery_rate: rate(metrics.recovery_rate()),
            recovered_revenue_minor: metrics.recovered_revenue_minor,
        }
    }
}

impl PlainObject for Figures {
    fn plain_value(&self, _: &ContextSelectionSet<'_>, field: &Positioned<Field>) -> Option<Value> {
        Some(match field.node.name.node.as_str() {
            "inboundCalls" => scalar(&self.inbound_calls),
            "missedCalls" => scalar(&self.missed_calls),
            "missRate" => optional(&self.miss_rate),
            "textBacksSent" => scalar(&self.text_backs_sent),
            "replyRate" => optional(&self.reply_rate),
            "medianTimeToTextSeconds" => optional(&self.median_time_to_text_seconds),
            "p90TimeToTextSeconds" => optional(&self.p90_time_to_text_seconds),
            "callbacks" => scalar(&self.callbacks),
            "medianTimeToCallbackSeconds" => optional(&self.median_time_to_callback_seconds),
            "recoveredAppointments" => scalar(&self.recovered_appointments),
            "recoveryRate" => optional(&self.recovery_rate),
            "recoveredRevenueMinor" => scalar(&self.recovered_revenue_minor),
            _ => return None,
        })
    }
}

/// One local day.
#[derive(SimpleObject)]
pub struct DayFigures {
    pub day: NaiveDate,
    pub figures: Figures,
}

/// One local month ("YYYY-MM").
#[derive(SimpleObject)]
pub struct MonthFigures {
    pub month: String,
    pub figures: Figures,
}

impl PlainObject for DayFigures {
    fn plain_value(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> Option<Value> {
        period_value(("day", || date(&self.day)), &self.figures, ctx, field)
    }
}

impl PlainObject for MonthFigures {
    fn plain_value(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> Option<Value> {
        period_value(("month", || scalar(&self.month)), &self.figures, ctx, field)
    }
}

/// A field of a day's or month's figures: its label (`day`, `month`) or its figures.
fn period_value(
    (label, value): (&str, impl FnOnce() -> Value),
    figures: &Figures,
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
) -> Option<Value> {
    match field.node.name.node.as_str() {
        "figures" => answer_now(figures, ctx, field),
        name if name == label => Some(value()),
        _ => None,
    }
}

/// Metrics for a range.
#[derive(SimpleObject)]
pub struct Metrics {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub totals: Figures,
    pub daily: Vec<DayFigures>,
    pub monthly: Vec<MonthFigures>,
}

impl PlainObject for Metrics {
    fn plain_value(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> Option<Value> {
        match field.node.name.node.as_str() {
            "from" => Some(date(&self.from)),
            "to" => Some(date(&self.to)),
            "totals" => answer_now(&self.totals, ctx, field),
            "daily" => list_now(&self.daily, ctx, field),
            "monthly" => list_now(&self.monthly, ctx, field),
            _ => None,
        }
    }
}

#[derive(Default)]
pub struct MetricsQuery;

#[Object]
impl MetricsQuery {
    /// Figures for the clinic-local days `from` to `to` (inclusive, at most 400 days).
    async fn metrics(
        &self,
        ctx: &Context<'_>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> async_graphql::Result<Plain<Metrics>> {
        let wants_months = ctx.look_ahead().field("monthly").exists();
        let access = Access::Read(Permission::WorkCalls);
        let range = with_tenant_reading(ctx, access, async |txn, _| {
            let range = metrics::range(txn, from, to).await?;
            // Settled stale days are kept; a range of settled days was only read.
            let ending = match range.recounted_days {
                true => Ending::Commit,
                false => Ending::ReadOnly,
            };
            Ok((range, ending))
        })
        .await?;
        // The months' figures are only worked out when asked for (the overview asks for days).
        let monthly = if wants_months {
            range
                .months()
                .iter()
                .map(|m| MonthFigures {
                    month: m.month.to_string(),
                    figures: Figures::from(&m.metrics),
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Plain(Metrics {
            from,
            to,
            totals: Figures::from(&range.totals),
            daily: range
                .days
                .iter()
                .map(|d| DayFigures {
                    day: d.day,
                    figures: Figures::from(&d.metrics),
                })
                .collect(),
            monthly,
        }))
    }
}
