//! The HTTP surface: health and readiness probes, the GraphQL endpoint (a console on GET, see
//! [`crate::console`]), security headers on every answer, and the
//! built dashboard as static files with a single-page-app fallback so that every route reloads.

use std::net::IpAddr;
use std::sync::Arc;

use async_graphql_poem::{GraphQLRequest, GraphQLResponse};
use poem::endpoint::StaticFilesEndpoint;
use poem::http::{HeaderMap, HeaderValue, StatusCode};
use poem::web::{Data, RemoteAddr};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response, Route, get, handler, post};

use crate::auth::client_address::TrustedProxies;
use crate::auth::request::{authenticate, is_json, refresh_cookie};
use crate::error::DomainError;
use crate::graphql::{RequestInfo, RingbackSchema, build_schema, execute};
use crate::security_headers::{SecurityHeaders, with_security_headers};
use crate::state::AppState;
use ringback_core::error::Limited;
use ringback_domain::auth::rate_limit::RateLimits;

/// Largest GraphQL request body accepted.
pub const MAX_GRAPHQL_BODY: usize = 256 * 1024;

/// Builds the whole application for `state`; the binary and the tests serve exactly this.
pub fn build_app(state: AppState) -> impl Endpoint {
    let schema = build_schema(state.backend.clone(), state.config.graphql_introspection);
    let graphql_route = get(crate::console::page).post(
        graphql_endpoint
            .around(|endpoint, request| limit_body(endpoint, request, MAX_GRAPHQL_BODY))
            .around(require_json),
    );
    let limits = state.rate_limits.clone();
    let proxies = state.config.trusted_proxies.clone();
    let index_html = std::fs::read_to_string(state.config.web_dir.join("index.html")).ok();
    let security_headers = Arc::new(SecurityHeaders::new(
        index_html.as_deref(),
        state.config.public_url.as_deref(),
    ));
    Route::new()
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz))
        .at("/graphql", graphql_route)
        .at("/graphql/console.js", get(crate::console::script))
        .at("/graphql/console.css", get(crate::console::style))
        .at("/export/:file", get(crate::download::download))
        .at("/webhooks/stripe", post(crate::webhooks::stripe::receive))
        .nest(
            ringback_providers::twilio::WEBHOOK_PREFIX,
            crate::webhooks::twilio::routes(),
        )
        .nest("/", dashboard(&state))
        .data(schema)
        .data(state)
        .around(move |endpoint, mut request| {
            let address = client_address(&proxies, request.remote_addr(), request.headers());
            // Worked out once per request; handlers that need it read it from here.
            request.extensions_mut().insert(ClientAddress(address));
            rate_limited(endpoint, request, address, limits.clone())
        })
        .around(move |endpoint, request| {
            with_security_headers(endpoint, request, security_headers.clone())
        })
}

/// The client's address as the rate limits saw it (see [`client_address`]).
#[derive(Clone, Copy)]
pub(crate) struct ClientAddress(pub(crate) Option<IpAddr>);

/// The client address of `request`, as the rate limits saw it.
pub(crate) fn address_of(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ClientAddress>()
        .and_then(|address| address.0)
}

/// Every request counts against its client address's limit (provider webhooks against theirs);
/// beyond it the answer is the one every limited request gets ([`limited`]).
async fn rate_limited<E: Endpoint>(
    endpoint: Arc<E>,
    request: Request,
    address: Option<IpAddr>,
    limits: Arc<RateLimits>,
) -> poem::Result<Response> {
    let webhook = request.uri().path().starts_with("/webhooks/");
    let allowed = if webhook {
        limits.webhook(address)
    } else {
        limits.request(address)
    };
    if let Err(error) = allowed {
        return Ok(limited_or_refused(&error));
    }
    endpoint
        .call(request)
        .await
        .map(IntoResponse::into_response)
}

/// An answer with `status` and a GraphQL-shaped body holding only `error` with its code, which
/// GraphQL clients and others both understand.
fn refusal(status: StatusCode, error: &DomainError) -> Response {
    let described = crate::error::to_graphql(error);
    let body = serde_json::json!({ "errors": [async_graphql::ServerError {
        extensions: described.extensions,
        ..async_graphql::ServerError::new(described.message, None)
    }] });
    (status, poem::web::Json(body)).into_response()
}

/// `error` as an answer outside GraphQL: the limited answer for a rate limit, else its status.
pub(crate) fn limited_or_refused(error: &DomainError) -> Response {
    match error {
        DomainError::RateLimited(limit) => {
            limited(refusal(StatusCode::TOO_MANY_REQUESTS, error), limit)
        }
        _ => refusal(crate::error::http_status(error), error),
    }
}

/// Makes `response` the answer every rate-limited request gets, whichever limit it met (client
/// address, API key, clinic, or a per-person limit inside GraphQL): HTTP 429 with `Retry-After`
/// and the `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` headers (the body holds
/// `extensions.code = RATE_LIMITED` with `retryAfter` and `limitPerMinute`).
fn limited(mut response: Response, limit: &Limited) -> Response {
    response.set_status(StatusCode::TOO_MANY_REQUESTS);
    let headers = response.headers_mut();
    let wait = HeaderValue::from(limit.retry_after_seconds);
    headers.insert("retry-after", wait.clone());
    headers.insert("ratelimit-limit", HeaderValue::from(limit.per_minute));
    headers.insert("ratelimit-remaining", HeaderValue::from(0_u32));
    headers.insert("ratelimit-reset", wait);
    response
}

