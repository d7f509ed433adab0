//! `ringback demo`: a demo clinic with 90 days of realistic activity, so the product can be tried
//! at once. A weekly rhythm (busy Mondays, quiet Saturdays, closed Sundays), miss peaks at lunch
//! and at the end of the day, callbacks and return calls, and bookings of several values, some
//! recovered and some not. The clinic is set up as a live one is (its Twilio number, forwarding
//! line, opening hours, own text-back wording), so its overview shows no setup checklist. Every
//! number comes from the UK's reserved drama ranges (callers 07700 900000–900599, the clinic's
//! 07700 900777 and 020 7946 0123), and goes through the same keying as real traffic, so none is
//! stored. The generator is seeded: the same day gives the same data.
//!
//! The demo owner also owns a second business, a plumbing and heating firm ([`trades`]) whose
//! callers' texts the AI receptionist answers, so the header offers both and the AI's work (its
//! bookings, hand-offs and steps) can be seen too.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use ringback_entity::{clinic as clinic_row, conversation, user};
use ringback_providers::twilio::PROVIDER_NAME;
use ringback_shared::attribution::{CallDirection, CallOutcome};
use ringback_shared::hours::{BusinessHours, parse_day};
use ringback_shared::metrics::parse_time_zone;
use ringback_shared::phone::{self, Region};
use ringback_shared::text_back::SkipReason;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::auth::session::SessionKeys;
use crate::service::account::{self, SignUp};
use crate::service::appointments::{self, CallerRef, NewAppointment};
use crate::service::calls::{self, CallEvent, EventResult};
use crate::service::clinic::{self, SettingsChange, TextBackTemplates};
use crate::service::messages::{self, NewMessage, Party};
use crate::service::{metrics, phone_lines};
use ringback_core::clock::Clock;
use ringback_core::db::DbError;
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::{TenantScope, TenantTxn};

use crate::doors;

pub mod trades;

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

/// The demo clinic's Twilio number (callers ring it; texts come from it) and the line calls are
/// forwarded to: fiction numbers, outside the demo callers' pool.
pub const TEXTING_NUMBER: &str = "+447700900777";
const FORWARDING_LINE: &str = "020 7946 0123";
const BOOKING_LINK: &str = "https://book.example.test/riverside";
/// The clinic's own text-back wording, in opening hours and out of them.
const WORDING_OPEN: &str =
    "Sorry we missed your call to {clinic}. Reply to this text or book at {booking_link}";
const WORDING_CLOSED: &str = "Thanks for calling {clinic}. We are closed now: reply to this text \
    and we will answer when we open, or book at {booking_link}";
/// The provider's seconds between a missed call ending and its text-back going out: a few.
const TEXT_BACK_SECONDS: [i64; 5] = [3, 4, 4, 6, 9];
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
    /// The second business's.
    pub trades: trades::TradesSummary,
}

