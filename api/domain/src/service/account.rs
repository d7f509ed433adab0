//! Accounts and sessions: sign-up (a clinic and its owner), sign-in, refresh-token rotation and
//! sign-out. Every step is audited in the clinic's chain; failures never say whether an e-mail
//! address has an account.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use ringback_entity::{clinic, membership, refresh_token, user};
use ringback_shared::access::Role;
use ringback_shared::business;
use ringback_shared::metrics::parse_time_zone;
use ringback_shared::phone::Region;
use ringback_shared::terms;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, Set,
    SqlErr, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::auth::password;
use crate::auth::rate_limit::RateLimits;
use crate::auth::session::{ACCESS_TTL, REFRESH_TTL, SessionKeys};
use crate::auth::tokens::{self, TokenKind};
use crate::service::audit::{self, AuditEvent};
use crate::service::{in_clinic, password_resets, sign_up_requests};
use ringback_core::clock::Clock;
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::{TenantTxn, set_local};

use crate::doors;

/// Ring time before a call counts as missed: short enough to beat carrier voicemail.
pub const DEFAULT_RING_TIMEOUT_SECONDS: i32 = 18;

/// What sign-up needs.
pub struct SignUp {
    pub clinic_name: String,
    pub kind: String,
    pub time_zone: String,
    pub default_region: String,
    pub currency: String,
    pub owner_name: String,
    pub owner_email: String,
    pub password: String,
    /// The version of the terms and privacy notice the owner accepted ([`terms::VERSION`]).
    pub accepted_terms: String,
}

/// A signed-in session: the tokens go to cookies, the rest to the response.
pub struct SessionGrant {
    pub user: user::Model,
    pub clinic: clinic::Model,
    pub role: Role,
    /// When the access token stops being accepted.
    pub access_expires_at: DateTime<Utc>,
    pub access_token: String,
    pub refresh_token: String,
}

/// Normalises an e-mail address for lookup and checks its shape.
pub fn normalize_email(email: &str) -> Result<String, DomainError> {
    let email = email.trim().to_ascii_lowercase();
    // A bare address only: no display name, comment or list ("a <victim@x.test>" would be a new
    // address to every per-address limit while the mail still reaches the victim).
    let bare = !email
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>(),;:\"[]\\".contains(c));
    let valid = bare
        && email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err(DomainError::BadUserInput(
            "enter a valid e-mail address".to_owned(),
        ))
    }
}

fn required(value: &str, what: &str, max: usize) -> Result<String, DomainError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(DomainError::BadUserInput(format!("{what} is required")));
    }
    if value.chars().count() > max {
        return Err(DomainError::BadUserInput(format!(
            "{what} may have at most {max} characters"
        )));
    }
    Ok(value.to_owned())
}

/// A new clinic's checked particulars: its name, kind of business, time zone, region and currency.
pub(crate) struct NewClinic {
    pub name: String,
    pub kind: String,
    pub time_zone: String,
    pub region: Region,
    pub currency: String,
}

/// A validated sign-up, ready to store (the password only as its hash).
pub(crate) struct ValidSignUp {
    pub clinic: NewClinic,
    pub owner_name: String,
    pub email: String,
    pub password_hash: String,
    /// The terms version accepted, and when.
    pub terms: Option<(String, DateTime<Utc>)>,
}

