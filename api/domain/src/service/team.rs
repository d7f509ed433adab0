//! The team: members and their roles, invitations, and the rules that keep a clinic governable
//! (only owners make or unmake owners; the last owner cannot be removed or demoted). Removing a
//! member revokes their sessions at once.

use chrono::Duration;
use ringback_entity::{invite, membership, user};
use ringback_shared::access::{Permission, Role};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, ModelTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};
use serde_json::json;
use uuid::Uuid;

use crate::auth::password;
use crate::auth::session::SessionKeys;
use crate::auth::tokens::{self, TokenKind};
use crate::service::account::{self, SessionGrant, normalize_email};
use crate::service::audit::{self, AuditEvent};
use crate::service::{api_keys, conversations, in_clinic};
use ringback_core::clock::Clock;
use ringback_core::error::DomainError;
use ringback_core::tenant::TenantTxn;

use crate::doors;

/// How long an invitation can be accepted.
pub const INVITE_TTL: Duration = Duration::days(7);

/// A member with their user record.
pub struct Member {
    pub user: user::Model,
    pub role: Role,
}

/// An invitation just created: the token is shown once.
pub struct NewInvite {
    pub invite: invite::Model,
    pub token: String,
}

/// Everyone in the clinic, oldest membership first.
pub async fn members(txn: &TenantTxn) -> Result<Vec<Member>, DomainError> {
    let rows = txn
        .find::<membership::Entity>()
        .order_by_asc(membership::Column::CreatedAt)
        .find_also_related(user::Entity)
        .all(txn.conn())
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(membership, user)| {
            Some(Member {
                user: user?,
                role: Role::parse(&membership.role)?,
            })
        })
        .collect())
}

/// Who takes a conversation nobody holds (the AI handing a caller over): the front desk first,
/// so the longest-standing receptionist, else the longest-standing admin, else an owner.
pub async fn front_desk(txn: &TenantTxn) -> Result<Option<Uuid>, DomainError> {
    let desk_order = |role: Role| match role {
        Role::Receptionist => 0,
        Role::Admin => 1,
        Role::Owner => 2,
    };
    Ok(members(txn)
        .await?
        .into_iter()
        .min_by_key(|member| desk_order(member.role))
        .map(|member| member.user.id))
}

/// Pending invitations (not accepted, not expired).
pub async fn pending_invites(txn: &TenantTxn) -> Result<Vec<invite::Model>, DomainError> {
    Ok(txn
        .find::<invite::Entity>()
        .filter(invite::Column::AcceptedAt.is_null())
        .filter(invite::Column::ExpiresAt.gt(txn.now()))
        .order_by_asc(invite::Column::CreatedAt)
        .all(txn.conn())
        .await?)
}

/// Only owners may grant or take away the owner role.
fn check_may_assign(actor_role: Role, role: Role) -> Result<(), DomainError> {
    if role == Role::Owner && actor_role != Role::Owner {
        return Err(DomainError::Forbidden);
    }
    Ok(())
}

/// Invites `email` as `role`; the token lets them set a password.
pub async fn invite(
    txn: &TenantTxn,
    actor: Uuid,
    actor_role: Role,
    email: &str,
    display_name: &str,
    role: Role,
) -> Result<NewInvite, DomainError> {
    check_may_assign(actor_role, role)?;
    let email = normalize_email(email)?;
    let display_name = display_name.trim();
    if display_name.is_empty() || display_name.chars().count() > 120 {
        return Err(DomainError::BadUserInput(
            "a name of 1 to 120 characters is required".to_owned(),
        ));
    }
    let now = txn.now();
    let token = tokens::issue(TokenKind::Invite, txn.clinic_id());
    let invite = invite::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        id: Set(Uuid::now_v7()),
        email: Set(email),
        display_name: Set(display_name.to_owned()),
        role: Set(role.as_str().to_owned()),
        token_hash: Set(token.hash),
        invited_by: Set(actor),
        expires_at: Set(now + INVITE_TTL),
        accepted_at: Set(None),
        created_at: Set(now),
    }
    .insert(txn.conn())
    .await?;
    audit::append(
        txn,
        AuditEvent {
            actor: Some(actor),
            action: "team.invite",
            detail: json!({ "invite": invite.id, "role": role.as_str() }),
        },
    )
    .await?;
    Ok(NewInvite {
        invite,
        token: token.value,
    })
}

