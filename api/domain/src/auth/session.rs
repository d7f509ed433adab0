//! Dashboard sessions: a short-lived JWT (HS256) in a `__Host-` cookie that is HttpOnly, Secure and
//! SameSite=Strict, plus a rotating refresh token in a second such cookie. Cross-site requests never
//! carry these cookies, and cookie-authenticated GraphQL must be `application/json` (which a form on
//! another site cannot send), so state changes cannot be forged from another origin.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ringback_entity::user;
use ringback_shared::access::Role;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Name of the access-token cookie.
pub const SESSION_COOKIE: &str = "__Host-rb_session";
/// Name of the refresh-token cookie.
pub const REFRESH_COOKIE: &str = "__Host-rb_refresh";
/// Lifetime of an access token.
pub const ACCESS_TTL: Duration = Duration::minutes(15);
/// Absolute lifetime of a sign-in: each use of a refresh token replaces it, but the chain of
/// replacements ends this long after signing in.
pub const REFRESH_TTL: Duration = Duration::days(30);

/// Seconds a token stays valid past its `exp`, for clocks that disagree slightly.
const EXPIRY_LEEWAY_SECONDS: i64 = 5;

/// Claims inside the access token.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionClaims {
    /// The user.
    pub sub: Uuid,
    /// The clinic the session acts for.
    pub cid: Uuid,
    /// The role at issue time (the current role is re-read on every request).
    pub role: Role,
    /// The user's session version at issue time; a token of an older version no longer counts.
    #[serde(default)]
    pub ver: i32,
    /// The sign-in the token belongs to (its refresh-token family): signing it out ends the token
    /// at once. None for tokens issued before tokens named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<Uuid>,
    pub iat: i64,
    pub exp: i64,
}

/// Signs and checks access tokens with the deployment's session secret.
#[derive(Clone)]
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SessionKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// A signed access token for `user`'s sign-in `sign_in` (its refresh-token family; at the
    /// user's current session version) in `clinic_id`.
    pub fn issue(
        &self,
        user: &user::Model,
        (clinic_id, sign_in): (Uuid, Uuid),
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<String, String> {
        let claims = SessionClaims {
            sub: user.id,
            cid: clinic_id,
            role,
            ver: user.session_version,
            sid: Some(sign_in),
            iat: now.timestamp(),
            exp: (now + ACCESS_TTL).timestamp(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| e.to_string())
    }

    /// The claims of a token that is validly signed and unexpired at `now`; None otherwise.
    /// Expiry is judged against the server's clock (the same one that issued the token), not the
    /// library's reading of the system time.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Option<SessionClaims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<SessionClaims>(token, &self.decoding, &validation)
            .ok()?
            .claims;
        (now.timestamp() <= claims.exp + EXPIRY_LEEWAY_SECONDS).then_some(claims)
    }
}

/// A `Set-Cookie` value for `name` holding `value` for `max_age`.
pub fn set_cookie(name: &str, value: &str, max_age: Duration) -> String {
    format!(
        "{name}={value}; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age={}",
        max_age.num_seconds()
    )
}

/// A `Set-Cookie` value that deletes `name`.
pub fn clear_cookie(name: &str) -> String {
    format!("{name}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
}

/// The value of cookie `name` in a `Cookie` request header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_they_expire() {
        let keys = SessionKeys::new(&[7u8; 32]);
        let (clinic, sign_in) = (Uuid::now_v7(), Uuid::now_v7());
        let user = user::Model {
            id: Uuid::now_v7(),
            email: "user@clinic.test".to_owned(),
            display_name: "User".to_owned(),
            password_hash: String::new(),
            session_version: 3,
            terms_version: None,
            terms_accepted_at: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let token = keys
            .issue(&user, (clinic, sign_in), Role::Admin, Utc::now())
            .expect("issue");
        let claims = keys.verify(&token, Utc::now()).expect("valid");
        assert_eq!(
            (claims.sub, claims.cid, claims.role, claims.ver, claims.sid),
            (user.id, clinic, Role::Admin, 3, Some(sign_in))
        );

        let old = keys
            .issue(
                &user,
                (clinic, sign_in),
                Role::Admin,
                Utc::now() - ACCESS_TTL - Duration::minutes(1),
            )
            .expect("issue");
        assert!(keys.verify(&old, Utc::now()).is_none(), "expired");
        assert!(
            keys.verify(&token, Utc::now() + ACCESS_TTL + Duration::minutes(1))
                .is_none(),
            "expired by the server's clock"
        );
        assert!(
            SessionKeys::new(&[8u8; 32])
                .verify(&token, Utc::now())
                .is_none(),
            "other secret"
        );
        assert!(keys.verify("not.a.jwt", Utc::now()).is_none());
    }

    #[test]
    fn cookies_are_host_prefixed_strict_and_http_only() {
        let cookie = set_cookie(SESSION_COOKIE, "abc", ACCESS_TTL);
        assert!(
            cookie.starts_with("__Host-rb_session=abc; Path=/; HttpOnly; Secure; SameSite=Strict")
        );
        assert_eq!(
            cookie_value("a=1; __Host-rb_session=abc; b=2", SESSION_COOKIE),
            Some("abc")
        );
        assert_eq!(cookie_value("a=1", SESSION_COOKIE), None);
    }
}
