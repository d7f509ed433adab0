//! The AI receptionist's tools, run by our code inside the clinic's scope, never on the model's
//! say-so alone: `find_slots` reads the opening hours, holidays and booked appointments, and the
//! times the clinic's Google calendar shows busy (asked before the tool's transaction,
//! [`busy_in_calendar`]: when Google cannot say, no time is offered or booked);
//! `quote` answers only from the price list; `book_appointment` books a slot only if it is still
//! free (checked in the booking's own transaction) as an appointment from the AI, which
//! attribution then credits like any other. The model's input is checked like any user input;
//! what the model gets back is a short JSON value or a plain refusal it can relay.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;
use ringback_entity::{appointment, clinic_service, conversation};
use ringback_providers::google::BusyTime;
use ringback_shared::ai::{MAX_DETAIL_CHARS, MAX_DETAILS, MAX_REASON_CHARS, state as ai_state};
use ringback_shared::hours::BusinessHours;
use ringback_shared::metrics::local_day_bounds_utc;
use ringback_shared::redact::remove_numbers;
use ringback_shared::seal::DataKey;
use ringback_shared::slots::{self, STANDARD_VISIT_MINUTES, SlotSearch};
use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, Set};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::jobs::hand_off_mail::{self, HandOffMail};
use crate::service::ai_prompt::tool;
use crate::service::ai_settings;
use crate::service::appointments::{self, CallerRef, NewAppointment};
use crate::service::audit::{self, AuditEvent};
use crate::service::calendar::{CALENDAR_UNCHECKED, CalendarDesk, busy_times, covering};
use crate::service::{clinic, conversations, keys, notifications, team};

/// How a slot is written to and read from the model: local time, minutes.
pub const SLOT_FORMAT: &str = "%Y-%m-%d %H:%M";
/// Notice the clinic needs before a slot the AI books.
pub const NOTICE: Duration = Duration::hours(1);
/// How far ahead, in days, the AI looks for and books slots.
pub const BOOKING_HORIZON_DAYS: i64 = 365;

/// What a tool came to, for the model.
#[derive(Clone, Debug, PartialEq)]
pub enum ToolAnswer {
    /// The tool ran; its result.
    Done(Value),
    /// The tool refused, with a reason the model can relay.
    Refused(String),
    /// An appointment was booked.
    Booked {
        appointment: appointment::Model,
        result: Value,
    },
}

fn text_field<'a>(input: &'a Value, name: &str) -> Option<&'a str> {
    input[name]
        .as_str()
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

/// The slot in field `slot` (as [`SLOT_FORMAT`] writes it), if it reads as one.
fn slot_field(input: &Value) -> Option<NaiveDateTime> {
    text_field(input, "slot").and_then(|text| NaiveDateTime::parse_from_str(text, SLOT_FORMAT).ok())
}

