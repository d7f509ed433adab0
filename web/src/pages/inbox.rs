//! The SMS inbox, a shared front desk's: conversations in four views (open, mine, unassigned,
//! closed), newest activity first, each with the first words of its last message, who holds it
//! and whether anyone has read it; a conversation's messages with their
//! delivery states, a reply box (when the clinic keeps numbers), "Call back" (when the caller's
//! latest missed call keeps a number and the provider can place calls), assignment to oneself,
//! closing, and taking the conversation over from the AI receptionist, whose messages, state and
//! steps (tools with their outcomes) show beside the others. Above the list, the callers the AI
//! handed to the team; below it, whether the member is e-mailed the callers handed to them.
//! Changes to a conversation run as one action; the conversation is keyed on its version, so it
//! reloads after each. An open conversation offers messages that came since it was read, without
//! reading them for the team until asked.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use ringback_shared::ai::HAND_OFF_MAIL_SWITCH;
use ringback_shared::text_back::delivery_words;

use crate::api::{
    self, ApiError, assign, close, conversation, conversation_latest, conversations,
    mark_notifications_read, my_hand_off_mails, reply, set_my_hand_off_mails, take_over,
};
use crate::components::{
    Alert, AsyncView, PagingWords, RingingNotice, call_back_action, failure_of, paging,
    use_activity,
};
use crate::session::use_session;
use crate::time::{ClinicTime, instant, use_clinic_time};

/// The inbox's views: value, label, test id.
const VIEWS: [(conversations::InboxFilter, &str, &str); 4] = [
    (conversations::InboxFilter::OPEN, "Open", "inbox-open"),
    (conversations::InboxFilter::MINE, "Mine", "inbox-mine"),
    (
        conversations::InboxFilter::UNASSIGNED,
        "Unassigned",
        "inbox-unassigned",
    ),
    (conversations::InboxFilter::CLOSED, "Closed", "inbox-closed"),
];

/// The list of conversations in the chosen view.
#[component]
pub fn Inbox() -> impl IntoView {
    let clock = use_clinic_time();
    let view_index = RwSignal::new(0usize);
    let mark_read: MarkRead = Action::new_local(|shown: &Vec<String>| {
        let ids = Some(shown.clone());
        async move {
            api::run::<api::MarkNotificationsRead>(mark_notifications_read::Variables { ids })
                .await
                .map(|_| ())
        }
    });
    let marked = mark_read.version();
    // Where the list starts: `None` for the latest conversations, else after this one.
    let before = RwSignal::new(None::<PageStart>);
    let activity = use_activity();
    let list = LocalResource::new(move || {
        marked.track();
        activity.track();
        let view = VIEWS[view_index.get()].0.clone();
        let (before, before_id) = before.get().map(|start| (start.at, start.id)).unzip();
        api::run::<api::Conversations>(conversations::Variables {
            view: Some(view),
            before,
            before_id,
        })
    });
    view! {
        <h1>"Inbox"</h1>
        <Alert message=failure_of(mark_read) />
        <fieldset class="periods">
            <legend>"Show"</legend>
            {VIEWS.iter().enumerate().map(|(index, (_, label, id))| view! {
                <label>
                    <input type="radio" name="inbox-view" data-testid=*id
                        prop:checked=move || view_index.get() == index
                        on:change=move |_| {
                            before.set(None);
                            view_index.set(index);
                        } />
                    {*label}
                </label>
            }).collect_view()}
        </fieldset>
        <AsyncView resource=list loading="Loading conversations…" let:data>
            {hand_offs(data.notifications.clone(), clock, mark_read)}
            {
                // The pager below the list: reached where the reading ends.
                let pager = older_and_newer(&data, before);
                view! { {conversation_list(data, clock)} {pager} }
            }
        </AsyncView>
        <HandOffMailChoice />
    }
}

/// Saving the member's choice of hand-off mails; the choice saved.
type SaveChoice = Action<bool, Result<bool, ApiError>>;

/// The switch itself, greyed out with the reason when no such mail can go now.
fn hand_off_mail_switch(
    mails: my_hand_off_mails::MyHandOffMailsMyHandOffMails,
    save: SaveChoice,
) -> impl IntoView {
    let unavailable = mails.unavailable_reason.is_some();
    view! {
        <label class="inline">
            <input type="checkbox" data-testid="hand-off-mails" prop:checked=mails.on
                disabled=move || unavailable || save.pending().get()
                aria-describedby=unavailable.then_some("hand-off-mails-why")
                on:change=move |ev| { save.dispatch(event_target_checked(&ev)); } />
            " "{HAND_OFF_MAIL_SWITCH}
        </label>
        {mails.unavailable_reason.map(|reason| view! {
            <p class="hint" id="hand-off-mails-why" data-testid="hand-off-mails-why">
                {format!("No such mail goes now: {reason}.")}
            </p>
        })}
    }
}

