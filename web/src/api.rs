//! The dashboard's one GraphQL client. Every operation is a typed query compiled against the
//! committed `schema.graphql` (a query the schema does not allow fails the build), every request
//! goes through [`run`], and every failure becomes an [`ApiError`] a page can show. An expired
//! session is refreshed once with the refresh cookie (one renewal per tab, however many requests
//! found the session ended); when that fails too the caller gets
//! [`ApiError::SignedOut`] and the app sends the user to sign in.

use std::cell::RefCell;

use futures::FutureExt;
use futures::future::{LocalBoxFuture, Shared};
use gloo_net::http::Request;
use graphql_client::GraphQLQuery;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Where the server answers GraphQL; same origin as the dashboard.
const GRAPHQL_PATH: &str = "/graphql";

/// `NaiveDate` in the schema: an ISO date, `2026-11-22`.
pub type NaiveDate = String;
/// `DateTime` in the schema: RFC 3339.
pub type DateTime = String;
/// `JSON` in the schema (audit details); the generated code names the scalar as the schema does.
#[allow(clippy::upper_case_acronyms)]
pub type JSON = serde_json::Value;

/// Declares typed operations from a document in `web/graphql/`, checked against the schema when
/// the dashboard compiles. `sparse` operations leave unset optional inputs out of the request
/// (so the server keeps those settings as they are) instead of sending null.
macro_rules! operations {
    // `tt`, not `literal`: the derive must see the path as a plain string token.
    (sparse $file:tt => $($name:ident),+ $(,)?) => {$(
        #[derive(GraphQLQuery)]
        #[graphql(
            schema_path = "../schema.graphql",
            query_path = $file,
            response_derives = "Debug, Clone, PartialEq",
            variables_derives = "Clone, Debug",
            skip_serializing_none
        )]
        pub struct $name;
    )+};
    ($file:tt => $($name:ident),+ $(,)?) => {$(
        #[derive(GraphQLQuery)]
        #[graphql(
            schema_path = "../schema.graphql",
            query_path = $file,
            response_derives = "Debug, Clone, PartialEq",
            variables_derives = "Clone, Debug"
        )]
        pub struct $name;
    )+};
}

operations!("graphql/server_info.graphql" => ServerInfo, SignUpTerms, PasswordResetMode);
operations!("graphql/session.graphql" => Me, SignIn, AcceptInvite, ConfirmSignUp, RefreshSession, SignOut, MyClinics, SwitchClinic, SignUp, RequestSignUp, RequestPasswordReset, ResetPassword, LatestActivity);
operations!("graphql/overview.graphql" => Overview);
operations!("graphql/worklist.graphql" => Worklist, LogCallback, DismissWaitingCaller, UndoDismissal, CallBack, SetMyCallbackLine, FindCaller);
operations!("graphql/appointments.graphql" => Appointments, KnownCallers, CreateAppointment, UpdateAppointment, CancelAppointment);
operations!("graphql/inbox.graphql" => Conversations, InboxCount, Conversation, ConversationLatest, Reply, Assign, Close, TakeOver, MarkNotificationsRead, MyHandOffMails, SetMyHandOffMails);
operations!("graphql/settings.graphql" => Settings);
operations!("graphql/calendar.graphql" => GoogleCalendar, SetGoogleCalendar, CalendarBusy);
operations!(sparse "graphql/settings.graphql" => SaveClinic, SaveTextBack);
operations!("graphql/what_if.graphql" => WhatIf, SaveWindow);
operations!("graphql/admin.graphql" => Team, InviteMember, RevokeInvite, RemoveMember, ChangeMemberRole, ApiKeys, CreateApiKey, RevokeApiKey, AuditLog, DeadLetters, RetryDeadLetter);
operations!(sparse "graphql/privacy.graphql" => SaveRetention);
operations!("graphql/privacy.graphql" => PrivacySettings, CallerRecord, ExportCallerRecord, EraseCaller, RestrictCaller, ClinicDataExport, DeleteClinic, DeleteMyAccount);
operations!("graphql/billing.graphql" => BillingPage, BillingNotice, StartCheckout, OpenBillingPortal);
operations!("graphql/numbers.graphql" => SetupChecklist, NumbersPage, NumbersForSale, AccountNumbers, BuyNumber, UseAccountNumber, ReleaseNumber, RemoveNumber, SetForwardingLine, TestCall);
operations!("graphql/ai.graphql" => AiSettings, NeverFollowUp, SaveService, DeleteService);
operations!(sparse "graphql/ai.graphql" => SaveAi);

