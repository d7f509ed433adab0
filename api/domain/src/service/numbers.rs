//! Numbers got through Ringback instead of typed in: found among the numbers Twilio sells in the
//! clinic's country, bought and pointed at this deployment's webhooks in one request, or picked
//! from the account's own numbers nobody uses yet and pointed here; released when no longer
//! wanted. A number got this way is the clinic's by construction. Each change is audited by its
//! masked tail; Twilio is asked outside any transaction; a clinic holds at most [`MAX_NUMBERS`].

use ringback_entity::provider_number;
use ringback_providers::numbers::{NumberDirectory, NumberHooks, NumberSearch};
use ringback_providers::sms::ProviderError;
use ringback_providers::twilio::WEBHOOK_PREFIX;
use ringback_shared::caller_key::routing_key;
use ringback_shared::phone::{self, E164};
use sea_orm::{ColumnTrait, DatabaseConnection, ModelTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use crate::service::audit::{self, AuditEvent};
use crate::service::phone_lines::{
    NumberSource, OpenedNumber, holding_row, insert_provider_number, normalize, provider_numbers,
};
use crate::service::{clinic, in_clinic, keys, provider_leftovers};
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::{TenantScope, TenantTxn};

pub use ringback_providers::numbers::{AvailableNumber, NumberKind, OwnedNumber};

/// The most numbers one clinic may hold: each costs the deployment a monthly fee.
pub const MAX_NUMBERS: usize = 5;

/// The deployment's Twilio account and where its webhooks reach this deployment.
#[derive(Clone)]
pub struct NumberDesk {
    pub directory: std::sync::Arc<dyn NumberDirectory>,
    /// `RINGBACK_PUBLIC_URL`.
    pub public_base: String,
}

impl NumberDesk {
    /// Where a clinic's number sends its calls, call reports and texts.
    pub fn hooks(&self) -> NumberHooks {
        let hook = |name: &str| format!("{}{WEBHOOK_PREFIX}/{name}", self.public_base);
        NumberHooks {
            voice_url: hook("voice"),
            status_callback: hook("call-status"),
            sms_url: hook("sms"),
        }
    }
}

/// What a country asks before texts from a new number reach phones there, in words for the page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextingRules {
    /// ISO 3166 alpha-2.
    pub country: String,
    /// Mobile or local numbers.
    pub kind: NumberKind,
    /// What must be registered first, if anything.
    pub registration: Option<&'static str>,
    /// Where in Twilio's console it is done.
    pub console_url: &'static str,
}

/// Twilio's console, where regulatory bundles and A2P 10DLC registrations are made.
const CONSOLE_URL: &str = "https://console.twilio.com/";

/// The rules for texting from a number of `country`.
pub fn texting_rules(country: &str) -> TextingRules {
    let registration = match country {
        "US" => Some(
            "US carriers block texts from local numbers until the business and its use case are \
             registered for A2P 10DLC (a brand and a campaign) in Twilio's console; until that \
             is approved, calls work but text-backs to US phones are not delivered.",
        ),
        "GB" => Some(
            "Twilio sells UK mobile numbers only to an account with an approved regulatory bundle \
             (the business's name and address, with proof) in its console; once the number is \
             yours, its texts are delivered.",
        ),
        "AU" => Some(
            "Twilio sells Australian mobile numbers only to an account with an approved regulatory \
             bundle (the business's details, with proof) in its console; once the number is \
             yours, its texts are delivered.",
        ),
        _ => None,
    };
    TextingRules {
        country: country.to_owned(),
        kind: NumberKind::for_country(country),
        registration,
        console_url: CONSOLE_URL,
    }
}

/// Numbers the clinic could buy, with its country's texting rules.
#[derive(Clone, Debug)]
pub struct NumberOffer {
    pub rules: TextingRules,
    pub numbers: Vec<AvailableNumber>,
}

/// Digits only, at most `max` of them, or `None` when there are none.
fn digits(text: Option<&str>, max: usize, what: &str) -> Result<Option<String>, DomainError> {
    let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    if text.len() > max || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DomainError::BadUserInput(format!(
            "{what} is up to {max} digits"
        )));
    }
    Ok(Some(text.to_owned()))
}

/// Longest town name a search takes.
const MAX_TOWN_CHARS: usize = 60;

