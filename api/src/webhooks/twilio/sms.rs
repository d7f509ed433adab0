//! Messaging webhooks: inbound texts (STOP/START/HELP on our own opt-out list, anything else a
//! reply in the caller's conversation), delivery reports for the texts we send, and the status
//! reports of automated answers, which tell us their ids.

use poem::Response;

use super::{PREFIX, Verified, escape_xml, twiml, wake_if};
use crate::error::DomainError;
use crate::service::calls;
use crate::service::inbound_sms::{self, InboundSms};
use crate::service::messages::{self, DeliveryReport};
use crate::state::AppState;

/// The hook an automated answer's status reports go to, its text's id in the query string.
pub(super) const ANSWER_HOOK: &str = "sms-answer-status";

/// An inbound SMS: STOP/START/HELP keywords change the opt-out list and get one answer; anything
/// else is a reply in the caller's conversation (a recovery touch). Once per `MessageSid`. The
/// answer's status reports come to [`ANSWER_HOOK`], naming the text answered, so that Twilio's
/// copy of the answer can be deleted with it.
pub(super) async fn receive_text(verified: &Verified) -> Result<Response, DomainError> {
    Ok(match handle_sms(&verified.state, verified).await? {
        Some(reply) => {
            let sid = verified.get("MessageSid").unwrap_or_default();
            let reports = format!(
                "{}{PREFIX}/{ANSWER_HOOK}?text={}",
                verified.state.public_base(),
                url::form_urlencoded::byte_serialize(sid.as_bytes()).collect::<String>()
            );
            twiml(format!(
                "<Message statusCallback=\"{}\">{}</Message>",
                escape_xml(&reports),
                escape_xml(&reply)
            ))
        }
        None => twiml(String::new()),
    })
}

/// A status report of an automated answer: its id is kept with the text it answered.
pub(super) async fn receive_answer_report(verified: &Verified) -> Result<Response, DomainError> {
    let answer = verified
        .get("MessageSid")
        .ok_or_else(|| DomainError::BadUserInput("no MessageSid".to_owned()))?;
    let text = verified
        .url_text
        .as_deref()
        .ok_or_else(|| DomainError::BadUserInput("no text in the URL".to_owned()))?;
    let txn = verified.scope.begin().await?;
    inbound_sms::note_answer(&txn, text, answer).await?;
    let queued = txn.queued_jobs();
    txn.commit().await?;
    wake_if(&verified.state, queued);
    Ok(twiml(String::new()))
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
        provider_number_id: verified.our_number,
        to_held_back_number: verified.number_held_back,
    };
    let answer = inbound_sms::receive(&txn, &state.secrets, inbound).await?;
    // The text may have queued the AI receptionist's answer.
    let queued = txn.queued_jobs();
    txn.commit().await?;
    wake_if(state, queued);
    Ok(answer)
}

/// A delivery report for a text we sent: the message's status moves forward (never back), and a
/// text-back's call shows it. A report that overtakes the worker's record of the message is kept
/// and applied when that record is written.
pub(super) async fn receive_delivery_report(verified: &Verified) -> Result<Response, DomainError> {
    record_delivery(verified).await?;
    Ok(twiml(String::new()))
}

async fn record_delivery(verified: &Verified) -> Result<(), DomainError> {
    let sid = verified
        .get("MessageSid")
        .ok_or_else(|| DomainError::BadUserInput("no MessageSid".to_owned()))?;
    let status = verified
        .get("MessageStatus")
        .or_else(|| verified.get("SmsStatus"))
        .ok_or_else(|| DomainError::BadUserInput("no MessageStatus".to_owned()))?;
    let report = DeliveryReport {
        provider_status: status,
        error: verified.get("ErrorCode").and_then(|code| code.parse().ok()),
    };
    let txn = verified.scope.begin().await?;
    if let Some(updated) = messages::report_delivery(&txn, sid, report).await?
        && let Some(call_id) = updated.call_id
    {
        calls::set_text_back_delivery(&txn, call_id, &updated).await?;
    }
    txn.commit().await?;
    Ok(())
}
