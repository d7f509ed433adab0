//! Twilio webhooks. Voice: the incoming call (answered with TwiML that dials the clinic's forwarding
//! line with its ring timeout), the dial outcome, and call status callbacks. SMS: inbound texts,
//! with STOP/START/HELP handled by our own opt-out list, and delivery reports for the texts we
//! send. Each request is
//! checked against `X-Twilio-Signature` with the configured public URL (so it works behind a
//! TLS-terminating proxy), limited to 64 KiB, routed to its clinic by the `To` number, and
//! idempotent on `CallSid` or `MessageSid`; a failure on our side is retried inside the request
//! (Twilio itself does not retry these webhooks unless told to: see the README).

use std::pin::Pin;

use chrono::{DateTime, Utc};
use poem::http::{HeaderMap, StatusCode};
use poem::web::Data;
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, handler, post};
use ringback_shared::attribution::{CallDirection, CallOutcome};

use crate::error::DomainError;
use crate::service::calls::{self, CallEvent};
use crate::service::inbound_sms::{self, InboundSms};
use crate::service::messages;
use crate::service::phone_lines::{self, IncomingCallRoute};
use crate::state::AppState;
use ringback_core::tenant::TenantScope;
use ringback_domain::doors;
use ringback_providers::twilio::WEBHOOK_PREFIX as PREFIX;
use ringback_providers::twilio::signature::SignedRequest;

/// Largest webhook body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// The provider name stored on calls that come through these webhooks.
pub const PROVIDER: &str = "twilio";

/// The routes under `/webhooks/twilio`.
pub fn routes() -> impl Endpoint {
    Route::new()
        .at("/voice", post(voice))
        .at("/dial-status", post(dial_status))
        .at("/call-status", post(call_status))
        .at("/sms", post(sms))
        .at("/sms-status", post(sms_status))
        .around(|endpoint, request| crate::http::limit_body(endpoint, request, MAX_BODY))
}

/// A verified webhook: its signed parameters, the door to its clinic, and the server's state.
struct Verified {
    request: SignedRequest,
    scope: TenantScope,
    state: AppState,
}

/// What a webhook's work returns: it borrows only its input, so it can run again.
type WorkFuture<'v, T> = Pin<Box<dyn Future<Output = Result<T, DomainError>> + Send + 'v>>;

/// A webhook's work on its verified request.
type Work = for<'v> fn(&'v Verified) -> WorkFuture<'v, Response>;

impl Verified {
    fn get(&self, name: &str) -> Option<&str> {
        self.request.get(name)
    }
}

/// Failures answered to Twilio: a status and a short plain message (no personal data).
fn refuse(status: StatusCode, message: &'static str) -> Response {
    (status, message).into_response()
}

/// Which parameter names the clinic's own number.
#[derive(Clone, Copy)]
enum OurNumber {
    /// `To` for inbound calls and texts, `From` for calls the clinic placed.
    ByDirection,
    /// `From`: delivery reports of texts the clinic sent.
    Sender,
}

/// Checks the signature, then finds the clinic by its number in the request.
async fn verify(
    state: &AppState,
    request: &Request,
    body: &[u8],
    ours: OurNumber,
) -> Result<Verified, Response> {
    let token = state
        .config
        .twilio
        .auth_token
        .as_ref()
        .ok_or_else(|| refuse(StatusCode::SERVICE_UNAVAILABLE, "Twilio is not configured"))?;
    let params: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    let url = public_url(state, request);
    let signature = signature_header(request.headers()).unwrap_or_default();
    let Some(signed) = SignedRequest::check(token.expose(), &url, params, signature) else {
        tracing::warn!(
            path = request.uri().path(),
            "refused a Twilio webhook with a bad signature"
        );
        return Err(refuse(StatusCode::FORBIDDEN, "bad signature"));
    };
    let clinic_number = clinic_number(&signed, ours)
        .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "no clinic number"))?;
    let scope = doors::signed_webhook(&state.backend, &signed, clinic_number)
        .await
        .map_err(|_| refuse(StatusCode::SERVICE_UNAVAILABLE, "try again"))?
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "no clinic has this number"))?;
    Ok(Verified {
        request: signed,
        scope,
        state: state.clone(),
    })
}