/// Whether the demo was created now, completed with its trades business, or already existed.
#[derive(Debug, PartialEq, Eq)]
pub enum DemoOutcome {
    Created(DemoSummary),
    /// The demo clinic existed; its owner's trades business was missing and is added.
    TradesAdded(trades::TradesSummary),
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

/// Creates the demo (unless it exists): the demo clinic and its owner's trades business, with
/// activity up to the clock's now. A demo whose trades business is missing gets it.
pub async fn seed(
    db: &DatabaseConnection,
    clock: &Clock,
    secrets: &Secrets,
) -> Result<DemoOutcome, DomainError> {
    let now = clock.now();
    if let Some(owner) = demo_owner(db).await? {
        let Some(mut summary) = refill_if_cut_short(db, clock, secrets, (owner, now)).await? else {
            return add_trades_if_missing(db, clock, secrets, (owner, now)).await;
        };
        summary.trades = match add_trades_if_missing(db, clock, secrets, (owner, now)).await? {
            DemoOutcome::TradesAdded(trades) => trades,
            _ => trades::TradesSummary::default(),
        };
        return Ok(DemoOutcome::Created(summary));
    }
    let (mut summary, owner) = create_clinic(db, clock, secrets, now).await?;
    summary.trades = trades::seed(db, clock, secrets, (owner, now)).await?;
    Ok(DemoOutcome::Created(summary))
}

/// Creates the demo clinic alone (unless the demo exists), without the trades business: for
/// tests about one clinic, which need not pay for a second.
pub async fn seed_clinic(
    db: &DatabaseConnection,
    clock: &Clock,
    secrets: &Secrets,
) -> Result<DemoOutcome, DomainError> {
    if demo_owner(db).await?.is_some() {
        return Ok(DemoOutcome::AlreadyPresent);
    }
    let (summary, _) = create_clinic(db, clock, secrets, clock.now()).await?;
    Ok(DemoOutcome::Created(summary))
}

/// Whether the demo is all there (its owner, whose password is published, and both businesses):
/// [`seed`] would create nothing.
pub async fn is_complete(db: &DatabaseConnection, clock: &Clock) -> Result<bool, DomainError> {
    let Some(owner) = demo_owner(db).await? else {
        return Ok(false);
    };
    let clinics = account::clinics_of(db, clock, owner).await?;
    Ok(clinics
        .iter()
        .any(|(clinic, _)| clinic.kind == trades::KIND))
}

/// The demo owner's id, when the demo exists.
async fn demo_owner(db: &DatabaseConnection) -> Result<Option<Uuid>, DomainError> {
    let owner = user::Entity::find()
        .filter(user::Column::Email.eq(DEMO_EMAIL))
        .one(db)
        .await
        .map_err(DbError::from)?;
    Ok(owner.map(|owner| owner.id))
}

/// Creates the demo clinic and its owner with 90 days up to `now`; what it made, and the owner.
async fn create_clinic(
    db: &DatabaseConnection,
    clock: &Clock,
    secrets: &Secrets,
    now: DateTime<Utc>,
) -> Result<(DemoSummary, Uuid), DomainError> {
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
        // Its trial starts when a server with billing on starts, as an existing clinic's does.
        false,
    )
    .await?;
    let txn = doors::signed_up(db, clock, &grant).begin().await?;
    let summary = fill_clinic(&txn, secrets, (grant.user.id, now)).await?;
    txn.commit().await?;
    Ok((summary, grant.user.id))
}

/// Sets the demo clinic of `txn` up as a live one and fills its 90 days up to `now`.
async fn fill_clinic(
    txn: &TenantTxn,
    secrets: &Secrets,
    (owner, now): (Uuid, DateTime<Utc>),
) -> Result<DemoSummary, DomainError> {
    let settings = set_up(txn, secrets, owner).await?;
    let mut seeder = Seeder {
        txn,
        secrets,
        settings,
        now,
        dice: Dice(0x5eed_2026 ^ now.date_naive().num_days_from_ce() as u64),
        summary: DemoSummary::default(),
    };
    let today = now.with_timezone(&zone()?).date_naive();
    for back in (1..=DEMO_DAYS).rev() {
        seeder.seed_day(today - Duration::days(back)).await?;
    }
    let summary = seeder.summary;
    finish(txn, now, today).await?;
    Ok(summary)
}

/// Fills the demo clinic whose filling was cut short (its owner was stored, its 90 days were
/// not: stopped with Ctrl-C, or failed), through the operator's door; what it made, or `None`
/// when the demo clinic is set up (its forwarding line, stored with the days, is there).
async fn refill_if_cut_short(
    db: &DatabaseConnection,
    clock: &Clock,
    secrets: &Secrets,
    (owner, now): (Uuid, DateTime<Utc>),
) -> Result<Option<DemoSummary>, DomainError> {
    let clinics = account::clinics_of(db, clock, owner).await?;
    let Some((empty, _)) = clinics
        .iter()
        .find(|(clinic, _)| clinic.kind != trades::KIND && clinic.forwarding_line_tail.is_none())
    else {
        return Ok(None);
    };
    let scope = TenantScope::for_operator(db.clone(), clock.clone(), empty.id, "demo data").await?;
    let txn = scope.begin().await?;
    let summary = fill_clinic(&txn, secrets, (owner, now)).await?;
    txn.commit().await?;
    Ok(Some(summary))
}

