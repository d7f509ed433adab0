//! The team (admins and owners): members, invitations, role changes, removal; and accepting an
//! invitation (anyone holding its token).

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use ringback_entity::invite;
use ringback_shared::access::{Permission, Role};

use crate::account::{Session, start_session};
use crate::error::graphql_error;
use crate::guard::{Access, uuid_arg, with_tenant};
use crate::types::{TeamRole, User};
use ringback_domain::Backend;
use ringback_domain::auth::Caller;
use ringback_domain::service::leaving;
use ringback_domain::service::team::{self, Acceptance};

/// A member of the clinic's team.
#[derive(SimpleObject)]
pub struct TeamMember {
    pub user: User,
    pub role: TeamRole,
}

/// A pending invitation.
#[derive(SimpleObject)]
pub struct Invite {
    pub id: ID,
    pub email: String,
    pub display_name: String,
    pub role: TeamRole,
    pub expires_at: DateTime<Utc>,
}

impl From<&invite::Model> for Invite {
    fn from(model: &invite::Model) -> Self {
        Self {
            id: ID(model.id.to_string()),
            email: model.email.clone(),
            display_name: model.display_name.clone(),
            role: Role::parse(&model.role)
                .unwrap_or(Role::Receptionist)
                .into(),
            expires_at: model.expires_at,
        }
    }
}

/// A new invitation and its one-time token (show it to the inviter; it is not stored).
#[derive(SimpleObject)]
pub struct InviteCreated {
    pub invite: Invite,
    pub token: String,
}

#[derive(Default)]
pub struct TeamQuery;

#[Object]
impl TeamQuery {
    /// Everyone in the clinic.
    async fn team(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TeamMember>> {
        let members = with_tenant(ctx, Access::Read(Permission::ManageTeam), async |txn, _| {
            team::members(txn).await
        })
        .await?;
        Ok(members
            .iter()
            .map(|member| TeamMember {
                user: User::from(&member.user),
                role: member.role.into(),
            })
            .collect())
    }

    /// Invitations not yet accepted.
    async fn invites(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Invite>> {
        let invites = with_tenant(ctx, Access::Read(Permission::ManageTeam), async |txn, _| {
            team::pending_invites(txn).await
        })
        .await?;
        Ok(invites.iter().map(Invite::from).collect())
    }
}

#[derive(Default)]
pub struct TeamMutation;

#[Object]
impl TeamMutation {
    /// Invites someone; only owners may invite owners.
    async fn invite_member(
        &self,
        ctx: &Context<'_>,
        email: String,
        display_name: String,
        role: TeamRole,
    ) -> async_graphql::Result<InviteCreated> {
        let created = with_tenant(
            ctx,
            Access::Write(Permission::ManageTeam),
            async |txn, principal| {
                team::invite(
                    txn,
                    principal.user_id()?,
                    principal.role,
                    &email,
                    &display_name,
                    role.into(),
                )
                .await
            },
        )
        .await?;
        Ok(InviteCreated {
            invite: Invite::from(&created.invite),
            token: created.token,
        })
    }

    /// Withdraws a pending invitation.
    async fn revoke_invite(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        with_tenant(
            ctx,
            Access::Write(Permission::ManageTeam),
            async |txn, principal| {
                team::revoke_invite(txn, principal.user_id()?, uuid_arg(&id)?).await
            },
        )
        .await?;
        Ok(true)
    }

    /// Changes a member's role; the last owner cannot be demoted.
    async fn change_member_role(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        role: TeamRole,
    ) -> async_graphql::Result<bool> {
        with_tenant(
            ctx,
            Access::Write(Permission::ManageTeam),
            async |txn, principal| {
                team::change_role(txn, principal.user_id()?, uuid_arg(&user_id)?, role.into()).await
            },
        )
        .await?;
        Ok(true)
    }

    /// Removes a member and ends their sessions; the last owner cannot be removed. A member of no
    /// other clinic is forgotten (their account deleted), so they can be invited again.
    async fn remove_member(&self, ctx: &Context<'_>, user_id: ID) -> async_graphql::Result<bool> {
        let removed = uuid_arg(&user_id)?;
        with_tenant(
            ctx,
            Access::Write(Permission::ManageTeam),
            async |txn, principal| team::remove(txn, principal.user_id()?, removed).await,
        )
        .await?;
        leaving::forget_removed_member(&ctx.data::<Backend>()?.db, removed).await;
        Ok(true)
    }

    /// Accepts an invitation with its token and signs the member in to the inviting clinic. A new
    /// address chooses its `password`; an address that already has an account joins only from a
    /// session of that account (no password is asked, so an invitation cannot test one).
    async fn accept_invite(
        &self,
        ctx: &Context<'_>,
        token: String,
        password: Option<String>,
    ) -> async_graphql::Result<Session> {
        let backend = ctx.data::<Backend>()?;
        let signed_in_as = ctx
            .data::<Caller>()?
            .signed_in()
            .await
            .map_err(graphql_error)?
            .and_then(|principal| principal.user_id().ok());
        let grant = team::accept_invite(
            &backend.db,
            &backend.clock,
            &backend.session_keys,
            Acceptance {
                presented: &token,
                new_password: password.as_deref(),
                signed_in_as,
            },
        )
        .await
        .map_err(graphql_error)?;
        Ok(start_session(ctx, grant))
    }
}