/// The member's own choice of an e-mail when the AI receptionist hands a caller to them (the mail
/// links the conversation and says nothing of the caller).
#[component]
fn HandOffMailChoice() -> impl IntoView {
    let save: SaveChoice = Action::new_local(|on: &bool| {
        let on = *on;
        async move {
            api::run::<api::SetMyHandOffMails>(set_my_hand_off_mails::Variables { on })
                .await
                .map(|data| data.set_my_hand_off_mails)
        }
    });
    let saved = save.version();
    let choice = LocalResource::new(move || {
        saved.track();
        api::run::<api::MyHandOffMails>(my_hand_off_mails::Variables)
    });
    view! {
        <Alert message=failure_of(save) />
        <AsyncView resource=choice loading="Loading your e-mail choice…" let:data>
            {hand_off_mail_switch(data.my_hand_off_mails, save)}
        </AsyncView>
        <p role="status" class="hint" data-testid="hand-off-mails-saved">
            {move || match save.value().get() {
                Some(Ok(true)) => "Saved: you get these mails.",
                Some(Ok(false)) => "Saved: you get no such mails.",
                _ => "",
            }}
        </p>
    }
}

/// How many conversations one page of the list shows (the query's `first`).
const PAGE_SIZE: usize = 50;

/// The conversation a later page of the list starts after.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PageStart {
    /// Its latest activity.
    at: String,
    id: String,
}

/// Buttons to the conversations before this page's last (when the page is full) and back to the
/// latest (on a later page).
fn older_and_newer(
    data: &conversations::ResponseData,
    before: RwSignal<Option<PageStart>>,
) -> impl IntoView + use<> {
    let older = (data.inbox.len() == PAGE_SIZE)
        .then(|| {
            data.inbox.last().map(|entry| PageStart {
                at: entry.conversation.last_message_at.clone(),
                id: entry.conversation.id.clone(),
            })
        })
        .flatten();
    paging(
        before,
        older,
        PagingWords {
            first: "Back to the latest",
            next: "Older conversations",
            next_test_id: "inbox-older",
        },
    )
}

/// Marking the hand-offs shown as seen (by their ids: one that arrived since the list loaded, or
/// beyond the first page, stays unseen).
type MarkRead = Action<Vec<String>, Result<(), ApiError>>;

/// Callers the AI handed to the team and nobody has seen yet, each linking to its conversation.
fn hand_offs(
    notes: conversations::ConversationsNotifications,
    clock: ClinicTime,
    mark_read: MarkRead,
) -> Option<impl IntoView> {
    (notes.unread > 0).then(|| {
        let shown: Vec<String> = notes.items.iter().map(|note| note.id.clone()).collect();
        let label = if i64::try_from(shown.len()).unwrap_or(i64::MAX) < notes.unread {
            format!("Mark these {} as seen", shown.len())
        } else {
            "Mark all as seen".to_owned()
        };
        view! {
            <section class="notice" data-testid="hand-offs" aria-labelledby="hand-offs-title">
                <h2 id="hand-offs-title">{format!("Handed to the team ({})", notes.unread)}</h2>
                <ul class="plain">
                    {notes.items.into_iter().map(|note| view! {
                        <li data-testid="hand-off">
                            {match note.conversation_id {
                                Some(id) => view! { <A href=format!("/inbox/{id}")>{note.text.clone()}</A> }.into_any(),
                                None => view! { <span>{note.text.clone()}</span> }.into_any(),
                            }}
                            " · "{clock.local_time(&note.created_at)}
                        </li>
                    }).collect_view()}
                </ul>
                <button type="button" data-testid="hand-offs-read" disabled=mark_read.pending()
                    on:click=move |_| { mark_read.dispatch(shown.clone()); }>
                    {label}
                </button>
            </section>
        }
    })
}

