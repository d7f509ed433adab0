//! Where a clinic stands with billing, read from its stored state with the shared rules
//! (`ringback_shared::billing`): on its trial (from when billing first applied to it, for the
//! configured days: see [`crate::service::trials`]) or on a subscription with Stripe's status; what it may send now; and its plan and allowance. Owners
//! start Stripe Checkout for a plan (the clinic's Stripe customer is created once) and open the
//! Customer Portal; Stripe's signed events bring the subscription's current state back
//! ([`apply_subscription`]), audited with the event's id. With billing off (no Stripe key) nothing
//! here applies and every clinic runs without limits.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use ringback_core::error::DomainError;
use ringback_core::tenant::{TenantScope, TenantTxn, set_local};
use ringback_entity::clinic;
use ringback_providers::stripe::client::{BillingError, StripeBilling, SubscriptionState};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set, TransactionTrait,
};
use serde_json::json;
use uuid::Uuid;

use crate::service::audit::{self, AuditEvent};
use crate::service::{account, clinic as clinic_settings};
pub use ringback_providers::stripe::{BillingSettings, Plan};
use ringback_shared::billing::{Entitlement, Standing, SubscriptionStatus, entitlement};

/// Billing's settings and its Stripe client, when billing is on.
pub struct BillingContext {
    pub settings: BillingSettings,
    pub stripe: Arc<StripeBilling>,
    /// The dashboard's public address, where Checkout and the Portal send the owner back.
    pub public_url: String,
}

/// The dashboard page billing returns to.
pub const BILLING_PAGE: &str = "/billing";

impl BillingContext {
    /// The billing page's address, with `query` if any.
    fn page(&self, query: &str) -> String {
        format!(
            "{}{BILLING_PAGE}{query}",
            self.public_url.trim_end_matches('/')
        )
    }
}

/// A clinic's billing, as the dashboard shows it.
pub struct BillingView {
    pub standing: Standing,
    pub entitlement: Entitlement,
    /// The subscribed plan (none on the trial).
    pub plan: Option<Plan>,
    /// SMS segments included per period: the plan's, or the trial's.
    pub allowance: u32,
    pub period: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub cancel_at_period_end: bool,
    /// Whether texts beyond the allowance are sent and billed: the plan has an overage price and
    /// the subscription carries it.
    pub bills_overage: bool,
}

/// Where `clinic` stands: its subscription when it has one, else its trial.
pub fn standing(clinic: &clinic::Model, settings: &BillingSettings) -> Standing {
    match clinic
        .billing_status
        .as_deref()
        .and_then(SubscriptionStatus::parse)
    {
        Some(status) => Standing::Subscribed {
            status,
            past_due_since: clinic.billing_past_due_since,
        },
        None => Standing::Trial {
            ends: trial_start(clinic) + Duration::days(i64::from(settings.trial_days)),
        },
    }
}

/// When `clinic`'s trial started: when billing first applied to it, or its sign-up while none is
/// recorded (a server with billing on records one for every clinic as it starts).
pub fn trial_start(clinic: &clinic::Model) -> DateTime<Utc> {
    clinic.billing_trial_started_at.unwrap_or(clinic.created_at)
}

/// `clinic`'s billing at `now`.
pub fn view(clinic: &clinic::Model, settings: &BillingSettings, now: DateTime<Utc>) -> BillingView {
    let standing = standing(clinic, settings);
    let grace = Duration::days(i64::from(settings.grace_days));
    let plan = match standing {
        Standing::Subscribed { .. } => clinic
            .billing_plan
            .as_deref()
            .and_then(|key| settings.plan(key))
            .cloned(),
        Standing::Trial { .. } => None,
    };
    let period = match standing {
        Standing::Trial { ends } => Some((trial_start(clinic), ends)),
        Standing::Subscribed { .. } => clinic.billing_period_start.zip(clinic.billing_period_end),
    };
    BillingView {
        entitlement: entitlement(standing, now, grace),
        bills_overage: !in_subscription_trial(standing, period, now)
            && clinic.billing_overage_item
            && plan
                .as_ref()
                .is_some_and(|plan| plan.overage_price.is_some()),
        allowance: plan
            .as_ref()
            .map_or(settings.trial_sms, |plan| plan.sms_per_period),
        plan,
        standing,
        period,
        cancel_at_period_end: clinic.billing_cancel_at_period_end,
    }
}

