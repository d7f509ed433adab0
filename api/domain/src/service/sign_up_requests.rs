//! Sign-up with a confirmed address, for deployments that send mail. `request` answers the same,
//! and does the same work, whether or not the address has an account: it checks the form, hashes
//! the password, stores a request that expires in a day, and mails the address — a confirmation
//! link when the address is new, a note that an account already exists when it is not. Only the
//! inbox learns which; an address gets at most [`MAILS_PER_ADDRESS`] such mails an hour.
//! `confirm` turns a request into the clinic and its signed-in owner, once,
//! for whoever holds both the link and the password chosen with the request: a request someone
//! else made for the address (with a password they know) cannot be confirmed by the address's
//! owner by mistake, which would leave that someone able to sign in to the new clinic.
//!
//! Mail goes out after the answer ([`mail_links::send_later`]), so the answer's timing does not
//! depend on the SMTP server either.

use chrono::Duration;
use ringback_entity::{sign_up_request, user};
use ringback_shared::phone::Region;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    Set,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::password;
use crate::auth::session::SessionKeys;
use crate::auth::tokens::hash_secret;
use crate::service::account::{self, NewClinic, SessionGrant, SignUp, ValidSignUp};
use crate::service::mail_links::{self, Letter, MailLinks, new_token};
use ringback_core::clock::Clock;
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;

/// How long a confirmation link works.
pub const REQUEST_TTL: Duration = Duration::hours(24);

/// The most sign-up mails one address gets in [`MAIL_WINDOW`], however often it is asked for
/// (beyond that the answer is the same and nothing is stored or sent).
pub const MAILS_PER_ADDRESS: u64 = 3;
/// The window [`MAILS_PER_ADDRESS`] counts in.
pub const MAIL_WINDOW: Duration = Duration::hours(1);

/// Where the confirmation page is, below the public URL; the token follows `#`, so it never
/// reaches a server log.
pub const CONFIRM_PATH: &str = "/confirm-sign-up";

/// The clinic's details of a request, as stored until it is confirmed.
#[derive(Serialize, Deserialize)]
struct Details {
    clinic_name: String,
    kind: String,
    time_zone: String,
    region: String,
    currency: String,
    owner_name: String,
    /// The terms version accepted with the request, and when (absent from requests stored
    /// before terms were recorded).
    #[serde(default)]
    terms: Option<(String, chrono::DateTime<chrono::Utc>)>,
}

/// Stores a sign-up request and mails its address; the same answer whoever owns the address.
pub async fn request(
    db: &DatabaseConnection,
    clock: &Clock,
    mail: &MailLinks,
    input: SignUp,
) -> Result<(), DomainError> {
    let valid = account::validate_sign_up(input, clock.now()).await?;
    let has_account = user::Entity::find()
        .filter(user::Column::Email.eq(valid.email.as_str()))
        .one(db)
        .await?
        .is_some();
    let token = new_token();
    let now = clock.now();
    // Stored for an address with an account too (never confirmable: the address is taken), so
    // both answers cost the same.
    let id = Uuid::now_v7();
    sign_up_request::ActiveModel {
        id: Set(id),
        token_hash: Set(hash_secret(&token)),
        email: Set(valid.email.clone()),
        password_hash: Set(valid.password_hash.clone()),
        details: Set(serde_json::to_value(details_of(&valid))
            .map_err(|e| DomainError::Internal(format!("sign-up details: {e}")))?),
        expires_at: Set(now + REQUEST_TTL),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    // Counted after storing, this request included: of requests at the same moment none passes
    // the count unseen (they may all stand back; none mails once too often).
    let this_hour = sign_up_request::Entity::find()
        .filter(sign_up_request::Column::Email.eq(valid.email.as_str()))
        .filter(sign_up_request::Column::CreatedAt.gt(now - MAIL_WINDOW))
        .count(db)
        .await?;
    if this_hour > MAILS_PER_ADDRESS {
        sign_up_request::Entity::delete_by_id(id).exec(db).await?;
        tracing::info!("a sign-up was asked for an address mailed enough this hour");
        return Ok(());
    }
    let body = if has_account {
        already_registered(&mail.public_url)
    } else {
        confirmation(&mail.public_url, &token)
    };
    mail_links::send_later(mail.mailer.clone(), valid.email, body, "sign-up");
    Ok(())
}

/// What confirms a sign-up: the link's token and the password chosen with the request.
pub struct Confirmation<'a> {
    pub token: &'a str,
    pub password: &'a str,
}