/// The day in field `name`, or why the model's input is refused.
fn day_field(input: &Value, name: &str) -> Result<NaiveDate, String> {
    text_field(input, name)
        .and_then(|text| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .ok_or_else(|| format!("{name} must be a day written YYYY-MM-DD"))
}

/// Why `day` is refused, when it is not from yesterday (a caller a few minutes past midnight may
/// still mean it) to [`BOOKING_HORIZON_DAYS`] ahead of `today` (the clinic's): the model's dates
/// are input like any other, and a year 200,000 would overflow the calendar's arithmetic.
fn out_of_reach(day: NaiveDate, today: NaiveDate) -> Option<String> {
    let reach = (today - Duration::days(1))..=(today + Duration::days(BOOKING_HORIZON_DAYS));
    (!reach.contains(&day))
        .then(|| format!("only days from {today} to {} can be booked", reach.end()))
}

/// The clinic's local day at the transaction's now.
async fn clinic_today(txn: &TenantTxn) -> Result<NaiveDate, DomainError> {
    let settings = clinic::get(txn).await?;
    let zone = clinic::time_zone(&settings)?;
    Ok(txn.now().with_timezone(&zone).date_naive())
}

/// The service of the price list named `name` (case and spaces ignored).
async fn service_named(
    txn: &TenantTxn,
    name: Option<&str>,
) -> Result<Option<clinic_service::Model>, DomainError> {
    Ok(match visit_kind(txn, name).await? {
        VisitKind::Listed(service) => Some(service),
        VisitKind::Standard | VisitKind::Unknown(_) => None,
    })
}

/// What a visit the model names is, for finding and booking slots.
enum VisitKind {
    /// A service of the price list (its length and value).
    Listed(clinic_service::Model),
    /// No service named, or the clinic keeps no price list: a standard visit.
    Standard,
    /// A name the clinic's price list does not have; the names it has.
    Unknown(Vec<String>),
}

/// The visit `name` stands for. A name the price list does not have is not taken as a standard
/// visit: a 60-minute "New patient examination" asked for as "new patient exam" would be booked
/// as 30 minutes worth nothing, and the next half hour offered on top of it.
async fn visit_kind(txn: &TenantTxn, name: Option<&str>) -> Result<VisitKind, DomainError> {
    let Some(name) = name else {
        return Ok(VisitKind::Standard);
    };
    let wanted = name.trim().to_lowercase();
    let services = ai_settings::services(txn).await?;
    if services.is_empty() {
        return Ok(VisitKind::Standard);
    }
    let names = services
        .iter()
        .map(|service| service.name.clone())
        .collect();
    Ok(services
        .into_iter()
        .find(|service| service.name.to_lowercase() == wanted)
        .map_or(VisitKind::Unknown(names), VisitKind::Listed))
}

/// The service a slot tool's `kind` names, or the refusal of a name the price list lacks.
async fn slot_service(
    txn: &TenantTxn,
    input: &Value,
) -> Result<Result<Option<clinic_service::Model>, String>, DomainError> {
    Ok(match visit_kind(txn, text_field(input, "kind")).await? {
        VisitKind::Listed(service) => Ok(Some(service)),
        VisitKind::Standard => Ok(None),
        VisitKind::Unknown(names) => Err(format!(
            "kind must be one of the price list's services exactly as written ({}), or left out",
            names.join(", ")
        )),
    })
}

/// How long a visit for `service` takes (a standard visit without one).
fn visit_minutes(service: Option<&clinic_service::Model>) -> i64 {
    service.map_or(STANDARD_VISIT_MINUTES, |s| i64::from(s.duration_minutes))
}

/// The local days slot tool `tool_name` looks at for `input` on the clinic's day `today` (when
/// the answer was prepared: the tool, run after midnight, may reach a day further): `find_slots`'
/// days (at most [`slots::MAX_DAYS`]), `book_appointment`'s slot's day. `None` for other tools
/// and for input the tool refuses anyway (a first day out of reach today and tomorrow).
pub fn days_looked_at(
    tool_name: &str,
    input: &Value,
    today: NaiveDate,
) -> Option<(NaiveDate, NaiveDate)> {
    let (from, to) = match tool_name {
        tool::FIND_SLOTS => {
            let (from, to) = (day_field(input, "from").ok()?, day_field(input, "to").ok()?);
            (from <= to).then_some((from, to))?
        }
        tool::BOOK_APPOINTMENT => slot_field(input).map(|slot| (slot.date(), slot.date()))?,
        _ => return None,
    };
    let tomorrow = today.succ_opt()?;
    if out_of_reach(from, today).is_some() && out_of_reach(from, tomorrow).is_some() {
        return None;
    }
    Some((from, to.min(from + Duration::days(slots::MAX_DAYS - 1))))
}

/// What the clinic's Google calendar `calendar` (if it has one; asked through `desk`) shows busy
/// on the days slot tool `tool_name` looks at for `input` on the clinic's day `today`, asked of
/// Google outside any transaction; nothing for other tools. The refusal the tool answers with
/// when Google could not say ([`CALENDAR_UNCHECKED`]).
pub async fn busy_in_calendar(
    (desk, calendar): (Option<&CalendarDesk>, Option<&str>),
    (tool_name, input): (&str, &Value),
    today: NaiveDate,
) -> Result<Vec<BusyTime>, String> {
    let days = days_looked_at(tool_name, input, today);
    let (Some(calendar), Some(days)) = (calendar, days) else {
        return Ok(Vec::new());
    };
    let between = covering(days);
    busy_times(desk, calendar, between)
        .await
        .map_err(|_| CALENDAR_UNCHECKED.to_owned())
}

/// Appointments (not cancelled) starting between the two instants, as local busy spans: each
/// its visit's length, a standard visit when it is not known.
async fn busy_spans(
    txn: &TenantTxn,
    zone: Tz,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<(NaiveDateTime, NaiveDateTime)>, DomainError> {
    let booked = txn
        .find::<appointment::Entity>()
        .filter(appointment::Column::CancelledAt.is_null())
        .filter(appointment::Column::StartsAt.gte(from))
        .filter(appointment::Column::StartsAt.lt(to))
        .all(txn.conn())
        .await?;
    Ok(booked
        .iter()
        .filter_map(|row| Some((row.starts_at?, row.duration_minutes)))
        .map(|(start, minutes)| {
            let local = start.with_timezone(&zone).naive_local();
            let length = minutes.map_or(STANDARD_VISIT_MINUTES, i64::from);
            (local, local + Duration::minutes(length))
        })
        .collect())
}

/// The UTC instant of local `at` in `zone` (the earlier one when clocks go back; `None` in a gap).
fn utc_of(zone: Tz, at: NaiveDateTime) -> Option<DateTime<Utc>> {
    zone.from_local_datetime(&at)
        .earliest()
        .map(|local| local.with_timezone(&Utc))
}

/// Everything a slot search needs, read inside `txn`, for days `from..=to`.
struct Calendar {
    zone: Tz,
    hours: BusinessHours,
    holidays: Vec<NaiveDate>,
    busy: Vec<(NaiveDateTime, NaiveDateTime)>,
    earliest: NaiveDateTime,
}

impl Calendar {
    /// A search of this calendar for slots of `duration_minutes` on days `from..=to`.
    fn search(&self, from: NaiveDate, to: NaiveDate, duration_minutes: i64) -> SlotSearch<'_> {
        SlotSearch {
            hours: &self.hours,
            holidays: &self.holidays,
            busy: &self.busy,
            from,
            to,
            duration_minutes,
            earliest: self.earliest,
        }
    }
}

/// The clinic's calendar for days `from..=to`: its hours and holidays, and busy where it has
/// appointments and where its Google calendar showed `elsewhere` busy.
async fn calendar(
    txn: &TenantTxn,
    (from, to): (NaiveDate, NaiveDate),
    elsewhere: &[BusyTime],
) -> Result<Calendar, DomainError> {
    let settings = clinic::get(txn).await?;
    let zone = clinic::time_zone(&settings)?;
    // The day's first instant, also when the clocks skip its midnight (the time now would miss
    // the appointments already booked on the days searched; only a day out of every time zone's
    // range, which no search reaches, falls back to it).
    let start = local_day_bounds_utc(from, zone).map_or_else(|_| txn.now(), |day| day.start);
    let end = start + Duration::days((to - from).num_days() + 2);
    let mut busy = busy_spans(txn, zone, (start - Duration::days(1), end)).await?;
    let local = |at: DateTime<Utc>| at.with_timezone(&zone).naive_local();
    busy.extend(
        elsewhere
            .iter()
            .map(|time| (local(time.starts_at), local(time.ends_at))),
    );
    let earliest = (txn.now() + NOTICE).with_timezone(&zone).naive_local();
    Ok(Calendar {
        zone,
        hours: clinic::business_hours(&settings),
        holidays: clinic::holidays(&settings),
        busy,
        earliest,
    })
}

/// `find_slots(from, to, kind)`: free local start times, none of them in a time the clinic's
/// Google calendar showed busy (`elsewhere`).
pub async fn find_slots(
    txn: &TenantTxn,
    input: &Value,
    elsewhere: &[BusyTime],
) -> Result<ToolAnswer, DomainError> {
    let (from, to) = match (day_field(input, "from"), day_field(input, "to")) {
        (Ok(from), Ok(to)) if from <= to => (from, to),
        (Ok(_), Ok(_)) => return Ok(ToolAnswer::Refused("from must not be after to".to_owned())),
        (Err(refused), _) | (_, Err(refused)) => return Ok(ToolAnswer::Refused(refused)),
    };
    if let Some(refused) = out_of_reach(from, clinic_today(txn).await?) {
        return Ok(ToolAnswer::Refused(refused));
    }
    // Days past the search's reach are never looked at, so their appointments are not read.
    let to = to.min(from + Duration::days(slots::MAX_DAYS - 1));
    let service = match slot_service(txn, input).await? {
        Ok(service) => service,
        Err(refused) => return Ok(ToolAnswer::Refused(refused)),
    };
    let duration = visit_minutes(service.as_ref());
    let calendar = calendar(txn, (from, to), elsewhere).await?;
    let found = slots::free_slots(&calendar.search(from, to, duration));
    let written: Vec<String> = found
        .iter()
        .map(|slot| slot.format(SLOT_FORMAT).to_string())
        .collect();
    // The day of the week of each date, so the model need not work it out (and name the wrong
    // one to the caller).
    let weekdays: serde_json::Map<String, Value> = found
        .iter()
        .map(|slot| {
            let day = slot.date();
            (day.to_string(), Value::from(day.format("%A").to_string()))
        })
        .collect();
    Ok(ToolAnswer::Done(
        json!({ "slots": written, "weekdays": weekdays, "minutes": duration }),
    ))
}

/// `quote(service)`: the price from the price list, or a refusal to invent one.
pub async fn quote(txn: &TenantTxn, input: &Value) -> Result<ToolAnswer, DomainError> {
    let Some(service) = service_named(txn, text_field(input, "service")).await? else {
        return Ok(ToolAnswer::Refused(
            "not on the price list: say the team will confirm the price".to_owned(),
        ));
    };
    let currency = clinic::get(txn).await?.currency;
    let priced = ai_settings::as_service(&service);
    Ok(ToolAnswer::Done(json!({
        "service": service.name,
        "price": priced.price_in_words(&currency),
        "minutes": service.duration_minutes,
    })))
}

/// `book_appointment(slot, kind)`: books the conversation's caller into `slot` if it is still
/// free (also of what the clinic's Google calendar showed busy, `elsewhere`), as an appointment
/// from the AI worth the service's estimated value (a standard visit: the clinic's standard visit
/// value). Bookings are decided
/// one at a time per clinic (two callers offered the same first slots cannot both get one). The
/// same answer booking the same slot again finds its first booking (a retried job books once); a
/// caller the AI already booked in this conversation is not booked a second time (asked to move
/// the visit, the model would otherwise leave the first one standing): staff change bookings.
pub async fn book_appointment(
    txn: &TenantTxn,
    secrets: &Secrets,
    thread: &conversation::Model,
    input: &Value,
    elsewhere: &[BusyTime],
) -> Result<ToolAnswer, DomainError> {
    let Some(slot) = slot_field(input) else {
        return Ok(ToolAnswer::Refused(format!(
            "slot must be a start time as find_slots wrote it ({SLOT_FORMAT})"
        )));
    };
    if let Some(refused) = out_of_reach(slot.date(), clinic_today(txn).await?) {
        return Ok(ToolAnswer::Refused(refused));
    }
    let service = match slot_service(txn, input).await? {
        Ok(service) => service,
        Err(refused) => return Ok(ToolAnswer::Refused(refused)),
    };
    txn.lock_clinic().await?;
    let external_id = booking_key(thread, slot);
    match find_ai_booking(txn, &external_id).await? {
        Some(ours) if ours.cancelled_at.is_none() => {
            return Ok(booked_answer(ours, slot, service));
        }
        Some(_) => {
            return Ok(ToolAnswer::Refused(
                "the clinic cancelled this booking meanwhile: offer another time or use hand_off"
                    .to_owned(),
            ));
        }
        None => {}
    }
    let calendar = calendar(txn, (slot.date(), slot.date()), elsewhere).await?;
    if let Some(standing) = booked_in_conversation(txn, thread).await? {
        let at = standing.with_timezone(&calendar.zone).format(SLOT_FORMAT);
        return Ok(ToolAnswer::Refused(format!(
            "the caller is already booked at {at}: book no second visit; to move, cancel or add \
             a visit, use hand_off"
        )));
    }
    let Some(starts_at) = utc_of(calendar.zone, slot) else {
        return Ok(ToolAnswer::Refused(
            "that time does not exist locally".to_owned(),
        ));
    };
    let duration = visit_minutes(service.as_ref());
    if !slots::is_offered(&calendar.search(slot.date(), slot.date(), duration), slot) {
        return Ok(ToolAnswer::Refused(
            "that slot is not free (taken meanwhile or outside opening hours): offer another"
                .to_owned(),
        ));
    }
    let booked = appointments::create(
        txn,
        secrets,
        None,
        NewAppointment {
            caller: CallerRef::Key(thread.caller_key.clone()),
            value_minor: match &service {
                Some(service) => service.estimated_value_minor,
                None => clinic::get(txn).await?.ai_standard_visit_value_minor,
            },
            starts_at: Some(starts_at),
            duration_minutes: i32::try_from(duration).ok(),
            source: AI_SOURCE,
            external_id: Some(external_id),
            booked_at: txn.now(),
        },
    )
    .await?;
    Ok(booked_answer(booked, slot, service))
}

/// The appointments' source of the AI's bookings.
pub const AI_SOURCE: &str = "ai";

/// The AI's key for a booking of `slot` in `thread`'s answer under way: the same answer books a
/// slot once; a later answer may book a slot whose booking the clinic cancelled.
fn booking_key(thread: &conversation::Model, slot: NaiveDateTime) -> String {
    let answer = thread.ai_answering_for.unwrap_or(thread.id);
    answer_booking_key(thread.id, answer, slot)
}

/// The key of the booking of `slot` by the AI's `answer` in `conversation`.
pub(crate) fn answer_booking_key(conversation: Uuid, answer: Uuid, slot: NaiveDateTime) -> String {
    format!(
        "{}{answer}:{}",
        conversation_key_prefix(conversation),
        slot.format("%Y%m%dT%H%M")
    )
}

/// How every booking key of the AI in `conversation` begins.
fn conversation_key_prefix(conversation: Uuid) -> String {
    format!("{AI_SOURCE}:{conversation}:")
}

/// The AI's booking under `external_id`, cancelled or not.
async fn find_ai_booking(
    txn: &TenantTxn,
    external_id: &str,
) -> Result<Option<appointment::Model>, DomainError> {
    Ok(txn
        .find::<appointment::Entity>()
        .filter(appointment::Column::Source.eq(AI_SOURCE))
        .filter(appointment::Column::ExternalId.eq(external_id))
        .one(txn.conn())
        .await?)
}

/// When the visit the AI booked in `thread` starts, if one still stands ahead.
async fn booked_in_conversation(
    txn: &TenantTxn,
    thread: &conversation::Model,
) -> Result<Option<DateTime<Utc>>, DomainError> {
    let prefix = conversation_key_prefix(thread.id);
    Ok(txn
        .find::<appointment::Entity>()
        .filter(appointment::Column::Source.eq(AI_SOURCE))
        .filter(appointment::Column::ExternalId.starts_with(prefix.as_str()))
        .filter(appointment::Column::CancelledAt.is_null())
        .filter(appointment::Column::StartsAt.gt(txn.now()))
        .one(txn.conn())
        .await?
        .and_then(|row| row.starts_at))
}

/// What the model is told of `appointment`, booked into `slot`.
fn booked_answer(
    appointment: appointment::Model,
    slot: NaiveDateTime,
    service: Option<clinic_service::Model>,
) -> ToolAnswer {
    let result = json!({ "booked": slot.format(SLOT_FORMAT).to_string(),
                         "service": service.map(|s| s.name) });
    ToolAnswer::Booked {
        appointment,
        result,
    }
}

/// `text` in plain words for storing: number-like runs removed, at most `max` characters.
pub(crate) fn plain(text: &str, max: usize) -> String {
    remove_numbers(text.trim()).chars().take(max).collect()
}

/// `hand_off(reason)`: the AI stops answering the conversation and hands it to staff, with the
/// reason in plain words: a conversation nobody holds is assigned to the front desk
/// ([`team::front_desk`]; one already assigned stays with its member), staff are notified in the
/// dashboard, and the member is e-mailed unless they turned that off ([`HandOffMail`]). Audited as `ai.handed_off` with the assignee (without the reason: it may quote
/// the caller).
pub async fn hand_off(
    txn: &TenantTxn,
    thread: conversation::Model,
    input: &Value,
) -> Result<ToolAnswer, DomainError> {
    let reason = plain(
        text_field(input, "reason").unwrap_or("no reason given"),
        MAX_REASON_CHARS,
    );
    let id = thread.id;
    let told = format!(
        "The AI receptionist handed the caller {} to the team: {reason}",
        thread.caller_tail
    );
    notifications::notify(txn, notifications::AI_HAND_OFF, Some(id), &told).await?;
    let assignee = match thread.assigned_to {
        Some(member) if conversations::is_on_team(txn, member).await? => Some(member),
        _ => team::front_desk(txn).await?,
    };
    if let Some(member) = assignee {
        let mail = HandOffMail {
            conversation: id,
            member,
        };
        hand_off_mail::queue(txn, mail).await?;
    }
    mark_handed_off(txn, thread, (assignee, reason), txn.now()).await?;
    audit::append(
        txn,
        AuditEvent {
            actor: None,
            action: "ai.handed_off",
            detail: json!({ "conversation": id, "assigned_to": assignee }),
        },
    )
    .await?;
    Ok(ToolAnswer::Done(json!({ "handed_off": true })))
}

/// Marks `thread` handed by the AI to `assignee` (or nobody) for `reason` (plain words), `at`.
pub(crate) async fn mark_handed_off(
    txn: &TenantTxn,
    thread: conversation::Model,
    (assignee, reason): (Option<Uuid>, String),
    at: DateTime<Utc>,
) -> Result<(), DomainError> {
    let mut model: conversation::ActiveModel = thread.into();
    model.assigned_to = Set(assignee);
    model.ai_state = Set(Some(ai_state::HANDED_OFF.to_owned()));
    model.ai_stopped_reason = Set(Some(reason));
    model.updated_at = Set(at);
    model.update(txn.conn()).await?;
    Ok(())
}

/// `save_details(fields)`: merges the caller's intake answers into the conversation's details,
/// sealed with the clinic's data key (number-like runs removed; at most [`MAX_DETAILS`] answers
/// of [`MAX_DETAIL_CHARS`] characters).
pub async fn save_details(
    txn: &TenantTxn,
    secrets: &Secrets,
    thread: conversation::Model,
    input: &Value,
) -> Result<ToolAnswer, DomainError> {
    let Some(fields) = input["fields"].as_object() else {
        return Ok(ToolAnswer::Refused(
            "fields must be an object of answers".to_owned(),
        ));
    };
    let key = keys::data_key(secrets, &clinic::get(txn).await?)?;
    let mut details: serde_json::Map<String, Value> = match intake_details(&key, &thread) {
        IntakeDetails::None => serde_json::Map::new(),
        IntakeDetails::Saved(answers) => answers
            .into_iter()
            .map(|(question, answer)| (question, Value::String(answer)))
            .collect(),
        IntakeDetails::Unreadable => {
            return Ok(ToolAnswer::Refused(
                "the details saved before cannot be opened: hand the caller to staff".to_owned(),
            ));
        }
    };
    for (question, answer) in fields {
        let Some(answer) = answer.as_str() else {
            continue;
        };
        if details.len() >= MAX_DETAILS && !details.contains_key(question) {
            break;
        }
        details.insert(
            plain(question, MAX_DETAIL_CHARS),
            Value::String(plain(answer, MAX_DETAIL_CHARS)),
        );
    }
    let sealed = keys::seal_message(
        &key,
        txn.clinic_id(),
        &Value::Object(details.clone()).to_string(),
    )?;
    let mut model: conversation::ActiveModel = thread.into();
    model.details_sealed = Set(Some(sealed));
    model.updated_at = Set(txn.now());
    model.update(txn.conn()).await?;
    Ok(ToolAnswer::Done(json!({ "saved": details.len() })))
}

/// The intake details the AI saved in a conversation, as staff, the caller's record and the
/// tool that adds to them read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntakeDetails {
    /// None were saved.
    None,
    /// Each question with the caller's answer (number-like runs removed when saved): by question
    /// as opened, in the clinic's order as shown ([`DetailsOpener::shown`]).
    Saved(Vec<(String, String)>),
    /// They are stored but cannot be opened (a damaged row): shown as such, never overwritten.
    Unreadable,
}

