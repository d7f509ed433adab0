//! The AI receptionist's settings (admins and owners): on or off (a dental clinic reads first
//! what turning it on means for its privacy notice; in strict privacy mode the switch is off and
//! says why, with the way to Settings), tone, what the business does, the intake
//! questions, the follow-up wait, the monthly token budget with what this month used and what a
//! standard visit it books is worth; and the price list it quotes from, each service added, changed or removed on its own. Prices are typed
//! in major units and read by the shared money rule; the server checks everything again.

use leptos::prelude::*;
use ringback_shared::display::{self, capitalised, parse_money};
use ringback_shared::slots::STANDARD_VISIT_MINUTES;

use crate::api::{
    self, ApiError, ai_settings, delete_service, never_follow_up, save_ai, save_service,
};
use crate::components::{Alert, AsyncView, ChangeTracker, PendingSave, failure_of, one_at_a_time};

#[component]
pub fn AiReceptionist() -> impl IntoView {
    let loaded = LocalResource::new(|| api::run::<api::AiSettings>(ai_settings::Variables));
    view! {
        <h1>"AI receptionist"</h1>
        <p>"When it is on, the AI answers callers who reply to the text-back: it asks the intake questions, \
            quotes only from the price list below, books free slots in the business hours, and hands the \
            caller to the team when it cannot help. Every text it writes says it is automated."</p>
        <AsyncView resource=loaded loading="Loading the AI receptionist…" let:data>
            <AiForm data />
        </AsyncView>
        <PriceList />
    }
}

/// The settings form.
#[component]
fn AiForm(data: ai_settings::ResponseData) -> impl IntoView {
    let ai = data.ai_receptionist;
    let fields = AiFields {
        enabled: RwSignal::new(ai.enabled),
        tone: RwSignal::new(ai.tone),
        description: RwSignal::new(ai.business_description.unwrap_or_default()),
        intake: RwSignal::new(ai.intake_questions.join("\n")),
        follow_up: RwSignal::new(
            ai.follow_up_minutes
                .map(|minutes| minutes.to_string())
                .unwrap_or_default(),
        ),
        budget: RwSignal::new(ai.monthly_token_budget.to_string()),
        standard_value: RwSignal::new(display::amount(ai.standard_visit_value_minor)),
    };
    let AiFields {
        enabled,
        tone,
        description,
        intake,
        follow_up,
        budget,
        standard_value,
    } = fields;
    let outcome = RwSignal::new(None::<Result<String, String>>);
    let tracker = ChangeTracker::new(vec![
        (SWITCH, Signal::derive(move || enabled.get().to_string())),
        ("tone", tone.into()),
        ("description", description.into()),
        ("intake questions", intake.into()),
        (FOLLOW_UP, follow_up.into()),
        ("budget", budget.into()),
        (STANDARD_VALUE, standard_value.into()),
    ]);
    let saving = RwSignal::new(false);
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        outcome.set(None);
        let pending = tracker.pending();
        let (input, never_follow_up) = match fields.input(&pending) {
            Ok(input) => input,
            Err(problem) => return outcome.set(Some(Err(problem))),
        };
        one_at_a_time(saving, async move {
            let mut sent = api::run::<api::SaveAi>(save_ai::Variables { input })
                .await
                .map(drop);
            if sent.is_ok() && never_follow_up {
                sent = api::run::<api::NeverFollowUp>(never_follow_up::Variables)
                    .await
                    .map(drop);
            }
            outcome.set(Some(
                sent.map(|()| tracker.saved(pending))
                    .map_err(|error| error.to_string()),
            ));
        });
    };
    let off_for_privacy = ai.cannot_answer_because.is_some();
    let used = format!(
        "{} of {} tokens used this month",
        ai.tokens_used_this_month, ai.monthly_token_budget
    );
    view! {
        <form class="settings" on:submit=save data-testid="ai-form">
            {(!ai.model_configured).then(|| view! {
                <p class="notice" data-testid="ai-no-model">"This server has no AI model configured \
                    (RINGBACK_ANTHROPIC_API_KEY): callers get the text-back wording and the team answers."</p>
            })}
            {ai.privacy_notice.map(|notice| view! {
                <p class="notice" data-testid="ai-privacy-notice">{notice}</p>
            })}
            {ai.cannot_answer_because.clone().map(|reason| view! {
                <p class="notice" id="ai-cannot-answer" data-testid="ai-cannot-answer">
                    {capitalised(&reason)}" "<a href="/settings">"Open Settings"</a>
                </p>
            })}
            <label class="inline">
                <input type="checkbox" data-testid="ai-enabled" prop:checked=enabled
                    disabled=off_for_privacy && !ai.enabled
                    aria-describedby=off_for_privacy.then_some("ai-cannot-answer")
                    on:change=move |ev| enabled.set(event_target_checked(&ev)) />
                " Let the AI answer callers' replies"
            </label>
            <label for="ai-tone">"Tone"</label>
            <select id="ai-tone" data-testid="ai-tone" prop:value=tone
                on:change=move |ev| tone.set(event_target_value(&ev))>
                {ai.tones.into_iter().map(|name| view! { <option value=name.clone()>{name.clone()}</option> }).collect_view()}
            </select>
            <label for="ai-description">"What the business does (the AI tells callers only this)"</label>
            <textarea id="ai-description" data-testid="ai-description" rows="3" maxlength="1000"
                prop:value=description on:input=move |ev| description.set(event_target_value(&ev))></textarea>
            <label for="ai-intake">"Intake questions, one per line"</label>
            <textarea id="ai-intake" data-testid="ai-intake" rows="4"
                prop:value=intake on:input=move |ev| intake.set(event_target_value(&ev))></textarea>
            <label for="ai-follow-up">"Follow up a quiet caller after (minutes, 15–2880; empty: never)"</label>
            <input id="ai-follow-up" data-testid="ai-follow-up" inputmode="numeric" prop:value=follow_up
                on:input=move |ev| follow_up.set(event_target_value(&ev)) />
            <label for="ai-budget">"Monthly budget (model tokens)"</label>
            <input id="ai-budget" data-testid="ai-budget" inputmode="numeric" aria-describedby="ai-used"
                prop:value=budget on:input=move |ev| budget.set(event_target_value(&ev)) />
            <p class="hint" id="ai-used" data-testid="ai-used">{used}</p>
            <label for="ai-standard-value">"What a standard visit is worth to you"</label>
            <input id="ai-standard-value" data-testid="ai-standard-value" inputmode="decimal"
                aria-describedby="ai-standard-value-hint" prop:value=standard_value
                on:input=move |ev| standard_value.set(event_target_value(&ev)) />
            <p class="hint" id="ai-standard-value-hint">{format!("The value of a visit the AI books \
                without a service from the price list ({STANDARD_VISIT_MINUTES} minutes), counted in \
                recovered revenue; bookings of a listed service are worth its value.")}</p>
            {move || outcome.get().map(|result| match result {
                Ok(said) => view! { <p role="status" data-testid="ai-saved">{said}</p> }.into_any(),
                Err(message) => view! { <Alert message=Some(message) test_id="ai-error" /> }.into_any(),
            })}
            <button type="submit" data-testid="ai-save" disabled=move || saving.get()>
                "Save the AI settings"
            </button>
        </form>
    }
}

