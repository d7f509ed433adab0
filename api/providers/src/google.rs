//! Google Calendar, through a service account: a clinic shares its calendar with the account's
//! address ("Make changes to events") and the server keeps an event there for each booking with a
//! start time, and asks when the calendar is busy (Google's free/busy answer: times only, no
//! event's title or details) before the AI receptionist offers or books a time. The operator downloads the account's JSON key from Google Cloud and names the file
//! (`RINGBACK_GOOGLE_SERVICE_ACCOUNT_FILE`); without it calendars are off.
//!
//! The wire format is Google's: an access token from the key's `token_uri` for a JWT signed with
//! the account's RSA key (RS256, `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`, scopes
//! `calendar.events` and `calendar.freebusy`), kept until shortly before it expires; then Calendar
//! API v3 under `RINGBACK_GOOGLE_CALENDAR_API_URL` (`/calendar/v3/calendars/{calendarId}/events`,
//! `/calendar/v3/freeBusy`) with the token as a Bearer. Events carry an id we choose (base32hex, [`valid_event_id`]), so putting one
//! twice leaves one event: [`CalendarProvider::put_event`] updates it (`PATCH`, status
//! `confirmed`, which also restores one deleted before; what staff added in Google stays),
//! creates it when Google has none (`POST`), and updates it again when a concurrent put created
//! it first. A token Google no longer takes (401) is renewed once per request.
//! Deleting an event Google does not have, or deleted already, is done. Tests point both URLs at
//! the fake in `crate::fakes::google`.
//!
//! Errors carry Google's status and reason only, never an event's text or a calendar's contents.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ringback_core::settings::{ConfigError, RawSettings, SecretString};
use serde::{Deserialize, Serialize};

/// Google's API host, under which the Calendar API lives.
pub const DEFAULT_CALENDAR_API_URL: &str = "https://www.googleapis.com";
/// The permission to read and change events of calendars shared with the account (not the
/// calendars' settings or their sharing).
pub const EVENTS_SCOPE: &str = "https://www.googleapis.com/auth/calendar.events";
/// The permission to ask when calendars shared with the account are busy.
pub const FREE_BUSY_SCOPE: &str = "https://www.googleapis.com/auth/calendar.freebusy";
/// The permissions the server asks for, as a token request names them: [`EVENTS_SCOPE`] and
/// [`FREE_BUSY_SCOPE`], nothing more.
pub const SCOPES: &str = "https://www.googleapis.com/auth/calendar.events \
                          https://www.googleapis.com/auth/calendar.freebusy";
/// The grant a service account's signed JWT is exchanged under.
pub const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// How long one request may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a signed assertion is valid (Google accepts at most an hour).
const ASSERTION_SECONDS: i64 = 3600;
/// A token is renewed this long before Google says it expires.
const RENEW_BEFORE: Duration = Duration::from_secs(120);
/// Longest calendar id accepted (Google's are e-mail addresses or `…@group.calendar.google.com`).
pub const MAX_CALENDAR_ID: usize = 254;

