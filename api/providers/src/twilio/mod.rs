//! Twilio's REST API for texts: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (Basic auth
//! with the account sid and auth token, form body with `To`, `From`, `Body`, `StatusCallback`) and
//! the same path with `GET` to list messages, which resolves jobs whose outcome is in doubt; and
//! `GET …/IncomingPhoneNumbers.json?PhoneNumber=…`, which shows whether the account holds a number
//! (and without the filter lists them all); `GET …/AvailablePhoneNumbers/{Country}/{Mobile|Local}.json`,
//! which finds numbers to buy; `POST …/IncomingPhoneNumbers.json` (`PhoneNumber`, `VoiceUrl`,
//! `StatusCallback`, `SmsUrl`), which buys one and points it here in the same request, `POST` and
//! `DELETE` on `…/IncomingPhoneNumbers/{Sid}.json`, which re-point and release one; and
//! `POST …/Calls.json` (`To`, `From`, `Url`, `StatusCallback`), which places a call;
//! `DELETE …/Calls/{Sid}.json` and `DELETE …/Messages/{Sid}.json`, which delete Twilio's record of a
//! call or a text (a call's legs found first with `GET …/Calls.json?ParentCallSid=…`).
//! The base URL is configurable (`RINGBACK_TWILIO_API_URL`); tests point it at the fake in
//! `crate::fakes::twilio` (the `fakes` feature). This module also owns Twilio's settings and the
//! signature its webhooks carry ([`signature`]).

pub mod signature;

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use ringback_core::settings::{ConfigError, RawSettings, SecretString};
use serde::Deserialize;

use crate::numbers::{AvailableNumber, NumberDirectory, NumberHooks, NumberSearch, OwnedNumber};
use crate::records::{HeldRecords, MAX_LISTED, ProviderRecords, is_record_id};
use crate::sms::{OutgoingSms, ProviderError, ProviderFuture, SentSms, SmsProvider};
use crate::voice::{CallPlacer, OutgoingCall, PlacedCall};

/// Twilio's public API.
pub const DEFAULT_API_URL: &str = "https://api.twilio.com";
/// How long a request may take before its outcome counts as unknown.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a call placed for staff rings their phone before Twilio gives up (its default is 60
/// seconds, past most phones' own voicemail).
const PLACED_CALL_RING_SECONDS: &str = "30";
/// Most list pages read when resolving a job in doubt (newest first, 50 per page).
const MAX_LIST_PAGES: usize = 4;
/// Most pages of the account's own numbers read (1,000 a page).
const MAX_NUMBER_PAGES: usize = 5;
/// Most pages of a call's legs read before it is deleted (50 a page).
const MAX_LEG_PAGES: usize = 5;
/// Records a page of a search by numbers holds.
const RECORDS_PAGE_SIZE: usize = 100;

/// The provider name stored on calls that came through Twilio's webhooks.
pub const PROVIDER_NAME: &str = "twilio";

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
    #[serde(default)]
    next_page_uri: Option<String>,
}

/// One of the account's numbers, as Twilio's JSON shows it.
#[derive(Deserialize)]
struct IncomingNumberResource {
    #[serde(default)]
    sid: String,
    phone_number: String,
    #[serde(default)]
    voice_url: Option<String>,
    #[serde(default)]
    sms_url: Option<String>,
    #[serde(default)]
    capabilities: Option<NumberCapabilities>,
}

/// What a number can do, as Twilio's JSON shows it.
#[derive(Deserialize)]
struct NumberCapabilities {
    #[serde(default)]
    sms: bool,
}

impl From<IncomingNumberResource> for OwnedNumber {
    /// A number whose capabilities are not shown is taken to text (Twilio always shows them).
    fn from(resource: IncomingNumberResource) -> Self {
        let set = |url: Option<String>| url.filter(|url| !url.is_empty());
        OwnedNumber {
            sid: resource.sid,
            e164: resource.phone_number,
            voice_url: set(resource.voice_url),
            sms_url: set(resource.sms_url),
            can_text: resource.capabilities.is_none_or(|can| can.sms),
        }
    }
}

/// A page of numbers to buy, as Twilio's JSON shows it.
#[derive(Deserialize)]
struct AvailableNumberPage {
    available_phone_numbers: Vec<AvailableNumberResource>,
}

