//! A fake of Twilio's Messages API. It checks Basic auth and the form fields Twilio requires,
//! records each message, lists them (newest first, paged, filtered by `To` and `From`), and posts
//! signed delivery reports (`sent`, then `delivered`) to each message's `StatusCallback`. It can be
//! told to fail the next requests: with HTTP 500, by accepting a message but answering too late
//! for the client (the outcome is then in doubt), or by hanging without accepting it. It also
//! holds the account's numbers ([`FakeTwilio::provision_number`]), offers fiction numbers to buy,
//! and lists, buys, re-points and releases them as Twilio's number APIs do ([`numbers`]). Its voice
//! side ([`voice`]) places calls and plays them through the server's voice webhooks, and it keeps
//! and deletes its records of calls and texts as Twilio does ([`records`]).

mod numbers;
mod records;
mod voice;

pub use numbers::FakeNumber;
pub use records::LoggedCall;
pub use voice::{
    ANSWERED_DIAL_SECONDS, Answerer, CallScript, EndReports, FakeCall, PlayedCall, RungIn,
};

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use poem::http::StatusCode;
use poem::web::{Data, Form, Json, Path, Query};
use poem::{EndpointExt, IntoResponse, Request, Response, Route, get, handler};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Notify;

use ringback_core::clock::Clock;

use crate::twilio::signature as twilio_signature;

/// A failure to inject into the next request to the Messages API.
#[derive(Clone, Copy, Debug)]
pub enum Failure {
    /// Answer HTTP 500 without recording anything.
    ServerError,
    /// Record the message, but answer only after this long (past the client's timeout).
    AcceptThenStall(Duration),
    /// Record nothing and answer only after this long.
    Stall(Duration),
    /// Refuse for good, as Twilio does for a recipient who replied STOP to the carrier (21610).
    Unsubscribed,
    /// Refuse, as Twilio does while the sending number cannot text (21606): sending again works
    /// once the account is put right.
    SenderCannotText,
    /// Refuse, as Twilio does for a number that is not a mobile (21614).
    NotMobile,
    /// Refuse, as Twilio does for a country the account's geographic permissions leave out
    /// (21408).
    CountryNotPermitted,
    /// Accept the message, then report it `undelivered` with this `ErrorCode` (30003: the phone
    /// was switched off or out of signal).
    Undelivered(u16),
    /// As [`Failure::Undelivered`], but the reports reach the server before the answer to the
    /// request that sent the message (Twilio's reports may overtake it).
    UndeliveredReportedFirst(u16),
}

/// A failure to inject into the next request to place a call.
#[derive(Clone, Copy, Debug)]
pub enum CallFailure {
    /// Refuse with HTTP 429 (20429), as Twilio does past the account's call rate: nothing placed.
    TooManyRequests,
    /// Place the call, then answer HTTP 500 (whether it went is in doubt for the client).
    PlaceThenServerError,
}

/// A message the fake accepted.
#[derive(Clone, Debug)]
pub struct FakeMessage {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub body: String,
    pub status_callback: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When the create request arrived (for latency figures).
    pub arrived: Instant,
}

struct Shared {
    /// Dates messages, as Twilio's own clock would.
    clock: Clock,
    account_sid: String,
    auth_token: String,
    messages: Mutex<Vec<FakeMessage>>,
    calls: Mutex<Vec<voice::FakeCall>>,
    /// The account's log of calls and texts, and what was deleted from it.
    records: records::Records,
    /// The account's own numbers.
    incoming_numbers: Mutex<Vec<FakeNumber>>,
    failures: Mutex<VecDeque<Failure>>,
    call_failures: Mutex<VecDeque<CallFailure>>,
    /// Whether the next number bought is sold but answered with a body nobody can read (the
    /// answer lost on the way, as a proxy's error page would lose it).
    lose_next_purchase_answer: std::sync::atomic::AtomicBool,
    smart_encoding: std::sync::atomic::AtomicBool,
    arrivals: Notify,
    callbacks: reports::Callbacks,
}

