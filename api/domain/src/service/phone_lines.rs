//! The clinic's own numbers: the forwarding line calls are dialled through to, and the provider
//! numbers callers ring. Both are sealed with the clinic's data key; provider numbers also carry a
//! deployment-wide routing key so a webhook can find the clinic from its `To` number.

use chrono::{DateTime, Utc};
use ringback_entity::{call, clinic as clinic_row, message, provider_number};
use ringback_shared::caller_key::routing_key;
use ringback_shared::phone::{self, Region};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, ModelTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, SqlErr, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::service::audit::{self, AuditEvent};
use crate::service::in_clinic;
use crate::service::{clinic, keys, numbers, provider_leftovers};
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::{TenantScope, TenantTxn, set_local};
use ringback_providers::numbers::NumberDirectory;

/// Normalises one of the clinic's numbers with its region; the error never repeats the number.
pub(crate) fn normalize(
    number: &str,
    region: &str,
) -> Result<phone::NormalizedNumber, DomainError> {
    let region =
        Region::parse(region).map_err(|e| DomainError::Internal(format!("stored region: {e}")))?;
    phone::normalize(number, region).map_err(|e| DomainError::BadUserInput(e.to_string()))
}

/// Refuses `number` as a line the clinic's calls are put through to (its forwarding line, a team
/// member's callback phone) when it pays whoever rents it or is outside the clinic's country
/// `region` (see [`phone::staff_line_refusal`]).
pub(crate) fn staff_line_allowed(
    number: &phone::NormalizedNumber,
    region: &str,
) -> Result<(), DomainError> {
    let region =
        Region::parse(region).map_err(|e| DomainError::Internal(format!("stored region: {e}")))?;
    match phone::staff_line_refusal(number, region) {
        Some(why) => Err(DomainError::BadUserInput(why.to_owned())),
        None => Ok(()),
    }
}

/// `number` as a staff line (the forwarding line, a team member's callback phone) of the clinic
/// whose region is `region`: normalised, allowed ([`staff_line_allowed`]), and none of the
/// clinic's own Ringback numbers, which would send the calls put through back here, round and
/// round (whether a number is another clinic's is nobody's to learn).
pub(crate) async fn staff_line(
    txn: &TenantTxn,
    secrets: &Secrets,
    number: &str,
    region: &str,
) -> Result<phone::NormalizedNumber, DomainError> {
    let normalized = normalize(number, region)?;
    staff_line_allowed(&normalized, region)?;
    if numbers::held_by_clinic(txn, secrets, &normalized.e164)
        .await?
        .is_some()
    {
        return Err(DomainError::BadUserInput(RINGING_RINGBACK.to_owned()));
    }
    Ok(normalized)
}

/// Sets (or with `None` clears) the forwarding line.
pub async fn set_forwarding_line(
    txn: &TenantTxn,
    secrets: &Secrets,
    actor: Uuid,
    number: Option<&str>,
) -> Result<clinic_row::Model, DomainError> {
    let current = clinic::get(txn).await?;
    let (sealed, tail) = match number.map(str::trim).filter(|n| !n.is_empty()) {
        Some(number) => {
            let normalized = staff_line(txn, secrets, number, &current.default_region).await?;
            let key = keys::data_key(secrets, &current)?;
            let sealed = keys::seal_clinic_number(&key, txn.clinic_id(), normalized.e164.as_str())?;
            (Some(sealed), Some(phone::mask_tail(&normalized.e164)))
        }
        None => (None, None),
    };
    let mut model: clinic_row::ActiveModel = current.into();
    model.forwarding_line_sealed = Set(sealed);
    model.forwarding_line_tail = Set(tail);
    model.updated_at = Set(txn.now());
    let updated = model.update(txn.conn()).await?;
    audit::append(
        txn,
        AuditEvent {
            actor: Some(actor),
            action: "clinic.forwarding_line_changed",
            detail: json!({}),
        },
    )
    .await?;
    Ok(updated)
}