/// For a demo made before the trades business came (or whose trades business failed to be made,
/// which stores nothing of it): the business, added for the demo owner; otherwise nothing.
async fn add_trades_if_missing(
    db: &DatabaseConnection,
    clock: &Clock,
    secrets: &Secrets,
    (owner, now): (Uuid, DateTime<Utc>),
) -> Result<DemoOutcome, DomainError> {
    let clinics = account::clinics_of(db, clock, owner).await?;
    if clinics
        .iter()
        .any(|(clinic, _)| clinic.kind == trades::KIND)
    {
        return Ok(DemoOutcome::AlreadyPresent);
    }
    let added = trades::seed(db, clock, secrets, (owner, now)).await?;
    Ok(DemoOutcome::TradesAdded(added))
}

/// What every demo business ends with: its older conversations read, and the figures its calls
/// made stale (bookings reach into the coming days) settled, so that no dashboard read pays for
/// them.
async fn finish(txn: &TenantTxn, now: DateTime<Utc>, today: NaiveDate) -> Result<(), DomainError> {
    read_all_but_the_latest(txn, now).await?;
    metrics::settle_before(txn, today + Duration::days(366)).await
}

/// How long the demo's latest conversations stay unread: a front desk has read the rest.
pub const UNREAD_FOR: Duration = Duration::days(2);

/// Marks the demo's conversations read whose last text is older than [`UNREAD_FOR`], as a front
/// desk keeping up with its inbox would have (otherwise every conversation of 90 days shows
/// unread).
async fn read_all_but_the_latest(txn: &TenantTxn, now: DateTime<Utc>) -> Result<(), DomainError> {
    let read_by = now - UNREAD_FOR;
    txn.update_many::<conversation::Entity>()
        .col_expr(conversation::Column::ReadAt, Expr::value(read_by))
        .filter(conversation::Column::LastMessageAt.lt(read_by))
        .exec(txn.conn())
        .await
        .map_err(DbError::from)?;
    Ok(())
}

/// Sets the demo clinic up as a live clinic is (every step of the setup checklist but the calls,
/// which the days bring): opening hours that match when its calls come, its own text-back wording
/// with a booking link, its Twilio number and the line calls ring through to. Returns the
/// settings as saved.
async fn set_up(
    txn: &TenantTxn,
    secrets: &Secrets,
    owner: Uuid,
) -> Result<clinic_row::Model, DomainError> {
    let live = LiveSetUp {
        hours: ("08:30-18:00", "09:00-13:00"),
        booking_link: BOOKING_LINK,
        wording: (WORDING_OPEN, WORDING_CLOSED),
        lines: (TEXTING_NUMBER, FORWARDING_LINE),
    };
    set_up_live(txn, secrets, owner, live).await
}

/// What makes a demo business look live: its hours (weekdays, Saturdays; closed on Sundays), its
/// booking link, its text-back wording (in opening hours, out of them), and its phone lines (its
/// Twilio number, the line its calls ring through to).
struct LiveSetUp {
    hours: (&'static str, &'static str),
    booking_link: &'static str,
    wording: (&'static str, &'static str),
    lines: (&'static str, &'static str),
}

/// Saves `live` as the business's settings and takes its phone lines (its Twilio number unless
/// another clinic of the deployment holds it: then it goes without); returns its settings.
async fn set_up_live(
    txn: &TenantTxn,
    secrets: &Secrets,
    owner: Uuid,
    live: LiveSetUp,
) -> Result<clinic_row::Model, DomainError> {
    let weekday = parse_day(live.hours.0).map_err(internal)?;
    let mut days: [Vec<_>; 7] = std::array::from_fn(|_| weekday.clone());
    days[5] = parse_day(live.hours.1).map_err(internal)?;
    days[6] = Vec::new();
    let change = SettingsChange {
        business_hours: Some(BusinessHours { days }),
        booking_link: Some(live.booking_link.to_owned()),
        text_back_templates: Some(TextBackTemplates {
            business_hours: Some(live.wording.0.to_owned()),
            after_hours: Some(live.wording.1.to_owned()),
        }),
        ..SettingsChange::default()
    };
    let settings = clinic::update(txn, owner, change).await?;
    let (texting, forwarding) = live.lines;
    let number = uk_number(texting)?;
    if phone_lines::insert_provider_number(
        txn,
        secrets,
        &settings,
        &number,
        phone_lines::NumberSource::Typed,
    )
    .await?
    .is_none()
    {
        tracing::info!(
            "the demo's {} has no texting number: another clinic holds its number",
            settings.name
        );
    }
    phone_lines::set_forwarding_line(txn, secrets, owner, Some(forwarding)).await
}