/// Withdraws a pending invitation. Pending is checked by the delete itself: an acceptance
/// committed meanwhile (PostgreSQL re-reads the row once it may) leaves the invitation, and the
/// admin is told it is gone.
pub async fn revoke_invite(
    txn: &TenantTxn,
    actor: Uuid,
    invite_id: Uuid,
) -> Result<(), DomainError> {
    let withdrawn = txn
        .delete_many::<invite::Entity>()
        .filter(invite::Column::Id.eq(invite_id))
        .filter(invite::Column::AcceptedAt.is_null())
        .exec(txn.conn())
        .await?
        .rows_affected;
    if withdrawn != 1 {
        return Err(DomainError::NotFound);
    }
    audit::append(
        txn,
        AuditEvent {
            actor: Some(actor),
            action: "team.invite_revoked",
            detail: json!({ "invite": invite_id }),
        },
    )
    .await?;
    Ok(())
}

/// Who accepts an invitation: the password a new account is to have, and the account the request
/// is signed in as, if any.
pub struct Acceptance<'a> {
    /// The invitation's one-time code.
    pub presented: &'a str,
    /// The password of the account to create, when the address has none yet.
    pub new_password: Option<&'a str>,
    /// The user of the request's session: an address that already has an account joins only
    /// through a session of that account, so an invitation never becomes a way to try its password.
    pub signed_in_as: Option<Uuid>,
}

/// Accepts an invitation: creates the user with the chosen password (or, for an address that
/// already has an account, requires the request to be signed in as it) and adds them to the
/// clinic; signs them in there.
pub async fn accept_invite(
    db: &DatabaseConnection,
    clock: &Clock,
    keys: &SessionKeys,
    acceptance: Acceptance<'_>,
) -> Result<SessionGrant, DomainError> {
    let token =
        tokens::parse(TokenKind::Invite, acceptance.presented).ok_or(DomainError::NotFound)?;
    let txn = doors::presented_token(db, clock, &token).begin().await?;
    let invite = txn
        .find::<invite::Entity>()
        .filter(invite::Column::TokenHash.eq(token.hash))
        .one(txn.conn())
        .await?
        .filter(|invite| invite.accepted_at.is_none() && invite.expires_at > txn.now())
        .ok_or(DomainError::NotFound)?;
    let role = Role::parse(&invite.role)
        .ok_or_else(|| DomainError::Internal("unknown stored role".to_owned()))?;
    if !inviter_still_may(&txn, &invite, role).await? {
        return Err(DomainError::NotFound);
    }
    claim(&txn, &invite).await?;
    let user = user_for_invite(&txn, &invite, &acceptance).await?;
    let user_id = user.id;
    add_membership(&txn, user_id, role).await?;
    let invite_id = invite.id;
    audit::append(
        &txn,
        AuditEvent {
            actor: Some(user_id),
            action: "team.invite_accepted",
            detail: json!({ "invite": invite_id }),
        },
    )
    .await?;
    // Signed in to the clinic that invited them, whatever other clinics they belong to.
    let grant = account::new_session(&txn, keys, user, role).await?;
    txn.commit().await?;
    Ok(grant)
}

/// Marks `invite` accepted before anything is created for it, if it is still pending: of two
/// acceptances side by side (or an acceptance beside a withdrawal), the one that waited for the
/// other finds it gone (`NOT_FOUND`) rather than a half-made account.
async fn claim(txn: &TenantTxn, invite: &invite::Model) -> Result<(), DomainError> {
    let claimed = txn
        .update_many::<invite::Entity>()
        .col_expr(invite::Column::AcceptedAt, Expr::value(txn.now()))
        .filter(invite::Column::Id.eq(invite.id))
        .filter(invite::Column::AcceptedAt.is_null())
        .exec(txn.conn())
        .await?
        .rows_affected;
    if claimed == 1 {
        Ok(())
    } else {
        Err(DomainError::NotFound)
    }
}

