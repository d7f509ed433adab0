//! Choosing a new password with a one-time link, for whoever forgot theirs.
//!
//! - [`request`] (servers that send mail): answers the same, and does the same work, whether or
//!   not the address has an account; it stores a link that works for an hour and mails the
//!   address — the link when it has an account, a note that none uses it otherwise. Only the
//!   inbox learns which. An address gets at most [`MAILS_PER_ADDRESS`] such mails an hour,
//!   however often it is asked for (beyond that the answer is the same and nothing is sent).
//! - [`issue`] (the operator, `ringback reset-link`): the link of an account, for servers that
//!   send no mail; the operator passes it on.
//! - [`reset`]: sets the new password once, ends every session of the account in every clinic
//!   (access tokens at once, refresh tokens revoked), lets every other link of the account
//!   lapse, and signs the person in to their oldest clinic.
//! - [`lapse_links`]: a password change or signing out everywhere lets every unused link of the
//!   account lapse too.
//!
//! Each step is audited in every clinic the account belongs to, naming the account:
//! `auth.password_reset_requested` (no actor: anyone may ask), `auth.password_reset_link_issued`
//! (no actor: the operator) and `auth.password_reset` (by the account, which proved the link).

use chrono::Duration;
use ringback_core::clock::Clock;
use ringback_core::error::DomainError;
use ringback_entity::{password_reset, user};
use ringback_shared::access::Role;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, Set, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::auth::password;
use crate::auth::session::SessionKeys;
use crate::auth::tokens::hash_secret;
use crate::doors;
use crate::service::account::{self, SessionGrant, normalize_email};
use crate::service::audit::{self, AuditEvent};
use crate::service::mail_links::{self, Letter, MailLinks, new_token};

/// How long a reset link works.
pub const RESET_TTL: Duration = Duration::hours(1);

/// Where the reset page is, below the public URL; the token follows `#`.
pub const RESET_PATH: &str = "/reset-password";

/// The most reset mails one address gets in [`RESET_TTL`].
pub const MAILS_PER_ADDRESS: u64 = 3;

/// The answer to a link that is unknown, used, expired, or of an account that is gone.
const LINK_INVALID: &str = "this link has expired or was already used: ask for a new one";

/// Stores a reset link for `email` and mails it; the same answer whether or not the address has
/// an account. A malformed address is refused in words (that says nothing about accounts).
pub async fn request(
    db: &DatabaseConnection,
    clock: &Clock,
    mail: &MailLinks,
    email: &str,
) -> Result<(), DomainError> {
    let email = normalize_email(email)?;
    let account = find_account(db, &email).await?;
    // Stored for an address without an account too (never usable), so both answers cost the
    // same and the hourly count holds for any address.
    let (id, token) = store(db, clock, &email, account.as_ref().map(|user| user.id)).await?;
    // Counted after storing, this link included: of requests at the same moment none passes
    // the count unseen (they may all stand back; none mails a fourth time).
    let links_this_hour = password_reset::Entity::find()
        .filter(password_reset::Column::Email.eq(email.as_str()))
        .filter(password_reset::Column::CreatedAt.gt(clock.now() - RESET_TTL))
        .count(db)
        .await?;
    if links_this_hour > MAILS_PER_ADDRESS {
        password_reset::Entity::delete_by_id(id).exec(db).await?;
        tracing::info!("a password reset was asked for an address mailed enough this hour");
        return Ok(());
    }
    let (db, clock, mail) = (db.clone(), clock.clone(), mail.clone());
    tokio::spawn(async move {
        let letter = match account {
            Some(user) => {
                if let Err(error) =
                    record(&db, &clock, user.id, "auth.password_reset_requested").await
                {
                    tracing::warn!(%error, "a password reset request was not audited");
                }
                reset_link(&mail.public_url, &token)
            }
            None => no_account(&mail.public_url),
        };
        mail_links::send_later(mail.mailer, email, letter, "password reset");
    });
    Ok(())
}

/// A reset link's token for the account of `email`, for the operator to pass on; `None` when no
/// account uses the address.
pub async fn issue(
    db: &DatabaseConnection,
    clock: &Clock,
    email: &str,
) -> Result<Option<String>, DomainError> {
    let email = normalize_email(email)?;
    let Some(user) = find_account(db, &email).await? else {
        return Ok(None);
    };
    let (_, token) = store(db, clock, &email, Some(user.id)).await?;
    record(db, clock, user.id, "auth.password_reset_link_issued").await?;
    Ok(Some(token))
}

