//! Outside providers, one module each, each owning its settings (parsed from the raw settings), its
//! client speaking the provider's real wire format to a configurable base URL, and, with the
//! `fakes` feature that only tests and benchmarks turn on, a small in-process fake that speaks the
//! same format, signatures included. The rest of the server talks to providers through traits
//! ([`sms::SmsProvider`], [`numbers::NumberDirectory`], [`voice::CallPlacer`],
//! [`records::ProviderRecords`], [`anthropic::ConversationModel`],
//! [`google::CalendarProvider`]), so it does not care which one
//! is behind them.

pub mod anthropic;
pub mod google;
pub mod mail;
pub mod numbers;
pub mod records;
pub mod sms;
pub mod stripe;
pub mod twilio;
pub mod voice;

/// A provider's API base URL from the settings: http(s) with a host (plain http is for the fakes
/// tests run), without a trailing slash.
pub(crate) fn parse_base_url(value: &str) -> Result<String, String> {
    let url = url::Url::parse(value).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("expected an http:// or https:// URL".to_owned());
    }
    Ok(value.trim_end_matches('/').to_owned())
}

#[cfg(feature = "fakes")]
pub mod fakes;
