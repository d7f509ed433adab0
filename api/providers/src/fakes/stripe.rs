//! A fake of the parts of Stripe's API billing uses, speaking its wire format: the secret key as a
//! Bearer token or Basic user, form bodies in bracket notation (`metadata[clinic_id]`, `line_items[0][price]`), JSON
//! objects with `object` and `id`, Stripe's error shape, `Idempotency-Key` on creates. It holds
//! customers, Checkout Sessions (with a hosted page a test or a browser can "pay", which creates
//! the subscription and sends the events Stripe would), Customer Portal sessions, subscriptions and
//! billing meter events (counted once per identifier, as Stripe deduplicates them). Events are
//! signed as Stripe signs them (`Stripe-Signature`) and posted to the configured webhook URL;
//! tests can also build events, deliver them in any order, change a subscription's state, make
//! requests fail, and hold them as a slow Stripe would.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::Duration;
use poem::http::StatusCode;
use poem::web::{Data, Html, Json, Path, Redirect};
use poem::{EndpointExt, IntoResponse, Request, Response, Route, get, handler, post};
use serde_json::{Value, json};

use ringback_core::clock::Clock;

use crate::stripe::signature;

/// The API version the fake's events carry (the one the pinned client speaks).
pub const API_VERSION: &str = "2026-09-30.endive";

/// A customer the fake holds.
#[derive(Clone, Debug)]
pub struct FakeCustomer {
    pub id: String,
    pub email: Option<String>,
    pub metadata: HashMap<String, String>,
}

/// A Checkout Session the fake holds.
#[derive(Clone, Debug)]
pub struct FakeCheckout {
    pub id: String,
    pub customer: String,
    pub client_reference_id: Option<String>,
    pub mode: String,
    /// The prices of its line items, in order.
    pub prices: Vec<String>,
    pub success_url: String,
    pub cancel_url: String,
    pub metadata: HashMap<String, String>,
    /// The subscription paying created.
    pub subscription: Option<String>,
    /// `open` until paid (`complete`) or expired (`expired`), as Stripe says.
    pub status: String,
    /// When it was created (unix seconds).
    pub created: i64,
    /// `subscription_data[trial_end]`: the subscription paying creates trials until then.
    pub trial_end: Option<i64>,
}

/// A subscription the fake holds.
#[derive(Clone, Debug)]
pub struct FakeSubscription {
    pub id: String,
    pub customer: String,
    pub status: String,
    pub prices: Vec<String>,
    pub period: (i64, i64),
    pub cancel_at_period_end: bool,
    pub created: i64,
    /// When its trial ends, if it began with one.
    pub trial_end: Option<i64>,
}

/// A meter event as received (duplicates included).
#[derive(Clone, Debug)]
pub struct FakeMeterEvent {
    pub event_name: String,
    pub identifier: String,
    pub customer: String,
    pub value: u64,
    /// When the usage happened (unix seconds), as sent or the time received.
    pub timestamp: i64,
}

#[derive(Default)]
struct Store {
    customers: Vec<FakeCustomer>,
    checkouts: Vec<FakeCheckout>,
    subscriptions: Vec<FakeSubscription>,
    meter_events: Vec<FakeMeterEvent>,
    /// Idempotency key → the id of the customer it created.
    idempotent_customers: HashMap<String, String>,
    portal_sessions: Vec<(String, String)>,
    /// Every event sent, with the HTTP status our webhook answered (0: unreachable).
    deliveries: Vec<(Value, u16)>,
}

struct Shared {
    clock: Clock,
    secret_key: String,
    webhook_secret: String,
    base_url: String,
    webhook_url: Mutex<Option<String>>,
    store: Mutex<Store>,
    next_id: AtomicU64,
    failures: AtomicU32,
    /// While true, API requests wait (a slow Stripe); `held` counts those waiting.
    holding: tokio::sync::watch::Sender<bool>,
    held: AtomicU32,
    client: reqwest::Client,
}

