//! Clients for outside providers, each behind a trait so the rest of the server does not care which
//! provider it talks to; each client speaks the provider's real wire format over HTTP to a
//! configurable base URL (tests point it at an in-process fake).

pub mod sms;
pub mod twilio;