mod reports {
    //! Delivery reports back to the server under test.
    use super::*;

    pub struct Callbacks {
        pub client: reqwest::Client,
        pub enabled: std::sync::atomic::AtomicBool,
        /// Public base URL → where it is actually served, as a TLS-terminating proxy forwards.
        pub forward: Mutex<Option<(String, String)>>,
    }

    impl Callbacks {
        /// Where a report for `url` is delivered.
        pub(super) fn destination(&self, url: &str) -> String {
            match &*lock(&self.forward) {
                Some((public, local)) if url.starts_with(public.as_str()) => {
                    format!("{local}{}", &url[public.len()..])
                }
                _ => url.to_owned(),
            }
        }
    }

    /// Posts `sent` then `delivered` for `message` (or `undelivered` with `error` as its
    /// `ErrorCode`), signed as Twilio signs them.
    pub async fn report(shared: Arc<Shared>, message: FakeMessage, error: Option<u16>) {
        let Some(url) = message.status_callback.clone() else {
            return;
        };
        let destination = shared.callbacks.destination(&url);
        let last = if error.is_some() {
            "undelivered"
        } else {
            "delivered"
        };
        let code = error.map(|code| code.to_string());
        for status in ["sent", last] {
            let mut params: Vec<(String, String)> = [
                ("AccountSid", shared.account_sid.as_str()),
                ("ApiVersion", "2010-04-01"),
                ("From", message.from.as_str()),
                ("MessageSid", message.sid.as_str()),
                ("MessageStatus", status),
                ("SmsSid", message.sid.as_str()),
                ("SmsStatus", status),
                ("To", message.to.as_str()),
            ]
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect();
            if let Some(code) = code.as_ref().filter(|_| status == last) {
                params.push(("ErrorCode".to_owned(), code.clone()));
            }
            let signature = twilio_signature::sign(&shared.auth_token, &url, &params);
            let sent = shared
                .callbacks
                .client
                .post(&destination)
                .header("X-Twilio-Signature", signature)
                .form(&params)
                .send()
                .await;
            if let Err(error) = sent {
                tracing::debug!(error = %error.without_url(), "fake Twilio could not deliver a status callback");
            }
        }
    }
}

/// A running fake; dropping it stops the server.
pub struct FakeTwilio {
    shared: Arc<Shared>,
    base_url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeTwilio {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A fake account sid of the right shape.
pub const ACCOUNT_SID: &str = "AC00000000000000000000000000000001";

impl FakeTwilio {
    /// Starts a fake for `account_sid` and `auth_token` on a free local port.
    pub async fn start(account_sid: &str, auth_token: &str) -> std::io::Result<Self> {
        Self::start_with_clock(account_sid, auth_token, Clock::system()).await
    }

    /// Starts a fake that dates its messages by `clock`, as a Twilio whose clock agrees with a
    /// test's server.
    pub async fn start_with_clock(
        account_sid: &str,
        auth_token: &str,
        clock: Clock,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            clock,
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            messages: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            records: records::Records::default(),
            incoming_numbers: Mutex::new(Vec::new()),
            failures: Mutex::new(VecDeque::new()),
            call_failures: Mutex::new(VecDeque::new()),
            lose_next_purchase_answer: std::sync::atomic::AtomicBool::new(false),
            smart_encoding: std::sync::atomic::AtomicBool::new(false),
            arrivals: Notify::new(),
            callbacks: reports::Callbacks {
                client: reqwest::Client::new(),
                enabled: std::sync::atomic::AtomicBool::new(true),
                forward: Mutex::new(None),
            },
        });
        let (acceptor, base_url) = super::listen("127.0.0.1:0").await?;
        let routes = Route::new()
            .at(
                "/2010-04-01/Accounts/:sid/Messages.json",
                get(list_messages).post(create_message),
            )
            .at(
                "/2010-04-01/Accounts/:sid/IncomingPhoneNumbers.json",
                get(numbers::list_incoming_numbers).post(numbers::buy_number),
            )
            .at(
                "/2010-04-01/Accounts/:sid/IncomingPhoneNumbers/:number",
                poem::post(numbers::update_number).delete(numbers::release_number),
            )
            .at(
                "/2010-04-01/Accounts/:sid/AvailablePhoneNumbers/:country/:kind",
                get(numbers::search_available),
            )
            .at(
                "/2010-04-01/Accounts/:sid/Calls.json",
                get(records::list_calls).post(voice::create_call),
            )
            .at(
                "/2010-04-01/Accounts/:sid/Calls/:call",
                poem::delete(records::delete_call),
            )
            .at(
                "/2010-04-01/Accounts/:sid/Messages/:message",
                poem::delete(records::delete_message),
            )
            .data(shared.clone());
        let server = super::serve(acceptor, routes);
        Ok(Self {
            shared,
            base_url,
            server,
        })
    }

