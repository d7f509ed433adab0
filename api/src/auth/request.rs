//! Authenticates an HTTP request: an `Authorization: Bearer` API key, or the dashboard's session
//! cookie. A session cookie counts only on `application/json` requests, which another site's form
//! cannot send, so cookie-borne state changes cannot be forged cross-site.

use poem::http::HeaderMap;
use poem::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use ringback_entity::api_key;
use ringback_shared::access::Role;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::auth::session::{REFRESH_COOKIE, SESSION_COOKIE, cookie_value};
use crate::auth::tokens::{self, TokenKind};
use crate::auth::{ApiKeyScope, Caller, Credential, Principal};
use crate::db::DbError;
use crate::error::ApiError;
use crate::service::account::current_role;
use crate::state::AppState;

/// How precisely an API key's last use is kept: integrators may call many times a second, and a
/// write per request would buy nothing.
const LAST_USED_RESOLUTION: chrono::Duration = chrono::Duration::minutes(1);

/// The refresh cookie, if the request carries one.
pub fn refresh_cookie(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(COOKIE)?.to_str().ok()?;
    cookie_value(cookies, REFRESH_COOKIE).map(str::to_owned)
}

/// Who is calling. A presented but invalid API key is an error; a missing or stale session cookie
/// just means "not signed in".
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    if let Some(bearer) = bearer_token(headers) {
        return api_key_principal(state, bearer)
            .await
            .map(|p| Caller(Some(p)));
    }
    if !is_json(headers) {
        return Ok(Caller(None));
    }
    let Some(token) = headers
        .get(COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|cookies| cookie_value(cookies, SESSION_COOKIE))
    else {
        return Ok(Caller(None));
    };
    let Some(claims) = state.session_keys.verify(token, state.clock.now()) else {
        return Ok(Caller(None));
    };
    let scope = state.tenant(claims.cid);
    let txn = scope.begin().await?;
    // The role is re-read on every request, so removals and role changes apply at once.
    let role = current_role(&txn, claims.sub).await?;
    txn.commit().await?;
    Ok(Caller(role.map(|role| Principal {
        credential: Credential::Session {
            user_id: claims.sub,
        },
        role,
        scope,
    })))
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn is_json(headers: &HeaderMap) -> bool {
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

async fn api_key_principal(state: &AppState, presented: &str) -> Result<Principal, ApiError> {
    let token = tokens::parse(TokenKind::ApiKey, presented).ok_or(ApiError::Unauthenticated)?;
    let scope = state.tenant(token.clinic_id);
    let txn = scope.begin().await?;
    let key = api_key::Entity::find()
        .filter(api_key::Column::ClinicId.eq(txn.clinic_id()))
        .filter(api_key::Column::SecretHash.eq(token.hash))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(txn.conn())
        .await
        .map_err(DbError::from)?
        .ok_or(ApiError::Unauthenticated)?;
    state.rate_limits.api_key(key.id)?;
    let key_scope = ApiKeyScope::parse(&key.scope)
        .ok_or_else(|| ApiError::Internal("unknown key scope".to_owned()))?;
    let key_id = key.id;
    let now = state.clock.now();
    if key
        .last_used_at
        .is_none_or(|at| now - at >= LAST_USED_RESOLUTION)
    {
        let mut used: api_key::ActiveModel = key.into();
        used.last_used_at = Set(Some(now));
        used.update(txn.conn()).await.map_err(DbError::from)?;
    }
    txn.commit().await?;
    Ok(Principal {
        credential: Credential::ApiKey {
            key_id,
            scope: key_scope,
        },
        // Keys hold no team role; `Principal::require` decides by credential.
        role: Role::Receptionist,
        scope,
    })
}
