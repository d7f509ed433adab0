//! Voice webhooks: the incoming call (dialled through to the forwarding line and screened, or
//! recorded as missed when there is no line), call screening's prompt and key press, the dial's
//! outcome and call status callbacks.

use chrono::{DateTime, Utc};
use poem::Response;
use ringback_shared::attribution::{CallDirection, CallOutcome};
use ringback_shared::text_back;

use super::{PREFIX, PROVIDER, Verified, escape_xml, required, twiml, wake_if};
use crate::error::DomainError;
use crate::service::calls::{self, CallEvent};
use crate::service::phone_lines::{self, IncomingCallRoute};
use crate::service::processed_webhooks;
use crate::service::setup;
use crate::state::AppState;
use ringback_providers::twilio::webhook_url;

/// An incoming call: dial the clinic's forwarding line for the ring timeout, screening whoever
/// picks up; the outcome comes back to `dial-status`. With no forwarding line the call is recorded
/// as missed at once, and the caller is told they will be texted back, or, when no text-back was
/// queued (a withheld number, an opted-out caller, text-backs off), to call again later. At a
/// number the clinic stopped using the caller hears so, and nothing of the call is kept.
pub(super) async fn answer_call(verified: &Verified) -> Result<Response, DomainError> {
    if verified.number_held_back {
        return Ok(twiml(NOT_IN_USE.to_owned()));
    }
    let state = &verified.state;
    let call_sid = required(verified, "CallSid")?;
    let txn = verified.scope.begin().await?;
    let route = phone_lines::route_incoming_call(&txn, &state.secrets).await?;
    let mut texted_back = false;
    if route == IncomingCallRoute::NoLine {
        let event = inbound_event(state, verified, CallOutcome::NoLine)?;
        texted_back = record(&txn, state, event).await?;
    }
    let queued = txn.queued_jobs();
    txn.commit().await?;
    wake_if(state, queued);
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
        IncomingCallRoute::NoLine => missed_words(texted_back).to_owned(),
    }))
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
        provider_number_id: verified.our_number,
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
pub(super) async fn screening_prompt(verified: &Verified) -> Result<Response, DomainError> {
    let call_sid = verified.url_call()?; // the caller's CallSid
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
}

/// How long the person who answers has to press 1.
const SCREEN_SECONDS: u32 = 6;
/// The provider name under which accepted screenings are remembered, by the caller's `CallSid`.
const SCREEN_ACCEPTED: &str = "twilio-screen";

/// The key pressed during call screening: 1 accepts (remembered for the dial's outcome, and
/// the caller is put through); anything else ends the forwarded leg.
pub(super) async fn screening_key(verified: &Verified) -> Result<Response, DomainError> {
    let call_sid = verified.url_call()?; // the caller's CallSid
    if verified.get("Digits") != Some("1") {
        return Ok(twiml("<Hangup/>".to_owned()));
    }
    let txn = verified.scope.begin().await?;
    processed_webhooks::remember(&txn, SCREEN_ACCEPTED, call_sid).await?;
    txn.commit().await?;
    Ok(twiml(String::new()))
}

/// Whether machine detection's verdict (`AnsweredBy`) says a machine or a fax answered.
pub fn is_machine(answered_by: &str) -> bool {
    answered_by.starts_with("machine") || answered_by == "fax"
}

