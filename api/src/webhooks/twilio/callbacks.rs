//! Calls Ringback places for staff ("Call back"): once staff answer and press 1, dial the caller
//! from the clinic's number (with Twilio's machine detection); record the dial's outcome as the
//! callback (a machine's verdict, heard first, makes it a machine); note how staff's own leg ended.

use poem::Response;

use super::voice::{is_machine, outcome, reported_start};
use super::{Verified, escape_xml, required, twiml};
use crate::error::DomainError;
use crate::service::click_to_call::{self, CONFIRM_HOOK, MACHINE_HOOK, OUTCOME_HOOK, Placement};

/// How long Twilio's machine detection may listen before it connects staff to whoever answered
/// (its least is 3 seconds; a person who answers hears silence meanwhile).
const MACHINE_DETECTION_SECONDS: u32 = 5;

/// The placement of a callback (and its missed call) a request is about, from its signed query
/// string.
fn callback_placement(verified: &Verified) -> Result<Placement, DomainError> {
    let call_id = verified
        .url_call()
        .ok()
        .and_then(|id| uuid::Uuid::try_parse(id).ok())
        .ok_or_else(|| DomainError::BadUserInput("no call in the URL".to_owned()))?;
    // A URL written before placements had ids (a callback under way at a deploy) names none:
    // its reports still end the mark and record the outcome; it never dials.
    let id = match verified.url_placement.as_deref() {
        None => Placement::UNNAMED,
        Some(id) => uuid::Uuid::try_parse(id)
            .map_err(|_| DomainError::BadUserInput("no placement in the URL".to_owned()))?,
    };
    Ok(Placement { call_id, id })
}

/// What staff hear when the callback a request is about is no longer the one under way.
const ENDED: &str = "<Say>This call back has ended. The caller was not called.</Say><Hangup/>";

/// How long staff have to press 1 once their phone is answered.
const CONFIRM_SECONDS: u32 = 10;

/// The signed URL of callback hook `name` for `placement`.
fn hook_url(verified: &Verified, name: &str, placement: Placement) -> String {
    placement.webhook_url(
        &verified.state.public_base(),
        name,
        verified.scope.clinic_id(),
    )
}

/// A placed callback's first party answered: staff are asked to press 1 before the caller is
/// dialled. Their phone's voicemail, which picks up too and presses nothing, so never connects
/// the caller to a recorded greeting (which would count as a callback that reached them). The
/// call is now known to exist (its placer may no longer place it again as unconfirmed); a call of
/// an earlier placement (a retry was placed meanwhile) is hung up.
pub(super) async fn connect(verified: &Verified) -> Result<Response, DomainError> {
    let placement = callback_placement(verified)?;
    let txn = verified.scope.begin().await?;
    let current = click_to_call::answered(&txn, placement).await?;
    txn.commit().await?;
    if !current {
        return Ok(twiml(ENDED.to_owned()));
    }
    Ok(twiml(format!(
        "<Gather numDigits=\"1\" timeout=\"{CONFIRM_SECONDS}\" action=\"{}\" method=\"POST\">\
         <Say>Ringback call back. Press 1 to be connected to the caller.</Say></Gather>\
         <Say>No key was pressed. The caller was not called.</Say><Hangup/>",
        escape_xml(&hook_url(verified, CONFIRM_HOOK, placement))
    )))
}

/// Staff pressed a key: 1 dials the caller from the clinic's number (the caller's number appears
/// only in this answer to Twilio); any other key hangs up.
pub(super) async fn confirmed(verified: &Verified) -> Result<Response, DomainError> {
    let placement = callback_placement(verified)?;
    if verified.get("Digits") != Some("1") {
        return Ok(twiml(
            "<Say>The caller was not called.</Say><Hangup/>".to_owned(),
        ));
    }
    let txn = verified.scope.begin().await?;
    let target = click_to_call::dial_target(&txn, &verified.state.secrets, placement).await?;
    txn.commit().await?;
    let Some(target) = target else {
        return Ok(twiml(ENDED.to_owned()));
    };
    Ok(twiml(format!(
        "<Say>Connecting you to the caller.</Say><Dial callerId=\"{}\" action=\"{}\" method=\"POST\">\
         <Number machineDetection=\"Enable\" machineDetectionTimeout=\"{MACHINE_DETECTION_SECONDS}\" \
         amdStatusCallback=\"{}\" amdStatusCallbackMethod=\"POST\">{}</Number></Dial>",
        escape_xml(&target.caller_id),
        escape_xml(&hook_url(verified, OUTCOME_HOOK, placement)),
        escape_xml(&hook_url(verified, MACHINE_HOOK, placement)),
        escape_xml(&target.caller)
    )))
}

/// How the dial to the caller of a placed callback ended: recorded as the callback's outcome.
pub(super) async fn record_outcome(verified: &Verified) -> Result<Response, DomainError> {
    let placement = callback_placement(verified)?;
    let status = verified.get("DialCallStatus").unwrap_or_default();
    let Some(outcome) = outcome(status, verified.get("AnsweredBy")) else {
        return Ok(twiml(String::new()));
    };
    let call_sid = required(verified, "CallSid")?;
    let dialled_leg = verified.get("DialCallSid");
    let at = reported_start(verified, verified.state.clock.now());
    let txn = verified.scope.begin().await?;
    click_to_call::record_outcome(&txn, placement, (call_sid, dialled_leg), outcome, at).await?;
    txn.commit().await?;
    Ok(twiml(String::new()))
}

/// Machine detection's verdict on the dial to the caller (`AnsweredBy`): a machine or a fax is
/// remembered for the dial's outcome; a person, or no verdict, changes nothing.
pub(super) async fn note_machine(verified: &Verified) -> Result<Response, DomainError> {
    callback_placement(verified)?;
    if verified.get("AnsweredBy").is_some_and(is_machine) {
        let dialled_leg = required(verified, "CallSid")?;
        let txn = verified.scope.begin().await?;
        click_to_call::note_machine(&txn, dialled_leg).await?;
        txn.commit().await?;
    }
    Ok(twiml(String::new()))
}

/// How a placed callback's own call ended: the callback is no longer under way (unless another
/// placement took its place). When staff never answered (or never pressed 1), nobody dialled the
/// caller: nothing is recorded as a callback, and the log says so (without numbers).
pub(super) async fn note_end(verified: &Verified) -> Result<Response, DomainError> {
    let placement = callback_placement(verified)?;
    let call_id = placement.call_id;
    let status = verified.get("CallStatus").unwrap_or_default();
    if matches!(status, "no-answer" | "busy" | "failed" | "canceled") {
        tracing::info!(%call_id, status, "staff did not take a placed callback");
    }
    let txn = verified.scope.begin().await?;
    click_to_call::ended(&txn, placement).await?;
    txn.commit().await?;
    Ok(twiml(String::new()))
}