/// The view's conversations, each linking to its page with the first words of its last
/// message; or word that there are none.
fn conversation_list(data: conversations::ResponseData, clock: ClinicTime) -> AnyView {
    if data.inbox.is_empty() {
        return view! { <p data-testid="conversations">"No conversations here."</p> }.into_any();
    }
    view! {
        <ul class="conversations" data-testid="conversations">
            {data.inbox.into_iter().map(|entry| {
                let thread = entry.conversation;
                let holder = entry.assignee_name.map_or_else(
                    || "Unassigned".to_owned(),
                    |name| format!("Assigned to {name}"),
                );
                view! {
                    <li class:unread=entry.unread data-testid="conversation" data-unread=entry.unread.to_string()>
                        <p class="caller">
                            <A href=format!("/inbox/{}", thread.id) attr:data-testid="conversation-link">
                                <strong>{thread.caller_tail.clone()}</strong>
                            </A>
                            {entry.unread.then(|| view! { " "<span class="badge">"Unread"</span> })}
                            " · "{clock.local_time(&thread.last_message_at)}
                        </p>
                        {entry.preview.map(|words| view! { <p class="preview" data-testid="conversation-preview">{words}</p> })}
                        <p class="detail">
                            {holder}
                            {(thread.ai_state == Some(conversations::AiConversationState::ACTIVE) && thread.ai_paused_reason.is_none()).then_some(" · the AI answers")}
                        </p>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// Changes to a conversation.
#[derive(Clone)]
enum ThreadChange {
    Reply(reply::Variables),
    Assign(assign::Variables),
    Close(close::Variables),
    TakeOver(take_over::Variables),
}

/// Sends `change`.
async fn change_thread(change: ThreadChange) -> Result<(), ApiError> {
    match change {
        ThreadChange::Reply(variables) => api::run::<api::Reply>(variables).await.map(|_| ()),
        ThreadChange::Assign(variables) => api::run::<api::Assign>(variables).await.map(|_| ()),
        ThreadChange::Close(variables) => api::run::<api::Close>(variables).await.map(|_| ()),
        ThreadChange::TakeOver(variables) => api::run::<api::TakeOver>(variables).await.map(|_| ()),
    }
}

/// One conversation.
#[component]
pub fn Thread() -> impl IntoView {
    let clock = use_clinic_time();
    let session = use_session();
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let change: Action<ThreadChange, Result<(), ApiError>> =
        Action::new_local(|change: &ThreadChange| change_thread(change.clone()));
    let changed = change.version();
    // Not reloaded on the clinic's activity: reading a thread marks it read for the whole team (and
    // is audited), which only someone looking at it may do. When the clinic's activity changes,
    // only when the conversation last had a message is read again (its messages are not opened),
    // and a newer message than those shown is offered: "Show them" (or "Refresh") reads them.
    let thread = LocalResource::new(move || {
        changed.track();
        let id = id();
        async move { api::run::<api::Conversation>(conversation::Variables { id }).await }
    });
    // Not after the team's own changes (the thread reloads with them); the conversation's id
    // comes back with its time, so that one loading is never compared with another's messages.
    let activity = use_activity();
    let latest = LocalResource::new(move || {
        activity.track();
        let id = id();
        async move {
            let answer = api::run::<api::ConversationLatest>(conversation_latest::Variables {
                id: id.clone(),
            })
            .await
            .ok()?;
            Some((id, instant(&answer.conversation.last_message_at)?))
        }
    });
    let call_back = call_back_action();
    let draft = RwSignal::new(String::new());
    // The reply under way: the draft is cleared once it is sent (and kept if it is refused).
    let sending = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        let Some(outcome) = change.value().get() else {
            return;
        };
        if let Some(sent) = sending.get_untracked() {
            sending.set(None);
            if outcome.is_ok() && draft.get_untracked() == sent {
                draft.set(String::new());
            }
        }
    });
    let busy = move || change.pending().get();
    let my_id = move || session.member.get_untracked().map(|member| member.user.id);
    let send = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let body = draft.get_untracked();
        if body.trim().is_empty() || change.pending().get_untracked() {
            return;
        }
        sending.set(Some(body.clone()));
        change.dispatch(ThreadChange::Reply(reply::Variables { id: id(), body }));
    };
    let assign_me = move |_| {
        let member_id = session.member.get_untracked().map(|member| member.user.id);
        change.dispatch(ThreadChange::Assign(assign::Variables {
            id: id(),
            member_id,
        }));
    };
    let close_it = move |_| {
        change.dispatch(ThreadChange::Close(close::Variables { id: id() }));
    };
    let take_over_it = move |_| {
        change.dispatch(ThreadChange::TakeOver(take_over::Variables { id: id() }));
    };
    view! {
        <p><A href="/inbox">"← All conversations"</A></p>
        <Alert message=failure_of(change) test_id="inbox-error" />
        <Alert message=failure_of(call_back) />
        <RingingNotice call_back=call_back />
        <AsyncView resource=thread loading="Loading the conversation…" let:data>
            <h1>"Conversation with "{data.conversation.caller_tail}</h1>
            {thread_state(
                data.conversation.status == conversation::ConversationStatus::CLOSED,
                data.conversation.assigned_to.as_deref(),
                my_id().as_deref(),
            )}
            <div class="actions">
                {(data.conversation.assigned_to != my_id()).then(|| view! {
                    <button type="button" data-testid="assign-me" disabled=busy on:click=assign_me>"Assign to me"</button>
                })}
                {(data.conversation.status != conversation::ConversationStatus::CLOSED).then(|| view! {
                    <button type="button" data-testid="close-conversation" disabled=busy on:click=close_it>"Close"</button>
                })}
                <button type="button" data-testid="refresh-conversation" on:click=move |_| thread.refetch()>"Refresh"</button>
                {(data.conversation.ai_state != Some(conversation::AiConversationState::TAKEN_OVER)).then(|| view! {
                    <button type="button" data-testid="take-over" disabled=busy on:click=take_over_it>"Take over from the AI"</button>
                })}
                {data.conversation.call_back_call_id.clone().filter(|_| data.call_back_setup.available).map(|call_id| view! {
                    <button type="button" class="primary" data-testid="call-back"
                        disabled=move || call_back.pending().get()
                        on:click=move |_| { call_back.dispatch(call_id.clone()); }>
                        "Call back"
                    </button>
                })}
            </div>
            {newer_messages(latest, (&data.conversation.id, &data.conversation.last_message_at), thread)}
            {ai_status(data.conversation.ai_state, data.conversation.ai_paused_reason, data.conversation.ai_stopped_reason)}
            {data.conversation.intake_details.map(|details| {
                let answers = details.answers.into_iter().map(|a| (a.question, a.answer)).collect();
                intake_details(answers, details.unreadable, 2)
            })}
            // Not a live region: the whole list is drawn again on each reload, and a reader would
            // read the whole conversation out again.
            <ol class="messages" data-testid="messages">
                {messages(data.conversation.messages, clock)}
            </ol>
            {ai_steps(data.conversation.ai_steps, clock)}
            {if data.conversation.can_reply {
                view! {
                    <form class="reply" on:submit=send>
                        <label for="reply-body">"Reply"</label>
                        <textarea id="reply-body" data-testid="reply-body" rows="3" maxlength="1600"
                            prop:value=draft on:input=move |ev| draft.set(event_target_value(&ev))></textarea>
                        <button type="submit" data-testid="reply-send" disabled=busy>"Send"</button>
                    </form>
                }.into_any()
            } else {
                view! { <p>{format!("This {} keeps no caller numbers (strict privacy mode): call the caller back instead.", crate::session::place_word())}</p> }.into_any()
            }}
        </AsyncView>
    }
}

/// A notice, in a live region, while conversation `shown` (its id, and when the last message
/// shown came) has had a message since its messages were read: "Show them" reads them (and so
/// marks them read for the team).
fn newer_messages<T: 'static>(
    latest: LocalResource<Option<(String, chrono::DateTime<chrono::Utc>)>>,
    (shown_id, shown_until): (&str, &str),
    thread: LocalResource<T>,
) -> impl IntoView {
    let shown_id = shown_id.to_owned();
    let shown_until = instant(shown_until);
    let newer = move || {
        latest
            .get()
            .flatten()
            .is_some_and(|(id, at)| id == shown_id && shown_until.is_none_or(|shown| at > shown))
    };
    view! {
        <div role="status">
            <Show when=newer>
                <p class="notice" data-testid="newer-texts">
                    "New messages in this conversation. "
                    <button type="button" data-testid="show-newer-texts" on:click=move |_| thread.refetch()>
                        "Show them"
                    </button>
                </p>
            </Show>
        </div>
    }
}

/// Whether the conversation is open or closed, and who holds it (`assigned_to`, a user id; `me`,
/// the signed-in user's): "Closed" or "Open", then "assigned to you", "assigned to a teammate" or
/// "nobody holds it yet". Replying reopens a closed conversation.
fn thread_state(
    closed: bool,
    assigned_to: Option<&str>,
    me: Option<&str>,
) -> impl IntoView + use<> {
    let holder = match assigned_to {
        Some(holder) if Some(holder) == me => "assigned to you",
        Some(_) => "assigned to a teammate",
        None => "nobody holds it yet",
    };
    let said = if closed {
        format!("Closed · {holder}. A reply opens it again.")
    } else {
        format!("Open · {holder}.")
    };
    view! { <p class="hint" data-testid="conversation-state">{said}</p> }
}

/// Whether the AI answers this conversation, in words: an active one it does not answer now says
/// why (`paused`); a handed-off one says why it stopped (`reason`). A conversation the team took
/// over may be one the AI never texted in: the words hold for both.
fn ai_status(
    state: Option<conversation::AiConversationState>,
    paused: Option<String>,
    reason: Option<String>,
) -> Option<impl IntoView> {
    use conversation::AiConversationState::*;
    let said = match (state?, paused) {
        (ACTIVE, None) => "The AI receptionist answers this caller.".to_owned(),
        (ACTIVE, Some(paused)) => {
            format!("The AI receptionist answered this caller, but {paused}.")
        }
        (HANDED_OFF, _) => format!(
            "The AI handed this caller to the team: {}.",
            reason.unwrap_or_default()
        ),
        (TAKEN_OVER | Other(_), _) => {
            "The team answers this caller: the AI stays out of this conversation.".to_owned()
        }
    };
    Some(view! { <p class="hint" data-testid="ai-status">{said}</p> })
}

/// What the AI did here: each tool with its outcome (a booking links the appointments page).
fn ai_steps(
    steps: Vec<conversation::ConversationConversationAiSteps>,
    clock: ClinicTime,
) -> Option<impl IntoView> {
    (!steps.is_empty()).then(|| {
        view! {
            <details class="ai-steps" data-testid="ai-steps">
                <summary>"What the AI did"</summary>
                <ol>
                    {steps.into_iter().map(|step| view! {
                        <li data-testid="ai-step">
                            {clock.local_time(&step.at)}" · "{step.action.replace('_', " ")}": "{step.outcome}
                            {step.appointment_id.map(|_| view! { " · "<A href="/appointments">"the appointment"</A> })}
                        </li>
                    }).collect_view()}
                </ol>
            </details>
        }
    })
}

/// What the caller told the AI receptionist's intake questions (`answers`, question and answer),
/// or that the saved details could not be opened (`unreadable`), under a heading of the page's
/// `level` (a conversation's page: 2; a caller's record, where it sits in a list: 5).
pub(crate) fn intake_details(
    answers: Vec<(String, String)>,
    unreadable: bool,
    level: u8,
) -> impl IntoView {
    let title = "What the caller told the AI";
    let heading = if level <= 2 {
        view! { <h2>{title}</h2> }.into_any()
    } else {
        view! { <h5>{title}</h5> }.into_any()
    };
    view! {
        <section class="intake-details" data-testid="intake-details">
            {heading}
            {unreadable.then(|| view! {
                <p class="unreadable" data-testid="intake-unreadable">"These details could not be opened."</p>
            })}
            {(!answers.is_empty()).then(|| view! {
                <dl>
                    {answers.into_iter().map(|(question, answer)| view! {
                        <dt>{question}</dt><dd data-testid="intake-answer">{answer}</dd>
                    }).collect_view()}
                </dl>
            })}
        </section>
    }
}

/// What the dashboard shows in place of a message whose stored text could not be opened.
pub(crate) const UNREADABLE: &str = "This message could not be opened.";

/// The messages of a conversation, each with when it was sent and its delivery state.
fn messages(
    messages: Vec<conversation::ConversationConversationMessages>,
    clock: ClinicTime,
) -> impl IntoView {
    messages
        .into_iter()
        .map(|message| {
            let outbound = message.direction == conversation::MessageDirection::OUTBOUND;
            let by_ai = message.kind == conversation::MessageKind::AI;
            // Who wrote it, in words (the page shows it by side and colour only).
            let writer = match (outbound, by_ai) {
                (false, _) => "The caller wrote:",
                (true, true) => "The AI wrote:",
                (true, false) => "We wrote:",
            };
            view! {
                <li class=if outbound { "message outbound" } else { "message inbound" } data-testid="message">
                    <span class="visually-hidden">{writer}</span>
                    {if message.unreadable {
                        view! { <p class="body unreadable" data-testid="message-unreadable">{UNREADABLE}</p> }.into_any()
                    } else {
                        view! { <p class="body" data-testid="message-body">{message.body}</p> }.into_any()
                    }}
                    <p class="meta">
                        {by_ai.then(|| view! { <span class="badge" data-testid="message-by-ai">"AI"</span>" · " })}
                        {clock.local_time(&message.created_at)}" · "
                        <span data-testid="message-status">
                            {delivery_words(Some(&message.status), message.delivery_error)}
                        </span>
                    </p>
                </li>
            }
        })
        .collect_view()
}