/// A town or city as typed (letters, spaces, hyphens, apostrophes and dots), or `None` when empty.
fn town(text: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
        return Ok(None);
    };
    let readable = text
        .chars()
        .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '.'));
    if text.chars().count() > MAX_TOWN_CHARS || !readable {
        return Err(DomainError::BadUserInput(format!(
            "a town is up to {MAX_TOWN_CHARS} letters"
        )));
    }
    Ok(Some(text.to_owned()))
}

/// The clinic's country (its region).
async fn clinic_country(scope: &TenantScope) -> Result<String, DomainError> {
    let txn = scope.begin().await?;
    let current = clinic::get(&txn).await?;
    txn.commit().await?;
    Ok(current.default_region)
}

/// What a search for numbers for sale asks for, as typed; each part optional.
#[derive(Clone, Copy, Debug, Default)]
pub struct WantedNumber<'a> {
    /// US and Canada.
    pub area_code: Option<&'a str>,
    /// US and Canada: the town or city.
    pub locality: Option<&'a str>,
    pub contains: Option<&'a str>,
}

/// Numbers Twilio sells in the clinic's country that can call and text: in an area code or a
/// town (US and Canada) or containing some digits, as `wanted` says.
pub async fn search(
    scope: &TenantScope,
    desk: &NumberDesk,
    wanted: WantedNumber<'_>,
) -> Result<NumberOffer, DomainError> {
    let rules = texting_rules(&clinic_country(scope).await?);
    let area_code = digits(wanted.area_code, 3, "an area code")?;
    let locality = town(wanted.locality)?;
    if (area_code.is_some() || locality.is_some()) && rules.kind != NumberKind::Local {
        return Err(DomainError::BadUserInput(
            "area codes and towns apply to US and Canadian numbers; search by digits instead"
                .to_owned(),
        ));
    }
    let search = NumberSearch {
        country: rules.country.clone(),
        kind: rules.kind,
        area_code,
        contains: digits(wanted.contains, 10, "a number search")?,
        locality,
    };
    let numbers = desk
        .directory
        .search(&search)
        .await
        .map_err(|error| provider_failure(error, "list numbers for sale"))?;
    Ok(NumberOffer { rules, numbers })
}

/// The clinic's country, once it is shown to hold fewer than [`MAX_NUMBERS`] (refused otherwise).
async fn country_with_room(scope: &TenantScope) -> Result<String, DomainError> {
    let txn = scope.begin().await?;
    let held = provider_numbers(&txn).await?.len();
    let country = clinic::get(&txn).await?.default_region;
    txn.commit().await?;
    if held >= MAX_NUMBERS {
        return Err(DomainError::BadUserInput(format!(
            "a clinic has at most {MAX_NUMBERS} numbers; release one first"
        )));
    }
    Ok(country)
}

/// Buys `number` (one [`search`] offered) for the clinic and points it here in the same request.
pub async fn buy(
    scope: &TenantScope,
    secrets: &Secrets,
    desk: &NumberDesk,
    actor: Uuid,
    number: &str,
) -> Result<OpenedNumber, DomainError> {
    let country = country_with_room(scope).await?;
    let e164 = own_country_number(number, &country)?;
    let bought = match desk.directory.buy(e164.as_str(), &desk.hooks()).await {
        Ok(bought) => bought,
        Err(
            error @ (ProviderError::NoAnswer(_)
            | ProviderError::Unreadable
            | ProviderError::Unavailable { .. }),
        ) => bought_after_all(scope, desk, &e164)
            .await?
            .ok_or_else(|| provider_failure(error, "sell this number"))?,
        Err(error) => return Err(provider_failure(error, "sell this number")),
    };
    let txn = scope.begin().await?;
    let current = clinic::get(&txn).await?;
    let Some(created) = insert_provider_number(
        &txn,
        secrets,
        &current,
        &e164,
        NumberSource::Bought(&bought.sid),
    )
    .await?
    else {
        tracing::error!(
            sid = bought.sid,
            "a number just bought is already some clinic's"
        );
        return Err(DomainError::Internal(
            "a number just bought is already registered".to_owned(),
        ));
    };
    audit_number(&txn, actor, "clinic.provider_number_bought", &created).await?;
    txn.commit().await?;
    Ok(OpenedNumber {
        row: created,
        e164: e164.as_str().to_owned(),
    })
}