/// The service account's key file, as Google Cloud hands it out (the fields the server uses).
#[derive(Clone, Deserialize)]
pub struct ServiceAccountKey {
    /// `service_account` for this kind of key.
    #[serde(rename = "type")]
    pub kind: String,
    /// The account's address, which clinics share their calendars with.
    pub client_email: String,
    /// The RSA private key, PKCS#8 PEM.
    pub private_key: String,
    /// Which of the account's keys this is (the JWT's `kid`).
    #[serde(default)]
    pub private_key_id: Option<String>,
    /// Where tokens are issued (`https://oauth2.googleapis.com/token`).
    pub token_uri: String,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

/// Google's settings: the service account (calendars are off without one) and the Calendar API's
/// base URL.
#[derive(Clone, Debug)]
pub struct GoogleSettings {
    pub service_account: Option<ServiceAccountKey>,
    pub calendar_api_url: String,
}

impl GoogleSettings {
    /// Reads Google's keys from `settings`, naming any that is malformed; the key file is read
    /// and its key checked now, so that a bad file stops start-up.
    pub fn from_settings(settings: &RawSettings) -> Result<Self, ConfigError> {
        Ok(Self {
            service_account: settings.parse("google_service_account_file", read_key_file)?,
            calendar_api_url: settings
                .parse("google_calendar_api_url", crate::parse_base_url)?
                .unwrap_or_else(|| DEFAULT_CALENDAR_API_URL.to_owned()),
        })
    }
}

/// The service account key in the file at `path`, checked: a service account's, with an address,
/// an http(s) token URI and an RSA key the signer can use. Errors never quote the key.
fn read_key_file(path: &str) -> Result<ServiceAccountKey, String> {
    let text = std::fs::read_to_string(Path::new(path))
        .map_err(|error| format!("cannot read the service account key file: {error}"))?;
    let key: ServiceAccountKey = serde_json::from_str(&text).map_err(|_| {
        "expected the JSON key of a Google service account (type, client_email, private_key, \
         token_uri)"
            .to_owned()
    })?;
    if key.kind != "service_account" {
        return Err(format!(
            "expected a service account's key (\"type\": \"service_account\"), got \"{}\"",
            key.kind
        ));
    }
    if !key.client_email.contains('@') {
        return Err("the key file's client_email is not an address".to_owned());
    }
    crate::parse_base_url(&key.token_uri)
        .map_err(|reason| format!("the key file's token_uri: {reason}"))?;
    jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes())
        .map_err(|_| "the key file's private_key is not an RSA key in PEM".to_owned())?;
    Ok(key)
}

/// Whether `id` can be an event id Google accepts: 5 to 1024 characters of base32hex (`a`–`v`,
/// `0`–`9`).
pub fn valid_event_id(id: &str) -> bool {
    (5..=1024).contains(&id.len()) && id.bytes().all(|b| matches!(b, b'a'..=b'v' | b'0'..=b'9'))
}

/// Whether `calendar` can be a calendar id: 1 to [`MAX_CALENDAR_ID`] characters, no spaces or
/// control characters.
pub fn valid_calendar_id(calendar: &str) -> bool {
    !calendar.is_empty()
        && calendar.len() <= MAX_CALENDAR_ID
        && !calendar
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
}

/// One event as the server keeps it in a calendar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarEvent {
    /// Our id for it ([`valid_event_id`]).
    pub id: String,
    pub summary: String,
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// The IANA zone the calendar shows it in.
    pub time_zone: String,
    /// Where the event's source is seen (the booking in the dashboard).
    pub link: String,
}

/// A time a calendar shows busy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusyTime {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// Why a calendar request failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The calendar is not shared with the service account, or not for changing events.
    #[error("the calendar is not shared with the service account for changing events")]
    NotShared,
    /// Google refused the service account's key (revoked, deleted or wrong).
    #[error("Google refused the service account's key ({0})")]
    KeyRefused(String),
    /// Google refused the request (4xx): trying again would not help.
    #[error("Google Calendar refused the request (HTTP {status}, {reason})")]
    Refused { status: u16, reason: String },
    /// Google was busy or failing (429, 5xx, a rate limit).
    #[error("Google Calendar is unavailable (HTTP {status})")]
    Unavailable { status: u16 },
    /// No answer, or Google could not be reached.
    #[error("Google could not be reached ({0})")]
    Unreachable(&'static str),
    /// Google answered with something we could not read.
    #[error("Google's answer could not be read")]
    Unreadable,
}

impl CalendarError {
    /// Whether a later try may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CalendarError::Unavailable { .. } | CalendarError::Unreachable(_)
        )
    }
}

/// A future a calendar returns.
pub type CalendarFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, CalendarError>> + Send + 'a>>;

/// Calendars the server keeps booking events in.
pub trait CalendarProvider: Send + Sync {
    /// The address calendars are shared with.
    fn shared_with(&self) -> &str;

    /// The description of `calendar` when it is shared with the account for changing events
    /// ([`CalendarError::NotShared`] otherwise): where a clinic proves the calendar is its own.
    fn check_access<'a>(&'a self, calendar: &'a str) -> CalendarFuture<'a, String>;

