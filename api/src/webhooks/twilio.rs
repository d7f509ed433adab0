//! Twilio webhooks. Voice: the incoming call (answered with TwiML that dials the clinic's forwarding
//! line with its ring timeout and screens whoever picks up, so voicemail counts as missed; with no
//! forwarding line the call is recorded as missed at once), the screening prompt and key press,
//! the dial outcome, call status callbacks, and the three steps of a callback Ringback placed for
//! staff (connect them to the caller, the dial's outcome, how their own leg ended). SMS: inbound texts,
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
use crate::service::click_to_call::{self, CONNECT_HOOK, OUTCOME_HOOK, STATUS_HOOK};
use crate::service::inbound_sms::{self, InboundSms};
use crate::service::messages;
use crate::service::phone_lines::{self, IncomingCallRoute};
use crate::service::processed_webhooks;
use crate::state::AppState;
use ringback_core::tenant::TenantScope;
use ringback_domain::doors;
use ringback_providers::twilio::signature::SignedRequest;
use ringback_providers::twilio::{WEBHOOK_PREFIX as PREFIX, webhook_url};

/// Largest webhook body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// The provider name stored on calls that come through these webhooks.
pub const PROVIDER: &str = "twilio";

/// The routes under `/webhooks/twilio`.
pub fn routes() -> impl Endpoint {
    Route::new()
        .at("/voice", post(voice))
        .at("/screen", post(screen))
        .at("/screen-accept", post(screen_accept))
        .at(format!("/{CONNECT_HOOK}"), post(callback_connect))
        .at(format!("/{OUTCOME_HOOK}"), post(callback_outcome))
        .at(format!("/{STATUS_HOOK}"), post(callback_status))
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
    /// The call a webhook at a URL we wrote is about (from its signed query string): the
    /// caller's `CallSid` for call screening, the missed call's id for a placed callback.
    url_call: Option<String>,
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
    /// None: call screening runs on the forwarded leg, and a placed callback first rings staff,
    /// so their numbers are not the clinic's; the clinic is named in the signed query string of
    /// the URL we gave.
    InSignedUrl,
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
    if matches!(ours, OurNumber::InSignedUrl) {
        return screening_request(state, request, signed)
            .map_err(|message| refuse(StatusCode::BAD_REQUEST, message));
    }
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
        url_call: None,
    })
}

/// A signed request to a URL we wrote (call screening, placed callbacks): the clinic and the call
/// from the query string (or what is missing from it).
fn screening_request(
    state: &AppState,
    request: &Request,
    signed: SignedRequest,
) -> Result<Verified, &'static str> {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let named = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let clinic_id = named("clinic")
        .and_then(|id| uuid::Uuid::try_parse(&id).ok())
        .ok_or("no clinic in the URL")?;
    let call = named("call").ok_or("no call in the URL")?;
    Ok(Verified {
        scope: doors::screening_webhook(&state.backend, &signed, clinic_id),
        request: signed,
        state: state.clone(),
        url_call: Some(call),
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
    let call_sid = required(verified, "CallSid")?;
    let txn = verified.scope.begin().await?;
    let route = phone_lines::route_incoming_call(&txn, &state.secrets).await?;
    if route == IncomingCallRoute::NoLine {
        let event = inbound_event(state, verified, CallOutcome::NoLine)?;
        calls::record_events(&txn, &state.secrets, PROVIDER, vec![event]).await?;
    }
    txn.commit().await?;
    Ok(twiml(match route {
        IncomingCallRoute::Forward {
            line,
            ring_timeout_seconds,
        } => {
            let base = state.public_base();
            let screening = screening_url(&base, "screen", verified.scope.clinic_id(), call_sid);
            format!(
                "<Dial timeout=\"{ring_timeout_seconds}\" action=\"{}{PREFIX}/dial-status\" method=\"POST\"><Number url=\"{}\" method=\"POST\">{}</Number></Dial>",
                escape_xml(&base),
                escape_xml(&screening),
                escape_xml(&line)
            )
        }
        IncomingCallRoute::NoLine => {
            state.wake_workers();
            "<Say>Sorry, nobody can take your call right now. We will text you back.</Say>"
                .to_owned()
        }
    }))
}

/// A parameter the webhook cannot do without.
fn required<'v>(verified: &'v Verified, name: &str) -> Result<&'v str, DomainError> {
    verified
        .get(name)
        .ok_or_else(|| DomainError::BadUserInput(format!("no {name}")))
}