/// The number `e164` when the account holds it after a purchase whose answer was lost (Twilio
/// may have sold it before the request timed out): it is recorded as bought rather than left
/// rented, pointed here and nobody's (and no longer for sale to a second try). A deleted
/// clinic's number waiting to be released is not this purchase.
async fn bought_after_all(
    scope: &TenantScope,
    desk: &NumberDesk,
    e164: &E164,
) -> Result<Option<OwnedNumber>, DomainError> {
    let Ok(owned) = desk.directory.owned().await else {
        return Ok(None);
    };
    let txn = scope.begin().await?;
    let releasing = provider_leftovers::numbers_kept_from_clinics(txn.conn()).await?;
    txn.commit().await?;
    Ok(owned
        .into_iter()
        .find(|number| number.e164 == e164.as_str() && !releasing.contains(&number.sid)))
}

/// `number` in E.164 if it belongs to the clinic's `country`.
fn own_country_number(number: &str, country: &str) -> Result<E164, DomainError> {
    let normalized = normalize(number, country)?;
    let region = phone::region_of(&normalized.e164);
    if region.as_ref().map(|region| region.as_str()) != Some(country) {
        return Err(DomainError::BadUserInput(format!(
            "choose a number of the clinic's country ({country})"
        )));
    }
    Ok(normalized.e164)
}

/// The account's numbers that clinic `asking` may take: those no clinic holds, and those it
/// stopped using and still holds back (so that it can take one back).
pub async fn unclaimed(
    db: &DatabaseConnection,
    secrets: &Secrets,
    desk: &NumberDesk,
    asking: Uuid,
) -> Result<Vec<OwnedNumber>, DomainError> {
    let owned = desk
        .directory
        .owned()
        .await
        .map_err(|error| provider_failure(error, "list the account's numbers"))?;
    let releasing = provider_leftovers::numbers_kept_from_clinics(db).await?;
    let mut free = Vec::new();
    for number in owned {
        if releasing.contains(&number.sid) {
            continue;
        }
        let holder = holding_row(db, secrets, &number.e164).await?;
        let takes_back =
            |row: &provider_number::Model| row.clinic_id == asking && row.stopped_at.is_some();
        if holder.as_ref().is_none_or(takes_back) {
            free.push(number);
        }
    }
    Ok(free)
}

/// Why a number that cannot send texts is not taken.
pub const CANNOT_TEXT: &str = "this number cannot send texts, and callers are texted back from it: choose one that can, or buy one";

/// Takes the account's number `sid` for the clinic and points its webhooks here. Taking one the
/// clinic already holds points it again (so a failed pointing can be retried). One the account
/// does not hold and one another clinic uses are both not found, so nobody learns which.
pub async fn take(
    scope: &TenantScope,
    secrets: &Secrets,
    desk: &NumberDesk,
    actor: Uuid,
    sid: &str,
) -> Result<OpenedNumber, DomainError> {
    let owned = desk
        .directory
        .owned()
        .await
        .map_err(|error| provider_failure(error, "list the account's numbers"))?;
    let found = owned
        .into_iter()
        .find(|number| number.sid == sid)
        .ok_or(DomainError::NotFound)?;
    // A deleted clinic's number waiting to be released at Twilio is no longer for taking.
    let txn = scope.begin().await?;
    let releasing = provider_leftovers::numbers_kept_from_clinics(txn.conn()).await?;
    txn.commit().await?;
    if releasing.contains(&found.sid) {
        return Err(DomainError::NotFound);
    }
    let e164 = E164::parse(&found.e164).map_err(|_| DomainError::NotFound)?;
    // Refused only once the number is known to be free or the clinic's own (below), so another
    // clinic's number stays not found whatever it can do.
    let cannot_text = || DomainError::BadUserInput(CANNOT_TEXT.to_owned());
    let txn = scope.begin().await?;
    let row = match held_by_clinic(&txn, secrets, &e164).await? {
        Some(_) if !found.can_text => return Err(cannot_text()),
        Some(row) => row,
        None => {
            drop(txn);
            country_with_room(scope).await?;
            let txn = scope.begin().await?;
            let current = clinic::get(&txn).await?;
            let inserted =
                insert_provider_number(&txn, secrets, &current, &e164, NumberSource::Taken(sid))
                    .await?;
            let Some(created) = inserted else {
                drop(txn);
                return Err(DomainError::NotFound);
            };
            if !found.can_text {
                drop(txn);
                return Err(cannot_text());
            }
            audit_number(&txn, actor, "clinic.provider_number_taken", &created).await?;
            txn.commit().await?;
            created
        }
    };
    desk.directory
        .point(sid, &desk.hooks())
        .await
        .map_err(|error| {
            provider_failure(error, "point this number here (use it again to retry)")
        })?;
    Ok(OpenedNumber {
        row,
        e164: e164.as_str().to_owned(),
    })
}

