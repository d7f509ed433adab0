//! Getting in: signing in with e-mail and password, signing a new clinic up (its owner lands on
//! the setup checklist), accepting an invitation and choosing a new password after forgetting
//! one (the links carry their one-time code after `#`, so it never reaches a server log).
//! Signing in, joining or resetting, the user then goes where they were sent from (`?next=`), or
//! to the overview.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};
use ringback_shared::countries::{COUNTRIES, Country};
use ringback_shared::display::capitalised;
use ringback_shared::{business, password, terms};

use crate::api::{self, ApiError, SignedUp, me, sign_up};
use crate::components::{Alert, choice, zone_choices};
use crate::session::{safe_next, use_session};

/// Submits a form that starts a session: runs `start`, loads who is signed in and goes on to the
/// page asked for; a failure is shown on the form.
fn session_starter<Start, Started>(
    start: Start,
    error: RwSignal<Option<String>>,
    busy: RwSignal<bool>,
) -> impl Fn(leptos::ev::SubmitEvent) + Clone + 'static
where
    Start: Fn() -> Result<Started, String> + Clone + 'static,
    Started: Future<Output = Result<(), ApiError>> + 'static,
{
    let session = use_session();
    let navigate = use_navigate();
    let query = use_query_map();
    move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let started = match start() {
            Ok(started) => started,
            Err(problem) => return error.set(Some(problem)),
        };
        let navigate = navigate.clone();
        let next = safe_next(query.get_untracked().get("next"));
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let signed_in = async {
                started.await?;
                api::run::<api::Me>(me::Variables).await
            };
            match signed_in.await {
                Ok(data) => {
                    session.signed_in(data.me);
                    navigate(&next, NavigateOptions::default());
                }
                Err(failure) => error.set(Some(failure.to_string())),
            }
            busy.set(false);
        });
    }
}

/// A text box bound to `value`, with its label.
fn field(
    id: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    value: RwSignal<String>,
) -> impl IntoView {
    view! {
        <label for=id>{label}</label>
        <input id=id name=id type=kind autocomplete=autocomplete required
            prop:value=value on:input=move |ev| value.set(event_target_value(&ev)) />
    }
}

/// The error line and the submit button every entry form ends with.
fn submit_row(
    error: RwSignal<Option<String>>,
    busy: RwSignal<bool>,
    label: &'static str,
    busy_label: &'static str,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <Alert message=error test_id="sign-in-error" />
        <button type="submit" data-testid=testid disabled=move || busy.get()>
            {move || if busy.get() { busy_label } else { label }}
        </button>
    }
}

#[component]
pub fn SignIn() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let submit = session_starter(
        move || {
            Ok(api::sign_in(
                email.get_untracked(),
                password.get_untracked(),
            ))
        },
        error,
        busy,
    );
    view! {
        <h1>"Sign in"</h1>
        <form class="sign-in" on:submit=submit>
            {field("email", "E-mail", "email", "username", email)}
            {field("password", "Password", "password", "current-password", password)}
            {submit_row(error, busy, "Sign in", "Signing in…", "sign-in")}
        </form>
        <p><a href="/forgot-password" data-testid="to-forgot-password">"Forgot your password?"</a></p>
        <p>"Invited by your team? Open the invitation link you were sent."</p>
        <p>"New to Ringback? "<a href="/sign-up" data-testid="to-sign-up">"Create an account"</a></p>
    }
}

/// The password rule, said as the owner types: what is missing, or that it will do.
fn password_feedback(chosen: &str) -> String {
    if chosen.is_empty() {
        return format!("At least {} characters.", password::MIN_LENGTH);
    }
    match password::check(chosen) {
        Ok(()) => "This password will do.".to_owned(),
        Err(problem) => format!("{}.", capitalised(&problem.to_string())),
    }
}

/// The sign-up form's fields, as signals.
#[derive(Clone, Copy)]
struct SignUpForm {
    clinic_name: RwSignal<String>,
    kind: RwSignal<String>,
    owner_name: RwSignal<String>,
    email: RwSignal<String>,
    password: RwSignal<String>,
    country: RwSignal<String>,
    time_zone: RwSignal<String>,
    accepted: RwSignal<bool>,
}

