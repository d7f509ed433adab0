//! Billing, for owners: the plan and where the clinic stands (trial days left, the subscription's
//! status and period), this period's texts against the allowance, the plans to choose from (Stripe
//! Checkout), and payment and invoices (Stripe's Customer Portal). Back from Checkout, the page
//! polls until Stripe's confirmation has reached the server, so the new plan shows without a
//! reload. On a server that bills nobody it says so.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_query_map;
use ringback_shared::billing::{SubscriptionStatus, days_left, status_words};
use ringback_shared::display;

use crate::api::{self, ApiError, billing_page, open_billing_portal, start_checkout};
use crate::components::{Alert, AsyncView, repeat_while};
use crate::time::{now, use_clinic_time};

/// How often, and how many times, the page asks again after Checkout.
const CONFIRMATION_POLL_MS: u64 = 1_500;
const CONFIRMATION_POLLS: u32 = 40;

type Loaded = billing_page::ResponseData;
type Current = billing_page::BillingPageBilling;

#[component]
pub fn Billing() -> impl IntoView {
    let refresh = RwSignal::new(0_u32);
    let data = LocalResource::new(move || {
        refresh.track();
        api::run::<api::BillingPage>(billing_page::Variables)
    });
    let back_from_checkout = use_query_map()
        .get_untracked()
        .get("checkout")
        .is_some_and(|state| state == "done");
    // Confirmed once the subscription runs (or when the server bills nobody).
    let confirmed = Memo::new(move |_| {
        data.get().and_then(Result::ok).is_some_and(|loaded| {
            loaded
                .billing
                .is_none_or(|billing| matches!(billing.status.as_str(), "active" | "trialing"))
        })
    });
    // Set when a minute of asking ended without the confirmation.
    let gave_up = RwSignal::new(false);
    if back_from_checkout {
        poll_until(refresh, confirmed, gave_up);
    }
    let check_again = move |_| {
        gave_up.set(false);
        poll_until(refresh, confirmed, gave_up);
    };
    let failure = RwSignal::new(None::<String>);
    view! {
        <h1>"Billing"</h1>
        {move || (back_from_checkout && !confirmed.get()).then(|| if gave_up.get() {
            view! {
                <p role="status" data-testid="billing-waiting">
                    "Stripe has not confirmed the payment yet (it can take a few minutes; if the payment failed, Stripe e-mails you). "
                    <button type="button" data-testid="billing-check-again" on:click=check_again>"Check again"</button>
                </p>
            }.into_any()
        } else {
            view! {
                <p role="status" aria-busy="true" data-testid="billing-waiting">
                    "Waiting for Stripe to confirm the payment…"
                </p>
            }.into_any()
        })}
        <Alert message=failure />
        <AsyncView resource=data loading="Loading billing…" let:loaded>
            {page(loaded, failure)}
        </AsyncView>
    }
}

/// The page's body for what was loaded.
fn page(loaded: Loaded, failure: RwSignal<Option<String>>) -> AnyView {
    match loaded.billing {
        None => view! {
            <p data-testid="billing-off">"This server bills nobody: every clinic texts without limits."</p>
        }
        .into_any(),
        Some(current) => view! {
            <CurrentPlan current=current.clone() />
            <Choices current=current plans=loaded.plans failure=failure />
        }
        .into_any(),
    }
}

/// Asks again every little while until `confirmed`, for about a minute (then sets `gave_up`), and
/// never after the page is gone.
fn poll_until(refresh: RwSignal<u32>, confirmed: Memo<bool>, gave_up: RwSignal<bool>) {
    let polls = AtomicU32::new(0);
    repeat_while(Duration::from_millis(CONFIRMATION_POLL_MS), move || {
        let polled = polls.fetch_add(1, Ordering::Relaxed) + 1;
        let done = confirmed
            .try_get_untracked()
            .is_none_or(|confirmed| confirmed)
            || refresh.try_update(|n| *n = n.wrapping_add(1)).is_none();
        if !done && polled >= CONFIRMATION_POLLS {
            gave_up.try_set(true);
            return false;
        }
        !done
    });
}

