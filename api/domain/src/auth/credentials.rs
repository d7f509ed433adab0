//! From a presented credential to a [`Caller`]: a dashboard session token or an integrator's
//! API key, checked against the database when first needed. The clinic comes from the verified
//! credential, never from request input; a session's role is re-read on every request
//! ([`Caller`]), so removals and role changes apply at once.

use ringback_core::db::DbError;
use ringback_core::error::DomainError;
use ringback_core::tenant::{TenantScope, TenantTxn};
use ringback_entity::api_key;
use ringback_shared::access::Role;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, Set};

use crate::auth::rate_limit::RateLimits;
use crate::auth::tokens::{self, PresentedToken, TokenKind};
use crate::auth::{ApiKeyScope, Caller, Credential, Principal};
use crate::backend::Backend;
use crate::doors;

/// How precisely an API key's last use is kept: integrators may call many times a second, and a
/// write per request would buy nothing.
const LAST_USED_RESOLUTION: chrono::Duration = chrono::Duration::minutes(1);

/// The caller behind session token `token`: nobody when the token is invalid or expired; else a
/// signed session whose membership is checked when first needed ([`Caller`]). Counted against
/// the clinic's rate limit.
pub fn session_caller(backend: &Backend, token: &str) -> Result<Caller, DomainError> {
    let Some(claims) = backend.session_keys.verify(token, backend.clock.now()) else {
        return Ok(Caller::nobody());
    };
    backend.rate_limits.clinic(claims.cid)?;
    let scope = doors::session(backend, &claims);
    Ok(Caller::signed_session(claims, scope))
}

/// The caller behind API key `presented`: `UNAUTHENTICATED` when it is not shaped like one; else
/// a presented key, checked when first needed ([`Caller`]): in the request's first tenant
/// transaction, or on its own.
pub fn api_key_caller(backend: &Backend, presented: &str) -> Result<Caller, DomainError> {
    let token = tokens::parse(TokenKind::ApiKey, presented).ok_or(DomainError::Unauthenticated)?;
    let scope = doors::presented_token(&backend.db, &backend.clock, &token);
    Ok(Caller::presented_key(
        token,
        scope,
        backend.rate_limits.clone(),
    ))
}

/// The principal behind API key `token`, looked up in `txn` (open in the token's clinic) and
/// counted against the key's and the clinic's rate limits (only once the key is known: a forged
/// key must not use up a clinic's allowance). An unknown, revoked or expired key is
/// `UNAUTHENTICATED`. Marks the key's last use, to the minute, and hands `txn` back acting for
/// the key, with whether it wrote that mark (then it must be committed whatever the request does).
pub(crate) async fn check_key(
    txn: TenantTxn,
    token: &PresentedToken,
    scope: &TenantScope,
    rate_limits: &RateLimits,
) -> Result<(TenantTxn, Principal, bool), DomainError> {
    let key = txn
        .find::<api_key::Entity>()
        .filter(api_key::Column::SecretHash.eq(token.hash.as_str()))
        .filter(api_key::Column::RevokedAt.is_null())
        .filter(
            api_key::Column::ExpiresAt
                .is_null()
                .or(api_key::Column::ExpiresAt.gt(txn.now())),
        )
        .one(txn.conn())
        .await
        .map_err(DbError::from)?
        .ok_or(DomainError::Unauthenticated)?;
    rate_limits.api_key(key.id)?;
    rate_limits.clinic(token.clinic_id)?;
    let key_scope = ApiKeyScope::parse(&key.scope)
        .ok_or_else(|| DomainError::Internal("unknown key scope".to_owned()))?;
    let key_id = key.id;
    let now = txn.now();
    let marks_use = key
        .last_used_at
        .is_none_or(|at| now - at >= LAST_USED_RESOLUTION);
    if marks_use {
        let mut used: api_key::ActiveModel = key.into();
        used.last_used_at = Set(Some(now));
        used.update(txn.conn()).await.map_err(DbError::from)?;
    }
    let principal = Principal {
        credential: Credential::ApiKey {
            key_id,
            scope: key_scope,
        },
        // Keys hold no team role; `Principal::require` decides by credential.
        role: Role::Receptionist,
        // What the key does is audited in its name.
        scope: scope.clone().acting_for_api_key(key_id),
    };
    Ok((txn.acting_for_api_key(key_id), principal, marks_use))
}