    /// The base URL to configure as `RINGBACK_TWILIO_API_URL`.
    pub fn api_url(&self) -> &str {
        &self.base_url
    }

    /// Gives the account the number `e164`, as buying it in Twilio's console would.
    pub fn provision_number(&self, e164: &str) {
        lock(&self.shared.incoming_numbers).push(FakeNumber::unpointed(e164));
    }

    /// Gives the account a number that takes calls but cannot send texts.
    pub fn provision_voice_only_number(&self, e164: &str) {
        lock(&self.shared.incoming_numbers).push(FakeNumber {
            voice_only: true,
            ..FakeNumber::unpointed(e164)
        });
    }

    /// The account's numbers as they stand, with where each is pointed.
    pub fn numbers(&self) -> Vec<FakeNumber> {
        lock(&self.shared.incoming_numbers).clone()
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<FakeMessage> {
        lock(&self.shared.messages).clone()
    }

    /// Sells the next number bought but loses the answer: the buyer reads nothing it can use.
    pub fn lose_next_purchase_answer(&self) {
        self.shared
            .lose_next_purchase_answer
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Makes the next requests to the Messages API fail, in order.
    pub fn fail_next(&self, failures: impl IntoIterator<Item = Failure>) {
        lock(&self.shared.failures).extend(failures);
    }

    /// Makes the next requests to place a call fail, in order.
    pub fn fail_next_calls(&self, failures: impl IntoIterator<Item = CallFailure>) {
        lock(&self.shared.call_failures).extend(failures);
    }

    /// Whether bodies are stored and listed as Twilio's Smart Encoding rewrites them (curly
    /// quotes, dashes, ellipses and odd spaces become GSM-7 characters); off by default.
    pub fn smart_encoding(&self, enabled: bool) {
        self.shared
            .smart_encoding
            .store(enabled, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether delivery reports are posted back (on by default).
    pub fn send_status_callbacks(&self, enabled: bool) {
        self.shared
            .callbacks
            .enabled
            .store(enabled, std::sync::atomic::Ordering::SeqCst);
    }

    /// Delivers reports addressed under `public_base` to `local_base` instead (signed, as Twilio
    /// signs them, over the public URL), like a TLS-terminating proxy in front of the server.
    pub fn forward_callbacks(&self, public_base: &str, local_base: &str) {
        *lock(&self.shared.callbacks.forward) =
            Some((public_base.to_owned(), local_base.to_owned()));
    }

    /// Waits until at least `count` messages were accepted, or `timeout` passed; returns them.
    pub async fn wait_for_messages(&self, count: usize, timeout: Duration) -> Vec<FakeMessage> {
        self.wait_for(count, timeout, Self::messages).await
    }

    /// Waits until `read` gives at least `count` items (re-reading whenever a request arrives),
    /// or `timeout` passed; returns the last read.
    async fn wait_for<T>(
        &self,
        count: usize,
        timeout: Duration,
        read: fn(&Self) -> Vec<T>,
    ) -> Vec<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let arrived = self.shared.arrivals.notified();
            let items = read(self);
            if items.len() >= count {
                return items;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return read(self);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `body` as Smart Encoding rewrites the common characters outside GSM-7.
fn smart_encoded(body: &str) -> String {
    body.chars()
        .map(|c| match c {
            '\u{201c}' | '\u{201d}' | '\u{201e}' | '\u{ab}' | '\u{bb}' => "\"".to_owned(),
            '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{2032}' => "'".to_owned(),
            '\u{2013}' | '\u{2014}' | '\u{2012}' | '\u{2212}' => "-".to_owned(),
            '\u{2026}' => "...".to_owned(),
            '\u{a0}' | '\u{2009}' | '\u{202f}' => " ".to_owned(),
            other => other.to_string(),
        })
        .collect()
}

/// Twilio's error body.
fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status.as_u16(),
    });
    (status, Json(body)).into_response()
}

/// Whether the path's account and the Basic credentials are ours.
fn authorized(shared: &Shared, request: &Request, sid: &str) -> bool {
    use base64::Engine;
    let expected = format!("{}:{}", shared.account_sid, shared.auth_token);
    let given = request
        .headers()
        .get("Authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
        });
    sid == shared.account_sid && given.as_deref() == Some(expected.as_bytes())
}

/// Twilio's answer to bad credentials.
fn unauthorized() -> Response {
    twilio_error(
        StatusCode::UNAUTHORIZED,
        20003,
        "Authentication Error - invalid username",
    )
}

fn resource(message: &FakeMessage, account_sid: &str, status: &str) -> Value {
    json!({
        "sid": message.sid,
        "account_sid": account_sid,
        "status": status,
        "to": message.to,
        "from": message.from,
        "body": message.body,
        "num_segments": ringback_shared::sms::segments(&message.body).count.to_string(),
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "date_created": message.created_at.to_rfc2822(),
        "date_updated": message.created_at.to_rfc2822(),
        "date_sent": null,
        "error_code": null,
        "error_message": null,
        "uri": format!("/2010-04-01/Accounts/{account_sid}/Messages/{}.json", message.sid),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateForm {
    to: Option<String>,
    from: Option<String>,
    body: Option<String>,
    status_callback: Option<String>,
}

fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

#[handler]
async fn create_message(
    Data(shared): Data<&Arc<Shared>>,
    Path(sid): Path<String>,
    request: &Request,
    Form(form): Form<CreateForm>,
) -> Response {
    let arrived = Instant::now();
    if !authorized(shared, request, &sid) {
        return unauthorized();
    }
    let failure = lock(&shared.failures).pop_front();
    match failure {
        Some(Failure::ServerError) => {
            return twilio_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                20500,
                "Internal Server Error",
            );
        }
        Some(Failure::Unsubscribed) => {
            return twilio_error(
                StatusCode::BAD_REQUEST,
                21610,
                "Attempt to send to unsubscribed recipient",
            );
        }
        Some(Failure::NotMobile) => {
            return twilio_error(
                StatusCode::BAD_REQUEST,
                21614,
                "'To' number is not a valid mobile number",
            );
        }
        Some(Failure::CountryNotPermitted) => {
            return twilio_error(
                StatusCode::BAD_REQUEST,
                21408,
                "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
            );
        }
        Some(Failure::SenderCannotText) => {
            return twilio_error(
                StatusCode::BAD_REQUEST,
                21606,
                "The 'From' phone number provided is not a valid message-capable Twilio phone number for this destination.",
            );
        }
        Some(Failure::Stall(delay)) => {
            tokio::time::sleep(delay).await;
            return twilio_error(
                StatusCode::SERVICE_UNAVAILABLE,
                20503,
                "Service Unavailable",
            );
        }
        _ => {}
    }
    let (Some(to), Some(from)) = (form.to, form.from) else {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' and a 'From' phone number are required.",
        );
    };
    if !is_e164(&to) {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21211,
            "The 'To' number is not a valid phone number.",
        );
    }
    if !is_e164(&from) {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21212,
            "The 'From' number is not a valid phone number.",
        );
    }
    let body = form.body.unwrap_or_default();
    if body.is_empty() {
        return twilio_error(StatusCode::BAD_REQUEST, 21602, "Message body is required.");
    }
    if body.chars().count() > 1600 {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21617,
            "The concatenated message body exceeds the 1600 character limit.",
        );
    }
    let body = if shared
        .smart_encoding
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        smart_encoded(&body)
    } else {
        body
    };
    let message = FakeMessage {
        sid: format!("SM{}", uuid::Uuid::new_v4().simple()),
        to,
        from,
        body,
        status_callback: form.status_callback.filter(|url| !url.is_empty()),
        created_at: shared.clock.now(),
        arrived,
    };
    lock(&shared.messages).push(message.clone());
    shared.arrivals.notify_waiters();
    if shared
        .callbacks
        .enabled
        .load(std::sync::atomic::Ordering::SeqCst)
    {
        match failure {
            Some(Failure::UndeliveredReportedFirst(code)) => {
                reports::report(shared.clone(), message.clone(), Some(code)).await;
            }
            Some(Failure::Undelivered(code)) => {
                tokio::spawn(reports::report(shared.clone(), message.clone(), Some(code)));
            }
            _ => {
                tokio::spawn(reports::report(shared.clone(), message.clone(), None));
            }
        }
    }
    if let Some(Failure::AcceptThenStall(delay)) = failure {
        tokio::time::sleep(delay).await;
    }
    (
        StatusCode::CREATED,
        Json(resource(&message, &shared.account_sid, "queued")),
    )
        .into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListQuery {
    to: Option<String>,
    from: Option<String>,
    /// A day (`YYYY-MM-DD`, UTC): texts sent on it or later.
    #[serde(rename = "DateSent>=")]
    sent_from: Option<String>,
    page_size: Option<usize>,
    page: Option<usize>,
}

