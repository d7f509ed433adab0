//! Leaving Ringback: an owner deletes the clinic, or a user deletes their own account.
//!
//! Deleting a clinic takes the owner's password and the clinic's name typed out
//! ([`check_deletion`]). Every running subscription of its Stripe customer is then cancelled (an
//! extra one from a second paid Checkout too: [`cancel_subscriptions`], outside any transaction,
//! so a slow Stripe holds no lock). Then [`delete_clinic`] destroys the clinic's data key, so every
//! value sealed under it (numbers, message texts, the forwarding line) can no longer be opened
//! with any key the deployment holds, leaves the ids of Twilio's records of its calls and texts
//! to be deleted there ([`provider_leftovers::leave_behind`]), holds the numbers it used but did
//! not buy here back from every clinic for 90 days ([`provider_leftovers::hold_numbers_left`]),
//! deletes every row of every tenant
//! table (rows gone, not
//! flagged) and the clinic itself (its audit log with it, by the foreign key); one
//! deployment-level record remains in
//! `clinic_deletions`: the clinic's id, when, and how many rows of each table went. After the commit
//! [`forget_former_members`] deletes the members who belong to no other clinic (as
//! [`forget_removed_member`] does for a member removed from a team). Their sessions end at once: a
//! session is only good while its membership exists. Backups taken before hold the
//! wrapped data key; they stay readable only with the master key they were taken under, which
//! `ringback keys rotate` retires (see the README).
//!
//! Deleting one's own account ([`delete_account`]) needs the password too ([`password_holds`]), and is refused while
//! the user is the last owner of a clinic (they delete the clinic or hand it over first). Each
//! clinic they leave records it in its audit log.
//!
//! Cost: one delete per tenant table, each by the clinic's leading index; no read of the rows.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ringback_core::clock::Clock;
use ringback_core::error::DomainError;
use ringback_core::tenant::{ClinicOwned, TenantTxn};
use ringback_entity::{
    ai_step, api_key, appointment, attribution, audit_log, audit_pending, billing_usage, call,
    caller_restriction, clinic, clinic_deletion, clinic_service, conversation, daily_metric,
    invite, job_outbox, membership, message, notification, opt_out, processed_webhook,
    provider_number, refresh_token, user, webhook_refusal, worklist_dismissal,
};
use ringback_providers::stripe::client::{BillingError, StripeBilling};
use sea_orm::sea_query::Expr;
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::json;
use uuid::Uuid;

use crate::auth::password;
use crate::auth::rate_limit::RateLimits;
use crate::doors;
use crate::service::audit::{self, AuditEvent};
use crate::service::{
    account, api_keys, clinic as clinic_settings, conversations, provider_leftovers, team,
};

/// Who asks to leave, and how they prove it.
pub struct Proof<'a> {
    pub user_id: Uuid,
    pub client_address: Option<IpAddr>,
    pub password: &'a str,
}

/// What deleting a clinic did.
#[derive(Debug)]
pub struct DeletedClinic {
    pub clinic_id: Uuid,
    /// Rows deleted, by table.
    pub rows: BTreeMap<String, u64>,
    /// Who was a member: those in no other clinic are deleted after the commit.
    pub former_members: Vec<Uuid>,
    /// Whether any running subscription was cancelled with Stripe.
    pub subscription_cancelled: bool,
    /// Twilio's records of the clinic's calls and texts, left to be deleted there.
    pub provider_records_left: u64,
}

/// The answer to a request that needs the password.
#[derive(Debug)]
pub enum Outcome<T> {
    WrongPassword,
    Done(T),
}

/// Checks `proof`'s password against the signed-in user's, counted like a sign-in; a wrong one is
/// audited in the transaction's clinic as `action`.
pub async fn password_holds(
    txn: &TenantTxn,
    limits: &RateLimits,
    proof: &Proof<'_>,
    action: &'static str,
) -> Result<bool, DomainError> {
    let user = account::signed_in_user(txn, proof.user_id).await?;
    limits.sign_in(proof.client_address, &user.email)?;
    if password::verify(proof.password, &user.password_hash).await? {
        return Ok(true);
    }
    audit::append(
        txn,
        AuditEvent {
            actor: Some(proof.user_id),
            action,
            detail: json!({}),
        },
    )
    .await?;
    Ok(false)
}

/// Checks a deletion's `confirm_name` (the clinic's name) and the owner's password (a wrong one
/// is audited as `clinic.deletion_refused`); when both hold, the clinic's Stripe customer, if any,
/// whose subscriptions [`cancel_subscriptions`] then ends before [`delete_clinic`] runs.
pub async fn check_deletion(
    txn: &TenantTxn,
    limits: &RateLimits,
    proof: Proof<'_>,
    confirm_name: &str,
) -> Result<Outcome<AtStripe>, DomainError> {
    let settings = clinic_settings::get(txn).await?;
    if confirm_name.trim() != settings.name.trim() {
        return Err(DomainError::BadUserInput(
            "type the name exactly as it is in Settings to confirm".to_owned(),
        ));
    }
    if !password_holds(txn, limits, &proof, "clinic.deletion_refused").await? {
        return Ok(Outcome::WrongPassword);
    }
    Ok(Outcome::Done(AtStripe {
        customer: settings.stripe_customer_id,
        checkout_session: settings.billing_checkout_session,
    }))
}