    /// Makes `event` stand in `calendar` as given, created or updated (fields Ringback does not
    /// set, such as a note staff added in Google, are kept).
    fn put_event<'a>(
        &'a self,
        calendar: &'a str,
        event: &'a CalendarEvent,
    ) -> CalendarFuture<'a, ()>;

    /// Removes event `event_id` from `calendar`; done when Google has none.
    fn delete_event<'a>(&'a self, calendar: &'a str, event_id: &'a str) -> CalendarFuture<'a, ()>;

    /// The times `calendar` is busy between the two instants, as Google's free/busy answer gives
    /// them (events marked free left out; nothing of any event's title or details).
    fn busy_times<'a>(
        &'a self,
        calendar: &'a str,
        between: (DateTime<Utc>, DateTime<Utc>),
    ) -> CalendarFuture<'a, Vec<BusyTime>>;
}

/// A Calendar API client for one service account: one HTTP client (connections kept alive) and
/// its current token.
pub struct GoogleCalendar {
    http: reqwest::Client,
    key: ServiceAccountKey,
    signing_key: jsonwebtoken::EncodingKey,
    api_url: String,
    token: Mutex<Option<Token>>,
}

#[derive(Clone)]
struct Token {
    value: SecretString,
    renew_at: std::time::Instant,
}

/// The claims of the assertion exchanged for a token.
#[derive(Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct TokenRefusal {
    error: String,
}

#[derive(Deserialize)]
struct ApiError {
    error: ApiErrorBody,
}

#[derive(Deserialize)]
struct ApiErrorBody {
    #[serde(default)]
    errors: Vec<ApiErrorItem>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct ApiErrorItem {
    reason: String,
}

/// Google's free/busy answer: for each calendar asked, its busy times or why it has none.
#[derive(Deserialize)]
struct FreeBusyAnswer {
    calendars: std::collections::HashMap<String, FreeBusyCalendar>,
}

#[derive(Deserialize)]
struct FreeBusyCalendar {
    #[serde(default)]
    busy: Vec<FreeBusySpan>,
    #[serde(default)]
    errors: Vec<ApiErrorItem>,
}

#[derive(Deserialize)]
struct FreeBusySpan {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

#[derive(Deserialize)]
struct EventsAccess {
    #[serde(rename = "accessRole")]
    access_role: String,
    #[serde(default)]
    description: Option<String>,
}

impl GoogleCalendar {
    /// A client for `settings` (`None` without a service account) whose requests give up after
    /// `timeout`.
    pub fn new(
        settings: &GoogleSettings,
        timeout: Duration,
    ) -> Result<Option<Self>, CalendarError> {
        let Some(key) = settings.service_account.clone() else {
            return Ok(None);
        };
        let signing_key = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes())
            .map_err(|_| CalendarError::KeyRefused("not an RSA key".to_owned()))?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|_| CalendarError::Unreachable("no HTTP client"))?;
        Ok(Some(Self {
            http,
            key,
            signing_key,
            api_url: settings.calendar_api_url.trim_end_matches('/').to_owned(),
            token: Mutex::new(None),
        }))
    }

    /// A token for the Calendar API: the kept one while it is fresh, else a new one.
    async fn token(&self) -> Result<SecretString, CalendarError> {
        let kept = self
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(token) = kept
            && token.renew_at > std::time::Instant::now()
        {
            return Ok(token.value);
        }
        let fresh = self.new_token().await?;
        *self
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(fresh.clone());
        Ok(fresh.value)
    }

