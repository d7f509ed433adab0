//! Integrator API keys (admins): list, create (the secret is shown once), revoke.

use async_graphql::{ComplexObject, Context, Enum, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use ringback_entity::api_key;
use ringback_shared::access::Permission;

use crate::guard::{Access, uuid_arg, with_tenant};
use ringback_domain::Backend;
use ringback_domain::auth::ApiKeyScope;
use ringback_domain::service::api_keys;

/// What a key may do.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum KeyScope {
    /// Read calls, appointments and metrics (never conversations, their texts or the inbox).
    Read,
    /// Also push call events, log callbacks and create or change appointments.
    Write,
}

impl From<KeyScope> for ApiKeyScope {
    fn from(scope: KeyScope) -> Self {
        match scope {
            KeyScope::Read => Self::Read,
            KeyScope::Write => Self::Write,
        }
    }
}

/// An API key, without its secret.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct ApiKey {
    pub id: ID,
    pub name: String,
    pub scope: KeyScope,
    /// The first characters of the secret, to tell keys apart.
    pub hint: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the key stops working by itself; null for a key that lasts until revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

#[ComplexObject]
impl ApiKey {
    /// Requests the key may make per minute (`RINGBACK_RATE_LIMIT_PER_API_KEY`; its clinic's
    /// limit also applies); beyond it the answer is HTTP 429 with `Retry-After`.
    async fn rate_limit_per_minute(&self, ctx: &Context<'_>) -> async_graphql::Result<u32> {
        Ok(self.usage(ctx)?.0)
    }

    /// Requests made with the key in the current minute, on this server instance.
    async fn requests_this_minute(&self, ctx: &Context<'_>) -> async_graphql::Result<u32> {
        Ok(self.usage(ctx)?.1)
    }
}

impl ApiKey {
    /// The key's limit and this minute's requests, as this instance's rate limits count them.
    fn usage(&self, ctx: &Context<'_>) -> async_graphql::Result<(u32, u32)> {
        let key_id = uuid_arg(&self.id)?;
        Ok(ctx.data::<Backend>()?.rate_limits.api_key_usage(key_id))
    }
}

impl From<&api_key::Model> for ApiKey {
    fn from(model: &api_key::Model) -> Self {
        Self {
            id: ID(model.id.to_string()),
            name: model.name.clone(),
            scope: match ApiKeyScope::parse(&model.scope) {
                Some(ApiKeyScope::Write) => KeyScope::Write,
                _ => KeyScope::Read,
            },
            hint: model.prefix.clone(),
            created_at: model.created_at,
            last_used_at: model.last_used_at,
            revoked_at: model.revoked_at,
            expires_at: model.expires_at,
        }
    }
}

/// A new key and its secret, shown this once.
#[derive(SimpleObject)]
pub struct ApiKeyCreated {
    pub api_key: ApiKey,
    /// Send as `Authorization: Bearer <secret>`. It cannot be shown again.
    pub secret: String,
}

#[derive(Default)]
pub struct ApiKeyQuery;

#[Object]
impl ApiKeyQuery {
    /// The clinic's API keys.
    async fn api_keys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ApiKey>> {
        let keys = with_tenant(
            ctx,
            Access::Read(Permission::ManageApiKeys),
            async |txn, _| api_keys::list(txn).await,
        )
        .await?;
        Ok(keys.iter().map(ApiKey::from).collect())
    }
}

#[derive(Default)]
pub struct ApiKeyMutation;

#[Object]
impl ApiKeyMutation {
    /// Creates a key; its secret is in the answer and nowhere else. With `expiresInDays` (1 to
    /// 730) it stops working by itself that many days from now.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        name: String,
        scope: KeyScope,
        expires_in_days: Option<i32>,
    ) -> async_graphql::Result<ApiKeyCreated> {
        let created = with_tenant(
            ctx,
            Access::Write(Permission::ManageApiKeys),
            async |txn, principal| {
                api_keys::create(
                    txn,
                    principal.user_id()?,
                    &name,
                    scope.into(),
                    expires_in_days,
                )
                .await
            },
        )
        .await?;
        Ok(ApiKeyCreated {
            api_key: ApiKey::from(&created.key),
            secret: created.secret,
        })
    }

    /// Revokes a key; requests with it fail from now on.
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ApiKey> {
        let key = with_tenant(
            ctx,
            Access::Write(Permission::ManageApiKeys),
            async |txn, principal| {
                api_keys::revoke(txn, principal.user_id()?, uuid_arg(&id)?).await
            },
        )
        .await?;
        Ok(ApiKey::from(&key))
    }
}