impl SignUpForm {
    /// An empty form, its country and time zone suggested by the browser's time zone.
    fn new() -> Self {
        let browser_zone = crate::time::browser_time_zone();
        let country = Country::of_time_zone(&browser_zone).unwrap_or(&COUNTRIES[0]);
        SignUpForm {
            clinic_name: RwSignal::new(String::new()),
            // Chosen by the owner: a preselected kind let a plumber sign up as a dental practice.
            kind: RwSignal::new(String::new()),
            owner_name: RwSignal::new(String::new()),
            email: RwSignal::new(String::new()),
            password: RwSignal::new(String::new()),
            country: RwSignal::new(country.code.to_owned()),
            time_zone: RwSignal::new(country.suggested_time_zone(&browser_zone).to_owned()),
            accepted: RwSignal::new(false),
        }
    }

    /// What the server is sent, or why the form is not ready.
    fn input(&self) -> Result<sign_up::SignUpInput, String> {
        if !self.accepted.get_untracked() {
            return Err(
                "Accept the terms of service and the privacy notice to sign up.".to_owned(),
            );
        }
        if !business::is_kind(&self.kind.get_untracked()) {
            return Err(
                "Choose the kind of business: it sets the AI's questions and the privacy \
                 defaults."
                    .to_owned(),
            );
        }
        let chosen = self.password.get_untracked();
        password::check(&chosen).map_err(|problem| capitalised(&problem.to_string()))?;
        let country = ringback_shared::countries::country(&self.country.get_untracked())
            .ok_or_else(|| "Choose your country.".to_owned())?;
        Ok(sign_up::SignUpInput {
            clinic_name: self.clinic_name.get_untracked(),
            kind: self.kind.get_untracked(),
            time_zone: self.time_zone.get_untracked(),
            default_region: country.code.to_owned(),
            currency: country.currency.to_owned(),
            owner_name: self.owner_name.get_untracked(),
            owner_email: self.email.get_untracked(),
            password: chosen,
            accepted_terms: terms::VERSION.to_owned(),
        })
    }
}