/// Checks every field and hashes the password (the slow part, done whatever the address); the
/// terms must be the ones in force, accepted `now`.
pub(crate) async fn validate_sign_up(
    input: SignUp,
    now: DateTime<Utc>,
) -> Result<ValidSignUp, DomainError> {
    if input.accepted_terms.trim() != terms::VERSION {
        return Err(DomainError::BadUserInput(format!(
            "accept the terms of service and privacy notice in force (version {})",
            terms::VERSION
        )));
    }
    let kind = checked_kind(&input.kind)?;
    let time_zone = parse_time_zone(input.time_zone.trim())
        .map_err(|e| DomainError::BadUserInput(e.to_string()))?
        .name()
        .to_owned();
    let region = Region::parse(input.default_region.trim())
        .map_err(|e| DomainError::BadUserInput(e.to_string()))?;
    let currency = input.currency.trim().to_ascii_uppercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(DomainError::BadUserInput(
            "currency must be a three-letter ISO 4217 code".to_owned(),
        ));
    }
    password::validate(&input.password)?;
    Ok(ValidSignUp {
        clinic: NewClinic {
            name: required(&input.clinic_name, "the clinic's name", 120)?,
            kind,
            time_zone,
            region,
            currency,
        },
        owner_name: required(&input.owner_name, "your name", 120)?,
        email: normalize_email(&input.owner_email)?,
        password_hash: password::hash(&input.password).await?,
        terms: Some((terms::VERSION.to_owned(), now)),
    })
}

/// `kind` as stored (trimmed, lowercase) when it is a kind of business Ringback serves.
pub fn checked_kind(kind: &str) -> Result<String, DomainError> {
    let kind = kind.trim().to_ascii_lowercase();
    if business::is_kind(&kind) {
        Ok(kind)
    } else {
        Err(DomainError::BadUserInput(format!(
            "kind must be one of {}",
            business::listed()
        )))
    }
}

/// The privacy mode a new business starts in: a dental practice keeps no number once its
/// text-back has gone (`strict`: healthcare comes first); a trade or any other business keeps it
/// sealed for two-way texts (`text_back`), so that its callers' replies can be answered, by staff
/// or by the AI, which is what such a business signs up for. Either may switch in Settings.
pub fn default_privacy_mode(kind: &str) -> &'static str {
    use crate::service::clinic::{STRICT_MODE, TEXT_BACK_MODE};
    if kind == business::DENTAL {
        STRICT_MODE
    } else {
        TEXT_BACK_MODE
    }
}

/// Creates a clinic and its owner, and signs the owner in; with `billing_on`, its trial starts.
pub async fn sign_up(
    db: &DatabaseConnection,
    clock: &Clock,
    keys: &SessionKeys,
    secrets: &Secrets,
    input: SignUp,
    billing_on: bool,
) -> Result<SessionGrant, DomainError> {
    let valid = validate_sign_up(input, clock.now()).await?;
    create_clinic(db, clock, keys, secrets, (valid, None), billing_on).await
}

/// Creates the clinic and its owner of a validated sign-up, and signs the owner in; with
/// `billing_on`, the clinic's trial starts. A sign-up `confirming` a request uses the request up
/// in the same transaction, so a failure leaves its link working. `CONFLICT` when the address has
/// an account, or the request was used up meanwhile.
pub(crate) async fn create_clinic(
    db: &DatabaseConnection,
    clock: &Clock,
    keys: &SessionKeys,
    secrets: &Secrets,
    (valid, confirming): (ValidSignUp, Option<Uuid>),
    billing_on: bool,
) -> Result<SessionGrant, DomainError> {
    let now = clock.now();
    let user_id = Uuid::now_v7();
    let txn = begin_new_clinic(db, clock, secrets).await?;
    if let Some(request) = confirming {
        sign_up_requests::use_up(&txn, request).await?;
    }
    let clinic = insert_clinic(&txn, secrets, valid.clinic, (billing_on, now)).await?;
    let terms_version = valid.terms.as_ref().map(|(version, _)| version.clone());
    let user = user::ActiveModel {
        id: Set(user_id),
        email: Set(valid.email),
        display_name: Set(valid.owner_name),
        password_hash: Set(valid.password_hash),
        session_version: Set(0),
        terms_version: Set(terms_version.clone()),
        terms_accepted_at: Set(valid.terms.map(|(_, at)| at)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn.conn())
    .await
    .map_err(|error| match error.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => {
            DomainError::Conflict("an account with this e-mail address already exists".to_owned())
        }
        _ => error.into(),
    })?;
    insert_owner(&txn, user_id, now).await?;
    audit::append(
        &txn,
        AuditEvent {
            actor: Some(user_id),
            action: "account.sign_up",
            detail: json!({ "terms_version": terms_version }),
        },
    )
    .await?;
    let grant = grant_session(&txn, keys, user, clinic, Role::Owner, Family::new()).await?;
    txn.commit().await?;
    Ok(grant)
}

