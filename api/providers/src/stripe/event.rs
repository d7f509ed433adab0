//! Stripe's webhook events, read only after their signature holds ([`SignedEvent::check`]): the
//! event's id (what makes a delivery idempotent), its type, and the customer and subscription it
//! concerns. Billing never applies an event's own copy of the subscription: it asks Stripe for the
//! current one, so events that arrive late, twice or out of order all end in the same state.

use serde_json::Value;

use super::signature::{self, SignatureError};

/// The events billing acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    CheckoutCompleted,
    SubscriptionCreated,
    SubscriptionUpdated,
    SubscriptionDeleted,
    InvoicePaid,
    InvoicePaymentFailed,
}

impl EventKind {
    /// The kind of Stripe event type `name`; `None` for types billing ignores.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "checkout.session.completed" => Self::CheckoutCompleted,
            "customer.subscription.created" => Self::SubscriptionCreated,
            "customer.subscription.updated" => Self::SubscriptionUpdated,
            "customer.subscription.deleted" => Self::SubscriptionDeleted,
            "invoice.paid" => Self::InvoicePaid,
            "invoice.payment_failed" => Self::InvoicePaymentFailed,
            _ => return None,
        })
    }
}

/// Why a webhook request was refused before anything was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error("the body is not a Stripe event")]
    Malformed,
}

/// An event whose signature held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedEvent {
    /// `evt_…`: a redelivery carries the same id.
    pub id: String,
    /// The event's type as Stripe names it.
    pub type_name: String,
    /// When Stripe created the event, unix seconds.
    pub created: i64,
    /// What billing does with it; `None`: nothing.
    pub kind: Option<EventKind>,
    /// The customer (`cus_…`) the event's object belongs to.
    pub customer: Option<String>,
    /// The subscription (`sub_…`) it concerns.
    pub subscription: Option<String>,
}

impl SignedEvent {
    /// Checks `header` (`Stripe-Signature`) on the raw `body` at `now` (unix seconds) with the
    /// endpoint's `secret`, then reads the event.
    pub fn check(secret: &str, header: &str, body: &[u8], now: i64) -> Result<Self, EventError> {
        signature::verify(secret, header, body, now)?;
        Self::read(body).ok_or(EventError::Malformed)
    }

    fn read(body: &[u8]) -> Option<Self> {
        let event: Value = serde_json::from_slice(body).ok()?;
        if event.get("object")?.as_str()? != "event" {
            return None;
        }
        let id = event.get("id")?.as_str()?.to_owned();
        let type_name = event.get("type")?.as_str()?.to_owned();
        let created = event.get("created")?.as_i64()?;
        let object = event.get("data")?.get("object")?;
        let kind = EventKind::parse(&type_name);
        let subscription = match kind {
            Some(
                EventKind::SubscriptionCreated
                | EventKind::SubscriptionUpdated
                | EventKind::SubscriptionDeleted,
            ) => id_of(object.get("id")),
            Some(EventKind::InvoicePaid | EventKind::InvoicePaymentFailed) => {
                // API versions since 2025 name it under the invoice's parent.
                id_of(object.get("subscription")).or_else(|| {
                    id_of(
                        object
                            .get("parent")
                            .and_then(|parent| parent.get("subscription_details"))
                            .and_then(|details| details.get("subscription")),
                    )
                })
            }
            _ => id_of(object.get("subscription")),
        };
        Some(Self {
            id,
            type_name,
            created,
            kind,
            customer: id_of(object.get("customer")),
            subscription,
        })
    }
}

/// An object's id, whether Stripe sent it as an id or expanded.
fn id_of(value: Option<&Value>) -> Option<String> {
    let value = value?;
    value
        .as_str()
        .or_else(|| value.get("id").and_then(Value::as_str))
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "whsec_0123456789abcdef";

    fn signed(body: &Value, at: i64) -> (String, Vec<u8>) {
        let body = serde_json::to_vec(body).expect("json");
        (signature::sign(SECRET, at, &body), body)
    }

    #[test]
    fn an_event_is_read_only_when_its_signature_holds() {
        let event = json!({
            "id": "evt_1", "object": "event", "type": "invoice.payment_failed", "created": 1_700_000_000,
            "data": { "object": { "object": "invoice", "customer": "cus_1",
                "parent": { "subscription_details": { "subscription": "sub_1" } } } }
        });
        let (header, body) = signed(&event, 1_700_000_000);
        let read = SignedEvent::check(SECRET, &header, &body, 1_700_000_010).expect("signed");
        assert_eq!(read.kind, Some(EventKind::InvoicePaymentFailed));
        assert_eq!(read.customer.as_deref(), Some("cus_1"));
        assert_eq!(read.subscription.as_deref(), Some("sub_1"));
        assert_eq!(
            SignedEvent::check("whsec_another_secret", &header, &body, 1_700_000_010),
            Err(EventError::Signature(SignatureError::Mismatch))
        );
        let mut tampered = body.clone();
        tampered.extend_from_slice(b" ");
        assert!(SignedEvent::check(SECRET, &header, &tampered, 1_700_000_010).is_err());
    }

    #[test]
    fn unknown_types_are_read_and_left_alone() {
        let event = json!({ "id": "evt_2", "object": "event", "type": "customer.created", "created": 1,
            "data": { "object": { "id": "cus_2", "object": "customer" } } });
        let (header, body) = signed(&event, 1_700_000_000);
        let read = SignedEvent::check(SECRET, &header, &body, 1_700_000_000).expect("signed");
        assert_eq!(read.kind, None);
        let (header, body) = signed(&json!({ "not": "an event" }), 1_700_000_000);
        assert_eq!(
            SignedEvent::check(SECRET, &header, &body, 1_700_000_000),
            Err(EventError::Malformed)
        );
    }
}
