//! The SMS inbox: open conversations, newest activity first; a conversation's messages with their
//! delivery states, a reply box (when the clinic keeps numbers), assignment to oneself, closing.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::{self, ApiError, assign, close, conversation, conversations, reply};
use crate::session::use_session;
use crate::time::use_clinic_time;

/// The list of open conversations.
#[component]
pub fn Inbox() -> impl IntoView {
    let clock = use_clinic_time();
    let list = LocalResource::new(|| api::run::<api::Conversations>(conversations::Variables));
    view! {
        <h1>"Inbox"</h1>
        <Transition fallback=|| view! { <p aria-busy="true">"Loading conversations…"</p> }>
            {move || {
                list.get().map(move |result| match result {
                    Ok(data) if data.conversations.is_empty() => view! { <p>"No open conversations."</p> }.into_any(),
                    Ok(data) => view! {
                        <ul class="conversations" data-testid="conversations">
                            {data.conversations.into_iter().map(|thread| view! {
                                <li>
                                    <A href=format!("/inbox/{}", thread.id) attr:data-testid="conversation-link">
                                        <strong>{thread.caller_tail.clone()}</strong>
                                    </A>
                                    " · last message "{clock.local_time(&thread.last_message_at)}
                                    {thread.assigned_to.is_some().then_some(" · assigned")}
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => crate::pages::failed(&error),
                })
            }}
        </Transition>
    }
}

/// One conversation.
#[component]
pub fn Thread() -> impl IntoView {
    let clock = use_clinic_time();
    let me = use_session()
        .member
        .get_untracked()
        .map(|member| member.user.id);
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let thread = LocalResource::new(move || {
        let id = id();
        async move { api::run::<api::Conversation>(conversation::Variables { id }).await }
    });
    let failure = RwSignal::new(None::<String>);
    let draft = RwSignal::new(String::new());
    let act = move |work: std::pin::Pin<Box<dyn Future<Output = Result<(), ApiError>>>>| {
        spawn_local(async move {
            match work.await {
                Ok(()) => {
                    failure.set(None);
                    thread.refetch();
                }
                Err(error) => failure.set(Some(error.to_string())),
            }
        });
    };
    let send = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let body = draft.get_untracked();
        if body.trim().is_empty() {
            return;
        }
        draft.set(String::new());
        let variables = reply::Variables { id: id(), body };
        act(Box::pin(async move {
            api::run::<api::Reply>(variables).await.map(|_| ())
        }));
    };
    let assign_me = move |_| {
        let variables = assign::Variables {
            id: id(),
            member_id: me.clone(),
        };
        act(Box::pin(async move {
            api::run::<api::Assign>(variables).await.map(|_| ())
        }));
    };
    let close_it = move |_| {
        let variables = close::Variables { id: id() };
        act(Box::pin(async move {
            api::run::<api::Close>(variables).await.map(|_| ())
        }));
    };
    view! {
        <p><A href="/inbox">"← All conversations"</A></p>
        {move || failure.get().map(|message| view! { <p class="error" role="alert" data-testid="inbox-error">{message}</p> })}
        <Transition fallback=|| view! { <p aria-busy="true">"Loading the conversation…"</p> }>
            {move || {
                let assign_me = assign_me.clone();
                thread.get().map(move |result| match result {
                    Ok(data) => {
                        let conversation = data.conversation;
                        let messages = conversation.messages.into_iter().map(|message| {
                            let outbound = message.direction == conversation::MessageDirection::OUTBOUND;
                            view! {
                                <li class=if outbound { "message outbound" } else { "message inbound" } data-testid="message">
                                    <p class="body" data-testid="message-body">{message.body}</p>
                                    <p class="meta">
                                        {clock.local_time(&message.created_at)}" · "
                                        <span data-testid="message-status">{message.status}</span>
                                    </p>
                                </li>
                            }
                        }).collect_view();
                        view! {
                            <h1>"Conversation with "{conversation.caller_tail}</h1>
                            <div class="actions">
                                <button type="button" data-testid="assign-me" on:click=assign_me>"Assign to me"</button>
                                <button type="button" data-testid="close-conversation" on:click=close_it>"Close"</button>
                                <button type="button" data-testid="refresh-conversation" on:click=move |_| thread.refetch()>"Refresh"</button>
                            </div>
                            <ol class="messages" data-testid="messages" aria-live="polite">{messages}</ol>
                            {if conversation.can_reply {
                                view! {
                                    <form class="reply" on:submit=send>
                                        <label for="reply-body">"Reply"</label>
                                        <textarea id="reply-body" data-testid="reply-body" rows="3" maxlength="1600"
                                            prop:value=draft on:input=move |ev| draft.set(event_target_value(&ev))></textarea>
                                        <button type="submit" data-testid="reply-send">"Send"</button>
                                    </form>
                                }.into_any()
                            } else {
                                view! { <p>"This clinic keeps no caller numbers (strict privacy mode): call the caller back instead."</p> }.into_any()
                            }}
                        }.into_any()
                    }
                    Err(error) => crate::pages::failed(&error),
                })
            }}
        </Transition>
    }
}