/// The plan, where the clinic stands, and this period's texts.
#[component]
fn CurrentPlan(current: Current) -> impl IntoView {
    let clock = use_clinic_time();
    let plan = current
        .plan
        .as_ref()
        .map_or_else(|| "Free trial".to_owned(), |plan| plan.name.clone());
    // A subscription that kept the rest of the free trial trials until its first period ends.
    let trialing = current.status == "trialing";
    let trial_left = current
        .trial_ends_at
        .as_deref()
        .or(current.period_end.as_deref().filter(|_| trialing))
        .and_then(|ends| ends.parse().ok())
        .map(|ends| days_left(ends, now()));
    let then = if trialing {
        ", then the plan is paid for"
    } else {
        ""
    };
    let period = match (
        current.period_start.as_deref(),
        current.period_end.as_deref(),
    ) {
        (Some(start), Some(end)) => Some(format!(
            "{} to {}",
            clock.local_time(start),
            clock.local_time(end)
        )),
        (Some(start), None) => Some(format!(
            "from {} (Stripe has not confirmed the renewal yet)",
            clock.local_time(start)
        )),
        _ => None,
    };
    let used = current.texts_used;
    let allowance = current.allowance;
    view! {
        <section class="card" data-testid="billing-current" aria-labelledby="billing-current-title">
            <h2 id="billing-current-title" data-testid="billing-plan">{plan}</h2>
            <p data-testid="billing-status">{status_words(&current.status)}</p>
            {trial_left.map(|left| view! {
                <p data-testid="billing-trial-left">{format!("{} left of the free trial{then}", display::count(left, "day", "days"))}</p>
            })}
            {period.map(|period| view! { <p>{format!("This period: {period}")}</p> })}
            {current.cancel_at_period_end.then(|| view! { <p>"The subscription ends with this period."</p> })}
            <label for="billing-usage">"Texts this period"</label>
            <progress id="billing-usage" max=allowance.max(1) value=used.min(allowance)></progress>
            <p data-testid="billing-usage">{format!("{used} of {allowance} texts")}</p>
            {(current.overage > 0).then(|| view! {
                <p>{format!("{} beyond the allowance, billed as overage", display::count(current.overage, "text", "texts"))}</p>
            })}
            {current.stopped_reason.clone().map(|why| view! {
                <p role="alert" class="error">{format!("Text-backs are paused: {why}.")}</p>
            })}
        </section>
    }
}

/// The plans to choose (Checkout), or for a running subscription the portal to change it.
#[component]
fn Choices(
    current: Current,
    plans: Vec<billing_page::BillingPagePlans>,
    failure: RwSignal<Option<String>>,
) -> impl IntoView {
    // A running subscription (one awaiting its first payment too) changes in the portal;
    // otherwise a plan is chosen through Checkout. The server decides by the same rule.
    let subscribed = SubscriptionStatus::names_running(&current.status);
    let busy = RwSignal::new(false);
    let go = move |request: std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<String, ApiError>>>,
    >| {
        busy.set(true);
        spawn_local(async move {
            match request.await {
                Ok(url) => {
                    let _ = window().location().set_href(&url);
                }
                Err(error) => {
                    failure.set(Some(error.to_string()));
                    busy.set(false);
                }
            }
        });
    };
    let portal = move |_| {
        go(Box::pin(async {
            api::run::<api::OpenBillingPortal>(open_billing_portal::Variables)
                .await
                .map(|data| data.open_billing_portal)
        }))
    };
    let current_plan = current.plan.as_ref().map(|plan| plan.key.clone());
    let clock = use_clinic_time();
    let trial_kept = current
        .trial_kept_until
        .clone()
        .filter(|_| !subscribed)
        .map(|until| {
            let until = clock.local_time(&until);
            view! {
                <p data-testid="billing-trial-kept">{format!(
                    "Choosing a plan keeps the rest of the free trial: the first payment is taken when it ends, {until}."
                )}</p>
            }
        });
    let choices = plans
        .into_iter()
        .map(|plan| {
            let key = plan.key.clone();
            let choose = move |_| {
                let variables = start_checkout::Variables { plan: key.clone() };
                go(Box::pin(async move {
                    api::run::<api::StartCheckout>(variables)
                        .await
                        .map(|data| data.start_checkout)
                }))
            };
            let overage = if plan.bills_overage {
                "; texts beyond it are billed"
            } else {
                "; text-backs stop beyond it"
            };
            let is_current = current_plan.as_deref() == Some(plan.key.as_str());
            view! {
                <li data-testid=format!("plan-{}", plan.key)>
                    <strong>{plan.name.clone()}</strong>
                    {format!(": {} texts a month{overage}", plan.sms_per_period)}
                    {is_current.then_some(" (your plan)")}
                    {(!subscribed).then(|| view! {
                        " " <button type="button" data-testid=format!("choose-{}", plan.key)
                            disabled=move || busy.get() on:click=choose.clone()>
                            {format!("Choose {}", plan.name)}
                        </button>
                    })}
                </li>
            }
        })
        .collect_view();
    view! {
        <section class="card" aria-labelledby="billing-plans-title">
            <h2 id="billing-plans-title">"Plans"</h2>
            {trial_kept}
            <ul class="plans">{choices}</ul>
            {subscribed.then(|| view! { <p>"To change plan, cancel or update the card, open the billing portal."</p> })}
            {(current.status != "trial").then(|| view! {
                <button type="button" data-testid="billing-portal" disabled=move || busy.get() on:click=portal>
                    "Manage payment, invoices and plan"
                </button>
            })}
        </section>
    }
}