/// Whether the member who created `invite` may still invite someone as `role`: an invitation
/// lapses when its inviter was removed from the team or lost the right to grant that role (a
/// departing admin's invitation to another address of theirs does not let them back in).
async fn inviter_still_may(
    txn: &TenantTxn,
    invite: &invite::Model,
    role: Role,
) -> Result<bool, DomainError> {
    Ok(account::current_role(txn, invite.invited_by)
        .await?
        .is_some_and(|inviter| {
            inviter.allows(Permission::ManageTeam) && check_may_assign(inviter, role).is_ok()
        }))
}

/// The account joining through `invite`: the existing one when the request is signed in as it,
/// else a new one with the chosen password. No password of an existing account is ever checked
/// here.
async fn user_for_invite(
    txn: &TenantTxn,
    invite: &invite::Model,
    acceptance: &Acceptance<'_>,
) -> Result<user::Model, DomainError> {
    let existing = user::Entity::find()
        .filter(user::Column::Email.eq(invite.email.clone()))
        .one(txn.conn())
        .await?;
    if let Some(existing) = existing {
        return if acceptance.signed_in_as == Some(existing.id) {
            Ok(existing)
        } else {
            Err(DomainError::BadUserInput(
                "this address already has a Ringback account: sign in with it, then open the \
                 invitation again"
                    .to_owned(),
            ))
        };
    }
    let Some(password_text) = acceptance.new_password else {
        return Err(DomainError::BadUserInput(
            "this invitation is for another address: sign out, then choose a password to join"
                .to_owned(),
        ));
    };
    password::validate(password_text)?;
    let now = txn.now();
    Ok(user::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(invite.email.clone()),
        display_name: Set(invite.display_name.clone()),
        password_hash: Set(password::hash(password_text).await?),
        session_version: Set(0),
        terms_version: Set(None),
        terms_accepted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn.conn())
    .await?)
}

async fn add_membership(txn: &TenantTxn, user_id: Uuid, role: Role) -> Result<(), DomainError> {
    if in_clinic::<membership::Entity>(txn, user_id)
        .await?
        .is_some()
    {
        return Err(DomainError::Conflict(
            "already a member of this team".to_owned(),
        ));
    }
    membership::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        user_id: Set(user_id),
        role: Set(role.as_str().to_owned()),
        created_at: Set(txn.now()),
        ..Default::default()
    }
    .insert(txn.conn())
    .await?;
    Ok(())
}

/// `user_id`'s membership of the transaction's clinic, if they are a member.
pub(crate) async fn membership(
    txn: &TenantTxn,
    user_id: Uuid,
) -> Result<Option<membership::Model>, DomainError> {
    in_clinic::<membership::Entity>(txn, user_id).await
}

/// `user_id`'s membership of the transaction's clinic; not found for a non-member.
pub(crate) async fn find_membership(
    txn: &TenantTxn,
    user_id: Uuid,
) -> Result<membership::Model, DomainError> {
    membership(txn, user_id).await?.ok_or(DomainError::NotFound)
}

/// The role `actor` holds now, read under the clinic's lock: one whose role was changed, or who
/// was removed, while their request waited acts with what is stored, not with what their session
/// was checked with. Forbidden unless that role still manages the team.
async fn team_manager_role_now(txn: &TenantTxn, actor: Uuid) -> Result<Role, DomainError> {
    role_now_allowing(txn, actor, Permission::ManageTeam).await
}

/// The role `actor` holds now (to be read under the clinic's lock, which every change of a
/// membership takes): forbidden unless it still allows `permission`. A session is checked once
/// per request, so an operation whose effect outlives the member (an API key they made) asks
/// again here: a removal, demotion or account deletion committed meanwhile, or earlier in the
/// same request, is seen.
pub(crate) async fn role_now_allowing(
    txn: &TenantTxn,
    actor: Uuid,
    permission: Permission,
) -> Result<Role, DomainError> {
    let stored = in_clinic::<membership::Entity>(txn, actor)
        .await?
        .and_then(|member| Role::parse(&member.role));
    match stored {
        Some(role) if role.allows(permission) => Ok(role),
        _ => Err(DomainError::Forbidden),
    }
}

async fn owner_count(txn: &TenantTxn) -> Result<u64, DomainError> {
    Ok(txn
        .find::<membership::Entity>()
        .filter(membership::Column::Role.eq(Role::Owner.as_str()))
        .count(txn.conn())
        .await?)
}