/// Opens another clinic owned by `owner`, an account that exists (the demo's second business),
/// with the defaults of a signed-up clinic and no trial; audited in the new clinic as
/// `account.clinic_opened`. Starts no session: the owner switches to it. Returns the new clinic's
/// transaction, not yet committed, so that the clinic is stored with what the caller adds to it
/// or not at all.
pub(crate) async fn open_clinic_for(
    db: &DatabaseConnection,
    clock: &Clock,
    secrets: &Secrets,
    owner: Uuid,
    new: NewClinic,
) -> Result<TenantTxn, DomainError> {
    let txn = begin_new_clinic(db, clock, secrets).await?;
    let now = txn.now();
    insert_clinic(&txn, secrets, new, (false, now)).await?;
    insert_owner(&txn, owner, now).await?;
    audit::append(
        &txn,
        AuditEvent {
            actor: Some(owner),
            action: "account.clinic_opened",
            detail: json!({}),
        },
    )
    .await?;
    Ok(txn)
}

/// A transaction in a clinic made now, refused while the master key this server started with is
/// no longer the current one (a new clinic would be sealed with the old key).
async fn begin_new_clinic(
    db: &DatabaseConnection,
    clock: &Clock,
    secrets: &Secrets,
) -> Result<TenantTxn, DomainError> {
    let txn = doors::new_clinic(db, clock).begin().await?;
    if !secrets.master_key_still_current(txn.conn()).await? {
        tracing::error!(
            "the master key was rotated while this server ran: restart it with the new \
             RINGBACK_MASTER_KEY (a clinic created now would be sealed with the old key)"
        );
        return Err(DomainError::Unavailable(
            "sign-up is unavailable for a moment; please try again shortly".to_owned(),
        ));
    }
    Ok(txn)
}

/// Stores the transaction's clinic as `new` describes it, created `now`, with the settings every
/// new clinic starts with (the privacy mode its kind starts in, its own data key); with
/// `billing_on`, its trial starts then.
async fn insert_clinic(
    txn: &TenantTxn,
    secrets: &Secrets,
    new: NewClinic,
    (billing_on, now): (bool, DateTime<Utc>),
) -> Result<clinic::Model, DomainError> {
    let clinic_id = txn.clinic_id();
    let privacy_mode = default_privacy_mode(&new.kind);
    let clinic = clinic::ActiveModel {
        id: Set(clinic_id),
        name: Set(new.name),
        kind: Set(new.kind),
        time_zone: Set(new.time_zone),
        default_region: Set(new.region.as_str().to_owned()),
        currency: Set(new.currency),
        attribution_window_days: Set(7),
        privacy_mode: Set(privacy_mode.to_owned()),
        conversation_retention_days: Set(ringback_shared::retention::DEFAULT_CONVERSATION_DAYS),
        wrapped_data_key: Set(Some(crate::service::keys::new_wrapped_data_key(
            secrets, clinic_id,
        )?)),
        business_hours: Set(None),
        forwarding_line_sealed: Set(None),
        forwarding_line_tail: Set(None),
        ring_timeout_seconds: Set(DEFAULT_RING_TIMEOUT_SECONDS),
        text_back_enabled: Set(true),
        text_back_delay_seconds: Set(0),
        text_back_template_open: Set(None),
        text_back_template_closed: Set(None),
        text_back_wording_saved_at: Set(None),
        booking_link: Set(None),
        help_text: Set(None),
        holidays: Set(None),
        sms_monthly_quota: Set(None),
        sms_countries: Set(None),
        sms_daily_limit: Set(None),
        billing_cancel_at_period_end: Set(false),
        billing_overage_item: Set(false),
        billing_subscription_created: Set(None),
        call_retention_days: Set(90),
        last_purge_at: Set(None),
        calls_purged_before: Set(None),
        billing_trial_started_at: Set(crate::service::trials::started_with_sign_up(
            billing_on, now,
        )),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn.conn())
    .await?;
    Ok(clinic)
}

