//! Integrator API keys: created by admins, shown once, stored as hashes, scoped `read` or `write`,
//! with their last use, revocable. A key lasts only while whoever made it (and so may hold its
//! secret) may still manage keys: leaving the clinic, deleting the account, or a role without
//! that right revokes the keys they made ([`lapse_keys_of`]).

use ringback_entity::api_key;
use ringback_shared::access::{Permission, Role};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use uuid::Uuid;

use crate::auth::ApiKeyScope;
use crate::auth::tokens::{self, TokenKind};
use crate::service::audit::{self, AuditEvent};
use crate::service::{in_clinic, team};
use ringback_core::error::DomainError;
use ringback_core::tenant::TenantTxn;

/// A key just created; `secret` is shown once and never stored.
pub struct NewApiKey {
    pub key: api_key::Model,
    pub secret: String,
}

/// Every key of the clinic, newest first (revoked ones included, marked).
pub async fn list(txn: &TenantTxn) -> Result<Vec<api_key::Model>, DomainError> {
    Ok(txn
        .find::<api_key::Entity>()
        .order_by_desc(api_key::Column::CreatedAt)
        .all(txn.conn())
        .await?)
}

/// The longest expiry a key may be given (two years).
pub const MAX_KEY_DAYS: i32 = 730;

/// Creates a key named `name` with `scope` for `actor`, who must still be allowed to manage keys
/// as it is stored (read under the clinic's lock).
pub async fn create(
    txn: &TenantTxn,
    actor: Uuid,
    name: &str,
    scope: ApiKeyScope,
    expires_in_days: Option<i32>,
) -> Result<NewApiKey, DomainError> {
    let expires_at = match expires_in_days {
        None => None,
        Some(days) if (1..=MAX_KEY_DAYS).contains(&days) => {
            Some(txn.now() + chrono::Duration::days(i64::from(days)))
        }
        Some(_) => {
            return Err(DomainError::BadUserInput(format!(
                "a key may expire in 1 to {MAX_KEY_DAYS} days, or never"
            )));
        }
    };
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(DomainError::BadUserInput(
            "a key name of 1 to 80 characters is required".to_owned(),
        ));
    }
    // Under the clinic's lock, which a removal, demotion or account deletion takes before it
    // revokes the member's keys: a maker who may no longer manage keys makes none.
    txn.lock_clinic().await?;
    team::role_now_allowing(txn, actor, Permission::ManageApiKeys).await?;
    let token = tokens::issue(TokenKind::ApiKey, txn.clinic_id());
    let hint = tokens::parse(TokenKind::ApiKey, &token.value)
        .map(|t| t.hint)
        .unwrap_or_default();
    let key = api_key::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        id: Set(Uuid::now_v7()),
        name: Set(name.to_owned()),
        scope: Set(scope.as_str().to_owned()),
        prefix: Set(hint),
        secret_hash: Set(token.hash),
        created_by: Set(actor),
        last_used_at: Set(None),
        revoked_at: Set(None),
        expires_at: Set(expires_at),
        created_at: Set(txn.now()),
    }
    .insert(txn.conn())
    .await?;
    audit::append(
        txn,
        AuditEvent {
            actor: Some(actor),
            action: "api_key.created",
            detail: json!({ "key": key.id, "scope": scope.as_str(), "expiresAt": key.expires_at }),
        },
    )
    .await?;
    Ok(NewApiKey {
        key,
        secret: token.value,
    })
}

/// Revokes a key; it stops working at once. A key revoked before is answered as it is: its
/// revocation time stays the first (what an incident's timeline needs), with no second entry.
pub async fn revoke(
    txn: &TenantTxn,
    actor: Uuid,
    key_id: Uuid,
) -> Result<api_key::Model, DomainError> {
    let key = in_clinic::<api_key::Entity>(txn, key_id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    let mut revoked: api_key::ActiveModel = key.into();
    revoked.revoked_at = Set(Some(txn.now()));
    let key = revoked.update(txn.conn()).await?;
    audit::append(
        txn,
        AuditEvent {
            actor: Some(actor),
            action: "api_key.revoked",
            detail: json!({ "key": key_id }),
        },
    )
    .await?;
    Ok(key)
}

/// Revokes the working keys `creator` made, now that their role in the clinic is `now_role`
/// (`None`: they left it) and it does not let them manage keys; how many. The change's own audit
/// entry (role changed, member removed, account deleted) records the count.
pub async fn lapse_keys_of(
    txn: &TenantTxn,
    creator: Uuid,
    now_role: Option<Role>,
) -> Result<u64, DomainError> {
    if now_role.is_some_and(|role| role.allows(Permission::ManageApiKeys)) {
        return Ok(0);
    }
    let revoked = txn
        .update_many::<api_key::Entity>()
        .col_expr(api_key::Column::RevokedAt, Expr::value(txn.now()))
        .filter(api_key::Column::CreatedBy.eq(creator))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(txn.conn())
        .await?;
    Ok(revoked.rows_affected)
}