/// The form's names of the fields a save may leave out.
const SWITCH: &str = "the AI's switch";
const FOLLOW_UP: &str = "follow-up wait";
const STANDARD_VALUE: &str = "standard visit's worth";

/// The settings form's fields, as typed.
#[derive(Clone, Copy)]
struct AiFields {
    enabled: RwSignal<bool>,
    tone: RwSignal<String>,
    description: RwSignal<String>,
    intake: RwSignal<String>,
    follow_up: RwSignal<String>,
    budget: RwSignal<String>,
    standard_value: RwSignal<String>,
}

impl AiFields {
    /// The fields `pending` changed as the server's input (the others left out, so a tab left
    /// open never writes back what another member changed meanwhile, such as turning the AI
    /// off), and whether the follow-up was emptied ("never", which the input cannot say: it
    /// leaves out what it does not set), or what is wrong with them.
    fn input(self, pending: &PendingSave) -> Result<(save_ai::AiReceptionistInput, bool), String> {
        let follow_up_minutes = match self.follow_up.get_untracked().trim() {
            "" => None,
            typed => Some(
                typed
                    .parse::<i64>()
                    .map_err(|_| "The follow-up wait is a number of minutes.".to_owned())?,
            ),
        };
        let monthly_token_budget = self
            .budget
            .get_untracked()
            .trim()
            .replace(',', "")
            .parse::<i64>()
            .map_err(|_| "The monthly budget is a number of tokens.".to_owned())?;
        let standard_visit_value_minor = parse_money(&self.standard_value.get_untracked())
            .ok_or_else(|| {
                "What a standard visit is worth is an amount, e.g. 60 or 60.50.".to_owned()
            })?;
        let changed = |name: &str| pending.has(name);
        let input = save_ai::AiReceptionistInput {
            enabled: changed(SWITCH).then(|| self.enabled.get_untracked()),
            tone: changed("tone").then(|| self.tone.get_untracked()),
            business_description: changed("description").then(|| self.description.get_untracked()),
            intake_questions: changed("intake questions").then(|| {
                self.intake
                    .get_untracked()
                    .lines()
                    .map(str::to_owned)
                    .collect()
            }),
            follow_up_minutes: follow_up_minutes.filter(|_| changed(FOLLOW_UP)),
            monthly_token_budget: changed("budget").then_some(monthly_token_budget),
            standard_visit_value_minor: changed(STANDARD_VALUE)
                .then_some(standard_visit_value_minor),
        };
        let never = changed(FOLLOW_UP) && follow_up_minutes.is_none();
        Ok((input, never))
    }
}

/// A change to the price list.
#[derive(Clone)]
enum PriceChange {
    Save(save_service::Variables),
    Delete(delete_service::Variables),
}

