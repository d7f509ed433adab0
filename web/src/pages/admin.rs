//! The admin pages: the team (members with their roles, invitations), integrator API keys (the secret shown once,
//! with a copy button), the audit log, and texts that could not be sent (with a retry). Each
//! page's changes run as one action; its list is keyed on the action's version, so it reloads
//! after every change.

use leptos::prelude::*;
use ringback_shared::display;

use crate::api::{
    self, ApiError, api_keys, audit_log, change_member_role, create_api_key, dead_letters,
    invite_member, remove_member, retry_dead_letter, revoke_api_key, revoke_invite, team,
};
use crate::components::{Alert, AsyncView, PagingWords, failure_of, paging};
use crate::session::{role_of, use_session};
use crate::time::{ClinicTime, use_clinic_time};
use ringback_shared::access::{Permission, Role};

/// A change on an admin page; it may answer with a text to show once (an invitation link, a
/// key's secret, a confirmation).
type Change<I> = Action<I, Result<Option<String>, ApiError>>;

/// The text the last successful change answered with (an API key's secret), kept until the page
/// clears it when the next change that answers one is asked for: a failed one must not leave
/// the one before on screen to be handed to the wrong integration.
fn shown_once<I: 'static>(change: Change<I>) -> RwSignal<Option<String>> {
    let shown = RwSignal::new(None);
    let outcome = change.value();
    Effect::new(move |_| {
        if let Some(Ok(Some(text))) = outcome.get() {
            shown.set(Some(text));
        }
    });
    shown
}

/// Changes to the team.
#[derive(Clone)]
enum TeamChange {
    Invite(invite_member::Variables),
    ChangeRole(change_member_role::Variables),
    Remove { user_id: String },
    WithdrawInvite { id: String },
}

/// Whether the signed-in member agrees to `question` (the browser's own dialog).
fn sure(question: &str) -> bool {
    window().confirm_with_message(question).unwrap_or(false)
}

/// Sends `change`; an invitation answers with its link.
async fn change_team(change: TeamChange) -> Result<Option<String>, ApiError> {
    match change {
        TeamChange::Invite(variables) => {
            let created = api::run::<api::InviteMember>(variables).await?;
            Ok(Some(invitation_link(&created.invite_member.token)))
        }
        TeamChange::ChangeRole(variables) => api::run::<api::ChangeMemberRole>(variables)
            .await
            .map(|_| None),
        TeamChange::Remove { user_id } => {
            let variables = remove_member::Variables { user_id };
            api::run::<api::RemoveMember>(variables).await.map(|_| None)
        }
        TeamChange::WithdrawInvite { id } => {
            let variables = revoke_invite::Variables { id };
            api::run::<api::RevokeInvite>(variables).await.map(|_| None)
        }
    }
}

/// The role chosen in the invitation form.
fn invited_role(value: &str) -> invite_member::TeamRole {
    match value {
        "ADMIN" => invite_member::TeamRole::ADMIN,
        "OWNER" => invite_member::TeamRole::OWNER,
        _ => invite_member::TeamRole::RECEPTIONIST,
    }
}

