//! Who is signed in: loaded once from `me`, shared with every page through context, shown in the
//! header with a sign-out button. The routes that need a session are the children of one parent
//! route, [`RequireSession`], which sends a signed-out visitor to `/sign-in?next=<where they were>`.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::components::{A, Outlet};
use leptos_router::hooks::{use_location, use_navigate};

use ringback_shared::access::{Permission, Role};

use crate::api::{self, ApiError, me};
use crate::components::{Alert, BillingLink, BillingNotice, billing_summary};

/// The signed-in member, their role and clinic.
pub type Member = me::MeMe;

/// Whether the app has asked the server who is signed in.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    NotYet,
    Asking,
    /// The answer is in `member`.
    Known,
    SignedOut,
    Failed(ApiError),
}

/// The session, as every page sees it.
#[derive(Clone, Copy)]
pub struct Session {
    /// `None` until loaded, or after signing out.
    pub member: RwSignal<Option<Member>>,
    pub check: RwSignal<Check>,
}

impl Session {
    /// Someone has signed in (or joined): every page sees them at once.
    pub fn signed_in(self, member: Member) {
        self.member.set(Some(member));
        self.check.set(Check::Known);
    }

    /// Asks the server again, after a change to what it says of the member or their clinic (the
    /// clinic's name, time zone or currency), so every page shows the change without a reload.
    /// A failure keeps what was known.
    pub fn reload(self) {
        spawn_local(async move {
            match api::run::<api::Me>(me::Variables).await {
                // Set only when it changed: every page reading the member would draw itself
                // again (losing what is typed in its forms).
                Ok(data)
                    if self
                        .member
                        .with_untracked(|member| member.as_ref() != Some(&data.me)) =>
                {
                    self.member.set(Some(data.me));
                }
                Ok(_) => {}
                Err(ApiError::SignedOut) => self.check.set(Check::SignedOut),
                Err(_) => {}
            }
        });
    }

    /// Asks the server who is signed in, once; the header and every guarded page share the answer.
    pub fn ensure_checked(self) {
        if self.check.get_untracked() != Check::NotYet {
            return;
        }
        self.check.set(Check::Asking);
        spawn_local(async move {
            match api::run::<api::Me>(me::Variables).await {
                Ok(data) => self.signed_in(data.me),
                Err(ApiError::SignedOut) => self.check.set(Check::SignedOut),
                Err(error) => self.check.set(Check::Failed(error)),
            }
        });
    }
}

/// Makes the session available to every page; a session that ends while the dashboard is open
/// (it expired, or was ended elsewhere) is forgotten at the first request that finds it over, so
/// [`RequireSession`] sends the user to sign in and back.
pub fn provide() {
    let session = Session {
        member: RwSignal::new(None),
        check: RwSignal::new(Check::NotYet),
    };
    provide_context(session);
    api::when_signed_out(move || {
        session.member.set(None);
        session.check.set(Check::SignedOut);
    });
    api::when_renewed(move || {
        if session.member.get_untracked().is_some() {
            session.reload();
        }
    });
}

/// The clinic's currency (ISO 4217), for showing amounts.
pub fn clinic_currency() -> String {
    use_session()
        .member
        .get_untracked()
        .map(|member| member.clinic.currency)
        .unwrap_or_else(|| "GBP".to_owned())
}

/// What this dashboard calls the member's business: "clinic" for a dental practice, "business"
/// otherwise (see `ringback_shared::business::place_word`).
pub fn place_word() -> &'static str {
    use_session()
        .member
        .get_untracked()
        .map_or("business", |member| {
            ringback_shared::business::place_word(&member.clinic.kind)
        })
}

/// The member's role, as the shared access rules know it.
pub fn role_of(member: &Member) -> Role {
    match member.role {
        me::TeamRole::OWNER => Role::Owner,
        me::TeamRole::ADMIN => Role::Admin,
        _ => Role::Receptionist,
    }
}

/// Whether the signed-in member may do what `permission` covers.
pub fn allows(session: Session, permission: Permission) -> bool {
    session
        .member
        .get()
        .is_some_and(|member| role_of(&member).allows(permission))
}

/// The session of this app.
pub fn use_session() -> Session {
    expect_context::<Session>()
}

/// Where sign-in sends the user back to: a path on this site only (see
/// `ringback_shared::navigation`).
pub fn safe_next(next: Option<String>) -> String {
    ringback_shared::navigation::safe_return_path(next.as_deref())
}

/// The parent route of every page that needs a session: shows the child route to a signed-in
/// member; a signed-out visitor goes to sign in, then comes back there.
#[component]
pub fn RequireSession() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let location = use_location();
    session.ensure_checked();
    Effect::new(move |_| {
        if session.check.get() == Check::SignedOut {
            let here = format!(
                "{}{}",
                location.pathname.get_untracked(),
                location.search.get_untracked()
            );
            let target = format!("/sign-in?next={}", js_sys::encode_uri_component(&here));
            navigate(&target, NavigateOptions::default());
        }
    });
    view! {
        <Show
            when=move || session.member.get().is_some()
            fallback=move || match session.check.get() {
                Check::Failed(error) => view! { <Alert message=Some(error.to_string()) /> }.into_any(),
                _ => view! { <p aria-busy="true">"Loading…"</p> }.into_any(),
            }
        >
            <Outlet />
        </Show>
    }
}