async fn change_prices(change: PriceChange) -> Result<(), ApiError> {
    match change {
        PriceChange::Save(variables) => api::run::<api::SaveService>(variables).await.map(|_| ()),
        PriceChange::Delete(variables) => {
            api::run::<api::DeleteService>(variables).await.map(|_| ())
        }
    }
}

/// The price list, reloaded after each change, with a form to add a service.
#[component]
fn PriceList() -> impl IntoView {
    let change: Action<PriceChange, Result<(), ApiError>> =
        Action::new_local(|change: &PriceChange| change_prices(change.clone()));
    let changed = change.version();
    let listed = LocalResource::new(move || {
        changed.track();
        api::run::<api::AiSettings>(ai_settings::Variables)
    });
    let name = RwSignal::new(String::new());
    let price_from = RwSignal::new(String::new());
    let price_to = RwSignal::new(String::new());
    let minutes = RwSignal::new("60".to_owned());
    let value = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        match service_input(name, price_from, price_to, minutes, value) {
            Ok(input) => {
                problem.set(None);
                change.dispatch(PriceChange::Save(save_service::Variables {
                    id: None,
                    input,
                }));
            }
            Err(message) => problem.set(Some(message)),
        }
    };
    view! {
        <h2>"Price list"</h2>
        <p>"The AI quotes only these prices and books visits of these lengths; a booking counts as \
            worth the estimated value."</p>
        <Alert message=failure_of(change) test_id="price-error" />
        <Alert message=problem test_id="price-problem" />
        <AsyncView resource=listed loading="Loading the price list…" let:data>
            {price_table(data, change)}
        </AsyncView>
        <form class="settings" on:submit=add data-testid="service-form">
            <fieldset>
                <legend>"Add a service"</legend>
                {text_field("service-name", "Name", name)}
                {text_field("service-price-from", "Price (or lowest price)", price_from)}
                {text_field("service-price-to", "Highest price (optional, for a range)", price_to)}
                {text_field("service-minutes", "Visit length (minutes)", minutes)}
                {text_field("service-value", "What a booking is worth to you", value)}
                <button type="submit" data-testid="service-add" disabled=move || change.pending().get()>"Add the service"</button>
            </fieldset>
        </form>
    }
}

/// The services listed, each with a button that removes it; or word that there are none.
fn price_table(
    data: ai_settings::ResponseData,
    change: Action<PriceChange, Result<(), ApiError>>,
) -> AnyView {
    let currency = data.clinic.currency;
    let services = data.ai_receptionist.services;
    if services.is_empty() {
        view! { <p data-testid="price-list-empty">"No services yet: the AI will say the team confirms prices."</p> }.into_any()
    } else {
        view! {
                <table data-testid="price-list">
                    <thead><tr><th>"Service"</th><th>"Price"</th><th>"Minutes"</th><th>"Worth"</th><th></th></tr></thead>
                    <tbody>
                        {services.into_iter().map(|service| {
                            let id = service.id.clone();
                            let label = format!("Remove {}", service.name);
                            let question = format!("Remove {} from the price list? The AI stops quoting it.", service.name);
                            view! {
                                <tr data-testid="price-row">
                                    <td>{service.name.clone()}</td>
                                    <td>{service.price_in_words.clone()}</td>
                                    <td>{service.duration_minutes}</td>
                                    <td>{display::money(service.estimated_value_minor, &currency)}</td>
                                    <td><button type="button" aria-label=label
                                        on:click=move |_| {
                                            if window().confirm_with_message(&question).unwrap_or(false) {
                                                change.dispatch(PriceChange::Delete(delete_service::Variables { id: id.clone() }));
                                            }
                                        }>
                                        "Remove"</button></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
    }
}

/// A labelled text input bound to `value`.
fn text_field(id: &'static str, label: &'static str, value: RwSignal<String>) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <input id=id data-testid=id prop:value=value on:input=move |ev| value.set(event_target_value(&ev)) />
    }
}

/// The new service as typed, or what is wrong with it.
fn service_input(
    name: RwSignal<String>,
    price_from: RwSignal<String>,
    price_to: RwSignal<String>,
    minutes: RwSignal<String>,
    value: RwSignal<String>,
) -> Result<save_service::ServiceInput, String> {
    let money = |field: RwSignal<String>, what: &str| {
        parse_money(&field.get_untracked())
            .ok_or_else(|| format!("{what} is an amount, e.g. 80 or 80.50."))
    };
    let price_to_minor = match price_to.get_untracked().trim() {
        "" => None,
        _ => Some(money(price_to, "The highest price")?),
    };
    Ok(save_service::ServiceInput {
        name: name.get_untracked(),
        price_from_minor: money(price_from, "The price")?,
        price_to_minor,
        duration_minutes: minutes
            .get_untracked()
            .trim()
            .parse()
            .map_err(|_| "The visit length is a number of minutes.".to_owned())?,
        estimated_value_minor: money(value, "What a booking is worth")?,
    })
}
