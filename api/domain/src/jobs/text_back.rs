//! [`TextBack`]: text a missed caller back, once per missed call. When the text is sent it becomes
//! the conversation's first message (followed up once if the caller stays quiet and the clinic's
//! AI follows up) and the call's text-back status follows the provider's; when the job is given
//! up, the call says why. It is held back when billing stopped texting meanwhile, or when the
//! caller was spoken with or booked since the call.

use ringback_core::error::DomainError;
use ringback_core::outbox::Job;
use ringback_core::tenant::TenantTxn;
use ringback_entity::job_outbox;
use ringback_shared::text_back::{self, SkipReason};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::jobs::sms::{self, TextJob};
use crate::jobs::{JobContext, Receipt};
use crate::service::ai_follow_ups;
use crate::service::appointments;
use crate::service::calls;
use crate::service::clinic;
use crate::service::keys;
use crate::service::messages::{self, NewMessage, Party};

/// Text a missed caller back: one per missed call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextBack {
    /// The missed call.
    pub call: Uuid,
    /// Who called, for the opt-out check at send time.
    pub caller_key: String,
}

impl Job for TextBack {
    const NAME: &'static str = "text_back";

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::NAME, self.call))
    }
}

impl TextJob for TextBack {
    fn recipient_key(&self) -> &str {
        &self.caller_key
    }

    fn about_call(&self) -> Option<Uuid> {
        Some(self.call)
    }

    async fn sent(
        &self,
        txn: &TenantTxn,
        row: &job_outbox::Model,
        receipt: &Receipt,
        context: &JobContext,
    ) -> Result<(), DomainError> {
        let call = calls::find(txn, self.call).await?;
        let secrets = &context.backend.secrets;
        let body = match &row.body_sealed {
            Some(sealed) => {
                let key = keys::data_key(secrets, &clinic::get(txn).await?)?;
                keys::open_message(&key, txn.clinic_id(), sealed)?
            }
            None => String::new(),
        };
        let text = NewMessage {
            party: Party {
                caller_key: &call.caller_key,
                caller_tail: &call.caller_tail,
            },
            direction: messages::OUTBOUND,
            kind: messages::KIND_TEXT_BACK,
            body: &body,
            // A text an earlier attempt sent is dated when the provider took it.
            at: receipt.done_at.map_or(txn.now(), |at| at.min(txn.now())),
            provider_message_id: Some(receipt.provider_id.clone()),
            status: sms::delivery_status(receipt),
            call_id: Some(call.id),
            sealed_number: row.sealed_number.clone(),
            provider_number_id: None,
        };
        let sent = messages::record(txn, secrets, text).await?;
        let settings = clinic::get(txn).await?;
        let about = (sent.conversation_id, sent.id);
        ai_follow_ups::queue_after(txn, &settings, about, sent.created_at).await?;
        calls::set_text_back_status(txn, call.id, "sent").await
    }

    async fn not_sent(&self, txn: &TenantTxn, status: &str) -> Result<(), DomainError> {
        calls::set_text_back_status(txn, self.call, status).await
    }

    /// Billing that stopped text-backs since this one was queued (a subscription cancelled, a
    /// trial or a grace that ended while it waited for a retry) holds it back, as it would have
    /// when the call came; staff replies are not billing's to stop. So does the caller having
    /// been spoken with or booked since the missed call (they rang again and got through, staff
    /// called them back, or they were booked while the text waited for the clinic's delay or a
    /// retry): "sorry we missed you" would then be wrong; and so does a day gone by since the
    /// call ([`SEND_WITHIN`](ringback_shared::text_back::SEND_WITHIN)).
    async fn held_back(
        &self,
        txn: &TenantTxn,
        context: &JobContext,
    ) -> Result<Option<&'static str>, DomainError> {
        let billing = context.backend.billing_settings();
        if crate::service::text_back::billing_stops_texts(txn, billing).await? {
            return Ok(Some(SkipReason::Billing.status()));
        }
        let missed = calls::find(txn, self.call).await?;
        if txn.now() - missed.started_at > ringback_shared::text_back::SEND_WITHIN {
            return Ok(Some(SkipReason::TooOld.status()));
        }
        let later = calls::of_caller_after(txn, &missed).await?;
        let booked = appointments::booked_since(txn, &missed.caller_key, missed.started_at).await?;
        Ok(text_back::settled_since(&later, booked).then(|| SkipReason::SpokenWithSince.status()))
    }
}