impl IntakeDetails {
    /// The answers and whether the details could not be opened (then with no answers), as every
    /// view shows them; `None` when none were saved.
    pub fn shown(&self) -> Option<(&[(String, String)], bool)> {
        match self {
            IntakeDetails::None => None,
            IntakeDetails::Saved(answers) => Some((answers.as_slice(), false)),
            IntakeDetails::Unreadable => Some((&[], true)),
        }
    }

    /// The details as exports write them: `null` when none were saved; details that cannot be
    /// opened are `unreadable`, with no answers.
    pub fn exported(&self) -> Value {
        let Some((answers, unreadable)) = self.shown() else {
            return Value::Null;
        };
        let answers: Vec<Value> = answers
            .iter()
            .map(|(question, answer)| json!({ "question": question, "answer": answer }))
            .collect();
        json!({ "answers": answers, "unreadable": unreadable })
    }
}

/// The intake details kept for `thread`, opened with its clinic's data `key`; details that cannot
/// be opened are logged with the clinic and the conversation (never what is stored).
pub fn intake_details(key: &DataKey, thread: &conversation::Model) -> IntakeDetails {
    let Some(sealed) = &thread.details_sealed else {
        return IntakeDetails::None;
    };
    let opened = keys::open_message(key, thread.clinic_id, sealed)
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Map<String, Value>>(&text).ok());
    let Some(answers) = opened else {
        tracing::warn!(
            clinic = %thread.clinic_id,
            conversation = %thread.id,
            "a conversation's intake details could not be opened; they show as unreadable"
        );
        return IntakeDetails::Unreadable;
    };
    let mut answers: Vec<(String, String)> = answers
        .into_iter()
        .filter_map(|(question, answer)| Some((question, answer.as_str()?.to_owned())))
        .collect();
    answers.sort();
    IntakeDetails::Saved(answers)
}

