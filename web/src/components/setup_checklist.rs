//! The setup checklist on the overview until the clinic is live: each step ticked by what the
//! server knows (never by a click here), with a link to where it is done.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::{self, setup_checklist};
use crate::components::AsyncView;
use crate::session::{allows, use_session};
use ringback_shared::access::Permission;

use setup_checklist::SetupStepKind as Step;

/// A step's words, its test id and where it is done.
fn step_words(step: &Step) -> (&'static str, &'static str, &'static str) {
    match step {
        Step::TEXTING_NUMBER => (
            "Get a texting number",
            "texting-number",
            "/settings/numbers",
        ),
        Step::FORWARDING_LINE => (
            "Set the line calls ring through to",
            "forwarding-line",
            "/settings/numbers#forwarding",
        ),
        Step::BUSINESS_HOURS => ("Set your opening hours", "business-hours", "/settings"),
        Step::TEXT_BACK_WORDING => ("Write your text-back", "text-back-wording", "/settings"),
        Step::TEST_CALL => (
            "Place a test call",
            "test-call",
            "/settings/numbers/test-call",
        ),
        Step::PLAN => ("Choose a plan before your trial ends", "plan", "/billing"),
        Step::Other(_) => ("Another step", "other", "/"),
    }
}

/// The checklist, while some step is not done.
#[component]
pub fn SetupChecklist() -> impl IntoView {
    let checklist =
        LocalResource::new(|| api::run::<api::SetupChecklist>(setup_checklist::Variables));
    let may_bill = allows(use_session(), Permission::ManageBilling);
    view! {
        <AsyncView resource=checklist loading="Loading your setup…" let:data>
            {(!data.setup_checklist.live).then(|| {
                let steps = data.setup_checklist.steps;
                let left = steps.iter().filter(|step| !step.done).count();
                view! {
                    <section class="checklist" data-testid="setup-checklist" aria-labelledby="setup-heading">
                        <h2 id="setup-heading">{format!("Get set up: {left} step{} left", if left == 1 { "" } else { "s" })}</h2>
                        <ol>
                            {steps.into_iter().map(|step| {
                                let (words, id, href) = step_words(&step.step);
                                let state = if step.done { "Done" } else { "To do" };
                                // Only owners choose the plan: others are told whom to ask.
                                let owners_only = href == "/billing" && !may_bill;
                                view! {
                                    <li data-testid=format!("step-{id}") data-done=step.done.to_string()>
                                        <span class="step-state">{if step.done { "✓ " } else { "○ " }}{state}": "</span>
                                        {if owners_only {
                                            view! { <span>{words}{format!(" (an owner of the {} does this)", crate::session::place_word())}</span> }.into_any()
                                        } else {
                                            view! { <A href=href>{words}</A> }.into_any()
                                        }}
                                    </li>
                                }
                            }).collect_view()}
                        </ol>
                    </section>
                }
            })}
        </AsyncView>
    }
}
