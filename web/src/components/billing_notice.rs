//! Billing in the header, for owners and admins only (receptionists see nothing of billing): the
//! Billing link for owners when this server bills, and the banners for a trial about to end, a
//! payment that failed, or text-backs paused by billing. The words come from the server and the
//! shared billing rules, so the banner and the Billing page never disagree.

use leptos::prelude::*;
use leptos_router::components::A;
use ringback_shared::access::Permission;
use ringback_shared::billing::{TRIAL_REMINDER_DAYS, days_left};
use ringback_shared::display;

use crate::api::{self, ApiError, billing_notice};
use crate::session::{allows, use_session};
use crate::time::{now, use_clinic_time};

type Summary = LocalResource<Result<billing_notice::ResponseData, ApiError>>;

/// The clinic's billing summary, loaded for members who may read it.
pub fn billing_summary() -> Option<Summary> {
    allows(use_session(), Permission::ManageSettings)
        .then(|| LocalResource::new(|| api::run::<api::BillingNotice>(billing_notice::Variables)))
}

/// The Billing link, for owners of a clinic this server bills.
#[component]
pub fn BillingLink(summary: Option<Summary>) -> impl IntoView {
    let owner = allows(use_session(), Permission::ManageBilling);
    move || {
        let billed = summary?.get().and_then(Result::ok)?.billing.is_some();
        (owner && billed).then(|| view! { <A href="/billing">"Billing"</A> })
    }
}

/// The banner owners and admins see when billing needs them; nothing otherwise.
#[component]
pub fn BillingNotice(summary: Option<Summary>) -> impl IntoView {
    let owner = allows(use_session(), Permission::ManageBilling);
    let clock = use_clinic_time();
    move || {
        let billing = summary?.get().and_then(Result::ok)?.billing?;
        let words = notice_words(&billing, |iso| clock.local_time(iso))?;
        Some(view! {
            <p class="notice" role="status" data-testid="billing-notice">
                {words}
                {owner.then(|| view! { " " <A href="/billing">"Open Billing"</A> })}
            </p>
        })
    }
}

/// What the banner says, if anything.
fn notice_words(
    billing: &billing_notice::BillingNoticeBilling,
    local_time: impl Fn(&str) -> String,
) -> Option<String> {
    if let Some(until) = &billing.grace_until {
        return Some(format!(
            "A payment failed: text-backs continue until {}, then pause.",
            local_time(until)
        ));
    }
    if !billing.may_text {
        let why = billing
            .stopped_reason
            .as_deref()
            .unwrap_or("billing stopped them");
        return Some(format!("Text-backs are paused: {why}."));
    }
    let ends = billing.trial_ends_at.as_deref()?.parse().ok()?;
    let left = days_left(ends, now());
    (left <= TRIAL_REMINDER_DAYS).then(|| {
        format!(
            "The free trial ends in {}: choose a plan to keep texting callers back.",
            display::count(left, "day", "days")
        )
    })
}
