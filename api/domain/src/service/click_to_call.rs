//! Calling a caller back without ever showing their number. In the `text_back` privacy mode a
//! missed call keeps the caller's number sealed; "Call back" asks the provider to ring the staff
//! member's own phone (their callback line, a per-member setting kept sealed) or else the clinic's
//! forwarding line, and when they answer, the provider asks us what to do and we dial the caller
//! from the clinic's number. The number is opened only here, inside the server, for the provider:
//! never for the browser, a log or an error. The callback is recorded as an outbound call with the
//! outcome the provider reports (answered, no answer, busy, or a machine when Twilio's machine
//! detection finds the caller's voicemail), so time-to-callback is measured and a voicemail does
//! not count as reaching the caller.
//! Placing one is audited and limited per staff member (see the rate limits); while one to a
//! caller is under way, another member's click is refused and names who is calling.
//!
//! Each placement has its own id, carried in the signed URLs of its provider webhooks: only the
//! current placement's requests count, so a late or replayed request of an earlier one neither
//! clears the current mark nor dials the caller; the caller is dialled at most once per
//! placement, and a dialled callback stays under way while the conversation may last.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ringback_entity::{call, membership};
use ringback_providers::sms::ProviderError;
use ringback_providers::twilio::webhook_url;
use ringback_providers::voice::{CallPlacer, OutgoingCall};
use ringback_shared::attribution::CallOutcome;
use ringback_shared::phone;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, QueryFilter, Set};
use sea_orm::{ColumnTrait, Condition, Order};
use serde_json::json;
use uuid::Uuid;

use crate::service::audit::{self, AuditEvent};
use crate::service::{calls, clinic, keys, phone_lines, processed_webhooks, team};
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::{TenantScope, TenantTxn};

/// The webhook Twilio asks what to do once the first party answers.
pub const CONNECT_HOOK: &str = "callback-connect";
/// The webhook that hears the key staff pressed to be connected (1), or that they did not.
pub const CONFIRM_HOOK: &str = "callback-confirm";
/// The webhook that receives the outcome of the dial to the caller.
pub const OUTCOME_HOOK: &str = "callback-outcome";
/// The webhook that hears how the placed call ended (the first party may never answer).
pub const STATUS_HOOK: &str = "callback-status";
/// The webhook that hears machine detection's verdict on the dial to the caller.
pub const MACHINE_HOOK: &str = "callback-machine";
/// The provider name under which dials to a caller that a machine answered are remembered, by
/// the dialled leg's `CallSid`.
const MACHINE_ANSWERED: &str = "twilio-callback-machine";
/// The provider name of callbacks Ringback placed.
pub const PROVIDER: &str = "twilio";

/// What the strict privacy mode means for calling back, in staff's words.
pub const STRICT_MODE_NOTE: &str = "strict privacy mode keeps no number to dial: call back from \
     your phone system's call log, matching the last digits shown";

/// Why callbacks cannot be placed from the dashboard of a deployment without a phone provider.
pub const NO_PROVIDER: &str = "no phone provider is configured to place calls";

/// The provider that places calls, and the public address its webhooks reach us at.
#[derive(Clone)]
pub struct VoiceLine {
    pub placer: Arc<dyn CallPlacer>,
    pub public_base: String,
}

/// A callback the provider accepted.
pub struct PlacedCallback {
    /// The masked tail of the phone being rung first.
    pub ringing_tail: String,
}

/// How long a placed callback counts as under way when its end is never heard (Twilio reports
/// the end of the call it placed for staff, which clears the mark at once) and the caller was
/// not dialled: ringing staff and their pressing 1 take a minute or two.
pub const UNDER_WAY: chrono::Duration = chrono::Duration::minutes(20);

/// How long a callback that dialled the caller counts as under way when its end is never heard:
/// the longest call Twilio connects (its `<Dial>` time limit, four hours), since a colleague must
/// not ring the caller while they are talking.
pub const DIALLED_UNDER_WAY: chrono::Duration = chrono::Duration::hours(4);

/// A placement of a callback for a missed call, as its provider webhooks name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The missed call called back.
    pub call_id: Uuid,
    /// This placement's id.
    pub id: Uuid,
}

impl Placement {
    /// The id of a placement whose webhook URLs name none (the server before placements had ids,
    /// still under way at a deploy): it may end its mark and record its outcome, never dial.
    pub const UNNAMED: Uuid = Uuid::nil();