/// The site header: the clinic's name, the navigation and signing out, once signed in.
#[component]
pub fn Header() -> impl IntoView {
    let session = use_session();
    // Public pages (about, privacy, not found) show the navigation too when signed in.
    session.ensure_checked();
    let navigate = use_navigate();
    // Why the last sign-out did not go through, shown until one does: a front-desk computer is
    // shared, so the dashboard never says "signed out" while the server may still hold the
    // session's cookies.
    let sign_out_failed = RwSignal::new(None::<String>);
    let sign_out = move |_| {
        let navigate = navigate.clone();
        spawn_local(async move {
            match api::sign_out().await {
                Ok(()) => {
                    sign_out_failed.set(None);
                    session.member.set(None);
                    session.check.set(Check::SignedOut);
                    navigate("/sign-in", NavigateOptions::default());
                }
                Err(error) => sign_out_failed.set(Some(format!(
                    "Not signed out: {error}. Try again before leaving this computer."
                ))),
            }
        });
    };
    view! {
        <header>
            <A href="/" attr:class="brand">"Ringback"</A>
            {move || session.member.get().map(|member| {
                let sign_out = sign_out.clone();
                let billing = billing_summary();
                view! {
                    <nav aria-label="Main">
                        <A href="/">"Overview"</A>
                        <A href="/worklist">"Worklist"</A>
                        <A href="/inbox">"Inbox"</A>
                        <InboxCount />
                        <crate::components::ActivityWatch />
                        <A href="/appointments">"Appointments"</A>
                        {allows(session, Permission::ManageSettings).then(|| view! { <A href="/settings">"Settings"</A> })}
                        {allows(session, Permission::ManageTeam).then(|| view! { <A href="/team">"Team"</A> })}
                        {allows(session, Permission::ManageApiKeys).then(|| view! { <A href="/api-keys">"API keys"</A> })}
                        {allows(session, Permission::ReadAuditLog).then(|| view! { <A href="/audit-log">"Audit log"</A> })}
                        {allows(session, Permission::ManageSettings).then(|| view! { <A href="/export">"Export"</A> })}
                        {allows(session, Permission::HandlePrivacyRequests).then(|| view! { <A href="/settings/privacy">"Privacy"</A> })}
                        <A href="/account">"Account"</A>
                        <BillingLink summary=billing />
                    </nav>
                    <BillingNotice summary=billing />
                    <p class="who" data-testid="signed-in-as">
                        {member.user.display_name.clone()}" · "{member.clinic.name.clone()}
                    </p>
                    <ClinicSwitcher />
                    <button type="button" data-testid="sign-out" on:click=sign_out>"Sign out"</button>
                    {move || sign_out_failed.get().map(|why| view! {
                        <p role="alert" data-testid="sign-out-failed">{why}</p>
                    })}
                }
            })}
        </header>
    }
}

/// Who to ask for what `permission` covers: the least role that grants it ("an owner", "an admin").
fn who_may(permission: Permission) -> &'static str {
    match Role::ALL.into_iter().find(|role| role.allows(permission)) {
        Some(Role::Owner) => "an owner",
        Some(Role::Admin) => "an admin",
        _ => "a colleague",
    }
}

/// Shows `children` only to members whose role grants `permission`; others learn who to ask.
#[component]
pub fn RequirePermission(permission: Permission, children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    view! {
        <Show
            when=move || allows(session, permission)
            fallback=move || view! {
                <h1>"Not available"</h1>
                <p role="alert" data-testid="forbidden">{format!("Your role does not allow this page. Ask {} of your clinic.", who_may(permission))}</p>
            }
        >
            {children()}
        </Show>
    }
}

/// For members of several clinics: a choice of clinic; choosing one moves the session there and
/// reloads the dashboard, so every page shows the new clinic. Nothing for everyone else.
#[component]
fn ClinicSwitcher() -> impl IntoView {
    let clinics = LocalResource::new(|| api::run::<api::MyClinics>(api::my_clinics::Variables));
    let failure = RwSignal::new(None::<String>);
    let switch = move |ev: leptos::ev::Event| {
        let variables = api::switch_clinic::Variables {
            clinic_id: event_target_value(&ev),
        };
        spawn_local(async move {
            match api::run::<api::SwitchClinic>(variables).await {
                Ok(_) => {
                    let _ = window().location().set_href("/");
                }
                Err(error) => failure.set(Some(error.to_string())),
            }
        });
    };
    move || {
        let listed = clinics.get().and_then(Result::ok)?.my_clinics;
        (listed.len() > 1).then(|| {
            view! {
                <label class="inline">
                    <span class="visually-hidden">"Clinic"</span>
                    <select data-testid="clinic-switcher" on:change=switch>
                        {listed.into_iter().map(|member| view! {
                            <option value=member.clinic.id selected=member.current>{member.clinic.name}</option>
                        }).collect_view()}
                    </select>
                </label>
                <Alert message=failure />
            }
        })
    }
}

/// The number of unread conversations beside the inbox link, read again on every navigation and
/// when something new happens.
#[component]
fn InboxCount() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let activity = crate::components::use_activity();
    let count = LocalResource::new(move || {
        location.pathname.track();
        activity.track();
        crate::api::run::<crate::api::InboxCount>(crate::api::inbox_count::Variables)
    });
    move || {
        count
            .get()
            .and_then(Result::ok)
            .filter(|data| data.inbox_unread > 0)
            .map(|data| {
                view! { <span class="badge" data-testid="inbox-unread">{format!("{} unread", data.inbox_unread)}</span> }
            })
    }
}
