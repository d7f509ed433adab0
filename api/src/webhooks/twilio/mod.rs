//! Twilio webhooks. Voice: the incoming call (answered with TwiML that dials the clinic's forwarding
//! line with its ring timeout and screens whoever picks up, so voicemail counts as missed; with no
//! forwarding line the call is recorded as missed at once), the screening prompt and key press,
//! the dial outcome, call status callbacks, and the four steps of a callback Ringback placed for
//! staff (connect them to the caller, machine detection's verdict on the caller's side, the
//! dial's outcome, how their own leg ended). SMS: inbound texts,
//! with STOP/START/HELP handled by our own opt-out list, delivery reports for the texts we send,
//! and the status reports of those keywords' automated answers (which give their ids). Each
//! request is
//! checked against `X-Twilio-Signature` with the configured public URL (so it works behind a
//! TLS-terminating proxy), limited to 64 KiB, routed to its clinic by the `To` number, and
//! idempotent on `CallSid` or `MessageSid`. At a number its clinic stopped using and holds back,
//! a caller hears that the number is no longer in use and only STOP, START and HELP are kept
//! (nothing of the call or of another text); a failure on our side is retried inside the request
//! (Twilio itself does not retry these webhooks unless told to: see the README). Each webhook is
//! one [`Work`] function mounted with [`hook`]; they live with their kind: [`voice`] (calls and
//! call screening), [`callbacks`] (calls Ringback places for staff) and [`sms`].

mod callbacks;
mod sms;
mod voice;

use std::pin::Pin;

use poem::http::{HeaderMap, StatusCode};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, post};

use crate::error::DomainError;
use crate::service::click_to_call::{
    CONFIRM_HOOK, CONNECT_HOOK, MACHINE_HOOK, OUTCOME_HOOK, STATUS_HOOK,
};
use crate::state::AppState;
use ringback_core::tenant::TenantScope;
use ringback_domain::backend::Backend;
use ringback_domain::doors;
use ringback_domain::service::phone_lines::NumberHolder;
use ringback_domain::service::webhook_refusals;
use ringback_providers::twilio::WEBHOOK_PREFIX as PREFIX;
use ringback_providers::twilio::signature::SignedRequest;

pub use voice::outcome;

/// Largest webhook body accepted.
pub const MAX_BODY: usize = 64 * 1024;
/// The provider name stored on calls that come through these webhooks.
pub const PROVIDER: &str = ringback_providers::twilio::PROVIDER_NAME;

/// The routes under `/webhooks/twilio`.
pub fn routes() -> impl Endpoint {
    use OurNumber::{ByDirection, InSignedUrl, Sender};
    Route::new()
        .at(
            "/voice",
            post(hook(ByDirection, "voice", |v| {
                Box::pin(voice::answer_call(v))
            })),
        )
        .at(
            "/screen",
            post(hook(InSignedUrl, "screen", |v| {
                Box::pin(voice::screening_prompt(v))
            })),
        )
        .at(
            "/screen-accept",
            post(hook(InSignedUrl, "screen accept", |v| {
                Box::pin(voice::screening_key(v))
            })),
        )
        .at(
            "/dial-status",
            post(hook(ByDirection, "dial status", |v| {
                Box::pin(voice::record_dial_outcome(v))
            })),
        )
        .at(
            "/call-status",
            post(hook(ByDirection, "call status", |v| {
                Box::pin(voice::record_call_status(v))
            })),
        )
        .at(
            format!("/{CONNECT_HOOK}"),
            post(hook(InSignedUrl, "callback connect", |v| {
                Box::pin(callbacks::connect(v))
            })),
        )
        .at(
            format!("/{CONFIRM_HOOK}"),
            post(hook(InSignedUrl, "callback confirm", |v| {
                Box::pin(callbacks::confirmed(v))
            })),
        )
        .at(
            format!("/{OUTCOME_HOOK}"),
            post(hook(InSignedUrl, "callback outcome", |v| {
                Box::pin(callbacks::record_outcome(v))
            })),
        )
        .at(
            format!("/{MACHINE_HOOK}"),
            post(hook(InSignedUrl, "callback machine", |v| {
                Box::pin(callbacks::note_machine(v))
            })),
        )
        .at(
            format!("/{STATUS_HOOK}"),
            post(hook(InSignedUrl, "callback status", |v| {
                Box::pin(callbacks::note_end(v))
            })),
        )
        .at(
            "/sms",
            post(hook(ByDirection, "sms", |v| Box::pin(sms::receive_text(v)))),
        )
        .at(
            "/sms-status",
            post(hook(Sender, "sms status", |v| {
                Box::pin(sms::receive_delivery_report(v))
            })),
        )
        .at(
            format!("/{}", sms::ANSWER_HOOK),
            post(hook(Sender, "sms answer status", |v| {
                Box::pin(sms::receive_answer_report(v))
            })),
        )
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
    /// The placement of a callback a webhook at a URL we wrote is about (signed with it).
    url_placement: Option<String>,
    /// Which of the clinic's numbers the request names (its id): none for URLs we wrote.
    our_number: Option<uuid::Uuid>,
    /// The clinic stopped using the number the request names and holds it back: an incoming
    /// call is told so and a text is kept only when it is STOP, START or HELP; reports on what
    /// the clinic sent from it before are recorded as ever.
    number_held_back: bool,
    /// The text an automated answer answered, named in the signed query string of its status
    /// report's URL ([`sms::ANSWER_HOOK`]).
    url_text: Option<String>,
}