/// Failures talking to the API, in words a user can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The session is over and could not be renewed: sign in again.
    SignedOut,
    Network(String),
    Server {
        code: Option<String>,
        message: String,
    },
    Malformed(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SignedOut => write!(f, "Your session has ended; please sign in again."),
            Self::Network(reason) => write!(f, "Cannot reach the server: {reason}"),
            Self::Server { message, .. } => write!(f, "{message}"),
            Self::Malformed(reason) => write!(f, "Unexpected answer from the server: {reason}"),
        }
    }
}

impl std::error::Error for ApiError {}

#[derive(Deserialize)]
struct GraphqlResponse {
    data: Option<serde_json::Value>,
    #[serde(default)]
    errors: Vec<GraphqlError>,
}

#[derive(Deserialize)]
struct GraphqlError {
    message: String,
    #[serde(default)]
    extensions: Option<GraphqlErrorExtensions>,
}

#[derive(Deserialize)]
struct GraphqlErrorExtensions {
    code: Option<String>,
}

/// The request body of operation `Q`, as JSON.
fn request_body<Q: GraphQLQuery>(variables: Q::Variables) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(Q::build_query(variables)).map_err(|e| ApiError::Malformed(e.to_string()))
}

/// The typed answer of operation `Q` from its `data`.
fn response_data<Q: GraphQLQuery>(data: serde_json::Value) -> Result<Q::ResponseData, ApiError>
where
    Q::ResponseData: DeserializeOwned,
{
    serde_json::from_value(data).map_err(|e| ApiError::Malformed(e.to_string()))
}

