//! The AI receptionist's settings and the price list it quotes from: everyone in the clinic reads
//! them (`aiReceptionist`); admins and owners change them (`updateAiReceptionist`, `saveService`,
//! `deleteService`), each change audited. `aiFigures` gives the overview what the AI did. Whether a model is configured on this server is shown,
//! and a dental clinic sees what turning the AI on means for its privacy notice.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::NaiveDate;
use ringback_core::tenant::TenantTxn;
use ringback_domain::backend::Backend;
use ringback_domain::service::ai_settings::{self, AiSettingsChange};
use ringback_domain::service::clinic;
use ringback_domain::service::{ai_agent, ai_metrics};
use ringback_entity::clinic_service;
use ringback_shared::access::Permission;
use ringback_shared::ai::{self, Service};

use crate::error::{DomainError, to_graphql};
use crate::guard::{Access, uuid_arg, with_tenant};

/// One service of the price list.
#[derive(SimpleObject)]
pub struct PriceListService {
    pub id: ID,
    pub name: String,
    /// The price, or the bottom of its range, in minor units.
    pub price_from_minor: i64,
    /// The top of the range, when the price is a range.
    pub price_to_minor: Option<i64>,
    pub duration_minutes: i32,
    /// What a booking is worth to the clinic (the appointment's value), in minor units.
    pub estimated_value_minor: i64,
    /// The price as the AI quotes it, e.g. "£80 to £120".
    pub price_in_words: String,
}

impl PriceListService {
    fn from_row(row: &clinic_service::Model, currency: &str) -> Self {
        Self {
            id: ID(row.id.to_string()),
            name: row.name.clone(),
            price_from_minor: row.price_from_minor,
            price_to_minor: row.price_to_minor,
            duration_minutes: row.duration_minutes,
            estimated_value_minor: row.estimated_value_minor,
            price_in_words: ai_settings::as_service(row).price_in_words(currency),
        }
    }
}

/// The AI receptionist of the caller's clinic.
#[derive(SimpleObject)]
pub struct AiReceptionist {
    /// Whether the AI answers the clinic's conversations (off until an admin turns it on).
    pub enabled: bool,
    pub tone: String,
    /// The tones it may take.
    pub tones: Vec<String>,
    pub business_description: Option<String>,
    /// The questions it asks a caller (the clinic kind's own until the clinic sets some).
    pub intake_questions: Vec<String>,
    /// Minutes before a quiet caller gets the one follow-up; none: no follow-ups.
    pub follow_up_minutes: Option<i32>,
    /// Model tokens it may use a calendar month; after that it hands conversations to staff.
    pub monthly_token_budget: i64,
    /// Model tokens it used this calendar month (the clinic's own month).
    pub tokens_used_this_month: i64,
    /// What a standard visit it books (no service from the price list) is worth to the clinic,
    /// in minor units: the booking's value, counted in recovered revenue (0 until set).
    pub standard_visit_value_minor: i64,
    /// Whether this server has a model to ask (an Anthropic key); without one the AI stays off
    /// whatever the clinic chose.
    pub model_configured: bool,
    /// For dental clinics: what turning the AI on means for the privacy notice.
    pub privacy_notice: Option<String>,
    /// Why the AI cannot be turned on now, when it cannot: in `strict` privacy mode no number is
    /// kept to answer callers' texts with (turning it on is refused with this reason).
    pub cannot_answer_because: Option<String>,
    /// The price list, by name.
    pub services: Vec<PriceListService>,
}

/// Changes to the AI settings; omitted fields stay as they are.
#[derive(InputObject, Default)]
pub struct AiReceptionistInput {
    pub enabled: Option<bool>,
    /// friendly, professional or brief.
    pub tone: Option<String>,
    /// Up to 1,000 characters; empty clears it.
    pub business_description: Option<String>,
    /// Up to 8 questions of up to 200 characters; empty ones are dropped.
    pub intake_questions: Option<Vec<String>>,
    /// 15 to 2,880 minutes; null turns follow-ups off.
    pub follow_up_minutes: MaybeUndefined<i32>,
    /// 10,000 to 100,000,000 tokens.
    pub monthly_token_budget: Option<i64>,
    /// 0 to 1,000,000,000 minor units; bookings made afterwards take it.
    pub standard_visit_value_minor: Option<i64>,
}

/// A service to add or change.
#[derive(InputObject)]
pub struct ServiceInput {
    /// 1 to 80 characters, unique in the price list.
    pub name: String,
    pub price_from_minor: i64,
    /// The top of a price range; not below `priceFromMinor`.
    pub price_to_minor: Option<i64>,
    /// 5 to 600 minutes.
    pub duration_minutes: i32,
    pub estimated_value_minor: i64,
}