/// What a clinic has at Stripe that must end with it.
pub struct AtStripe {
    /// Its customer, whose running subscriptions are cancelled.
    pub customer: Option<String>,
    /// The Checkout page it last opened, expired so that nobody pays it afterwards.
    pub checkout_session: Option<String>,
}

/// Deletes the clinic `txn` acts for (see the module doc), once [`check_deletion`] passed and
/// the subscriptions were cancelled (`subscription_cancelled`: whether any was).
pub async fn delete_clinic(
    txn: &TenantTxn,
    subscription_cancelled: bool,
) -> Result<DeletedClinic, DomainError> {
    txn.lock_clinic().await?;
    destroy_data_key(txn).await?;
    let former_members = txn
        .find::<membership::Entity>()
        .all(txn.conn())
        .await?
        .into_iter()
        .map(|row| row.user_id)
        .collect();
    let provider_records_left = provider_leftovers::leave_behind(txn).await?;
    provider_leftovers::hold_numbers_left(txn).await?;
    let rows = delete_tenant_rows(txn).await?;
    clinic::Entity::delete_by_id(txn.clinic_id())
        .exec(txn.conn())
        .await?;
    let record = clinic_deletion::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        deleted_at: Set(txn.now()),
        row_counts: Set(json!(rows)),
    };
    clinic_deletion::Entity::insert(record)
        .exec_without_returning(txn.conn())
        .await?;
    Ok(DeletedClinic {
        clinic_id: txn.clinic_id(),
        rows,
        former_members,
        subscription_cancelled,
        provider_records_left,
    })
}

/// Destroys the clinic's wrapped data key (and with it every value sealed under it) and the
/// forwarding line sealed with it.
async fn destroy_data_key(txn: &TenantTxn) -> Result<(), DomainError> {
    clinic::Entity::update_many()
        .col_expr(
            clinic::Column::WrappedDataKey,
            Expr::value(Option::<Vec<u8>>::None),
        )
        .col_expr(
            clinic::Column::ForwardingLineSealed,
            Expr::value(Option::<Vec<u8>>::None),
        )
        .filter(sea_orm::ColumnTrait::eq(
            &clinic::Column::Id,
            txn.clinic_id(),
        ))
        .exec(txn.conn())
        .await?;
    Ok(())
}

