//! A fake of Anthropic's Messages API. It checks what the real API checks first (the `x-api-key`
//! and `anthropic-version` headers, a JSON body with a model, `max_tokens`, turns that start with
//! the user, and tool results that answer every tool use of the turn before, first in their
//! turn), records every request
//! as sent, and plays scripted replies in order: text, a `tool_use` block with its arguments, a
//! reply cut at `max_tokens`, an error status (429 rate limited, 500, 529 overloaded, with the
//! API's error body and `retry-after`), or a stall past the client's timeout. With the script empty
//! it answers with the default reply, if one is set, else with a 500. Replies can be delayed, as
//! a model's latency would, or held back (all of them, or from a given request on) until the test
//! lets them go.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use poem::http::{HeaderMap, StatusCode};
use poem::web::Data;
use poem::{EndpointExt, IntoResponse, Response, Route, handler, post};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::anthropic::wire::{
    Block, ErrorBody, MessagesRequest, MessagesResponse, Role, StopReason, Usage,
};
use crate::anthropic::{API_VERSION, DEFAULT_MODEL};

/// A key of the right shape for the fake.
pub const API_KEY: &str = "sk-ant-fake-00000000000000000000";

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A text turn that ends the model's turn.
    Text(String),
    /// A request for tool `name` with `input` (stop reason `tool_use`).
    ToolUse { name: String, input: Value },
    /// A text cut off at `max_tokens`.
    Cut(String),
    /// An error answer with this HTTP status (429, 500, 529, 400…) and the API's error body.
    Status(u16),
    /// No answer for this long (past the client's timeout), then a 500.
    Stall(Duration),
}

impl Reply {
    /// A `tool_use` reply for `name` with `input`.
    pub fn tool(name: &str, input: Value) -> Self {
        Self::ToolUse {
            name: name.to_owned(),
            input,
        }
    }
}

struct Shared {
    api_key: String,
    script: Mutex<VecDeque<Reply>>,
    default_reply: Mutex<Option<Reply>>,
    latency: Mutex<Duration>,
    requests: Mutex<Vec<Value>>,
    arrivals: Notify,
    /// While true, answers wait (after their request is recorded) until [`FakeAnthropic::release`].
    held: Mutex<bool>,
    /// The answers to this request (counted from 1) and later ones wait too.
    held_from: Mutex<Option<usize>>,
    released: Notify,
}

/// The fake, serving on a local port until dropped.
pub struct FakeAnthropic {
    shared: Arc<Shared>,
    base_url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeAnthropic {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeAnthropic {
    /// Starts a fake that accepts `api_key` on a free local port.
    pub async fn start(api_key: &str) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            api_key: api_key.to_owned(),
            script: Mutex::new(VecDeque::new()),
            default_reply: Mutex::new(None),
            latency: Mutex::new(Duration::ZERO),
            requests: Mutex::new(Vec::new()),
            arrivals: Notify::new(),
            held: Mutex::new(false),
            held_from: Mutex::new(None),
            released: Notify::new(),
        });
        let (acceptor, base_url) = super::listen("127.0.0.1:0").await?;
        let routes = Route::new()
            .at("/v1/messages", post(create_message))
            .data(shared.clone());
        let server = super::serve(acceptor, routes);
        Ok(Self {
            shared,
            base_url,
            server,
        })
    }

    /// The base URL to configure as `RINGBACK_ANTHROPIC_API_URL`.
    pub fn api_url(&self) -> &str {
        &self.base_url
    }

    /// Queues replies, played one per request in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.shared.script).extend(replies);
    }

    /// The reply played when the script is empty (`None`: a 500).
    pub fn answer_by_default(&self, reply: Option<Reply>) {
        *lock(&self.shared.default_reply) = reply;
    }

    /// How long each answer takes, as a model's latency.
    pub fn set_latency(&self, latency: Duration) {
        *lock(&self.shared.latency) = latency;
    }

    /// Holds every answer back (each request is still recorded at once) until [`Self::release`]:
    /// a test can act while the model is thinking.
    pub fn hold(&self) {
        *lock(&self.shared.held) = true;
    }

    /// Holds back the answers to the `count`-th request (counted from 1) and every later one
    /// until [`Self::release`]: a test can act while the model thinks over a later round.
    pub fn hold_from(&self, count: usize) {
        *lock(&self.shared.held_from) = Some(count);
    }

    /// Lets the answers to the requests before the `count`-th go and holds back that one and every
    /// later one, as [`Self::hold_from`]: a test can act while the model thinks over each of
    /// several rounds in turn.
    pub fn release_until(&self, count: usize) {
        *lock(&self.shared.held) = false;
        *lock(&self.shared.held_from) = Some(count);
        self.shared.released.notify_waiters();
    }

    /// Lets the answers held back by [`Self::hold`] or [`Self::hold_from`] go, and answers at once
    /// again.
    pub fn release(&self) {
        *lock(&self.shared.held) = false;
        *lock(&self.shared.held_from) = None;
        self.shared.released.notify_waiters();
    }

    /// Every request received so far (the JSON body as sent), oldest first.
    pub fn requests(&self) -> Vec<Value> {
        lock(&self.shared.requests).clone()
    }

    /// Replies still in the script.
    pub fn unplayed(&self) -> usize {
        lock(&self.shared.script).len()
    }

    /// Waits until at least `count` requests arrived, or `timeout` passed; returns them.
    pub async fn wait_for_requests(&self, count: usize, timeout: Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.shared.arrivals.notified();
            let requests = self.requests();
            if requests.len() >= count || tokio::time::Instant::now() >= deadline {
                return requests;
            }
            let _ = tokio::time::timeout_at(deadline, arrived).await;
        }
    }
}

