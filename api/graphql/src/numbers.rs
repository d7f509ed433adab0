//! Getting a number over GraphQL (admins and owners, signed in): the numbers Twilio sells in the
//! clinic's country with the country's texting rules, buying one (pointed here in the same
//! request), the account's numbers no clinic uses, taking one of them, and releasing a number.
//! Each request to Twilio counts against the clinic's number limit
//! ([`ringback_domain::auth::rate_limit::NUMBER_REQUESTS_PER_CLINIC_PER_MINUTE`]); each change is
//! audited by the number's masked tail.

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use ringback_shared::access::Permission;
use ringback_shared::phone::{self, E164};

use crate::error::graphql_error;
use crate::guard::{principal, uuid_arg};
use crate::phone_settings::ProviderNumber;
use ringback_core::error::DomainError;
use ringback_core::tenant::TenantScope;
use ringback_domain::Backend;
use ringback_domain::service::numbers::{
    self, AvailableNumber, NumberDesk, NumberKind, NumberOffer, OwnedNumber, WantedNumber,
};

/// Which kind of number texts in the clinic's country.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum TextingNumberKind {
    /// A mobile number (the UK, Australia): landline numbers there cannot text.
    Mobile,
    /// A local number (the US, Canada).
    Local,
}

/// Numbers for sale in the clinic's country, and what the country asks before texts are delivered.
#[derive(SimpleObject)]
pub struct NumbersForSale {
    /// The clinic's country (ISO 3166 alpha-2).
    pub country: String,
    pub kind: TextingNumberKind,
    /// What must be registered with the provider before texts reach phones in this country, in
    /// words; null when nothing is needed.
    pub registration: Option<String>,
    /// Where registration is done.
    pub console_url: String,
    pub numbers: Vec<NumberForSale>,
}

/// A number Twilio sells.
#[derive(SimpleObject)]
pub struct NumberForSale {
    /// E.164, as `buyNumber` takes it.
    pub number: String,
    /// As the country writes it.
    pub display: String,
    /// The town or area it belongs to, when known.
    pub locality: Option<String>,
    /// Whether the country's rules need the business's address on file at Twilio first.
    pub address_required: bool,
}

impl From<AvailableNumber> for NumberForSale {
    fn from(number: AvailableNumber) -> Self {
        NumberForSale {
            display: display(&number.e164),
            number: number.e164,
            locality: number.locality,
            address_required: number.address_required,
        }
    }
}

/// One of the deployment's Twilio numbers that no clinic uses.
#[derive(SimpleObject)]
pub struct AccountNumber {
    /// Twilio's id of the number, as `useAccountNumber` takes it.
    pub sid: ID,
    /// As its country writes it.
    pub display: String,
    /// Whether its calls go somewhere now (taking it points them here instead).
    pub pointed_elsewhere: bool,
    /// Whether it can send texts (`useAccountNumber` refuses one that cannot).
    pub can_text: bool,
}

impl AccountNumber {
    fn new(number: OwnedNumber, public_base: &str) -> Self {
        let elsewhere = |url: &Option<String>| {
            url.as_deref()
                .is_some_and(|url| !url.starts_with(public_base))
        };
        AccountNumber {
            sid: ID(number.sid.clone()),
            display: display(&number.e164),
            pointed_elsewhere: elsewhere(&number.voice_url) || elsewhere(&number.sms_url),
            can_text: number.can_text,
        }
    }
}

/// `e164` as its country writes it.
fn display(e164: &str) -> String {
    E164::parse(e164)
        .map(|number| phone::national(&number))
        .unwrap_or_else(|_| e164.to_owned())
}

