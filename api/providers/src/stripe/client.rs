//! Stripe's REST API through async-stripe, for what billing needs: a customer per clinic (its id
//! in the metadata), a Checkout Session for a plan (and expiring one no longer wanted), a Customer Portal session, the current state of
//! a subscription, a customer's running subscriptions (to end them all when its clinic is deleted),
//! and usage reported as billing meter events (deduplicated by their identifier).
//! The base URL is configurable, so tests talk to a fake. Failures name no secret.

use std::collections::HashMap;
use std::time::Duration;

use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};

use super::BillingSettings;

/// How long one request to Stripe may take.
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// Why a request to Stripe failed, in words an owner can act on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BillingError {
    #[error("Stripe refused the request (HTTP {0})")]
    Refused(u16),
    #[error("Stripe could not be reached; try again")]
    Unreachable,
    #[error("Stripe's answer could not be read")]
    Unreadable,
    #[error("the Stripe client is misconfigured")]
    Misconfigured,
}

impl From<StripeError> for BillingError {
    fn from(error: StripeError) -> Self {
        match error {
            StripeError::Stripe(_, status) => BillingError::Refused(status),
            StripeError::JSONDeserialize(_) => BillingError::Unreadable,
            StripeError::ConfigError(_) => BillingError::Misconfigured,
            _ => BillingError::Unreachable,
        }
    }
}

impl From<BillingError> for ringback_core::error::DomainError {
    fn from(error: BillingError) -> Self {
        match error {
            BillingError::Misconfigured => Self::Internal(error.to_string()),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

/// A subscription as billing stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionState {
    pub id: String,
    pub customer: String,
    /// Stripe's status name (`active`, `past_due`, …).
    pub status: String,
    /// The prices of its items: the plan's, and its metered overage price if it has one.
    pub prices: Vec<String>,
    /// The current billing period, unix seconds.
    pub period: Option<(i64, i64)>,
    pub cancel_at_period_end: bool,
    /// When Stripe created it, unix seconds.
    pub created: i64,
}

/// A Checkout Session just opened: its id, and the page to send the owner to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckoutPage {
    pub session: String,
    pub url: String,
}

/// A Stripe client for billing.
pub struct StripeBilling {
    client: Client,
}

impl StripeBilling {
    /// A client for the account and base URL in `settings`.
    pub fn new(settings: &BillingSettings) -> Result<Self, BillingError> {
        let client = ClientBuilder::new(settings.secret_key.expose())
            .url(format!("{}/", settings.api_url))
            .timeout(TIMEOUT)
            .build()?;
        Ok(Self { client })
    }

    /// Creates the customer of clinic `clinic_id`, billed to `email`; its id. The clinic id is the
    /// request's idempotency key, so a retry (or a second owner's click) within Stripe's 24 hours
    /// gets the same customer back.
    pub async fn create_customer(
        &self,
        clinic_id: &str,
        email: &str,
    ) -> Result<String, BillingError> {
        let key = IdempotencyKey::new(format!("ringback-customer-{clinic_id}"))
            .map_err(|_| BillingError::Misconfigured)?;
        let customer = stripe_core::customer::CreateCustomer::new()
            .email(email)
            .metadata(HashMap::from([(
                "clinic_id".to_owned(),
                clinic_id.to_owned(),
            )]))
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await?;
        Ok(customer.id.as_str().to_owned())
    }

    /// A Checkout Session subscribing `customer` to `plan` (its price, and its metered overage
    /// price if any), trialing until `trial_end` when given (Stripe takes the first payment
    /// then; it must be at least 48 hours ahead): its id and the page to send the owner to.
    pub async fn checkout(
        &self,
        customer: &str,
        clinic_id: &str,
        (plan, trial_end): (&super::Plan, Option<chrono::DateTime<chrono::Utc>>),
        success_url: &str,
        cancel_url: &str,
    ) -> Result<CheckoutPage, BillingError> {
        use stripe_checkout::checkout_session::CreateCheckoutSessionLineItems as LineItem;
        use stripe_checkout::checkout_session::CreateCheckoutSessionSubscriptionData as Subscription;
        let mut items = vec![LineItem {
            price: Some(plan.price.clone()),
            quantity: Some(1),
            ..LineItem::new()
        }];
        // A metered price takes no quantity: Stripe bills what the meter reports.
        items.extend(plan.overage_price.as_ref().map(|price| LineItem {
            price: Some(price.clone()),
            ..LineItem::new()
        }));
        let mut session = stripe_checkout::checkout_session::CreateCheckoutSession::new()
            .mode(stripe_checkout::CheckoutSessionMode::Subscription)
            .customer(customer)
            .client_reference_id(clinic_id)
            .line_items(items);
        if let Some(trial_end) = trial_end {
            session = session.subscription_data(Subscription {
                trial_end: Some(trial_end.timestamp()),
                ..Subscription::new()
            });
        }
        let session = session
            .metadata(HashMap::from([(
                "clinic_id".to_owned(),
                clinic_id.to_owned(),
            )]))
            .success_url(success_url)
            .cancel_url(cancel_url)
            .send(&self.client)
            .await?;
        Ok(CheckoutPage {
            url: session.url.ok_or(BillingError::Unreadable)?,
            session: session.id.as_str().to_owned(),
        })
    }

