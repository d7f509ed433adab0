//! The clinic's phone settings over GraphQL (admins): business hours and holidays, the forwarding
//! line (shown by its masked tail only), the ring timeout, provider numbers, and the text-back:
//! switch, delay, wording for business hours and after hours, booking link, HELP answer and
//! monthly allowance.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use ringback_entity::clinic as clinic_row;
use ringback_shared::access::Permission;
use ringback_shared::hours::{BusinessHours, ClockTime, Span};
use ringback_shared::sms::Moment;

use crate::error::graphql_error;
use crate::guard::{Access, principal, uuid_arg, with_tenant};
use ringback_core::error::DomainError;
use ringback_domain::Backend;
use ringback_domain::service::clinic::{self, SettingsChange, TextBackTemplates};
use ringback_domain::service::phone_lines::{self, Holding, OpenedNumber};
use ringback_domain::service::text_back;
use ringback_shared::phone::{self, E164};

/// A day of the week.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

const WEEK: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

/// One opening span, `HH:MM` to `HH:MM` in the clinic's time zone.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "OpeningSpanInput")]
pub struct OpeningSpan {
    pub opens: String,
    pub closes: String,
}

/// A weekday's opening spans (none: closed).
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "DayHoursInput")]
pub struct DayHours {
    pub weekday: Weekday,
    pub spans: Vec<OpeningSpan>,
}

/// The clinic's phone settings.
#[derive(SimpleObject)]
pub struct PhoneSettings {
    pub business_hours: Vec<DayHours>,
    /// The forwarding line's last digits, e.g. "•••• 456".
    pub forwarding_line_tail: Option<String>,
    /// Seconds the forwarding line rings before the call counts as missed.
    pub ring_timeout_seconds: i32,
    /// Whether missed callers are texted back.
    pub text_back_enabled: bool,
    /// Seconds between the missed call and the text-back (0–120).
    pub text_back_delay_seconds: i32,
    /// The text-back sent in business hours (the clinic's own or the default), with
    /// `{clinic}` and `{booking_link}` placeholders.
    pub business_hours_template: String,
    /// The text-back sent after hours and on holidays.
    pub after_hours_template: String,
    /// Whether each template is the default wording.
    pub business_hours_template_is_default: bool,
    pub after_hours_template_is_default: bool,
    pub booking_link: Option<String>,
    /// The answer to HELP.
    pub help_text: String,
    /// Days the clinic is closed all day (after-hours wording applies).
    pub holidays: Vec<NaiveDate>,
    /// Text-backs allowed per calendar month (none: no limit); further missed callers are
    /// recorded as `skipped:over_quota`. Applies only with billing off: with billing on, the
    /// clinic's plan owns the allowance.
    pub sms_monthly_quota: Option<i32>,
    /// The regions (ISO 3166 codes) whose numbers are texted; callers from elsewhere are recorded
    /// as `skipped:other_country`.
    pub sms_countries: Vec<String>,
    /// Texts per rolling 24 hours; further missed callers are recorded as `skipped:daily_limit`
    /// and replies are refused until it frees up.
    pub sms_daily_limit: i32,
}

/// One of the clinic's provider numbers: the number callers ring and texts come from.
#[derive(SimpleObject)]
pub struct ProviderNumber {
    pub id: ID,
    /// Its last digits, masked.
    pub tail: String,
    /// The whole number as its country writes it: the clinic's own public number, shown to its
    /// admins so they can publish it and call it.
    pub display: String,
    /// Whether Ringback bought it (it is released from here; any other is stopped using and stays
    /// in the Twilio account).
    pub provisioned: bool,
    pub created_at: DateTime<Utc>,
}

impl From<&OpenedNumber> for ProviderNumber {
    fn from(number: &OpenedNumber) -> Self {
        let display = E164::parse(&number.e164)
            .map(|e164| phone::national(&e164))
            .unwrap_or_else(|_| number.row.tail.clone());
        Self {
            id: ID(number.row.id.to_string()),
            tail: number.row.tail.clone(),
            display,
            provisioned: number.row.bought_here,
            created_at: number.row.created_at,
        }
    }
}

