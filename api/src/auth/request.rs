//! Authenticates an HTTP request: an `Authorization: Bearer` API key, or the dashboard's session
//! cookie. A session cookie counts only on `application/json` requests, which another site's form
//! cannot send, so cookie-borne state changes cannot be forged cross-site.

use poem::http::HeaderMap;
use poem::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use ringback_domain::Backend;
use ringback_domain::auth::credentials::{api_key_caller, session_caller};

use crate::auth::Caller;
use crate::auth::session::{REFRESH_COOKIE, SESSION_COOKIE, cookie_value};
use crate::error::DomainError;

/// The refresh cookie, if the request carries one.
pub fn refresh_cookie(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(COOKIE)?.to_str().ok()?;
    cookie_value(cookies, REFRESH_COOKIE).map(str::to_owned)
}

/// Who is calling. A presented API key that is not shaped like one is an error; a missing or
/// stale session cookie just means "not signed in". Nothing is read from the database here: keys
/// and sessions are checked with the request's first transaction (see [`Caller`]). The session
/// cookie counts only on a JSON request, which a form on another site cannot send.
pub fn authenticate(backend: &Backend, headers: &HeaderMap) -> Result<Caller, DomainError> {
    caller(backend, headers, is_json(headers))
}

/// Who asks for a download (a plain `GET`): an API key, or the session cookie. Unlike GraphQL, no
/// JSON content type is asked for: a `GET` changes nothing a cross-site page could abuse, and the
/// cookie is `SameSite=Strict`, so another site's link arrives without it.
pub fn authenticate_download(
    backend: &Backend,
    headers: &HeaderMap,
) -> Result<Caller, DomainError> {
    caller(backend, headers, true)
}

/// The caller an API key presents, or (when `cookie_counts`) the session cookie.
fn caller(
    backend: &Backend,
    headers: &HeaderMap,
    cookie_counts: bool,
) -> Result<Caller, DomainError> {
    if let Some(bearer) = bearer_token(headers) {
        return api_key_caller(backend, bearer);
    }
    if !cookie_counts {
        return Ok(Caller::nobody());
    }
    let Some(token) = headers
        .get(COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|cookies| cookie_value(cookies, SESSION_COOKIE))
    else {
        return Ok(Caller::nobody());
    };
    session_caller(backend, token)
}

/// The token of an `Authorization: Bearer …` header; the scheme's name is case-insensitive, as
/// HTTP's are (`bearer …` is the same).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim_start();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Whether the request declares a JSON body (`application/json`, any parameters).
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("application/json")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value.parse().expect("a header value"));
        headers
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case() {
        for value in ["Bearer rk_live_1", "bearer rk_live_1", "BEARER  rk_live_1 "] {
            assert_eq!(
                bearer_token(&with_authorization(value)),
                Some("rk_live_1"),
                "{value}"
            );
        }
        assert_eq!(bearer_token(&with_authorization("Basic abc")), None);
        assert_eq!(bearer_token(&with_authorization("Bearer")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }
}