/// The number desk, the clinic's scope for a settings change, and the acting member, once the
/// caller may manage settings and the clinic is within its number limit.
async fn number_desk<'a>(
    ctx: &Context<'a>,
) -> async_graphql::Result<(&'a Backend, &'a NumberDesk, &'a TenantScope, uuid::Uuid)> {
    let backend = ctx.data::<Backend>()?;
    let principal = principal(ctx).await?;
    let scope = principal
        .require_write(Permission::ManageSettings)
        .map_err(graphql_error)?;
    let actor = principal.user_id().map_err(graphql_error)?;
    let desk = backend.numbers.as_ref().ok_or_else(|| {
        graphql_error(DomainError::BadUserInput(
            "numbers can be got once the deployment's Twilio account is configured \
             (RINGBACK_TWILIO_ACCOUNT_SID)"
                .to_owned(),
        ))
    })?;
    backend
        .rate_limits
        .number_request(scope.clinic_id())
        .map_err(graphql_error)?;
    Ok((backend, desk, scope, actor))
}

#[derive(Default)]
pub struct NumbersQuery;

#[Object]
impl NumbersQuery {
    /// Numbers Twilio sells in the clinic's country that can call and text, in `areaCode` or in
    /// the town `locality` (US and Canada) or containing the digits `contains`, when given.
    async fn numbers_for_sale(
        &self,
        ctx: &Context<'_>,
        area_code: Option<String>,
        locality: Option<String>,
        contains: Option<String>,
    ) -> async_graphql::Result<NumbersForSale> {
        let (_, desk, scope, _) = number_desk(ctx).await?;
        let wanted = WantedNumber {
            area_code: area_code.as_deref(),
            locality: locality.as_deref(),
            contains: contains.as_deref(),
        };
        let NumberOffer { rules, numbers } = numbers::search(scope, desk, wanted)
            .await
            .map_err(graphql_error)?;
        Ok(NumbersForSale {
            country: rules.country,
            kind: match rules.kind {
                NumberKind::Mobile => TextingNumberKind::Mobile,
                NumberKind::Local => TextingNumberKind::Local,
            },
            registration: rules.registration.map(str::to_owned),
            console_url: rules.console_url.to_owned(),
            numbers: numbers.into_iter().map(NumberForSale::from).collect(),
        })
    }

    /// The deployment's Twilio numbers that no clinic uses, which this clinic may take.
    async fn account_numbers(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<AccountNumber>> {
        let (backend, desk, scope, _) = number_desk(ctx).await?;
        let free = numbers::unclaimed(&backend.db, &backend.secrets, desk, scope.clinic_id())
            .await
            .map_err(graphql_error)?;
        Ok(free
            .into_iter()
            .map(|number| AccountNumber::new(number, &desk.public_base))
            .collect())
    }
}

#[derive(Default)]
pub struct NumbersMutation;

#[Object]
impl NumbersMutation {
    /// Buys `number` (E.164, one `numbersForSale` offered) for the clinic; its calls and texts
    /// come here from that moment. A clinic holds at most five numbers.
    async fn buy_number(
        &self,
        ctx: &Context<'_>,
        number: String,
    ) -> async_graphql::Result<ProviderNumber> {
        let (backend, desk, scope, actor) = number_desk(ctx).await?;
        let row = numbers::buy(scope, &backend.secrets, desk, actor, &number)
            .await
            .map_err(graphql_error)?;
        Ok(ProviderNumber::from(&row))
    }

    /// Takes one of the account's numbers (`accountNumbers`) for the clinic and points its calls
    /// and texts here; taking one the clinic already holds points it here again.
    async fn use_account_number(
        &self,
        ctx: &Context<'_>,
        sid: ID,
    ) -> async_graphql::Result<ProviderNumber> {
        let (backend, desk, scope, actor) = number_desk(ctx).await?;
        let row = numbers::take(scope, &backend.secrets, desk, actor, &sid)
            .await
            .map_err(graphql_error)?;
        Ok(ProviderNumber::from(&row))
    }

    /// Releases the clinic's number `id`, one Ringback bought, at Twilio (it stops ringing here
    /// and stops costing) and removes it from the clinic; any other (taken from the account or
    /// typed in) is refused (BAD_USER_INPUT): it is stopped using instead.
    async fn release_number(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<bool> {
        let (backend, desk, scope, actor) = number_desk(ctx).await?;
        numbers::release(scope, &backend.secrets, desk, actor, uuid_arg(&id)?)
            .await
            .map_err(graphql_error)?;
        Ok(true)
    }
}