/// What a webhook's work returns: it borrows only its input, so it can run again.
type WorkFuture<'v, T> = Pin<Box<dyn Future<Output = Result<T, DomainError>> + Send + 'v>>;

/// A webhook's work on its verified request.
type Work = for<'v> fn(&'v Verified) -> WorkFuture<'v, Response>;

impl Verified {
    fn get(&self, name: &str) -> Option<&str> {
        self.request.get(name)
    }

    /// The call named in the signed query string of a URL we wrote.
    fn url_call(&self) -> Result<&str, DomainError> {
        self.url_call
            .as_deref()
            .ok_or_else(|| DomainError::BadUserInput("no call in the URL".to_owned()))
    }
}

/// Wakes the outbox workers when the webhook's committed transaction `queued` a job (a
/// text-back, the AI receptionist's answer); otherwise they have nothing new, and a wake-up would
/// cost each lane a claim.
fn wake_if(state: &AppState, queued: bool) {
    if queued {
        state.wake_workers();
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

/// Checks the signature, then finds the clinic by its number in the request. A bad signature on a
/// request naming one of a clinic's numbers is recorded for that clinic (see [`note_refusal`]).
async fn verify(
    state: &AppState,
    request: &Request,
    (body, started): (&[u8], std::time::Instant),
    ours: OurNumber,
    webhook: &'static str,
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
    let named_number = named_number(&params, ours);
    let Some(signed) = SignedRequest::check(token.expose(), &url, params, signature) else {
        tracing::warn!(
            path = request.uri().path(),
            "refused a Twilio webhook with a bad signature"
        );
        // A forged request counts as anyone's (the provider's far higher limit is for signed
        // ones), and only a few a minute from one address are written down.
        let address = crate::http::address_of(request);
        let limits = &state.backend.rate_limits;
        if let Err(error) = limits.request(address) {
            return Err(crate::http::limited_or_refused(&error));
        }
        if let Some(number) = named_number
            && limits.refusal_note(address).is_ok()
        {
            note_refusal(state, &number, webhook, "bad signature").await;
        }
        return Err(refuse(StatusCode::FORBIDDEN, "bad signature"));
    };
    if matches!(ours, OurNumber::InSignedUrl) {
        return signed_url_request(state, request, signed)
            .map_err(|message| refuse(StatusCode::BAD_REQUEST, message));
    }
    let clinic_number = clinic_number(&signed, ours)
        .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "no clinic number"))?;
    let lookup = Lookup {
        backend: &state.backend,
        signed: &signed,
        number: clinic_number,
    };
    let (scope, number) = with_retries(&lookup, find_clinic, started)
        .await
        .map_err(|error| {
            tracing::error!(%error, webhook, "the clinic of a Twilio webhook could not be found");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "try again")
        })?
        .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "no clinic has this number"))?;
    Ok(Verified {
        request: signed,
        scope,
        state: state.clone(),
        url_call: None,
        url_placement: None,
        our_number: Some(number.number_id),
        number_held_back: number.held_back,
        url_text: query_value(request, "text"),
    })
}

/// A verified request's clinic number, to find its clinic by.
struct Lookup<'a> {
    backend: &'a Backend,
    signed: &'a SignedRequest,
    number: &'a str,
}

/// The clinic holding the number of `lookup`, found within the same retries as a webhook's work:
/// a moment's database outage must not lose the call or the STOP any more than the work's would.
fn find_clinic<'v>(lookup: &'v Lookup<'_>) -> WorkFuture<'v, Option<(TenantScope, NumberHolder)>> {
    Box::pin(doors::signed_webhook(
        lookup.backend,
        lookup.signed,
        lookup.number,
    ))
}

/// The clinic number an unverified request names (as [`clinic_number`] reads it once verified).
fn named_number(params: &[(String, String)], ours: OurNumber) -> Option<String> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    our_number(get, ours).map(str::to_owned)
}

