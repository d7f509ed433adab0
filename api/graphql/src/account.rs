//! Sign-up, sign-in, session refresh and sign-out, and `me`. Session tokens travel only in
//! `__Host-` cookies set on the response, never in the response body.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};

use crate::RequestInfo;
use crate::error::{DomainError, graphql_error};
use crate::guard::{Access, principal, uuid_arg, with_tenant};
use crate::types::{Clinic, TeamRole, User};
use ringback_domain::Backend;
use ringback_domain::auth::session::{
    ACCESS_TTL, REFRESH_COOKIE, REFRESH_TTL, SESSION_COOKIE, clear_cookie, set_cookie,
};
use ringback_domain::service::account::{
    self, PasswordChange, PasswordChangeRequest, SessionGrant, SignUp,
};
use ringback_domain::service::{password_resets, sign_up_requests};
use ringback_shared::access::Permission;

/// Everything sign-up needs: the clinic and its owner.
#[derive(InputObject)]
pub struct SignUpInput {
    pub clinic_name: String,
    /// dental, trade or other.
    pub kind: String,
    /// IANA time zone, e.g. Europe/London.
    pub time_zone: String,
    /// ISO 3166 alpha-2 region for numbers without a country code, e.g. GB.
    pub default_region: String,
    /// ISO 4217 currency, e.g. GBP.
    pub currency: String,
    pub owner_name: String,
    pub owner_email: String,
    pub password: String,
    /// The version of the terms of service and privacy notice the owner accepted
    /// (`serverInfo.termsVersion`); recorded with the time, and any other version is refused.
    pub accepted_terms: String,
}

impl From<SignUpInput> for SignUp {
    fn from(input: SignUpInput) -> Self {
        Self {
            clinic_name: input.clinic_name,
            kind: input.kind,
            time_zone: input.time_zone,
            default_region: input.default_region,
            currency: input.currency,
            owner_name: input.owner_name,
            owner_email: input.owner_email,
            password: input.password,
            accepted_terms: input.accepted_terms,
        }
    }
}

/// The signed-in session.
#[derive(SimpleObject)]
pub struct Session {
    pub user: User,
    pub clinic: Clinic,
    pub role: TeamRole,
    /// When the access cookie expires; refresh before then.
    pub expires_at: DateTime<Utc>,
}

/// Who is signed in.
#[derive(SimpleObject)]
pub struct Me {
    pub user: User,
    pub clinic: Clinic,
    pub role: TeamRole,
}

/// A clinic the signed-in user belongs to.
#[derive(SimpleObject)]
pub struct ClinicMembership {
    pub clinic: Clinic,
    pub role: TeamRole,
    /// Whether this session is in this clinic.
    pub current: bool,
}

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The signed-in user, their clinic and role.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Me> {
        let (user, clinic, role) = with_tenant(
            ctx,
            Access::Read(Permission::WorkCalls),
            async |txn, principal| {
                let user = account::signed_in_user(txn, principal.user_id()?).await?;
                Ok((
                    user,
                    ringback_domain::service::clinic::get(txn).await?,
                    principal.role,
                ))
            },
        )
        .await?;
        Ok(Me {
            user: User::from(&user),
            clinic: Clinic::from(&clinic),
            role: role.into(),
        })
    }

    /// The clinics you belong to, oldest first, with your role in each.
    async fn my_clinics(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ClinicMembership>> {
        let backend = ctx.data::<Backend>()?;
        let principal = principal(ctx).await?;
        let user_id = principal.user_id().map_err(graphql_error)?;
        let current = principal.scope.clinic_id();
        let clinics = account::clinics_of(&backend.db, &backend.clock, user_id)
            .await
            .map_err(graphql_error)?;
        Ok(clinics
            .into_iter()
            .map(|(clinic, role)| ClinicMembership {
                current: clinic.id == current,
                clinic: Clinic::from(&clinic),
                role: role.into(),
            })
            .collect())
    }
}