/// The intake details kept for `thread`, as staff see them ([`DetailsOpener::shown`]).
pub async fn details_of(
    txn: &TenantTxn,
    secrets: &Secrets,
    thread: &conversation::Model,
) -> Result<IntakeDetails, DomainError> {
    if thread.details_sealed.is_none() {
        return Ok(IntakeDetails::None);
    }
    Ok(DetailsOpener::of_clinic(txn, secrets).await?.shown(thread))
}

/// What opening a clinic's intake details for people to read takes: its data key, and the
/// questions it asks, in its order.
pub struct DetailsOpener {
    key: DataKey,
    asked: Vec<String>,
}

impl DetailsOpener {
    /// The opener of the transaction's clinic.
    pub async fn of_clinic(txn: &TenantTxn, secrets: &Secrets) -> Result<Self, DomainError> {
        let clinic = clinic::get(txn).await?;
        Ok(Self {
            key: keys::data_key(secrets, &clinic)?,
            asked: ai_settings::settings_of(&clinic).intake_questions,
        })
    }

    /// `thread`'s intake details, opened ([`intake_details`]), the answers in the order the clinic
    /// asks its questions; answers to questions it does not ask (any more, or worded otherwise by
    /// the model) follow, by question.
    pub fn shown(&self, thread: &conversation::Model) -> IntakeDetails {
        match intake_details(&self.key, thread) {
            IntakeDetails::Saved(mut answers) => {
                answers.sort_by_key(|(question, _)| asked_position(&self.asked, question));
                IntakeDetails::Saved(answers)
            }
            other => other,
        }
    }
}