/// Why a staff line that is one of the clinic's own Ringback numbers is refused.
const RINGING_RINGBACK: &str = "this is one of the clinic's Ringback numbers: calls put through to it would come back here instead of ringing your staff; give the phone your staff answer";

/// Why a provider number that is the clinic's forwarding line is refused.
const NUMBER_IS_FORWARDING_LINE: &str = "this is the clinic's forwarding line: calls to it would be forwarded to itself; set the phone your staff answer as the forwarding line first";

/// The forwarding line in E.164, opened from its sealed form, if set.
pub async fn forwarding_line(
    txn: &TenantTxn,
    secrets: &Secrets,
) -> Result<Option<String>, DomainError> {
    let current = clinic::get(txn).await?;
    open_forwarding_line(secrets, &current)
}

/// The forwarding line of `clinic` (a row already read), opened, if it has one.
fn open_forwarding_line(
    secrets: &Secrets,
    clinic: &ringback_entity::clinic::Model,
) -> Result<Option<String>, DomainError> {
    let Some(sealed) = clinic.forwarding_line_sealed.as_deref() else {
        return Ok(None);
    };
    let key = keys::data_key(secrets, clinic)?;
    keys::open_clinic_number(&key, clinic.id, sealed).map(Some)
}

/// What becomes of a call to the clinic's provider number.
#[derive(Debug, PartialEq, Eq)]
pub enum IncomingCallRoute {
    /// Ring the forwarding line (E.164) for the clinic's ring timeout; the outcome is reported.
    Forward {
        line: String,
        ring_timeout_seconds: i32,
    },
    /// No forwarding line is set: the caller is told that the clinic will text back.
    NoLine,
}

/// Where an incoming call goes: the clinic's forwarding line, if it has one.
pub async fn route_incoming_call(
    txn: &TenantTxn,
    secrets: &Secrets,
) -> Result<IncomingCallRoute, DomainError> {
    let settings = clinic::get(txn).await?;
    Ok(match open_forwarding_line(secrets, &settings)? {
        Some(line) => IncomingCallRoute::Forward {
            line,
            ring_timeout_seconds: settings.ring_timeout_seconds,
        },
        None => IncomingCallRoute::NoLine,
    })
}

/// Whom the clinic texts or calls, for choosing which of its numbers that goes from.
#[derive(Clone, Copy, Debug)]
pub struct Recipient<'a> {
    pub caller_key: &'a str,
    /// The missed call the text or callback answers, if it answers one.
    pub about_call: Option<Uuid>,
    /// The caller's contacts known by then count (a job passes the time it was queued).
    pub as_of: DateTime<Utc>,
    /// The number chosen for the same text before (a job's first attempt pins it, so every later
    /// attempt, and the look-up at the provider of one in doubt, which finds a text by sender,
    /// uses the same number while the clinic holds it).
    pub pinned: Option<Uuid>,
}

/// One of the clinic's numbers a text or call goes from: its id, and the number opened.
#[derive(Clone)]
pub struct SendingNumber {
    pub id: Uuid,
    pub e164: String,
}

/// The number the clinic texts or calls `to` from, the first of these it still uses: the one
/// chosen before for the same text, the one the call it answers came in on, the one of those in
/// use the caller last rang or texted by `to.as_of`; otherwise its oldest number. `None` when it has no number.
pub async fn sending_number(
    txn: &TenantTxn,
    secrets: &Secrets,
    to: Recipient<'_>,
) -> Result<Option<SendingNumber>, DomainError> {
    let numbers = provider_numbers(txn).await?;
    let Some(oldest) = numbers.first() else {
        return Ok(None);
    };
    let chosen = match numbers.len() {
        1 => oldest,
        _ => preferred(txn, &numbers, to).await?.unwrap_or(oldest),
    };
    let current = clinic::get(txn).await?;
    let key = keys::data_key(secrets, &current)?;
    Ok(Some(SendingNumber {
        id: chosen.id,
        e164: keys::open_clinic_number(&key, txn.clinic_id(), &chosen.number_sealed)?,
    }))
}