/// Refuses a change that would leave the clinic without an owner.
pub(crate) async fn check_not_last_owner(
    txn: &TenantTxn,
    current: &membership::Model,
) -> Result<(), DomainError> {
    if current.role == Role::Owner.as_str() && owner_count(txn).await? <= 1 {
        return Err(DomainError::Conflict(
            "the last owner cannot be removed or demoted: make someone else an owner first"
                .to_owned(),
        ));
    }
    Ok(())
}

/// Changes a member's role.
pub async fn change_role(
    txn: &TenantTxn,
    actor: Uuid,
    user_id: Uuid,
    role: Role,
) -> Result<(), DomainError> {
    // Owners are counted under the clinic's lock, so two changes cannot both see another owner.
    txn.lock_clinic().await?;
    let actor_role = team_manager_role_now(txn, actor).await?;
    let current = find_membership(txn, user_id).await?;
    let current_role = Role::parse(&current.role)
        .ok_or_else(|| DomainError::Internal("unknown stored role".to_owned()))?;
    check_may_assign(actor_role, role)?;
    check_may_assign(actor_role, current_role)?;
    if role != Role::Owner {
        check_not_last_owner(txn, &current).await?;
    }
    let mut changed: membership::ActiveModel = current.into();
    changed.role = Set(role.as_str().to_owned());
    changed.update(txn.conn()).await?;
    let lapsed = lapse_invitations(txn, user_id, Some(role)).await?;
    let keys_revoked = api_keys::lapse_keys_of(txn, user_id, Some(role)).await?;
    audit::append(
        txn,
        AuditEvent {
            actor: Some(actor),
            action: "team.role_changed",
            detail: json!({ "user": user_id, "from": current_role.as_str(), "to": role.as_str(),
                            "invitations_lapsed": lapsed, "api_keys_revoked": keys_revoked }),
        },
    )
    .await?;
    Ok(())
}

/// Removes a member, revokes their sessions and the API keys they made.
pub async fn remove(txn: &TenantTxn, actor: Uuid, user_id: Uuid) -> Result<(), DomainError> {
    // The member's conversations are unassigned before the clinic is locked: everything else
    // (an AI step, a staff reply) locks a conversation first and the clinic after, and the
    // opposite order could deadlock with it. A refusal below undoes it with the transaction.
    let unassigned = conversations::release_assignments_of(txn, user_id).await?;
    // Owners are counted under the clinic's lock, so two changes cannot both see another owner.
    txn.lock_clinic().await?;
    let actor_role = team_manager_role_now(txn, actor).await?;
    let current = find_membership(txn, user_id).await?;
    let current_role = Role::parse(&current.role)
        .ok_or_else(|| DomainError::Internal("unknown stored role".to_owned()))?;
    check_may_assign(actor_role, current_role)?;
    check_not_last_owner(txn, &current).await?;
    current.delete(txn.conn()).await?;
    account::revoke_user_sessions(txn, user_id).await?;
    let lapsed = lapse_invitations(txn, user_id, None).await?;
    let keys_revoked = api_keys::lapse_keys_of(txn, user_id, None).await?;
    audit::append(
        txn,
        AuditEvent {
            actor: Some(actor),
            action: "team.member_removed",
            detail: json!({ "user": user_id, "invitations_lapsed": lapsed,
                            "api_keys_revoked": keys_revoked,
                            "conversations_unassigned": unassigned }),
        },
    )
    .await?;
    Ok(())
}

/// Deletes the pending invitations `inviter` may no longer give, now that their role is
/// `now_role` (`None`: removed from the team): all of them without the right to invite, the
/// owner invitations of one who is no longer an owner. How many went. (Accepting checks the
/// inviter again, [`inviter_still_may`], should one slip past.)
async fn lapse_invitations(
    txn: &TenantTxn,
    inviter: Uuid,
    now_role: Option<Role>,
) -> Result<u64, DomainError> {
    let pending = txn
        .delete_many::<invite::Entity>()
        .filter(invite::Column::InvitedBy.eq(inviter))
        .filter(invite::Column::AcceptedAt.is_null());
    let lapsing = match now_role {
        Some(Role::Owner) => return Ok(0),
        Some(role) if role.allows(Permission::ManageTeam) => {
            pending.filter(invite::Column::Role.eq(Role::Owner.as_str()))
        }
        _ => pending,
    };
    Ok(lapsing.exec(txn.conn()).await?.rows_affected)
}