/// An inbound call that ended with `outcome` now, from the caller in `From`.
fn inbound_event(
    state: &AppState,
    verified: &Verified,
    outcome: CallOutcome,
) -> Result<CallEvent, DomainError> {
    let now = state.clock.now();
    Ok(CallEvent {
        external_id: required(verified, "CallSid")?.to_owned(),
        direction: CallDirection::Inbound,
        outcome,
        started_at: now,
        answered_at: None,
        ended_at: Some(now),
        caller_number: required(verified, "From")?.to_owned(),
    })
}

/// A call-screening webhook's address: the clinic and the caller's call (Twilio's `CallSid` of
/// the incoming leg) ride in the query string, which Twilio's signature covers.
fn screening_url(base: &str, hook: &str, clinic_id: uuid::Uuid, call_sid: &str) -> String {
    webhook_url(
        base,
        hook,
        &[("clinic", &clinic_id.to_string()), ("call", call_sid)],
    )
}

/// Call screening, played to whoever answers the forwarding line before the caller is put
/// through: a person presses 1 and takes the call; voicemail or an answering machine never
/// does, so the dial ends without the caller being connected and the call counts as missed.
#[handler]
async fn screen(Data(state): Data<&AppState>, request: &Request, body: poem::Body) -> Response {
    let work: Work = |verified| {
        Box::pin(async move {
            let call_sid = screened_call(verified)?;
            let accept = screening_url(
                &verified.state.public_base(),
                "screen-accept",
                verified.scope.clinic_id(),
                call_sid,
            );
            Ok(twiml(format!(
                "<Gather numDigits=\"1\" timeout=\"{SCREEN_SECONDS}\" action=\"{}\" method=\"POST\"><Say>A caller is waiting on your missed-call line. Press 1 to take the call.</Say></Gather><Hangup/>",
                escape_xml(&accept)
            )))
        })
    };
    answer(state, request, body, OurNumber::InSignedUrl, "screen", work).await
}

/// How long the person who answers has to press 1.
const SCREEN_SECONDS: u32 = 6;
/// The provider name under which accepted screenings are remembered, by the caller's `CallSid`.
const SCREEN_ACCEPTED: &str = "twilio-screen";

/// The key pressed during call screening: 1 accepts (remembered for the dial's outcome, and
/// the caller is put through); anything else ends the forwarded leg.
#[handler]
async fn screen_accept(
    Data(state): Data<&AppState>,
    request: &Request,
    body: poem::Body,
) -> Response {
    let work: Work = |verified| {
        Box::pin(async move {
            let call_sid = screened_call(verified)?;
            if verified.get("Digits") != Some("1") {
                return Ok(twiml("<Hangup/>".to_owned()));
            }
            let txn = verified.scope.begin().await?;
            processed_webhooks::remember(&txn, SCREEN_ACCEPTED, call_sid).await?;
            txn.commit().await?;
            Ok(twiml(String::new()))
        })
    };
    answer(
        state,
        request,
        body,
        OurNumber::InSignedUrl,
        "screen accept",
        work,
    )
    .await
}

/// The caller's `CallSid` a screening webhook is about, from its signed query string.
fn screened_call(verified: &Verified) -> Result<&str, DomainError> {
    verified
        .url_call
        .as_deref()
        .ok_or_else(|| DomainError::BadUserInput("no call in the URL".to_owned()))
}

/// The missed call a placed callback is about, from its signed query string.
fn callback_call(verified: &Verified) -> Result<uuid::Uuid, DomainError> {
    screened_call(verified)
        .ok()
        .and_then(|id| uuid::Uuid::try_parse(id).ok())
        .ok_or_else(|| DomainError::BadUserInput("no call in the URL".to_owned()))
}

