//! Stripe's webhook (`POST /webhooks/stripe`): the signature is checked on the raw body before
//! anything is read (a bad, missing or stale one is refused with 400 and nothing is stored, and
//! counts against its address's ordinary rate limit, as any unsigned request would); the
//! clinic is the one whose Stripe customer the event names; a delivery is applied once per event
//! id (a redelivery changes nothing); event types billing does not use are answered 200 and left
//! alone. The subscription's state is never taken from the event: it is fetched from Stripe, so
//! events that arrive late, twice or out of order end in the same stored state.

use poem::http::StatusCode;
use poem::web::Data;
use poem::{Body, IntoResponse, Request, Response, handler};

use crate::error::DomainError;
use crate::state::AppState;
use chrono::DateTime;
use ringback_core::tenant::TenantScope;
use ringback_domain::doors;
use ringback_domain::service::billing::{self, Applied, BillingContext, EventStamp};
use ringback_domain::service::{clinic, processed_webhooks};
use ringback_providers::stripe::client::BillingError;
use ringback_providers::stripe::event::{EventKind, SignedEvent};

/// Largest event body accepted (a subscription with its items and prices fits many times over).
pub const MAX_BODY: usize = 256 * 1024;
/// The provider name events are remembered under.
pub const PROVIDER: &str = "stripe";

/// A plain answer to Stripe.
fn answer(status: StatusCode, message: &'static str) -> Response {
    (status, message).into_response()
}

/// Receives one Stripe event.
#[handler]
pub async fn receive(request: &Request, body: Body, state: Data<&AppState>) -> Response {
    let Some(context) = state.billing.clone() else {
        return answer(StatusCode::NOT_FOUND, "billing is off");
    };
    let body = match body.into_bytes_limit(MAX_BODY).await {
        Ok(body) => body,
        Err(poem::error::ReadBodyError::PayloadTooLarge) => {
            return answer(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large");
        }
        Err(_) => return answer(StatusCode::BAD_REQUEST, "the body could not be read"),
    };
    let header = request
        .headers()
        .get("Stripe-Signature")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let now = state.clock.now().timestamp();
    let event =
        match SignedEvent::check(context.settings.webhook_secret.expose(), header, &body, now) {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(%error, "refused a Stripe webhook");
                // A forged request counts as anyone's: the far higher limit of webhooks is for
                // signed ones.
                let address = crate::http::address_of(request);
                if let Err(limited) = state.backend.rate_limits.request(address) {
                    return crate::http::limited_or_refused(&limited);
                }
                return (StatusCode::BAD_REQUEST, error.to_string()).into_response();
            }
        };
    match apply(&state, &context, &event).await {
        Ok(message) => answer(StatusCode::OK, message),
        Err(error) => {
            tracing::warn!(event = %event.id, %error, "a Stripe event could not be applied yet");
            answer(StatusCode::SERVICE_UNAVAILABLE, "try again")
        }
    }
}

/// How often a delivery asks Stripe again when the clinic's billing changed while Stripe was
/// asked (another delivery stored its answer); then Stripe is told to try again later.
const ATTEMPTS: usize = 3;

/// Applies `event` to its clinic; what happened, in words. Stripe is asked outside any
/// transaction (a slow Stripe holds no lock: on SQLite every writer, missed calls included, would
/// wait for it); the answer is stored under the clinic's lock only if nothing was stored while it
/// was asked, else Stripe is asked again, so two deliveries at once cannot store an older answer
/// over a newer one.
async fn apply(
    state: &AppState,
    context: &BillingContext,
    event: &SignedEvent,
) -> Result<&'static str, DomainError> {
    if event.kind.is_none() {
        return Ok("ignored: not a billing event");
    }
    let Some(scope) = doors::stripe_webhook(&state.backend, event).await? else {
        tracing::info!(event = %event.id, "a Stripe event for a customer no clinic has");
        return Ok("ignored: no clinic has this customer");
    };
    for _ in 0..ATTEMPTS {
        if let Some(done) = try_apply(&scope, context, event).await? {
            return Ok(done);
        }
    }
    Err(DomainError::Conflict(
        "the clinic's billing kept changing while Stripe was asked".to_owned(),
    ))
}

/// One attempt of [`apply`]: `None` when the clinic's billing changed while Stripe was asked.
async fn try_apply(
    scope: &TenantScope,
    context: &BillingContext,
    event: &SignedEvent,
) -> Result<Option<&'static str>, DomainError> {
    let txn = scope.begin().await?;
    if processed_webhooks::is_known(&txn, PROVIDER, &event.id).await? {
        return Ok(Some("already applied"));
    }
    let stored_at = clinic::get(&txn).await?.billing_updated_at;
    txn.commit().await?;
    let current = match &event.subscription {
        Some(id) => match context.stripe.subscription(id).await {
            Ok(subscription) => Some(subscription),
            Err(BillingError::Refused(404)) => {
                // Not this account's (an event of another Stripe account or mode sent to this
                // endpoint): asking again for three days would change nothing.
                tracing::warn!(event = %event.id, "a Stripe event names a subscription Stripe does not know");
                return Ok(Some("ignored: Stripe does not know the subscription"));
            }
            Err(error) => return Err(error.into()),
        },
        None => None,
    };
    let running = match &current {
        Some(current) => billing::running_besides(context, current).await?,
        None => Vec::new(),
    };
    let txn = scope.begin().await?;
    txn.lock_clinic().await?;
    if processed_webhooks::is_known(&txn, PROVIDER, &event.id).await? {
        return Ok(Some("already applied"));
    }
    if let Some(current) = current {
        let stamp = EventStamp {
            id: &event.id,
            created: DateTime::from_timestamp(event.created, 0).unwrap_or_else(|| txn.now()),
            reports_failed_payment: event.kind == Some(EventKind::InvoicePaymentFailed),
            stored_when_asked: stored_at,
        };
        let applied = billing::apply_subscription(&txn, &context.settings, &current, stamp).await?;
        if applied == Applied::Outdated {
            return Ok(None);
        }
        billing::adopt_running(&txn, &context.settings, &running, &event.id).await?;
    }
    processed_webhooks::remember(&txn, PROVIDER, &event.id).await?;
    txn.commit().await?;
    Ok(Some("applied"))
}