    /// The URL of webhook `hook` under `public_base` for this placement of clinic `clinic_id`'s
    /// callback: the clinic, the missed call and the placement in its query string, which the
    /// provider signs with it.
    pub fn webhook_url(&self, public_base: &str, hook: &str, clinic_id: Uuid) -> String {
        let (clinic, call, id) = (
            clinic_id.to_string(),
            self.call_id.to_string(),
            self.id.to_string(),
        );
        let query = [
            ("clinic", clinic.as_str()),
            ("call", &call),
            ("placement", &id),
        ];
        webhook_url(public_base, hook, &query)
    }
}

/// The condition of a missed call whose callback no longer counts as under way at `now` (or was
/// never placed), written out rather than negated: SQL's `NOT` of a comparison with a missing
/// time is unknown, never true.
fn lapsed_at(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(call::Column::CallbackPlacedAt.is_null())
        .add(
            Condition::all()
                .add(call::Column::CallbackDialledAt.is_null())
                .add(call::Column::CallbackPlacedAt.lte(now - UNDER_WAY)),
        )
        .add(call::Column::CallbackDialledAt.lte(now - DIALLED_UNDER_WAY))
}

/// The condition of a missed call whose callback counts as under way at `now`.
fn under_way_at(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(
            Condition::all()
                .add(call::Column::CallbackPlacedAt.gt(now - UNDER_WAY))
                .add(call::Column::CallbackDialledAt.is_null()),
        )
        .add(call::Column::CallbackDialledAt.gt(now - DIALLED_UNDER_WAY))
}

/// The condition of `placement`'s mark, while under way at `now`.
fn current(placement: Placement, now: DateTime<Utc>) -> Condition {
    Condition::all()
        .add(marked_by(placement))
        .add(under_way_at(now))
}

/// The condition of the missed call marked by `placement` (a placement of the server before
/// placements had ids, [`Placement::UNNAMED`], matches a mark without one).
fn marked_by(placement: Placement) -> Condition {
    let id = if placement.id == Placement::UNNAMED {
        call::Column::CallbackPlacement.is_null()
    } else {
        call::Column::CallbackPlacement.eq(placement.id)
    };
    Condition::all()
        .add(call::Column::Id.eq(placement.call_id))
        .add(id)
}

/// Rings `actor`'s callback line (else the clinic's forwarding line) to connect them to the
/// caller of missed call `call_id`. Refused (conflict) while a callback to the same caller is
/// under way, placed by anyone: two members working the list at once would otherwise ring the
/// caller twice. The missed call is marked (a conditional update: of two clicks at once one
/// marks it) and the placement audited in a short transaction, which takes the caller's lock
/// (clicks on two missed calls of one caller wait for each other), then the missed call's row
/// before the clinic's lock as the webhooks do; the provider is asked after it commits (a slow
/// provider holds no lock). A refusal there clears the mark and is audited; a request whose
/// answer was lost keeps it (the call may ring) until the call's end is heard or it lapses, but
/// notes it unconfirmed: its placer may try again after [`OWN_RETRY_AFTER`].
pub async fn place(
    scope: &TenantScope,
    secrets: &Secrets,
    line: Option<&VoiceLine>,
    actor: Uuid,
    call_id: Uuid,
) -> Result<PlacedCallback, DomainError> {
    let txn = scope.begin().await?;
    let placement = Placement {
        call_id,
        id: Uuid::new_v4(),
    };
    let (missed, call, ringing_tail) = prepare(&txn, secrets, line, actor, placement).await?;
    let line = line.ok_or_else(|| DomainError::Unavailable(NO_PROVIDER.to_owned()))?;
    txn.lock_caller(&missed.caller_key).await?;
    if !claim(&txn, &missed, (actor, placement.id)).await? {
        return Err(DomainError::Conflict(
            busy_words(&txn, &missed, actor).await?,
        ));
    }
    if let Some(other) = under_way_besides(&txn, &missed).await? {
        return Err(DomainError::Conflict(
            busy_words(&txn, &other, actor).await?,
        ));
    }
    audit::append(
        &txn,
        AuditEvent {
            actor: Some(actor),
            action: "call.callback_placed",
            detail: json!({ "call": call_id }),
        },
    )
    .await?;
    txn.commit().await?;
    let error = match line.placer.place(&call).await {
        Ok(_) => return Ok(PlacedCallback { ringing_tail }),
        Err(error) => error,
    };
    tracing::warn!(%error, "the provider did not place a callback");
    // Refused, unreachable or over Twilio's rate (429): no call was placed.
    if !matches!(
        error,
        ProviderError::Refused { .. }
            | ProviderError::Unreachable
            | ProviderError::Unavailable { status: 429 }
    ) {
        let txn = scope.begin().await?;
        unconfirmed(&txn, placement).await?;
        txn.commit().await?;
        return Err(DomainError::Unavailable(
            "the phone provider did not confirm the call: it may still ring; if it does not \
             within a minute, try again then"
                .to_owned(),
        ));
    }
    let txn = scope.begin().await?;
    ended(&txn, placement).await?;
    audit::append(
        &txn,
        AuditEvent {
            actor: Some(actor),
            action: "call.callback_failed",
            detail: json!({ "call": call_id }),
        },
    )
    .await?;
    txn.commit().await?;
    Err(DomainError::Unavailable(
        "the phone provider could not place the call; try again".to_owned(),
    ))
}

