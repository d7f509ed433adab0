//! A fake of Google's token endpoint and Calendar API v3, as a service account meets them. The
//! token endpoint checks what Google checks: the JWT-bearer grant, an RS256 assertion signed by
//! the account's key (the fake made the key pair and writes the key file, [`FakeGoogle::key_file`]),
//! issued by the account, for this endpoint, unexpired, lasting at most an hour, asking known
//! scopes only. The Calendar API needs one of the tokens it issued, granting the scope the request
//! needs (`calendar.events` for events, `calendar.freebusy` for free/busy: 403
//! `insufficientPermissions` otherwise), answers only for calendars shared with the
//! account ([`FakeGoogle::share`]: 404 otherwise, 403 `requiredAccessLevel` for a write to a
//! calendar shared read-only), tells the account's access role and the calendar's description
//! ([`FakeGoogle::describe`]) in an events list, and keeps events as Google does: ids of base32hex
//! chosen by the caller, a create with a taken id (live or deleted) is 409 `duplicate`, an update
//! (`PATCH`, the fields sent replace those stored, others stay) or delete of an unknown one 404, a
//! delete of a deleted one 410, and an update of a deleted one restores it when it sets `status`
//! to `confirmed` (410 otherwise). Its free/busy query answers each calendar asked with the
//! times its live events take (those marked `transparent` left out), clipped to the query's
//! window and merged where they touch, or `notFound` for one not shared with the account; events
//! staff made in Google are added with [`FakeGoogle::block`]. Failures can be scripted
//! ([`FakeGoogle::fail_next`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use base64::Engine;
use poem::http::{HeaderMap, StatusCode};
use poem::web::{Data, Form, Json, Query};
use poem::{EndpointExt, IntoResponse, Response, Route, handler, post};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::google::{EVENTS_SCOPE, FREE_BUSY_SCOPE, JWT_GRANT, valid_event_id};

/// The fake service account's address.
pub const CLIENT_EMAIL: &str = "ringback-calendar@ringback-fake.iam.gserviceaccount.com";

/// One key pair for every fake of a test process: making an RSA key takes a while.
fn key_pair() -> &'static rsa::RsaPrivateKey {
    static KEY: OnceLock<rsa::RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("an RSA key pair")
    })
}

/// An event as the fake keeps it.
#[derive(Clone, Debug)]
enum Stored {
    Live(Value),
    Deleted,
}

struct Shared {
    token_uri: String,
    decoding: jsonwebtoken::DecodingKey,
    /// Each token issued, with the scopes it grants.
    tokens: Mutex<HashMap<String, Vec<String>>>,
    access: Mutex<HashMap<String, &'static str>>,
    descriptions: Mutex<HashMap<String, String>>,
    events: Mutex<BTreeMap<(String, String), Stored>>,
    failures: Mutex<VecDeque<u16>>,
    requests: Mutex<Vec<String>>,
}