/// Our number in the request.
fn clinic_number(signed: &SignedRequest, ours: OurNumber) -> Option<&str> {
    let placed_by_us = signed
        .get("Direction")
        .is_some_and(|d| d.starts_with("outbound"));
    if placed_by_us || matches!(ours, OurNumber::Sender) {
        signed.get("From")
    } else {
        signed.get("To")
    }
}

fn signature_header(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("X-Twilio-Signature")
        .and_then(|value| value.to_str().ok())
}

/// The URL Twilio called, as configured publicly (`RINGBACK_PUBLIC_URL`), with the query string.
fn public_url(state: &AppState, request: &Request) -> String {
    let base = state.public_base();
    // Inside the nested route the path is relative to `/webhooks/twilio`.
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    format!("{base}{PREFIX}{path_and_query}")
}

fn twiml(body: String) -> Response {
    Response::builder()
        .content_type("text/xml; charset=utf-8")
        .body(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>{body}</Response>"
        ))
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An incoming call: dial the clinic's forwarding line for the ring timeout; the outcome comes
/// back to `dial-status`.
#[handler]
async fn voice(Data(state): Data<&AppState>, request: &Request, body: poem::Body) -> Response {
    let work: Work = |verified| Box::pin(dial_twiml(&verified.state, verified));
    answer(state, request, body, OurNumber::ByDirection, "voice", work).await
}

/// How long a webhook may spend retrying its work after failures on our side (a database
/// hiccup), well inside Twilio's 15-second wait for an answer.
const RETRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);
/// The pause before the first retry; each later one waits twice as long.
const FIRST_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// Runs `work`, again after a failure that may pass (each run is its own transaction, and every
/// webhook is idempotent on Twilio's sid), until it succeeds, fails for good, or
/// [`RETRY_BUDGET`] is spent. Twilio does not retry voice and messaging webhooks by default, so
/// this is what keeps a missed call or a STOP from being lost to a moment's outage.
async fn with_retries<Input: Sync, T>(
    input: &Input,
    work: for<'v> fn(&'v Input) -> WorkFuture<'v, T>,
) -> Result<T, DomainError> {
    let started = std::time::Instant::now();
    let mut pause = FIRST_RETRY_PAUSE;
    loop {
        match work(input).await {
            Err(error) if error.is_retryable() && started.elapsed() + pause < RETRY_BUDGET => {
                tracing::warn!(%error, "Twilio webhook failed; trying again");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            outcome => return outcome,
        }
    }
}

/// Reads and verifies a webhook, runs `work` (retried within [`RETRY_BUDGET`]), and answers
/// Twilio with the TwiML it returns. A request without a usable subject gets an empty answer
/// (logged; a retry would not help); a failure on our side that outlasts the retries gets 503.
async fn answer(
    state: &AppState,
    request: &Request,
    body: poem::Body,
    ours: OurNumber,
    webhook: &'static str,
    work: Work,
) -> Response {
    let Ok(body) = body.into_bytes().await else {
        return refuse(StatusCode::BAD_REQUEST, "unreadable body");
    };
    let verified = match verify(state, request, &body, ours).await {
        Ok(verified) => verified,
        Err(response) => return response,
    };
    match with_retries(&verified, work).await {
        Ok(response) => response,
        Err(DomainError::BadUserInput(reason)) => {
            tracing::warn!(%reason, webhook, "Twilio webhook without a usable subject");
            twiml(String::new())
        }
        Err(error) => {
            tracing::error!(error = %error, webhook, "Twilio webhook failed");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "try again")
        }
    }
}