/// Checks that `placement`'s missed call can be called back from here by `actor`: the missed
/// call, the call to ask the provider for, and the masked tail of the phone it rings first.
async fn prepare(
    txn: &TenantTxn,
    secrets: &Secrets,
    line: Option<&VoiceLine>,
    actor: Uuid,
    placement: Placement,
) -> Result<(call::Model, OutgoingCall, String), DomainError> {
    let missed = calls::find(txn, placement.call_id).await?;
    let settings = clinic::get(txn).await?;
    if settings.privacy_mode != clinic::TEXT_BACK_MODE {
        return Err(DomainError::BadUserInput(STRICT_MODE_NOTE.to_owned()));
    }
    let line = line.ok_or_else(|| DomainError::Unavailable(NO_PROVIDER.to_owned()))?;
    if !missed.missed {
        return Err(DomainError::BadUserInput(
            "only a missed call can be called back from here".to_owned(),
        ));
    }
    if missed.number_sealed.is_none() {
        return Err(DomainError::BadUserInput(
            "Ringback kept no number for this call: call back from your phone system's call log"
                .to_owned(),
        ));
    }
    if missed
        .line_type
        .as_deref()
        .and_then(phone::NumberKind::from_name)
        .is_some_and(phone::NumberKind::shares_revenue)
    {
        return Err(DomainError::BadUserInput(
            "this caller's number is premium-rate, shared-cost, personal or a pager: Ringback \
             does not call it"
                .to_owned(),
        ));
    }
    refuse_other_countries(secrets, &settings, &missed)?;
    let (first_party, ringing_tail) = first_party(txn, secrets, &settings, actor).await?;
    let from = phone_lines::sending_number(txn, secrets, recipient(&missed, txn))
        .await?
        .ok_or_else(|| {
            DomainError::BadUserInput(
                "there is no provider number to call from: add one under Phone numbers".to_owned(),
            )
        })?
        .e164;
    let call = OutgoingCall {
        to: first_party,
        from,
        url: placement.webhook_url(&line.public_base, CONNECT_HOOK, txn.clinic_id()),
        status_callback: placement.webhook_url(&line.public_base, STATUS_HOOK, txn.clinic_id()),
    };
    Ok((missed, call, ringing_tail))
}

/// Refuses to call back a caller of a country the clinic does not text (its own, or those listed
/// under Settings): the deployment pays for the call, and a missed call from abroad that is
/// rung back is how "one ring" scams earn.
fn refuse_other_countries(
    secrets: &Secrets,
    settings: &ringback_entity::clinic::Model,
    missed: &call::Model,
) -> Result<(), DomainError> {
    let Some(sealed) = missed.number_sealed.as_deref() else {
        return Ok(());
    };
    let key = keys::data_key(secrets, settings)?;
    let number = keys::open_caller_number(&key, missed.clinic_id, sealed)?;
    let region = phone::E164::parse(&number)
        .ok()
        .and_then(|e164| phone::region_of(&e164));
    let region = region.as_ref().map(phone::Region::as_str);
    if crate::service::text_back::texts_region(settings, region) {
        Ok(())
    } else {
        Err(DomainError::BadUserInput(
            "this caller's number is in a country the clinic does not text or call (its own \
             and those listed under Settings): call them back from your own phone"
                .to_owned(),
        ))
    }
}