#[component]
pub fn Team() -> impl IntoView {
    let change: Change<TeamChange> =
        Action::new_local(|change: &TeamChange| change_team(change.clone()));
    let changed = change.version();
    let members = LocalResource::new(move || {
        changed.track();
        api::run::<api::Team>(team::Variables)
    });
    // The last invitation's link, with whom it is for: cleared when the next is asked for, so a
    // failed invitation never leaves the one before on screen to be sent to the wrong person
    // (who would join with that person's role); other changes leave it.
    let invitation = RwSignal::new(None::<(String, String)>);
    let invited = StoredValue::new(String::new());
    let session = use_session();
    // A change to one's own role (or a colleague's) shows in the menus at once.
    let outcome = change.value();
    Effect::new(move |_| {
        if outcome.with(|outcome| matches!(outcome, Some(Ok(_)))) {
            session.reload();
        }
        if let Some(Ok(Some(link))) = outcome.get() {
            invitation.set(Some((invited.get_value(), link)));
        }
    });
    let viewer_is_owner = session
        .member
        .get_untracked()
        .is_some_and(|member| role_of(&member) == Role::Owner);
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let role = RwSignal::new("RECEPTIONIST".to_owned());
    let invite = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        invitation.set(None);
        invited.set_value(email.get_untracked());
        change.dispatch(TeamChange::Invite(invite_member::Variables {
            email: email.get_untracked(),
            display_name: name.get_untracked(),
            role: invited_role(&role.get_untracked()),
        }));
    };
    view! {
        <h1>"Team"</h1>
        <Alert message=failure_of(change) />
        <AsyncView resource=members loading="Loading the team…" let:data>
            {team_lists(data, change)}
        </AsyncView>
        <form class="settings" on:submit=invite>
            <fieldset>
                <legend>"Invite someone"</legend>
                <label for="invite-email">"E-mail"</label>
                <input id="invite-email" type="email" required prop:value=email on:input=move |ev| email.set(event_target_value(&ev)) />
                <label for="invite-name">"Name"</label>
                <input id="invite-name" required prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) />
                <label for="invite-role">"Role"</label>
                <select id="invite-role" prop:value=role on:change=move |ev| role.set(event_target_value(&ev))>
                    <option value="RECEPTIONIST">"Receptionist: worklist, inbox, appointments"</option>
                    <option value="ADMIN">"Admin: also settings, team and API keys"</option>
                    {viewer_is_owner.then(|| view! { <option value="OWNER">"Owner: also billing"</option> })}
                </select>
            </fieldset>
            <button type="submit" data-testid="invite-create" disabled=move || change.pending().get()>"Create the invitation"</button>
        </form>
        {move || invitation.get().map(|(email, link)| {
            let copied = link.clone();
            view! {
                <p role="status">
                    {format!("Send {email} this invitation link (shown once, valid for 7 days): ")}
                    <code data-testid="invite-link">{link}</code>" "
                    <button type="button" on:click=move |_| copy_to_clipboard(&copied)>"Copy"</button>
                </p>
            }
        })}
    }
}