/// A demo number in E.164.
fn uk_number(number: &str) -> Result<phone::E164, DomainError> {
    let region = Region::parse("GB").map_err(internal)?;
    Ok(phone::normalize(number, region).map_err(internal)?.e164)
}

fn internal(error: impl std::fmt::Display) -> DomainError {
    DomainError::Internal(format!("demo set-up: {error}"))
}

fn zone() -> Result<chrono_tz::Tz, DomainError> {
    parse_time_zone(TIME_ZONE).map_err(|e| DomainError::Internal(e.to_string()))
}

/// How many calls the clinic gets on each day of the week, Monday first: busy Mondays, quiet
/// Saturdays, a couple on a closed Sunday.
const CALLS_A_DAY: [u64; 7] = [30, 22, 22, 22, 25, 9, 2];

/// How many calls `day` brings, by `week` (a count for each day, Monday first).
fn calls_on(day: NaiveDate, week: &[u64; 7]) -> u64 {
    week[day.weekday().num_days_from_monday() as usize]
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

/// How a call ended: answered, or missed in one of the ways callers are missed.
fn call_outcome(dice: &mut Dice, missed: bool) -> CallOutcome {
    if !missed {
        return CallOutcome::Answered;
    }
    [
        CallOutcome::NoAnswer,
        CallOutcome::NoAnswer,
        CallOutcome::Busy,
        CallOutcome::Voicemail,
    ][dice.below(4) as usize]
}

/// A call from `number` to the business, as its Twilio number reports it: rung for 25 seconds
/// when missed, talked for four minutes when answered.
fn inbound_call(
    external_id: String,
    started_at: DateTime<Utc>,
    outcome: CallOutcome,
    number: &str,
) -> CallEvent {
    let missed = outcome != CallOutcome::Answered;
    CallEvent {
        external_id,
        direction: CallDirection::Inbound,
        outcome,
        started_at,
        answered_at: (!missed).then(|| started_at + Duration::seconds(8)),
        ended_at: Some(started_at + Duration::seconds(if missed { 25 } else { 240 })),
        caller_number: number.to_owned(),
        provider_number_id: None,
    }
}

/// A fiction number: 07700 900000–900999, from a pool of 600 so some callers ring again.
fn caller_number(dice: &mut Dice) -> String {
    format!("07700 900{:03}", dice.below(600))
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

/// How long after its booking a demo appointment starts.
fn start_delay(dice: &mut Dice) -> Duration {
    let days = SOONEST_START_DAYS + dice.below(LATEST_START_DAYS - SOONEST_START_DAYS + 1);
    Duration::days(days as i64)
}

/// When a demo visit on the clinic's day that `around` falls on starts: a quarter hour from 09:00
/// on a weekday (to 17:15) or a Saturday (to 12:45), the last in time for a half-hour visit before
/// closing; a Sunday's moves to the Saturday before. Read from `around`'s minute, so the demo's
/// dice (and with them every other demo figure) are left as they were.
fn visit_start(around: DateTime<Utc>) -> Result<DateTime<Utc>, DomainError> {
    let local = around.with_timezone(&zone()?);
    let mut day = local.date_naive();
    if day.weekday() == Weekday::Sun {
        day -= Duration::days(1);
    }
    let quarters = if day.weekday() == Weekday::Sat {
        16
    } else {
        34
    };
    let quarter = (local.hour() * 60 + local.minute()) % quarters;
    at_local(day, 9 * 60 + 15 * quarter)
}

/// Seeds the demo clinic's days, one after another, with one set of dice.
struct Seeder<'a> {
    txn: &'a TenantTxn,
    secrets: &'a Secrets,
    settings: clinic_row::Model,
    now: DateTime<Utc>,
    dice: Dice,
    summary: DemoSummary,
}

impl Seeder<'_> {
    /// One day's calls, as the clinic's Twilio number reported them, and what followed each.
    async fn seed_day(&mut self, day: NaiveDate) -> Result<(), DomainError> {
        let mut events = Vec::new();
        let mut numbers = Vec::new();
        for index in 0..calls_on(day, &CALLS_A_DAY) {
            let dice = &mut self.dice;
            let (minute, miss_percent) = arrival(dice);
            let started_at = at_local(day, minute)?;
            let missed = dice.chance(miss_percent);
            let outcome = call_outcome(dice, missed);
            let number = caller_number(dice);
            events.push(inbound_call(
                format!("demo-{day}-{index}"),
                started_at,
                outcome,
                &number,
            ));
            numbers.push(number);
        }
        let results =
            calls::record_events(self.txn, self.secrets, None, PROVIDER_NAME, events).await?;
        for ((_, result), number) in results.into_iter().zip(numbers) {
            if let EventResult::Recorded(call) = result {
                self.summary.calls += 1;
                self.follow_up(&call, number).await?;
            }
        }
        Ok(())
    }

    /// What happens after one call: for a missed call, maybe a text-back, a reply and a
    /// callback; then maybe a booking.
    async fn follow_up(
        &mut self,
        call: &ringback_entity::call::Model,
        number: String,
    ) -> Result<(), DomainError> {
        let mut booking_after = call.started_at + Duration::minutes(6);
        let mut books_percent = 30;
        if call.missed {
            self.summary.missed += 1;
            books_percent = 8;
            if let Some(replied_at) = self.text_back(call).await? {
                books_percent = 50;
                booking_after = replied_at + Duration::minutes(3);
            }
            if self.dice.chance(55) {
                let delay = Duration::minutes(5 + self.dice.below(180) as i64);
                let outcome = if self.dice.chance(75) {
                    CallOutcome::Answered
                } else {
                    CallOutcome::NoAnswer
                };
                let at = (call.started_at + delay).min(self.now);
                let logged = calls::LoggedCallback {
                    by: calls::LoggedBy::Staff,
                    external_id: None,
                    outcome,
                    at,
                };
                calls::log_callback(self.txn, None, call.id, logged).await?;
                self.summary.callbacks += 1;
                if outcome == CallOutcome::Answered {
                    books_percent = books_percent.max(55);
                    booking_after = booking_after.max(at + Duration::minutes(2));
                }
            }
        }
        if self.dice.chance(books_percent) {
            let dice = &mut self.dice;
            let booked_at =
                (booking_after + Duration::minutes(dice.below(60 * 30) as i64)).min(self.now);
            let (_, value) = TREATMENTS[dice.below(TREATMENTS.len() as u64) as usize];
            let starts_at = visit_start(booked_at + start_delay(dice))?;
            appointments::create(
                self.txn,
                self.secrets,
                None,
                NewAppointment {
                    caller: CallerRef::Number(number),
                    value_minor: value,
                    starts_at: Some(starts_at),
                    duration_minutes: None,
                    source: "demo",
                    external_id: None,
                    booked_at,
                },
            )
            .await?;
            self.summary.appointments += 1;
        }
        Ok(())
    }

    /// The text-back after a missed call (most get one, in the clinic's wording of that moment, a
    /// few seconds after the call ended) and, sometimes, the caller's reply; returns when they
    /// replied.
    async fn text_back(
        &mut self,
        call: &ringback_entity::call::Model,
    ) -> Result<Option<DateTime<Utc>>, DomainError> {
        if !self.dice.chance(85) {
            calls::set_text_back_status(self.txn, call.id, untexted_reason(call).status()).await?;
            return Ok(None);
        }
        // A strict clinic keeps no number: the text-back's conversation is not given one.
        let sent_at = text_back(
            self.txn,
            self.secrets,
            (&self.settings, call),
            None,
            self.now,
        )
        .await?
        .created_at;
        self.summary.text_backs += 1;
        if !self.dice.chance(35) {
            return Ok(None);
        }
        let dice = &mut self.dice;
        let replied_at = (sent_at + Duration::minutes(2 + dice.below(90) as i64)).min(self.now);
        let reply = REPLIES[dice.below(REPLIES.len() as u64) as usize];
        let texts = Texts::new(self.txn, self.secrets, call);
        texts.record(Text::caller(reply), replied_at).await?;
        self.summary.replies += 1;
        Ok(Some(replied_at))
    }
}

