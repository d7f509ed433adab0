//! [`StaffReply`]: send a staff member's reply in a conversation, once per message. The message was
//! stored when it was written; sending gives it the provider's id and status, giving up marks it
//! failed or cancelled.

use ringback_core::error::DomainError;
use ringback_core::outbox::Job;
use ringback_core::tenant::{TenantTxn, in_clinic};
use ringback_entity::{conversation, job_outbox, message};
use ringback_shared::ai::state as ai_state;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::jobs::sms::{self, TextJob};
use crate::jobs::{FAILED, JobContext, Receipt};
use crate::service::{ai_tools, messages, text_back};

/// Why an AI text is not sent when billing stopped the clinic's automated texts meanwhile.
const BILLING_HELD: &str = "billing stopped the clinic's automated texts";

/// Send a staff member's reply in a conversation: one per message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffReply {
    pub conversation: Uuid,
    /// The stored outbound message.
    pub message: Uuid,
    /// Who it goes to, for the opt-out check at send time.
    pub caller_key: String,
}

impl Job for StaffReply {
    const NAME: &'static str = "reply";

    fn idempotency_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::NAME, self.message))
    }
}

impl StaffReply {
    /// The stored message, unless it has been deleted meanwhile.
    async fn stored(&self, txn: &TenantTxn) -> Result<Option<message::Model>, DomainError> {
        in_clinic::<message::Entity>(txn, self.message).await
    }
}

impl TextJob for StaffReply {
    fn recipient_key(&self) -> &str {
        &self.caller_key
    }

    async fn sent(
        &self,
        txn: &TenantTxn,
        _row: &job_outbox::Model,
        receipt: &Receipt,
        _context: &JobContext,
    ) -> Result<(), DomainError> {
        if let Some(stored) = self.stored(txn).await? {
            let status = sms::delivery_status(receipt);
            messages::set_provider_id(txn, stored, &receipt.provider_id, status).await?;
        }
        Ok(())
    }

    /// An AI receptionist's text still waiting when staff took the conversation over is not sent:
    /// staff speak for the clinic from then on (the AI checks before it stores a text, so only a
    /// take-over in the moment between its storing and its sending gets here). Nor is one when
    /// billing stopped the clinic's automated texts meanwhile (the model may think for a while,
    /// and a text may wait on retries); staff's own replies always go.
    async fn held_back(
        &self,
        txn: &TenantTxn,
        context: &JobContext,
    ) -> Result<Option<&'static str>, DomainError> {
        let Some(stored) = self.stored(txn).await? else {
            return Ok(None);
        };
        if stored.kind != messages::KIND_AI {
            return Ok(None);
        }
        if text_back::billing_stops_texts(txn, context.backend.billing_settings()).await? {
            return Ok(Some(BILLING_HELD));
        }
        let taken_over = in_clinic::<conversation::Entity>(txn, self.conversation)
            .await?
            .is_some_and(|thread| thread.ai_state.as_deref() == Some(ai_state::TAKEN_OVER));
        Ok(taken_over.then_some("staff took the conversation over"))
    }

    async fn not_sent(&self, txn: &TenantTxn, status: &str) -> Result<(), DomainError> {
        if let Some(stored) = self.stored(txn).await? {
            let shown = if status == FAILED {
                "failed"
            } else {
                "cancelled"
            };
            messages::set_status(txn, stored, shown).await?;
        }
        if status == BILLING_HELD {
            // The caller's text is answered by nobody now: it goes to staff, who are told why.
            let thread = in_clinic::<conversation::Entity>(txn, self.conversation).await?;
            if let Some(thread) =
                thread.filter(|thread| thread.ai_state.as_deref() == Some(ai_state::ACTIVE))
            {
                let reason = serde_json::json!({ "reason": BILLING_HELD });
                ai_tools::hand_off(txn, thread, &reason).await?;
            }
        }
        Ok(())
    }
}