/// Of the clinic's `numbers` (those in use), the one `to` should hear from, if any: the pinned
/// one, the one the answered call came in on, the one the caller last reached among them (their
/// calls and texts to a number the clinic stopped using, such as a STOP, START or HELP kept there,
/// do not count).
async fn preferred<'n>(
    txn: &TenantTxn,
    numbers: &'n [provider_number::Model],
    to: Recipient<'_>,
) -> Result<Option<&'n provider_number::Model>, DomainError> {
    let held = |id: Option<Uuid>| id.and_then(|id| numbers.iter().find(|number| number.id == id));
    if let Some(pinned) = held(to.pinned) {
        return Ok(Some(pinned));
    }
    if let Some(call_id) = to.about_call {
        let rung = in_clinic::<call::Entity>(txn, call_id)
            .await?
            .and_then(|call| call.provider_number_id);
        if let Some(rung) = held(rung) {
            return Ok(Some(rung));
        }
    }
    let in_use: Vec<Uuid> = numbers.iter().map(|number| number.id).collect();
    Ok(held(
        last_reached(txn, (to.caller_key, &in_use), to.as_of).await?,
    ))
}

/// Which of the numbers `in_use` `caller_key` last reached (or was reached from) by `as_of`: the
/// latest of their calls and incoming texts that says, among those stored by then. Two reads on
/// the caller's own indexes, each stopping at the newest such row (ties broken by id).
async fn last_reached(
    txn: &TenantTxn,
    (caller_key, in_use): (&str, &[Uuid]),
    as_of: DateTime<Utc>,
) -> Result<Option<Uuid>, DomainError> {
    let by_call: Option<(DateTime<Utc>, Uuid)> = txn
        .find::<call::Entity>()
        .filter(call::Column::CallerKey.eq(caller_key))
        .filter(call::Column::StartedAt.lte(as_of))
        .filter(call::Column::CreatedAt.lte(as_of))
        .filter(call::Column::ProviderNumberId.is_in(in_use.iter().copied()))
        .select_only()
        .column(call::Column::StartedAt)
        .column(call::Column::ProviderNumberId)
        .order_by_desc(call::Column::StartedAt)
        .order_by_desc(call::Column::Id)
        .limit(1)
        .into_tuple()
        .one(txn.conn())
        .await?;
    let by_text: Option<(DateTime<Utc>, Uuid)> = txn
        .find::<message::Entity>()
        .filter(message::Column::CallerKey.eq(caller_key))
        .filter(message::Column::CreatedAt.lte(as_of))
        .filter(message::Column::Direction.eq(crate::service::messages::INBOUND))
        .filter(message::Column::ProviderNumberId.is_in(in_use.iter().copied()))
        .select_only()
        .column(message::Column::CreatedAt)
        .column(message::Column::ProviderNumberId)
        .order_by_desc(message::Column::CreatedAt)
        .order_by_desc(message::Column::Id)
        .limit(1)
        .into_tuple()
        .one(txn.conn())
        .await?;
    Ok(match (by_call, by_text) {
        (Some(call), Some(text)) => Some(if text.0 > call.0 { text.1 } else { call.1 }),
        (call, text) => call.or(text).map(|(_, number)| number),
    })
}

/// The clinic's provider numbers in use, oldest first.
pub async fn provider_numbers(txn: &TenantTxn) -> Result<Vec<provider_number::Model>, DomainError> {
    numbers_held(txn, Holding::InUse).await
}

/// Which of the clinic's numbers a read wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holding {
    /// The numbers it uses.
    InUse,
    /// Those and the ones it stopped using and still holds back: callers may have texted them,
    /// so an erasure searches them too.
    InUseOrHeldBack,
}

/// The clinic's numbers `holding` names, oldest first.
pub async fn numbers_held(
    txn: &TenantTxn,
    holding: Holding,
) -> Result<Vec<provider_number::Model>, DomainError> {
    let mut query = txn.find::<provider_number::Entity>();
    if holding == Holding::InUse {
        query = query.filter(provider_number::Column::StoppedAt.is_null());
    }
    Ok(query
        .order_by_asc(provider_number::Column::CreatedAt)
        .all(txn.conn())
        .await?)
}