/// A running fake; dropping it stops the server.
pub struct FakeStripe {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeStripe {
    /// Starts a fake for `secret_key` that signs its events with `webhook_secret` and dates them by
    /// `clock`, on a free local port.
    pub async fn start(
        secret_key: &str,
        webhook_secret: &str,
        clock: Clock,
    ) -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0", secret_key, webhook_secret, clock).await
    }

    /// Starts a fake listening on `address` (`host:port`).
    pub async fn start_on(
        address: &str,
        secret_key: &str,
        webhook_secret: &str,
        clock: Clock,
    ) -> std::io::Result<Self> {
        let (acceptor, base_url) = super::listen(address).await?;
        let shared = Arc::new(Shared {
            clock,
            secret_key: secret_key.to_owned(),
            webhook_secret: webhook_secret.to_owned(),
            base_url,
            webhook_url: Mutex::new(None),
            store: Mutex::new(Store::default()),
            next_id: AtomicU64::new(1),
            failures: AtomicU32::new(0),
            holding: tokio::sync::watch::Sender::new(false),
            held: AtomicU32::new(0),
            client: reqwest::Client::new(),
        });
        let routes = Route::new()
            .at("/v1/customers", post(create_customer))
            .at(
                "/v1/checkout/sessions",
                post(create_checkout).get(list_checkouts),
            )
            .at("/v1/checkout/sessions/:id/expire", post(expire_checkout))
            .at("/v1/billing_portal/sessions", post(create_portal))
            .at("/v1/subscriptions", get(list_subscriptions))
            .at(
                "/v1/subscriptions/:id",
                get(retrieve_subscription).delete(cancel_subscription),
            )
            .at("/v1/billing/meter_events", post(create_meter_event))
            .at("/pay/:id", get(checkout_page).post(pay_page))
            .at("/portal/:id", get(portal_page))
            .around(wait_while_held)
            .data(shared.clone());
        let server = super::serve(acceptor, routes);
        Ok(Self { shared, server })
    }

    /// The base URL to configure as `RINGBACK_STRIPE_API_URL`.
    pub fn api_url(&self) -> &str {
        &self.shared.base_url
    }

    /// Where events are posted (the server's `/webhooks/stripe`).
    pub fn deliver_events_to(&self, url: &str) {
        *lock(&self.shared.webhook_url) = Some(url.to_owned());
    }

    /// Makes API requests wait, as a slow Stripe would, until [`FakeStripe::release`].
    pub fn hold(&self) {
        self.shared.holding.send_replace(true);
    }

    /// Lets the held requests (and later ones) through.
    pub fn release(&self) {
        self.shared.holding.send_replace(false);
    }

    /// How many API requests are waiting now.
    pub fn held(&self) -> u32 {
        self.shared.held.load(Ordering::SeqCst)
    }

    /// Makes the next `count` API requests fail with HTTP 500.
    pub fn fail_next(&self, count: u32) {
        self.shared.failures.store(count, Ordering::SeqCst);
    }

    pub fn customers(&self) -> Vec<FakeCustomer> {
        lock(&self.shared.store).customers.clone()
    }

    pub fn checkouts(&self) -> Vec<FakeCheckout> {
        lock(&self.shared.store).checkouts.clone()
    }

    pub fn subscriptions(&self) -> Vec<FakeSubscription> {
        lock(&self.shared.store).subscriptions.clone()
    }

    /// Every meter event received, duplicates included.
    pub fn meter_events(&self) -> Vec<FakeMeterEvent> {
        lock(&self.shared.store).meter_events.clone()
    }

    /// What the meter bills `customer`: each identifier counted once.
    pub fn metered(&self, customer: &str) -> u64 {
        let store = lock(&self.shared.store);
        let mut seen = std::collections::HashSet::new();
        store
            .meter_events
            .iter()
            .filter(|event| event.customer == customer && seen.insert(event.identifier.clone()))
            .map(|event| event.value)
            .sum()
    }

    /// Every event sent so far with our webhook's answer (0 when it could not be reached).
    pub fn deliveries(&self) -> Vec<(Value, u16)> {
        lock(&self.shared.store).deliveries.clone()
    }

