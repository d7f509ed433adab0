//! Leaving: `deleteClinic` (owners: the clinic's data key is destroyed first, then its rows; one
//! deployment-level record remains) and `deleteMyAccount` (anyone but a clinic's last owner). Both
//! need the password, which counts against the sign-in limits; both end the caller's session.

use async_graphql::{Context, Object, SimpleObject};
use ringback_domain::backend::Backend;
use ringback_domain::service::leaving::{self, Outcome, Proof};
use ringback_shared::access::Permission;

use crate::RequestInfo;
use crate::account::end_session_cookies;
use crate::error::{DomainError, graphql_error};
use crate::guard::{Access, with_tenant};

/// What deleting the clinic did.
#[derive(SimpleObject)]
pub struct ClinicDeleted {
    /// Rows deleted, across every table.
    pub rows_deleted: i64,
    /// Members deleted because they belonged to no other clinic (0 when forgetting them failed:
    /// logged, and the clinic's deletion stands).
    pub members_deleted: i64,
    /// Whether any running subscription was cancelled with Stripe (every one of the clinic's
    /// Stripe customer is).
    pub subscription_cancelled: bool,
    /// Twilio's records of the clinic's calls and texts, left to be deleted there in the next
    /// minutes (the server keeps their ids only, and only until Twilio confirms).
    pub provider_records_to_delete: i64,
}

fn wrong_password() -> async_graphql::Error {
    graphql_error(DomainError::BadUserInput(
        "the password is wrong".to_owned(),
    ))
}

#[derive(Default)]
pub struct LeavingMutation;

#[Object]
impl LeavingMutation {
    /// Deletes the clinic and everything in it, for good. Owners only; `confirmName` is the
    /// clinic's name as it is, `password` the owner's. Every running subscription of the clinic's
    /// Stripe customer is cancelled first; then the data key goes, so sealed values are
    /// unreadable at once, and the rows.
    async fn delete_clinic(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(max_length = 200))] confirm_name: String,
        #[graphql(validator(max_length = 200))] password: String,
    ) -> async_graphql::Result<ClinicDeleted> {
        let backend = ctx.data::<Backend>()?;
        let request = ctx.data::<RequestInfo>()?;
        let stripe = backend.billing.as_deref().map(|billing| &*billing.stripe);
        let checked = with_tenant(
            ctx,
            Access::Write(Permission::DeleteAccount),
            async |txn, principal| {
                let proof = Proof {
                    user_id: principal.user_id()?,
                    client_address: request.client_address,
                    password: &password,
                };
                leaving::check_deletion(txn, &backend.rate_limits, proof, &confirm_name).await
            },
        )
        .await?;
        let Outcome::Done(at_stripe) = checked else {
            return Err(wrong_password());
        };
        // Stripe is asked between the check and the deletion, in no transaction.
        let cancelled = leaving::cancel_subscriptions(stripe, &at_stripe)
            .await
            .map_err(graphql_error)?;
        let deleted = with_tenant(
            ctx,
            Access::Write(Permission::DeleteAccount),
            async |txn, _| leaving::delete_clinic(txn, cancelled).await,
        )
        .await?;
        // The clinic is gone: a failure to forget its former members is logged, not answered as
        // a failed deletion (the owner would think the clinic was kept, and keep its cookies).
        let forgotten = leaving::forget_former_members(&backend.db, &deleted.former_members).await;
        let members_deleted = forgotten.unwrap_or_else(|error| {
            tracing::warn!(%error, "a deleted clinic's former members were not forgotten");
            0
        });
        end_session_cookies(ctx);
        Ok(ClinicDeleted {
            rows_deleted: deleted
                .rows
                .values()
                .sum::<u64>()
                .try_into()
                .unwrap_or(i64::MAX),
            members_deleted: members_deleted.try_into().unwrap_or(i64::MAX),
            subscription_cancelled: deleted.subscription_cancelled,
            provider_records_to_delete: deleted
                .provider_records_left
                .try_into()
                .unwrap_or(i64::MAX),
        })
    }

    /// Deletes your own account: you leave every clinic you belong to and your sign-in goes.
    /// Refused while you are a clinic's last owner (delete the clinic or hand it over first).
    async fn delete_my_account(
        &self,
        ctx: &Context<'_>,
        #[graphql(validator(max_length = 200))] password: String,
    ) -> async_graphql::Result<bool> {
        let backend = ctx.data::<Backend>()?;
        let request = ctx.data::<RequestInfo>()?;
        let (holds, user_id) = with_tenant(
            ctx,
            Access::Write(Permission::WorkCalls),
            async |txn, principal| {
                let proof = Proof {
                    user_id: principal.user_id()?,
                    client_address: request.client_address,
                    password: &password,
                };
                let holds = leaving::password_holds(
                    txn,
                    &backend.rate_limits,
                    &proof,
                    "account.deletion_refused",
                )
                .await?;
                Ok((holds, proof.user_id))
            },
        )
        .await?;
        if !holds {
            return Err(wrong_password());
        }
        leaving::delete_account((&backend.db, &backend.clock), user_id)
            .await
            .map_err(graphql_error)?;
        end_session_cookies(ctx);
        Ok(true)
    }
}