/// Ends what the clinic has at Stripe, outside any transaction (a slow Stripe holds no lock):
/// expires its last Checkout page and every other page of its customer still open (one paid or
/// expired already is left) and cancels every running
/// subscription of its customer (the clinic's, and any extra one a second paid Checkout left);
/// whether any subscription was cancelled. A customer or subscription Stripe no longer knows is
/// nothing to cancel. Stripe being unreachable stops the deletion before anything is deleted.
pub async fn cancel_subscriptions(
    stripe: Option<&StripeBilling>,
    at_stripe: &AtStripe,
) -> Result<bool, DomainError> {
    let Some(stripe) = stripe else {
        return Ok(false);
    };
    if let Some(session) = &at_stripe.checkout_session {
        match stripe.expire_checkout(session).await {
            Ok(()) | Err(BillingError::Refused(400 | 404)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    let Some(customer) = at_stripe.customer.as_deref() else {
        return Ok(false);
    };
    // Any other page still open (one whose expiry failed when a newer replaced it, one opened
    // beside this deletion) would start a subscription for a customer no clinic has.
    // A listing Stripe refuses (an unknown customer) leaves nothing to expire; the
    // subscriptions are still asked for below.
    let open = match stripe.open_checkouts(customer).await {
        Ok(open) => open,
        Err(BillingError::Refused(400 | 404)) => Vec::new(),
        Err(error) => return Err(error.into()),
    };
    for session in open {
        match stripe.expire_checkout(&session).await {
            Ok(()) | Err(BillingError::Refused(400 | 404)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    let running = match stripe.running_subscriptions(customer).await {
        Ok(running) => running,
        // Stripe answers an unknown customer as a bad request or as not found.
        Err(BillingError::Refused(400 | 404)) => return Ok(false),
        Err(error) => return Err(error.into()),
    };
    let mut cancelled = false;
    for id in running {
        match stripe.cancel_subscription(&id).await {
            Ok(()) => cancelled = true,
            Err(BillingError::Refused(404)) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(cancelled)
}

/// Deletes every row of the clinic in `E`'s table, counted under the table's name.
async fn sweep<E: ClinicOwned + Default>(
    txn: &TenantTxn,
    rows: &mut BTreeMap<String, u64>,
) -> Result<(), DomainError> {
    let deleted = txn.delete_many::<E>().exec(txn.conn()).await?.rows_affected;
    rows.insert(E::default().table_name().to_owned(), deleted);
    Ok(())
}

/// Deletes the clinic's rows from every tenant table.
async fn delete_tenant_rows(txn: &TenantTxn) -> Result<BTreeMap<String, u64>, DomainError> {
    let mut rows = BTreeMap::new();
    sweep::<message::Entity>(txn, &mut rows).await?;
    sweep::<conversation::Entity>(txn, &mut rows).await?;
    sweep::<attribution::Entity>(txn, &mut rows).await?;
    sweep::<appointment::Entity>(txn, &mut rows).await?;
    sweep::<call::Entity>(txn, &mut rows).await?;
    sweep::<worklist_dismissal::Entity>(txn, &mut rows).await?;
    sweep::<daily_metric::Entity>(txn, &mut rows).await?;
    sweep::<job_outbox::Entity>(txn, &mut rows).await?;
    sweep::<processed_webhook::Entity>(txn, &mut rows).await?;
    sweep::<opt_out::Entity>(txn, &mut rows).await?;
    sweep::<caller_restriction::Entity>(txn, &mut rows).await?;
    sweep::<clinic_service::Entity>(txn, &mut rows).await?;
    sweep::<ai_step::Entity>(txn, &mut rows).await?;
    sweep::<notification::Entity>(txn, &mut rows).await?;
    sweep::<webhook_refusal::Entity>(txn, &mut rows).await?;
    sweep::<billing_usage::Entity>(txn, &mut rows).await?;
    sweep::<provider_number::Entity>(txn, &mut rows).await?;
    sweep::<api_key::Entity>(txn, &mut rows).await?;
    sweep::<invite::Entity>(txn, &mut rows).await?;
    sweep::<refresh_token::Entity>(txn, &mut rows).await?;
    sweep::<audit_pending::Entity>(txn, &mut rows).await?;
    sweep::<membership::Entity>(txn, &mut rows).await?;
    // The application may not delete audit entries (the log is append-only to it): they go with
    // the clinic's row, by the foreign key's cascade.
    let audit_entries = txn.find::<audit_log::Entity>().count(txn.conn()).await?;
    rows.insert("audit_log".to_owned(), audit_entries);
    Ok(rows)
}

/// Deletes those of `users` who belong to no clinic any more (after a clinic's deletion).
pub async fn forget_former_members(
    db: &DatabaseConnection,
    users: &[Uuid],
) -> Result<u64, DomainError> {
    let mut deleted = 0;
    for user_id in users {
        if account::memberships(db, *user_id).await?.is_empty() {
            deleted += user::Entity::delete_by_id(*user_id)
                .exec(db)
                .await?
                .rows_affected;
        }
    }
    Ok(deleted)
}

/// Forgets a member just removed from a clinic when they belong to no other, as after a clinic's
/// deletion: their address is free again for an invitation or a sign-up of their own (an account
/// without a clinic could not sign in to accept one). The removal stands either way, so a
/// failure here is logged, not answered.
pub async fn forget_removed_member(db: &DatabaseConnection, user_id: Uuid) {
    if let Err(error) = forget_former_members(db, &[user_id]).await {
        tracing::warn!(%error, user = %user_id, "a removed member's account was not forgotten");
    }
}

/// Deletes `user_id`'s account once their password was confirmed ([`password_holds`]): they leave
/// every clinic they belong to (audited in each; the API keys they made there are revoked) and
/// their user row goes. Refused, changing nothing, while they are a clinic's last owner.
pub async fn delete_account(
    (db, clock): (&DatabaseConnection, &Clock),
    user_id: Uuid,
) -> Result<usize, DomainError> {
    let memberships = account::memberships(db, user_id).await?;
    // Every clinic is checked before any is left, so a refusal changes nothing.
    for row in &memberships {
        let txn = doors::membership(db, clock, row).begin().await?;
        team::check_not_last_owner(&txn, row).await?;
        txn.commit().await?;
    }
    for row in &memberships {
        let txn = doors::membership(db, clock, row).begin().await?;
        // Conversations before the clinic's lock, in the order every other writer takes them.
        let unassigned = conversations::release_assignments_of(&txn, user_id).await?;
        txn.lock_clinic().await?;
        team::check_not_last_owner(&txn, row).await?;
        account::revoke_user_sessions(&txn, user_id).await?;
        txn.delete_many::<membership::Entity>()
            .filter(sea_orm::ColumnTrait::eq(
                &membership::Column::UserId,
                user_id,
            ))
            .exec(txn.conn())
            .await?;
        let keys_revoked = api_keys::lapse_keys_of(&txn, user_id, None).await?;
        audit::append(
            &txn,
            AuditEvent {
                actor: Some(user_id),
                action: "account.deleted",
                detail: json!({ "user": user_id, "api_keys_revoked": keys_revoked,
                                "conversations_unassigned": unassigned }),
            },
        )
        .await?;
        txn.commit().await?;
    }
    user::Entity::delete_by_id(user_id).exec(db).await?;
    Ok(memberships.len())
}