    /// Pays Checkout Session `id` as its hosted page does: creates the subscription and sends
    /// `customer.subscription.created` and `checkout.session.completed`. Returns the subscription.
    pub async fn pay(&self, id: &str) -> Option<String> {
        let (subscription, events) = self.shared.complete_checkout(id)?;
        for event in events {
            self.shared.deliver(&event).await;
        }
        Some(subscription)
    }

    /// Changes subscription `id` with `change` (as Stripe's own billing would); the updated
    /// object, to build an event with.
    pub fn update_subscription(
        &self,
        id: &str,
        change: impl FnOnce(&mut FakeSubscription),
    ) -> Option<Value> {
        let mut store = lock(&self.shared.store);
        let subscription = store.subscriptions.iter_mut().find(|sub| sub.id == id)?;
        change(subscription);
        Some(self.shared.subscription_json(subscription))
    }

    /// The current JSON of subscription `id`.
    pub fn subscription_json(&self, id: &str) -> Option<Value> {
        let store = lock(&self.shared.store);
        let subscription = store.subscriptions.iter().find(|sub| sub.id == id)?;
        Some(self.shared.subscription_json(subscription))
    }

    /// A new event of `type_name` about `object`, as Stripe builds them.
    pub fn event(&self, type_name: &str, object: Value) -> Value {
        self.shared.event(type_name, object)
    }

    /// An invoice event (`invoice.paid`, `invoice.payment_failed`) for subscription `id`.
    pub fn invoice_event(&self, type_name: &str, subscription: &str) -> Option<Value> {
        let store = lock(&self.shared.store);
        let sub = store
            .subscriptions
            .iter()
            .find(|sub| sub.id == subscription)?;
        let invoice = json!({
            "id": self.shared.new_id("in"),
            "object": "invoice",
            "customer": sub.customer,
            "status": if type_name == "invoice.paid" { "paid" } else { "open" },
            "parent": {
                "type": "subscription_details",
                "subscription_details": { "subscription": sub.id, "metadata": {} },
            },
        });
        drop(store);
        Some(self.shared.event(type_name, invoice))
    }

    /// Signs `event` at the fake's now: the `Stripe-Signature` header and the body.
    pub fn sign(&self, event: &Value) -> (String, Vec<u8>) {
        self.shared.sign(event)
    }

    /// Posts `event`, signed, to the webhook; the status it answered (0: unreachable).
    pub async fn deliver(&self, event: &Value) -> u16 {
        self.shared.deliver(event).await
    }
}

impl Shared {
    fn new_id(&self, prefix: &str) -> String {
        let n = self.next_id.fetch_add(1, Ordering::SeqCst);
        format!("{prefix}_fake{n:014}")
    }

    fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    fn event(&self, type_name: &str, object: Value) -> Value {
        json!({
            "id": self.new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "livemode": false,
            "pending_webhooks": 1,
            "request": { "id": null, "idempotency_key": null },
            "type": type_name,
            "data": { "object": object },
        })
    }

    fn sign(&self, event: &Value) -> (String, Vec<u8>) {
        let body = serde_json::to_vec(event).unwrap_or_default();
        (
            signature::sign(&self.webhook_secret, self.now(), &body),
            body,
        )
    }

    async fn deliver(&self, event: &Value) -> u16 {
        let Some(url) = lock(&self.webhook_url).clone() else {
            return 0;
        };
        let (header, body) = self.sign(event);
        let status = self
            .client
            .post(&url)
            .header("Stripe-Signature", header)
            .header("Content-Type", "application/json; charset=utf-8")
            .body(body)
            .send()
            .await
            .map_or(0, |response| response.status().as_u16());
        lock(&self.store).deliveries.push((event.clone(), status));
        status
    }

