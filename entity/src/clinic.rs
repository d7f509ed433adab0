//! `clinics`: the tenant root and its settings.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "clinics")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub kind: String,
    pub time_zone: String,
    pub default_region: String,
    pub currency: String,
    pub attribution_window_days: i32,
    pub privacy_mode: String,
    pub conversation_retention_days: i32,
    pub wrapped_data_key: Option<Vec<u8>>,
    pub business_hours: Option<Json>,
    pub forwarding_line_sealed: Option<Vec<u8>>,
    pub forwarding_line_tail: Option<String>,
    pub ring_timeout_seconds: i32,
    pub text_back_enabled: bool,
    pub text_back_delay_seconds: i32,
    pub text_back_template_open: Option<String>,
    pub text_back_template_closed: Option<String>,
    /// When the text-back wording was last saved (the clinic's own, or the default kept).
    pub text_back_wording_saved_at: Option<DateTimeUtc>,
    pub booking_link: Option<String>,
    pub help_text: Option<String>,
    pub holidays: Option<Json>,
    pub sms_monthly_quota: Option<i32>,
    /// Regions (ISO 3166 codes, comma-separated) whose numbers the clinic texts; `None`: its own
    /// region only.
    pub sms_countries: Option<String>,
    /// Texts per rolling 24 hours; `None`: the default limit.
    pub sms_daily_limit: Option<i32>,
    /// The clinic's Stripe customer, once it started a checkout.
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    /// The plan key (`[[plans]]`) of its subscription.
    pub billing_plan: Option<String>,
    /// The subscription's Stripe status; `None` while the clinic is on its trial.
    pub billing_status: Option<String>,
    pub billing_period_start: Option<DateTimeUtc>,
    pub billing_period_end: Option<DateTimeUtc>,
    pub billing_cancel_at_period_end: bool,
    /// Whether the subscription carries the plan's metered overage price.
    pub billing_overage_item: bool,
    /// When Stripe created the stored subscription.
    pub billing_subscription_created: Option<DateTimeUtc>,
    /// When a payment first failed (the grace period counts from it).
    pub billing_past_due_since: Option<DateTimeUtc>,
    /// When the billing state was last applied from Stripe.
    pub billing_updated_at: Option<DateTimeUtc>,
    /// When Stripe last answered the billing check about the subscription (`billing_check`).
    pub billing_checked_at: Option<DateTimeUtc>,
    /// When the free trial started: when billing first applied to the clinic (its sign-up, or
    /// the first start of a server with billing on); none while billing never applied.
    pub billing_trial_started_at: Option<DateTimeUtc>,
    /// The Stripe Checkout Session last opened for the clinic: opening another expires it.
    pub billing_checkout_session: Option<String>,
    /// Days call-related data is kept (at most 90).
    pub call_retention_days: i32,
    /// When the clinic's data was last purged.
    pub last_purge_at: Option<DateTimeUtc>,
    /// Rows the figures and verdicts are computed from (calls, text-backs, replies) were purged
    /// before this instant: figures and verdicts that need them are frozen.
    pub calls_purged_before: Option<DateTimeUtc>,
    /// In `strict` mode, Twilio's records of the clinic's calls and texts from before this
    /// instant have been queued for deletion (the daily purge moves it on).
    pub provider_records_forgotten_before: Option<DateTimeUtc>,
    /// Whether the AI receptionist answers the clinic's conversations (off by default).
    pub ai_enabled: bool,
    /// The AI's tone (`ringback_shared::ai::TONES`).
    pub ai_tone: String,
    /// What the business does, in the clinic's words, for the AI's instructions.
    pub ai_business_description: Option<String>,
    /// The intake questions the AI asks (a JSON list of strings); `None`: the kind's defaults.
    pub ai_intake_questions: Option<Json>,
    /// Minutes before a quiet caller gets the one follow-up; `None`: no follow-ups.
    pub ai_follow_up_minutes: Option<i32>,
    /// Model tokens the AI may use a calendar month.
    pub ai_monthly_token_budget: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The Google calendar the clinic shared with the deployment's service account, where its
    /// bookings are kept as events; `None`: no calendar.
    pub google_calendar_id: Option<String>,
    /// What a standard visit the AI books (no service from the price list) is worth, in minor
    /// units: such a booking's value.
    pub ai_standard_visit_value_minor: i64,
    /// When the first call reached the clinic through its provider's webhooks (the setup's test
    /// call); kept once set.
    pub first_call_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
