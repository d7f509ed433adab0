//! What every tenant resolver does first: find the authenticated caller, check the permission the
//! operation needs, and run the work in a transaction confined to the caller's clinic.

use async_graphql::{Context, ID};
use ringback_shared::access::Permission;
use uuid::Uuid;

use crate::error::{DomainError, graphql_error};
use ringback_core::tenant::TenantTxn;
use ringback_domain::Backend;
use ringback_domain::auth::{Caller, Principal};

/// What an operation needs from the caller.
#[derive(Clone, Copy, Debug)]
pub enum Access {
    /// Reading, with this permission; read-only API keys qualify.
    Read(Permission),
    /// Changing data, with this permission; read-only API keys do not qualify.
    Write(Permission),
}

/// The authenticated caller, or `UNAUTHENTICATED`.
pub async fn principal<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Principal> {
    ctx.data::<Caller>()?
        .principal()
        .await
        .map_err(graphql_error)
}

/// Fails unless the caller may do what `access` says: for resolvers that read through a
/// DataLoader, which opens its transaction through the caller but checks no permission.
pub async fn permit(ctx: &Context<'_>, access: Access) -> async_graphql::Result<()> {
    allows(principal(ctx).await?, access).map_err(graphql_error)
}

/// Runs `work` for the caller's clinic if `access` allows it, committing when it succeeds; when
/// `work` queued a job, the workers are woken once it is committed (a reply a receptionist sends
/// goes out at once, not at the workers' next look). A credential not checked yet in this request
/// is checked in the transaction before `work` ([`Caller::begin`]); when the caller is already
/// known, `access` is checked before the transaction opens.
pub async fn with_tenant<T>(
    ctx: &Context<'_>,
    access: Access,
    work: impl AsyncFnOnce(&TenantTxn, &Principal) -> Result<T, DomainError>,
) -> async_graphql::Result<T> {
    with_tenant_reading(ctx, access, async |txn, principal| {
        Ok((work(txn, principal).await?, Ending::Commit))
    })
    .await
}

/// Runs `work` as [`with_tenant`] does, for work that only reads (noting its reads, if any): the
/// transaction ends without a commit and the notes are written by the server's note writer,
/// together with other requests' notes, before the answer goes out. Anything else `work` wrote
/// would be undone.
pub async fn with_tenant_read_only<T>(
    ctx: &Context<'_>,
    access: Access,
    work: impl AsyncFnOnce(&TenantTxn, &Principal) -> Result<T, DomainError>,
) -> async_graphql::Result<T> {
    with_tenant_reading(ctx, access, async |txn, principal| {
        Ok((work(txn, principal).await?, Ending::ReadOnly))
    })
    .await
}

/// How a tenant transaction ends once its work succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The work wrote: its writes are committed.
    Commit,
    /// The work only read (it says so itself): the transaction ends without a commit round trip
    /// ([`TenantTxn::end_reading`]).
    ReadOnly,
}

/// Runs `work` as [`with_tenant`] does, for work that usually only reads: it answers with its
/// value how the transaction ends, so a read that wrote nothing does not wait for a commit.
pub async fn with_tenant_reading<T>(
    ctx: &Context<'_>,
    access: Access,
    work: impl AsyncFnOnce(&TenantTxn, &Principal) -> Result<(T, Ending), DomainError>,
) -> async_graphql::Result<T> {
    let caller = ctx.data::<Caller>()?;
    if let Some(known) = caller.known_principal() {
        allows(known, access).map_err(graphql_error)?;
    }
    let (txn, principal) = caller.begin().await.map_err(graphql_error)?;
    allows(principal, access).map_err(graphql_error)?;
    let (value, ending) = work(&txn, principal).await.map_err(graphql_error)?;
    match ending {
        Ending::Commit => {
            let queued_jobs = txn.queued_jobs();
            txn.commit().await.map_err(graphql_error)?;
            if queued_jobs && let Ok(backend) = ctx.data::<Backend>() {
                backend.wake_workers();
            }
        }
        Ending::ReadOnly => {
            let noted = txn.end_reading();
            if !noted.is_empty() {
                let backend = ctx.data::<Backend>()?;
                backend
                    .read_notes
                    .write(noted)
                    .await
                    .map_err(graphql_error)?;
            }
        }
    }
    Ok(value)
}

/// Fails unless `principal` may do what `access` says.
fn allows(principal: &Principal, access: Access) -> Result<(), DomainError> {
    match access {
        Access::Read(permission) => principal.require(permission),
        Access::Write(permission) => principal.require_write(permission),
    }
    .map(|_| ())
}

/// An id argument as a UUID. An id that cannot exist is simply not found.
pub fn uuid_arg(id: &ID) -> Result<Uuid, DomainError> {
    Uuid::try_parse(id.as_str()).map_err(|_| DomainError::NotFound)
}
