//! What a clinic's subscription lets it do, the one rule the server enforces and the dashboard
//! explains: a trial or an active subscription texts within its allowance; a payment that failed
//! (`past_due`) keeps texting through a grace period, then text-backs pause; a cancelled or unpaid
//! subscription, or a trial that ended without a plan, stops text-backs. Nothing else stops:
//! calls, attribution, the dashboard and exports go on whatever the status.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A subscription's status, as Stripe names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Incomplete,
    IncompleteExpired,
    Paused,
}

impl SubscriptionStatus {
    /// Every status.
    pub const ALL: [SubscriptionStatus; 8] = [
        SubscriptionStatus::Trialing,
        SubscriptionStatus::Active,
        SubscriptionStatus::PastDue,
        SubscriptionStatus::Canceled,
        SubscriptionStatus::Unpaid,
        SubscriptionStatus::Incomplete,
        SubscriptionStatus::IncompleteExpired,
        SubscriptionStatus::Paused,
    ];

    /// Whether a subscription in this status still runs (or is yet to be paid), as opposed to one
    /// that ended: a clinic with a running one changes plan in Stripe's portal, not by a new
    /// Checkout (which the server refuses).
    pub fn is_running(self) -> bool {
        !matches!(
            self,
            SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
        )
    }

    /// Whether a subscription in this status is paid for (or on its trial, or within a failed
    /// payment's grace): of two running subscriptions, such a one is the clinic's rather than an
    /// unpaid, paused or not yet paid one.
    pub fn is_paid_for(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Trialing | SubscriptionStatus::Active | SubscriptionStatus::PastDue
        )
    }

    /// Whether `status` (Stripe's name, or the dashboard's `trial`) is a running subscription's.
    pub fn names_running(status: &str) -> bool {
        Self::parse(status).is_some_and(Self::is_running)
    }

    /// Stripe's name, e.g. `past_due`.
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Trialing => "trialing",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Canceled => "canceled",
            SubscriptionStatus::Unpaid => "unpaid",
            SubscriptionStatus::Incomplete => "incomplete",
            SubscriptionStatus::IncompleteExpired => "incomplete_expired",
            SubscriptionStatus::Paused => "paused",
        }
    }

    /// Parses Stripe's name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }
}

/// Where a clinic stands: on its free trial (no subscription yet), or subscribed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// The trial every new clinic starts with, until `ends`.
    Trial { ends: DateTime<Utc> },
    /// A Stripe subscription with `status`; `past_due_since` is when a payment first failed.
    Subscribed {
        status: SubscriptionStatus,
        past_due_since: Option<DateTime<Utc>>,
    },
}

/// Why text-backs stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    TrialEnded,
    PaymentOverdue,
    Canceled,
    Unpaid,
    NotPaidYet,
}

impl Stopped {
    /// What staff read, in plain words.
    pub fn words(self) -> &'static str {
        match self {
            Stopped::TrialEnded => "the free trial has ended: choose a plan to text again",
            Stopped::PaymentOverdue => "a payment is overdue: update the card to text again",
            Stopped::Canceled => "the subscription is cancelled: choose a plan to text again",
            Stopped::Unpaid => "the subscription is unpaid: update the card to text again",
            Stopped::NotPaidYet => "the first payment has not gone through yet",
        }
    }
}

/// What a clinic may do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entitlement {
    /// Texts within the allowance.
    Texting,
    /// A payment failed: texting goes on until `until`, and owners and admins see a banner.
    Grace { until: DateTime<Utc> },
    /// Text-backs are stopped.
    Stopped(Stopped),
}

impl Entitlement {
    /// Whether text-backs may be sent.
    pub fn may_text(self) -> bool {
        !matches!(self, Entitlement::Stopped(_))
    }
}

/// The entitlement of `standing` at `now`, with `grace` after a failed payment.
pub fn entitlement(standing: Standing, now: DateTime<Utc>, grace: Duration) -> Entitlement {
    match standing {
        Standing::Trial { ends } if now < ends => Entitlement::Texting,
        Standing::Trial { .. } => Entitlement::Stopped(Stopped::TrialEnded),
        Standing::Subscribed {
            status,
            past_due_since,
        } => match status {
            SubscriptionStatus::Trialing | SubscriptionStatus::Active => Entitlement::Texting,
            SubscriptionStatus::PastDue => {
                let until = past_due_since.unwrap_or(now) + grace;
                if now < until {
                    Entitlement::Grace { until }
                } else {
                    Entitlement::Stopped(Stopped::PaymentOverdue)
                }
            }
            SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired => {
                Entitlement::Stopped(Stopped::Canceled)
            }
            SubscriptionStatus::Unpaid | SubscriptionStatus::Paused => {
                Entitlement::Stopped(Stopped::Unpaid)
            }
            SubscriptionStatus::Incomplete => Entitlement::Stopped(Stopped::NotPaidYet),
        },
    }
}