/// A new clinic's account: the clinic, its owner, the country (which sets the region, the
/// currency and the time zones offered) and the terms accepted. On a server that sends mail the
/// address is confirmed first; otherwise the owner is signed in and lands on the overview's setup
/// checklist.
#[component]
pub fn SignUp() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let form = SignUpForm::new();
    let error = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let mailed_to = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        let chosen = form.country.get();
        if let Some(country) = ringback_shared::countries::country(&chosen)
            && !country
                .time_zones
                .contains(&form.time_zone.get_untracked().as_str())
        {
            form.time_zone.set(
                country
                    .suggested_time_zone(&crate::time::browser_time_zone())
                    .to_owned(),
            );
        }
    });
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let input = match form.input() {
            Ok(input) => input,
            Err(problem) => return error.set(Some(problem)),
        };
        let navigate = navigate.clone();
        let email = input.owner_email.clone();
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let outcome = async {
                match api::sign_up(input).await? {
                    SignedUp::MailSent => Ok(None),
                    SignedUp::SignedIn => api::run::<api::Me>(me::Variables).await.map(Some),
                }
            };
            match outcome.await {
                Ok(Some(data)) => {
                    session.signed_in(data.me);
                    navigate("/", NavigateOptions::default());
                }
                Ok(None) => mailed_to.set(Some(email)),
                Err(failure) => error.set(Some(failure.to_string())),
            }
            busy.set(false);
        });
    };
    let countries: Vec<(String, String)> = COUNTRIES
        .iter()
        .map(|country| (country.code.to_owned(), country.name.to_owned()))
        .collect();
    let kinds: Vec<(String, String)> = std::iter::once(("", "Choose…"))
        .chain(business::KINDS.iter().copied())
        .map(|(value, label)| (value.to_owned(), label.to_owned()))
        .collect();
    let zones = move || zone_choices(&form.country.get());
    let the_form = move || {
        view! {
            <form class="sign-in" novalidate on:submit=submit.clone() data-testid="sign-up-form">
                {field("clinic-name", "Clinic or business name", "text", "organization", form.clinic_name)}
                {choice("clinic-kind", "Kind of business", kinds.clone(), form.kind)}
                {field("owner-name", "Your name", "text", "name", form.owner_name)}
                {field("owner-email", "E-mail", "email", "email", form.email)}
                {field("owner-password", "Password", "password", "new-password", form.password)}
                <p class="hint" aria-live="polite" data-testid="password-rule">{move || password_feedback(&form.password.get())}</p>
                {choice("country", "Country", countries.clone(), form.country)}
                {move || choice("time-zone", "Time zone", zones(), form.time_zone)}
                <label class="terms">
                    <input type="checkbox" id="accept-terms" data-testid="accept-terms"
                        prop:checked=form.accepted on:change=move |ev| form.accepted.set(event_target_checked(&ev)) />
                    " I accept the "<a href="/terms" target="_blank">"terms of service"</a>" and the "
                    <a href="/privacy" target="_blank">"privacy notice"</a>{format!(" (version {})", terms::VERSION)}
                </label>
                {submit_row(error, busy, "Create my account", "Creating…", "sign-up")}
            </form>
            <p>"Already on Ringback? "<a href="/sign-in">"Sign in"</a></p>
        }
    };
    view! {
        <h1>"Create your account on Ringback"</h1>
        <Show when=move || mailed_to.get().is_none() fallback=move || view! {
            <p data-testid="sign-up-mailed" role="status">
                {move || format!(
                    "Check your inbox: we sent a link to {} to confirm the address and create your account.",
                    mailed_to.get().unwrap_or_default()
                )}
            </p>
        }>
            {the_form.clone()}
        </Show>
    }
}

/// Joining a clinic with the invitation code (from the link, or pasted): a new address chooses a
/// password; someone already signed in joins with that account, and an address that has an account
/// must sign in first (the server never checks an existing password here).
#[component]
pub fn AcceptInvite() -> impl IntoView {
    let session = use_session();
    session.ensure_checked();
    let code = code_from_link();
    let password = RwSignal::new(String::new());
    let repeated = RwSignal::new(String::new());
    let error = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let signed_in_as = move || session.member.get().map(|member| member.user.email);
    let submit = session_starter(
        move || {
            let code = code.get_untracked().trim().to_owned();
            if session.member.get_untracked().is_some() {
                return Ok(api::accept_invite(code, None));
            }
            let chosen = chosen_password(password, repeated)?;
            Ok(api::accept_invite(code, Some(chosen)))
        },
        error,
        busy,
    );
    let new_account = move || {
        view! {
            <p>
                {format!("Choose a password of at least {} characters. ", password::MIN_LENGTH)}
                "If you already use Ringback with this e-mail, sign in first, then open the \
                 invitation link again."
            </p>
            {field("new-password", "Password", "password", "new-password", password)}
            {field("new-password-again", "The same password again", "password", "new-password", repeated)}
        }
    };
    view! {
        <h1>"Join your team on Ringback"</h1>
        <form class="sign-in" on:submit=submit>
            {field("invite-code", "Invitation code", "text", "off", code)}
            <Show when=move || signed_in_as().is_some() fallback=new_account>
                <p data-testid="join-as">
                    {move || format!(
                        "You are signed in as {}: joining adds this team to your account.",
                        signed_in_as().unwrap_or_default()
                    )}
                </p>
            </Show>
            {submit_row(error, busy, "Join", "Joining…", "accept-invite")}
        </form>
    }
}

/// The one-time code a link carries after `#` (empty when the page was opened without one, for
/// the code to be pasted).
fn code_from_link() -> RwSignal<String> {
    let from_link = use_location().hash.get_untracked();
    RwSignal::new(from_link.trim_start_matches('#').to_owned())
}

