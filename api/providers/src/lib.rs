//! Outside providers, one module each, each owning its settings (parsed from the raw settings), its
//! client speaking the provider's real wire format to a configurable base URL, and, with the
//! `fakes` feature that only tests and benchmarks turn on, a small in-process fake that speaks the
//! same format, signatures included. The rest of the server talks to providers through traits
//! ([`sms::SmsProvider`], [`numbers::NumberDirectory`], [`voice::CallPlacer`]), so it does not care which one is behind them.

pub mod mail;
pub mod numbers;
pub mod sms;
pub mod stripe;
pub mod twilio;
pub mod voice;

#[cfg(feature = "fakes")]
pub mod fakes;