/// The clinic's own row for `e164`, if it uses it.
pub(crate) async fn held_by_clinic(
    txn: &TenantTxn,
    secrets: &Secrets,
    e164: &E164,
) -> Result<Option<provider_number::Model>, DomainError> {
    let routing = routing_key(secrets.pepper.expose(), e164)
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    Ok(txn
        .find::<provider_number::Entity>()
        .filter(provider_number::Column::RoutingKey.eq(routing))
        .filter(provider_number::Column::StoppedAt.is_null())
        .one(txn.conn())
        .await?)
}

/// Releases the clinic's number `id`, one Ringback bought, at Twilio (it stops being the
/// account's, and its monthly fee stops) and forgets it. A number Twilio no longer has is
/// forgotten all the same; one taken from the account or typed in is refused (it is stopped
/// using instead: [`phone_lines::remove_provider_number`]).
pub async fn release(
    scope: &TenantScope,
    secrets: &Secrets,
    desk: &NumberDesk,
    actor: Uuid,
    id: Uuid,
) -> Result<(), DomainError> {
    let txn = scope.begin().await?;
    let row = in_clinic::<provider_number::Entity>(&txn, id)
        .await?
        .ok_or(DomainError::NotFound)?;
    if !row.bought_here {
        // Taken from the account or typed in, it was somebody's before Ringback: releasing it
        // would give it up at Twilio for good.
        return Err(DomainError::BadUserInput(
            "Ringback has no record of buying this number: stop using it instead (it stays in \
             the Twilio account, where the deployment's operator can release it)"
                .to_owned(),
        ));
    }
    let current = clinic::get(&txn).await?;
    let key = keys::data_key(secrets, &current)?;
    let e164 = keys::open_clinic_number(&key, txn.clinic_id(), &row.number_sealed)?;
    txn.commit().await?;
    let sid = match row.provider_sid.clone() {
        Some(sid) => Some(sid),
        None => desk
            .directory
            .owned()
            .await
            .map_err(|error| provider_failure(error, "find this number"))?
            .into_iter()
            .find(|number| number.e164 == e164)
            .map(|number| number.sid),
    };
    if let Some(sid) = sid {
        match desk.directory.release(&sid).await {
            Ok(()) | Err(ProviderError::Refused { status: 404, .. }) => {}
            Err(error) => return Err(provider_failure(error, "release this number")),
        }
    }
    let txn = scope.begin().await?;
    if let Some(row) = in_clinic::<provider_number::Entity>(&txn, id).await? {
        audit_number(&txn, actor, "clinic.provider_number_released", &row).await?;
        row.delete(txn.conn()).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Records `action` on `number` by its id and masked tail.
async fn audit_number(
    txn: &TenantTxn,
    actor: Uuid,
    action: &'static str,
    number: &provider_number::Model,
) -> Result<(), DomainError> {
    audit::append(
        txn,
        AuditEvent {
            actor: Some(actor),
            action,
            detail: json!({ "number": number.id, "tail": number.tail }),
        },
    )
    .await?;
    Ok(())
}

/// A failure at Twilio in words an owner can act on (never repeating a number).
fn provider_failure(error: ProviderError, doing: &str) -> DomainError {
    tracing::warn!(%error, doing, "Twilio refused or failed a number request");
    match error {
        ProviderError::Refused {
            code: Some(21422), ..
        } => DomainError::BadUserInput(
            "that number is no longer for sale; search again and choose another".to_owned(),
        ),
        ProviderError::Refused {
            code: Some(21631 | 21649 | 21650 | 21651),
            ..
        } => DomainError::BadUserInput(format!(
            "Twilio needs the business's address and a regulatory bundle approved for this \
             country before it sells this number: add them in its console ({CONSOLE_URL}, \
             Phone Numbers → Regulatory Compliance), then try again"
        )),
        ProviderError::Refused { status, code } => DomainError::BadUserInput(format!(
            "Twilio refused to {doing} (HTTP {status}{})",
            code.map(|code| format!(", error {code}"))
                .unwrap_or_default()
        )),
        _ => DomainError::Unavailable(format!(
            "Twilio could not be reached to {doing}; try again shortly"
        )),
    }
}
