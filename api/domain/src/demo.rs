//! `ringback demo`: a demo clinic with 90 days of realistic activity, so the product can be tried
//! at once. A weekly rhythm (busy Mondays, quiet Saturdays, closed Sundays), miss peaks at lunch
//! and at the end of the day, callbacks and return calls, and bookings of several values, some
//! recovered and some not. Every number comes from the UK's reserved drama range
//! (07700 900000–900999), and goes through the same keying as real traffic, so none is stored.
//! The generator is seeded: the same day gives the same data.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use ringback_entity::user;
use ringback_shared::attribution::{CallDirection, CallOutcome};
use ringback_shared::metrics::parse_time_zone;
use ringback_shared::text_back::SkipReason;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::auth::session::SessionKeys;
use crate::service::account::{self, SignUp};
use crate::service::appointments::{self, CallerRef, NewAppointment};
use crate::service::calls::{self, CallEvent, EventResult};
use crate::service::messages::{self, NewMessage, Party};
use crate::service::metrics;
use ringback_core::clock::Clock;
use ringback_core::db::DbError;
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;

use crate::doors;

/// The demo owner's e-mail address.
pub const DEMO_EMAIL: &str = "owner@demo.ringback.test";
/// The demo owner's password (demo data only; printed by the command).
pub const DEMO_PASSWORD: &str = "ringback-demo-owner";
/// Days of history generated.
pub const DEMO_DAYS: i64 = 90;
/// Demo appointments start between this many days after they were booked…
const SOONEST_START_DAYS: u64 = 3;
/// …and this many: no demo appointment starts later than this many days from now, so a day
/// beyond it has every opening free.
pub const LATEST_START_DAYS: u64 = 16;
const TIME_ZONE: &str = "Europe/London";
/// Treatments and their values in pence.
const TREATMENTS: &[(&str, i64)] = &[
    ("check-up", 4_500),
    ("hygiene", 6_500),
    ("filling", 12_000),
    ("implant consultation", 15_000),
    ("whitening", 35_000),
];

/// The automated text-back, which says that it is automated.
const TEXT_BACK: &str = "Sorry we missed your call at Riverside Dental. Reply to this message or book at \
    https://book.example.test/riverside. (Automated message.)";
/// What callers reply.
const REPLIES: &[&str] = &[
    "Hi, yes please - I'd like a check-up.",
    "Can I book a hygiene appointment next week?",
    "I've got toothache, any chance of something today?",
    "Do you do whitening? How much is it?",
];

/// What `seed` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub calls: usize,
    pub missed: usize,
    pub text_backs: usize,
    pub replies: usize,
    pub callbacks: usize,
    pub appointments: usize,
}

/// Whether the demo clinic was created now or already existed.
#[derive(Debug, PartialEq, Eq)]
pub enum DemoOutcome {
    Created(DemoSummary),
    AlreadyPresent,
}

/// A small seeded generator (xorshift64*), so demo data is reproducible without a dependency.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..bound`.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Creates the demo clinic (unless it exists) with activity up to the clock's now.
pub async fn seed(
    db: &DatabaseConnection,
    clock: &Clock,
    secrets: &Secrets,
) -> Result<DemoOutcome, DomainError> {
    let now = clock.now();
    let existing = user::Entity::find()
        .filter(user::Column::Email.eq(DEMO_EMAIL))
        .one(db)
        .await
        .map_err(DbError::from)?;
    if existing.is_some() {
        return Ok(DemoOutcome::AlreadyPresent);
    }
    let keys = SessionKeys::new(secrets.session_secret.expose());
    let grant = account::sign_up(
        db,
        clock,
        &keys,
        secrets,
        SignUp {
            clinic_name: "Riverside Dental (demo)".to_owned(),
            kind: "dental".to_owned(),
            time_zone: TIME_ZONE.to_owned(),
            default_region: "GB".to_owned(),
            currency: "GBP".to_owned(),
            owner_name: "Demo Owner".to_owned(),
            owner_email: DEMO_EMAIL.to_owned(),
            password: DEMO_PASSWORD.to_owned(),
            accepted_terms: ringback_shared::terms::VERSION.to_owned(),
        },
    )
    .await?;
    let txn = doors::signed_up(db, clock, &grant).begin().await?;
    let mut dice = Dice(0x5eed_2026 ^ now.date_naive().num_days_from_ce() as u64);
    let mut summary = DemoSummary::default();
    let today = now.with_timezone(&zone()?).date_naive();
    for back in (1..=DEMO_DAYS).rev() {
        let day = today - Duration::days(back);
        seed_day(&txn, secrets, &mut dice, day, now, &mut summary).await?;
    }
    // The figures the calls made stale (bookings reach into the coming days) are settled here,
    // so that no dashboard read pays for them.
    metrics::settle_before(&txn, today + Duration::days(366)).await?;
    txn.commit().await?;
    Ok(DemoOutcome::Created(summary))
}

