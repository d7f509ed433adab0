//! The background work services owe, as typed values the outbox stores: each names itself, carries
//! ids only (the number and the text travel sealed beside it) and is written at most once per
//! clinic for its idempotency key. The worker that delivers them reads them back by type.

use ringback_core::outbox::Job;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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

    fn idempotency_key(&self) -> String {
        format!("{}:{}", Self::NAME, self.call)
    }
}

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

    fn idempotency_key(&self) -> String {
        format!("{}:{}", Self::NAME, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Rows written before the jobs were typed hold the same names, keys and payloads.
    #[test]
    fn names_keys_and_payloads_keep_their_stored_shape() {
        let call = Uuid::nil();
        let job = TextBack {
            call,
            caller_key: "v1:ab".to_owned(),
        };
        assert_eq!(job.idempotency_key(), format!("text_back:{call}"));
        assert_eq!(
            serde_json::to_value(&job).expect("json"),
            json!({ "call": call, "caller_key": "v1:ab" })
        );
        let reply = StaffReply {
            conversation: call,
            message: call,
            caller_key: "v1:cd".to_owned(),
        };
        assert_eq!(reply.idempotency_key(), format!("reply:{call}"));
        assert_eq!(
            serde_json::to_value(&reply).expect("json"),
            json!({ "conversation": call, "message": call, "caller_key": "v1:cd" })
        );
    }
}