/// Records the text-back after missed `call` of the business `settings` describes, in its
/// wording of that moment, delivered a few seconds after the call ended (never after `now`);
/// the conversation keeps `sealed_number` when the business keeps numbers.
async fn text_back(
    txn: &TenantTxn,
    secrets: &Secrets,
    (settings, call): (&clinic_row::Model, &ringback_entity::call::Model),
    sealed_number: Option<Vec<u8>>,
    now: DateTime<Utc>,
) -> Result<ringback_entity::message::Model, DomainError> {
    let ended_at = call.ended_at.unwrap_or(call.started_at);
    let seconds = TEXT_BACK_SECONDS[call.started_at.minute() as usize % TEXT_BACK_SECONDS.len()];
    let sent_at = (ended_at + Duration::seconds(seconds)).min(now);
    let body = clinic::text_back_text(settings, sent_at);
    let texts = Texts {
        sealed_number,
        ..Texts::new(txn, secrets, call)
    };
    let sent = texts.record(Text::text_back(&body), sent_at).await?;
    calls::set_text_back_status(txn, call.id, "delivered").await?;
    Ok(sent)
}

/// One text of a demo conversation: who wrote it, of which kind, and its words.
struct Text<'a> {
    direction: &'static str,
    kind: &'static str,
    body: &'a str,
}