/// The server's backend, once a credential check for `key` (an address, a token) from this
/// client is within the sign-in limits.
fn within_sign_in_limits<'a>(ctx: &Context<'a>, key: &str) -> async_graphql::Result<&'a Backend> {
    let backend = ctx.data::<Backend>()?;
    let request = ctx.data::<RequestInfo>()?;
    backend
        .rate_limits
        .sign_in(request.client_address, key)
        .map_err(graphql_error)?;
    Ok(backend)
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates a clinic and its owner, and signs the owner in, on a server that sends no mail
    /// (an address with an account is then refused as such). A server that sends mail refuses
    /// this with `FORBIDDEN`: there, sign-up confirms the address (`requestSignUp`).
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        input: SignUpInput,
    ) -> async_graphql::Result<Session> {
        let backend = within_sign_in_limits(ctx, &input.owner_email)?;
        if backend.mail.is_some() {
            return Err(graphql_error(DomainError::Forbidden));
        }
        let grant = account::sign_up(
            &backend.db,
            &backend.clock,
            &backend.session_keys,
            &backend.secrets,
            input.into(),
            backend.billing.is_some(),
        )
        .await
        .map_err(graphql_error)?;
        Ok(start_session(ctx, grant))
    }

    /// Starts a sign-up that the address confirms, on a server that sends mail: the answer is
    /// `true` whether or not the address has an account; the mail says which (a link that
    /// creates the clinic, valid for 24 hours, or a note to sign in instead). `FORBIDDEN` on a
    /// server that sends no mail (use `signUp`).
    async fn request_sign_up(
        &self,
        ctx: &Context<'_>,
        input: SignUpInput,
    ) -> async_graphql::Result<bool> {
        let backend = within_sign_in_limits(ctx, &input.owner_email)?;
        let mail = backend
            .mail
            .as_ref()
            .ok_or_else(|| graphql_error(DomainError::Forbidden))?;
        sign_up_requests::request(&backend.db, &backend.clock, mail, input.into())
            .await
            .map_err(graphql_error)?;
        Ok(true)
    }

    /// Confirms a sign-up with the token of its mail's link and the password chosen when signing
    /// up: creates the clinic and its owner and signs the owner in. A token works once, for 24
    /// hours; a wrong password (`BAD_USER_INPUT`) leaves it working.
    async fn confirm_sign_up(
        &self,
        ctx: &Context<'_>,
        token: String,
        password: String,
    ) -> async_graphql::Result<Session> {
        let backend = within_sign_in_limits(ctx, &token)?;
        let confirmation = sign_up_requests::Confirmation {
            token: &token,
            password: &password,
        };
        let grant = sign_up_requests::confirm(
            &backend.db,
            &backend.clock,
            &backend.session_keys,
            &backend.secrets,
            confirmation,
            backend.billing.is_some(),
        )
        .await
        .map_err(graphql_error)?;
        Ok(start_session(ctx, grant))
    }

    /// Signs in with e-mail and password. Wrong details and unknown addresses get the same
    /// `UNAUTHENTICATED` answer.
    async fn sign_in(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> async_graphql::Result<Session> {
        let backend = within_sign_in_limits(ctx, &email)?;
        let grant = account::sign_in(
            &backend.db,
            &backend.clock,
            &backend.session_keys,
            &email,
            &password,
        )
        .await
        .map_err(graphql_error)?;
        Ok(start_session(ctx, grant))
    }

    /// Asks for a link to choose a new password, on a server that sends mail: the answer is
    /// `true` whether or not the address has an account; the mail says which (a link valid for an
    /// hour, or a note that no account uses the address). An address gets at most three such
    /// mails an hour. `FORBIDDEN` on a server that sends no mail: its operator issues links
    /// (`ringback reset-link`).
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> async_graphql::Result<bool> {
        let backend = within_sign_in_limits(ctx, &email)?;
        let mail = backend
            .mail
            .as_ref()
            .ok_or_else(|| graphql_error(DomainError::Forbidden))?;
        password_resets::request(&backend.db, &backend.clock, mail, &email)
            .await
            .map_err(graphql_error)?;
        Ok(true)
    }

    /// Chooses a new password with the token of a reset link, and signs in to your oldest
    /// clinic: every other session of the account ends, in every clinic. A token works once,
    /// for an hour; a password that breaks the rules is refused (`BAD_USER_INPUT`) and the
    /// token still works.
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> async_graphql::Result<Session> {
        let backend = within_sign_in_limits(ctx, &token)?;
        let grant = password_resets::reset(
            &backend.db,
            &backend.clock,
            &backend.session_keys,
            &token,
            &new_password,
        )
        .await
        .map_err(graphql_error)?;
        Ok(start_session(ctx, grant))
    }

    /// Exchanges the refresh cookie for a new session (the old refresh token stops working). A
    /// refresh token that is no longer good ends the session's cookies; one that lost a race with
    /// another tab's renewal (`CONFLICT`), or a failure of the server, leaves them as they are.
    async fn refresh_session(&self, ctx: &Context<'_>) -> async_graphql::Result<Session> {
        let backend = ctx.data::<Backend>()?;
        let request = ctx.data::<RequestInfo>()?;
        let presented = request
            .refresh_cookie
            .as_deref()
            .ok_or_else(|| graphql_error(DomainError::Unauthenticated))?;
        let grant = account::refresh(
            &backend.db,
            &backend.clock,
            &backend.session_keys,
            presented,
        )
        .await
        .inspect_err(|error| {
            if matches!(error, DomainError::Unauthenticated) {
                end_session_cookies(ctx);
            }
        })
        .map_err(graphql_error)?;
        Ok(start_session(ctx, grant))
    }

    /// Changes your password; your other sessions end (in every clinic), this one continues.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> async_graphql::Result<Session> {
        let backend = ctx.data::<Backend>()?;
        let request = ctx.data::<RequestInfo>()?;
        let change = with_tenant(
            ctx,
            Access::Write(Permission::WorkCalls),
            async |txn, principal| {
                account::change_password(
                    txn,
                    &backend.session_keys,
                    &backend.rate_limits,
                    PasswordChangeRequest {
                        user_id: principal.user_id()?,
                        role: principal.role,
                        client_address: request.client_address,
                        current: &current_password,
                        new: &new_password,
                    },
                )
                .await
            },
        )
        .await?;
        let PasswordChange::Changed(grant) = change else {
            return Err(graphql_error(DomainError::BadUserInput(
                "the current password is wrong".to_owned(),
            )));
        };
        // The change is stored: a failure to end the other clinics' sign-ins (the session version
        // moved on, so their tokens already fail) must not lose this session's new cookies.
        let elsewhere = account::revoke_sessions_elsewhere(
            &backend.db,
            &backend.clock,
            grant.user.id,
            grant.clinic.id,
        )
        .await;
        if let Err(error) = elsewhere {
            tracing::warn!(%error, "a password change could not revoke the sign-ins elsewhere");
        }
        Ok(start_session(ctx, *grant))
    }

    /// Moves your session to another clinic you belong to (`myClinics`); this session ends.
    async fn switch_clinic(
        &self,
        ctx: &Context<'_>,
        clinic_id: ID,
    ) -> async_graphql::Result<Session> {
        let backend = ctx.data::<Backend>()?;
        let request = ctx.data::<RequestInfo>()?;
        let user_id = principal(ctx).await?.user_id().map_err(graphql_error)?;
        let to_clinic = uuid_arg(&clinic_id).map_err(graphql_error)?;
        let grant = account::switch_clinic(
            &backend.db,
            &backend.clock,
            &backend.session_keys,
            user_id,
            to_clinic,
            request.refresh_cookie.as_deref(),
        )
        .await
        .map_err(graphql_error)?;
        Ok(start_session(ctx, grant))
    }

    /// Signs you out on every device and in every clinic: every session token you hold stops
    /// working at once, and this one's cookies are cleared.
    async fn sign_out_everywhere(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let backend = ctx.data::<Backend>()?;
        let principal = principal(ctx).await?;
        let user_id = principal.user_id().map_err(graphql_error)?;
        let txn = principal
            .require(Permission::WorkCalls)
            .map_err(graphql_error)?
            .begin()
            .await
            .map_err(graphql_error)?;
        account::sign_out_everywhere(&backend.db, &backend.clock, txn, user_id)
            .await
            .map_err(graphql_error)?;
        end_session_cookies(ctx);
        Ok(true)
    }

    /// Signs out: the cookies are cleared (also when what follows fails) and the sign-in ends (its
    /// refresh tokens are revoked and its access token stops working at once).
    async fn sign_out(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let backend = ctx.data::<Backend>()?;
        let request = ctx.data::<RequestInfo>()?;
        // Cleared first: a sign-out that fails below still leaves nothing in this browser for
        // the next person at a shared desk.
        end_session_cookies(ctx);
        if let Some(presented) = request.refresh_cookie.as_deref() {
            account::sign_out(&backend.db, &backend.clock, presented)
                .await
                .map_err(graphql_error)?;
        }
        Ok(true)
    }
}

pub(crate) fn start_session(ctx: &Context<'_>, grant: SessionGrant) -> Session {
    ctx.append_http_header(
        "Set-Cookie",
        set_cookie(SESSION_COOKIE, &grant.access_token, ACCESS_TTL),
    );
    ctx.append_http_header(
        "Set-Cookie",
        set_cookie(REFRESH_COOKIE, &grant.refresh_token, REFRESH_TTL),
    );
    Session {
        user: User::from(&grant.user),
        clinic: Clinic::from(&grant.clinic),
        role: grant.role.into(),
        expires_at: grant.access_expires_at,
    }
}

pub(crate) fn end_session_cookies(ctx: &Context<'_>) {
    ctx.append_http_header("Set-Cookie", clear_cookie(SESSION_COOKIE));
    ctx.append_http_header("Set-Cookie", clear_cookie(REFRESH_COOKIE));
}