fn zone() -> Result<chrono_tz::Tz, DomainError> {
    parse_time_zone(TIME_ZONE).map_err(|e| DomainError::Internal(e.to_string()))
}

/// How many calls a weekday brings.
fn calls_on(day: NaiveDate) -> u64 {
    match day.weekday() {
        Weekday::Mon => 30,
        Weekday::Tue | Weekday::Wed | Weekday::Thu => 22,
        Weekday::Fri => 25,
        Weekday::Sat => 9,
        Weekday::Sun => 2,
    }
}

/// Minute of the day (local) a call arrives, and the chance in percent that it is missed: most
/// calls come in opening hours; lunch and the end of the day are when the desk is short.
fn arrival(dice: &mut Dice) -> (u32, u64) {
    let minute = 8 * 60 + dice.below(10 * 60 + 30) as u32;
    let miss_percent = match minute / 60 {
        12 | 13 => 48,
        17 | 18 => 42,
        _ => 16,
    };
    (minute, miss_percent)
}

fn at_local(day: NaiveDate, minute: u32) -> Result<DateTime<Utc>, DomainError> {
    let local = day
        .and_hms_opt(minute / 60, minute % 60, 0)
        .ok_or_else(|| DomainError::Internal("demo time out of range".to_owned()))?;
    zone()?
        .from_local_datetime(&local)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| DomainError::Internal("demo time skipped by DST".to_owned()))
}

/// A fiction number: 07700 900000–900999, from a pool of 600 so some callers ring again.
fn caller_number(dice: &mut Dice) -> String {
    format!("07700 900{:03}", dice.below(600))
}

async fn seed_day(
    txn: &TenantTxn,
    secrets: &Secrets,
    dice: &mut Dice,
    day: NaiveDate,
    now: DateTime<Utc>,
    summary: &mut DemoSummary,
) -> Result<(), DomainError> {
    let mut events = Vec::new();
    let mut numbers = Vec::new();
    for index in 0..calls_on(day) {
        let (minute, miss_percent) = arrival(dice);
        let started_at = at_local(day, minute)?;
        let missed = dice.chance(miss_percent);
        let outcome = if !missed {
            CallOutcome::Answered
        } else {
            [
                CallOutcome::NoAnswer,
                CallOutcome::NoAnswer,
                CallOutcome::Busy,
                CallOutcome::Voicemail,
            ][dice.below(4) as usize]
        };
        let number = caller_number(dice);
        events.push(CallEvent {
            external_id: format!("demo-{day}-{index}"),
            direction: CallDirection::Inbound,
            outcome,
            started_at,
            answered_at: (!missed).then(|| started_at + Duration::seconds(8)),
            ended_at: Some(started_at + Duration::seconds(if missed { 25 } else { 240 })),
            caller_number: number.clone(),
        });
        numbers.push(number);
    }
    let results = calls::record_events(txn, secrets, None, "demo", events).await?;
    for ((_, result), number) in results.into_iter().zip(numbers) {
        if let EventResult::Recorded(call) = result {
            summary.calls += 1;
            follow_up(txn, secrets, dice, &call, number, now, summary).await?;
        }
    }
    Ok(())
}

/// Why a demo caller was not texted, as a real clinic sees it most often: texted already that day,
/// a landline, an opted-out caller. Read from the call's minute, so the demo's dice (and with
/// them every other demo figure) are left as they were.
fn untexted_reason(call: &ringback_entity::call::Model) -> SkipReason {
    match call.started_at.minute() % 4 {
        0 | 1 => SkipReason::Duplicate,
        2 => SkipReason::Landline,
        _ => SkipReason::OptedOut,
    }
}

