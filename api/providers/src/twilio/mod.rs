//! Twilio's REST API for texts: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (Basic auth
//! with the account sid and auth token, form body with `To`, `From`, `Body`, `StatusCallback`) and
//! the same path with `GET` to list messages, which resolves jobs whose outcome is in doubt; and
//! `GET …/IncomingPhoneNumbers.json?PhoneNumber=…`, which shows whether the account holds a number;
//! and `POST …/Calls.json` (`To`, `From`, `Url`, `StatusCallback`), which places a call.
//! The base URL is configurable (`RINGBACK_TWILIO_API_URL`); tests point it at the fake in
//! `crate::fakes::twilio` (the `fakes` feature). This module also owns Twilio's settings and the
//! signature its webhooks carry ([`signature`]).

pub mod signature;

use std::time::Duration;

use chrono::{DateTime, Utc};
use ringback_core::settings::{ConfigError, RawSettings, SecretString};
use serde::Deserialize;

use crate::numbers::NumberDirectory;
use crate::sms::{OutgoingSms, ProviderError, ProviderFuture, SentSms, SmsProvider};
use crate::voice::{CallPlacer, OutgoingCall, PlacedCall};

/// Twilio's public API.
pub const DEFAULT_API_URL: &str = "https://api.twilio.com";
/// How long a request may take before its outcome counts as unknown.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most list pages read when resolving a job in doubt (newest first, 50 per page).
const MAX_LIST_PAGES: usize = 4;

/// Where Twilio's webhooks reach us, below the public URL.
pub const WEBHOOK_PREFIX: &str = "/webhooks/twilio";

/// The address of webhook `hook` under `public_base`, with `query` (which Twilio's signature
/// covers, so what it names cannot be changed on the way).
pub fn webhook_url(public_base: &str, hook: &str, query: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(query)
        .finish();
    format!("{public_base}{WEBHOOK_PREFIX}/{hook}?{query}")
}

/// Twilio's settings: `RINGBACK_TWILIO_AUTH_TOKEN` (verifies webhooks), `RINGBACK_TWILIO_ACCOUNT_SID`
/// (with the token, lets the server send texts) and `RINGBACK_TWILIO_API_URL` (Twilio's own unless
/// overridden, as tests do).
#[derive(Clone, Debug)]
pub struct TwilioSettings {
    /// Signs Twilio's webhooks; without it they are refused.
    pub auth_token: Option<SecretString>,
    /// The account texts are sent from.
    pub account_sid: Option<String>,
    /// The REST API's base URL.
    pub api_url: String,
}

impl TwilioSettings {
    /// Reads Twilio's keys from `settings`, naming any that is malformed.
    pub fn from_settings(settings: &RawSettings) -> Result<Self, ConfigError> {
        Ok(Self {
            auth_token: settings.parse("twilio_auth_token", parse_auth_token)?,
            account_sid: settings.parse("twilio_account_sid", parse_account_sid)?,
            api_url: settings
                .parse("twilio_api_url", crate::parse_base_url)?
                .unwrap_or_else(|| DEFAULT_API_URL.to_owned()),
        })
    }

    /// The account to send from, when both the sid and the token are set.
    pub fn account(&self) -> Option<TwilioAccount> {
        Some(TwilioAccount {
            api_url: self.api_url.clone(),
            account_sid: self.account_sid.clone()?,
            auth_token: self.auth_token.clone()?,
        })
    }
}

/// Shortest auth token accepted: Twilio's are 32 characters, and a short or blank one would let
/// anyone forge a webhook's signature.
const MIN_AUTH_TOKEN_LENGTH: usize = 16;

fn parse_auth_token(value: &str) -> Result<SecretString, String> {
    if value.trim() != value || value.len() < MIN_AUTH_TOKEN_LENGTH {
        return Err(format!(
            "expected the account's auth token: at least {MIN_AUTH_TOKEN_LENGTH} characters, no surrounding spaces"
        ));
    }
    Ok(SecretString::new(value))
}

