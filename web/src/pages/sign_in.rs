//! Getting in: signing in with e-mail and password, and accepting an invitation (the link the
//! inviter sends carries the one-time code after `#`, so it never reaches a server log). Either way
//! the user then goes where they were sent from (`?next=`), or to the overview.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};
use ringback_shared::password;

use crate::api::{self, ApiError, me};
use crate::components::Alert;
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
        <p>"Invited by your clinic? Open the invitation link you were sent."</p>
    }
}

/// Joining a clinic with the invitation code (from the link, or pasted): a new address chooses a
/// password; someone already signed in joins with that account, and an address that has an account
/// must sign in first (the server never checks an existing password here).
#[component]
pub fn AcceptInvite() -> impl IntoView {
    let session = use_session();
    session.ensure_checked();
    let from_link = use_location().hash.get_untracked();
    let code = RwSignal::new(from_link.trim_start_matches('#').to_owned());
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
            let chosen = password.get_untracked();
            password::check(&chosen).map_err(|problem| capitalised(&problem.to_string()))?;
            if chosen != repeated.get_untracked() {
                return Err("The two passwords differ.".to_owned());
            }
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
        <h1>"Join your clinic on Ringback"</h1>
        <form class="sign-in" on:submit=submit>
            {field("invite-code", "Invitation code", "text", "off", code)}
            <Show when=move || signed_in_as().is_some() fallback=new_account>
                <p data-testid="join-as">
                    {move || format!(
                        "You are signed in as {}: joining adds this clinic to your account.",
                        signed_in_as().unwrap_or_default()
                    )}
                </p>
            </Show>
            {submit_row(error, busy, "Join", "Joining…", "accept-invite")}
        </form>
    }
}

/// Finishing a sign-up from the link of the confirmation mail: the code comes from the link (or is
/// pasted), and confirming creates the clinic and signs its owner in.
#[component]
pub fn ConfirmSignUp() -> impl IntoView {
    let from_link = use_location().hash.get_untracked();
    let code = RwSignal::new(from_link.trim_start_matches('#').to_owned());
    let error = RwSignal::new(None);
    let busy = RwSignal::new(false);
    let submit = session_starter(
        move || Ok(api::confirm_sign_up(code.get_untracked().trim().to_owned())),
        error,
        busy,
    );
    view! {
        <h1>"Create your clinic on Ringback"</h1>
        <form class="sign-in" on:submit=submit>
            <p>"Your address is confirmed by the link you opened. Create the clinic to start."</p>
            {field("confirmation-code", "Confirmation code", "text", "off", code)}
            {submit_row(error, busy, "Create my clinic", "Creating…", "confirm-sign-up")}
        </form>
    }
}

/// `text` with its first letter in capitals (shared rules speak in mid-sentence form).
fn capitalised(text: &str) -> String {
    let mut letters = text.chars();
    letters
        .next()
        .map(|first| first.to_uppercase().chain(letters).collect())
        .unwrap_or_default()
}