/// The text-back after a missed call (most get one) and, sometimes, the caller's reply; returns
/// when they replied.
async fn text_back(
    txn: &TenantTxn,
    secrets: &Secrets,
    dice: &mut Dice,
    call: &ringback_entity::call::Model,
    now: DateTime<Utc>,
    summary: &mut DemoSummary,
) -> Result<Option<DateTime<Utc>>, DomainError> {
    if !dice.chance(85) {
        calls::set_text_back_status(txn, call.id, untexted_reason(call).status()).await?;
        return Ok(None);
    }
    let party = || Party {
        caller_key: &call.caller_key,
        caller_tail: &call.caller_tail,
    };
    let sent_at = (call.started_at + Duration::seconds(20)).min(now);
    messages::record(
        txn,
        secrets,
        NewMessage {
            party: party(),
            direction: "outbound",
            kind: messages::KIND_TEXT_BACK,
            body: TEXT_BACK,
            at: sent_at,
            provider_message_id: None,
            status: "delivered",
            call_id: Some(call.id),
            sealed_number: None,
        },
    )
    .await?;
    calls::set_text_back_status(txn, call.id, "delivered").await?;
    summary.text_backs += 1;
    if !dice.chance(35) {
        return Ok(None);
    }
    let replied_at = (sent_at + Duration::minutes(2 + dice.below(90) as i64)).min(now);
    messages::record(
        txn,
        secrets,
        NewMessage {
            party: party(),
            direction: "inbound",
            kind: messages::KIND_REPLY,
            body: REPLIES[dice.below(REPLIES.len() as u64) as usize],
            at: replied_at,
            provider_message_id: None,
            status: "received",
            call_id: None,
            sealed_number: None,
        },
    )
    .await?;
    summary.replies += 1;
    Ok(Some(replied_at))
}

/// How long after its booking a demo appointment starts.
fn start_delay(dice: &mut Dice) -> Duration {
    let days = SOONEST_START_DAYS + dice.below(LATEST_START_DAYS - SOONEST_START_DAYS + 1);
    Duration::days(days as i64)
}

/// What happens after one call: for a missed call, maybe a text-back, a reply and a callback; then
/// maybe a booking.
async fn follow_up(
    txn: &TenantTxn,
    secrets: &Secrets,
    dice: &mut Dice,
    call: &ringback_entity::call::Model,
    number: String,
    now: DateTime<Utc>,
    summary: &mut DemoSummary,
) -> Result<(), DomainError> {
    let mut booking_after = call.started_at + Duration::minutes(6);
    let mut books_percent = 30;
    if call.missed {
        summary.missed += 1;
        books_percent = 8;
        if let Some(replied_at) = text_back(txn, secrets, dice, call, now, summary).await? {
            books_percent = 50;
            booking_after = replied_at + Duration::minutes(3);
        }
        if dice.chance(55) {
            let delay = Duration::minutes(5 + dice.below(180) as i64);
            let outcome = if dice.chance(75) {
                CallOutcome::Answered
            } else {
                CallOutcome::NoAnswer
            };
            let at = (call.started_at + delay).min(now);
            calls::log_callback(txn, None, call.id, outcome, at).await?;
            summary.callbacks += 1;
            if outcome == CallOutcome::Answered {
                books_percent = books_percent.max(55);
                booking_after = booking_after.max(at + Duration::minutes(2));
            }
        }
    }
    if dice.chance(books_percent) {
        let booked_at = (booking_after + Duration::minutes(dice.below(60 * 30) as i64)).min(now);
        let (_, value) = TREATMENTS[dice.below(TREATMENTS.len() as u64) as usize];
        appointments::create(
            txn,
            secrets,
            None,
            NewAppointment {
                caller: CallerRef::Number(number),
                value_minor: value,
                starts_at: Some(booked_at + start_delay(dice)),
                duration_minutes: None,
                source: "demo",
                external_id: None,
                booked_at,
            },
        )
        .await?;
        summary.appointments += 1;
    }
    Ok(())
}