fn settings_view(model: &clinic_row::Model) -> PhoneSettings {
    let hours = clinic::business_hours(model);
    PhoneSettings {
        business_hours: WEEK
            .iter()
            .zip(&hours.days)
            .map(|(weekday, spans)| DayHours {
                weekday: *weekday,
                spans: spans
                    .iter()
                    .map(|span| OpeningSpan {
                        opens: span.opens.into(),
                        closes: span.closes.into(),
                    })
                    .collect(),
            })
            .collect(),
        forwarding_line_tail: model.forwarding_line_tail.clone(),
        ring_timeout_seconds: model.ring_timeout_seconds,
        text_back_enabled: model.text_back_enabled,
        text_back_delay_seconds: model.text_back_delay_seconds,
        business_hours_template: clinic::template(model, Moment::BusinessHours),
        after_hours_template: clinic::template(model, Moment::AfterHours),
        business_hours_template_is_default: model.text_back_template_open.is_none(),
        after_hours_template_is_default: model.text_back_template_closed.is_none(),
        booking_link: model.booking_link.clone(),
        help_text: clinic::help_text(model),
        holidays: clinic::holidays(model),
        sms_monthly_quota: model.sms_monthly_quota,
        sms_countries: clinic::texted_regions(model),
        sms_daily_limit: model
            .sms_daily_limit
            .unwrap_or(text_back::DEFAULT_DAILY_TEXTS),
    }
}

/// A nullable setting's change: absent leaves it, null clears it, a value sets it.
fn optional_change<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(value) => Some(Some(value)),
    }
}

fn hours_from(input: Vec<DayHours>) -> Result<BusinessHours, DomainError> {
    let mut hours = BusinessHours {
        days: Default::default(),
    };
    for day in input {
        let index = WEEK
            .iter()
            .position(|weekday| *weekday == day.weekday)
            .unwrap_or(0);
        for span in day.spans {
            let parse = |text: &str| {
                ClockTime::parse(text).map_err(|e| DomainError::BadUserInput(e.to_string()))
            };
            hours.days[index].push(Span {
                opens: parse(&span.opens)?,
                closes: parse(&span.closes)?,
            });
        }
    }
    Ok(hours)
}

/// Changes to the phone settings; omitted fields stay as they are.
#[derive(InputObject, Default)]
pub struct PhoneSettingsInput {
    /// The whole week; days not listed are closed.
    pub business_hours: Option<Vec<DayHours>>,
    pub ring_timeout_seconds: Option<i32>,
    pub text_back_enabled: Option<bool>,
    pub text_back_delay_seconds: Option<i32>,
    /// An empty string goes back to the default wording.
    pub business_hours_template: Option<String>,
    /// An empty string goes back to the default wording.
    pub after_hours_template: Option<String>,
    /// An empty string removes the link.
    pub booking_link: Option<String>,
    /// An empty string goes back to the default answer.
    pub help_text: Option<String>,
    /// The whole list; days not listed are ordinary days.
    pub holidays: Option<Vec<NaiveDate>>,
    /// Null removes the allowance.
    pub sms_monthly_quota: MaybeUndefined<i32>,
    /// The whole list of regions texted; an empty list goes back to the clinic's own region.
    pub sms_countries: Option<Vec<String>>,
    /// Null goes back to the default daily limit.
    pub sms_daily_limit: MaybeUndefined<i32>,
}

#[derive(Default)]
pub struct PhoneSettingsQuery;

#[Object]
impl PhoneSettingsQuery {
    /// Business hours, forwarding line and ring timeout.
    async fn phone_settings(&self, ctx: &Context<'_>) -> async_graphql::Result<PhoneSettings> {
        let model = with_tenant(ctx, Access::Read(Permission::WorkCalls), async |txn, _| {
            clinic::get(txn).await
        })
        .await?;
        Ok(settings_view(&model))
    }

