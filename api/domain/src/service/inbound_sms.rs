//! A text a caller sent to one of the clinic's numbers: STOP/START/HELP change the opt-out list and
//! get one automated answer; anything else is a reply in the caller's conversation (a recovery
//! touch). The number is keyed and sealed on arrival, never stored in the clear. Once per provider
//! message id, so a redelivered webhook changes nothing; a redelivered keyword is answered again
//! (Twilio redelivers only when our first answer did not reach it, so the caller never had it).
//! Twilio's id of an answer, reported after it went, is kept with the keyword ([`note_answer`]).

use chrono::{DateTime, Utc};
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;
use ringback_entity::message;
use ringback_shared::keywords::{SmsKeyword, classify};
use ringback_shared::sms::with_automated_marker;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};

use crate::jobs::forget_provider_records;
use crate::service::callers::{CallerKeyer, KeyedCaller};
use crate::service::messages::{self, NewMessage, Party};
use crate::service::{ai_agent, clinic, keys, opt_outs, restrictions};

/// An inbound text as the provider reported it.
pub struct InboundSms<'a> {
    /// The provider's id for the message (idempotency).
    pub provider_id: &'a str,
    /// The sender's number as the provider wrote it.
    pub from: &'a str,
    pub text: &'a str,
    /// When it arrived, by the server's clock.
    pub at: DateTime<Utc>,
    /// Which of the clinic's numbers it was sent to, when the provider's webhook said.
    pub provider_number_id: Option<uuid::Uuid>,
    /// Whether it was sent to a number the clinic stopped using and holds back: only STOP,
    /// START and HELP are kept and answered there.
    pub to_held_back_number: bool,
}

/// Records `sms` in the transaction's clinic and returns the automated answer to send back, if the
/// text was a keyword. A text that is not one, sent to a number the clinic stopped using, is not
/// kept (nobody reads that number any more) and Twilio's copy is deleted a minute later.
pub async fn receive(
    txn: &TenantTxn,
    secrets: &Secrets,
    sms: InboundSms<'_>,
) -> Result<Option<String>, DomainError> {
    if let Some(stored) = messages::find_by_provider_id(txn, sms.provider_id).await? {
        if stored.kind != messages::KIND_KEYWORD {
            return Ok(None);
        }
        let clinic = clinic::get(txn).await?;
        return Ok(classify(sms.text).map(|keyword| answer_to(keyword, &clinic)));
    }
    let clinic = clinic::get(txn).await?;
    let caller = CallerKeyer::new(secrets, txn, &clinic.default_region)?
        .meet(txn, sms.from)
        .await?;
    let keyword = match classify(sms.text) {
        // START, UNSTOP and YES re-subscribe a caller who opted out; from anyone else "Yes" is an
        // answer to the text-back (a reply, and a recovery touch), not a keyword.
        Some(SmsKeyword::Start) if !opt_outs::is_opted_out(txn, &caller.caller_key).await? => None,
        other => other,
    };
    if sms.to_held_back_number && keyword.is_none() {
        forget_soon(txn, sms.provider_id).await?;
        return Ok(None);
    }
    // A restricted caller's keywords still work (STOP is honoured and answered), but nothing they
    // write is kept and no conversation is opened; Twilio's copy is deleted a minute later.
    if restrictions::is_restricted(txn, &caller.keys()).await? {
        forget_soon(txn, sms.provider_id).await?;
    } else {
        record_text(txn, secrets, (&clinic, &caller), &sms, keyword.is_some()).await?;
    }
    match keyword {
        Some(SmsKeyword::Stop) => opt_outs::opt_out(txn, &caller.caller_key).await?,
        Some(SmsKeyword::Start) => opt_outs::opt_in(txn, &caller.caller_key).await?,
        Some(SmsKeyword::Help) | None => {}
    }
    Ok(keyword.map(|keyword| answer_to(keyword, &clinic)))
}