/// An error answer as the API writes it.
fn error(status: u16, kind: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_string(&ErrorBody::new(kind, message)).unwrap_or_default();
    let mut response = body
        .with_status(status)
        .with_content_type("application/json")
        .into_response();
    if status == StatusCode::TOO_MANY_REQUESTS || status.as_u16() == 529 {
        response
            .headers_mut()
            .insert("retry-after", poem::http::HeaderValue::from_static("0"));
    }
    response
}

/// The error kind the API gives for `status`.
fn error_kind(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

#[handler]
async fn create_message(headers: &HeaderMap, body: String, shared: Data<&Arc<Shared>>) -> Response {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if header("x-api-key") != Some(shared.api_key.as_str()) {
        return error(401, "authentication_error", "invalid x-api-key");
    }
    if header("anthropic-version") != Some(API_VERSION) {
        return error(
            400,
            "invalid_request_error",
            "anthropic-version is required",
        );
    }
    if !header("content-type").is_some_and(|value| value.starts_with("application/json")) {
        return error(400, "invalid_request_error", "expected a JSON body");
    }
    let Ok(raw) = serde_json::from_str::<Value>(&body) else {
        return error(400, "invalid_request_error", "the body is not JSON");
    };
    let request = match serde_json::from_value::<MessagesRequest>(raw.clone()) {
        Ok(request) => request,
        Err(problem) => return error(400, "invalid_request_error", &problem.to_string()),
    };
    if let Err(problem) = check(&request) {
        return error(400, "invalid_request_error", problem);
    }
    let number = {
        let mut requests = lock(&shared.requests);
        requests.push(raw);
        requests.len()
    };
    shared.arrivals.notify_waiters();
    let reply = lock(&shared.script)
        .pop_front()
        .or_else(|| lock(&shared.default_reply).clone());
    let latency = *lock(&shared.latency);
    tokio::time::sleep(latency).await;
    loop {
        let released = shared.released.notified();
        let held_from = lock(&shared.held_from).is_some_and(|from| number >= from);
        if !*lock(&shared.held) && !held_from {
            break;
        }
        released.await;
    }
    match reply {
        Some(reply) => play(reply, &request, body.len()).await,
        None => error(500, "api_error", "the fake has no scripted reply"),
    }
}

/// What the real API refuses before any model runs.
fn check(request: &MessagesRequest) -> Result<(), &'static str> {
    if request.model.is_empty() || request.max_tokens == 0 {
        return Err("model and max_tokens are required");
    }
    if request.messages.first().map(|turn| turn.role) != Some(Role::User) {
        return Err("the first turn must be the user's");
    }
    for pair in request.messages.windows(2) {
        let asked: Vec<&str> = pair[0]
            .content
            .iter()
            .filter_map(|block| match block {
                Block::ToolUse { id, .. } => Some(id.as_str()),
                _ => None,
            })
            .collect();
        let answered_unknown = pair[1].content.iter().any(|block| {
            matches!(block, Block::ToolResult { tool_use_id, .. } if !asked.contains(&tool_use_id.as_str()))
        });
        if answered_unknown {
            return Err("a tool_result must answer a tool_use of the turn before");
        }
        let results_first: Vec<&str> = pair[1]
            .content
            .iter()
            .map_while(|block| match block {
                Block::ToolResult { tool_use_id, .. } => Some(tool_use_id.as_str()),
                _ => None,
            })
            .collect();
        if asked.iter().any(|id| !results_first.contains(id)) {
            return Err("each tool_use must have its tool_result at the start of the next turn");
        }
    }
    Ok(())
}

/// Plays `reply` to `request` (`sent_bytes` long).
async fn play(reply: Reply, request: &MessagesRequest, sent_bytes: usize) -> Response {
    let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
    let (content, stop_reason) = match reply {
        Reply::Text(text) => (vec![Block::Text { text }], StopReason::EndTurn),
        Reply::Cut(text) => (vec![Block::Text { text }], StopReason::MaxTokens),
        Reply::ToolUse { name, input } => (
            vec![Block::ToolUse {
                id: format!("toolu_{}", uuid::Uuid::new_v4().simple()),
                name,
                input,
            }],
            StopReason::ToolUse,
        ),
        Reply::Status(status) => return error(status, error_kind(status), "scripted failure"),
        Reply::Stall(duration) => {
            tokio::time::sleep(duration).await;
            return error(500, "api_error", "stalled");
        }
    };
    let output_bytes: usize = content
        .iter()
        .map(|block| serde_json::to_string(block).map_or(0, |text| text.len()))
        .sum();
    let response = MessagesResponse {
        id,
        model: if request.model.is_empty() {
            DEFAULT_MODEL.to_owned()
        } else {
            request.model.clone()
        },
        content,
        stop_reason: Some(stop_reason),
        usage: Usage {
            // About four bytes a token, as the real tokenizer gives for English.
            input_tokens: (sent_bytes / 4) as u64,
            output_tokens: (output_bytes / 4) as u64,
        },
    };
    let mut body = serde_json::to_value(&response).unwrap_or_default();
    body["type"] = json!("message");
    body["role"] = json!("assistant");
    poem::web::Json(body).into_response()
}
