//! Sending texts: the [`SmsProvider`] trait the outbox worker uses, and what a provider reports.
//! Provider errors carry statuses and provider codes only, never a number or a message body.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

/// A future a provider returns.
pub type ProviderFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// A text to send. Its `Debug` shows the numbers' last digits and the text's length only.
#[derive(Clone)]
pub struct OutgoingSms {
    /// The recipient, E.164.
    pub to: String,
    /// The clinic's provider number, E.164.
    pub from: String,
    pub body: String,
    /// Where the provider reports delivery.
    pub status_callback: String,
}

/// A text the provider has accepted. Its `Debug` shows the numbers' last digits and the text's
/// length only.
#[derive(Clone, PartialEq, Eq)]
pub struct SentSms {
    /// The provider's message id (Twilio's `SM…` sid).
    pub provider_id: String,
    /// The provider's status, e.g. `queued`, `sent`, `delivered`.
    pub status: String,
    pub to: String,
    pub from: String,
    pub body: String,
    pub created_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for OutgoingSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingSms")
            .field("to", &masked(&self.to))
            .field("from", &masked(&self.from))
            .field("body_chars", &self.body.chars().count())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SentSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentSms")
            .field("provider_id", &self.provider_id)
            .field("status", &self.status)
            .field("to", &masked(&self.to))
            .field("from", &masked(&self.from))
            .field("body_chars", &self.body.chars().count())
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A number as debug output may show it: its last three characters.
fn masked(number: &str) -> String {
    let tail: String = number
        .chars()
        .rev()
        .take(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("•••• {tail}")
}

/// Why a provider call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider answered and refused (4xx other than 429): retrying would not help.
    #[error("the provider refused the request (HTTP {status}{})", error_code(*.code))]
    Refused { status: u16, code: Option<i64> },
    /// The provider answered but could not serve the request now (429, 5xx).
    #[error("the provider is unavailable (HTTP {status})")]
    Unavailable { status: u16 },
    /// No answer (timeout, dropped connection): the request may or may not have been acted on.
    #[error("no answer from the provider ({0})")]
    NoAnswer(&'static str),
    /// The request never left (connection refused, DNS): nothing was acted on.
    #[error("the provider could not be reached")]
    Unreachable,
    /// The clinic has no number to send texts from (an admin must add a provider number).
    #[error("there is no provider number to send texts from: add one under Phone numbers")]
    NoSender,
    /// The provider answered with something we could not read.
    #[error("the provider's answer could not be read")]
    Unreadable,
}

/// The provider's error code as a refusal names it (", error 21610"), or nothing without one.
fn error_code(code: Option<i64>) -> String {
    code.map(|code| format!(", error {code}"))
        .unwrap_or_default()
}

/// The provider's code for a recipient who asked the carrier or the provider itself to send them
/// nothing more from this number (Twilio's 21610: they replied STOP there).
pub const RECIPIENT_UNSUBSCRIBED: i64 = 21610;

/// The provider's code for a recipient whose number cannot receive texts (Twilio's 21614: not a
/// mobile number).
pub const RECIPIENT_NOT_MOBILE: i64 = 21614;

/// The provider's code for a recipient in a country the account may not text (Twilio's 21408:
/// its geographic permissions leave that country out).
pub const RECIPIENT_COUNTRY_NOT_PERMITTED: i64 = 21408;

impl ProviderError {
    /// Whether the provider refused because the number cannot receive texts (a landline the
    /// number plan could not tell from a mobile).
    pub fn recipient_cannot_text(&self) -> bool {
        matches!(
            self,
            ProviderError::Refused {
                code: Some(RECIPIENT_NOT_MOBILE),
                ..
            }
        )
    }

    /// Whether the provider refused because its account may not text the recipient's country.
    pub fn recipient_country_not_permitted(&self) -> bool {
        matches!(
            self,
            ProviderError::Refused {
                code: Some(RECIPIENT_COUNTRY_NOT_PERMITTED),
                ..
            }
        )
    }

    /// Whether the provider refused because the recipient opted out with it: nothing will reach
    /// them from this number until they opt in again.
    pub fn recipient_opted_out(&self) -> bool {
        matches!(
            self,
            ProviderError::Refused {
                code: Some(RECIPIENT_UNSUBSCRIBED),
                ..
            }
        )
    }

    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            ProviderError::Refused { .. } | ProviderError::NoSender
        )
    }

    /// Whether the provider may have sent the text even though we saw a failure.
    pub fn may_have_sent(&self) -> bool {
        matches!(
            self,
            ProviderError::NoAnswer(_)
                | ProviderError::Unavailable { .. }
                | ProviderError::Unreadable
        )
    }
}

/// A provider that sends texts and can list what it sent.
pub trait SmsProvider: Send + Sync {
    /// Sends one text.
    fn send<'a>(&'a self, message: &'a OutgoingSms) -> ProviderFuture<'a, SentSms>;

    /// Texts sent from `from` to `to` created at or after `since`, newest first.
    fn sent_since<'a>(
        &'a self,
        to: &'a str,
        from: &'a str,
        since: DateTime<Utc>,
    ) -> ProviderFuture<'a, Vec<SentSms>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_shows_no_number_and_no_text() {
        let outgoing = OutgoingSms {
            to: "+447700900123".to_owned(),
            from: "+447700900777".to_owned(),
            body: "Sorry we missed you".to_owned(),
            status_callback: "https://clinic.test/webhooks/twilio/sms-status".to_owned(),
        };
        let sent = SentSms {
            provider_id: "SM1".to_owned(),
            status: "queued".to_owned(),
            to: outgoing.to.clone(),
            from: outgoing.from.clone(),
            body: outgoing.body.clone(),
            created_at: None,
        };
        for shown in [format!("{outgoing:?}"), format!("{sent:?}")] {
            assert!(
                !shown.contains("7700900") && !shown.contains("missed"),
                "{shown}"
            );
            assert!(shown.contains("•••• 123"), "{shown}");
        }
    }
}
