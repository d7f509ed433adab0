//! The demo's second business, Harbour Plumbing & Heating: a trade whose engineers are out on
//! jobs, so nearly half its calls are missed. It keeps callers' numbers sealed for two-way texts
//! and lets the AI receptionist answer their replies, so its 90 days show what the AI does, step by
//! step as a live answer records it: the intake details it saved, the slots it looked up, the
//! prices it quoted from the price list, the visits it booked, the follow-ups it sent and the
//! callers it handed to the owner (a job to survey, an emergency), whom the owner then texted or
//! rang. A demo runs without a model, so nothing is asked of one: the AI's words are written here
//! in the firm's voice, with the times they would have gone. Callers ring from 07700
//! 900600–900759; the firm's Twilio number is 07700 900888 and its line 020 7946 0456.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};
use ringback_entity::{appointment, call, clinic as clinic_row, conversation, message};
use ringback_providers::twilio::PROVIDER_NAME;
use ringback_shared::ai::Service;
use ringback_shared::attribution::CallOutcome;
use ringback_shared::phone::Region;
use ringback_shared::seal::DataKey;
use ringback_shared::text_back::SkipReason;
use sea_orm::{ColumnTrait, DatabaseConnection, PaginatorTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use super::{
    Dice, LiveSetUp, Text, Texts, at_local, call_outcome, calls_on, finish, inbound_call, internal,
    set_up_live, text_back, uk_number, untexted_reason, zone,
};
use crate::service::account::{self, NewClinic};
use crate::service::ai_agent::{self, Step};
use crate::service::ai_prompt::tool;
use crate::service::ai_settings::{self, AiSettingsChange};
use crate::service::ai_tools::{self, AI_SOURCE, answer_booking_key};
use crate::service::appointments::{self, CallerRef, NewAppointment};
use crate::service::calls::{self, EventResult, LoggedBy, LoggedCallback};
use crate::service::{ai_follow_ups, conversations, keys, team};
use ringback_core::clock::Clock;
use ringback_core::error::DomainError;
use ringback_core::secrets::Secrets;
use ringback_core::tenant::TenantTxn;

/// The firm's name as the dashboard shows it.
pub const NAME: &str = "Harbour Plumbing & Heating (demo)";
/// Its kind of business: the demo owner has one business of this kind, the firm.
pub const KIND: &str = "trade";
const TEXTING_NUMBER: &str = "07700 900888";
const FORWARDING_LINE: &str = "020 7946 0456";
const BOOKING_LINK: &str = "https://book.example.test/harbour";
const WORDING_OPEN: &str = "Sorry we missed your call to {clinic}: we're probably on a job. \
    Reply here with what you need and we'll get it sorted, or book at {booking_link}";
const WORDING_CLOSED: &str = "Thanks for calling {clinic}. We're closed now: reply here with \
    what you need and we'll answer first thing, or book at {booking_link}";
const DESCRIPTION: &str = "A family plumbing and heating firm on the North Tyneside coast: \
    boilers, heating, leaks and bathrooms. Gas Safe registered. We cover Whitley Bay, Tynemouth, \
    North Shields, Cullercoats and Monkseaton.";
/// Minutes after an AI question left unanswered before its one follow-up.
const FOLLOW_UP_MINUTES: i32 = 120;
/// The owner's name, as their texts to callers sign it.
const OWNER_FIRST_NAME: &str = "Sam";

/// A service of the price list: name, price (from, to), minutes, what a booking is worth.
type PriceEntry = (&'static str, i64, Option<i64>, i32, i64);

/// The price list the AI quotes from.
const PRICE_LIST: &[PriceEntry] = &[
    ("Boiler service", 8_500, None, 60, 8_500),
    ("Boiler repair", 9_500, Some(25_000), 90, 18_000),
    ("Leak repair", 9_500, Some(18_000), 60, 14_000),
    ("Radiator or valve repair", 9_000, None, 60, 9_000),
    ("Gas safety certificate", 7_000, None, 45, 7_000),
];
/// What an emergency call-out the owner books after ringing back is worth, in pence.
const EMERGENCY_VALUE: i64 = 15_000;

/// A job the AI books: the caller's first text, how the AI's answer opens, the job as the AI
/// saves it, the service booked.
struct Job {
    asks: &'static str,
    opening: &'static str,
    job: &'static str,
    service: &'static str,
}

const JOBS: &[Job] = &[
    Job {
        asks: "Hi, our boiler has stopped and there's no hot water. Can someone come out?",
        opening: "Sorry to hear that, we can get an engineer out to you.",
        job: "boiler stopped, no hot water",
        service: "Boiler repair",
    },
    Job {
        asks: "The kitchen tap won't stop dripping and there's a small leak under the sink",
        opening: "Sorry to hear that, we can get that fixed.",
        job: "leak under the kitchen sink",
        service: "Leak repair",
    },
    Job {
        asks: "Two radiators upstairs stay cold, the rest are fine. Can you take a look?",
        opening: "We can take a look at those for you.",
        job: "two radiators upstairs not heating",
        service: "Radiator or valve repair",
    },
    Job {
        asks: "My boiler is due its yearly service, when could you fit me in?",
        opening: "Happy to book your service.",
        job: "annual boiler service",
        service: "Boiler service",
    },
    Job {
        asks: "I need a gas safety certificate for a flat I let out",
        opening: "Happy to help with the certificate.",
        job: "gas safety certificate for a let flat",
        service: "Gas safety certificate",
    },
];
const AREAS: &[&str] = &[
    "Whitley Bay, near the park",
    "Tynemouth",
    "North Shields, by the fish quay",
    "Cullercoats",
    "Monkseaton",
];
const URGENCY: &[&str] = &[
    "This week if you can",
    "As soon as possible please",
    "No rush, next week is fine",
];
/// A price the AI quotes: the caller's question and the service it is about.
type Quote = (&'static str, &'static str);
const QUOTES: &[Quote] = &[
    (
        "How much do you charge for a boiler service?",
        "Boiler service",
    ),
    (
        "What's your price for a gas safety certificate?",
        "Gas safety certificate",
    ),
    (
        "Roughly how much is it to fix a leaking pipe?",
        "Leak repair",
    ),
];
/// A job the AI hands to the owner to quote: the caller's text, the job, why, what it is worth.
type Survey = (&'static str, &'static str, &'static str, i64);
const SURVEYS: &[Survey] = &[
    (
        "Could you quote for a new bathroom? Full refit, we've picked the tiles already.",
        "full bathroom refit",
        "a bathroom refit needs a visit to measure up and quote",
        250_000,
    ),
    (
        "Looking to have our old boiler swapped for a combi, can you give me a price?",
        "old boiler to be replaced with a combi",
        "a boiler replacement needs a survey to quote",
        220_000,
    ),
    (
        "We're extending the kitchen and need the pipework moved, is that something you do?",
        "pipework to move for a kitchen extension",
        "building work: the owner should see the plans",
        120_000,
    ),
];
/// An emergency the AI hands to the owner at once: the caller's text and what it is.
type Emergency = (&'static str, &'static str);
const EMERGENCIES: &[Emergency] = &[
    (
        "Water is coming through the kitchen ceiling from upstairs, can anyone come now??",
        "water coming through a ceiling",
    ),
    (
        "A pipe has burst under the stairs. I've turned the water off but it's everywhere",
        "burst pipe",
    ),
    (
        "The hot water cylinder is leaking all over the airing cupboard floor",
        "leaking hot water cylinder",
    ),
];

/// What the second business's seeding did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TradesSummary {
    pub calls: usize,
    pub missed: usize,
    pub text_backs: usize,
    /// Conversations the AI answered.
    pub ai_conversations: usize,
    pub ai_bookings: usize,
    pub hand_offs: usize,
    pub follow_ups: usize,
    pub appointments: usize,
}

/// Opens the firm for the demo `owner` and fills its days up to `now`.
pub(super) async fn seed(
    db: &DatabaseConnection,
    clock: &Clock,
    secrets: &Secrets,
    (owner, now): (Uuid, DateTime<Utc>),
) -> Result<TradesSummary, DomainError> {
    let firm = NewClinic {
        name: NAME.to_owned(),
        kind: KIND.to_owned(),
        time_zone: super::TIME_ZONE.to_owned(),
        region: Region::parse("GB").map_err(internal)?,
        currency: "GBP".to_owned(),
    };
    // The firm is stored with its 90 days or not at all: a demo whose firm failed gets it again.
    let txn = account::open_clinic_for(db, clock, secrets, owner, firm).await?;
    let settings = set_up(&txn, secrets, owner).await?;
    let mut seeder = Seeder {
        txn: &txn,
        secrets,
        key: keys::data_key(secrets, &settings)?,
        desk: team::front_desk(&txn).await?,
        settings,
        zone: zone()?,
        now,
        dice: Dice(0x7ade_2026 ^ now.date_naive().num_days_from_ce() as u64),
        taken: HashSet::new(),
        summary: TradesSummary::default(),
    };
    let today = now.with_timezone(&zone()?).date_naive();
    for back in (1..=super::DEMO_DAYS).rev() {
        seeder.seed_day(today - Duration::days(back)).await?;
    }
    let summary = seeder.summary;
    finish(&txn, now, today).await?;
    txn.commit().await?;
    Ok(summary)
}

/// Sets the firm up as a live one: working hours (weekdays 08:00–18:00, Saturday mornings), its
/// own text-back wording and booking link, its numbers, the price list, and the AI on.
async fn set_up(
    txn: &TenantTxn,
    secrets: &Secrets,
    owner: Uuid,
) -> Result<clinic_row::Model, DomainError> {
    let live = LiveSetUp {
        hours: ("08:00-18:00", "08:00-12:00"),
        booking_link: BOOKING_LINK,
        wording: (WORDING_OPEN, WORDING_CLOSED),
        lines: (TEXTING_NUMBER, FORWARDING_LINE),
    };
    set_up_live(txn, secrets, owner, live).await?;
    for entry in PRICE_LIST {
        ai_settings::save_service(txn, owner, None, service_of(entry)).await?;
    }
    let ai = AiSettingsChange {
        enabled: Some(true),
        business_description: Some(Some(DESCRIPTION.to_owned())),
        follow_up_minutes: Some(Some(FOLLOW_UP_MINUTES)),
        ..AiSettingsChange::default()
    };
    ai_settings::update(txn, owner, ai).await
}

/// How many calls the firm gets on each day of the week, Monday first.
const CALLS_A_DAY: [u64; 7] = [9, 7, 7, 7, 8, 3, 1];

/// Minute of the day (local) a call arrives, and the chance in percent that it is missed: the
/// engineers are on jobs most of the day, and nobody answers before eight or after six.
fn arrival(dice: &mut Dice) -> (u32, u64) {
    let minute = 7 * 60 + 30 + dice.below(11 * 60 + 30) as u32;
    let miss_percent = match minute / 60 {
        7 | 18.. => 80,
        12 => 35,
        _ => 50,
    };
    (minute, miss_percent)
}

/// A fiction number from the firm's callers' pool, 07700 900600–900759.
fn caller_number(dice: &mut Dice) -> String {
    format!("07700 900{}", 600 + dice.below(160))
}

/// A service of the price list by name.
fn service(name: &str) -> Result<Service, DomainError> {
    PRICE_LIST
        .iter()
        .find(|entry| entry.0 == name)
        .map(service_of)
        .ok_or_else(|| internal(format!("no service {name} in the price list")))
}

/// A price-list entry as the service it is.
fn service_of(&(name, from, to, minutes, value): &PriceEntry) -> Service {
    Service {
        name: name.to_owned(),
        price_from_minor: from,
        price_to_minor: to,
        duration_minutes: minutes,
        estimated_value_minor: value,
    }
}

/// When a visit may start on `day`: every two hours from 08:00, the last in time for a 90-minute
/// job before closing (Saturdays close at noon).
fn starts_on(day: NaiveDate) -> &'static [u32] {
    match day.weekday() {
        Weekday::Sun => &[],
        Weekday::Sat => &[8, 10],
        _ => &[8, 10, 12, 14, 16],
    }
}

/// What a caller who texts back writes about, from the tables above.
#[derive(Clone, Copy)]
enum Story {
    Job(&'static Job),
    Quote(&'static Quote),
    Survey(&'static Survey),
    Emergency(&'static Emergency),
}

impl Story {
    /// The caller's first text.
    fn first_text(self) -> &'static str {
        match self {
            Story::Job(job) => job.asks,
            Story::Quote(quote) => quote.0,
            Story::Survey(survey) => survey.0,
            Story::Emergency(emergency) => emergency.0,
        }
    }
}

/// One of the AI's answers to a caller's text: the text it answers and when it answers.
#[derive(Clone, Copy)]
struct Answer {
    conversation: Uuid,
    to: Uuid,
    at: DateTime<Utc>,
}

/// Seeds the firm's days, one after another, with one set of dice.
struct Seeder<'a> {
    txn: &'a TenantTxn,
    secrets: &'a Secrets,
    settings: clinic_row::Model,
    key: DataKey,
    /// Who the AI hands callers to.
    desk: Option<Uuid>,
    zone: chrono_tz::Tz,
    now: DateTime<Utc>,
    dice: Dice,
    /// Visit starts (local) already booked: no two jobs at once.
    taken: HashSet<NaiveDateTime>,
    summary: TradesSummary,
}

impl Seeder<'_> {
    /// One day's calls, as the firm's Twilio number reported them, and what followed each, in the
    /// order they came.
    async fn seed_day(&mut self, day: NaiveDate) -> Result<(), DomainError> {
        let mut arrivals = Vec::new();
        for _ in 0..calls_on(day, &CALLS_A_DAY) {
            let dice = &mut self.dice;
            let (minute, miss_percent) = arrival(dice);
            let missed = dice.chance(miss_percent);
            arrivals.push((minute, call_outcome(dice, missed), caller_number(dice)));
        }
        arrivals.sort_by_key(|(minute, _, _)| *minute);
        let mut events = Vec::new();
        let mut numbers = Vec::new();
        for (index, (minute, outcome, number)) in arrivals.into_iter().enumerate() {
            let id = format!("demo-trade-{day}-{index}");
            events.push(inbound_call(id, at_local(day, minute)?, outcome, &number));
            numbers.push(number);
        }
        let results =
            calls::record_events(self.txn, self.secrets, None, PROVIDER_NAME, events).await?;
        for ((_, result), number) in results.into_iter().zip(numbers) {
            if let EventResult::Recorded(call) = result {
                self.summary.calls += 1;
                self.after_call(&call, &number).await?;
            }
        }
        Ok(())
    }

    /// What follows one call: for a missed call, the text-back and the conversation it starts
    /// (or the AI's follow-up, or the owner ringing back); for an answered one, maybe a visit
    /// booked on the phone.
    async fn after_call(&mut self, call: &call::Model, number: &str) -> Result<(), DomainError> {
        if !call.missed {
            if self.dice.chance(30) {
                let booked_at = call.started_at + Duration::minutes(4);
                let visit = self.any_service();
                self.book_visit(call, booked_at, visit, None).await?;
            }
            return Ok(());
        }
        self.summary.missed += 1;
        let untexted = if self.texted_lately(call).await? {
            Some(SkipReason::Duplicate)
        } else {
            (!self.dice.chance(90)).then(|| match untexted_reason(call) {
                // Not texted in the last day is for callers who were (above).
                SkipReason::Duplicate => SkipReason::Landline,
                other => other,
            })
        };
        if let Some(reason) = untexted {
            calls::set_text_back_status(self.txn, call.id, reason.status()).await?;
            return self.ring_back(call, call.started_at).await;
        }
        let sealed =
            keys::seal_caller_number(&self.key, self.txn.clinic_id(), uk_number(number)?.as_str())?;
        let sent = text_back(
            self.txn,
            self.secrets,
            (&self.settings, call),
            Some(sealed.clone()),
            self.now,
        )
        .await?;
        self.summary.text_backs += 1;
        let texts = Texts {
            sealed_number: Some(sealed),
            ..Texts::new(self.txn, self.secrets, call)
        };
        if self.dice.chance(55) {
            let wrote_at = self.later(sent.created_at, 2, 60);
            return self.converse(&texts, wrote_at).await;
        }
        self.ring_back(call, sent.created_at).await?;
        self.follow_up(&texts, &sent).await
    }

    /// Whether the caller has a conversation with a text in the day before `call` (or after it):
    /// the text-back rule texts a caller once a day, and one conversation's story is not
    /// interleaved with another's.
    async fn texted_lately(&self, call: &call::Model) -> Result<bool, DomainError> {
        let lately = self
            .txn
            .find::<conversation::Entity>()
            .filter(conversation::Column::CallerKey.eq(call.caller_key.as_str()))
            .filter(conversation::Column::LastMessageAt.gt(call.started_at - Duration::days(1)))
            .count(self.txn.conn())
            .await?;
        Ok(lately > 0)
    }

    /// The owner rings back, about half the time, a caller who did not text, in working hours
    /// (never after now); when the callback reached them, a visit is often booked.
    async fn ring_back(
        &mut self,
        call: &call::Model,
        after: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        if !self.dice.chance(45) {
            return Ok(());
        }
        let Some(at) = self.at_work(after, (20, 180)) else {
            return Ok(());
        };
        let reached = self.dice.chance(70);
        self.log_callback(call, at, reached).await?;
        if reached && self.dice.chance(50) {
            let visit = self.any_service();
            self.book_visit(call, at + Duration::minutes(3), visit, None)
                .await?;
        }
        Ok(())
    }

    /// The caller's texts after the text-back, and the AI's answers (or, in a conversation the AI
    /// handed to the owner before, the owner's).
    async fn converse(&mut self, texts: &Texts<'_>, at: DateTime<Utc>) -> Result<(), DomainError> {
        let story = match self.dice.below(100) {
            0..50 => Story::Job(&JOBS[self.pick(JOBS.len())]),
            50..65 => Story::Quote(&QUOTES[self.pick(QUOTES.len())]),
            65..85 => Story::Survey(&SURVEYS[self.pick(SURVEYS.len())]),
            _ => Story::Emergency(&EMERGENCIES[self.pick(EMERGENCIES.len())]),
        };
        if at >= self.now {
            return Ok(());
        }
        let wrote = texts.record(Text::caller(story.first_text()), at).await?;
        let thread = conversations::find(self.txn, wrote.conversation_id).await?;
        if !ai_agent::answers(&self.settings, &thread) {
            return self.owner_answers(texts, at).await;
        }
        self.summary.ai_conversations += 1;
        let answer = Answer {
            conversation: thread.id,
            to: wrote.id,
            at: at + Duration::seconds(12),
        };
        match story {
            Story::Job(job) => self.book_a_job(texts, answer, job).await,
            Story::Quote(quote) => self.quote(texts, answer, quote).await,
            Story::Survey(survey) => self.hand_over_a_survey(texts, answer, survey).await,
            Story::Emergency(emergency) => {
                self.hand_over_an_emergency(texts, answer, emergency).await
            }
        }
    }

    /// In a conversation the AI handed over, the owner answers the caller's new text at work and
    /// rings them.
    async fn owner_answers(
        &mut self,
        texts: &Texts<'_>,
        wrote_at: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let Some(at) = self.at_work(wrote_at, (10, 90)) else {
            return Ok(());
        };
        let reply = format!(
            "Hi, it's {OWNER_FIRST_NAME} at Harbour. Thanks, I'll ring you in a few minutes."
        );
        texts.record(Text::staff(&reply), at).await?;
        if let Some(rang_at) = self.at_work(at, (3, 15)) {
            self.log_callback(texts.call, rang_at, true).await?;
        }
        Ok(())
    }

    /// A job the AI books: it saves the job, asks where and how urgent, offers two times and books
    /// the one the caller picks.
    async fn book_a_job(
        &mut self,
        texts: &Texts<'_>,
        answer: Answer,
        job: &Job,
    ) -> Result<(), DomainError> {
        self.save_details(answer, json!({ "What is the job?": job.job }))
            .await?;
        let asked = format!(
            "{} Which area are you in, and how soon do you need someone?",
            job.opening
        );
        let ai = self.ai_text(texts, answer, &asked).await?;
        let area = AREAS[self.pick(AREAS.len())];
        let urgency = URGENCY[self.pick(URGENCY.len())];
        let said = format!("{area}. {urgency}");
        let Some(wrote) = self.caller_writes(texts, ai.created_at, &said).await? else {
            return self.follow_up(texts, &ai).await;
        };
        let answer = Answer {
            to: wrote.id,
            at: wrote.created_at + Duration::seconds(15),
            ..answer
        };
        let details = json!({ "Which area or postcode district is it in?": area,
                              "How urgent is it?": urgency });
        self.save_details(answer, details).await?;
        self.offer_and_book(texts, answer, service(job.service)?)
            .await
    }

    /// The AI looks up two free times and offers them; the caller takes the first and the AI books
    /// it, and says so.
    async fn offer_and_book(
        &mut self,
        texts: &Texts<'_>,
        answer: Answer,
        service: Service,
    ) -> Result<(), DomainError> {
        let (slot, other) = self.free_slots(answer.at);
        self.step(answer, tool::FIND_SLOTS, "done", None).await?;
        let offer = format!(
            "I can book an engineer on {} at {} or at {}. Which suits you?",
            slot.format("%a %-d %b"),
            slot.format("%H:%M"),
            other.format("%H:%M")
        );
        let ai = self.ai_text(texts, answer, &offer).await?;
        let took = format!("{} please", slot.format("%H:%M"));
        let Some(wrote) = self.caller_writes(texts, ai.created_at, &took).await? else {
            return self.follow_up(texts, &ai).await;
        };
        let answer = Answer {
            to: wrote.id,
            at: wrote.created_at + Duration::seconds(14),
            ..answer
        };
        self.taken.insert(slot);
        let booked = appointments::create(
            self.txn,
            self.secrets,
            None,
            NewAppointment {
                caller: CallerRef::Key(texts.call.caller_key.clone()),
                value_minor: service.estimated_value_minor,
                starts_at: Some(at_local(slot.date(), minute_of(slot))?),
                duration_minutes: Some(service.duration_minutes),
                source: AI_SOURCE,
                external_id: Some(answer_booking_key(answer.conversation, answer.to, slot)),
                booked_at: answer.at.min(self.now),
            },
        )
        .await?;
        self.step(answer, tool::BOOK_APPOINTMENT, "booked", Some(booked.id))
            .await?;
        self.summary.ai_bookings += 1;
        self.summary.appointments += 1;
        let confirmed = format!(
            "You're booked in: {} on {} at {}. The engineer will text when they're on the way. \
             Reply here if anything changes.",
            service.name.to_lowercase(),
            slot.format("%a %-d %b"),
            slot.format("%H:%M")
        );
        self.ai_text(texts, answer, &confirmed).await?;
        self.close_when_done(answer.conversation).await
    }

    /// A price the AI quotes from the price list; the caller then books (the AI offers times) or
    /// goes quiet (the AI follows up once).
    async fn quote(
        &mut self,
        texts: &Texts<'_>,
        answer: Answer,
        &(_, name): &Quote,
    ) -> Result<(), DomainError> {
        let service = service(name)?;
        self.step(answer, tool::QUOTE, "done", None).await?;
        let quoted = format!(
            "A {} is {} and takes about {} minutes. Would you like me to book one?",
            service.name.to_lowercase(),
            service.price_in_words(&self.settings.currency),
            service.duration_minutes
        );
        let ai = self.ai_text(texts, answer, &quoted).await?;
        let Some(wrote) = self
            .caller_writes(texts, ai.created_at, "Yes please, whenever you're free")
            .await?
        else {
            return self.follow_up(texts, &ai).await;
        };
        let answer = Answer {
            to: wrote.id,
            at: wrote.created_at + Duration::seconds(15),
            ..answer
        };
        self.offer_and_book(texts, answer, service).await
    }

    /// A job the owner must see to quote: the AI saves it and hands the caller over; the owner
    /// texts at work with a time to come round and, often, the caller takes it (a caller with a
    /// visit booked is looked at then).
    async fn hand_over_a_survey(
        &mut self,
        texts: &Texts<'_>,
        answer: Answer,
        &(_, job, reason, value): &Survey,
    ) -> Result<(), DomainError> {
        self.save_details(answer, json!({ "What is the job?": job }))
            .await?;
        self.hand_off(answer, reason).await?;
        let told = format!(
            "Thanks. That needs a visit to look at properly, so I've passed your details to \
             {OWNER_FIRST_NAME}, who will text you to arrange a time."
        );
        let ai = self.ai_text(texts, answer, &told).await?;
        let Some(at) = self.at_work(ai.created_at, (30, 180)) else {
            return Ok(());
        };
        if self.visit_ahead(&texts.call.caller_key, at).await? {
            let owner = format!(
                "Hi, it's {OWNER_FIRST_NAME} at Harbour. I'll have a look at that when I'm round \
                 for the visit you have booked."
            );
            texts.record(Text::staff(&owner), at).await?;
            return self.done_with(Some(answer.conversation)).await;
        }
        let (slot, _) = self.free_slots(at);
        let owner = format!(
            "Hi, it's {OWNER_FIRST_NAME} at Harbour. I could come round on {} at {} to have a \
             look. Does that suit?",
            slot.format("%a %-d %b"),
            slot.format("%H:%M")
        );
        let sent = texts.record(Text::staff(&owner), at).await?;
        if !self.dice.chance(75) {
            return Ok(());
        }
        let Some(wrote) = self
            .caller_writes(texts, sent.created_at, "Perfect, see you then")
            .await?
        else {
            return Ok(());
        };
        let booked_at = wrote.created_at + Duration::minutes(2);
        let visit = (60, value);
        self.book_visit_at(
            texts.call,
            (slot, booked_at),
            visit,
            Some(answer.conversation),
        )
        .await
    }

    /// An emergency: the AI hands it to the owner at once, who rings the caller back within
    /// minutes and goes out.
    async fn hand_over_an_emergency(
        &mut self,
        texts: &Texts<'_>,
        answer: Answer,
        &(_, what): &Emergency,
    ) -> Result<(), DomainError> {
        self.hand_off(answer, &format!("emergency: {what}")).await?;
        let told = "That sounds urgent: I've passed this to our engineer on call, who will ring you \
            back in the next few minutes. Turn the water off at the stopcock if you can.";
        let ai = self.ai_text(texts, answer, told).await?;
        let at = self.later(ai.created_at, 3, 10);
        if at >= self.now {
            return Ok(());
        }
        self.log_callback(texts.call, at, true).await?;
        let booked = NewAppointment {
            caller: CallerRef::Key(texts.call.caller_key.clone()),
            value_minor: EMERGENCY_VALUE,
            starts_at: Some(at + Duration::minutes(45)),
            duration_minutes: Some(60),
            source: "demo",
            external_id: None,
            booked_at: (at + Duration::minutes(2)).min(self.now),
        };
        appointments::create(self.txn, self.secrets, None, booked).await?;
        self.summary.appointments += 1;
        self.close_when_done(answer.conversation).await
    }

    /// The AI's one follow-up after `sent` (the text-back, or a question of the AI the caller left
    /// unanswered), as the live job sends it: at the first open moment after the firm's wait, in
    /// its wording. None when that moment is still to come, the caller was reached or booked
    /// before it, the AI no longer answers the conversation, or it had its follow-up.
    async fn follow_up(
        &mut self,
        texts: &Texts<'_>,
        sent: &message::Model,
    ) -> Result<(), DomainError> {
        let wait = Duration::minutes(i64::from(FOLLOW_UP_MINUTES));
        let Some(due) = ai_follow_ups::first_open_after(&self.settings, sent.created_at + wait)
        else {
            return Ok(());
        };
        if due >= self.now
            || self
                .settled(&texts.call.caller_key, (sent.created_at, due))
                .await?
        {
            return Ok(());
        }
        let thread = conversations::find(self.txn, sent.conversation_id).await?;
        if !ai_agent::answers(&self.settings, &thread)
            || ai_follow_ups::followed_up(self.txn, thread.id).await?
        {
            return Ok(());
        }
        let step = Step {
            action: ai_follow_ups::FOLLOW_UP,
            outcome: "sent".to_owned(),
            tokens: 0,
            appointment: None,
        };
        ai_agent::record_step_at(self.txn, (thread.id, sent.id), step, due).await?;
        let words = ai_follow_ups::follow_up_text(&self.settings);
        texts.record(Text::ai(&words), due).await?;
        ai_agent::mark_ai_active(self.txn, thread).await?;
        self.summary.follow_ups += 1;
        Ok(())
    }

    /// Whether the caller was reached on the phone (a call of theirs answered, or a callback that
    /// got through) or booked between `from` and `to`: the live follow-up is then not sent.
    async fn settled(
        &self,
        caller_key: &str,
        (from, to): (DateTime<Utc>, DateTime<Utc>),
    ) -> Result<bool, DomainError> {
        let spoke = self
            .txn
            .find::<call::Entity>()
            .filter(call::Column::CallerKey.eq(caller_key))
            .filter(call::Column::AnsweredAt.is_not_null())
            .filter(call::Column::StartedAt.gt(from))
            .filter(call::Column::StartedAt.lte(to))
            .count(self.txn.conn())
            .await?;
        let booked = self
            .txn
            .find::<appointment::Entity>()
            .filter(appointment::Column::CallerKey.eq(caller_key))
            .filter(appointment::Column::CreatedAt.gt(from))
            .filter(appointment::Column::CreatedAt.lte(to))
            .count(self.txn.conn())
            .await?;
        Ok(spoke + booked > 0)
    }

    /// The caller's next text, `said` a few minutes after `after`, unless they went quiet (or it
    /// would be written after now).
    async fn caller_writes(
        &mut self,
        texts: &Texts<'_>,
        after: DateTime<Utc>,
        said: &str,
    ) -> Result<Option<message::Model>, DomainError> {
        let at = self.later(after, 2, 45);
        if !self.dice.chance(80) || at >= self.now {
            return Ok(None);
        }
        texts.record(Text::caller(said), at).await.map(Some)
    }

    /// The AI's text `words` in answer to `answer.to` (with the automated marker, as every text of
    /// the AI carries), and its `reply` step; the AI then answers the conversation.
    async fn ai_text(
        &mut self,
        texts: &Texts<'_>,
        answer: Answer,
        words: &str,
    ) -> Result<message::Model, DomainError> {
        let at = (answer.at + Duration::seconds(6)).min(self.now);
        let body = ringback_shared::sms::with_automated_marker(words);
        let sent = texts.record(Text::ai(&body), at).await?;
        self.step(answer, ai_agent::REPLY, "answered", None).await?;
        let thread = conversations::find(self.txn, answer.conversation).await?;
        ai_agent::mark_ai_active(self.txn, thread).await?;
        Ok(sent)
    }

    /// A step of `answer`, with the model tokens a round of a small business's conversation uses.
    async fn step(
        &mut self,
        answer: Answer,
        action: &str,
        outcome: &str,
        appointment: Option<Uuid>,
    ) -> Result<(), DomainError> {
        let step = Step {
            action,
            outcome: outcome.to_owned(),
            tokens: 1_400 + self.dice.below(900),
            appointment,
        };
        let at = answer.at.min(self.now);
        ai_agent::record_step_at(self.txn, (answer.conversation, answer.to), step, at).await
    }

    /// The intake answers the AI saves (sealed, by the live tool) and its step.
    async fn save_details(
        &mut self,
        answer: Answer,
        fields: serde_json::Value,
    ) -> Result<(), DomainError> {
        let thread = conversations::find(self.txn, answer.conversation).await?;
        let input = json!({ "fields": fields });
        ai_tools::save_details(self.txn, self.secrets, thread, &input).await?;
        self.step(answer, tool::SAVE_DETAILS, "done", None).await
    }

    /// The AI hands the conversation to the front desk (the owner) for `reason`, as the live tool
    /// marks it. The notice, the mail and the audit entry a live hand-off makes now are left out:
    /// the demo's hand-offs are history, and would all read as just made.
    async fn hand_off(&mut self, answer: Answer, reason: &str) -> Result<(), DomainError> {
        let thread = conversations::find(self.txn, answer.conversation).await?;
        let handed = (self.desk, reason.to_owned());
        ai_tools::mark_handed_off(self.txn, thread, handed, answer.at.min(self.now)).await?;
        self.step(answer, tool::HAND_OFF, "done", None).await?;
        self.summary.hand_offs += 1;
        Ok(())
    }

    /// The owner's callback to `call`'s caller `at`, answered or not.
    async fn log_callback(
        &mut self,
        call: &call::Model,
        at: DateTime<Utc>,
        answered: bool,
    ) -> Result<(), DomainError> {
        let logged = LoggedCallback {
            by: LoggedBy::Staff,
            external_id: None,
            outcome: if answered {
                CallOutcome::Answered
            } else {
                CallOutcome::NoAnswer
            },
            at: at.min(self.now),
        };
        calls::log_callback(self.txn, None, call.id, logged).await?;
        Ok(())
    }

    /// A visit of `(minutes, value)` the owner books for `call`'s caller `booked_at`, at the next
    /// free slot, unless a visit of theirs is still to come; closes `conversation` once done.
    async fn book_visit(
        &mut self,
        call: &call::Model,
        booked_at: DateTime<Utc>,
        visit: (i32, i64),
        conversation: Option<Uuid>,
    ) -> Result<(), DomainError> {
        if self
            .visit_ahead(&call.caller_key, booked_at.min(self.now))
            .await?
        {
            return self.done_with(conversation).await;
        }
        let (slot, _) = self.free_slots(booked_at);
        self.book_visit_at(call, (slot, booked_at), visit, conversation)
            .await
    }

    /// Whether the caller of `caller_key` had, at `at`, a visit booked that was still to come,
    /// among those stored so far (a day is seeded call by call, each call's story to its end, so
    /// a later call's booking may come earlier in time than one stored before it).
    async fn visit_ahead(&self, caller_key: &str, at: DateTime<Utc>) -> Result<bool, DomainError> {
        let ahead = self
            .txn
            .find::<appointment::Entity>()
            .filter(appointment::Column::CallerKey.eq(caller_key))
            .filter(appointment::Column::CreatedAt.lte(at))
            .filter(appointment::Column::StartsAt.gt(at))
            .count(self.txn.conn())
            .await?;
        Ok(ahead > 0)
    }

    /// A visit of `(minutes, value)` the owner books for `call`'s caller at `slot`, `booked_at`
    /// (never after now); closes `conversation` once done.
    async fn book_visit_at(
        &mut self,
        call: &call::Model,
        (slot, booked_at): (NaiveDateTime, DateTime<Utc>),
        (minutes, value): (i32, i64),
        conversation: Option<Uuid>,
    ) -> Result<(), DomainError> {
        self.taken.insert(slot);
        let booked = NewAppointment {
            caller: CallerRef::Key(call.caller_key.clone()),
            value_minor: value,
            starts_at: Some(at_local(slot.date(), minute_of(slot))?),
            duration_minutes: Some(minutes),
            source: "demo",
            external_id: None,
            booked_at: booked_at.min(self.now),
        };
        appointments::create(self.txn, self.secrets, None, booked).await?;
        self.summary.appointments += 1;
        self.done_with(conversation).await
    }

    /// Closes `conversation`, when there is one, once its job is dealt with.
    async fn done_with(&mut self, conversation: Option<Uuid>) -> Result<(), DomainError> {
        match conversation {
            Some(conversation) => self.close_when_done(conversation).await,
            None => Ok(()),
        }
    }

    /// Closes a conversation whose job is booked, as the owner does once the inbox is caught up
    /// (a day later; the latest stay open).
    async fn close_when_done(&mut self, conversation: Uuid) -> Result<(), DomainError> {
        let thread = conversations::find(self.txn, conversation).await?;
        let closed_at = thread.last_message_at + Duration::days(1);
        if closed_at + super::UNREAD_FOR >= self.now {
            return Ok(());
        }
        conversations::set_status(self.txn, thread, conversations::CLOSED, closed_at).await?;
        Ok(())
    }

    /// A moment `minutes` (a range) after `after`, moved to the firm's next opening when it falls
    /// outside working hours; `None` when that is after now.
    fn at_work(&mut self, after: DateTime<Utc>, minutes: (u64, u64)) -> Option<DateTime<Utc>> {
        let wanted = self.later(after, minutes.0, minutes.1);
        let at = ai_follow_ups::first_open_after(&self.settings, wanted)?;
        let at = if at > wanted {
            self.later(at, 5, 40)
        } else {
            at
        };
        (at < self.now).then_some(at)
    }

    /// The minutes and value of a service of the price list, by chance.
    fn any_service(&mut self) -> (i32, i64) {
        let (_, _, _, minutes, value) = PRICE_LIST[self.pick(PRICE_LIST.len())];
        (minutes, value)
    }

    /// The first free visit start one to four days after `after` (local), and another free one
    /// the same day, as the AI would offer them.
    fn free_slots(&mut self, after: DateTime<Utc>) -> (NaiveDateTime, NaiveDateTime) {
        let ahead = Duration::days(1 + self.dice.below(4) as i64);
        let mut day = after.with_timezone(&self.zone).date_naive() + ahead;
        loop {
            let free: Vec<NaiveDateTime> = starts_on(day)
                .iter()
                .filter_map(|hour| NaiveTime::from_hms_opt(*hour, 0, 0))
                .map(|time| day.and_time(time))
                .filter(|start| !self.taken.contains(start))
                .collect();
            if free.len() >= 2 {
                let first = self.pick(free.len() - 1);
                return (free[first], free[first + 1]);
            }
            day += Duration::days(1);
        }
    }

    /// An index below `count`.
    fn pick(&mut self, count: usize) -> usize {
        self.dice.below(count as u64) as usize
    }

    /// An instant `from..=to` minutes after `after`.
    fn later(&mut self, after: DateTime<Utc>, from: u64, to: u64) -> DateTime<Utc> {
        after + Duration::minutes((from + self.dice.below(to - from + 1)) as i64)
    }
}

/// The minute of the day a local start falls on.
fn minute_of(start: NaiveDateTime) -> u32 {
    use chrono::Timelike;
    start.hour() * 60 + start.minute()
}