/// Where `question` stands among the clinic's `asked` questions (case and surrounding spaces
/// aside); after all of them when it is not one.
fn asked_position(asked: &[String], question: &str) -> usize {
    let question = question.trim();
    asked
        .iter()
        .position(|one| one.trim().eq_ignore_ascii_case(question))
        .unwrap_or(asked.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("a day")
    }

    #[test]
    fn only_the_days_a_slot_tool_may_look_at_are_asked_of_the_calendar() {
        let today = day("2031-03-03");
        let search = |from: &str, to: &str| json!({ "from": from, "to": to });
        assert_eq!(
            days_looked_at(tool::FIND_SLOTS, &search("2031-03-04", "2031-03-05"), today),
            Some((day("2031-03-04"), day("2031-03-05")))
        );
        assert_eq!(
            days_looked_at(tool::FIND_SLOTS, &search("2031-03-04", "2031-09-01"), today),
            Some((day("2031-03-04"), day("2031-04-03"))),
            "no more days than a search reads"
        );
        let booking = json!({ "slot": "2031-03-06 09:30" });
        assert_eq!(
            days_looked_at(tool::BOOK_APPOINTMENT, &booking, today),
            Some((day("2031-03-06"), day("2031-03-06")))
        );
        let year_ahead = (today + Duration::days(BOOKING_HORIZON_DAYS + 1)).to_string();
        assert!(
            days_looked_at(tool::FIND_SLOTS, &search(&year_ahead, &year_ahead), today).is_some(),
            "a day in reach after midnight is asked about"
        );
        let beyond = (today + Duration::days(BOOKING_HORIZON_DAYS + 2)).to_string();
        for refused in [
            search("2031-03-05", "2031-03-04"),
            search("200000-01-01", "200000-01-02"),
            search("2031-02-01", "2031-02-02"),
            search(&beyond, &beyond),
            json!({ "from": "monday" }),
        ] {
            assert_eq!(
                days_looked_at(tool::FIND_SLOTS, &refused, today),
                None,
                "{refused}"
            );
        }
        assert_eq!(days_looked_at(tool::QUOTE, &booking, today), None);
        let (from, to) = covering((day("2031-03-04"), day("2031-03-04")));
        assert_eq!(from.to_rfc3339(), "2031-03-03T00:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2031-03-06T00:00:00+00:00");
    }
}
