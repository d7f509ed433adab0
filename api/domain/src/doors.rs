//! The doors to a clinic's data. A [`TenantScope`] names its clinic from evidence only: a checked
//! session or API key ([`crate::auth::credentials`] opens those through here), a signed webhook
//! routed by the clinic's provider number (or, for call screening, by the signed URL we wrote), a
//! signed Stripe event routed by the clinic's Stripe customer, a membership read from the database, a one-time token
//! presented back to us, or a clinic this very call creates. The core adds the job and operator
//! doors. Each door here is the only caller of the core's unchecked
//! [`TenantScope::open_unverified`] outside the core, and a test holds it to that.

use ringback_core::clock::Clock;
use ringback_core::error::DomainError;
use ringback_core::tenant::TenantScope;
use ringback_entity::membership;
use ringback_providers::stripe::event::SignedEvent;
use ringback_providers::twilio::signature::SignedRequest;
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::auth::session::SessionClaims;
use crate::auth::tokens::PresentedToken;
use crate::backend::Backend;
use crate::service::account::SessionGrant;
use crate::service::billing;
use crate::service::phone_lines::{self, NumberHolder};

/// The clinic of a verified session token (its user's role is checked inside).
pub fn session(backend: &Backend, claims: &SessionClaims) -> TenantScope {
    open(&backend.db, &backend.clock, claims.cid)
}

/// The clinic a presented one-time token or API key names; the token's hash is checked inside the
/// scope before anything is read or changed.
pub fn presented_token(
    db: &DatabaseConnection,
    clock: &Clock,
    token: &PresentedToken,
) -> TenantScope {
    open(db, clock, token.clinic_id)
}

/// The clinic of a membership read from the database.
pub fn membership(db: &DatabaseConnection, clock: &Clock, row: &membership::Model) -> TenantScope {
    open(db, clock, row.clinic_id)
}

/// A clinic this call creates: its id is made here, never taken from anyone.
pub fn new_clinic(db: &DatabaseConnection, clock: &Clock) -> TenantScope {
    open(db, clock, Uuid::now_v7())
}

/// The clinic a sign-up just created, for what the same call adds to it (the demo clinic).
pub fn signed_up(db: &DatabaseConnection, clock: &Clock, grant: &SessionGrant) -> TenantScope {
    open(db, clock, grant.clinic.id)
}

/// The clinic that holds provider number `our_number` of a signed webhook request, with the
/// number as the clinic holds it (its id, whether held back); `None` when no clinic has it.
pub async fn signed_webhook(
    backend: &Backend,
    _signed: &SignedRequest,
    our_number: &str,
) -> Result<Option<(TenantScope, NumberHolder)>, DomainError> {
    let holder =
        phone_lines::provider_number_holder(&backend.db, &backend.secrets, our_number).await?;
    Ok(holder.map(|holder| (open(&backend.db, &backend.clock, holder.clinic_id), holder)))
}

/// The clinic whose provider number a *refused* webhook names, for one purpose only: recording
/// the refusal ([`crate::service::webhook_refusals::record`]), which keeps nothing from the
/// request. Nothing else may be read or written through this door.
pub async fn refused_webhook(
    backend: &Backend,
    named_number: &str,
) -> Result<Option<TenantScope>, DomainError> {
    let clinic =
        phone_lines::clinic_for_provider_number(&backend.db, &backend.secrets, named_number)
            .await?;
    Ok(clinic.map(|clinic_id| open(&backend.db, &backend.clock, clinic_id)))
}

/// The clinic named in the query string of a signed call-screening request: Twilio's signature
/// covers the URL, and only this server writes that URL (into the TwiML that dials the clinic's
/// forwarding line), so the name is as trustworthy as a provider number would be.
pub fn screening_webhook(
    backend: &Backend,
    _signed: &SignedRequest,
    clinic_id: Uuid,
) -> TenantScope {
    open(&backend.db, &backend.clock, clinic_id)
}

/// The clinic whose Stripe customer a signed Stripe event names; `None` when no clinic has it.
pub async fn stripe_webhook(
    backend: &Backend,
    event: &SignedEvent,
) -> Result<Option<TenantScope>, DomainError> {
    let Some(customer) = event.customer.as_deref() else {
        return Ok(None);
    };
    let clinic = billing::clinic_for_customer(&backend.db, customer).await?;
    Ok(clinic.map(|clinic_id| open(&backend.db, &backend.clock, clinic_id)))
}

/// Every door's one call to the unchecked path.
fn open(db: &DatabaseConnection, clock: &Clock, clinic_id: Uuid) -> TenantScope {
    TenantScope::open_unverified(db.clone(), clock.clone(), clinic_id)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// The unchecked door is called from the doors only: here, and in the core's own doors.
    #[test]
    fn only_the_doors_open_a_scope_unchecked() {
        let api = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut callers = Vec::new();
        collect_callers(&api, &mut callers);
        let allowed = [
            api.join("core/src/tenant.rs"),
            api.join("domain/src/doors.rs"),
        ];
        let strays: Vec<_> = callers
            .iter()
            .filter(|path| !allowed.iter().any(|door| door == *path))
            .collect();
        assert!(
            strays.is_empty(),
            "open_unverified called outside the doors: {strays:?}"
        );
        assert_eq!(callers.len(), allowed.len(), "callers: {callers:?}");
    }

    fn collect_callers(dir: &Path, found: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).expect("readable source directory");
        for entry in entries.map(|entry| entry.expect("directory entry").path()) {
            let name = entry
                .file_name()
                .and_then(|name| name.to_str())
                .unwrap_or("");
            if entry.is_dir() && name != "target" {
                collect_callers(&entry, found);
            } else if name.ends_with(".rs")
                && std::fs::read_to_string(&entry)
                    .expect("readable source")
                    .contains("open_unverified(")
            {
                found.push(entry);
            }
        }
    }
}