    /// Expires Checkout Session `id`, so it can no longer be paid. Stripe refuses (HTTP 400) one
    /// that is not open: paid, or expired already.
    pub async fn expire_checkout(&self, id: &str) -> Result<(), BillingError> {
        stripe_checkout::checkout_session::ExpireCheckoutSession::new(id)
            .send(&self.client)
            .await?;
        Ok(())
    }

    /// The ids of `customer`'s Checkout Sessions that can still be paid, every page of them.
    pub async fn open_checkouts(&self, customer: &str) -> Result<Vec<String>, BillingError> {
        let mut open = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut request = stripe_checkout::checkout_session::ListCheckoutSession::new()
                .customer(customer)
                .status(stripe_checkout::CheckoutSessionStatus::Open)
                .limit(100);
            if let Some(last) = after.take() {
                request = request.starting_after(last);
            }
            let page = request.send(&self.client).await?;
            after = page
                .data
                .last()
                .map(|session| session.id.as_str().to_owned());
            open.extend(
                page.data
                    .iter()
                    .map(|session| session.id.as_str().to_owned()),
            );
            if !page.has_more || after.is_none() {
                return Ok(open);
            }
        }
    }

    /// A Customer Portal session for `customer` that returns to `return_url`; its page.
    pub async fn portal(&self, customer: &str, return_url: &str) -> Result<String, BillingError> {
        let session = stripe_billing::billing_portal_session::CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url)
            .send(&self.client)
            .await?;
        Ok(session.url)
    }

    /// The current state of subscription `id`.
    pub async fn subscription(&self, id: &str) -> Result<SubscriptionState, BillingError> {
        let subscription = stripe_billing::subscription::RetrieveSubscription::new(id)
            .send(&self.client)
            .await?;
        let items = &subscription.items.data;
        Ok(SubscriptionState {
            id: subscription.id.as_str().to_owned(),
            customer: subscription.customer.id().as_str().to_owned(),
            status: subscription.status.as_str().to_owned(),
            prices: items
                .iter()
                .map(|item| item.price.id.as_str().to_owned())
                .collect(),
            // Every item of a subscription shares its billing period.
            period: items
                .first()
                .map(|item| (item.current_period_start, item.current_period_end)),
            cancel_at_period_end: subscription.cancel_at_period_end,
            created: subscription.created,
        })
    }

    /// The ids of `customer`'s subscriptions that have not ended (Stripe lists those that are not
    /// cancelled; an expired incomplete one has ended too), every page of them.
    pub async fn running_subscriptions(&self, customer: &str) -> Result<Vec<String>, BillingError> {
        let mut running = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut request = stripe_billing::subscription::ListSubscription::new()
                .customer(customer)
                .limit(100);
            if let Some(last) = after.take() {
                request = request.starting_after(last);
            }
            let page = request.send(&self.client).await?;
            after = page.data.last().map(|sub| sub.id.as_str().to_owned());
            running.extend(
                page.data
                    .iter()
                    .filter(|sub| sub.status.as_str() != "incomplete_expired")
                    .map(|sub| sub.id.as_str().to_owned()),
            );
            if !page.has_more || after.is_none() {
                return Ok(running);
            }
        }
    }

    /// Cancels subscription `id` at once, without a final invoice (its clinic is being deleted).
    pub async fn cancel_subscription(&self, id: &str) -> Result<(), BillingError> {
        stripe_billing::subscription::CancelSubscription::new(id)
            .send(&self.client)
            .await?;
        Ok(())
    }

    /// Reports `value` units of meter `event_name` for `customer` that happened at `timestamp`
    /// (unix seconds), once per `identifier`.
    pub async fn report_usage(
        &self,
        event_name: &str,
        customer: &str,
        (value, timestamp): (u64, i64),
        identifier: &str,
    ) -> Result<(), BillingError> {
        stripe_billing::billing_meter_event::CreateBillingMeterEvent::new(
            event_name,
            HashMap::from([
                ("stripe_customer_id".to_owned(), customer.to_owned()),
                ("value".to_owned(), value.to_string()),
            ]),
        )
        .identifier(identifier)
        .timestamp(timestamp)
        .send(&self.client)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringback_core::settings::SecretString;

    fn settings(api_url: &str) -> BillingSettings {
        BillingSettings {
            secret_key: SecretString::new("sk_test_0123456789abcdef"),
            webhook_secret: SecretString::new("whsec_0123456789abcdef"),
            api_url: api_url.to_owned(),
            plans: Vec::new(),
            trial_days: 14,
            trial_sms: 50,
            grace_days: 7,
            meter_event: super::super::DEFAULT_METER_EVENT.to_owned(),
        }
    }

    #[tokio::test]
    async fn an_unreachable_stripe_is_a_failure_that_names_no_secret() {
        // A port nothing listens on: the client is built (rustls on ring, no OpenSSL) and the
        // request fails as unreachable.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("address").port();
        drop(listener);
        let billing =
            StripeBilling::new(&settings(&format!("http://127.0.0.1:{port}"))).expect("client");
        let error = billing
            .create_customer("clinic", "owner@clinic.test")
            .await
            .expect_err("nothing listens");
        assert_eq!(error, BillingError::Unreachable);
        assert!(!error.to_string().contains("sk_test"));
    }
}
