//! Authentication and authorisation: who is calling (a dashboard session or an integrator's API
//! key), for which clinic, with which role, and the guards resolvers use. The clinic always comes
//! from here, never from request input.

pub mod caller;
pub mod credentials;
pub mod password;
pub mod rate_limit;
pub mod session;
pub mod tokens;

use ringback_shared::access::{Permission, Role};
use uuid::Uuid;

use ringback_core::error::DomainError;
use ringback_core::tenant::TenantScope;

pub use caller::Caller;

/// How the caller proved who they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// A dashboard user with a valid session cookie.
    Session { user_id: Uuid },
    /// An integrator's API key.
    ApiKey { key_id: Uuid, scope: ApiKeyScope },
}

/// What an API key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiKeyScope {
    Read,
    Write,
}

impl ApiKeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            _ => None,
        }
    }
}

/// An authenticated caller and the clinic they act for.
#[derive(Clone)]
pub struct Principal {
    pub credential: Credential,
    pub role: Role,
    pub scope: TenantScope,
}

impl Principal {
    /// The signed-in user, for actions only people may take.
    pub fn user_id(&self) -> Result<Uuid, DomainError> {
        match self.credential {
            Credential::Session { user_id } => Ok(user_id),
            Credential::ApiKey { .. } => Err(DomainError::Forbidden),
        }
    }

    /// The user to record in the audit log, if the caller is a person.
    pub fn actor(&self) -> Option<Uuid> {
        self.user_id().ok()
    }

    /// Fails unless the caller's role grants `permission`; API keys hold no team permissions.
    pub fn require(&self, permission: Permission) -> Result<&TenantScope, DomainError> {
        let allowed = match self.credential {
            Credential::Session { .. } => self.role.allows(permission),
            Credential::ApiKey { .. } => permission == Permission::WorkCalls,
        };
        if allowed {
            Ok(&self.scope)
        } else {
            Err(DomainError::Forbidden)
        }
    }

    /// Fails unless the caller may change data (a session, or a `write` key).
    pub fn require_write(&self, permission: Permission) -> Result<&TenantScope, DomainError> {
        if let Credential::ApiKey {
            scope: ApiKeyScope::Read,
            ..
        } = self.credential
        {
            return Err(DomainError::Forbidden);
        }
        self.require(permission)
    }
}