/// Whether a text of `segments` more may go out when `used` of `allowance` are spent this
/// period: within the allowance, or beyond it when the plan bills overage.
pub fn within_allowance(used: u64, segments: u64, allowance: u64, bills_overage: bool) -> bool {
    bills_overage || used.saturating_add(segments) <= allowance
}

/// Days before a trial ends from which owners and admins are reminded.
pub const TRIAL_REMINDER_DAYS: i64 = 3;

/// Whole days left until `ends` at `now`, a part-day counting as one; zero once it has passed.
pub fn days_left(ends: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let left = ends - now;
    if left <= Duration::zero() {
        0
    } else {
        (left.num_seconds() + 86_399) / 86_400
    }
}

/// A billing status as the dashboard names it: `trial` or a Stripe status.
pub fn status_words(status: &str) -> &'static str {
    match status {
        "trial" => "Free trial",
        "trialing" => "Trialing",
        "active" => "Active",
        "past_due" => "Payment overdue",
        "canceled" => "Cancelled",
        "unpaid" => "Unpaid",
        "incomplete" => "Awaiting the first payment",
        "incomplete_expired" => "Expired before payment",
        "paused" => "Paused",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap()
    }

    #[test]
    fn a_trial_texts_until_it_ends() {
        let trial = Standing::Trial { ends: at(15) };
        assert_eq!(
            entitlement(trial, at(14), Duration::days(7)),
            Entitlement::Texting
        );
        assert_eq!(
            entitlement(trial, at(15), Duration::days(7)),
            Entitlement::Stopped(Stopped::TrialEnded)
        );
    }

    #[test]
    fn a_failed_payment_keeps_texting_through_the_grace_period() {
        let overdue = Standing::Subscribed {
            status: SubscriptionStatus::PastDue,
            past_due_since: Some(at(1)),
        };
        assert_eq!(
            entitlement(overdue, at(7), Duration::days(7)),
            Entitlement::Grace { until: at(8) }
        );
        assert_eq!(
            entitlement(overdue, at(8), Duration::days(7)),
            Entitlement::Stopped(Stopped::PaymentOverdue)
        );
    }

    #[test]
    fn days_left_count_a_part_day_as_one() {
        assert_eq!(days_left(at(15), at(1)), 14);
        assert_eq!(days_left(at(15), at(14) + Duration::hours(1)), 1);
        assert_eq!(days_left(at(15), at(16)), 0);
    }

    #[test]
    fn every_status_has_a_meaning() {
        for status in SubscriptionStatus::ALL {
            assert_eq!(SubscriptionStatus::parse(status.as_str()), Some(status));
            assert_ne!(status_words(status.as_str()), "Unknown");
            let standing = Standing::Subscribed {
                status,
                past_due_since: None,
            };
            let may = entitlement(standing, at(1), Duration::days(7)).may_text();
            let expected = matches!(
                status,
                SubscriptionStatus::Trialing
                    | SubscriptionStatus::Active
                    | SubscriptionStatus::PastDue
            );
            assert_eq!(may, expected, "{status:?}");
        }
    }

    #[test]
    fn a_subscription_awaiting_its_first_payment_still_runs() {
        assert!(SubscriptionStatus::names_running("incomplete"));
        assert!(SubscriptionStatus::names_running("past_due"));
        assert!(!SubscriptionStatus::names_running("canceled"));
        assert!(!SubscriptionStatus::names_running("incomplete_expired"));
        assert!(
            !SubscriptionStatus::names_running("trial"),
            "the trial has no subscription"
        );
    }

    #[test]
    fn the_text_that_crosses_the_allowance_is_the_one_refused() {
        assert!(within_allowance(48, 2, 50, false));
        assert!(
            !within_allowance(49, 2, 50, false),
            "a two-segment text crossing 50"
        );
        assert!(
            within_allowance(49, 2, 50, true),
            "overage is billed instead"
        );
    }
}