/// The fake, serving on a local port until dropped.
pub struct FakeGoogle {
    shared: Arc<Shared>,
    base_url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGoogle {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeGoogle {
    /// Starts the fake on a free local port.
    pub async fn start() -> std::io::Result<Self> {
        let public = key_pair().to_public_key();
        let component =
            |bytes: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let decoding = jsonwebtoken::DecodingKey::from_rsa_components(
            &component(public.n().to_bytes_be()),
            &component(public.e().to_bytes_be()),
        )
        .map_err(std::io::Error::other)?;
        let (acceptor, base_url) = super::listen("127.0.0.1:0").await?;
        let shared = Arc::new(Shared {
            token_uri: format!("{base_url}/token"),
            decoding,
            tokens: Mutex::new(HashMap::new()),
            access: Mutex::new(HashMap::new()),
            descriptions: Mutex::new(HashMap::new()),
            events: Mutex::new(BTreeMap::new()),
            failures: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
        });
        let routes = Route::new()
            .at("/token", post(issue_token))
            .at(
                "/calendar/v3/calendars/:calendar/events",
                poem::get(list_events).post(create_event),
            )
            .at(
                "/calendar/v3/calendars/:calendar/events/:event",
                poem::patch(update_event).delete(delete_event),
            )
            .at("/calendar/v3/freeBusy", post(free_busy))
            .data(shared.clone());
        let server = super::serve(acceptor, routes);
        Ok(Self {
            shared,
            base_url,
            server,
        })
    }

    /// The base URL to configure as `RINGBACK_GOOGLE_CALENDAR_API_URL`.
    pub fn api_url(&self) -> &str {
        &self.base_url
    }

    /// Writes the service account's key file (its `token_uri` this fake's) into `dir`; the path
    /// to configure as `RINGBACK_GOOGLE_SERVICE_ACCOUNT_FILE`.
    pub fn key_file(&self, dir: &Path) -> std::io::Result<PathBuf> {
        let pem = key_pair()
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(std::io::Error::other)?;
        let key = json!({
            "type": "service_account",
            "project_id": "ringback-fake",
            "private_key_id": "fake-key-1",
            "private_key": pem.as_str(),
            "client_email": CLIENT_EMAIL,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.shared.token_uri,
        });
        let path = dir.join("google-service-account.json");
        std::fs::write(&path, key.to_string())?;
        Ok(path)
    }

    /// Shares `calendar` with the account: `writer` (make changes to events) or `reader`.
    pub fn share(&self, calendar: &str, role: &'static str) {
        lock(&self.shared.access).insert(calendar.to_owned(), role);
    }

    /// Sets the description of `calendar`, as its owner would in Google Calendar's settings.
    pub fn describe(&self, calendar: &str, description: &str) {
        lock(&self.shared.descriptions).insert(calendar.to_owned(), description.to_owned());
    }

    /// Adds `note` to event `id` of `calendar`, as staff would in Google Calendar.
    pub fn add_note(&self, calendar: &str, id: &str, note: &str) {
        if let Some(Stored::Live(event)) =
            lock(&self.shared.events).get_mut(&(calendar.to_owned(), id.to_owned()))
        {
            event["location"] = Value::String(note.to_owned());
        }
    }

    /// Adds an event of `calendar` from `start` to `end` (RFC 3339), as its owner would make one
    /// in Google Calendar: busy time, unless `shown_as_free` (Google's "transparent").
    pub fn block(&self, calendar: &str, (start, end): (&str, &str), shown_as_free: bool) {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let event = json!({
            "id": id,
            "status": "confirmed",
            "summary": "Dentist (personal)",
            "start": { "dateTime": start },
            "end": { "dateTime": end },
            "transparency": if shown_as_free { "transparent" } else { "opaque" },
        });
        lock(&self.shared.events).insert((calendar.to_owned(), id), Stored::Live(event));
    }

    /// The live events of `calendar`, each with its `id`, in id order.
    pub fn events(&self, calendar: &str) -> Vec<Value> {
        lock(&self.shared.events)
            .iter()
            .filter(|((held_in, _), _)| held_in == calendar)
            .filter_map(|(_, stored)| match stored {
                Stored::Live(event) => Some(event.clone()),
                Stored::Deleted => None,
            })
            .collect()
    }

    /// Answers the next Calendar API requests with these statuses (and Google's error body).
    pub fn fail_next(&self, statuses: impl IntoIterator<Item = u16>) {
        lock(&self.shared.failures).extend(statuses);
    }

    /// The Calendar API requests so far, as `METHOD /path`.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.shared.requests).clone()
    }
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: String,
    assertion: String,
}

#[derive(Deserialize)]
struct AssertionClaims {
    scope: String,
    iat: i64,
    exp: i64,
}

/// Google takes an assertion for at most an hour, issued no later than a minute from now.
fn lasts_as_google_allows(claims: &AssertionClaims) -> bool {
    let now = chrono::Utc::now().timestamp();
    claims.iat <= now + 60 && claims.exp > claims.iat && claims.exp - claims.iat <= 3600
}

#[handler]
fn issue_token(shared: Data<&Arc<Shared>>, Form(request): Form<TokenRequest>) -> Response {
    let refuse = |description: &str| {
        let body = json!({ "error": "invalid_grant", "error_description": description });
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    };
    if request.grant_type != JWT_GRANT {
        return refuse("Invalid grant_type.");
    }
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[&shared.token_uri]);
    validation.set_issuer(&[CLIENT_EMAIL]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let claims = match jsonwebtoken::decode::<AssertionClaims>(
        &request.assertion,
        &shared.decoding,
        &validation,
    ) {
        Ok(data) => data.claims,
        Err(_) => return refuse("Invalid JWT Signature."),
    };
    let scopes: Vec<String> = claims.scope.split_whitespace().map(str::to_owned).collect();
    let known = [EVENTS_SCOPE, FREE_BUSY_SCOPE];
    if scopes.is_empty() || scopes.iter().any(|scope| !known.contains(&scope.as_str())) {
        return refuse("Invalid OAuth scope or ID token audience provided.");
    }
    if !lasts_as_google_allows(&claims) {
        return refuse(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
        );
    }
    let token = format!("ya29.fake-{}", uuid::Uuid::new_v4().simple());
    lock(&shared.tokens).insert(token.clone(), scopes);
    Json(json!({ "access_token": token, "expires_in": 3599, "token_type": "Bearer" }))
        .into_response()
}

/// A refusal the Calendar API answers with: its status, Google's reason and message.
struct Refusal(u16, &'static str, &'static str);

impl Refusal {
    fn response(self) -> Response {
        google_error(self.0, self.1, self.2)
    }
}

/// Google's error answer with `status` and `reason`.
fn google_error(status: u16, reason: &str, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({
        "error": {
            "code": status,
            "message": message,
            "errors": [{ "domain": "global", "reason": reason, "message": message }],
        }
    });
    (code, Json(body)).into_response()
}

/// What every Calendar API request meets first (recorded as `request`): a token granting `scope`,
/// a scripted failure.
fn admit_request(
    shared: &Shared,
    headers: &HeaderMap,
    request: String,
    scope: &str,
) -> Result<(), Refusal> {
    lock(&shared.requests).push(request);
    let token = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let granted = token.and_then(|token| lock(&shared.tokens).get(token).cloned());
    let Some(granted) = granted else {
        return Err(Refusal(
            401,
            "authError",
            "Request had invalid authentication credentials.",
        ));
    };
    if !granted.iter().any(|held| held == scope) {
        return Err(Refusal(
            403,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        ));
    }
    if let Some(status) = lock(&shared.failures).pop_front() {
        return Err(Refusal(status, "backendError", "Backend Error"));
    }
    Ok(())
}

/// What every events request meets: [`admit_request`], then the calendar's sharing (`write`:
/// whether the request changes events). The calendar's role when it may go on.
fn admit(
    shared: &Shared,
    headers: &HeaderMap,
    request: String,
    calendar: &str,
    write: bool,
) -> Result<&'static str, Refusal> {
    admit_request(shared, headers, request, EVENTS_SCOPE)?;
    let role = lock(&shared.access).get(calendar).copied();
    match role {
        None => Err(Refusal(404, "notFound", "Not Found")),
        Some("reader") if write => Err(Refusal(
            403,
            "requiredAccessLevel",
            "You need to have writer access to this calendar.",
        )),
        Some(role) => Ok(role),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    fields: Option<String>,
}

#[handler]
fn list_events(
    shared: Data<&Arc<Shared>>,
    headers: &HeaderMap,
    poem::web::Path(calendar): poem::web::Path<String>,
    Query(query): Query<ListQuery>,
) -> Response {
    let request = format!("GET /calendar/v3/calendars/{calendar}/events");
    let role = match admit(&shared, headers, request, &calendar, false) {
        Ok(role) => role,
        Err(refused) => return refused.response(),
    };
    let description = lock(&shared.descriptions)
        .get(&calendar)
        .cloned()
        .unwrap_or_default();
    if query.fields.as_deref() == Some("accessRole,description") {
        return Json(json!({ "accessRole": role, "description": description })).into_response();
    }
    let items: Vec<Value> = lock(&shared.events)
        .iter()
        .filter(|((held_in, _), _)| *held_in == calendar)
        .filter_map(|(_, stored)| match stored {
            Stored::Live(event) => Some(event.clone()),
            Stored::Deleted => None,
        })
        .collect();
    Json(
        json!({ "kind": "calendar#events", "accessRole": role, "description": description,
                 "items": items }),
    )
    .into_response()
}

/// An event body as Google takes it: a start and an end with RFC 3339 times, the end after the
/// start. The problem's response otherwise.
fn checked_event(mut event: Value, id: &str) -> Result<Value, Refusal> {
    let time = |edge: &str| {
        event[edge]["dateTime"]
            .as_str()
            .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
    };
    match (time("start"), time("end")) {
        (Some(start), Some(end)) if end > start => {}
        (Some(_), Some(_)) => {
            return Err(Refusal(
                400,
                "timeRangeEmpty",
                "The specified time range is empty.",
            ));
        }
        _ => return Err(Refusal(400, "required", "Missing end time.")),
    }
    event["id"] = Value::String(id.to_owned());
    event["status"] = Value::String("confirmed".to_owned());
    Ok(event)
}

#[handler]
fn create_event(
    shared: Data<&Arc<Shared>>,
    headers: &HeaderMap,
    poem::web::Path(calendar): poem::web::Path<String>,
    Json(event): Json<Value>,
) -> Response {
    let request = format!("POST /calendar/v3/calendars/{calendar}/events");
    if let Err(refused) = admit(&shared, headers, request, &calendar, true) {
        return refused.response();
    }
    let Some(id) = event["id"].as_str().map(str::to_owned) else {
        return google_error(400, "required", "Missing id.");
    };
    if !valid_event_id(&id) {
        return google_error(400, "invalid", "Invalid resource id value.");
    }
    let event = match checked_event(event, &id) {
        Ok(event) => event,
        Err(problem) => return problem.response(),
    };
    let mut events = lock(&shared.events);
    let key = (calendar, id);
    if events.contains_key(&key) {
        return google_error(409, "duplicate", "The requested identifier already exists.");
    }
    events.insert(key, Stored::Live(event.clone()));
    Json(event).into_response()
}

#[handler]
fn update_event(
    shared: Data<&Arc<Shared>>,
    headers: &HeaderMap,
    poem::web::Path((calendar, id)): poem::web::Path<(String, String)>,
    Json(change): Json<Value>,
) -> Response {
    let request = format!("PATCH /calendar/v3/calendars/{calendar}/events/{id}");
    if let Err(refused) = admit(&shared, headers, request, &calendar, true) {
        return refused.response();
    }
    let restores = change["status"] == "confirmed";
    let mut events = lock(&shared.events);
    let Some(stored) = events.get_mut(&(calendar, id.clone())) else {
        return google_error(404, "notFound", "Not Found");
    };
    let mut event = match stored {
        Stored::Live(event) => event.clone(),
        Stored::Deleted if restores => json!({}),
        Stored::Deleted => return google_error(410, "deleted", "Resource has been deleted"),
    };
    if let (Some(fields), Some(changed)) = (event.as_object_mut(), change.as_object()) {
        fields.extend(changed.clone());
    }
    let event = match checked_event(event, &id) {
        Ok(event) => event,
        Err(problem) => return problem.response(),
    };
    *stored = Stored::Live(event.clone());
    Json(event).into_response()
}

#[handler]
fn delete_event(
    shared: Data<&Arc<Shared>>,
    headers: &HeaderMap,
    poem::web::Path((calendar, id)): poem::web::Path<(String, String)>,
) -> Response {
    let request = format!("DELETE /calendar/v3/calendars/{calendar}/events/{id}");
    if let Err(refused) = admit(&shared, headers, request, &calendar, true) {
        return refused.response();
    }
    let mut events = lock(&shared.events);
    match events.get_mut(&(calendar, id)) {
        Some(stored @ Stored::Live(_)) => {
            *stored = Stored::Deleted;
            StatusCode::NO_CONTENT.into_response()
        }
        Some(Stored::Deleted) => google_error(410, "deleted", "Resource has been deleted"),
        None => google_error(404, "notFound", "Not Found"),
    }
}

#[derive(Deserialize)]
struct FreeBusyQuery {
    #[serde(rename = "timeMin")]
    time_min: String,
    #[serde(rename = "timeMax")]
    time_max: String,
    #[serde(default)]
    items: Vec<FreeBusyItem>,
}

#[derive(Deserialize)]
struct FreeBusyItem {
    id: String,
}

type Moment = chrono::DateTime<chrono::FixedOffset>;

/// `moment` as Google writes free/busy times: RFC 3339 in UTC.
fn google_time(moment: Moment) -> String {
    moment
        .to_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[handler]
fn free_busy(
    shared: Data<&Arc<Shared>>,
    headers: &HeaderMap,
    Json(query): Json<FreeBusyQuery>,
) -> Response {
    let request = "POST /calendar/v3/freeBusy".to_owned();
    if let Err(refused) = admit_request(&shared, headers, request, FREE_BUSY_SCOPE) {
        return refused.response();
    }
    let parse = |text: &str| chrono::DateTime::parse_from_rfc3339(text).ok();
    let window = match (parse(&query.time_min), parse(&query.time_max)) {
        (Some(from), Some(to)) if to > from => (from, to),
        (Some(_), Some(_)) => {
            return google_error(400, "timeRangeEmpty", "The specified time range is empty.");
        }
        _ => return google_error(400, "badRequest", "Bad Request"),
    };
    let mut calendars = serde_json::Map::new();
    for item in &query.items {
        let answer = if lock(&shared.access).contains_key(&item.id) {
            let busy: Vec<Value> = busy_in(&shared, &item.id, window)
                .into_iter()
                .map(|(start, end)| json!({ "start": google_time(start), "end": google_time(end) }))
                .collect();
            json!({ "busy": busy })
        } else {
            json!({ "errors": [{ "domain": "global", "reason": "notFound" }], "busy": [] })
        };
        calendars.insert(item.id.clone(), answer);
    }
    Json(json!({
        "kind": "calendar#freeBusy",
        "timeMin": query.time_min,
        "timeMax": query.time_max,
        "calendars": calendars,
    }))
    .into_response()
}

/// The times `calendar`'s live, busy events take within `window`, clipped to it, sorted and
/// merged where they touch or overlap.
fn busy_in(shared: &Shared, calendar: &str, (from, to): (Moment, Moment)) -> Vec<(Moment, Moment)> {
    let time = |event: &Value, edge: &str| {
        event[edge]["dateTime"]
            .as_str()
            .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
    };
    let mut spans: Vec<(Moment, Moment)> = lock(&shared.events)
        .iter()
        .filter(|((held_in, _), _)| held_in == calendar)
        .filter_map(|(_, stored)| match stored {
            Stored::Live(event) if event["transparency"] != "transparent" => {
                Some((time(event, "start")?, time(event, "end")?))
            }
            _ => None,
        })
        .filter(|(start, end)| *start < to && *end > from)
        .map(|(start, end)| (start.max(from), end.min(to)))
        .collect();
    spans.sort();
    let mut merged: Vec<(Moment, Moment)> = Vec::new();
    for (start, end) in spans {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}