#[handler]
async fn list_messages(
    Data(shared): Data<&Arc<Shared>>,
    Path(sid): Path<String>,
    request: &Request,
    Query(query): Query<ListQuery>,
) -> Response {
    if !authorized(shared, request, &sid) {
        return unauthorized();
    }
    let page_size = query.page_size.unwrap_or(50).clamp(1, 1000);
    let page = query.page.unwrap_or(0);
    // Every text on the account's log (sent, received, TwiML's answers), newest first.
    let sent = lock(&shared.messages).clone();
    let mut held: Vec<(FakeMessage, &str)> = sent.into_iter().map(|m| (m, "sent")).collect();
    held.extend(shared.records.logged_texts());
    held.sort_by_key(|(m, _)| m.created_at);
    let matching: Vec<(FakeMessage, &str)> = held
        .into_iter()
        .rev()
        .filter(|(m, _)| query.to.as_ref().is_none_or(|to| &m.to == to))
        .filter(|(m, _)| query.from.as_ref().is_none_or(|from| &m.from == from))
        .filter(|(m, _)| records::on_or_after(m.created_at, query.sent_from.as_deref()))
        .filter(|(m, _)| !shared.records.is_deleted(&m.sid))
        .collect();
    let start = page.saturating_mul(page_size).min(matching.len());
    let end = (start + page_size).min(matching.len());
    let messages: Vec<Value> = matching[start..end]
        .iter()
        .map(|(m, status)| resource(m, &shared.account_sid, status))
        .collect();
    let path = format!("/2010-04-01/Accounts/{sid}/Messages.json");
    let filters = [
        ("To", &query.to),
        ("From", &query.from),
        ("DateSent>=", &query.sent_from),
    ];
    let page_uri = |page: usize| records::list_page_uri(&path, &filters, (page, page_size));
    let next_page_uri = (end < matching.len()).then(|| page_uri(page + 1));
    Json(json!({
        "messages": messages,
        "page": page,
        "page_size": page_size,
        "first_page_uri": page_uri(0),
        "next_page_uri": next_page_uri,
        "previous_page_uri": (page > 0).then(|| page_uri(page - 1)),
        "uri": page_uri(page),
    }))
    .into_response()
}