/// The rate limit a GraphQL answer met, if any of its errors is `RATE_LIMITED`.
fn limit_met(response: &async_graphql::Response) -> Option<Limited> {
    response.errors.iter().find_map(|error| {
        let extensions = error.extensions.as_ref()?;
        let is_limited = matches!(extensions.get("code"),
            Some(async_graphql::Value::String(code)) if code == "RATE_LIMITED");
        let number = |name: &str| match extensions.get(name) {
            Some(async_graphql::Value::Number(number)) => number.as_u64(),
            _ => None,
        };
        is_limited.then(|| Limited {
            per_minute: number("limitPerMinute")
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(1),
            retry_after_seconds: number("retryAfter").unwrap_or(1),
        })
    })
}

/// The client's address: the socket's peer, or behind a trusted proxy the address it forwarded.
fn client_address(
    proxies: &TrustedProxies,
    remote: &RemoteAddr,
    headers: &HeaderMap,
) -> Option<IpAddr> {
    let peer = remote.as_socket_addr().map(|address| address.ip());
    if proxies.is_empty() && headers.contains_key("x-forwarded-for") {
        warn_of_an_untrusted_proxy(peer);
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok());
    proxies.client(peer, forwarded)
}

/// Says once, when a request forwarded by a proxy on a private network arrives and no proxy is
/// trusted, that every client then shares the proxy's rate limits (one client's failed sign-ins
/// would hold back everyone's).
fn warn_of_an_untrusted_proxy(peer: Option<IpAddr>) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let private = peer.is_some_and(|peer| match peer.to_canonical() {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unique_local(),
    });
    if private && !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::warn!(
            proxy = ?peer,
            "requests arrive through a proxy that RINGBACK_TRUSTED_PROXIES does not name: every \
             client shares its address, and so its rate limits; name the proxy there"
        );
    }
}

/// Refuses a GraphQL POST that is not `application/json` with 415: a form on another site can
/// only send `text/plain`, `application/x-www-form-urlencoded` or `multipart/form-data`, so this
/// keeps cross-site forms from running any operation (signing a victim in included).
async fn require_json<E: Endpoint>(endpoint: Arc<E>, request: Request) -> poem::Result<Response> {
    if !is_json(request.headers()) {
        let error = DomainError::BadUserInput(
            "GraphQL requests must be sent as Content-Type: application/json".to_owned(),
        );
        return Ok(refusal(StatusCode::UNSUPPORTED_MEDIA_TYPE, &error));
    }
    endpoint
        .call(request)
        .await
        .map(IntoResponse::into_response)
}

/// Reads the request body up to `limit` bytes, whether or not it declares its length, and answers
/// 413 beyond that; the endpoint then sees the buffered body.
pub(crate) async fn limit_body<E: Endpoint>(
    endpoint: Arc<E>,
    mut request: Request,
    limit: usize,
) -> poem::Result<Response> {
    let body = request.take_body().into_bytes_limit(limit).await?;
    request.set_body(body);
    endpoint
        .call(request)
        .await
        .map(IntoResponse::into_response)
}

/// The dashboard's static files, or a page explaining how to build it when they are missing.
fn dashboard(state: &AppState) -> poem::endpoint::BoxEndpoint<'static> {
    let dir = &state.config.web_dir;
    if dir.join("index.html").is_file() {
        StaticFilesEndpoint::new(dir)
            .index_file("index.html")
            .fallback_to_index()
            .boxed()
    } else {
        tracing::warn!(web_dir = %dir.display(), "dashboard not built; serving the API only");
        dashboard_missing.boxed()
    }
}

#[handler]
fn dashboard_missing() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "The Ringback dashboard has not been built. Run `cargo xtask run` from the repository root.",
    )
        .into_response()
}

#[handler]
fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers a ping.
#[handler]
async fn readyz(Data(state): Data<&AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => "ready".into_response(),
        Err(error) => {
            tracing::warn!(error = %error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// Executes a GraphQL request for the authenticated caller (or an anonymous one).
#[handler]
async fn graphql_endpoint(
    Data(state): Data<&AppState>,
    Data(schema): Data<&RingbackSchema>,
    Data(&ClientAddress(client_address)): Data<&ClientAddress>,
    headers: &HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let caller = match authenticate(&state.backend, headers) {
        Ok(caller) => caller,
        Err(error @ DomainError::RateLimited(_)) => return limited_or_refused(&error),
        Err(error) => return error_response(&error),
    };
    let info = RequestInfo {
        client_address,
        refresh_cookie: refresh_cookie(headers),
    };
    let answer = with_codes(execute(schema, request.0, caller, info).await);
    let limit = limit_met(&answer);
    let response = GraphQLResponse::from(answer).into_response();
    match limit {
        Some(limit) => limited(response, &limit),
        None => response,
    }
}

/// `answer` with an `extensions.code` on every error: those the server's own code raises carry
/// theirs; what GraphQL itself refuses before any resolver runs (a document that does not parse
/// or validate, a variable of the wrong type, a query nested too deep or too complex: errors
/// without a path) and an argument a field cannot read (a date out of range: async-graphql says
/// "Failed to parse" then the type) are the request's fault, `BAD_USER_INPUT`; anything else
/// without a code, raised in a field, is the server's, `INTERNAL`.
fn with_codes(mut answer: async_graphql::Response) -> async_graphql::Response {
    for error in &mut answer.errors {
        let unreadable_argument = error.message.starts_with("Failed to parse \"");
        let code = if error.path.is_empty() || unreadable_argument {
            "BAD_USER_INPUT"
        } else {
            "INTERNAL"
        };
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", code);
        }
    }
    answer
}

/// A GraphQL response holding only `error`, with its `extensions.code`.
fn error_response(error: &DomainError) -> Response {
    let server_error =
        crate::error::to_graphql(error).into_server_error(async_graphql::Pos::default());
    GraphQLResponse::from(async_graphql::Response::from_errors(vec![server_error])).into_response()
}