/// A new password typed twice: the password, or why it will not do.
fn chosen_password(
    password: RwSignal<String>,
    repeated: RwSignal<String>,
) -> Result<String, String> {
    let chosen = password.get_untracked();
    password::check(&chosen).map_err(|problem| capitalised(&problem.to_string()))?;
    if chosen != repeated.get_untracked() {
        return Err("The two passwords differ.".to_owned());
    }
    Ok(chosen)
}

/// Finishing a sign-up from the link of the confirmation mail: the code comes from the link (or is
/// pasted), the password is the one chosen when signing up (so a link from a sign-up someone else
/// made cannot be confirmed by mistake), and confirming creates the clinic and signs its owner in.
#[component]
pub fn ConfirmSignUp() -> impl IntoView {
    let code = code_from_link();
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let submit = session_starter(
        move || {
            Ok(api::confirm_sign_up(
                code.get_untracked().trim().to_owned(),
                password.get_untracked(),
            ))
        },
        error,
        busy,
    );
    view! {
        <h1>"Create your account on Ringback"</h1>
        <form class="sign-in" on:submit=submit>
            <p>"Your address is confirmed by the link you opened. Type the password you chose \
                when signing up, and create the account to start."</p>
            {field("confirmation-code", "Confirmation code", "text", "off", code)}
            {field("confirmation-password", "Password you chose", "password", "current-password", password)}
            {submit_row(error, busy, "Create my account", "Creating…", "confirm-sign-up")}
        </form>
    }
}

/// Asking for a link to choose a new password. On a server that sends mail the page says the
/// same whether or not an account uses the address (only the inbox learns which); on one that
/// sends no mail it says who issues links.
#[component]
pub fn ForgotPassword() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let error = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let mailed = RwSignal::new(None::<bool>);
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match api::request_password_reset(email.get_untracked()).await {
                Ok(sent) => mailed.set(Some(sent)),
                Err(failure) => error.set(Some(failure.to_string())),
            }
            busy.set(false);
        });
    };
    let answer = move || match mailed.get() {
        Some(true) => format!(
            "If an account uses {}, a link to choose a new password is on its way. It works \
             once, for an hour; ask again if it does not arrive.",
            email.get()
        ),
        _ => "This server sends no mail: ask whoever runs it for a link to choose a new \
              password (they issue one with `ringback reset-link`)."
            .to_owned(),
    };
    view! {
        <h1>"Forgot your password?"</h1>
        <Show when=move || mailed.get().is_none() fallback=move || view! {
            <p data-testid="reset-requested" role="status">{answer}</p>
            <p><a href="/sign-in">"Back to sign in"</a></p>
        }>
            <form class="sign-in" on:submit=submit>
                <p>"Enter the e-mail you sign in with, and we will send a link to choose a new password."</p>
                {field("email", "E-mail", "email", "username", email)}
                {submit_row(error, busy, "Send me a link", "Sending…", "request-reset")}
            </form>
        </Show>
    }
}

/// Choosing a new password from the link of a reset mail (or the operator's): the code comes
/// from the link (or is pasted); saving signs in and ends the account's other sessions.
#[component]
pub fn ResetPassword() -> impl IntoView {
    let code = code_from_link();
    let password = RwSignal::new(String::new());
    let repeated = RwSignal::new(String::new());
    let error = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let submit = session_starter(
        move || {
            let chosen = chosen_password(password, repeated)?;
            Ok(api::reset_password(
                code.get_untracked().trim().to_owned(),
                chosen,
            ))
        },
        error,
        busy,
    );
    view! {
        <h1>"Choose a new password"</h1>
        <form class="sign-in" on:submit=submit>
            <p>"Saving it signs you in here and out on every other device."</p>
            {field("reset-code", "Reset code", "text", "off", code)}
            {field("new-password", "New password", "password", "new-password", password)}
            <p class="hint" aria-live="polite" data-testid="password-rule">{move || password_feedback(&password.get())}</p>
            {field("new-password-again", "The same password again", "password", "new-password", repeated)}
            {submit_row(error, busy, "Save and sign in", "Saving…", "reset-password")}
        </form>
    }
}