    async fn new_token(&self) -> Result<Token, CalendarError> {
        let now = Utc::now().timestamp();
        let claims = Assertion {
            iss: &self.key.client_email,
            scope: SCOPES,
            aud: &self.key.token_uri,
            iat: now,
            exp: now + ASSERTION_SECONDS,
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = self.key.private_key_id.clone();
        let assertion =
            jsonwebtoken::encode(&header, &claims, &self.signing_key).map_err(|_| {
                CalendarError::KeyRefused("the assertion could not be signed".to_owned())
            })?;
        let asked_at = std::time::Instant::now();
        let sent = self
            .http
            .post(&self.key.token_uri)
            .form(&[("grant_type", JWT_GRANT), ("assertion", assertion.as_str())])
            .send()
            .await;
        let (status, bytes) = read_answer(sent).await?;
        if status == 429 || status >= 500 {
            return Err(CalendarError::Unavailable { status });
        }
        if !(200..300).contains(&status) {
            let reason = serde_json::from_slice::<TokenRefusal>(&bytes)
                .map(|refusal| refusal.error)
                .unwrap_or_else(|_| format!("HTTP {status}"));
            return Err(CalendarError::KeyRefused(reason));
        }
        let answer: TokenAnswer =
            serde_json::from_slice(&bytes).map_err(|_| CalendarError::Unreadable)?;
        let lasts = Duration::from_secs(answer.expires_in).saturating_sub(RENEW_BEFORE);
        Ok(Token {
            value: SecretString::new(answer.access_token),
            renew_at: asked_at + lasts,
        })
    }

    /// The URL of `calendar`'s events, with `more` path segments after it.
    fn events_url(&self, calendar: &str, more: &[&str]) -> Result<url::Url, CalendarError> {
        let mut url = self.api_url_of(&["calendar", "v3", "calendars", calendar, "events"])?;
        url.path_segments_mut()
            .map_err(|_| CalendarError::Unreadable)?
            .extend(more);
        Ok(url)
    }

    /// The URL of the API's path `segments` (each escaped as one segment).
    fn api_url_of(&self, segments: &[&str]) -> Result<url::Url, CalendarError> {
        let mut url = url::Url::parse(&self.api_url).map_err(|_| CalendarError::Unreadable)?;
        url.path_segments_mut()
            .map_err(|_| CalendarError::Unreadable)?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Sends `request` with a token; the status and body of Google's answer. A token Google no
    /// longer takes (401) is dropped and the request sent once more with a new one.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, Vec<u8>), CalendarError> {
        let again = request.try_clone();
        let answer = self.send_once(request).await?;
        match again {
            Some(again) if answer.0 == 401 => {
                self.forget_token();
                self.send_once(again).await
            }
            _ => Ok(answer),
        }
    }

    async fn send_once(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, Vec<u8>), CalendarError> {
        let token = self.token().await?;
        read_answer(request.bearer_auth(token.expose()).send().await).await
    }

    fn forget_token(&self) {
        *self
            .token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    async fn check(&self, calendar: &str) -> Result<String, CalendarError> {
        let mut url = self.events_url(calendar, &[])?;
        url.query_pairs_mut()
            .append_pair("maxResults", "1")
            .append_pair("fields", "accessRole,description");
        let (status, body) = self.send(self.http.get(url)).await?;
        if !(200..300).contains(&status) {
            return Err(api_error(status, &body));
        }
        let access: EventsAccess =
            serde_json::from_slice(&body).map_err(|_| CalendarError::Unreadable)?;
        if matches!(access.access_role.as_str(), "writer" | "owner") {
            Ok(access.description.unwrap_or_default())
        } else {
            Err(CalendarError::NotShared)
        }
    }

    async fn put(&self, calendar: &str, event: &CalendarEvent) -> Result<(), CalendarError> {
        let body = event_body(event);
        let update_url = self.events_url(calendar, &[&event.id])?;
        // Update; create when Google has none; update again when a put running beside this one
        // created it in between.
        for update_first in [true, false, true] {
            let (status, answer) = if update_first {
                self.send(self.http.patch(update_url.clone()).json(&body))
                    .await?
            } else {
                let mut created = body.clone();
                created["id"] = serde_json::Value::String(event.id.clone());
                self.send(
                    self.http
                        .post(self.events_url(calendar, &[])?)
                        .json(&created),
                )
                .await?
            };
            match status {
                200..=299 => return Ok(()),
                404 | 410 if update_first => continue,
                409 if !update_first => continue,
                _ => return Err(api_error(status, &answer)),
            }
        }
        // Created and gone again between our requests: a later try will find it settled.
        Err(CalendarError::Unavailable { status: 409 })
    }

    async fn free_busy(
        &self,
        calendar: &str,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<Vec<BusyTime>, CalendarError> {
        let url = self.api_url_of(&["calendar", "v3", "freeBusy"])?;
        let body = serde_json::json!({
            "timeMin": rfc3339(from),
            "timeMax": rfc3339(to),
            "items": [{ "id": calendar }],
        });
        let (status, answer) = self.send(self.http.post(url).json(&body)).await?;
        if !(200..300).contains(&status) {
            return Err(api_error(status, &answer));
        }
        let answer: FreeBusyAnswer =
            serde_json::from_slice(&answer).map_err(|_| CalendarError::Unreadable)?;
        // Keyed by the id asked; the only entry when Google spelled it otherwise.
        let only = (answer.calendars.len() == 1)
            .then(|| answer.calendars.values().next())
            .flatten();
        let found = answer
            .calendars
            .get(calendar)
            .or(only)
            .ok_or(CalendarError::Unreadable)?;
        if let Some(error) = found.errors.first() {
            return Err(free_busy_error(&error.reason));
        }
        Ok(found
            .busy
            .iter()
            .map(|span| BusyTime {
                starts_at: span.start,
                ends_at: span.end,
            })
            .collect())
    }

    async fn delete(&self, calendar: &str, event_id: &str) -> Result<(), CalendarError> {
        let url = self.events_url(calendar, &[event_id])?;
        let (status, answer) = self.send(self.http.delete(url)).await?;
        match status {
            200..=299 | 404 | 410 => Ok(()),
            _ => Err(api_error(status, &answer)),
        }
    }
}

/// `instant` as the Calendar API writes times: RFC 3339, whole seconds, UTC.
fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What a calendar's error in a free/busy answer means: not shared with the account
/// (`notFound`), Google failing (`internalError`, `backendError`), or a refusal.
fn free_busy_error(reason: &str) -> CalendarError {
    match reason {
        "notFound" => CalendarError::NotShared,
        "internalError" | "backendError" => CalendarError::Unavailable { status: 500 },
        reason => CalendarError::Refused {
            status: 200,
            reason: reason.to_owned(),
        },
    }
}

/// The Calendar API's JSON for `event` (without its id, which a create adds).
fn event_body(event: &CalendarEvent) -> serde_json::Value {
    let at = |instant: DateTime<Utc>| {
        serde_json::json!({
            "dateTime": rfc3339(instant),
            "timeZone": event.time_zone,
        })
    };
    serde_json::json!({
        // Confirmed: a replace also restores an event deleted before (a booking put back in a
        // calendar the clinic chose again).
        "status": "confirmed",
        "summary": event.summary,
        "description": event.description,
        "start": at(event.starts_at),
        "end": at(event.ends_at),
        "source": { "title": "Ringback", "url": event.link },
    })
}

/// What a failed Calendar API answer means: a calendar not shared (404 on it, 403 without write
/// access), a rate limit or failure that may pass, or a refusal.
fn api_error(status: u16, body: &[u8]) -> CalendarError {
    let reason = serde_json::from_slice::<ApiError>(body)
        .ok()
        .and_then(|error| {
            error
                .error
                .errors
                .into_iter()
                .next()
                .map(|item| item.reason)
                .or(error.error.status)
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let rate_limited = matches!(
        reason.as_str(),
        "rateLimitExceeded" | "userRateLimitExceeded" | "quotaExceeded" | "dailyLimitExceeded"
    );
    match status {
        429 => CalendarError::Unavailable { status },
        403 if rate_limited => CalendarError::Unavailable { status },
        status if status >= 500 => CalendarError::Unavailable { status },
        401 => CalendarError::KeyRefused(reason),
        403 | 404 => CalendarError::NotShared,
        _ => CalendarError::Refused { status, reason },
    }
}

/// The status and body of an answer Google sent, or why none came.
async fn read_answer(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<(u16, Vec<u8>), CalendarError> {
    let response = sent.map_err(|error| transport_error(&error))?;
    let status = response.status().as_u16();
    let bytes = response
        .bytes()
        .await
        .map_err(|error| transport_error(&error))?;
    Ok((status, bytes.to_vec()))
}

fn transport_error(error: &reqwest::Error) -> CalendarError {
    if error.is_connect() {
        CalendarError::Unreachable("connection refused")
    } else if error.is_timeout() {
        CalendarError::Unreachable("timed out")
    } else {
        CalendarError::Unreachable("connection lost")
    }
}

impl CalendarProvider for GoogleCalendar {
    fn shared_with(&self) -> &str {
        &self.key.client_email
    }

    fn check_access<'a>(&'a self, calendar: &'a str) -> CalendarFuture<'a, String> {
        Box::pin(self.check(calendar))
    }

    fn put_event<'a>(
        &'a self,
        calendar: &'a str,
        event: &'a CalendarEvent,
    ) -> CalendarFuture<'a, ()> {
        Box::pin(self.put(calendar, event))
    }

    fn delete_event<'a>(&'a self, calendar: &'a str, event_id: &'a str) -> CalendarFuture<'a, ()> {
        Box::pin(self.delete(calendar, event_id))
    }

    fn busy_times<'a>(
        &'a self,
        calendar: &'a str,
        between: (DateTime<Utc>, DateTime<Utc>),
    ) -> CalendarFuture<'a, Vec<BusyTime>> {
        Box::pin(self.free_busy(calendar, between))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_and_calendar_ids_are_checked() {
        assert!(valid_event_id("0190f3a2b7c47d5e8f9a0b1c2d3e4f50"));
        assert!(!valid_event_id("abcd"), "too short");
        assert!(!valid_event_id("0190f3a2-b7c4"), "a dash is not base32hex");
        assert!(!valid_event_id("wxyz0"), "w to z are beyond base32hex");
        assert!(valid_calendar_id("frontdesk@example.co.uk"));
        assert!(valid_calendar_id("c_0123abc@group.calendar.google.com"));
        assert!(!valid_calendar_id(""));
        assert!(!valid_calendar_id("front desk@example.co.uk"));
        assert!(!valid_calendar_id(&"a".repeat(MAX_CALENDAR_ID + 1)));
    }

    #[test]
    fn google_errors_are_told_apart() {
        let body = |reason: &str| {
            serde_json::to_vec(&serde_json::json!({
                "error": { "code": 403, "message": "x", "errors": [{ "domain": "global", "reason": reason }] }
            }))
            .unwrap()
        };
        assert_eq!(api_error(404, b"{}"), CalendarError::NotShared);
        assert_eq!(
            api_error(403, &body("requiredAccessLevel")),
            CalendarError::NotShared
        );
        assert!(api_error(403, &body("rateLimitExceeded")).is_retryable());
        assert!(api_error(403, &body("dailyLimitExceeded")).is_retryable());
        assert!(api_error(503, b"").is_retryable());
        assert!(!api_error(400, &body("invalid")).is_retryable());
        assert!(matches!(
            api_error(401, &body("authError")),
            CalendarError::KeyRefused(_)
        ));
        assert_eq!(free_busy_error("notFound"), CalendarError::NotShared);
        assert!(free_busy_error("internalError").is_retryable());
        assert!(!free_busy_error("tooManyCalendarsRequested").is_retryable());
    }

    #[test]
    fn the_token_asks_for_events_and_free_busy_only() {
        let asked: Vec<&str> = SCOPES.split_whitespace().collect();
        assert_eq!(asked, [EVENTS_SCOPE, FREE_BUSY_SCOPE]);
    }

    #[test]
    fn a_key_file_must_be_a_service_accounts_rsa_key() {
        let dir = tempfile_dir();
        let path = dir.join("key.json");
        std::fs::write(&path, r#"{"type":"authorized_user","client_email":"a@b","private_key":"x","token_uri":"https://oauth2.googleapis.com/token"}"#).unwrap();
        let error = read_key_file(path.to_str().unwrap()).unwrap_err();
        assert!(error.contains("service account"), "{error}");
        std::fs::write(&path, r#"{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n","token_uri":"https://oauth2.googleapis.com/token"}"#).unwrap();
        let error = read_key_file(path.to_str().unwrap()).unwrap_err();
        assert!(error.contains("RSA"), "{error}");
        assert!(!error.contains("not a key"), "the key is never quoted");
        let error = read_key_file(dir.join("missing.json").to_str().unwrap()).unwrap_err();
        assert!(error.contains("cannot read"), "{error}");
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ringback-google-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