/// Our number among a request's parameters as `get` reads them: `From` for what the clinic sent
/// or placed, `To` for what came in; none for requests to URLs we wrote.
fn our_number<'p>(get: impl Fn(&str) -> Option<&'p str>, ours: OurNumber) -> Option<&'p str> {
    let placed_by_us = get("Direction").is_some_and(|d| d.starts_with("outbound"));
    match ours {
        OurNumber::InSignedUrl => None,
        OurNumber::Sender => get("From"),
        OurNumber::ByDirection if placed_by_us => get("From"),
        OurNumber::ByDirection => get("To"),
    }
}

/// Records for the clinic whose number a refused request names that webhook `hook` was refused
/// for `reason` (nothing from the request is kept); a failure to record is only logged.
async fn note_refusal(state: &AppState, number: &str, hook: &'static str, reason: &'static str) {
    let recorded = async {
        if let Some(scope) = doors::refused_webhook(&state.backend, number).await? {
            webhook_refusals::record(&scope, hook, reason).await?;
        }
        Ok::<(), DomainError>(())
    };
    if let Err(error) = recorded.await {
        tracing::warn!(%error, hook, "could not record a refused Twilio webhook");
    }
}

/// A signed request to a URL we wrote (call screening, placed callbacks): the clinic and the call
/// from the query string (or what is missing from it).
fn signed_url_request(
    state: &AppState,
    request: &Request,
    signed: SignedRequest,
) -> Result<Verified, &'static str> {
    let named = |name: &str| query_value(request, name);
    let clinic_id = named("clinic")
        .and_then(|id| uuid::Uuid::try_parse(&id).ok())
        .ok_or("no clinic in the URL")?;
    let call = named("call").ok_or("no call in the URL")?;
    Ok(Verified {
        scope: doors::screening_webhook(&state.backend, &signed, clinic_id),
        request: signed,
        state: state.clone(),
        url_call: Some(call),
        url_placement: named("placement"),
        our_number: None,
        number_held_back: false,
        url_text: None,
    })
}

/// The value of `name` in the query string of `request` (signed with the URL).
fn query_value(request: &Request, name: &str) -> Option<String> {
    url::form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Our number in the request.
fn clinic_number(signed: &SignedRequest, ours: OurNumber) -> Option<&str> {
    our_number(|name| signed.get(name), ours)
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

/// A parameter the webhook cannot do without.
fn required<'v>(verified: &'v Verified, name: &str) -> Result<&'v str, DomainError> {
    verified
        .get(name)
        .ok_or_else(|| DomainError::BadUserInput(format!("no {name}")))
}

/// How long a webhook may spend retrying its work after failures on our side (a database
/// hiccup), well inside Twilio's 15-second wait for an answer.
const RETRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);
/// The pause before the first retry; each later one waits twice as long.
const FIRST_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// Runs `work`, again after a failure that may pass (each run is its own transaction, and every
/// webhook is idempotent on Twilio's sid), until it succeeds, fails for good, or
/// [`RETRY_BUDGET`] since `started` (the request's arrival: finding the clinic and the work share
/// one budget) is spent. Twilio does not retry voice and messaging webhooks by default, so
/// this is what keeps a missed call or a STOP from being lost to a moment's outage.
async fn with_retries<Input: Sync, T>(
    input: &Input,
    work: for<'v> fn(&'v Input) -> WorkFuture<'v, T>,
    started: std::time::Instant,
) -> Result<T, DomainError> {
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
    let started = std::time::Instant::now();
    let Ok(body) = body.into_bytes().await else {
        return refuse(StatusCode::BAD_REQUEST, "unreadable body");
    };
    let verified = match verify(state, request, (&body, started), ours, webhook).await {
        Ok(verified) => verified,
        Err(response) => return response,
    };
    match with_retries(&verified, work, started).await {
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

/// A webhook endpoint: reads and verifies the request (its clinic found as `ours` says) and
/// answers with what `work` returns (see [`answer`]).
fn hook(ours: OurNumber, name: &'static str, work: Work) -> impl Endpoint<Output = Response> {
    poem::endpoint::make(move |mut request: Request| async move {
        let Some(state) = request.data::<AppState>().cloned() else {
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "try again");
        };
        let body = request.take_body();
        answer(&state, &request, body, ours, name, work).await
    })
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
        let now = std::time::Instant::now();
        assert_eq!(with_retries(&runs, flaky, now).await.ok(), Some(2));
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_refusal_is_not_retried() {
        let runs = AtomicUsize::new(0);
        let now = std::time::Instant::now();
        assert!(with_retries(&runs, refusing, now).await.is_err());
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