/// Whether the clinic's subscription is in its trial at `now` (one started during the free trial
/// keeps the rest of it, [`trial_left_to_keep`]; Stripe may give one too): the plan's allowance,
/// but no overage, which Stripe would not charge for a trial. Once the trial's period has ended
/// the subscription is renewing into its first paid period (texts count there), whether or not
/// Stripe's word of it is stored yet.
fn in_subscription_trial(
    standing: Standing,
    period: Option<(DateTime<Utc>, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> bool {
    matches!(
        standing,
        Standing::Subscribed {
            status: SubscriptionStatus::Trialing,
            ..
        }
    ) && period.is_none_or(|(_, end)| now < end)
}

/// Whether a stored status is a subscription still running (or yet to be paid), as opposed to one
/// that ended.
fn is_live(status: Option<&str>) -> bool {
    status.is_some_and(SubscriptionStatus::names_running)
}

/// Whether `clinic` has chosen a plan it is subscribed to now (a cancelled subscription still
/// names its plan).
pub fn has_running_plan(clinic: &clinic::Model) -> bool {
    clinic.billing_plan.is_some() && is_live(clinic.billing_status.as_deref())
}

/// The clinic's Stripe customer: the stored one, or one created for the owner's `email` and
/// stored, unless another request stored one meanwhile (Stripe's create is idempotent on the
/// clinic, so both get the same customer). Stripe is asked outside any transaction.
async fn customer(
    scope: &TenantScope,
    context: &BillingContext,
    stored: Option<String>,
    email: &str,
) -> Result<String, DomainError> {
    if let Some(customer) = stored {
        return Ok(customer);
    }
    let created = context
        .stripe
        .create_customer(&scope.clinic_id().to_string(), email)
        .await?;
    let txn = scope.begin().await?;
    txn.lock_clinic().await?;
    let row = clinic_settings::get(&txn).await?;
    if let Some(customer) = row.stripe_customer_id.clone() {
        return Ok(customer);
    }
    let mut model: clinic::ActiveModel = row.into();
    model.stripe_customer_id = Set(Some(created.clone()));
    model.billing_updated_at = Set(Some(txn.now()));
    model.update(txn.conn()).await?;
    txn.commit().await?;
    Ok(created)
}

/// A Stripe Checkout page subscribing the clinic to plan `plan_key`, for owner `user_id`. A clinic
/// still on its free trial keeps what is left of it ([`trial_left_to_keep`]): the subscription
/// trials until then and the first payment is taken when it ends. A clinic
/// whose subscription is running changes plan in the Portal instead. Stripe is asked outside any
/// transaction, so a slow Stripe holds no lock (on SQLite every writer, missed calls included,
/// would wait for it). Only the newest Checkout page can be paid: the session opened before it
/// (another tab, a plan chosen again, a request at the same moment) is expired once the new one
/// is stored ([`expire_replaced`]), and none is opened while Stripe holds a subscription paid for
/// that is not stored yet ([`refuse_while_one_is_paid_for`]); a second subscription paid for all
/// the same (paid before it was expired) is audited for staff to refund ([`apply_subscription`]).
pub async fn start_checkout(
    scope: &TenantScope,
    context: &BillingContext,
    user_id: Uuid,
    plan_key: &str,
) -> Result<String, DomainError> {
    let plan = context
        .settings
        .plan(plan_key)
        .ok_or_else(|| DomainError::BadUserInput(format!("there is no plan `{plan_key}`")))?;
    let txn = scope.begin().await?;
    let row = clinic_settings::get(&txn).await?;
    let owner = account::signed_in_user(&txn, user_id).await?;
    let now = txn.now();
    txn.commit().await?;
    if row.stripe_subscription_id.is_some() && is_live(row.billing_status.as_deref()) {
        return Err(DomainError::Conflict(
            "a subscription is already running: change plan in the billing portal".to_owned(),
        ));
    }
    let trial_kept_until = trial_left_to_keep(&row, &context.settings, now);
    if let Some(known) = &row.stripe_customer_id {
        refuse_while_one_is_paid_for(context, known).await?;
    }
    let customer = customer(scope, context, row.stripe_customer_id, &owner.email).await?;
    let page = context
        .stripe
        .checkout(
            &customer,
            &scope.clinic_id().to_string(),
            (plan, trial_kept_until),
            &context.page("?checkout=done"),
            &context.page("?checkout=cancelled"),
        )
        .await?;
    let replaced =
        store_checkout_session(scope, user_id, (plan, trial_kept_until), &page.session).await?;
    if let Some(replaced) = replaced {
        expire_replaced(context, &replaced).await;
    }
    Ok(page.url)
}

/// Refuses a new Checkout page while Stripe holds a subscription of `customer` that is paid for
/// but not yet stored here (its event is on its way): paying again would charge the clinic twice
/// a month. Asked outside any transaction.
async fn refuse_while_one_is_paid_for(
    context: &BillingContext,
    customer: &str,
) -> Result<(), DomainError> {
    let running = running_of(context, customer, None).await?;
    if running.iter().any(|sub| is_paid_for(Some(&sub.status))) {
        return Err(DomainError::Conflict(
            "a subscription is already paid for and Stripe is confirming it: reload this page \
             in a minute"
                .to_owned(),
        ));
    }
    Ok(())
}

/// The state of each subscription of `customer` that has not ended, but `except`, fetched from
/// Stripe (outside any transaction).
async fn running_of(
    context: &BillingContext,
    customer: &str,
    except: Option<&str>,
) -> Result<Vec<SubscriptionState>, DomainError> {
    let mut running = Vec::new();
    for id in context.stripe.running_subscriptions(customer).await? {
        if except != Some(id.as_str()) {
            running.push(context.stripe.subscription(&id).await?);
        }
    }
    Ok(running)
}

/// The shortest trial Stripe Checkout accepts to carry into a subscription (its `trial_end` at
/// least 48 hours ahead), with an hour for the owner to fill the page in.
pub const SHORTEST_TRIAL_KEPT: Duration = Duration::hours(49);

/// When the free trial of the clinic of `row` ends, if a subscription started at `now` keeps what
/// is left of it (the first payment is then taken when it ends): a clinic still on its trial,
/// with at least [`SHORTEST_TRIAL_KEPT`] of it left. A clinic that had a subscription, or whose
/// trial ended or ends within two days, pays from the start.
pub fn trial_left_to_keep(
    row: &clinic::Model,
    settings: &BillingSettings,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match standing(row, settings) {
        Standing::Trial { ends } if ends - now >= SHORTEST_TRIAL_KEPT => Some(ends),
        _ => None,
    }
}

/// Stores `session` as the clinic's Checkout Session (for `plan`, keeping the trial until the
/// time given, if any), under the clinic's lock, with its audit entry; the session it replaces,
/// if any.
async fn store_checkout_session(
    scope: &TenantScope,
    user_id: Uuid,
    (plan, trial_kept_until): (&Plan, Option<DateTime<Utc>>),
    session: &str,
) -> Result<Option<String>, DomainError> {
    let txn = scope.begin().await?;
    txn.lock_clinic().await?;
    let row = clinic_settings::get(&txn).await?;
    let replaced = row.billing_checkout_session.clone();
    let mut model: clinic::ActiveModel = row.into();
    model.billing_checkout_session = Set(Some(session.to_owned()));
    model.update(txn.conn()).await?;
    audit::append(
        &txn,
        AuditEvent {
            actor: Some(user_id),
            action: "billing.checkout_started",
            detail: json!({
                "plan": plan.key,
                "replaces_earlier_session": replaced.is_some(),
                "trial_kept_until": trial_kept_until,
            }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(replaced.filter(|replaced| replaced != session))
}

/// Expires the Checkout Session a newer one replaced, outside any transaction. Stripe refuses one
/// that is no longer open (paid, or expired): nothing to do. Any other failure is logged and left:
/// that page stays payable until Stripe expires it after a day, and a second subscription paid
/// there is audited for a refund.
async fn expire_replaced(context: &BillingContext, replaced: &str) {
    match context.stripe.expire_checkout(replaced).await {
        Ok(()) | Err(BillingError::Refused(400 | 404)) => {}
        Err(error) => tracing::warn!(%error, "an earlier Checkout page could not be expired"),
    }
}

/// A Stripe Customer Portal page for the clinic's customer, returning to the billing page;
/// Stripe is asked outside any transaction.
pub async fn open_portal(
    scope: &TenantScope,
    context: &BillingContext,
    user_id: Uuid,
) -> Result<String, DomainError> {
    let txn = scope.begin().await?;
    let stored = clinic_settings::get(&txn).await?.stripe_customer_id;
    txn.commit().await?;
    let Some(customer) = stored else {
        return Err(DomainError::Conflict(
            "choose a plan first: the billing portal opens once the clinic has started Checkout"
                .to_owned(),
        ));
    };
    let url = context.stripe.portal(&customer, &context.page("")).await?;
    record(scope, user_id, "billing.portal_opened", json!({})).await?;
    Ok(url)
}

/// Appends `action` by owner `user_id` to the clinic's chain, in a transaction of its own.
async fn record(
    scope: &TenantScope,
    user_id: Uuid,
    action: &str,
    detail: serde_json::Value,
) -> Result<(), DomainError> {
    let txn = scope.begin().await?;
    audit::append(
        &txn,
        AuditEvent {
            actor: Some(user_id),
            action,
            detail,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The clinic whose Stripe customer is `customer`, if any. This read precedes knowing the clinic;
/// on PostgreSQL it is allowed by naming the customer.
pub async fn clinic_for_customer(
    db: &DatabaseConnection,
    customer: &str,
) -> Result<Option<Uuid>, DomainError> {
    let txn = db.begin().await?;
    set_local(&txn, "app.stripe_customer", customer).await?;
    let found = clinic::Entity::find()
        .filter(clinic::Column::StripeCustomerId.eq(customer))
        .one(&txn)
        .await?;
    txn.commit().await?;
    Ok(found.map(|row| row.id))
}

/// What applying an event did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The clinic now holds the subscription's state.
    Updated,
    /// The subscription is not the clinic's current one (an ended one while another runs, or a
    /// second running one: the earlier created stays the clinic's).
    Ignored,
    /// Something was stored since Stripe was asked ([`EventStamp::stored_when_asked`]): the
    /// answer may be older than what is stored, so nothing was changed; ask again.
    Outdated,
}

/// A subscription event as it reached us: its id and when Stripe created it.
pub struct EventStamp<'a> {
    pub id: &'a str,
    pub created: DateTime<Utc>,
    /// Whether the event says a payment failed (`invoice.payment_failed`): its time is then when
    /// the subscription's grace starts.
    pub reports_failed_payment: bool,
    /// The clinic's `billing_updated_at` when Stripe was asked for the state applied: Stripe is
    /// asked outside any transaction, and its answer is stored only if this is unchanged.
    pub stored_when_asked: Option<DateTime<Utc>>,
}

/// Whether `incoming` (Stripe's current state) is the clinic's subscription rather than the one
/// stored on `row`: the same one, or one that runs while the stored one ended, or of two running
/// the one paid for while the other is not (unpaid, paused, not yet paid), or of two running alike
/// (or two ended) the earlier (or later) created. Decided by the objects' own state, so the
/// order their events arrive in does not matter.
fn takes_over(row: &clinic::Model, incoming: &SubscriptionState) -> bool {
    let Some(stored) = row.stripe_subscription_id.as_deref() else {
        return true;
    };
    if stored == incoming.id {
        return true;
    }
    let stored_key = (
        row.billing_subscription_created.map(|at| at.timestamp()),
        stored,
    );
    let incoming_key = (Some(incoming.created), incoming.id.as_str());
    match (
        is_live(row.billing_status.as_deref()),
        is_live(Some(&incoming.status)),
    ) {
        (true, false) => false,
        (false, true) => true,
        (true, true) => match (
            is_paid_for(row.billing_status.as_deref()),
            is_paid_for(Some(&incoming.status)),
        ) {
            (true, false) => false,
            (false, true) => true,
            _ => incoming_key < stored_key,
        },
        (false, false) => incoming_key > stored_key,
    }
}

/// Whether `status` is a subscription's that is paid for ([`SubscriptionStatus::is_paid_for`]).
fn is_paid_for(status: Option<&str>) -> bool {
    status
        .and_then(SubscriptionStatus::parse)
        .is_some_and(SubscriptionStatus::is_paid_for)
}

/// When `current` (Stripe's answer about a subscription) has ended or is not paid for (unpaid,
/// paused), the customer's other running subscriptions, fetched from Stripe (outside any
/// transaction): one paid for is to become the clinic's ([`adopt_running`]). Empty while
/// `current` is paid for.
pub async fn running_besides(
    context: &BillingContext,
    current: &SubscriptionState,
) -> Result<Vec<SubscriptionState>, DomainError> {
    if is_paid_for(Some(&current.status)) {
        return Ok(Vec::new());
    }
    running_of(context, &current.customer, Some(&current.id)).await
}

/// Applies each of `running` ([`running_besides`]) after an ended or unpaid subscription's state
/// was applied for `event_id`, in the same transaction: when the clinic's own subscription ended
/// or is not paid for, the earliest running one paid for becomes the clinic's (the others stay
/// audited as extra), so a clinic that still pays is not stopped.
pub async fn adopt_running(
    txn: &TenantTxn,
    settings: &BillingSettings,
    running: &[SubscriptionState],
    event_id: &str,
) -> Result<(), DomainError> {
    for subscription in running {
        let stamp = EventStamp {
            id: event_id,
            created: txn.now(),
            reports_failed_payment: false,
            stored_when_asked: clinic_settings::get(txn).await?.billing_updated_at,
        };
        apply_subscription(txn, settings, subscription, stamp).await?;
    }
    Ok(())
}

/// Stores `subscription`'s current state (fetched from Stripe for `event`) on the clinic: id,
/// plan (the item whose price is a plan's), whether it carries the plan's overage price, status,
/// period, cancel-at-period-end, creation, and since when a payment is overdue
/// ([`past_due_since`]). A change of status or plan is audited with the event's id; a second
/// running subscription is audited for staff to refund. Nothing is stored when the clinic's
/// billing changed since Stripe was asked ([`Applied::Outdated`]).
pub async fn apply_subscription(
    txn: &TenantTxn,
    settings: &BillingSettings,
    subscription: &SubscriptionState,
    event: EventStamp<'_>,
) -> Result<Applied, DomainError> {
    txn.lock_clinic().await?;
    let row = clinic_settings::get(txn).await?;
    if row.billing_updated_at != event.stored_when_asked {
        return Ok(Applied::Outdated);
    }
    if row.stripe_customer_id.as_deref() != Some(subscription.customer.as_str()) {
        return Ok(Applied::Ignored);
    }
    let incoming_live = is_live(Some(&subscription.status));
    if !takes_over(&row, subscription) {
        if incoming_live {
            audit_extra_subscription(txn, &subscription.id, event.id).await?;
        }
        return Ok(Applied::Ignored);
    }
    if let Some(stored) = row.stripe_subscription_id.as_deref()
        && stored != subscription.id
        && incoming_live
        && is_live(row.billing_status.as_deref())
    {
        // The earlier subscription's events came second: the one stored so far is the extra.
        audit_extra_subscription(txn, stored, event.id).await?;
    }
    let Some(status) = SubscriptionStatus::parse(&subscription.status) else {
        tracing::warn!(event = event.id, status = %subscription.status, "a subscription status billing does not know");
        return Ok(Applied::Ignored);
    };
    let (plan, overage_item) = plan_of(txn, settings, subscription, &row, event.id).await?;
    let at = |seconds: i64| DateTime::<Utc>::from_timestamp(seconds, 0);
    let past_due_since = match status {
        SubscriptionStatus::PastDue => Some(past_due_since(
            row.billing_past_due_since,
            &event,
            subscription.period.and_then(|(start, _)| at(start)),
            txn.now(),
        )),
        _ => None,
    };
    let before = (row.billing_status.clone(), row.billing_plan.clone());
    let mut model: clinic::ActiveModel = row.into();
    model.stripe_subscription_id = Set(Some(subscription.id.clone()));
    model.billing_status = Set(Some(status.as_str().to_owned()));
    model.billing_plan = Set(plan.clone());
    model.billing_overage_item = Set(overage_item);
    model.billing_subscription_created = Set(at(subscription.created));
    model.billing_period_start = Set(subscription.period.and_then(|(start, _)| at(start)));
    model.billing_period_end = Set(subscription.period.and_then(|(_, end)| at(end)));
    model.billing_cancel_at_period_end = Set(subscription.cancel_at_period_end);
    model.billing_past_due_since = Set(past_due_since);
    model.billing_updated_at = Set(Some(txn.now()));
    model.update(txn.conn()).await?;
    let after = (Some(status.as_str().to_owned()), plan);
    if before != after {
        audit::append(
            txn,
            AuditEvent {
                actor: None,
                action: "billing.subscription_changed",
                detail: json!({
                    "stripe_event": event.id,
                    "status": { "from": before.0, "to": after.0 },
                    "plan": { "from": before.1, "to": after.1 },
                }),
            },
        )
        .await?;
    }
    Ok(Applied::Updated)
}

/// The catalogue's plan of `subscription` (the item whose price is a plan's) and whether it
/// carries the plan's overage price. A subscription whose prices are in no plan (an operator who
/// gave a plan a new Stripe price, with subscribers still on the old one) keeps the plan stored
/// for it (none for a subscription new to the clinic), logged and audited
/// (`billing.unknown_price`) for staff: it would otherwise fall to the trial's allowance unseen.
async fn plan_of(
    txn: &TenantTxn,
    settings: &BillingSettings,
    subscription: &SubscriptionState,
    row: &clinic::Model,
    event_id: &str,
) -> Result<(Option<String>, bool), DomainError> {
    if let Some(plan) = subscription
        .prices
        .iter()
        .find_map(|price| settings.plan_with_price(price))
    {
        let overage_item = plan
            .overage_price
            .as_ref()
            .is_some_and(|overage| subscription.prices.contains(overage));
        return Ok((Some(plan.key.clone()), overage_item));
    }
    let same = row.stripe_subscription_id.as_deref() == Some(subscription.id.as_str());
    let kept = row.billing_plan.clone().filter(|_| same);
    tracing::warn!(event = event_id, prices = ?subscription.prices, plan = ?kept, "a subscription's prices are in no plan of the catalogue: its plan stays as it was");
    audit::append(
        txn,
        AuditEvent {
            actor: None,
            action: "billing.unknown_price",
            detail: json!({
                "stripe_event": event_id,
                "prices": subscription.prices,
                "plan_kept": kept,
                "hint": "add this price to a plan of the catalogue",
            }),
        },
    )
    .await?;
    let overage_item = kept.is_some() && row.billing_overage_item;
    Ok((kept, overage_item))
}

/// When a past-due subscription's grace starts: at the earliest failed payment of the current
/// period seen (a failure event's creation), else when the state was first seen past due (`now`,
/// as an event of another kind arrived, which may have been created long before the payment
/// failed: its time would cut the grace short). A failure created before the period began is of
/// an earlier, settled payment (its event came late) and moves nothing.
fn past_due_since(
    stored: Option<DateTime<Utc>>,
    event: &EventStamp<'_>,
    period_start: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let of_this_period = period_start.is_none_or(|start| event.created >= start);
    let seen = if event.reports_failed_payment && of_this_period {
        event.created.min(now)
    } else {
        now
    };
    stored.map_or(seen, |since| since.min(seen))
}

/// Notes a second running subscription of the clinic, which Stripe charges but billing ignores.
async fn audit_extra_subscription(
    txn: &TenantTxn,
    subscription: &str,
    event_id: &str,
) -> Result<(), DomainError> {
    audit::append(
        txn,
        AuditEvent {
            actor: None,
            action: "billing.extra_subscription",
            detail: json!({
                "stripe_event": event_id,
                "subscription": subscription,
                "hint": "a second running subscription: cancel and refund it in Stripe",
            }),
        },
    )
    .await?;
    Ok(())
}

/// Refuses `settings`' plan catalogue when a clinic with a running subscription is on a plan it
/// no longer has (removed, or its key renamed): that clinic would fall to the trial's allowance
/// unseen. Read through a function that returns plan keys only; names the missing keys.
pub async fn check_catalogue(
    db: &DatabaseConnection,
    settings: &BillingSettings,
) -> Result<(), DomainError> {
    use ringback_migration::m20261221_120000_plans_in_use::PLANS_IN_USE;
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => "SELECT plan FROM ringback_billing_plans_in_use()",
        _ => PLANS_IN_USE,
    };
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(backend, sql))
        .await?;
    let mut missing = Vec::new();
    for row in rows {
        let plan: String = row.try_get("", "plan")?;
        if settings.plan(&plan).is_none() {
            missing.push(format!("`{plan}`"));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(DomainError::Conflict(format!(
        "the plan catalogue ([[plans]] in the settings file) no longer has plan {} that clinics \
         pay for: their allowance would fall to the trial's. Add the plan back (keep its key when \
         renaming it)",
        missing.join(", ")
    )))
}