    /// The clinic's provider numbers.
    async fn provider_numbers(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ProviderNumber>> {
        let backend = ctx.data::<Backend>()?;
        let rows = with_tenant(
            ctx,
            Access::Read(Permission::ManageSettings),
            async |txn, _| {
                phone_lines::opened_provider_numbers(txn, &backend.secrets, Holding::InUse).await
            },
        )
        .await?;
        Ok(rows.iter().map(ProviderNumber::from).collect())
    }
}

#[derive(Default)]
pub struct PhoneSettingsMutation;

#[Object]
impl PhoneSettingsMutation {
    /// Changes business hours, the ring timeout or the text-back switch and delay.
    async fn update_phone_settings(
        &self,
        ctx: &Context<'_>,
        input: PhoneSettingsInput,
    ) -> async_graphql::Result<PhoneSettings> {
        let billing_on = ctx.data::<Backend>()?.billing.is_some();
        if billing_on && !input.sms_monthly_quota.is_undefined() {
            return Err(graphql_error(DomainError::BadUserInput(
                "the plan sets the text allowance while billing is on; choose another plan \
                 on the Billing page"
                    .to_owned(),
            )));
        }
        let model = with_tenant(
            ctx,
            Access::Write(Permission::ManageSettings),
            async |txn, principal| {
                let change = SettingsChange {
                    business_hours: input.business_hours.map(hours_from).transpose()?,
                    ring_timeout_seconds: input.ring_timeout_seconds,
                    text_back_enabled: input.text_back_enabled,
                    text_back_delay_seconds: input.text_back_delay_seconds,
                    text_back_templates: (input.business_hours_template.is_some()
                        || input.after_hours_template.is_some())
                    .then_some(TextBackTemplates {
                        business_hours: input.business_hours_template,
                        after_hours: input.after_hours_template,
                    }),
                    booking_link: input.booking_link,
                    help_text: input.help_text,
                    holidays: input.holidays,
                    sms_monthly_quota: optional_change(input.sms_monthly_quota),
                    sms_countries: input.sms_countries,
                    sms_daily_limit: optional_change(input.sms_daily_limit),
                    ..Default::default()
                };
                clinic::update(txn, principal.user_id()?, change).await
            },
        )
        .await?;
        Ok(settings_view(&model))
    }

    /// Sets the line calls are forwarded to (null clears it). It is stored sealed; only its last
    /// digits are ever shown.
    async fn set_forwarding_line(
        &self,
        ctx: &Context<'_>,
        number: Option<String>,
    ) -> async_graphql::Result<PhoneSettings> {
        let backend = ctx.data::<Backend>()?;
        let model = with_tenant(
            ctx,
            Access::Write(Permission::ManageSettings),
            async |txn, principal| {
                phone_lines::set_forwarding_line(
                    txn,
                    &backend.secrets,
                    principal.user_id()?,
                    number.as_deref(),
                )
                .await
            },
        )
        .await?;
        Ok(settings_view(&model))
    }

    /// Registers a provider number callers ring: one of the deployment's Twilio numbers (Twilio
    /// is asked, within the clinic's limit on number requests), used by no other clinic. A
    /// refusal does not say which of the two it was.
    async fn add_provider_number(
        &self,
        ctx: &Context<'_>,
        number: String,
    ) -> async_graphql::Result<ProviderNumber> {
        let backend = ctx.data::<Backend>()?;
        let principal = principal(ctx).await?;
        let scope = principal
            .require_write(Permission::ManageSettings)
            .map_err(graphql_error)?;
        // Twilio is asked about the number: limited with the clinic's other number requests.
        backend
            .rate_limits
            .number_request(scope.clinic_id())
            .map_err(graphql_error)?;
        let row = phone_lines::add_provider_number(
            scope,
            &backend.secrets,
            backend.numbers.as_ref().map(|desk| desk.directory.as_ref()),
            principal.user_id().map_err(graphql_error)?,
            &number,
        )
        .await
        .map_err(graphql_error)?;
        Ok(ProviderNumber::from(&row))
    }

    /// Removes a provider number.
    async fn remove_provider_number(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<bool> {
        with_tenant(
            ctx,
            Access::Write(Permission::ManageSettings),
            async |txn, principal| {
                phone_lines::remove_provider_number(txn, principal.user_id()?, uuid_arg(&id)?).await
            },
        )
        .await?;
        Ok(true)
    }
}