/// One of the clinic's provider numbers with the number itself (E.164), opened for its admins.
#[derive(Clone, Debug)]
pub struct OpenedNumber {
    pub row: provider_number::Model,
    pub e164: String,
}

/// The clinic's provider numbers, oldest first, each opened.
pub async fn opened_provider_numbers(
    txn: &TenantTxn,
    secrets: &Secrets,
    holding: Holding,
) -> Result<Vec<OpenedNumber>, DomainError> {
    let rows = numbers_held(txn, holding).await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let key = keys::data_key(secrets, &clinic::get(txn).await?)?;
    rows.into_iter()
        .map(|row| {
            let e164 = keys::open_clinic_number(&key, txn.clinic_id(), &row.number_sealed)?;
            Ok(OpenedNumber { row, e164 })
        })
        .collect()
}

/// Why a number cannot be added, in one answer whatever the cause (not the account's, or already a
/// clinic's), so that nobody learns whether another clinic holds it.
const NUMBER_REFUSED: &str = "this number cannot be added: it must be one of this deployment's Twilio numbers, not yet in use";

/// Registers a provider number for the scope's clinic. The deployment's provider account must hold
/// it (asked outside any transaction), not as a deleted clinic's number waiting to be released,
/// and a number belongs to one clinic only; a refusal is
/// audited and does not say which rule refused it.
pub async fn add_provider_number(
    scope: &TenantScope,
    secrets: &Secrets,
    directory: Option<&dyn NumberDirectory>,
    actor: Uuid,
    number: &str,
) -> Result<OpenedNumber, DomainError> {
    let directory = directory.ok_or_else(|| {
        DomainError::BadUserInput(
            "numbers can be added once the deployment's Twilio account is configured \
             (RINGBACK_TWILIO_ACCOUNT_SID)"
                .to_owned(),
        )
    })?;
    let txn = scope.begin().await?;
    let current = clinic::get(&txn).await?;
    txn.commit().await?;
    let normalized = normalize(number, &current.default_region)?;
    let held = directory
        .holds(normalized.e164.as_str())
        .await
        .map_err(|error| {
            tracing::warn!(%error, "Twilio could not be asked about a number");
            DomainError::Unavailable(
                "Twilio could not be asked about this number; try again shortly".to_owned(),
            )
        })?;
    let txn = scope.begin().await?;
    // A deleted clinic's number waiting to be released at Twilio is nobody's to add.
    let releasing = provider_leftovers::numbers_kept_from_clinics(txn.conn()).await?;
    let added = match held {
        Some(sid) if !releasing.contains(&sid) => {
            insert_provider_number(
                &txn,
                secrets,
                &current,
                &normalized.e164,
                // Twilio named its id as it confirmed the account holds it.
                NumberSource::Taken(&sid),
            )
            .await?
        }
        _ => None,
    };
    let Some(created) = added else {
        audit::append(
            &txn,
            AuditEvent {
                actor: Some(actor),
                action: "clinic.provider_number_refused",
                detail: json!({ "tail": phone::mask_tail(&normalized.e164) }),
            },
        )
        .await?;
        txn.commit().await?;
        return Err(DomainError::BadUserInput(NUMBER_REFUSED.to_owned()));
    };
    audit::append(
        &txn,
        AuditEvent {
            actor: Some(actor),
            action: "clinic.provider_number_added",
            detail: json!({ "number": created.id }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(OpenedNumber {
        row: created,
        e164: normalized.e164.as_str().to_owned(),
    })
}

/// Where a clinic's provider number came from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NumberSource<'a> {
    /// Written in without Twilio (the demo's numbers): no provider id.
    Typed,
    /// Taken from the account's numbers or typed in by an admin, Twilio's id given.
    Taken(&'a str),
    /// Bought through Ringback, Twilio's id given.
    Bought(&'a str),
}

/// Stores `e164` (from `source`) as the clinic's provider number; `None` when some clinic
/// already has it.
pub(crate) async fn insert_provider_number(
    txn: &TenantTxn,
    secrets: &Secrets,
    current: &clinic_row::Model,
    e164: &phone::E164,
    source: NumberSource<'_>,
) -> Result<Option<provider_number::Model>, DomainError> {
    // A number just bought cannot be the staff's phone; a refusal after buying would lose it.
    if !matches!(source, NumberSource::Bought(_))
        && open_forwarding_line(secrets, current)?.as_deref() == Some(e164.as_str())
    {
        return Err(DomainError::BadUserInput(
            NUMBER_IS_FORWARDING_LINE.to_owned(),
        ));
    }
    let (provider_sid, bought_here) = match source {
        NumberSource::Typed => (None, false),
        NumberSource::Taken(sid) => (Some(sid), false),
        NumberSource::Bought(sid) => (Some(sid), true),
    };
    let routing = routing_key(secrets.pepper.expose(), e164)
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    if let Some(stopped) = stopped_by_clinic(txn, &routing).await? {
        return Ok(Some(
            take_back(txn, stopped, provider_sid, bought_here).await?,
        ));
    }
    let key = keys::data_key(secrets, current)?;
    // In a savepoint: on PostgreSQL a refused insert would otherwise end the transaction that is
    // to record the refusal.
    let savepoint = txn.conn().begin().await?;
    let inserted = provider_number::ActiveModel {
        clinic_id: Set(txn.clinic_id()),
        id: Set(Uuid::now_v7()),
        routing_key: Set(routing),
        number_sealed: Set(keys::seal_clinic_number(
            &key,
            txn.clinic_id(),
            e164.as_str(),
        )?),
        tail: Set(phone::mask_tail(e164)),
        provider_sid: Set(provider_sid.map(str::to_owned)),
        created_at: Set(txn.now()),
        bought_here: Set(bought_here),
        stopped_at: Set(None),
    }
    .insert(&savepoint)
    .await;
    match inserted {
        Ok(created) => {
            savepoint.commit().await?;
            Ok(Some(created))
        }
        Err(error) if matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

/// Days a number the clinic stopped using stays held back for it: no other clinic may take or
/// type it in meanwhile (the clinic's callers still ring and text it), a call to it is told the
/// number is no longer in use and only a STOP, START or HELP sent to it is kept, and the clinic
/// may take it back. The retention purge then frees it.
pub const HELD_BACK_DAYS: i64 = 90;

/// Numbers a clinic may have held back at once: stopping another frees the one stopped longest
/// ago, so that no clinic can hold the deployment's spare numbers back by taking and stopping
/// them.
pub const MAX_HELD_BACK: usize = 5;

/// The clinic's own row for `routing`, when it stopped using that number.
async fn stopped_by_clinic(
    txn: &TenantTxn,
    routing: &str,
) -> Result<Option<provider_number::Model>, DomainError> {
    Ok(txn
        .find::<provider_number::Entity>()
        .filter(provider_number::Column::RoutingKey.eq(routing))
        .filter(provider_number::Column::StoppedAt.is_not_null())
        .one(txn.conn())
        .await?)
}

/// Puts a number the clinic stopped using back in use (from `provider_sid` when taken or bought
/// again now).
async fn take_back(
    txn: &TenantTxn,
    stopped: provider_number::Model,
    provider_sid: Option<&str>,
    bought_here: bool,
) -> Result<provider_number::Model, DomainError> {
    let (sid, was_bought) = (stopped.provider_sid.clone(), stopped.bought_here);
    let mut row: provider_number::ActiveModel = stopped.into();
    row.stopped_at = Set(None);
    row.provider_sid = Set(provider_sid.map(str::to_owned).or(sid));
    row.bought_here = Set(was_bought || bought_here);
    Ok(row.update(txn.conn()).await?)
}

/// Stops using a provider number: it is held back for the clinic for [`HELD_BACK_DAYS`] (of at
/// most [`MAX_HELD_BACK`] numbers), then freed by the retention purge.
pub async fn remove_provider_number(
    txn: &TenantTxn,
    actor: Uuid,
    id: Uuid,
) -> Result<(), DomainError> {
    let found = in_clinic::<provider_number::Entity>(txn, id)
        .await?
        .filter(|row| row.stopped_at.is_none())
        .ok_or(DomainError::NotFound)?;
    if found.bought_here {
        // Held back and then freed, it would stay rented at Twilio and be nobody's to release.
        return Err(DomainError::BadUserInput(
            "Ringback bought this number for the clinic: release it instead (its monthly fee then \
             stops)"
                .to_owned(),
        ));
    }
    let mut stopped: provider_number::ActiveModel = found.into();
    stopped.stopped_at = Set(Some(txn.now()));
    stopped.update(txn.conn()).await?;
    let held_back = txn
        .find::<provider_number::Entity>()
        .filter(provider_number::Column::StoppedAt.is_not_null())
        .order_by_desc(provider_number::Column::StoppedAt)
        .all(txn.conn())
        .await?;
    // Beyond the room the clinic has, the oldest it held back is no longer its own; still held
    // back from every clinic for the rest of its time.
    for oldest in held_back.into_iter().skip(MAX_HELD_BACK) {
        if let (Some(sid), Some(stopped)) = (&oldest.provider_sid, oldest.stopped_at) {
            let until = stopped + chrono::Duration::days(HELD_BACK_DAYS);
            provider_leftovers::hold_number(txn.conn(), sid, (txn.now(), until)).await?;
        }
        oldest.delete(txn.conn()).await?;
    }
    audit::append(
        txn,
        AuditEvent {
            actor: Some(actor),
            action: "clinic.provider_number_removed",
            detail: json!({ "number": id }),
        },
    )
    .await?;
    Ok(())
}

/// The clinic that holds provider number `e164` (as a webhook's `To` gives it), in use or held
/// back after it stopped using it, if any: no other clinic may take it.
pub async fn clinic_for_provider_number(
    db: &DatabaseConnection,
    secrets: &Secrets,
    e164: &str,
) -> Result<Option<Uuid>, DomainError> {
    Ok(provider_number_holder(db, secrets, e164)
        .await?
        .map(|holder| holder.clinic_id))
}

/// Which clinic a provider number routes to, and whether that clinic still uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumberHolder {
    pub clinic_id: Uuid,
    /// The number's id among the clinic's.
    pub number_id: Uuid,
    /// The clinic stopped using the number and holds it back ([`HELD_BACK_DAYS`]): a caller's
    /// STOP to it is still honoured, but no new call or text is kept.
    pub held_back: bool,
}

/// The clinic that holds provider number `e164`, in use or held back, if any.
pub async fn provider_number_holder(
    db: &DatabaseConnection,
    secrets: &Secrets,
    e164: &str,
) -> Result<Option<NumberHolder>, DomainError> {
    Ok(holding_row(db, secrets, e164)
        .await?
        .map(|row| NumberHolder {
            clinic_id: row.clinic_id,
            number_id: row.id,
            held_back: row.stopped_at.is_some(),
        }))
}

/// The row holding provider number `e164`, in whichever clinic. This is the one read that
/// precedes knowing the clinic; on PostgreSQL it is allowed by naming the routing key.
pub(crate) async fn holding_row(
    db: &DatabaseConnection,
    secrets: &Secrets,
    e164: &str,
) -> Result<Option<provider_number::Model>, DomainError> {
    let Ok(number) = phone::E164::parse(e164) else {
        return Ok(None);
    };
    let routing = routing_key(secrets.pepper.expose(), &number)
        .map_err(|e| DomainError::Internal(e.to_string()))?;
    let txn = db.begin().await?;
    set_local(&txn, "app.routing_key", &routing).await?;
    let found = provider_number::Entity::find()
        .filter(provider_number::Column::RoutingKey.eq(routing))
        .one(&txn)
        .await?;
    txn.commit().await?;
    Ok(found)
}