    fn subscription_json(&self, sub: &FakeSubscription) -> Value {
        let items: Vec<Value> = sub
            .prices
            .iter()
            .enumerate()
            .map(|(index, price)| self.item_json(sub, index, price))
            .collect();
        json!({
            "id": sub.id,
            "object": "subscription",
            "automatic_tax": { "enabled": false, "liability": null },
            "billing_cycle_anchor": sub.period.0,
            "billing_mode": { "type": "classic" },
            "billing_schedules": [],
            "cancel_at_period_end": sub.cancel_at_period_end,
            "collection_method": "charge_automatically",
            "created": sub.created,
            "currency": "gbp",
            "customer": sub.customer,
            "discounts": [],
            "invoice_settings": { "issuer": { "type": "self" } },
            "items": {
                "object": "list",
                "data": items,
                "has_more": false,
                "url": format!("/v1/subscription_items?subscription={}", sub.id),
            },
            "livemode": false,
            "metadata": {},
            "start_date": sub.created,
            "status": sub.status,
            "trial_start": sub.trial_end.map(|_| sub.created),
            "trial_end": sub.trial_end,
        })
    }

    fn item_json(&self, sub: &FakeSubscription, index: usize, price: &str) -> Value {
        let metered = index > 0;
        json!({
            "id": format!("si_{}_{index}", sub.id.trim_start_matches("sub_")),
            "object": "subscription_item",
            "created": sub.created,
            "current_period_start": sub.period.0,
            "current_period_end": sub.period.1,
            "discounts": [],
            "metadata": {},
            "subscription": sub.id,
            "price": {
                "id": price,
                "object": "price",
                "active": true,
                "billing_scheme": "per_unit",
                "created": sub.created,
                "currency": "gbp",
                "livemode": false,
                "metadata": {},
                "product": "prod_fake_ringback",
                "type": "recurring",
                "recurring": {
                    "interval": "month",
                    "interval_count": 1,
                    "usage_type": if metered { "metered" } else { "licensed" },
                },
            },
            "plan": {
                "id": price,
                "object": "plan",
                "active": true,
                "billing_scheme": "per_unit",
                "created": sub.created,
                "currency": "gbp",
                "interval": "month",
                "interval_count": 1,
                "livemode": false,
                "usage_type": if metered { "metered" } else { "licensed" },
            },
            "quantity": if metered { Value::Null } else { json!(1) },
        })
    }

