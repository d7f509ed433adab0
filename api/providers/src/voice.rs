//! Calls the server places: Ringback rings a staff member's phone and, once they answer, connects
//! them to the caller (the provider fetches what to do next from `url`). The numbers travel only
//! between the server and the provider.

use crate::sms::ProviderFuture;

/// A call to place.
pub struct OutgoingCall {
    /// Whom to ring first, E.164 (the staff member's phone or the clinic's line).
    pub to: String,
    /// The number shown to them, E.164 (the clinic's provider number).
    pub from: String,
    /// Where the provider asks what to do once they answer.
    pub url: String,
    /// Where the provider reports how the call ended.
    pub status_callback: String,
}

/// A call the provider accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacedCall {
    /// The provider's id for the call (Twilio's `CallSid`).
    pub provider_id: String,
    /// The provider's status for it (`queued` at first).
    pub status: String,
}

/// Something that places calls.
pub trait CallPlacer: Send + Sync {
    /// Asks the provider to place `call`.
    fn place<'a>(&'a self, call: &'a OutgoingCall) -> ProviderFuture<'a, PlacedCall>;
}