fn parse_account_sid(value: &str) -> Result<String, String> {
    let well_formed = value.len() == 34
        && value.starts_with("AC")
        && value[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if well_formed {
        Ok(value.to_owned())
    } else {
        Err("expected AC followed by 32 hexadecimal digits".to_owned())
    }
}

/// Who we are at Twilio.
#[derive(Clone, Debug)]
pub struct TwilioAccount {
    pub api_url: String,
    pub account_sid: String,
    pub auth_token: SecretString,
}

/// A Twilio REST client.
pub struct TwilioClient {
    account: TwilioAccount,
    http: reqwest::Client,
}

/// A message as Twilio's JSON shows it.
#[derive(Deserialize)]
struct MessageResource {
    sid: String,
    status: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    body: String,
    date_created: Option<String>,
}

impl From<MessageResource> for SentSms {
    fn from(resource: MessageResource) -> Self {
        SentSms {
            created_at: resource
                .date_created
                .as_deref()
                .and_then(|text| DateTime::parse_from_rfc2822(text).ok())
                .map(|at| at.with_timezone(&Utc)),
            provider_id: resource.sid,
            status: resource.status,
            to: resource.to,
            from: resource.from,
            body: resource.body,
        }
    }
}

#[derive(Deserialize)]
struct MessagePage {
    messages: Vec<MessageResource>,
    next_page_uri: Option<String>,
}

/// One page of the account's numbers, as Twilio's JSON shows it.
#[derive(Deserialize)]
struct IncomingNumberPage {
    incoming_phone_numbers: Vec<IncomingNumberResource>,
}

#[derive(Deserialize)]
struct IncomingNumberResource {
    phone_number: String,
}

/// A call as Twilio's JSON shows it.
#[derive(Deserialize)]
struct CallResource {
    sid: String,
    status: String,
}

#[derive(Deserialize)]
struct ErrorResource {
    code: Option<i64>,
}

impl TwilioClient {
    /// A client for `account` whose requests give up after `timeout`.
    pub fn new(account: TwilioAccount, timeout: Duration) -> Result<Self, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|_| ProviderError::Unreachable)?;
        Ok(Self { account, http })
    }

    /// The URL of the account's `resource` (e.g. `Messages.json`).
    fn account_url(&self, resource: &str) -> String {
        format!(
            "{}/2010-04-01/Accounts/{}/{resource}",
            self.account.api_url.trim_end_matches('/'),
            self.account.account_sid
        )
    }

    fn messages_url(&self) -> String {
        self.account_url("Messages.json")
    }

    /// Whether the account holds `e164`: Twilio filters its numbers by exact `PhoneNumber`.
    async fn incoming_number(&self, e164: &str) -> Result<bool, ProviderError> {
        let url = self.account_url("IncomingPhoneNumbers.json");
        let request = self.authorized(self.http.get(url).query(&[("PhoneNumber", e164)]));
        let page: IncomingNumberPage = read_json(request.send().await).await?;
        Ok(page
            .incoming_phone_numbers
            .iter()
            .any(|number| number.phone_number == e164))
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.basic_auth(
            &self.account.account_sid,
            Some(self.account.auth_token.expose()),
        )
    }

    async fn create(&self, message: &OutgoingSms) -> Result<SentSms, ProviderError> {
        let form = [
            ("To", message.to.as_str()),
            ("From", message.from.as_str()),
            ("Body", message.body.as_str()),
            ("StatusCallback", message.status_callback.as_str()),
        ];
        let request = self.authorized(self.http.post(self.messages_url()).form(&form));
        let resource: MessageResource = read_json(request.send().await).await?;
        Ok(resource.into())
    }

    async fn create_call(&self, call: &OutgoingCall) -> Result<PlacedCall, ProviderError> {
        let form = [
            ("To", call.to.as_str()),
            ("From", call.from.as_str()),
            ("Url", call.url.as_str()),
            ("Method", "POST"),
            ("StatusCallback", call.status_callback.as_str()),
            ("StatusCallbackMethod", "POST"),
        ];
        let request = self.authorized(self.http.post(self.account_url("Calls.json")).form(&form));
        let resource: CallResource = read_json(request.send().await).await?;
        Ok(PlacedCall {
            provider_id: resource.sid,
            status: resource.status,
        })
    }

    async fn list(
        &self,
        to: &str,
        from: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<SentSms>, ProviderError> {
        let mut found = Vec::new();
        let mut url = self.messages_url();
        let mut query = vec![("To", to), ("From", from), ("PageSize", "50")];
        for _ in 0..MAX_LIST_PAGES {
            let request = self.authorized(self.http.get(&url).query(&query));
            let page: MessagePage = read_json(request.send().await).await?;
            let mut reached_older = false;
            for message in page.messages.into_iter().map(SentSms::from) {
                match message.created_at {
                    Some(at) if at < since => reached_older = true,
                    _ => found.push(message),
                }
            }
            match page.next_page_uri {
                Some(next) if !reached_older => {
                    url = format!("{}{next}", self.account.api_url.trim_end_matches('/'));
                    query.clear();
                }
                _ => break,
            }
        }
        Ok(found)
    }
}

/// Reads a JSON answer, mapping every failure to a [`ProviderError`] that names no number (the
/// request URL, which may carry one in its query, is dropped from transport errors).
async fn read_json<T: serde::de::DeserializeOwned>(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, ProviderError> {
    let response = sent.map_err(|error| transport_error(&error.without_url()))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|error| transport_error(&error.without_url()))?;
    if status.is_success() {
        return serde_json::from_slice(&bytes).map_err(|_| ProviderError::Unreadable);
    }
    let code = serde_json::from_slice::<ErrorResource>(&bytes)
        .ok()
        .and_then(|error| error.code);
    Err(if status.as_u16() == 429 || status.is_server_error() {
        ProviderError::Unavailable {
            status: status.as_u16(),
        }
    } else {
        ProviderError::Refused {
            status: status.as_u16(),
            code,
        }
    })
}

fn transport_error(error: &reqwest::Error) -> ProviderError {
    if error.is_connect() {
        ProviderError::Unreachable
    } else if error.is_timeout() {
        ProviderError::NoAnswer("timed out")
    } else {
        ProviderError::NoAnswer("connection lost")
    }
}

impl SmsProvider for TwilioClient {
    fn send<'a>(&'a self, message: &'a OutgoingSms) -> ProviderFuture<'a, SentSms> {
        Box::pin(self.create(message))
    }

    fn sent_since<'a>(
        &'a self,
        to: &'a str,
        from: &'a str,
        since: DateTime<Utc>,
    ) -> ProviderFuture<'a, Vec<SentSms>> {
        Box::pin(self.list(to, from, since))
    }
}

impl NumberDirectory for TwilioClient {
    fn holds<'a>(&'a self, e164: &'a str) -> ProviderFuture<'a, bool> {
        Box::pin(self.incoming_number(e164))
    }
}

impl CallPlacer for TwilioClient {
    fn place<'a>(&'a self, call: &'a OutgoingCall) -> ProviderFuture<'a, PlacedCall> {
        Box::pin(self.create_call(call))
    }
}