    /// Completes Checkout Session `id`: its subscription and the events to send.
    fn complete_checkout(&self, id: &str) -> Option<(String, Vec<Value>)> {
        let now = self.now();
        let sub_id = self.new_id("sub");
        let mut store = lock(&self.store);
        let checkout = store.checkouts.iter_mut().find(|c| c.id == id)?;
        if checkout.status != "open" {
            return None;
        }
        checkout.status = "complete".to_owned();
        checkout.subscription = Some(sub_id.clone());
        let checkout = checkout.clone();
        // A trial's period ends with it; Stripe bills the first period then.
        let (status, period_end) = match checkout.trial_end {
            Some(trial_end) if trial_end > now => ("trialing", trial_end),
            _ => (
                "active",
                (self.clock.now() + Duration::days(30)).timestamp(),
            ),
        };
        let subscription = FakeSubscription {
            id: sub_id.clone(),
            customer: checkout.customer.clone(),
            status: status.to_owned(),
            prices: checkout.prices.clone(),
            period: (now, period_end),
            cancel_at_period_end: false,
            created: now,
            trial_end: (status == "trialing").then_some(period_end),
        };
        let created = self.event(
            "customer.subscription.created",
            self.subscription_json(&subscription),
        );
        store.subscriptions.push(subscription);
        let completed = self.event(
            "checkout.session.completed",
            json!({
                "id": checkout.id,
                "object": "checkout.session",
                "mode": checkout.mode,
                "customer": checkout.customer,
                "client_reference_id": checkout.client_reference_id,
                "subscription": sub_id,
                "status": "complete",
                "payment_status": "paid",
                "metadata": checkout.metadata,
            }),
        );
        Some((sub_id, vec![created, completed]))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Stripe's error body.
fn stripe_error(status: StatusCode, kind: &str, code: Option<&str>, message: &str) -> Response {
    let body = json!({ "error": { "type": kind, "code": code, "message": message } });
    (status, Json(body)).into_response()
}

/// A form body's fields, percent-decoded, bracket names kept as they are.
fn fields(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The `metadata[…]` fields.
fn metadata(fields: &[(String, String)]) -> HashMap<String, String> {
    fields
        .iter()
        .filter_map(|(key, value)| {
            key.strip_prefix("metadata[")
                .and_then(|rest| rest.strip_suffix(']'))
                .map(|name| (name.to_owned(), value.clone()))
        })
        .collect()
}

/// The refusal of a request without our secret key, or of one failing on purpose.
fn refusal(shared: &Shared, request: &Request) -> Option<Response> {
    use base64::Engine;
    // Stripe takes the key as a Bearer token, or as the Basic user name (`curl -u sk_…:`).
    let bearer = format!("Bearer {}", shared.secret_key);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:", shared.secret_key))
    );
    let given = request
        .headers()
        .get("Authorization")
        .and_then(|value| value.to_str().ok());
    if given != Some(bearer.as_str()) && given != Some(basic.as_str()) {
        return Some(stripe_error(
            StatusCode::UNAUTHORIZED,
            "invalid_request_error",
            None,
            "Invalid API Key provided",
        ));
    }
    let failing = shared
        .failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    failing.then(|| {
        stripe_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "api_error",
            None,
            "An unknown error occurred",
        )
    })
}

/// Holds an API request while the fake is told to ([`FakeStripe::hold`]).
async fn wait_while_held<E: poem::Endpoint>(
    endpoint: E,
    request: Request,
) -> poem::Result<Response> {
    let shared = request.data::<Arc<Shared>>().cloned();
    if let Some(shared) = shared.filter(|_| request.uri().path().starts_with("/v1/")) {
        let mut holding = shared.holding.subscribe();
        if *holding.borrow() {
            shared.held.fetch_add(1, Ordering::SeqCst);
            let _ = holding.wait_for(|held| !held).await;
            shared.held.fetch_sub(1, Ordering::SeqCst);
        }
    }
    endpoint
        .call(request)
        .await
        .map(IntoResponse::into_response)
}

/// The form body of an authorised request, or its refusal.
async fn form_of(
    shared: &Shared,
    request: &Request,
    body: poem::Body,
) -> Result<Vec<(String, String)>, Box<Response>> {
    if let Some(refused) = refusal(shared, request) {
        return Err(Box::new(refused));
    }
    Ok(fields(&body.into_vec().await.unwrap_or_default()))
}

fn missing(name: &str) -> Response {
    stripe_error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        Some("parameter_missing"),
        &format!("Missing required param: {name}."),
    )
}

#[handler]
async fn create_customer(
    request: &Request,
    body: poem::Body,
    Data(shared): Data<&Arc<Shared>>,
) -> Response {
    let fields = match form_of(shared, request, body).await {
        Ok(fields) => fields,
        Err(refused) => return *refused,
    };
    let idempotency = request
        .headers()
        .get("Idempotency-Key")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let mut store = lock(&shared.store);
    let known = idempotency
        .as_ref()
        .and_then(|key| store.idempotent_customers.get(key))
        .and_then(|id| store.customers.iter().find(|c| &c.id == id))
        .cloned();
    let customer = match known {
        Some(customer) => customer,
        None => {
            let customer = FakeCustomer {
                id: shared.new_id("cus"),
                email: field(&fields, "email").map(str::to_owned),
                metadata: metadata(&fields),
            };
            if let Some(key) = idempotency {
                store.idempotent_customers.insert(key, customer.id.clone());
            }
            store.customers.push(customer.clone());
            customer
        }
    };
    Json(json!({
        "id": customer.id,
        "object": "customer",
        "created": shared.now(),
        "email": customer.email,
        "livemode": false,
        "metadata": customer.metadata,
    }))
    .into_response()
}