async fn dial_twiml(state: &AppState, verified: &Verified) -> Result<Response, DomainError> {
    let txn = verified.scope.begin().await?;
    let route = phone_lines::route_incoming_call(&txn, &state.secrets).await?;
    txn.commit().await?;
    Ok(twiml(match route {
        IncomingCallRoute::Forward {
            line,
            ring_timeout_seconds,
        } => format!(
            "<Dial timeout=\"{ring_timeout_seconds}\" action=\"{}{PREFIX}/dial-status\" method=\"POST\"><Number>{}</Number></Dial>",
            escape_xml(&state.public_base()),
            escape_xml(&line)
        ),
        IncomingCallRoute::NoLine => {
            "<Say>Sorry, nobody can take your call right now. We will text you back.</Say>"
                .to_owned()
        }
    }))
}

/// How a dialled or status-reported call ended; `None` while it is still in progress.
pub fn outcome(status: &str, answered_by: Option<&str>) -> Option<CallOutcome> {
    if answered_by.is_some_and(|by| by.starts_with("machine") || by == "fax") {
        return Some(CallOutcome::Machine);
    }
    Some(match status {
        "completed" | "answered" => CallOutcome::Answered,
        "no-answer" => CallOutcome::NoAnswer,
        "busy" => CallOutcome::Busy,
        "failed" => CallOutcome::Failed,
        "canceled" => CallOutcome::Canceled,
        _ => return None,
    })
}

/// The outcome of the `<Dial>`: the call is recorded (missed or answered), once per `CallSid`.
#[handler]
async fn dial_status(
    Data(state): Data<&AppState>,
    request: &Request,
    body: poem::Body,
) -> Response {
    let work: Work = |verified| {
        Box::pin(async move {
            record_call(&verified.state, verified, "DialCallStatus").await?;
            Ok(twiml(String::new()))
        })
    };
    record_status(state, request, body, work).await
}

/// Call status callbacks, including calls the clinic placed (callbacks to callers).
#[handler]
async fn call_status(
    Data(state): Data<&AppState>,
    request: &Request,
    body: poem::Body,
) -> Response {
    let work: Work = |verified| {
        Box::pin(async move {
            record_call(&verified.state, verified, "CallStatus").await?;
            Ok(twiml(String::new()))
        })
    };
    record_status(state, request, body, work).await
}

async fn record_status(
    state: &AppState,
    request: &Request,
    body: poem::Body,
    work: Work,
) -> Response {
    answer(
        state,
        request,
        body,
        OurNumber::ByDirection,
        "call status",
        work,
    )
    .await
}

async fn record_call(
    state: &AppState,
    verified: &Verified,
    status_field: &str,
) -> Result<(), DomainError> {
    let status = verified.get(status_field).unwrap_or_default();
    let Some(outcome) = outcome(status, verified.get("AnsweredBy")) else {
        return Ok(());
    };
    let outbound = verified
        .get("Direction")
        .is_some_and(|d| d.starts_with("outbound"));
    let (direction, caller) = if outbound {
        (CallDirection::Outbound, verified.get("To"))
    } else {
        (CallDirection::Inbound, verified.get("From"))
    };
    let call_sid = verified
        .get("CallSid")
        .ok_or_else(|| DomainError::BadUserInput("no CallSid".to_owned()))?;
    let caller = caller.ok_or_else(|| DomainError::BadUserInput("no caller number".to_owned()))?;
    let now = state.clock.now();
    let started_at = reported_start(verified).unwrap_or(now);
    let event = CallEvent {
        external_id: call_sid.to_owned(),
        direction,
        outcome,
        started_at,
        answered_at: (outcome == CallOutcome::Answered).then_some(started_at),
        ended_at: Some(now),
        caller_number: caller.to_owned(),
    };
    let txn = verified.scope.begin().await?;
    calls::record_events(&txn, &state.secrets, PROVIDER, vec![event]).await?;
    txn.commit().await?;
    state.wake_workers();
    Ok(())
}