/// Posts one request; the answer's `data`, or its first error. Not generic: the HTTP and error
/// handling exist once in the bundle, not once per operation.
async fn post(body: &serde_json::Value) -> Result<serde_json::Value, ApiError> {
    let request = Request::post(GRAPHQL_PATH)
        .json(body)
        .map_err(|e| ApiError::Malformed(e.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    if response.status() == 429 {
        return Err(ApiError::Server {
            code: Some("RATE_LIMITED".to_owned()),
            message: "Too many requests; try again in a moment.".to_owned(),
        });
    }
    let body: GraphqlResponse = response
        .json()
        .await
        .map_err(|e| ApiError::Malformed(e.to_string()))?;
    if let Some(error) = body.errors.into_iter().next() {
        let code = error.extensions.and_then(|extensions| extensions.code);
        if code.as_deref() == Some("UNAUTHENTICATED") {
            return Err(ApiError::SignedOut);
        }
        return Err(ApiError::Server {
            code,
            message: error.message,
        });
    }
    body.data
        .ok_or_else(|| ApiError::Malformed("no data".to_owned()))
}

/// A renewal of the session in flight, shared by every request of this tab.
type Renewal = Shared<LocalBoxFuture<'static, Result<(), ApiError>>>;

thread_local! {
    /// The renewal in flight, if any: requests that find the session ended at the same moment
    /// wait for one exchange of the refresh token instead of racing their own (the server refuses
    /// all but one).
    static RENEWAL: RefCell<Option<Renewal>> = const { RefCell::new(None) };
}

/// Renews the session with the refresh cookie: joins the renewal in flight or starts one.
async fn renew_session() -> Result<(), ApiError> {
    let renewal = RENEWAL.with(|slot| {
        slot.borrow_mut()
            .get_or_insert_with(|| {
                async {
                    let body = request_body::<RefreshSession>(refresh_session::Variables);
                    let outcome = match body {
                        Ok(body) => post(&body).await.map(|_| ()),
                        Err(error) => Err(error),
                    };
                    RENEWAL.with(|slot| slot.borrow_mut().take());
                    if outcome.is_ok() {
                        tell_renewed();
                    }
                    outcome
                }
                .boxed_local()
                .shared()
            })
            .clone()
    });
    renewal.await
}

/// Posts a request; an ended session is renewed once and the request tried again. A renewal
/// refused because another tab renewed the session at that moment (`CONFLICT`) left that tab's
/// cookies, which this tab shares: the request is tried again with them.
async fn post_renewing(body: serde_json::Value) -> Result<serde_json::Value, ApiError> {
    match post(&body).await {
        Err(ApiError::SignedOut) => match renew_session().await {
            Err(ApiError::Server { code, .. }) if code.as_deref() == Some("CONFLICT") => {
                // The other tab's answer may not have set its cookies yet: then this tab renews
                // with them once more.
                match post(&body).await {
                    Err(ApiError::SignedOut) => {
                        renew_session().await?;
                        post(&body).await
                    }
                    other => other,
                }
            }
            renewed => {
                renewed?;
                post(&body).await
            }
        },
        other => other,
    }
}

thread_local! {
    /// What the app does when a request finds the session over for good (it could not be
    /// renewed): see [`when_signed_out`].
    static ON_SIGNED_OUT: HandlerSlot = const { RefCell::new(None) };
    /// What the app does when the session was renewed: see [`when_renewed`].
    static ON_RENEWED: HandlerSlot = const { RefCell::new(None) };
}

/// Where the app leaves what it does when the session changes.
type HandlerSlot = RefCell<Option<Box<dyn Fn()>>>;

/// Has `handler` run whenever the session was renewed (every quarter of an hour of use): the
/// session reads the member again, so a role changed elsewhere meanwhile (a demotion, a
/// promotion) shows in the menus without a reload.
pub fn when_renewed(handler: impl Fn() + 'static) {
    ON_RENEWED.with(|slot| *slot.borrow_mut() = Some(Box::new(handler)));
}

/// Tells the app the session was renewed, once the requests waiting on the renewal went on.
fn tell_renewed() {
    tell_later(&ON_RENEWED);
}

/// Runs the handler the app left in `slot`, once the code running now has finished.
fn tell_later(slot: &'static std::thread::LocalKey<HandlerSlot>) {
    leptos::prelude::set_timeout(
        move || {
            slot.with(|slot| {
                if let Some(handler) = slot.borrow().as_ref() {
                    handler();
                }
            });
        },
        std::time::Duration::ZERO,
    );
}

/// Has `handler` run whenever a request finds the session over for good (expired, ended by a
/// password reset or a removal from the team): the session forgets the member, and the pages
/// that need one send the user to sign in and back.
pub fn when_signed_out(handler: impl Fn() + 'static) {
    ON_SIGNED_OUT.with(|slot| *slot.borrow_mut() = Some(Box::new(handler)));
}

/// Runs an operation; an ended session is renewed once and the operation tried again. One that
/// cannot be renewed tells the app ([`when_signed_out`]).
pub async fn run<Q: GraphQLQuery>(variables: Q::Variables) -> Result<Q::ResponseData, ApiError>
where
    Q::ResponseData: DeserializeOwned,
{
    let data = match post_renewing(request_body::<Q>(variables)?).await {
        Err(ApiError::SignedOut) => return Err(signed_out()),
        answered => answered?,
    };
    response_data::<Q>(data)
}

/// Tells the app that the session is over for good ([`when_signed_out`]), once the request that
/// found it has its answer: telling the app may take the page that asked away, which must not
/// happen while it is still handling the answer.
fn signed_out() -> ApiError {
    tell_later(&ON_SIGNED_OUT);
    ApiError::SignedOut
}

/// Sends an operation that starts or ends a session (no renewal); its answer is not needed.
async fn send<Q: GraphQLQuery>(variables: Q::Variables) -> Result<(), ApiError> {
    post(&request_body::<Q>(variables)?).await.map(|_| ())
}

/// Signs in; the server sets the session cookies.
pub async fn sign_in(email: String, password: String) -> Result<(), ApiError> {
    send::<SignIn>(sign_in::Variables { email, password })
        .await
        .map_err(|error| match error {
            ApiError::SignedOut => ApiError::Server {
                code: Some("UNAUTHENTICATED".to_owned()),
                message: "That e-mail and password do not match.".to_owned(),
            },
            other => other,
        })
}

/// Confirms a sign-up with the code of its mail's link; the server creates the clinic and signs
/// its owner in (sets the session cookies).
pub async fn confirm_sign_up(token: String, password: String) -> Result<(), ApiError> {
    send::<ConfirmSignUp>(confirm_sign_up::Variables { token, password }).await
}

/// Asks for a password-reset link for `email`; `false` on a server that sends no mail (its
/// operator issues the links), else the mail is on its way whether or not the address has an
/// account.
pub async fn request_password_reset(email: String) -> Result<bool, ApiError> {
    let mode = run::<PasswordResetMode>(password_reset_mode::Variables).await?;
    if !mode.server_info.password_reset_by_mail {
        return Ok(false);
    }
    send::<RequestPasswordReset>(request_password_reset::Variables { email }).await?;
    Ok(true)
}

/// Chooses a new password with the code of a reset link; the server signs the account in to its
/// oldest clinic (sets the session cookies) and ends its other sessions.
pub async fn reset_password(token: String, new_password: String) -> Result<(), ApiError> {
    send::<ResetPassword>(reset_password::Variables {
        token,
        new_password,
    })
    .await
}

/// How a sign-up ended: signed in at once, or waiting for the address to be confirmed by mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignedUp {
    SignedIn,
    MailSent,
}

/// Signs a new clinic up: at once (the server sets the session cookies) on a server that sends
/// no mail, else by a request whose mail's link finishes it.
pub async fn sign_up(input: sign_up::SignUpInput) -> Result<SignedUp, ApiError> {
    let mode = run::<SignUpTerms>(sign_up_terms::Variables).await?;
    if mode.server_info.sign_up_confirms_by_mail {
        let input = request_sign_up::SignUpInput {
            clinic_name: input.clinic_name,
            kind: input.kind,
            time_zone: input.time_zone,
            default_region: input.default_region,
            currency: input.currency,
            owner_name: input.owner_name,
            owner_email: input.owner_email,
            password: input.password,
            accepted_terms: input.accepted_terms,
        };
        send::<RequestSignUp>(request_sign_up::Variables { input }).await?;
        return Ok(SignedUp::MailSent);
    }
    send::<SignUp>(sign_up::Variables { input }).await?;
    Ok(SignedUp::SignedIn)
}

/// Accepts an invitation with its one-time code: with the password of the account to create, or
/// with none to join from the account signed in now; the server signs them in to the clinic (sets
/// the session cookies).
pub async fn accept_invite(token: String, password: Option<String>) -> Result<(), ApiError> {
    send::<AcceptInvite>(accept_invite::Variables { token, password })
        .await
        .map_err(|error| match error {
            ApiError::Server { code, .. } if code.as_deref() == Some("NOT_FOUND") => {
                ApiError::Server {
                    code,
                    message: "This invitation cannot be used: it has expired, been used or been \
                          withdrawn. Ask for a new one."
                        .to_owned(),
                }
            }
            other => other,
        })
}

/// Signs out; the server clears the session cookies.
pub async fn sign_out() -> Result<(), ApiError> {
    send::<SignOut>(sign_out::Variables).await
}

/// A finished streamed download, held by the browser.
pub struct Downloaded {
    /// An object URL for a link to save it.
    pub href: String,
    pub lines: u64,
}

/// Keeps `content` in the browser as a file of `content_type`, for a link that saves it: an object
/// URL (a `data:` link of a large export fails in some browsers, past about 2 MB in Chromium).
pub fn file_href(content: &str, content_type: &str) -> Result<String, ApiError> {
    let failed = || ApiError::Network("the file could not be kept".to_owned());
    let parts = js_sys::Array::of1(&content.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(content_type);
    let blob =
        web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).map_err(|_| failed())?;
    web_sys::Url::create_object_url_with_blob(&blob).map_err(|_| failed())
}

/// Downloads `url` (same origin, by the session cookie) as it streams, telling `progress` how
/// many lines have arrived; keeps it in the browser as a blob of `content_type`.
pub async fn download_lines(
    url: &str,
    content_type: &str,
    progress: impl Fn(u64),
) -> Result<Downloaded, ApiError> {
    use wasm_bindgen::JsCast;
    let failed = |what: &str| ApiError::Network(what.to_owned());
    let get = || async {
        Request::get(url)
            .send()
            .await
            .map_err(|error| ApiError::Network(error.to_string()))
    };
    let mut response = get().await?;
    if response.status() == 401 {
        // The page may have sat for longer than a session's token lasts (a download is often the
        // first request after a while): renewed once, as a GraphQL request's is, and tried again.
        let _ = renew_session().await;
        response = get().await?;
    }
    match response.status() {
        200 => {}
        401 => return Err(signed_out()),
        status => {
            // The server says why in plain words (a period too long, a limit reached).
            let said = response.text().await.unwrap_or_default();
            let message = match said.trim() {
                "" => format!("the download was refused (HTTP {status})"),
                said => format!("the download was refused: {said}"),
            };
            return Err(ApiError::Server {
                code: None,
                message,
            });
        }
    }
    let stream = response
        .body()
        .ok_or_else(|| failed("the download is empty"))?;
    let reader: web_sys::ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let parts = js_sys::Array::new();
    let mut lines = 0;
    loop {
        let step = wasm_bindgen_futures::JsFuture::from(reader.read())
            .await
            .map_err(|_| failed("the download stopped part-way"))?;
        let done = js_sys::Reflect::get(&step, &"done".into())
            .ok()
            .and_then(|done| done.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        let chunk: js_sys::Uint8Array = js_sys::Reflect::get(&step, &"value".into())
            .map_err(|_| failed("an unreadable part"))?
            .unchecked_into();
        lines += chunk.to_vec().iter().filter(|byte| **byte == b'\n').count() as u64;
        progress(lines);
        parts.push(&chunk);
    }
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(content_type);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(|_| failed("the download could not be kept"))?;
    let href = web_sys::Url::create_object_url_with_blob(&blob)
        .map_err(|_| failed("the download could not be kept"))?;
    Ok(Downloaded { href, lines })
}