/// The AI receptionist as `txn`'s clinic holds it.
async fn load(txn: &TenantTxn, backend: &Backend) -> Result<AiReceptionist, DomainError> {
    let settings = clinic::get(txn).await?;
    let held = ai_settings::settings_of(&settings);
    let services = ai_settings::services(txn).await?;
    Ok(AiReceptionist {
        enabled: held.enabled,
        tone: held.tone,
        tones: ai::TONES.iter().map(|tone| (*tone).to_owned()).collect(),
        business_description: held.business_description,
        intake_questions: held.intake_questions,
        follow_up_minutes: held.follow_up_minutes,
        monthly_token_budget: held.monthly_token_budget,
        tokens_used_this_month: ai_agent::tokens_this_month(txn, &settings).await?,
        standard_visit_value_minor: held.standard_visit_value_minor,
        model_configured: backend.ai_model.is_some(),
        privacy_notice: (settings.kind == "dental").then(|| ai::DENTAL_PRIVACY_NOTICE.to_owned()),
        cannot_answer_because: (settings.privacy_mode == clinic::STRICT_MODE)
            .then(|| ai_settings::NEEDS_TWO_WAY_TEXTS.to_owned()),
        services: services
            .iter()
            .map(|row| PriceListService::from_row(row, &settings.currency))
            .collect(),
    })
}

/// What the AI receptionist did over a range of days, for the overview.
#[derive(SimpleObject)]
pub struct AiFigures {
    /// Conversations it answered at least once.
    pub conversations: u64,
    /// Appointments it booked (not cancelled).
    pub bookings: u64,
    /// Those of its bookings attribution credits to a missed call, and their value.
    pub recovered_bookings: u64,
    pub recovered_revenue_minor: i64,
    /// Conversations it handed to staff.
    pub hand_offs: u64,
    pub follow_ups: u64,
    /// Model tokens used.
    pub tokens: i64,
}

#[derive(Default)]
pub struct AiReceptionistQuery;

#[Object]
impl AiReceptionistQuery {
    /// The clinic's AI receptionist and price list. Everyone in the clinic.
    async fn ai_receptionist(&self, ctx: &Context<'_>) -> async_graphql::Result<AiReceptionist> {
        let backend = ctx.data::<Backend>()?;
        with_tenant(ctx, Access::Read(Permission::WorkCalls), async |txn, _| {
            load(txn, backend).await
        })
        .await
    }

    /// What the AI receptionist did on the clinic-local days `from` to `to` (at most 400
    /// days): conversations, bookings and their recovered revenue, hand-offs. Everyone in the
    /// clinic, as the overview's other figures.
    async fn ai_figures(
        &self,
        ctx: &Context<'_>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> async_graphql::Result<AiFigures> {
        if to < from || (to - from).num_days() > MAX_FIGURE_DAYS {
            return Err(to_graphql(&DomainError::BadUserInput(format!(
                "from must not be after to, and the range at most {MAX_FIGURE_DAYS} days"
            ))));
        }
        let figures = with_tenant(ctx, Access::Read(Permission::WorkCalls), async |txn, _| {
            ai_metrics::figures(txn, from, to).await
        })
        .await?;
        Ok(AiFigures {
            conversations: figures.conversations,
            bookings: figures.bookings,
            recovered_bookings: figures.recovered_bookings,
            recovered_revenue_minor: figures.recovered_revenue_minor,
            hand_offs: figures.hand_offs,
            follow_ups: figures.follow_ups,
            tokens: figures.tokens,
        })
    }
}

/// The longest range of days the figures cover.
const MAX_FIGURE_DAYS: i64 = 400;

#[derive(Default)]
pub struct AiReceptionistMutation;

#[Object]
impl AiReceptionistMutation {
    /// Changes the AI settings; every field is checked before anything is saved. Admins and
    /// owners; audited with the names of the fields changed.
    async fn update_ai_receptionist(
        &self,
        ctx: &Context<'_>,
        input: AiReceptionistInput,
    ) -> async_graphql::Result<AiReceptionist> {
        let backend = ctx.data::<Backend>()?;
        let change = AiSettingsChange {
            enabled: input.enabled,
            tone: input.tone,
            business_description: input.business_description.map(Some),
            intake_questions: input.intake_questions,
            follow_up_minutes: match input.follow_up_minutes {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(minutes) => Some(Some(minutes)),
            },
            monthly_token_budget: input.monthly_token_budget,
            standard_visit_value_minor: input.standard_visit_value_minor,
        };
        with_tenant(
            ctx,
            Access::Write(Permission::ManageSettings),
            async |txn, principal| {
                ai_settings::update(txn, principal.user_id()?, change).await?;
                load(txn, backend).await
            },
        )
        .await
    }

    /// Adds a service to the price list (no `id`) or changes the one with `id`. Admins and
    /// owners; audited.
    async fn save_service(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        input: ServiceInput,
    ) -> async_graphql::Result<PriceListService> {
        let service = Service {
            name: input.name,
            price_from_minor: input.price_from_minor,
            price_to_minor: input.price_to_minor,
            duration_minutes: input.duration_minutes,
            estimated_value_minor: input.estimated_value_minor,
        };
        with_tenant(
            ctx,
            Access::Write(Permission::ManageSettings),
            async |txn, principal| {
                let id = id.as_ref().map(uuid_arg).transpose()?;
                let saved =
                    ai_settings::save_service(txn, principal.user_id()?, id, service).await?;
                let currency = clinic::get(txn).await?.currency;
                Ok(PriceListService::from_row(&saved, &currency))
            },
        )
        .await
    }

    /// Removes a service from the price list. Admins and owners; audited.
    async fn delete_service(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        with_tenant(
            ctx,
            Access::Write(Permission::ManageSettings),
            async |txn, principal| {
                ai_settings::delete_service(txn, principal.user_id()?, uuid_arg(&id)?).await?;
                Ok(true)
            },
        )
        .await
    }
}
