//! The caller as resolvers see it: nobody, a session token whose signature and expiry hold, or an
//! API key shaped like one; neither is checked against the database yet. The check runs once per
//! request, in the request's first tenant transaction ([`Caller::begin`]: a session's membership
//! is its first statement, a key's lookup, rate limits and last use run before the work, so no
//! transaction of its own), or on its own when something asks for the principal before any
//! transaction ([`Caller::principal`]). Every way to the principal goes through the check; a
//! removed member, an ended session or a revoked key is `UNAUTHENTICATED` either way.

use std::sync::{Arc, Mutex, PoisonError};

use ringback_core::error::DomainError;
use ringback_core::tenant::{StoredMember, TenantScope, TenantTxn};
use ringback_shared::access::Role;
use tokio::sync::OnceCell;

use crate::auth::credentials::check_key;
use crate::auth::rate_limit::RateLimits;
use crate::auth::session::SessionClaims;
use crate::auth::tokens::PresentedToken;
use crate::auth::{Credential, Principal};

/// Who is calling, shared by everything one request runs (resolvers, loaders).
#[derive(Clone, Default)]
pub struct Caller(Arc<Presented>);

/// What the request presented.
#[derive(Default)]
#[allow(clippy::large_enum_variant)]
enum Presented {
    /// No credential, or a session token that is invalid or expired.
    #[default]
    Nobody,
    /// A signed, unexpired session token.
    Session(SignedSession),
    /// An integrator's API key.
    Key(PresentedKey),
}

/// A signed session token and, once checked, what its membership says.
struct SignedSession {
    claims: SessionClaims,
    /// The token's clinic.
    scope: TenantScope,
    /// The principal (`None`: the session no longer counts), once the membership was read.
    checked: OnceCell<Option<Principal>>,
}

/// A presented API key and, once checked, its principal.
struct PresentedKey {
    token: PresentedToken,
    /// The token's clinic.
    scope: TenantScope,
    rate_limits: Arc<RateLimits>,
    /// The principal, once the key was found and counted against its limits.
    checked: OnceCell<Principal>,
    /// The refusal of the key (unknown, revoked or expired, or over a limit), once it was
    /// refused: the request's other fields get the same answer without counting again.
    refused: std::sync::OnceLock<DomainError>,
    /// The transaction the check ran in, for the first resolver to carry on in.
    opened: Mutex<Option<TenantTxn>>,
}

impl Caller {
    /// A caller with no credential.
    pub fn nobody() -> Self {
        Self::default()
    }

    /// An API key shaped like one, for the clinic `scope` reaches (the one the token names); it is
    /// looked up and counted against its limits when first needed.
    pub(crate) fn presented_key(
        token: PresentedToken,
        scope: TenantScope,
        rate_limits: Arc<RateLimits>,
    ) -> Self {
        Self(Arc::new(Presented::Key(PresentedKey {
            token,
            scope,
            rate_limits,
            checked: OnceCell::new(),
            refused: std::sync::OnceLock::new(),
            opened: Mutex::new(None),
        })))
    }

    /// A session token whose signature and expiry hold, for the clinic `scope` reaches (the one
    /// the token names); its membership is checked when first needed.
    pub(crate) fn signed_session(claims: SessionClaims, scope: TenantScope) -> Self {
        Self(Arc::new(Presented::Session(SignedSession {
            claims,
            scope,
            checked: OnceCell::new(),
        })))
    }

    /// The principal, or `UNAUTHENTICATED`. A session not checked yet is checked here, on its own.
    pub async fn principal(&self) -> Result<&Principal, DomainError> {
        self.signed_in().await?.ok_or(DomainError::Unauthenticated)
    }

    /// The principal if the caller is signed in or holds a valid key; `None` for nobody. A session
    /// not checked yet is checked here, on its own.
    pub async fn signed_in(&self) -> Result<Option<&Principal>, DomainError> {
        Ok(match &*self.0 {
            Presented::Nobody => None,
            Presented::Key(key) => Some(key.check(false).await?),
            Presented::Session(session) => session
                .checked
                .get_or_try_init(|| session.check_alone())
                .await?
                .as_ref(),
        })
    }

    /// The principal if no database read is needed to know it (a checked credential, or a session
    /// checked earlier in this request); `None` for nobody and for a session not checked yet.
    pub fn known_principal(&self) -> Option<&Principal> {
        match &*self.0 {
            Presented::Nobody => None,
            Presented::Key(key) => key.checked.get(),
            Presented::Session(session) => session.checked.get().and_then(Option::as_ref),
        }
    }