impl<'a> Text<'a> {
    fn text_back(body: &'a str) -> Self {
        Self {
            direction: messages::OUTBOUND,
            kind: messages::KIND_TEXT_BACK,
            body,
        }
    }

    fn caller(body: &'a str) -> Self {
        Self {
            direction: messages::INBOUND,
            kind: messages::KIND_REPLY,
            body,
        }
    }

    fn staff(body: &'a str) -> Self {
        Self {
            direction: messages::OUTBOUND,
            kind: messages::KIND_STAFF,
            body,
        }
    }

    fn ai(body: &'a str) -> Self {
        Self {
            direction: messages::OUTBOUND,
            kind: messages::KIND_AI,
            body,
        }
    }
}

/// Where the texts of one demo conversation go: the conversation with `call`'s caller.
struct Texts<'a> {
    txn: &'a TenantTxn,
    secrets: &'a Secrets,
    call: &'a ringback_entity::call::Model,
    sealed_number: Option<Vec<u8>>,
}

impl<'a> Texts<'a> {
    fn new(
        txn: &'a TenantTxn,
        secrets: &'a Secrets,
        call: &'a ringback_entity::call::Model,
    ) -> Self {
        Self {
            txn,
            secrets,
            call,
            sealed_number: None,
        }
    }

    /// Records `text` as written `at`: delivered when the business sent it, received when the
    /// caller did (a text-back names the call it answers).
    async fn record(
        &self,
        text: Text<'_>,
        at: DateTime<Utc>,
    ) -> Result<ringback_entity::message::Model, DomainError> {
        let outbound = text.direction == messages::OUTBOUND;
        messages::record(
            self.txn,
            self.secrets,
            NewMessage {
                party: Party {
                    caller_key: &self.call.caller_key,
                    caller_tail: &self.call.caller_tail,
                },
                direction: text.direction,
                kind: text.kind,
                body: text.body,
                at,
                provider_message_id: None,
                status: if outbound { "delivered" } else { "received" },
                call_id: (text.kind == messages::KIND_TEXT_BACK).then_some(self.call.id),
                sealed_number: self.sealed_number.clone(),
                provider_number_id: None,
            },
        )
        .await
    }
}