/// The members, each with their role to change and a button to remove them (both asked again
/// first), and the pending invitations. Only an owner is offered the owner role, or an owner to
/// change or remove, as only an owner may give or take that role.
fn team_lists(data: team::ResponseData, change: Change<TeamChange>) -> impl IntoView {
    let viewer_is_owner = use_session()
        .member
        .get_untracked()
        .is_some_and(|member| role_of(&member) == Role::Owner);
    view! {
        <ul class="plain" data-testid="team">
            {data.team.into_iter().map(|member| member_row(member, viewer_is_owner, change)).collect_view()}
        </ul>
        <h2>"Pending invitations"</h2>
        <ul class="plain">
            {data.invites.into_iter().map(|invite| {
                let id = invite.id.clone();
                view! {
                    <li>
                        {invite.display_name}" · "{invite.email}" "
                        <button type="button" disabled=move || change.pending().get() on:click=move |_| {
                            change.dispatch(TeamChange::WithdrawInvite { id: id.clone() });
                        }>"Revoke"</button>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// One member: name, address, their role (a choice with a button to change it) and "Remove".
fn member_row(
    member: team::TeamTeam,
    viewer_is_owner: bool,
    change: Change<TeamChange>,
) -> impl IntoView {
    let user_id = member.user.id.clone();
    let name = member.user.display_name.clone();
    let current = role_value(&member.role);
    let chosen = RwSignal::new(current.to_owned());
    let may_change = viewer_is_owner || current != "OWNER";
    let options = [
        ("RECEPTIONIST", "receptionist"),
        ("ADMIN", "admin"),
        ("OWNER", "owner"),
    ]
    .into_iter()
    .filter(|(value, _)| viewer_is_owner || *value != "OWNER" || current == "OWNER")
    .map(|(value, words)| view! { <option value=value>{words}</option> })
    .collect_view();
    let change_role = {
        let (user_id, name) = (user_id.clone(), name.clone());
        move |_| {
            let role = chosen.get_untracked();
            let loses_keys = Role::parse(&role.to_lowercase())
                .is_some_and(|role| !role.allows(Permission::ManageApiKeys));
            let keys_go = if loses_keys {
                " API keys they created stop working."
            } else {
                ""
            };
            if role == current || !sure(&format!("Make {name} {}?{keys_go}", role.to_lowercase())) {
                return;
            }
            change.dispatch(TeamChange::ChangeRole(change_member_role::Variables {
                user_id: user_id.clone(),
                role: chosen_role(&role),
            }));
        }
    };
    let remove = move |_| {
        let question = format!(
            "Remove {name} from the team? They are signed out at once and lose access to this {place}; \
             API keys they created stop working.",
            place = crate::session::place_word()
        );
        if sure(&question) {
            change.dispatch(TeamChange::Remove {
                user_id: user_id.clone(),
            });
        }
    };
    let role_label = format!("Role of {}", member.user.email);
    view! {
        <li data-testid="member">
            <strong>{member.user.display_name}</strong>" · "{member.user.email}" · "
            <select aria-label=role_label data-testid="member-role"
                disabled=!may_change prop:value=chosen
                on:change=move |ev| chosen.set(event_target_value(&ev))>
                {options}
            </select>
            {may_change.then(|| view! {
                " "<button type="button" data-testid="member-role-save" on:click=change_role>"Change role"</button>
            })}
            {may_change.then(|| view! {
                " "<button type="button" data-testid="member-remove" on:click=remove>"Remove"</button>
            })}
        </li>
    }
}

/// A member's role as the role choice's value.
fn role_value(role: &team::TeamRole) -> &'static str {
    match role {
        team::TeamRole::OWNER => "OWNER",
        team::TeamRole::ADMIN => "ADMIN",
        _ => "RECEPTIONIST",
    }
}

/// The role chosen for a member.
fn chosen_role(value: &str) -> change_member_role::TeamRole {
    match value {
        "ADMIN" => change_member_role::TeamRole::ADMIN,
        "OWNER" => change_member_role::TeamRole::OWNER,
        _ => change_member_role::TeamRole::RECEPTIONIST,
    }
}

/// Changes to the API keys.
#[derive(Clone)]
enum KeyChange {
    Create(create_api_key::Variables),
    Revoke { id: String },
}

/// Sends `change`; a new key answers with its secret.
async fn change_keys(change: KeyChange) -> Result<Option<String>, ApiError> {
    match change {
        KeyChange::Create(variables) => {
            let created = api::run::<api::CreateApiKey>(variables).await?;
            Ok(Some(created.create_api_key.secret))
        }
        KeyChange::Revoke { id } => {
            let variables = revoke_api_key::Variables { id };
            api::run::<api::RevokeApiKey>(variables).await.map(|_| None)
        }
    }
}

#[component]
pub fn ApiKeys() -> impl IntoView {
    let clock = use_clinic_time();
    let change: Change<KeyChange> =
        Action::new_local(|change: &KeyChange| change_keys(change.clone()));
    let changed = change.version();
    let keys = LocalResource::new(move || {
        changed.track();
        api::run::<api::ApiKeys>(api_keys::Variables)
    });
    let secret = shown_once(change);
    let name = RwSignal::new(String::new());
    let write = RwSignal::new(false);
    let create = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        secret.set(None);
        change.dispatch(KeyChange::Create(create_api_key::Variables {
            name: name.get_untracked(),
            scope: if write.get_untracked() {
                create_api_key::KeyScope::WRITE
            } else {
                create_api_key::KeyScope::READ
            },
        }));
    };
    let copy = move |_| {
        if let Some(text) = secret.get_untracked() {
            copy_to_clipboard(&text);
        }
    };
    view! {
        <h1>"API keys"</h1>
        <Alert message=failure_of(change) />
        {move || secret.get().map(|secret| view! {
            <p role="status" data-testid="api-key-secret">
                "Your new key (shown once; send it as "<code>"Authorization: Bearer …"</code>"): "
                <code data-testid="api-key-secret-value">{secret}</code>" "
                <button type="button" on:click=copy>"Copy"</button>
            </p>
        })}
        <AsyncView resource=keys loading="Loading keys…" let:data>
            {key_list(data, clock, change)}
        </AsyncView>
        <form class="settings" on:submit=create>
            <fieldset>
                <legend>"New key"</legend>
                <label for="key-name">"Name (what uses it)"</label>
                <input id="key-name" required prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) />
                <label class="inline">
                    <input id="key-write" type="checkbox" prop:checked=write on:change=move |ev| write.set(event_target_checked(&ev)) />
                    " May also push call events and book appointments"
                </label>
            </fieldset>
            <button type="submit" disabled=move || change.pending().get()>"Create the key"</button>
        </form>
    }
}

/// The keys, each with what it may do, when it was made and last used, and a button to revoke it.
fn key_list(
    data: api_keys::ResponseData,
    clock: ClinicTime,
    change: Change<KeyChange>,
) -> impl IntoView {
    view! {
        <ul class="plain">
            {data.api_keys.into_iter().map(|key| {
                let id = key.id.clone();
                let revoked = key.revoked_at.is_some();
                let row_name = key.name.clone();
                view! {
                    <li data-testid="api-key" data-name=row_name>
                        <strong>{key.name}</strong>" · "{format!("{:?}", key.scope).to_lowercase()}
                        " · "<code>{key.hint}"…"</code>" · created "{clock.local_time(&key.created_at)}
                        {key.last_used_at.map(|at| format!(" · last used {}", clock.local_time(&at)))}
                        {if revoked {
                            view! { " · revoked" }.into_any()
                        } else {
                            view! {
                                " "<button type="button" data-testid="api-key-revoke" on:click=move |_| {
                                    if sure("Revoke this key? Whatever uses it stops working at once.") {
                                        change.dispatch(KeyChange::Revoke { id: id.clone() });
                                    }
                                }>"Revoke"</button>
                            }.into_any()
                        }}
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// The page that accepts an invitation, with its one-time code after `#` (kept out of server logs
/// and `Referer` headers).
fn invitation_link(token: &str) -> String {
    let origin = window().location().origin().unwrap_or_default();
    format!("{origin}/accept-invite#{token}")
}

/// `navigator.clipboard.writeText(text)`; a browser without a clipboard leaves the key on screen.
fn copy_to_clipboard(text: &str) {
    use js_sys::{Function, Reflect};
    use wasm_bindgen::{JsCast, JsValue};
    let clipboard = Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|navigator| Reflect::get(&navigator, &"clipboard".into()));
    if let Ok(clipboard) = clipboard
        && let Ok(write) = Reflect::get(&clipboard, &"writeText".into())
        && let Some(write) = write.dyn_ref::<Function>()
    {
        let _ = write.call1(&clipboard, &JsValue::from_str(text));
    }
}

#[component]
pub fn AuditLog() -> impl IntoView {
    let clock = use_clinic_time();
    // Where the page starts: `None` for the newest entries, else after a cursor.
    let after = RwSignal::new(None::<String>);
    let entries = LocalResource::new(move || {
        api::run::<api::AuditLog>(audit_log::Variables { after: after.get() })
    });
    view! {
        <h1>"Audit log"</h1>
        <p>"Sign-ins, settings changes, exports and reads of personal data, newest first. Each entry is chained to the one before it."</p>
        <AsyncView resource=entries loading="Loading the audit log…" let:data>
            {audit_table(data, clock, after)}
        </AsyncView>
    }
}

/// The entries, one row each, with a way to older ones and back.
fn audit_table(
    data: audit_log::ResponseData,
    clock: ClinicTime,
    after: RwSignal<Option<String>>,
) -> impl IntoView {
    let page_info = data.audit_log.page_info;
    let next = page_info.end_cursor.filter(|_| page_info.has_next_page);
    view! {
        <table class="audit">
            <thead><tr><th scope="col">"#"</th><th scope="col">"When"</th><th scope="col">"What"</th><th scope="col">"Details"</th></tr></thead>
            <tbody>
                {data.audit_log.edges.into_iter().map(|edge| view! {
                    <tr>
                        <td data-testid="audit-seq">{edge.node.seq}</td>
                        <td>{clock.local_time(&edge.node.at)}</td>
                        <td data-testid="audit-action">{edge.node.action}</td>
                        <td><code>{edge.node.detail.to_string()}</code></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        {paging(after, next, PagingWords {
            first: "Back to the newest",
            next: "Older entries",
            next_test_id: "audit-older",
        })}
    }
}

/// What a job was for, in words.
fn job_kind(kind: &str) -> &'static str {
    match kind {
        "text_back" => "Text-back after a missed call",
        "reply" => "Reply from the inbox",
        "ai_answer" => "AI receptionist's answer",
        "ai_follow_up" => "AI receptionist's follow-up",
        "report_overage" => "Texts over the plan, reported to Stripe",
        "forget_provider_records" => {
            "Deleting Twilio's records of erased or expired calls and texts"
        }
        "forget_caller_at_provider" => "Searching Twilio's log for an erased caller",
        "hand_off_mail" => "E-mail to the member given a caller",
        "calendar_sync" => "Booking in the Google calendar (is it still shared?)",
        "calendar_fill" => "Next upcoming bookings for the Google calendar",
        _ => "Text",
    }
}

/// Queues the text `id` again; answers with the confirmation to show.
async fn retry(id: String) -> Result<Option<String>, ApiError> {
    api::run::<api::RetryDeadLetter>(retry_dead_letter::Variables { id }).await?;
    Ok(Some("Queued again.".to_owned()))
}

/// Texts the outbox gave up on, with the provider's reason; each can be queued again.
#[component]
pub fn Undelivered() -> impl IntoView {
    let clock = use_clinic_time();
    let retry: Change<String> = Action::new_local(|id: &String| retry(id.clone()));
    let retried = retry.version();
    let letters = LocalResource::new(move || {
        retried.track();
        api::run::<api::DeadLetters>(dead_letters::Variables)
    });
    let done = shown_once(retry);
    view! {
        <h1>"Texts not sent"</h1>
        <p>"Texts the provider refused, or that failed every attempt. Trying again checks with the provider first, so nobody gets a text twice."</p>
        <Alert message=failure_of(retry) />
        {move || done.get().map(|message| view! { <p role="status" data-testid="undelivered-done">{message}</p> })}
        <button type="button" data-testid="undelivered-refresh" on:click=move |_| letters.refetch()>"Refresh"</button>
        <AsyncView resource=letters loading="Loading…" let:data>
            {undelivered_list(data, clock, retry)}
        </AsyncView>
    }
}

/// The texts not sent, each with the provider's reason and a button to try again; or word that
/// every text has been sent.
fn undelivered_list(
    data: dead_letters::ResponseData,
    clock: ClinicTime,
    retry: Change<String>,
) -> AnyView {
    if data.dead_letters.is_empty() {
        return view! { <p data-testid="undelivered-none">"Every text has been sent."</p> }
            .into_any();
    }
    view! {
        <ul class="plain" data-testid="undelivered">
            {data.dead_letters.into_iter().map(|letter| {
                let id = letter.id.clone();
                view! {
                    <li data-testid="undelivered-job">
                        <strong>{job_kind(&letter.kind)}</strong>
                        {format!(
                            " · queued {} · gave up {} after {}",
                            clock.local_time(&letter.created_at),
                            clock.local_time(&letter.failed_at),
                            display::count(letter.attempts, "attempt", "attempts"),
                        )}
                        <br />
                        <span data-testid="undelivered-reason">{letter.last_error.unwrap_or_else(|| "no reason given".to_owned())}</span>
                        " "
                        <button type="button" data-testid="undelivered-retry"
                            disabled=move || retry.pending().get() on:click=move |_| {
                            retry.dispatch(id.clone());
                        }>"Try again"</button>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}