#[handler]
async fn create_checkout(
    request: &Request,
    body: poem::Body,
    Data(shared): Data<&Arc<Shared>>,
) -> Response {
    let fields = match form_of(shared, request, body).await {
        Ok(fields) => fields,
        Err(refused) => return *refused,
    };
    let (Some(mode), Some(success_url), Some(cancel_url)) = (
        field(&fields, "mode"),
        field(&fields, "success_url"),
        field(&fields, "cancel_url"),
    ) else {
        return missing("mode, success_url or cancel_url");
    };
    let Some(customer) = field(&fields, "customer") else {
        return missing("customer");
    };
    let prices: Vec<String> = (0..)
        .map_while(|index| field(&fields, &format!("line_items[{index}][price]")))
        .map(str::to_owned)
        .collect();
    if prices.is_empty() {
        return missing("line_items");
    }
    let trial_end = match trial_end_of(&fields, shared.now()) {
        Ok(trial_end) => trial_end,
        Err(refused) => return *refused,
    };
    let mut store = lock(&shared.store);
    if !store.customers.iter().any(|c| c.id == customer) {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("resource_missing"),
            &format!("No such customer: '{customer}'"),
        );
    }
    let checkout = FakeCheckout {
        id: shared.new_id("cs_test"),
        customer: customer.to_owned(),
        client_reference_id: field(&fields, "client_reference_id").map(str::to_owned),
        mode: mode.to_owned(),
        prices,
        success_url: success_url.to_owned(),
        cancel_url: cancel_url.to_owned(),
        metadata: metadata(&fields),
        subscription: None,
        status: "open".to_owned(),
        created: shared.now(),
        trial_end,
    };
    store.checkouts.push(checkout.clone());
    Json(checkout_json(shared, &checkout)).into_response()
}

/// The Checkout Session's `subscription_data[trial_end]`, if given: refused, as Stripe does, when
/// not a timestamp at least 48 hours after `now`.
fn trial_end_of(fields: &[(String, String)], now: i64) -> Result<Option<i64>, Box<Response>> {
    let Some(given) = field(fields, "subscription_data[trial_end]") else {
        return Ok(None);
    };
    match given.parse::<i64>() {
        Ok(trial_end) if trial_end >= now + 48 * 3600 => Ok(Some(trial_end)),
        _ => Err(Box::new(stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            "The `trial_end` date has to be at least 2 days in the future.",
        ))),
    }
}

/// A Checkout Session as Stripe's API returns it.
fn checkout_json(shared: &Shared, checkout: &FakeCheckout) -> Value {
    json!({
        "id": checkout.id,
        "object": "checkout.session",
        "automatic_tax": { "enabled": false },
        "client_reference_id": checkout.client_reference_id,
        "created": checkout.created,
        "custom_fields": [],
        "custom_text": {},
        "customer": checkout.customer,
        "expires_at": checkout.created + 24 * 3600,
        "livemode": false,
        "metadata": checkout.metadata,
        "mode": checkout.mode,
        "payment_method_types": ["card"],
        "payment_status": if checkout.status == "complete" { "paid" } else { "unpaid" },
        "shipping_options": [],
        "status": checkout.status,
        "subscription": checkout.subscription,
        "success_url": checkout.success_url,
        "cancel_url": checkout.cancel_url,
        "url": (checkout.status == "open").then(|| format!("{}/pay/{}", shared.base_url, checkout.id)),
    })
}

/// `POST /v1/checkout/sessions/{id}/expire`: an open session can no longer be paid; Stripe
/// refuses to expire one that is not open.
#[handler]
async fn expire_checkout(
    request: &Request,
    Path(id): Path<String>,
    Data(shared): Data<&Arc<Shared>>,
) -> Response {
    if let Some(refused) = refusal(shared, request) {
        return refused;
    }
    let mut store = lock(&shared.store);
    match store.checkouts.iter_mut().find(|c| c.id == id) {
        Some(checkout) if checkout.status == "open" => {
            checkout.status = "expired".to_owned();
            let expired = checkout.clone();
            drop(store);
            Json(checkout_json(shared, &expired)).into_response()
        }
        Some(_) => stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            "Only Checkout Sessions with a status in [\"open\"] can be expired.",
        ),
        None => stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("resource_missing"),
            &format!("No such checkout.session: '{id}'"),
        ),
    }
}