/// Makes `user_id` the owner of the transaction's clinic, from `now`.
async fn insert_owner(
    txn: &TenantTxn,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<membership::Model, DomainError> {
    Ok(membership::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        user_id: Set(user_id),
        role: Set(Role::Owner.as_str().to_owned()),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(txn.conn())
    .await?)
}

/// Starts a new session of `user` in the transaction's clinic with `role`.
pub async fn new_session(
    txn: &TenantTxn,
    keys: &SessionKeys,
    user: user::Model,
    role: Role,
) -> Result<SessionGrant, DomainError> {
    let clinic = crate::service::clinic::get(txn).await?;
    grant_session(txn, keys, user, clinic, role, Family::new()).await
}

/// A chain of refresh tokens from one sign-in: each exchange continues it, and it ends for good at
/// its absolute expiry, however often it was renewed.
struct Family {
    id: Uuid,
    /// `None` for a new family, which lasts [`REFRESH_TTL`] from now.
    expires_at: Option<DateTime<Utc>>,
}

impl Family {
    /// A family that starts with this session.
    fn new() -> Self {
        Self {
            id: Uuid::now_v7(),
            expires_at: None,
        }
    }
}

/// Issues an access token and a new refresh token in `family`.
async fn grant_session(
    txn: &TenantTxn,
    keys: &SessionKeys,
    user: user::Model,
    clinic: clinic::Model,
    role: Role,
    family: Family,
) -> Result<SessionGrant, DomainError> {
    let now = txn.now();
    let refresh = tokens::issue(TokenKind::Refresh, clinic.id);
    refresh_token::ActiveModel {
        clinic_id: Set(clinic.id),
        id: Set(Uuid::now_v7()),
        user_id: Set(user.id),
        family_id: Set(family.id),
        token_hash: Set(refresh.hash),
        expires_at: Set(family.expires_at.unwrap_or(now + REFRESH_TTL)),
        replaced_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
        session_version: Set(Some(user.session_version)),
    }
    .insert(txn.conn())
    .await?;
    let access_token = keys
        .issue(&user, (clinic.id, family.id), role, now)
        .map_err(DomainError::Internal)?;
    Ok(SessionGrant {
        user,
        clinic,
        role,
        access_expires_at: now + ACCESS_TTL,
        access_token,
        refresh_token: refresh.value,
    })
}

/// Signs a user in with e-mail and password, into their oldest clinic membership.
pub async fn sign_in(
    db: &DatabaseConnection,
    clock: &Clock,
    keys: &SessionKeys,
    email: &str,
    password_attempt: &str,
) -> Result<SessionGrant, DomainError> {
    let refused = || DomainError::Unauthenticated;
    let email = normalize_email(email).map_err(|_| refused())?;
    let user = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await?;
    let Some(user) = user else {
        // The same work as for an address with an account (its membership read, a password
        // check), so timing does not reveal unknown addresses.
        first_membership(db, Uuid::now_v7()).await?;
        password::check_decoy(password_attempt).await?;
        return Err(refused());
    };
    let membership = first_membership(db, user.id).await?.ok_or_else(refused)?;
    // Checked before the transaction opens: the check may wait its turn behind other password
    // work, and an open writer would hold SQLite's one write lock (webhooks, the outbox) or one
    // of PostgreSQL's pooled connections all that while.
    let matches = password::verify(password_attempt, &user.password_hash).await?;
    let txn = doors::membership(db, clock, &membership).begin().await?;
    if !matches {
        audit::append(
            &txn,
            AuditEvent {
                actor: Some(user.id),
                action: "auth.sign_in_failed",
                detail: json!({}),
            },
        )
        .await?;
        txn.commit().await?;
        return Err(refused());
    }
    let role = Role::parse(&membership.role)
        .ok_or_else(|| DomainError::Internal("unknown stored role".to_owned()))?;
    let clinic = crate::service::clinic::get(&txn).await?;
    audit::append(
        &txn,
        AuditEvent {
            actor: Some(user.id),
            action: "auth.sign_in",
            detail: json!({}),
        },
    )
    .await?;
    let grant = grant_session(&txn, keys, user, clinic, role, Family::new()).await?;
    txn.commit().await?;
    Ok(grant)
}

/// Every membership of `user_id`, oldest first; read under the user's own setting so row-level
/// security allows it before a clinic is known.
pub(crate) async fn memberships(
    db: &DatabaseConnection,
    user_id: Uuid,
) -> Result<Vec<membership::Model>, DomainError> {
    let txn = db.begin().await?;
    set_local(&txn, "app.user_id", &user_id.to_string()).await?;
    let found = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .order_by_asc(membership::Column::CreatedAt)
        .order_by_asc(membership::Column::ClinicId)
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok(found)
}

/// The user's oldest membership, where signing in starts.
async fn first_membership(
    db: &DatabaseConnection,
    user_id: Uuid,
) -> Result<Option<membership::Model>, DomainError> {
    Ok(memberships(db, user_id).await?.into_iter().next())
}

/// The clinics `user_id` belongs to, oldest membership first, with their role in each.
pub async fn clinics_of(
    db: &DatabaseConnection,
    clock: &Clock,
    user_id: Uuid,
) -> Result<Vec<(clinic::Model, Role)>, DomainError> {
    let mut clinics = Vec::new();
    for membership in memberships(db, user_id).await? {
        let Some(role) = Role::parse(&membership.role) else {
            continue;
        };
        let txn = doors::membership(db, clock, &membership).begin().await?;
        clinics.push((crate::service::clinic::get(&txn).await?, role));
        txn.commit().await?;
    }
    Ok(clinics)
}

/// Ends every session of `user_id` in their clinics other than `except` (a password change ends
/// them everywhere; the current clinic's are ended in the change's own transaction).
pub async fn revoke_sessions_elsewhere(
    db: &DatabaseConnection,
    clock: &Clock,
    user_id: Uuid,
    except: Uuid,
) -> Result<(), DomainError> {
    for membership in memberships(db, user_id).await? {
        if membership.clinic_id == except {
            continue;
        }
        let txn = doors::membership(db, clock, &membership).begin().await?;
        revoke_user_sessions(&txn, user_id).await?;
        txn.commit().await?;
    }
    Ok(())
}

/// Ends every session of the signed-in user, in every clinic: their access tokens stop working at
/// once (the session version moves on) and every refresh token is revoked. Audited in the clinic
/// the request came from.
pub async fn sign_out_everywhere(
    db: &DatabaseConnection,
    clock: &Clock,
    txn: TenantTxn,
    user_id: Uuid,
) -> Result<(), DomainError> {
    let user = signed_in_user(&txn, user_id).await?;
    let next_version = user.session_version + 1;
    let mut ended: user::ActiveModel = user.into();
    ended.session_version = Set(next_version);
    ended.updated_at = Set(txn.now());
    ended.update(txn.conn()).await?;
    revoke_user_sessions(&txn, user_id).await?;
    password_resets::lapse_links(txn.conn(), user_id).await?;
    audit::append(
        &txn,
        AuditEvent {
            actor: Some(user_id),
            action: "auth.signed_out_everywhere",
            detail: json!({}),
        },
    )
    .await?;
    let here = txn.clinic_id();
    txn.commit().await?;
    revoke_sessions_elsewhere(db, clock, user_id, here).await
}

/// Moves a user's session to another clinic they belong to: a new session starts there (audited
/// in that clinic), and the refresh-token family `presented` in the old one ends. A clinic the
/// user does not belong to is not found.
pub async fn switch_clinic(
    db: &DatabaseConnection,
    clock: &Clock,
    keys: &SessionKeys,
    user_id: Uuid,
    to_clinic: Uuid,
    presented: Option<&str>,
) -> Result<SessionGrant, DomainError> {
    let membership = memberships(db, user_id)
        .await?
        .into_iter()
        .find(|membership| membership.clinic_id == to_clinic)
        .ok_or(DomainError::NotFound)?;
    let role = Role::parse(&membership.role)
        .ok_or_else(|| DomainError::Internal("unknown stored role".to_owned()))?;
    let txn = doors::membership(db, clock, &membership).begin().await?;
    let user = user::Entity::find_by_id(user_id)
        .one(txn.conn())
        .await?
        .ok_or(DomainError::Unauthenticated)?;
    audit::append(
        &txn,
        AuditEvent {
            actor: Some(user_id),
            action: "auth.clinic_switched",
            detail: json!({}),
        },
    )
    .await?;
    let grant = new_session(&txn, keys, user, role).await?;
    txn.commit().await?;
    // The switch is stored and the browser gets the new session's cookies in place of the old:
    // a failure to end the old sign-in is logged, not answered as a failed switch.
    if let Some(presented) = presented
        && let Err(error) = sign_out(db, clock, presented).await
    {
        tracing::warn!(%error, "a clinic switch could not end the sign-in it replaced");
    }
    Ok(grant)
}

/// The signed-in user `user_id` (whose membership the caller's credential has checked).
pub async fn signed_in_user(txn: &TenantTxn, user_id: Uuid) -> Result<user::Model, DomainError> {
    user::Entity::find_by_id(user_id)
        .one(txn.conn())
        .await?
        .ok_or(DomainError::Unauthenticated)
}

/// The current role of `user_id` in the scope's clinic; None once they were removed.
pub async fn current_role(txn: &TenantTxn, user_id: Uuid) -> Result<Option<Role>, DomainError> {
    let found = in_clinic::<membership::Entity>(txn, user_id).await?;
    Ok(found.and_then(|m| Role::parse(&m.role)))
}

/// How long after its exchange a refresh token is taken for a race (two tabs renewing at once)
/// rather than a stolen copy: the late exchange is refused ([`RENEWED_ELSEWHERE`]) without ending
/// the session.
pub const REFRESH_GRACE: chrono::Duration = chrono::Duration::seconds(10);

/// The refusal of a refresh that lost a race: the session goes on under the winner's cookies,
/// which a browser's tabs share, so the request is tried again rather than signed out.
pub const RENEWED_ELSEWHERE: &str =
    "the session was renewed at the same moment elsewhere (another tab): try again";

/// Exchanges a refresh token for a new session. The exchange is one conditional update, so of two
/// racing exchanges exactly one wins; the other (within [`REFRESH_GRACE`]) is refused as a
/// conflict ([`RENEWED_ELSEWHERE`]) and the family lives on. A token exchanged longer ago revokes
/// its whole family: someone else may hold a copy. A token issued before its user's session
/// version moved on (a password changed or reset, every session ended) is refused and its family
/// revoked, whether or not its clinic's revocation got through.
pub async fn refresh(
    db: &DatabaseConnection,
    clock: &Clock,
    keys: &SessionKeys,
    presented: &str,
) -> Result<SessionGrant, DomainError> {
    let token = tokens::parse(TokenKind::Refresh, presented).ok_or(DomainError::Unauthenticated)?;
    let txn = doors::presented_token(db, clock, &token).begin().await?;
    let stored = txn
        .find::<refresh_token::Entity>()
        .filter(refresh_token::Column::TokenHash.eq(token.hash))
        .one(txn.conn())
        .await?
        .ok_or(DomainError::Unauthenticated)?;
    let now = txn.now();
    if stored.expires_at <= now || sign_in_ended(&txn, stored.family_id).await? {
        return Err(DomainError::Unauthenticated);
    }
    let user = user::Entity::find_by_id(stored.user_id)
        .one(txn.conn())
        .await?
        .ok_or(DomainError::Unauthenticated)?;
    if stored
        .session_version
        .is_some_and(|version| version != user.session_version)
    {
        // The password changed or every session was ended since this token was issued.
        revoke_family(&txn, stored.family_id).await?;
        txn.commit().await?;
        return Err(DomainError::Unauthenticated);
    }
    let exchanged = match stored.replaced_at {
        Some(replaced_at) => Some(replaced_at),
        None => claim_exchange(&txn, stored.id, now).await?,
    };
    if let Some(replaced_at) = exchanged {
        if now - replaced_at <= REFRESH_GRACE {
            // A racing tab won; this one is refused and retries with the new cookie.
            return Err(DomainError::Conflict(RENEWED_ELSEWHERE.to_owned()));
        }
        revoke_family(&txn, stored.family_id).await?;
        audit::append(
            &txn,
            AuditEvent {
                actor: Some(stored.user_id),
                action: "auth.refresh_reuse_detected",
                detail: json!({ "family": stored.family_id }),
            },
        )
        .await?;
        txn.commit().await?;
        return Err(DomainError::Unauthenticated);
    }
    let role = current_role(&txn, stored.user_id)
        .await?
        .ok_or(DomainError::Unauthenticated)?;
    // The family keeps its absolute expiry: renewing never extends it.
    let family = Family {
        id: stored.family_id,
        expires_at: Some(stored.expires_at),
    };
    let clinic = crate::service::clinic::get(&txn).await?;
    let grant = grant_session(&txn, keys, user, clinic, role, family).await?;
    txn.commit().await?;
    Ok(grant)
}

/// Whether sign-in `family_id` ended: a token of it was revoked (signed out, a reused token).
/// A token exchanged while the family was being revoked is not revoked itself, so the family
/// is asked, not the token.
async fn sign_in_ended(txn: &TenantTxn, family_id: Uuid) -> Result<bool, DomainError> {
    let revoked = txn
        .find::<refresh_token::Entity>()
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_not_null())
        .one(txn.conn())
        .await?;
    Ok(revoked.is_some())
}