/// How a dialled or status-reported call ended; `None` while it is still in progress.
pub fn outcome(status: &str, answered_by: Option<&str>) -> Option<CallOutcome> {
    if answered_by.is_some_and(is_machine) {
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

/// The outcome of the `<Dial>`: the call is recorded (missed or answered), once per `CallSid`. A
/// caller still on the line after a missed dial hears why before the call ends: that they will be
/// texted back, or, when no text-back was queued, to call again later.
pub(super) async fn record_dial_outcome(verified: &Verified) -> Result<Response, DomainError> {
    let recorded = record_call(&verified.state, verified, "DialCallStatus").await?;
    Ok(twiml(match recorded {
        Some(Recorded {
            missed: true,
            texted_back,
        }) => missed_words(texted_back).to_owned(),
        _ => String::new(),
    }))
}

/// What a caller to a number the clinic stopped using hears.
const NOT_IN_USE: &str = "<Say>Sorry, this number is no longer in use.</Say><Hangup/>";

/// What a caller nobody answered hears: whether a text-back is on its way.
fn missed_words(texted_back: bool) -> &'static str {
    if texted_back {
        "<Say>Sorry, nobody can take your call right now. We will text you back.</Say>"
    } else {
        "<Say>Sorry, nobody can take your call right now. Please call again later.</Say>"
    }
}

/// What recording a reported call came to.
struct Recorded {
    missed: bool,
    /// Whether a text-back is on its way to the caller.
    texted_back: bool,
}

/// Call status callbacks: the end of an incoming call (recorded as call screening decided, when
/// the dial's outcome has not recorded it first) and of calls the clinic placed (callbacks to
/// callers).
pub(super) async fn record_call_status(verified: &Verified) -> Result<Response, DomainError> {
    record_call(&verified.state, verified, "CallStatus").await?;
    Ok(twiml(String::new()))
}

/// Records the call a status callback reports, once it ended; what that came to (`None` while
/// the call is still in progress, and for calls to a number the clinic stopped using, which are
/// not kept).
async fn record_call(
    state: &AppState,
    verified: &Verified,
    status_field: &str,
) -> Result<Option<Recorded>, DomainError> {
    if verified.number_held_back {
        return Ok(None);
    }
    let status = verified.get(status_field).unwrap_or_default();
    let Some(reported) = outcome(status, verified.get("AnsweredBy")) else {
        return Ok(None);
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
    let outcome = if !outbound && reported == CallOutcome::Answered {
        let report = if status_field == "DialCallStatus" {
            InboundReport::Dial
        } else {
            InboundReport::CallEnd
        };
        screening_outcome(&txn, call_sid, report).await?
    } else {
        reported
    };
    let now = state.clock.now();
    let started_at = reported_start(verified, now);
    let event = CallEvent {
        external_id: call_sid.to_owned(),
        direction,
        outcome,
        started_at,
        answered_at: (outcome == CallOutcome::Answered).then_some(started_at),
        // Twilio's clock may run a little ahead of ours: an end is never before the start.
        ended_at: Some(std::cmp::max(now, started_at)),
        caller_number: caller.to_owned(),
        provider_number_id: verified.our_number,
    };
    let missed = direction == CallDirection::Inbound && outcome.is_missed();
    let texted_back = record(&txn, state, event).await?;
    let queued = txn.queued_jobs();
    txn.commit().await?;
    wake_if(state, queued);
    Ok(Some(Recorded {
        missed,
        texted_back,
    }))
}

/// Which report of an incoming call said it was answered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum InboundReport {
    /// The `<Dial>`'s outcome: the forwarding line picked up.
    Dial,
    /// The number's status callback: the caller's own call ended. Twilio answers every incoming
    /// call to play our TwiML, so `completed` says nothing about the clinic; it may come before
    /// the dial's outcome, or alone when that never reached us.
    CallEnd,
}

/// An incoming call reported answered: answered when a person pressed 1 during call screening.
/// Otherwise the caller was never put through: on the dial's outcome voicemail (or a machine)
/// took the forwarded leg; on the call's own end, nobody took it.
async fn screening_outcome(
    txn: &ringback_core::tenant::TenantTxn,
    call_sid: &str,
    report: InboundReport,
) -> Result<CallOutcome, DomainError> {
    Ok(
        if processed_webhooks::is_known(txn, SCREEN_ACCEPTED, call_sid).await? {
            CallOutcome::Answered
        } else if report == InboundReport::Dial {
            CallOutcome::Voicemail
        } else {
            CallOutcome::NoAnswer
        },
    )
}

/// When the call reported at `now` started: on a status callback, its `Timestamp` (RFC 2822)
/// minus `CallDuration`; on a dial's outcome, which carries no timestamp, `DialCallDuration`
/// before `now` (when the dialled party answered: a booking made during the call comes after
/// it); else `now`. Durations longer than a day are not taken, and no start is later than `now`
/// (a provider's clock ahead of ours must not make the call one from the future, refused).
pub(super) fn reported_start(verified: &Verified, now: DateTime<Utc>) -> DateTime<Utc> {
    let seconds = |field: &str| {
        verified
            .get(field)
            .and_then(|value| value.parse::<i64>().ok())
            .filter(|seconds| (0..=MAX_REPORTED_SECONDS).contains(seconds))
            .map_or(chrono::Duration::zero(), chrono::Duration::seconds)
    };
    let stamped = verified
        .get("Timestamp")
        .and_then(|stamp| DateTime::parse_from_rfc2822(stamp).ok());
    match stamped {
        Some(at) => at.with_timezone(&Utc).min(now) - seconds("CallDuration"),
        None => now - seconds("DialCallDuration"),
    }
}

/// The longest call duration a report is believed: a day.
const MAX_REPORTED_SECONDS: i64 = 86_400;

/// Records a call event Twilio reported (texting the caller back within billing's limits, and
/// noting the clinic's first call for its setup); whether a text-back is on its way to the
/// caller.
async fn record(
    txn: &ringback_core::tenant::TenantTxn,
    state: &AppState,
    event: CallEvent,
) -> Result<bool, DomainError> {
    let results = calls::record_events(
        txn,
        &state.secrets,
        state.billing_settings(),
        PROVIDER,
        vec![event],
    )
    .await?;
    for (call, result) in &results {
        if let calls::EventResult::Rejected(error) = result {
            tracing::warn!(%call, %error, "a call Twilio reported was not recorded");
        }
    }
    let recorded = |(_, result): &(String, calls::EventResult)| {
        matches!(result, calls::EventResult::Recorded(_))
    };
    if results.iter().any(recorded) {
        setup::note_call_through_provider(txn).await?;
    }
    Ok(results.iter().any(|(_, result)| match result {
        calls::EventResult::Recorded(call) | calls::EventResult::Duplicate(call) => call
            .text_back_status
            .as_deref()
            .is_some_and(|status| !text_back::is_skipped(status)),
        calls::EventResult::Rejected(_) => false,
    }))
}
