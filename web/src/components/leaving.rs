//! Taking everything away, and leaving: the clinic's whole data as a download whose progress the
//! page shows (owners), deleting the clinic (owners: its name typed out and the password), and
//! deleting one's own account (anyone but a clinic's last owner). After a deletion the dashboard
//! forgets the session and returns to signing in.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;

use crate::api::{self, clinic_data_export, delete_clinic, delete_my_account};
use crate::components::Alert;
use crate::session::{Check, use_session};
use crate::time::use_clinic_time;

/// How the download is going.
#[derive(Clone)]
enum Progress {
    Idle,
    Running {
        lines: u64,
        total: i64,
    },
    Ready {
        href: String,
        filename: String,
        lines: u64,
    },
}

/// The clinic's whole data, downloaded with its progress shown.
#[component]
pub fn ClinicData() -> impl IntoView {
    let progress = RwSignal::new(Progress::Idle);
    let failure = RwSignal::new(None::<String>);
    let filename = ringback_shared::display::clinic_data_file_name(use_clinic_time().today());
    let start = move |_| {
        let filename = filename.clone();
        failure.set(None);
        spawn_local(async move {
            let plan = match api::run::<api::ClinicDataExport>(clinic_data_export::Variables).await
            {
                Ok(data) => data.export_clinic_data,
                Err(error) => return failure.set(Some(error.to_string())),
            };
            let total = plan.total_rows;
            progress.set(Progress::Running { lines: 0, total });
            let shown = move |lines| progress.set(Progress::Running { lines, total });
            match api::download_lines(&plan.url, "application/x-ndjson", shown).await {
                Ok(done) => progress.set(Progress::Ready {
                    href: done.href,
                    filename,
                    lines: done.lines,
                }),
                Err(error) => {
                    progress.set(Progress::Idle);
                    failure.set(Some(error.to_string()));
                }
            }
        });
    };
    view! {
        <section aria-labelledby="clinic-data-heading">
            <h2 id="clinic-data-heading">{format!("The {}'s whole data", crate::session::place_word())}</h2>
            <p>"Settings, team, calls, appointments and their attribution, conversations with their "
               "messages, the opt-out and do-not-process lists, the audit log and the daily figures, "
               "one JSON document per line. No phone number is in it."</p>
            <button type="button" data-testid="clinic-data-start"
                disabled=move || matches!(progress.get(), Progress::Running { .. })
                on:click=start>"Download everything"</button>
            <Alert message=failure />
            {move || match progress.get() {
                Progress::Idle => ().into_any(),
                Progress::Running { lines, total } => view! {
                    <p role="status" aria-busy="true">
                        <progress max=total.max(1) value=lines.min(total.max(0) as u64) data-testid="clinic-data-progress"></progress>
                        {format!(" {lines} of {total} rows")}
                    </p>
                }.into_any(),
                Progress::Ready { href, filename, lines } => view! {
                    <p role="status">
                        <a data-testid="clinic-data-download" href=href download=filename.clone()>
                            {format!("Save {filename} ({lines} rows)")}
                        </a>
                    </p>
                }.into_any(),
            }}
        </section>
    }
}

/// What to do after a deletion: forget the session and go to signing in. Made while the page is
/// built (its context is there), run when the server has answered.
fn signed_out_after_deletion() -> Callback<()> {
    let session = use_session();
    let navigate = use_navigate();
    Callback::new(move |()| {
        session.member.set(None);
        session.check.set(Check::SignedOut);
        navigate("/sign-in", NavigateOptions::default());
    })
}

/// Deleting the clinic, for owners.
#[component]
pub fn DeleteClinic() -> impl IntoView {
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let failure = RwSignal::new(None::<String>);
    let finish = signed_out_after_deletion();
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let variables = delete_clinic::Variables {
            name: name.get_untracked(),
            password: password.get_untracked(),
        };
        password.set(String::new());
        spawn_local(async move {
            match api::run::<api::DeleteClinic>(variables).await {
                Ok(_) => finish.run(()),
                Err(error) => failure.set(Some(error.to_string())),
            }
        });
    };
    view! {
        <section aria-labelledby="delete-clinic-heading" class="danger-zone">
            <h2 id="delete-clinic-heading">{format!("Delete the {}", crate::session::place_word())}</h2>
            <p>{format!("Everything goes, for good: the {0}'s key is destroyed first, so nothing it sealed can \
               be opened again, then every record; a running subscription is cancelled. Team members \
               who belong to no other {0} are deleted. Download everything first if you need it.", crate::session::place_word())}</p>
            <form class="settings" on:submit=submit>
                <label for="delete-clinic-name">{format!("The {}'s name, as it is", crate::session::place_word())}</label>
                <input id="delete-clinic-name" autocomplete="off" required
                    prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) />
                <label for="delete-clinic-password">"Your password"</label>
                <input id="delete-clinic-password" type="password" autocomplete="current-password" required
                    prop:value=password on:input=move |ev| password.set(event_target_value(&ev)) />
                <button type="submit" class="danger" data-testid="delete-clinic">{format!("Delete the {}", crate::session::place_word())}</button>
            </form>
            <Alert message=failure />
        </section>
    }
}

/// Deleting the signed-in member's own account.
#[component]
pub fn DeleteAccount() -> impl IntoView {
    let password = RwSignal::new(String::new());
    let failure = RwSignal::new(None::<String>);
    let finish = signed_out_after_deletion();
    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let variables = delete_my_account::Variables {
            password: password.get_untracked(),
        };
        password.set(String::new());
        spawn_local(async move {
            match api::run::<api::DeleteMyAccount>(variables).await {
                Ok(_) => finish.run(()),
                Err(error) => failure.set(Some(error.to_string())),
            }
        });
    };
    view! {
        <section aria-labelledby="delete-account-heading" class="danger-zone">
            <h2 id="delete-account-heading">"Delete your account"</h2>
            <p>"You leave every team you belong to and your sign-in is deleted. The last owner of a "
               "clinic or business cannot: delete it or make someone else an owner first."</p>
            <form class="settings" on:submit=submit>
                <label for="delete-account-password">"Your password"</label>
                <input id="delete-account-password" type="password" autocomplete="current-password" required
                    prop:value=password on:input=move |ev| password.set(event_target_value(&ev)) />
                <button type="submit" class="danger" data-testid="delete-account">"Delete my account"</button>
            </form>
            <Alert message=failure />
        </section>
    }
}
