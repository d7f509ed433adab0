//! Anthropic's Messages API: `POST /v1/messages` with the `x-api-key` and `anthropic-version`
//! headers and a JSON body ([`wire::MessagesRequest`]); the answer holds `text` and `tool_use`
//! blocks, a `stop_reason` and the tokens used. The base URL and model are settings
//! (`RINGBACK_ANTHROPIC_API_URL`, `RINGBACK_ANTHROPIC_MODEL`; the key is
//! `RINGBACK_ANTHROPIC_API_KEY`); tests point the URL at the fake in `crate::fakes::anthropic`.
//!
//! A request that meets a busy or failing API (429, 5xx, 529 overloaded) or no answer in time is
//! tried again after a backoff ([`RetryPolicy`]; the API's `retry-after` is honoured up to the
//! policy's cap); a refusal (other 4xx) is not. Errors carry statuses and the API's error type
//! only, never a prompt or a reply. The rest of the server asks through [`ConversationModel`].

pub mod wire;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use ringback_core::settings::{ConfigError, RawSettings, SecretString};

pub use wire::{
    Block, MessagesRequest, MessagesResponse, Role, StopReason, ToolChoice, ToolDefinition, Turn,
    Usage,
};

/// Anthropic's public API.
pub const DEFAULT_API_URL: &str = "https://api.anthropic.com";
/// The API version this client speaks.
pub const API_VERSION: &str = "2023-06-01";
/// The model asked unless `RINGBACK_ANTHROPIC_MODEL` names another.
pub const DEFAULT_MODEL: &str = "claude-sonnet-4-5";
/// How long one request may take (a short reply with tools takes a few seconds).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long the AI may take to answer one caller text, all its rounds and tries together, unless
/// `RINGBACK_AI_ANSWER_SECONDS` says otherwise; after that the caller gets the fallback.
pub const DEFAULT_ANSWER_WITHIN: Duration = Duration::from_secs(45);
/// The longest answer time an operator may set: a caller waiting longer has gone elsewhere, and
/// the answering job must end well inside its worker's lease (else another worker takes it over
/// and the model is asked twice; the server holds the two together at compile time).
pub const MAX_ANSWER_SECONDS: u64 = 90;
/// Longest model name accepted.
const MAX_MODEL_NAME: usize = 100;
/// Shortest API key accepted: Anthropic's are about 100 characters, and a short one is a typo.
const MIN_API_KEY_LENGTH: usize = 20;

/// Anthropic's settings: the API key (without it the AI receptionist stays off and conversations
/// fall back to staff), the base URL, the model, and how long one answer may take in all.
#[derive(Clone, Debug)]
pub struct AnthropicSettings {
    pub api_key: Option<SecretString>,
    pub api_url: String,
    pub model: String,
    pub answer_within: Duration,
}

impl AnthropicSettings {
    /// Reads Anthropic's keys from `settings`, naming any that is malformed.
    pub fn from_settings(settings: &RawSettings) -> Result<Self, ConfigError> {
        Ok(Self {
            api_key: settings.parse("anthropic_api_key", parse_api_key)?,
            api_url: settings
                .parse("anthropic_api_url", crate::parse_base_url)?
                .unwrap_or_else(|| DEFAULT_API_URL.to_owned()),
            model: settings
                .parse("anthropic_model", parse_model)?
                .unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
            answer_within: settings
                .parse("ai_answer_seconds", parse_answer_seconds)?
                .unwrap_or(DEFAULT_ANSWER_WITHIN),
        })
    }
}

fn parse_answer_seconds(value: &str) -> Result<Duration, String> {
    match value.parse::<u64>() {
        Ok(seconds @ 1..=MAX_ANSWER_SECONDS) => Ok(Duration::from_secs(seconds)),
        _ => Err(format!(
            "expected whole seconds from 1 to {MAX_ANSWER_SECONDS}"
        )),
    }
}

fn parse_api_key(value: &str) -> Result<SecretString, String> {
    if value.trim() != value || value.len() < MIN_API_KEY_LENGTH {
        return Err(format!(
            "expected an Anthropic API key: at least {MIN_API_KEY_LENGTH} characters, no surrounding spaces"
        ));
    }
    Ok(SecretString::new(value))
}

fn parse_model(value: &str) -> Result<String, String> {
    let well_formed = !value.is_empty()
        && value.len() <= MAX_MODEL_NAME
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'@'));
    if well_formed {
        Ok(value.to_owned())
    } else {
        Err("expected a model name such as claude-sonnet-4-5".to_owned())
    }
}

/// Why a request to the model failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The API answered and refused (4xx other than 429): trying again would not help.
    #[error("the model API refused the request (HTTP {status}, {kind})")]
    Refused { status: u16, kind: String },
    /// The API was busy or failing (429, 5xx, 529) on every try.
    #[error("the model API is unavailable (HTTP {status})")]
    Unavailable { status: u16 },
    /// No answer in time, on every try.
    #[error("no answer from the model API ({0})")]
    NoAnswer(&'static str),
    /// The API could not be reached.
    #[error("the model API could not be reached")]
    Unreachable,
    /// The API answered with something we could not read.
    #[error("the model API's answer could not be read")]
    Unreadable,
}

impl ModelError {
    /// Whether a later try may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, ModelError::Refused { .. } | ModelError::Unreadable)
    }
}

/// A future a model returns.
pub type ModelFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ModelError>> + Send + 'a>>;