#[derive(Deserialize)]
struct AvailableNumberResource {
    phone_number: String,
    #[serde(default)]
    locality: Option<String>,
    #[serde(default)]
    address_requirements: Option<String>,
}

impl From<AvailableNumberResource> for AvailableNumber {
    fn from(resource: AvailableNumberResource) -> Self {
        AvailableNumber {
            e164: resource.phone_number,
            locality: resource.locality.filter(|place| !place.is_empty()),
            address_required: resource
                .address_requirements
                .is_some_and(|needs| needs != "none"),
        }
    }
}

/// The form fields that point a number at `hooks` (every request POSTed).
fn hook_fields(hooks: &NumberHooks) -> [(&'static str, &str); 6] {
    [
        ("VoiceUrl", hooks.voice_url.as_str()),
        ("VoiceMethod", "POST"),
        ("StatusCallback", hooks.status_callback.as_str()),
        ("StatusCallbackMethod", "POST"),
        ("SmsUrl", hooks.sms_url.as_str()),
        ("SmsMethod", "POST"),
    ]
}

/// A call as Twilio's JSON shows it.
#[derive(Deserialize)]
struct CallResource {
    sid: String,
    status: String,
}

/// One page of the account's calls or texts, as Twilio's JSON shows it, read for the ids only.
#[derive(Deserialize)]
struct RecordPage {
    #[serde(default)]
    calls: Vec<RecordResource>,
    #[serde(default)]
    messages: Vec<RecordResource>,
    next_page_uri: Option<String>,
}

/// A call or text in a list, for its id and when it was made.
#[derive(Deserialize)]
struct RecordResource {
    sid: String,
    /// RFC 2822, as Twilio writes its dates.
    #[serde(default)]
    date_created: Option<String>,
}

impl RecordResource {
    /// Whether the record was made at `since` or later (or cannot say when it was made), to the
    /// second: Twilio's dates have no fractions.
    fn made_since(&self, since: DateTime<Utc>) -> bool {
        self.date_created
            .as_deref()
            .and_then(|text| DateTime::parse_from_rfc2822(text).ok())
            .is_none_or(|made| made >= since.trunc_subsecs(0))
    }
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
    async fn incoming_number(&self, e164: &str) -> Result<Option<String>, ProviderError> {
        let url = self.account_url("IncomingPhoneNumbers.json");
        let request = self.authorized(self.http.get(url).query(&[("PhoneNumber", e164)]));
        let page: IncomingNumberPage = read_json(request.send().await).await?;
        Ok(page
            .incoming_phone_numbers
            .into_iter()
            .find(|number| number.phone_number == e164)
            .map(|number| number.sid))
    }

    async fn search_available(
        &self,
        search: &NumberSearch,
    ) -> Result<Vec<AvailableNumber>, ProviderError> {
        let url = self.account_url(&format!(
            "AvailablePhoneNumbers/{}/{}.json",
            search.country,
            search.kind.as_path()
        ));
        let mut query = vec![
            ("SmsEnabled", "true"),
            ("VoiceEnabled", "true"),
            ("PageSize", "20"),
        ];
        if let Some(area_code) = &search.area_code {
            query.push(("AreaCode", area_code));
        }
        if let Some(contains) = &search.contains {
            query.push(("Contains", contains));
        }
        if let Some(locality) = &search.locality {
            query.push(("InLocality", locality));
        }
        let request = self.authorized(self.http.get(url).query(&query));
        let page: AvailableNumberPage = read_json(request.send().await).await?;
        Ok(page
            .available_phone_numbers
            .into_iter()
            .map(AvailableNumber::from)
            .collect())
    }

    async fn buy_number(
        &self,
        e164: &str,
        hooks: &NumberHooks,
    ) -> Result<OwnedNumber, ProviderError> {
        let mut form = vec![("PhoneNumber", e164)];
        form.extend(hook_fields(hooks));
        let url = self.account_url("IncomingPhoneNumbers.json");
        let request = self.authorized(self.http.post(url).form(&form));
        let resource: IncomingNumberResource = read_json(request.send().await).await?;
        Ok(resource.into())
    }

    async fn owned_numbers(&self) -> Result<Vec<OwnedNumber>, ProviderError> {
        let mut found = Vec::new();
        let mut url = self.account_url("IncomingPhoneNumbers.json");
        let mut query = vec![("PageSize", "1000")];
        for _ in 0..MAX_NUMBER_PAGES {
            let request = self.authorized(self.http.get(&url).query(&query));
            let page: IncomingNumberPage = read_json(request.send().await).await?;
            found.extend(
                page.incoming_phone_numbers
                    .into_iter()
                    .map(OwnedNumber::from),
            );
            match page.next_page_uri {
                Some(next) => {
                    url = format!("{}{next}", self.account.api_url.trim_end_matches('/'));
                    query.clear();
                }
                None => break,
            }
        }
        Ok(found)
    }

    /// The URL of the account's number `sid`, which must look like one (`PN` and hex digits).
    fn number_url(&self, sid: &str) -> Result<String, ProviderError> {
        let well_formed = sid.len() == 34
            && sid.starts_with("PN")
            && sid[2..].bytes().all(|b| b.is_ascii_hexdigit());
        if !well_formed {
            return Err(ProviderError::Refused {
                status: 404,
                code: Some(20404),
            });
        }
        Ok(self.account_url(&format!("IncomingPhoneNumbers/{sid}.json")))
    }

    async fn point_number(
        &self,
        sid: &str,
        hooks: &NumberHooks,
    ) -> Result<OwnedNumber, ProviderError> {
        let request = self.authorized(
            self.http
                .post(self.number_url(sid)?)
                .form(&hook_fields(hooks)),
        );
        let resource: IncomingNumberResource = read_json(request.send().await).await?;
        Ok(resource.into())
    }

    async fn release_number(&self, sid: &str) -> Result<(), ProviderError> {
        let request = self.authorized(self.http.delete(self.number_url(sid)?));
        read_nothing(request.send().await).await
    }

    /// The URL of the account's record `sid` in `collection` (`Calls`, `Messages`); a sid that
    /// cannot name one is refused as not found.
    fn record_url(&self, collection: &str, sid: &str) -> Result<String, ProviderError> {
        if !is_record_id(sid) {
            return Err(ProviderError::Refused {
                status: 404,
                code: Some(20404),
            });
        }
        Ok(self.account_url(&format!("{collection}/{sid}.json")))
    }

    /// Deletes record `sid` of `collection`; one already gone counts as deleted.
    async fn delete_record(&self, collection: &str, sid: &str) -> Result<(), ProviderError> {
        let deleted = match self.record_url(collection, sid) {
            Ok(url) => read_nothing(self.authorized(self.http.delete(url)).send().await).await,
            Err(error) => Err(error),
        };
        match deleted {
            Err(error) if error.is_not_found() => Ok(()),
            other => other,
        }
    }

    /// The sids of the calls call `sid` started (its `<Dial>` legs).
    async fn legs_of(&self, sid: &str) -> Result<Vec<String>, ProviderError> {
        let query = [("ParentCallSid", sid), ("PageSize", "50")];
        let (legs, _) = self.listed("Calls.json", &query, MAX_LEG_PAGES).await?;
        Ok(legs.into_iter().map(|leg| leg.sid).collect())
    }

    /// The records in the account's list `collection` (`Calls.json`, `Messages.json`) filtered
    /// by `query`, from at most `max_pages` pages, and whether that was all of them.
    async fn listed(
        &self,
        collection: &str,
        query: &[(&str, &str)],
        max_pages: usize,
    ) -> Result<(Vec<RecordResource>, bool), ProviderError> {
        let mut records = Vec::new();
        let mut url = self.account_url(collection);
        let mut query = query.to_vec();
        for _ in 0..max_pages {
            let request = self.authorized(self.http.get(&url).query(&query));
            let page: RecordPage = read_json(request.send().await).await?;
            records.extend(page.calls.into_iter().chain(page.messages));
            match page.next_page_uri {
                Some(next) => {
                    url = format!("{}{next}", self.account.api_url.trim_end_matches('/'));
                    query.clear();
                }
                None => return Ok((records, true)),
            }
        }
        Ok((records, false))
    }

    /// The calls and texts from `one` to `other` and from `other` to `one` made at `since` or
    /// later. Twilio filters by day (`StartTime>=`, `DateSent>=`); the instant is checked here
    /// against each record's `date_created` (a record without one is kept: it is newer).
    async fn between(
        &self,
        (one, other): (&str, &str),
        since: DateTime<Utc>,
    ) -> Result<HeldRecords, ProviderError> {
        let page_size = RECORDS_PAGE_SIZE.to_string();
        let max_pages = MAX_LISTED.div_ceil(RECORDS_PAGE_SIZE);
        let day = since.format("%Y-%m-%d").to_string();
        let mut held = HeldRecords {
            complete: true,
            ..HeldRecords::default()
        };
        for (from, to) in [(one, other), (other, one)] {
            for (collection, from_day) in [
                ("Calls.json", "StartTime>="),
                ("Messages.json", "DateSent>="),
            ] {
                let query = [
                    ("From", from),
                    ("To", to),
                    (from_day, day.as_str()),
                    ("PageSize", page_size.as_str()),
                ];
                let (records, complete) = self.listed(collection, &query, max_pages).await?;
                held.complete &= complete;
                let sids = records
                    .into_iter()
                    .filter(|record| record.made_since(since))
                    .map(|record| record.sid);
                if collection == "Calls.json" {
                    held.calls.extend(sids);
                } else {
                    held.messages.extend(sids);
                }
            }
        }
        Ok(held)
    }

    /// Deletes call `sid`'s legs, then the call.
    async fn forget_call_and_legs(&self, sid: &str) -> Result<(), ProviderError> {
        if !is_record_id(sid) {
            return Ok(());
        }
        for leg in self.legs_of(sid).await? {
            self.delete_record("Calls", &leg).await?;
        }
        self.delete_record("Calls", sid).await
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
            ("Timeout", PLACED_CALL_RING_SECONDS),
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
    let bytes = read_success(sent).await?;
    serde_json::from_slice(&bytes).map_err(|_| ProviderError::Unreadable)
}

/// Reads an answer without a body (`204 No Content`), mapping failures as [`read_json`] does.
async fn read_nothing(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<(), ProviderError> {
    read_success(sent).await.map(drop)
}

/// The body of a successful answer, or the [`ProviderError`] a failed one stands for.
async fn read_success(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<Vec<u8>, ProviderError> {
    let response = sent.map_err(|error| transport_error(&error.without_url()))?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .map_err(|error| transport_error(&error.without_url()))?;
    if status.is_success() {
        return Ok(bytes.to_vec());
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
    fn holds<'a>(&'a self, e164: &'a str) -> ProviderFuture<'a, Option<String>> {
        Box::pin(self.incoming_number(e164))
    }

    fn search<'a>(&'a self, search: &'a NumberSearch) -> ProviderFuture<'a, Vec<AvailableNumber>> {
        Box::pin(self.search_available(search))
    }

    fn buy<'a>(&'a self, e164: &'a str, hooks: &'a NumberHooks) -> ProviderFuture<'a, OwnedNumber> {
        Box::pin(self.buy_number(e164, hooks))
    }

    fn owned(&self) -> ProviderFuture<'_, Vec<OwnedNumber>> {
        Box::pin(self.owned_numbers())
    }

    fn point<'a>(
        &'a self,
        sid: &'a str,
        hooks: &'a NumberHooks,
    ) -> ProviderFuture<'a, OwnedNumber> {
        Box::pin(self.point_number(sid, hooks))
    }

    fn release<'a>(&'a self, sid: &'a str) -> ProviderFuture<'a, ()> {
        Box::pin(self.release_number(sid))
    }
}

impl ProviderRecords for TwilioClient {
    fn forget_call<'a>(&'a self, sid: &'a str) -> ProviderFuture<'a, ()> {
        Box::pin(self.forget_call_and_legs(sid))
    }

    fn forget_message<'a>(&'a self, sid: &'a str) -> ProviderFuture<'a, ()> {
        Box::pin(self.delete_record("Messages", sid))
    }

    fn release_number<'a>(&'a self, sid: &'a str) -> ProviderFuture<'a, ()> {
        Box::pin(async move {
            match TwilioClient::release_number(self, sid).await {
                Err(error) if error.is_not_found() => Ok(()),
                other => other,
            }
        })
    }

    fn records_between<'a>(
        &'a self,
        numbers: (&'a str, &'a str),
        since: DateTime<Utc>,
    ) -> ProviderFuture<'a, HeldRecords> {
        Box::pin(self.between(numbers, since))
    }
}

impl CallPlacer for TwilioClient {
    fn place<'a>(&'a self, call: &'a OutgoingCall) -> ProviderFuture<'a, PlacedCall> {
        Box::pin(self.create_call(call))
    }
}