/// Why a confirmation with the right link was refused: its password is not the request's.
pub const NOT_THE_CHOSEN_PASSWORD: &str = "this is not the password chosen when signing up with \
     this link: type that one (a link from a sign-up you did not make is best ignored)";

/// Creates the clinic and owner of the request the confirmation's token names, when its password
/// is the one chosen with the request, and signs the owner in (with `billing_on`, the clinic's
/// trial starts); the link then stops working. A wrong password, or a creation that failed (the
/// error says whether to try again), leaves the link as it was. An unknown, used or expired
/// token, or an address taken since, gets one answer.
pub async fn confirm(
    db: &DatabaseConnection,
    clock: &Clock,
    keys: &SessionKeys,
    secrets: &Secrets,
    confirmation: Confirmation<'_>,
    billing_on: bool,
) -> Result<SessionGrant, DomainError> {
    let invalid =
        || DomainError::BadUserInput("this link has expired or was already used".to_owned());
    let found = sign_up_request::Entity::find()
        .filter(sign_up_request::Column::TokenHash.eq(hash_secret(confirmation.token.trim())))
        .filter(sign_up_request::Column::ExpiresAt.gt(clock.now()))
        .one(db)
        .await?
        .ok_or_else(invalid)?;
    if !password::verify(confirmation.password, &found.password_hash).await? {
        return Err(DomainError::BadUserInput(
            NOT_THE_CHOSEN_PASSWORD.to_owned(),
        ));
    }
    let request = found.id;
    let valid = valid_sign_up(found)?;
    match account::create_clinic(db, clock, keys, secrets, (valid, Some(request)), billing_on).await
    {
        Err(DomainError::Conflict(_)) => Err(invalid()),
        other => other,
    }
}

/// Uses up the sign-up request `id` in `txn`, the one creating its clinic: of two confirmations
/// at the same moment, one deletes the row and goes on, the other is refused (`CONFLICT`); the
/// row comes back should the creation fail.
pub(crate) async fn use_up(txn: &TenantTxn, id: Uuid) -> Result<(), DomainError> {
    let deleted = sign_up_request::Entity::delete_by_id(id)
        .exec(txn.conn())
        .await?;
    if deleted.rows_affected != 1 {
        return Err(DomainError::Conflict(
            "this sign-up was confirmed meanwhile".to_owned(),
        ));
    }
    Ok(())
}

fn details_of(valid: &ValidSignUp) -> Details {
    Details {
        clinic_name: valid.clinic.name.clone(),
        kind: valid.clinic.kind.clone(),
        time_zone: valid.clinic.time_zone.clone(),
        region: valid.clinic.region.as_str().to_owned(),
        currency: valid.clinic.currency.clone(),
        owner_name: valid.owner_name.clone(),
        terms: valid.terms.clone(),
    }
}

fn valid_sign_up(row: sign_up_request::Model) -> Result<ValidSignUp, DomainError> {
    let stored = |e: String| DomainError::Internal(format!("stored sign-up request: {e}"));
    let details: Details =
        serde_json::from_value(row.details).map_err(|e| stored(e.to_string()))?;
    Ok(ValidSignUp {
        clinic: NewClinic {
            region: Region::parse(&details.region).map_err(|e| stored(e.to_string()))?,
            name: details.clinic_name,
            kind: details.kind,
            time_zone: details.time_zone,
            currency: details.currency,
        },
        owner_name: details.owner_name,
        email: row.email,
        password_hash: row.password_hash,
        terms: details.terms,
    })
}

/// The mail to a new address: the confirmation link.
fn confirmation(public_url: &str, token: &str) -> Letter {
    Letter {
        subject: "Confirm your address to finish signing up to Ringback".to_owned(),
        body: format!(
            "Someone, we hope you, signed up to Ringback with this address.\n\n\
             Open this link within 24 hours to create your account:\n\
             {public_url}{CONFIRM_PATH}#{token}\n\n\
             If it was not you, ignore this mail: nothing is created without the link.\n"
        ),
    }
}

/// The mail to an address that already has an account.
fn already_registered(public_url: &str) -> Letter {
    Letter {
        subject: "You already have a Ringback account".to_owned(),
        body: format!(
            "Someone, perhaps you, tried to sign up to Ringback with this address, which already \
             has an account. Sign in at {public_url}/sign-in instead.\n\n\
             If it was not you, ignore this mail: nothing has changed.\n"
        ),
    }
}