/// When the call started, from `Timestamp` (RFC 2822) minus `CallDuration`, when Twilio sends them.
fn reported_start(verified: &Verified) -> Option<DateTime<Utc>> {
    let at = DateTime::parse_from_rfc2822(verified.get("Timestamp")?)
        .ok()?
        .with_timezone(&Utc);
    let duration: i64 = verified
        .get("CallDuration")
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    Some(at - chrono::Duration::seconds(duration))
}

/// An inbound SMS: STOP/START/HELP keywords change the opt-out list and get one answer; anything
/// else is a reply in the caller's conversation (a recovery touch). Once per `MessageSid`.
#[handler]
async fn sms(Data(state): Data<&AppState>, request: &Request, body: poem::Body) -> Response {
    let work: Work = |verified| {
        Box::pin(async move {
            Ok(match handle_sms(&verified.state, verified).await? {
                Some(reply) => twiml(format!("<Message>{}</Message>", escape_xml(&reply))),
                None => twiml(String::new()),
            })
        })
    };
    answer(state, request, body, OurNumber::ByDirection, "sms", work).await
}

async fn handle_sms(state: &AppState, verified: &Verified) -> Result<Option<String>, DomainError> {
    let sid = verified
        .get("MessageSid")
        .ok_or_else(|| DomainError::BadUserInput("no MessageSid".to_owned()))?;
    let from = verified
        .get("From")
        .ok_or_else(|| DomainError::BadUserInput("no From".to_owned()))?;
    let text = verified.get("Body").unwrap_or_default();
    let txn = verified.scope.begin().await?;
    let inbound = InboundSms {
        provider_id: sid,
        from,
        text,
        at: state.clock.now(),
    };
    let answer = inbound_sms::receive(&txn, &state.secrets, inbound).await?;
    txn.commit().await?;
    Ok(answer)
}

/// A delivery report for a text we sent: the message's status moves forward (never back), and a
/// text-back's call shows it. A report that overtakes the worker's record of the message is kept
/// and applied when that record is written.
#[handler]
async fn sms_status(Data(state): Data<&AppState>, request: &Request, body: poem::Body) -> Response {
    let work: Work = |verified| {
        Box::pin(async move {
            record_delivery(verified).await?;
            Ok(twiml(String::new()))
        })
    };
    answer(state, request, body, OurNumber::Sender, "sms status", work).await
}

async fn record_delivery(verified: &Verified) -> Result<(), DomainError> {
    let sid = verified
        .get("MessageSid")
        .ok_or_else(|| DomainError::BadUserInput("no MessageSid".to_owned()))?;
    let status = verified
        .get("MessageStatus")
        .or_else(|| verified.get("SmsStatus"))
        .ok_or_else(|| DomainError::BadUserInput("no MessageStatus".to_owned()))?;
    let txn = verified.scope.begin().await?;
    if let Some(updated) = messages::report_delivery(&txn, sid, status).await?
        && let Some(call_id) = updated.call_id
    {
        calls::set_text_back_status(&txn, call_id, &updated.status).await?;
    }
    txn.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Fails on its first run as a database outage would, then succeeds.
    fn flaky(runs: &AtomicUsize) -> WorkFuture<'_, usize> {
        Box::pin(async move {
            let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
            if run == 1 {
                Err(DomainError::Internal("connection reset".to_owned()))
            } else {
                Ok(run)
            }
        })
    }

    /// Refuses its input every time.
    fn refusing(runs: &AtomicUsize) -> WorkFuture<'_, usize> {
        Box::pin(async move {
            runs.fetch_add(1, Ordering::SeqCst);
            Err(DomainError::BadUserInput("no CallSid".to_owned()))
        })
    }

    #[tokio::test]
    async fn a_passing_failure_is_retried_inside_the_request() {
        let runs = AtomicUsize::new(0);
        assert_eq!(with_retries(&runs, flaky).await.ok(), Some(2));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_refusal_is_not_retried() {
        let runs = AtomicUsize::new(0);
        assert!(with_retries(&runs, refusing).await.is_err());
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