    /// Opens a transaction in the caller's clinic, with the principal it acts for, or fails with
    /// `UNAUTHENTICATED` (or `RATE_LIMITED` for a key over its limits). A credential not checked
    /// yet is checked in the transaction, before anything else.
    pub async fn begin(&self) -> Result<(TenantTxn, &Principal), DomainError> {
        let session = match &*self.0 {
            Presented::Nobody => return Err(DomainError::Unauthenticated),
            Presented::Key(key) => return key.begin().await,
            Presented::Session(session) => session,
        };
        if let Some(checked) = session.checked.get() {
            let principal = checked.as_ref().ok_or(DomainError::Unauthenticated)?;
            return Ok((principal.scope.begin().await?, principal));
        }
        let (txn, member) = session
            .scope
            .begin_as_member(session.claims.sub, session.claims.sid)
            .await?;
        // A resolver running alongside may have checked first; the request keeps one answer. But
        // a transaction whose own check found no member goes no further, whatever was found
        // before it (the member was removed or signed out meanwhile).
        let Some(own) = session.principal_from(member) else {
            return Err(DomainError::Unauthenticated);
        };
        // Waits for a check still running alongside rather than missing its answer.
        let principal = session
            .checked
            .get_or_init(|| async { Some(own) })
            .await
            .as_ref()
            .ok_or(DomainError::Unauthenticated)?;
        Ok((txn, principal))
    }
}

impl Caller {
    /// A transaction for the next part of a long answer (a download's next page), in which a
    /// session's membership is checked again, whatever this request found before: a member
    /// removed, demoted or signed out meanwhile gets `UNAUTHENTICATED` (a role that no longer
    /// allows the work is the caller's to refuse). Only sessions: an API key is refused.
    pub async fn begin_checked_again(&self) -> Result<(TenantTxn, Principal), DomainError> {
        let Presented::Session(session) = &*self.0 else {
            return Err(DomainError::Unauthenticated);
        };
        let (txn, member) = session
            .scope
            .begin_as_member(session.claims.sub, session.claims.sid)
            .await?;
        let principal = session
            .principal_from(member)
            .ok_or(DomainError::Unauthenticated)?;
        Ok((txn, principal))
    }
}

impl PresentedKey {
    /// The key's principal, checking it the first time: in a transaction that a resolver may
    /// carry on in (`keep_open`), or committed at once. A refusal is kept for the rest of the
    /// request (a failure of the database is not: it may pass). A check that marked the key's
    /// last use (once a minute) is committed either way, so the mark stays even if the request
    /// fails.
    async fn check(&self, keep_open: bool) -> Result<&Principal, DomainError> {
        self.checked
            .get_or_try_init(|| async {
                // Fields waiting for the first check try again when it fails: a refusal stands.
                if let Some(refusal) = self.refused.get() {
                    return Err(refusal.clone());
                }
                let txn = self.scope.begin().await?;
                let (txn, principal, marked_use) =
                    check_key(txn, &self.token, &self.scope, &self.rate_limits)
                        .await
                        .inspect_err(|error| self.keep_refusal(error))?;
                if keep_open && !marked_use {
                    *self.opened.lock().unwrap_or_else(PoisonError::into_inner) = Some(txn);
                } else {
                    txn.commit().await?;
                }
                Ok(principal)
            })
            .await
    }

    /// Keeps `error` for the rest of the request when it refuses the key (unknown, revoked or
    /// expired, or over a limit).
    fn keep_refusal(&self, error: &DomainError) {
        if matches!(
            error,
            DomainError::Unauthenticated | DomainError::RateLimited(_)
        ) {
            let _ = self.refused.set(error.clone());
        }
    }

    /// A transaction for the key's work: the one its check ran in, if this request has not
    /// carried on in it yet, else a new one.
    async fn begin(&self) -> Result<(TenantTxn, &Principal), DomainError> {
        let principal = self.check(true).await?;
        let opened = self
            .opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let txn = match opened {
            Some(txn) => txn,
            None => principal.scope.begin().await?,
        };
        Ok((txn, principal))
    }
}

impl SignedSession {
    /// Reads the membership in a statement of its own.
    async fn check_alone(&self) -> Result<Option<Principal>, DomainError> {
        let member = self
            .scope
            .session_member(self.claims.sub, self.claims.sid)
            .await?;
        Ok(self.principal_from(member))
    }

    /// The principal the member check gives the token: none when the user no longer belongs to
    /// the clinic, the token's sign-in was signed out (or its refresh token found reused), the
    /// user's sessions were ended since the token was issued (a password change, signing out
    /// everywhere), or the stored role is unknown. The role is the stored one, so removals and
    /// role changes apply at once.
    fn principal_from(&self, member: Option<StoredMember>) -> Option<Principal> {
        let member = member?;
        if member.sign_in_ended || member.session_version != self.claims.ver {
            return None;
        }
        Some(Principal {
            credential: Credential::Session {
                user_id: self.claims.sub,
            },
            role: Role::parse(&member.role)?,
            scope: self.scope.clone(),
        })
    }
}