#[handler]
async fn create_portal(
    request: &Request,
    body: poem::Body,
    Data(shared): Data<&Arc<Shared>>,
) -> Response {
    let fields = match form_of(shared, request, body).await {
        Ok(fields) => fields,
        Err(refused) => return *refused,
    };
    let Some(customer) = field(&fields, "customer") else {
        return missing("customer");
    };
    let return_url = field(&fields, "return_url").unwrap_or_default().to_owned();
    let id = shared.new_id("bps");
    lock(&shared.store)
        .portal_sessions
        .push((id.clone(), return_url.clone()));
    Json(json!({
        "id": id,
        "object": "billing_portal.session",
        "configuration": "bpc_fake_default",
        "created": shared.now(),
        "customer": customer,
        "livemode": false,
        "return_url": return_url,
        "url": format!("{}/portal/{id}", shared.base_url),
    }))
    .into_response()
}

#[handler]
async fn retrieve_subscription(
    request: &Request,
    Path(id): Path<String>,
    Data(shared): Data<&Arc<Shared>>,
) -> Response {
    if let Some(refused) = refusal(shared, request) {
        return refused;
    }
    let store = lock(&shared.store);
    match store.subscriptions.iter().find(|sub| sub.id == id) {
        Some(sub) => Json(shared.subscription_json(sub)).into_response(),
        None => no_such_subscription(&id),
    }
}

/// `DELETE /v1/subscriptions/:id`: cancels the subscription at once.
#[handler]
async fn cancel_subscription(
    request: &Request,
    Path(id): Path<String>,
    Data(shared): Data<&Arc<Shared>>,
) -> Response {
    if let Some(refused) = refusal(shared, request) {
        return refused;
    }
    let mut store = lock(&shared.store);
    match store.subscriptions.iter_mut().find(|sub| sub.id == id) {
        Some(sub) if sub.status != "canceled" => {
            sub.status = "canceled".to_owned();
            Json(shared.subscription_json(sub)).into_response()
        }
        _ => no_such_subscription(&id),
    }
}

/// Stripe's answer about a subscription it does not know (or no longer runs).
fn no_such_subscription(id: &str) -> Response {
    stripe_error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        Some("resource_missing"),
        &format!("No such subscription: '{id}'"),
    )
}

/// `GET /v1/subscriptions?customer=…&status=…`: a customer's subscriptions, newest first (without
/// a status, those not cancelled).
#[handler]
async fn list_subscriptions(request: &Request, Data(shared): Data<&Arc<Shared>>) -> Response {
    let (customer, status) = match list_filters(shared, request) {
        Ok(filters) => filters,
        Err(refused) => return *refused,
    };
    let (customer, status) = (customer.as_deref(), status.as_deref());
    let store = lock(&shared.store);
    let listed: Vec<Value> = store
        .subscriptions
        .iter()
        .rev()
        .filter(|sub| customer.is_none_or(|customer| sub.customer == customer))
        .filter(|sub| match status {
            // Without a status, Stripe lists the subscriptions that are not cancelled.
            None => sub.status != "canceled",
            Some("all") => true,
            Some(wanted) => sub.status == wanted,
        })
        .map(|sub| shared.subscription_json(sub))
        .collect();
    list_answer("/v1/subscriptions", listed)
}

/// A list request's `customer` and `status` filters, or the refusal of its key.
fn list_filters(
    shared: &Shared,
    request: &Request,
) -> Result<(Option<String>, Option<String>), Box<Response>> {
    if let Some(refused) = refusal(shared, request) {
        return Err(Box::new(refused));
    }
    let query = fields(request.uri().query().unwrap_or_default().as_bytes());
    let named = |name: &str| field(&query, name).map(str::to_owned);
    Ok((named("customer"), named("status")))
}

/// Stripe's list envelope around `data`, all on one page.
fn list_answer(url: &str, data: Vec<Value>) -> Response {
    Json(json!({ "object": "list", "data": data, "has_more": false, "url": url })).into_response()
}

/// `GET /v1/checkout/sessions?customer=…&status=…`: a customer's sessions, newest first.
#[handler]
async fn list_checkouts(request: &Request, Data(shared): Data<&Arc<Shared>>) -> Response {
    let (customer, status) = match list_filters(shared, request) {
        Ok(filters) => filters,
        Err(refused) => return *refused,
    };
    let (customer, status) = (customer.as_deref(), status.as_deref());
    let store = lock(&shared.store);
    let listed: Vec<Value> = store
        .checkouts
        .iter()
        .rev()
        .filter(|checkout| customer.is_none_or(|customer| checkout.customer == customer))
        .filter(|checkout| status.is_none_or(|status| checkout.status == status))
        .map(|checkout| checkout_json(shared, checkout))
        .collect();
    list_answer("/v1/checkout/sessions", listed)
}