/// A model that answers a conversation, with tools.
pub trait ConversationModel: Send + Sync {
    /// The model's next turn for `request`.
    fn complete<'a>(&'a self, request: &'a MessagesRequest) -> ModelFuture<'a, MessagesResponse>;

    /// The model requests are addressed to.
    fn model(&self) -> &str;
}

/// How often and how patiently a request is tried.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Tries in all (the first included).
    pub attempts: u32,
    /// The wait before the second try; it doubles for each later one.
    pub first_wait: Duration,
    /// Longest wait between tries, whatever `retry-after` says.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            first_wait: Duration::from_millis(500),
            max_wait: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// The wait before try number `tried + 1`, or the API's `retry_after` when it asks for less
    /// than the cap.
    fn wait(&self, tried: u32, retry_after: Option<Duration>) -> Duration {
        let doubled = self
            .first_wait
            .saturating_mul(2u32.saturating_pow(tried.saturating_sub(1)));
        retry_after.unwrap_or(doubled).min(self.max_wait)
    }
}

/// A Messages API client: one HTTP client (connections kept alive) per server.
pub struct AnthropicClient {
    http: reqwest::Client,
    url: String,
    api_key: SecretString,
    model: String,
    retry: RetryPolicy,
}

/// One try's failure, with what the API said about waiting.
struct Failed {
    error: ModelError,
    retry_after: Option<Duration>,
}

impl AnthropicClient {
    /// A client for `settings` (`None` without an API key) whose requests give up after
    /// `timeout`, tried as `retry` says.
    pub fn new(
        settings: &AnthropicSettings,
        timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<Option<Self>, ModelError> {
        let Some(api_key) = settings.api_key.clone() else {
            return Ok(None);
        };
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|_| ModelError::Unreachable)?;
        Ok(Some(Self {
            http,
            url: format!("{}/v1/messages", settings.api_url.trim_end_matches('/')),
            api_key,
            model: settings.model.clone(),
            retry,
        }))
    }

    /// Sends `request`, trying again while the failure may pass and tries remain.
    async fn send(&self, request: &MessagesRequest) -> Result<MessagesResponse, ModelError> {
        let mut tried = 0;
        loop {
            tried += 1;
            match self.try_once(request).await {
                Ok(response) => return Ok(response),
                Err(failed) if failed.error.is_retryable() && tried < self.retry.attempts => {
                    let wait = self.retry.wait(tried, failed.retry_after);
                    tracing::info!(error = %failed.error, ?wait, "model request will be tried again");
                    tokio::time::sleep(wait).await;
                }
                Err(failed) => return Err(failed.error),
            }
        }
    }

    async fn try_once(&self, request: &MessagesRequest) -> Result<MessagesResponse, Failed> {
        let sent = self
            .http
            .post(&self.url)
            .header("x-api-key", self.api_key.expose())
            .header("anthropic-version", API_VERSION)
            .json(request)
            .send()
            .await;
        let response = sent.map_err(|error| Failed {
            error: transport_error(&error),
            retry_after: None,
        })?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response.bytes().await.map_err(|error| Failed {
            error: transport_error(&error),
            retry_after: None,
        })?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|_| Failed {
                error: ModelError::Unreadable,
                retry_after: None,
            });
        }
        let status = status.as_u16();
        let error = if status == 429 || status >= 500 {
            ModelError::Unavailable { status }
        } else {
            let kind = serde_json::from_slice::<wire::ErrorBody>(&bytes)
                .map(|body| body.error.kind)
                .unwrap_or_else(|_| "unknown_error".to_owned());
            ModelError::Refused { status, kind }
        };
        Err(Failed { error, retry_after })
    }
}

fn transport_error(error: &reqwest::Error) -> ModelError {
    if error.is_connect() {
        ModelError::Unreachable
    } else if error.is_timeout() {
        ModelError::NoAnswer("timed out")
    } else {
        ModelError::NoAnswer("connection lost")
    }
}

impl ConversationModel for AnthropicClient {
    fn complete<'a>(&'a self, request: &'a MessagesRequest) -> ModelFuture<'a, MessagesResponse> {
        Box::pin(self.send(request))
    }

    fn model(&self) -> &str {
        &self.model
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_and_respect_the_cap() {
        let policy = RetryPolicy {
            attempts: 5,
            first_wait: Duration::from_millis(100),
            max_wait: Duration::from_millis(350),
        };
        assert_eq!(policy.wait(1, None), Duration::from_millis(100));
        assert_eq!(policy.wait(2, None), Duration::from_millis(200));
        assert_eq!(policy.wait(3, None), Duration::from_millis(350));
        assert_eq!(
            policy.wait(1, Some(Duration::from_secs(60))),
            Duration::from_millis(350)
        );
        assert_eq!(
            policy.wait(2, Some(Duration::from_millis(10))),
            Duration::from_millis(10)
        );
    }

    #[test]
    fn settings_name_what_is_wrong() {
        assert!(parse_api_key("short").is_err());
        assert!(parse_api_key(" sk-ant-0000000000000000000000 ").is_err());
        assert!(parse_api_key("sk-ant-0000000000000000000000").is_ok());
        assert!(parse_model("claude-sonnet-4-5").is_ok());
        assert!(parse_model("claude 4").is_err());
        assert!(parse_model("").is_err());
        assert_eq!(parse_answer_seconds("90"), Ok(Duration::from_secs(90)));
        assert!(
            parse_answer_seconds("91").is_err(),
            "beyond the job's lease"
        );
        assert!(parse_answer_seconds("0").is_err());
    }
}