/// Sets `new_password` for the account of the link `token` names and signs its owner in to their
/// oldest clinic; the link then stops working, with every other link of the account, and every
/// other session of the account ends. A password that breaks the rules is refused before the
/// link is used up.
pub async fn reset(
    db: &DatabaseConnection,
    clock: &Clock,
    keys: &SessionKeys,
    token: &str,
    new_password: &str,
) -> Result<SessionGrant, DomainError> {
    password::validate(new_password)?;
    let invalid = || DomainError::BadUserInput(LINK_INVALID.to_owned());
    let found = password_reset::Entity::find()
        .filter(password_reset::Column::TokenHash.eq(hash_secret(token.trim())))
        .filter(password_reset::Column::ExpiresAt.gt(clock.now()))
        .one(db)
        .await?
        .ok_or_else(invalid)?;
    let user_id = found.user_id.ok_or_else(invalid)?;
    let memberships = account::memberships(db, user_id).await?;
    let first = memberships.first().cloned().ok_or_else(invalid)?;
    let password_hash = password::hash(new_password).await?;
    let user = set_password(db, clock, found.id, user_id, password_hash)
        .await?
        .ok_or_else(invalid)?;
    let mut grant = None;
    for membership in &memberships {
        let txn = doors::membership(db, clock, membership).begin().await?;
        account::revoke_user_sessions(&txn, user_id).await?;
        audit::append(
            &txn,
            AuditEvent {
                actor: Some(user_id),
                action: "auth.password_reset",
                detail: json!({}),
            },
        )
        .await?;
        if membership.clinic_id == first.clinic_id {
            let role = Role::parse(&membership.role)
                .ok_or_else(|| DomainError::Internal("unknown stored role".to_owned()))?;
            grant = Some(account::new_session(&txn, keys, user.clone(), role).await?);
        }
        txn.commit().await?;
    }
    grant.ok_or_else(invalid)
}

/// Uses up link `reset_id` and sets the account's password hash, in one transaction; every link
/// of the account goes and every access token it holds ends (the session version moves on).
/// `None` when another request used the link first or the account is gone.
async fn set_password(
    db: &DatabaseConnection,
    clock: &Clock,
    reset_id: Uuid,
    user_id: Uuid,
    password_hash: String,
) -> Result<Option<user::Model>, DomainError> {
    let txn = db.begin().await?;
    let used = password_reset::Entity::delete_by_id(reset_id)
        .exec(&txn)
        .await?;
    let Some(user) = user::Entity::find_by_id(user_id).one(&txn).await? else {
        return Ok(None);
    };
    if used.rows_affected != 1 {
        return Ok(None);
    }
    lapse_links(&txn, user_id).await?;
    let next_version = user.session_version + 1;
    let mut changed: user::ActiveModel = user.into();
    changed.session_version = Set(next_version);
    changed.password_hash = Set(password_hash);
    changed.updated_at = Set(clock.now());
    let user = changed.update(&txn).await?;
    txn.commit().await?;
    Ok(Some(user))
}

/// Lets every unused link of account `user_id` lapse: a changed password or sessions ended on
/// purpose leave no link behind that someone who once read the mailbox could still use.
pub async fn lapse_links(conn: &impl ConnectionTrait, user_id: Uuid) -> Result<(), DomainError> {
    password_reset::Entity::delete_many()
        .filter(password_reset::Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The account that uses `email` (already normalised), if any.
async fn find_account(
    db: &DatabaseConnection,
    email: &str,
) -> Result<Option<user::Model>, DomainError> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(db)
        .await?)
}

/// Stores a link for `email` (of account `user_id`, if any) and answers its id and token.
async fn store(
    db: &DatabaseConnection,
    clock: &Clock,
    email: &str,
    user_id: Option<Uuid>,
) -> Result<(Uuid, String), DomainError> {
    let token = new_token();
    let now = clock.now();
    let id = Uuid::now_v7();
    password_reset::ActiveModel {
        id: Set(id),
        token_hash: Set(hash_secret(&token)),
        email: Set(email.to_owned()),
        user_id: Set(user_id),
        expires_at: Set(now + RESET_TTL),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok((id, token))
}

/// Appends `action` about account `user_id`, by no signed-in actor (anyone may ask for a link; the
/// operator issues one), to the chain of every clinic the account belongs to.
async fn record(
    db: &DatabaseConnection,
    clock: &Clock,
    user_id: Uuid,
    action: &'static str,
) -> Result<(), DomainError> {
    for membership in account::memberships(db, user_id).await? {
        let txn = doors::membership(db, clock, &membership).begin().await?;
        audit::append(
            &txn,
            AuditEvent {
                actor: None,
                action,
                detail: json!({ "account": user_id }),
            },
        )
        .await?;
        txn.commit().await?;
    }
    Ok(())
}

/// The mail to an address with an account: the link.
fn reset_link(public_url: &str, token: &str) -> Letter {
    Letter {
        subject: "Choose a new Ringback password".to_owned(),
        body: format!(
            "Someone, we hope you, asked to reset the password of your Ringback account.\n\n\
             Open this link within an hour to choose a new one:\n\
             {public_url}{RESET_PATH}#{token}\n\n\
             Choosing a new password signs you out everywhere else. The link works once.\n\n\
             If it was not you, ignore this mail: your password stays as it is.\n"
        ),
    }
}

/// The mail to an address no account uses.
fn no_account(public_url: &str) -> Letter {
    Letter {
        subject: "No Ringback account uses this address".to_owned(),
        body: format!(
            "Someone, perhaps you, asked to reset the password of a Ringback account with this \
             address, but no account uses it. If your clinic invited you, your account may use \
             another address: ask your clinic's owner. To create a clinic's account, sign up at \
             {public_url}/sign-up.\n\n\
             If it was not you, ignore this mail: nothing has changed.\n"
        ),
    }
}