/// A placed callback's first party (staff) answered: dial the caller from the clinic's number.
/// The caller's number appears only in this answer to Twilio.
#[handler]
async fn callback_connect(
    Data(state): Data<&AppState>,
    request: &Request,
    body: poem::Body,
) -> Response {
    let work: Work = |verified| {
        Box::pin(async move {
            let call_id = callback_call(verified)?;
            let txn = verified.scope.begin().await?;
            let target = click_to_call::dial_target(&txn, &verified.state.secrets, call_id).await?;
            txn.commit().await?;
            let outcome = webhook_url(
                &verified.state.public_base(),
                OUTCOME_HOOK,
                &[
                    ("clinic", &verified.scope.clinic_id().to_string()),
                    ("call", &call_id.to_string()),
                ],
            );
            Ok(twiml(format!(
                "<Say>Connecting you to the caller.</Say><Dial callerId=\"{}\" action=\"{}\" method=\"POST\"><Number>{}</Number></Dial>",
                escape_xml(&target.caller_id),
                escape_xml(&outcome),
                escape_xml(&target.caller)
            )))
        })
    };
    answer(
        state,
        request,
        body,
        OurNumber::InSignedUrl,
        "callback connect",
        work,
    )
    .await
}

/// How the dial to the caller of a placed callback ended: recorded as the callback's outcome.
#[handler]
async fn callback_outcome(
    Data(state): Data<&AppState>,
    request: &Request,
    body: poem::Body,
) -> Response {
    let work: Work = |verified| {
        Box::pin(async move {
            let call_id = callback_call(verified)?;
            let status = verified.get("DialCallStatus").unwrap_or_default();
            let Some(outcome) = outcome(status, verified.get("AnsweredBy")) else {
                return Ok(twiml(String::new()));
            };
            let call_sid = required(verified, "CallSid")?;
            let at = reported_start(verified).unwrap_or_else(|| verified.state.clock.now());
            let txn = verified.scope.begin().await?;
            click_to_call::record_outcome(&txn, call_id, call_sid, outcome, at).await?;
            txn.commit().await?;
            Ok(twiml(String::new()))
        })
    };
    answer(
        state,
        request,
        body,
        OurNumber::InSignedUrl,
        "callback outcome",
        work,
    )
    .await
}

/// How a placed callback's own call ended. When staff never answered, nobody dialled the caller:
/// nothing is recorded as a callback, and the log says so (without numbers).
#[handler]
async fn callback_status(
    Data(state): Data<&AppState>,
    request: &Request,
    body: poem::Body,
) -> Response {
    let work: Work = |verified| {
        Box::pin(async move {
            let call_id = callback_call(verified)?;
            let status = verified.get("CallStatus").unwrap_or_default();
            if matches!(status, "no-answer" | "busy" | "failed" | "canceled") {
                tracing::info!(%call_id, status, "staff did not take a placed callback");
            }
            Ok(twiml(String::new()))
        })
    };
    answer(
        state,
        request,
        body,
        OurNumber::InSignedUrl,
        "callback status",
        work,
    )
    .await
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
    let Some(reported) = outcome(status, verified.get("AnsweredBy")) else {
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
    let call_sid = required(verified, "CallSid")?;
    let caller = caller.ok_or_else(|| DomainError::BadUserInput("no caller number".to_owned()))?;
    let txn = verified.scope.begin().await?;
    let screened_dial = status_field == "DialCallStatus" && !outbound;
    let outcome = if screened_dial && reported == CallOutcome::Answered {
        screening_outcome(&txn, call_sid).await?
    } else {
        reported
    };
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
    calls::record_events(&txn, &state.secrets, PROVIDER, vec![event]).await?;
    txn.commit().await?;
    state.wake_workers();
    Ok(())
}

/// A forwarded call the forwarding line picked up: answered when a person pressed 1 during
/// call screening, otherwise voicemail (or a machine) took it, and the caller was never put
/// through.
async fn screening_outcome(
    txn: &ringback_core::tenant::TenantTxn,
    call_sid: &str,
) -> Result<CallOutcome, DomainError> {
    Ok(
        if processed_webhooks::is_known(txn, SCREEN_ACCEPTED, call_sid).await? {
            CallOutcome::Answered
        } else {
            CallOutcome::Voicemail
        },
    )
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