/// Marks token `id` exchanged at `now` unless it already was: `None` when this exchange won, else
/// when the winning one happened.
async fn claim_exchange(
    txn: &TenantTxn,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DomainError> {
    let claimed = txn
        .update_many::<refresh_token::Entity>()
        .col_expr(
            refresh_token::Column::ReplacedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(refresh_token::Column::Id.eq(id))
        .filter(refresh_token::Column::ReplacedAt.is_null())
        .exec(txn.conn())
        .await?;
    if claimed.rows_affected == 1 {
        return Ok(None);
    }
    let winner = txn
        .find::<refresh_token::Entity>()
        .filter(refresh_token::Column::Id.eq(id))
        .one(txn.conn())
        .await?
        .and_then(|token| token.replaced_at);
    Ok(Some(winner.unwrap_or(now)))
}

async fn revoke_family(txn: &TenantTxn, family_id: Uuid) -> Result<(), DomainError> {
    revoke_tokens(txn, refresh_token::Column::FamilyId.eq(family_id)).await
}

/// Revokes every refresh token of `user_id` in the transaction's clinic (password change, removal).
pub async fn revoke_user_sessions(txn: &TenantTxn, user_id: Uuid) -> Result<(), DomainError> {
    revoke_tokens(txn, refresh_token::Column::UserId.eq(user_id)).await
}

/// Revokes the clinic's unrevoked refresh tokens that match `which`.
async fn revoke_tokens(
    txn: &TenantTxn,
    which: sea_orm::sea_query::SimpleExpr,
) -> Result<(), DomainError> {
    txn.update_many::<refresh_token::Entity>()
        .col_expr(
            refresh_token::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(txn.now()),
        )
        .filter(which)
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(txn.conn())
        .await?;
    Ok(())
}

/// Ends the session that holds `presented`: its refresh-token family is revoked.
pub async fn sign_out(
    db: &DatabaseConnection,
    clock: &Clock,
    presented: &str,
) -> Result<(), DomainError> {
    let Some(token) = tokens::parse(TokenKind::Refresh, presented) else {
        return Ok(());
    };
    let txn = doors::presented_token(db, clock, &token).begin().await?;
    let stored = txn
        .find::<refresh_token::Entity>()
        .filter(refresh_token::Column::TokenHash.eq(token.hash))
        .one(txn.conn())
        .await?;
    if let Some(stored) = stored {
        revoke_family(&txn, stored.family_id).await?;
        audit::append(
            &txn,
            AuditEvent {
                actor: Some(stored.user_id),
                action: "auth.sign_out",
                detail: json!({}),
            },
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// What a password change came to. A wrong current password is an answer, not an error, so that
/// its audit entry is committed with the refusal.
pub enum PasswordChange {
    /// Changed; the caller's fresh session.
    Changed(Box<SessionGrant>),
    /// The current password did not match (audited as `auth.password_change_failed`).
    WrongPassword,
}

/// A password change: who asks, from where, and the two passwords.
pub struct PasswordChangeRequest<'a> {
    pub user_id: Uuid,
    pub role: Role,
    /// The client's address, counted like a sign-in attempt.
    pub client_address: Option<IpAddr>,
    pub current: &'a str,
    pub new: &'a str,
}

/// Changes the signed-in user's password: a check of the current one counts against the same
/// per-address and per-account limits as sign-in, and a failed one is audited. Every refresh
/// token of the user in this clinic is revoked (and, after commit, in their other clinics:
/// [`revoke_sessions_elsewhere`]), and a fresh session is granted to the caller.
pub async fn change_password(
    txn: &TenantTxn,
    keys: &SessionKeys,
    limits: &RateLimits,
    request: PasswordChangeRequest<'_>,
) -> Result<PasswordChange, DomainError> {
    let user = signed_in_user(txn, request.user_id).await?;
    limits.sign_in(request.client_address, &user.email)?;
    if !password::verify(request.current, &user.password_hash).await? {
        audit::append(
            txn,
            AuditEvent {
                actor: Some(user.id),
                action: "auth.password_change_failed",
                detail: json!({}),
            },
        )
        .await?;
        return Ok(PasswordChange::WrongPassword);
    }
    password::validate(request.new)?;
    let next_version = user.session_version + 1;
    let mut changed: user::ActiveModel = user.into();
    // Every access token issued before ends with this change, in every clinic.
    changed.session_version = Set(next_version);
    changed.password_hash = Set(password::hash(request.new).await?);
    changed.updated_at = Set(txn.now());
    let user = changed.update(txn.conn()).await?;
    revoke_user_sessions(txn, request.user_id).await?;
    password_resets::lapse_links(txn.conn(), request.user_id).await?;
    audit::append(
        txn,
        AuditEvent {
            actor: Some(request.user_id),
            action: "auth.password_changed",
            detail: json!({}),
        },
    )
    .await?;
    Ok(PasswordChange::Changed(Box::new(
        new_session(txn, keys, user, request.role).await?,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_kept_trimmed_and_lowercase() {
        assert_eq!(
            normalize_email("  Hana@Harbour.Test ").ok().as_deref(),
            Some("hana@harbour.test")
        );
    }

    #[test]
    fn only_a_bare_address_is_an_address() {
        for refused in [
            "a <victim@corp.test>",
            "victim@corp.test, other@corp.test",
            "\"a\" victim@corp.test",
            "victim@corp.test>",
            "vic tim@corp.test",
            "victim@@corp.test",
            "victim@corp",
            "@corp.test",
            "victim@.corp.test",
        ] {
            assert!(normalize_email(refused).is_err(), "{refused:?}");
        }
    }
}