/// Deletes Twilio's copy of the text with provider id `text` a minute from now (after any
/// automated answer to it went).
async fn forget_soon(txn: &TenantTxn, text: &str) -> Result<(), DomainError> {
    let after_the_answer = txn.now() + chrono::Duration::minutes(1);
    forget_provider_records::queue(txn, Vec::new(), vec![text.to_owned()], after_the_answer)
        .await?;
    Ok(())
}

/// Twilio's report on the automated answer to the keyword text whose provider id is `keyword_id`
/// (answers go out from the webhook's TwiML, so their ids come only now): the answer's id
/// `answer_id` is kept beside the keyword, and whatever deletes that text at Twilio (retention,
/// strict privacy, an erasure, the clinic's deletion) deletes its answer too. An answer to a
/// keyword not kept (a restricted caller's, one erased meanwhile) or a second answer to one
/// redelivered is deleted at Twilio a minute later. A later report of the same answer changes
/// nothing.
pub async fn note_answer(
    txn: &TenantTxn,
    keyword_id: &str,
    answer_id: &str,
) -> Result<(), DomainError> {
    let is_the_keyword = message::Column::ProviderMessageId
        .eq(keyword_id)
        .and(message::Column::Kind.eq(messages::KIND_KEYWORD));
    // Noted only where none is yet: two answers reported at once cannot both take the place.
    let noted = txn
        .update_many::<message::Entity>()
        .col_expr(message::Column::AnswerProviderId, Expr::value(answer_id))
        .filter(is_the_keyword.clone())
        .filter(message::Column::AnswerProviderId.is_null())
        .exec(txn.conn())
        .await?
        .rows_affected;
    if noted > 0 {
        return Ok(());
    }
    let already: Option<Option<String>> = txn
        .find::<message::Entity>()
        .select_only()
        .column(message::Column::AnswerProviderId)
        .filter(is_the_keyword)
        .into_tuple()
        .one(txn.conn())
        .await?;
    if already.flatten().as_deref() != Some(answer_id) {
        let after_the_answer = txn.now() + chrono::Duration::minutes(1);
        let answer = vec![answer_id.to_owned()];
        forget_provider_records::queue(txn, Vec::new(), answer, after_the_answer).await?;
    }
    Ok(())
}

/// The automated answer to `keyword` from `clinic`.
fn answer_to(keyword: SmsKeyword, clinic: &ringback_entity::clinic::Model) -> String {
    match keyword {
        SmsKeyword::Stop => with_automated_marker(&format!(
            "You will get no more texts from {}. Reply START to get them again.",
            clinic.name
        )),
        SmsKeyword::Start => with_automated_marker(&format!(
            "You will get texts from {} again. Reply STOP to stop them.",
            clinic.name
        )),
        SmsKeyword::Help => clinic::help_text(clinic),
    }
}

/// Keeps `sms` in the caller's conversation, their number sealed.
async fn record_text(
    txn: &TenantTxn,
    secrets: &Secrets,
    (clinic, caller): (&ringback_entity::clinic::Model, &KeyedCaller),
    sms: &InboundSms<'_>,
    is_keyword: bool,
) -> Result<(), DomainError> {
    let key = keys::data_key(secrets, clinic)?;
    let sealed_number = keys::seal_caller_number(&key, txn.clinic_id(), &caller.e164)?;
    let stored = messages::record(
        txn,
        secrets,
        NewMessage {
            party: Party {
                caller_key: &caller.caller_key,
                caller_tail: &caller.tail,
            },
            direction: messages::INBOUND,
            kind: if is_keyword {
                messages::KIND_KEYWORD
            } else {
                messages::KIND_REPLY
            },
            body: sms.text,
            at: sms.at,
            provider_message_id: Some(sms.provider_id.to_owned()),
            status: "received",
            call_id: None,
            provider_number_id: sms.provider_number_id,
            sealed_number: Some(sealed_number),
        },
    )
    .await?;
    if !is_keyword {
        ai_agent::queue_answer(txn, &stored).await?;
    }
    Ok(())
}