#[handler]
async fn create_meter_event(
    request: &Request,
    body: poem::Body,
    Data(shared): Data<&Arc<Shared>>,
) -> Response {
    let fields = match form_of(shared, request, body).await {
        Ok(fields) => fields,
        Err(refused) => return *refused,
    };
    let (Some(event_name), Some(customer), Some(value)) = (
        field(&fields, "event_name"),
        field(&fields, "payload[stripe_customer_id]"),
        field(&fields, "payload[value]").and_then(|v| v.parse::<u64>().ok()),
    ) else {
        return missing("event_name or payload");
    };
    let identifier = field(&fields, "identifier")
        .map(str::to_owned)
        .unwrap_or_else(|| shared.new_id("mev"));
    let now = shared.now();
    let timestamp = field(&fields, "timestamp")
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(now);
    let event = FakeMeterEvent {
        event_name: event_name.to_owned(),
        identifier: identifier.clone(),
        customer: customer.to_owned(),
        value,
        timestamp,
    };
    lock(&shared.store).meter_events.push(event);
    Json(json!({
        "object": "billing.meter_event",
        "created": now,
        "event_name": event_name,
        "identifier": identifier,
        "livemode": false,
        "payload": { "stripe_customer_id": customer, "value": value.to_string() },
        "timestamp": timestamp,
    }))
    .into_response()
}

/// Stripe's hosted Checkout page, reduced to a summary and a Pay button.
#[handler]
fn checkout_page(Path(id): Path<String>, Data(shared): Data<&Arc<Shared>>) -> Response {
    let store = lock(&shared.store);
    let Some(checkout) = store.checkouts.iter().find(|c| c.id == id) else {
        return (StatusCode::NOT_FOUND, "no such Checkout Session").into_response();
    };
    if checkout.status == "expired" {
        return (StatusCode::GONE, "This Checkout Session has expired.").into_response();
    }
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Checkout</title></head>\
         <body><main><h1>Subscribe</h1><p id=\"prices\">{}</p>\
         <form method=\"post\" action=\"/pay/{id}\"><button id=\"pay\" type=\"submit\">Pay</button></form>\
         <p><a id=\"cancel\" href=\"{}\">Back</a></p></main></body></html>",
        checkout.prices.join(", "),
        checkout.cancel_url
    ))
    .into_response()
}

/// Paying on the hosted page: the subscription starts, its events go out, and the browser
/// returns to the success URL (the events may arrive before or after it does).
#[handler]
async fn pay_page(Path(id): Path<String>, Data(shared): Data<&Arc<Shared>>) -> Response {
    let success_url = lock(&shared.store)
        .checkouts
        .iter()
        .find(|c| c.id == id)
        .map(|c| c.success_url.clone());
    let Some(success_url) = success_url else {
        return (StatusCode::NOT_FOUND, "no such Checkout Session").into_response();
    };
    if let Some((_, events)) = shared.complete_checkout(&id) {
        let shared = Arc::clone(shared);
        tokio::spawn(async move {
            for event in events {
                shared.deliver(&event).await;
            }
        });
    }
    Redirect::see_other(success_url).into_response()
}

/// Stripe's Customer Portal, reduced to a link back.
#[handler]
fn portal_page(Path(id): Path<String>, Data(shared): Data<&Arc<Shared>>) -> Response {
    let store = lock(&shared.store);
    let Some((_, return_url)) = store.portal_sessions.iter().find(|(sid, _)| *sid == id) else {
        return (StatusCode::NOT_FOUND, "no such portal session").into_response();
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Billing portal</title></head>\
         <body><main><h1>Manage billing</h1><p><a id=\"return\" href=\"{return_url}\">Return</a></p></main></body></html>"
    ))
    .into_response()
}