/// How soon the member who placed a callback may place it again, its end unheard: the provider's
/// answer may have been lost (they are told to try again if it does not ring within a minute).
pub const OWN_RETRY_AFTER: chrono::Duration = chrono::Duration::minutes(1);

/// Marks `missed` with `actor`'s callback, as placement `placement`, unless one still under way
/// holds it (their own whose answer never came, for less than [`OWN_RETRY_AFTER`]); whether it
/// was marked.
async fn claim(
    txn: &TenantTxn,
    missed: &call::Model,
    (actor, placement): (Uuid, Uuid),
) -> Result<bool, DomainError> {
    let now = txn.now();
    let own_retry = Condition::all()
        .add(call::Column::CallbackPlacedBy.eq(actor))
        .add(call::Column::CallbackUnconfirmed.eq(true))
        .add(call::Column::CallbackDialledAt.is_null())
        .add(call::Column::CallbackPlacedAt.lte(now - OWN_RETRY_AFTER));
    let free = Condition::any().add(lapsed_at(now)).add(own_retry);
    let marked = txn
        .update_many::<call::Entity>()
        .col_expr(call::Column::CallbackPlacedAt, Expr::value(Some(now)))
        .col_expr(call::Column::CallbackPlacedBy, Expr::value(Some(actor)))
        .col_expr(call::Column::CallbackUnconfirmed, Expr::value(false))
        .col_expr(
            call::Column::CallbackPlacement,
            Expr::value(Some(placement)),
        )
        .col_expr(
            call::Column::CallbackDialledAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(call::Column::Id.eq(missed.id))
        .filter(free)
        .exec(txn.conn())
        .await?;
    Ok(marked.rows_affected == 1)
}

/// Another missed call of `missed`'s caller with a callback under way.
async fn under_way_besides(
    txn: &TenantTxn,
    missed: &call::Model,
) -> Result<Option<call::Model>, DomainError> {
    Ok(txn
        .find::<call::Entity>()
        .filter(call::Column::CallerKey.eq(missed.caller_key.as_str()))
        .filter(call::Column::Id.ne(missed.id))
        .filter(under_way_at(txn.now()))
        .one(txn.conn())
        .await?)
}

/// Why `actor` may not call back now, in staff's words: who placed the callback marked on
/// `marked` (read as stored now).
async fn busy_words(
    txn: &TenantTxn,
    marked: &call::Model,
    actor: Uuid,
) -> Result<String, DomainError> {
    let by = calls::find(txn, marked.id).await?.callback_placed_by;
    let who = match by {
        Some(by) if by == actor => "You are".to_owned(),
        Some(by) => {
            let name = team::members(txn)
                .await?
                .into_iter()
                .find(|member| member.user.id == by)
                .map_or_else(|| "Someone".to_owned(), |member| member.user.display_name);
            format!("{name} is")
        }
        None => "Someone is".to_owned(),
    };
    Ok(format!(
        "{who} already calling this caller back: wait until that call ends"
    ))
}

/// Notes that the provider never answered about callback `placement` (it may ring or not): its
/// placer may place it again after [`OWN_RETRY_AFTER`] (unless its staff answer meanwhile).
async fn unconfirmed(txn: &TenantTxn, placement: Placement) -> Result<(), DomainError> {
    txn.update_many::<call::Entity>()
        .col_expr(call::Column::CallbackUnconfirmed, Expr::value(true))
        .filter(marked_by(placement))
        .filter(call::Column::CallbackDialledAt.is_null())
        .exec(txn.conn())
        .await?;
    Ok(())
}

/// Staff answered the phone `placement` rang: the call exists, so its placer may no longer place
/// it again as unconfirmed. Whether `placement` is still the callback under way (a late or
/// replayed request of an earlier one is not, and connects nobody).
pub async fn answered(txn: &TenantTxn, placement: Placement) -> Result<bool, DomainError> {
    if placement.id == Placement::UNNAMED {
        return Ok(false);
    }
    let confirmed = txn
        .update_many::<call::Entity>()
        .col_expr(call::Column::CallbackUnconfirmed, Expr::value(false))
        .filter(current(placement, txn.now()))
        .exec(txn.conn())
        .await?;
    Ok(confirmed.rows_affected == 1)
}

/// Callback `placement` ended (its dial's outcome came, or staff's own leg ended without one):
/// another may be placed at once. A request of an earlier placement changes nothing.
pub async fn ended(txn: &TenantTxn, placement: Placement) -> Result<(), DomainError> {
    txn.update_many::<call::Entity>()
        .col_expr(
            call::Column::CallbackPlacedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            call::Column::CallbackPlacedBy,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(call::Column::CallbackUnconfirmed, Expr::value(false))
        .col_expr(
            call::Column::CallbackPlacement,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(
            call::Column::CallbackDialledAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(marked_by(placement))
        .exec(txn.conn())
        .await?;
    Ok(())
}

/// The phone to ring first for `actor`: their callback line, else the clinic's forwarding line.
async fn first_party(
    txn: &TenantTxn,
    secrets: &Secrets,
    settings: &ringback_entity::clinic::Model,
    actor: Uuid,
) -> Result<(String, String), DomainError> {
    let member = team::find_membership(txn, actor).await?;
    if let Some(sealed) = &member.callback_line_sealed {
        let key = keys::data_key(secrets, settings)?;
        let number = keys::open_clinic_number(&key, txn.clinic_id(), sealed)?;
        // Checked again as a staff line: one set before the clinic took the same number would
        // ring back here.
        phone_lines::staff_line(txn, secrets, &number, &settings.default_region).await?;
        let tail = member.callback_line_tail.unwrap_or_default();
        return Ok((number, tail));
    }
    match phone_lines::forwarding_line(txn, secrets).await? {
        Some(number) => Ok((
            number,
            settings.forwarding_line_tail.clone().unwrap_or_default(),
        )),
        None => Err(DomainError::BadUserInput(
            "set the phone to ring for your callbacks, or the clinic's forwarding line, first"
                .to_owned(),
        )),
    }
}

/// Sets (or with `None` clears) the phone Ringback rings first when `user` calls a caller back;
/// returns its masked tail. Stored sealed; audited without the number.
pub async fn set_callback_line(
    txn: &TenantTxn,
    secrets: &Secrets,
    user: Uuid,
    number: Option<&str>,
) -> Result<Option<String>, DomainError> {
    let member = team::find_membership(txn, user).await?;
    let settings = clinic::get(txn).await?;
    let (sealed, tail) = match number.map(str::trim).filter(|n| !n.is_empty()) {
        Some(number) => {
            let normalized =
                phone_lines::staff_line(txn, secrets, number, &settings.default_region).await?;
            let key = keys::data_key(secrets, &settings)?;
            let sealed = keys::seal_clinic_number(&key, txn.clinic_id(), normalized.e164.as_str())?;
            (Some(sealed), Some(phone::mask_tail(&normalized.e164)))
        }
        None => (None, None),
    };
    let mut model: membership::ActiveModel = member.into();
    model.callback_line_sealed = Set(sealed);
    model.callback_line_tail = Set(tail.clone());
    model.update(txn.conn()).await?;
    audit::append(
        txn,
        AuditEvent {
            actor: Some(user),
            action: "member.callback_line_changed",
            detail: json!({}),
        },
    )
    .await?;
    Ok(tail)
}

/// The masked tail of `user`'s callback line, if set.
pub async fn callback_line_tail(
    txn: &TenantTxn,
    user: Uuid,
) -> Result<Option<String>, DomainError> {
    Ok(team::find_membership(txn, user).await?.callback_line_tail)
}

/// Whom to dial once the first party answered: the caller of missed call `call_id` (opened here
/// for the provider's TwiML only) and the clinic's number to show them.
pub struct DialTarget {
    pub caller: String,
    pub caller_id: String,
}

/// The caller of `missed`, as the clinic's number to call them from is chosen: the number the
/// missed call came in on, or the one they reached last.
fn recipient<'c>(missed: &'c call::Model, txn: &TenantTxn) -> phone_lines::Recipient<'c> {
    phone_lines::Recipient {
        caller_key: &missed.caller_key,
        about_call: Some(missed.id),
        as_of: txn.now(),
        pinned: None,
    }
}

/// The caller of `placement`'s missed call and the clinic's number, opened for the provider,
/// once per placement (noted as dialled, which keeps it under way while they talk); `None` when
/// `placement` is not the callback under way (it ended, was placed again, or was never placed)
/// or already dialled: the provider's request is signed but carries no time, so a replay of a
/// confirmation must not dial the caller again, or hand their number to whoever replays it.
pub async fn dial_target(
    txn: &TenantTxn,
    secrets: &Secrets,
    placement: Placement,
) -> Result<Option<DialTarget>, DomainError> {
    if placement.id == Placement::UNNAMED {
        return Ok(None);
    }
    let dialled = txn
        .update_many::<call::Entity>()
        .col_expr(
            call::Column::CallbackDialledAt,
            Expr::value(Some(txn.now())),
        )
        .filter(current(placement, txn.now()))
        .filter(call::Column::CallbackDialledAt.is_null())
        .exec(txn.conn())
        .await?;
    if dialled.rows_affected != 1 {
        return Ok(None);
    }
    let missed = calls::find(txn, placement.call_id).await?;
    let sealed = missed
        .number_sealed
        .as_deref()
        .ok_or_else(|| DomainError::BadUserInput("no number is kept for this call".to_owned()))?;
    let settings = clinic::get(txn).await?;
    let key = keys::data_key(secrets, &settings)?;
    let caller = keys::open_caller_number(&key, txn.clinic_id(), sealed)?;
    let caller_id = phone_lines::sending_number(txn, secrets, recipient(&missed, txn))
        .await?
        .ok_or_else(|| {
            DomainError::BadUserInput(
                "there is no provider number to call from: add one under Phone numbers".to_owned(),
            )
        })?
        .e164;
    Ok(Some(DialTarget { caller, caller_id }))
}

/// Records how the callback `placement`, placed as provider call `provider_call_id`, ended (once;
/// a repeat changes nothing), and ends its mark.
pub async fn record_outcome(
    txn: &TenantTxn,
    placement: Placement,
    (provider_call_id, dialled_leg): (&str, Option<&str>),
    outcome: CallOutcome,
    at: DateTime<Utc>,
) -> Result<(), DomainError> {
    // The verdict names the dialled leg; the placed call's own id is checked too, in case
    // Twilio names the call that dialled.
    let mut by_machine = false;
    for leg in dialled_leg.into_iter().chain([provider_call_id]) {
        by_machine |= processed_webhooks::is_known(txn, MACHINE_ANSWERED, leg).await?;
    }
    let outcome = match outcome {
        CallOutcome::Answered if by_machine => CallOutcome::Machine,
        other => other,
    };
    let missed = calls::find(txn, placement.call_id).await?;
    ended(txn, placement).await?;
    calls::record_placed_callback(txn, &missed, PROVIDER, provider_call_id, outcome, at).await
}

/// Machine detection found a machine (voicemail, a fax) on the dial to the caller, leg
/// `dialled_leg`: the dial's outcome, which Twilio reports as `completed` all the same, is then
/// recorded as a machine, not a callback that reached the caller. Twilio reports the verdict as
/// soon as detection identifies a machine, before it connects the two and so before the dial's
/// outcome (which comes when the call ends); a verdict that never arrives (Twilio does not retry
/// a failed request) leaves the callback answered.
pub async fn note_machine(txn: &TenantTxn, dialled_leg: &str) -> Result<(), DomainError> {
    processed_webhooks::remember(txn, MACHINE_ANSWERED, dialled_leg).await
}

/// For each of `caller_keys`, the caller's latest missed call that can be called back from here
/// (its number is kept), read in one statement; a caller without one is absent.
pub async fn latest_callable_calls(
    txn: &TenantTxn,
    caller_keys: &[String],
) -> Result<HashMap<String, Uuid>, DomainError> {
    let calls = txn
        .first_of_each::<call::Entity>(
            Condition::all()
                .add(call::Column::CallerKey.is_in(caller_keys.iter().cloned()))
                .add(call::Column::Missed.eq(true))
                .add(call::Column::NumberSealed.is_not_null()),
            call::Column::CallerKey,
            &[
                (call::Column::StartedAt, Order::Desc),
                (call::Column::Id, Order::Desc),
            ],
            1,
        )
        .await?;
    Ok(calls
        .into_iter()
        .map(|call| (call.caller_key, call.id))
        .collect())
}
