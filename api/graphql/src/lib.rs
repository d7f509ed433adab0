//! The GraphQL layer: per-domain query and mutation objects merged into one root, with depth and
//! complexity limits so that no single request can monopolise the server. Resolvers check access
//! ([`guard`]) and call domain services; they hold no business rules. No web framework lives here:
//! the binary authenticates the request and hands it, with the
//! [`Caller`](ringback_domain::auth::Caller) and [`RequestInfo`], to [`execute`], which bounds its
//! shape, adds the DataLoaders and runs it on the schema (checking only depth, complexity and
//! fragment cycles again for a request that passed every validation rule before: [`validated`]).

// The merged roots nest every query and mutation object; proving their futures `Send` goes
// deeper than the default limit.
#![recursion_limit = "256"]

mod account;
mod activity;
mod ai_receptionist;
mod api_keys;
mod appointments;
mod audit;
mod billing;
pub mod bounds;
mod calendar;
mod calls;
mod click_to_call;
mod clinic;
mod conversations;
mod documents;
pub mod error;
mod export;
mod guard;
mod inbox;
mod kept;
mod leaving;
pub mod loaders;
mod metrics;
mod notifications;
mod numbers;
mod outbox;
mod phone_settings;
mod plain;
mod privacy;
mod server_info;
mod setup;
mod team;
pub mod types;
mod validated;
mod what_if;
mod worklist;

use std::net::IpAddr;
use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptySubscription, MergedObject, Schema, ValidationMode};
use ringback_core::secrets::Secrets;
use ringback_domain::Backend;
use ringback_domain::auth::Caller;

use crate::loaders::{CallLoader, ConversationLoader, CreditLoader};
use crate::validated::{Checked, Validated};

pub use server_info::{DatabaseEngine, ServerInfo};

/// The merged root query.
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    server_info::ServerInfoQuery,
    account::AccountQuery,
    activity::ActivityQuery,
    clinic::ClinicQuery,
    team::TeamQuery,
    api_keys::ApiKeyQuery,
    calls::CallQuery,
    appointments::AppointmentQuery,
    metrics::MetricsQuery,
    billing::BillingQuery,
    audit::AuditQuery,
    phone_settings::PhoneSettingsQuery,
    numbers::NumbersQuery,
    setup::SetupQuery,
    conversations::ConversationQuery,
    inbox::InboxQuery,
    outbox::OutboxQuery,
    worklist::WorklistQuery,
    click_to_call::ClickToCallQuery,
    what_if::WhatIfQuery,
    export::ExportQuery,
    privacy::PrivacyQuery,
    ai_receptionist::AiReceptionistQuery,
    calendar::CalendarQuery,
    notifications::NotificationQuery,
);

/// The merged root mutation.
#[derive(MergedObject, Default)]
pub struct MutationRoot(
    account::AccountMutation,
    clinic::ClinicMutation,
    team::TeamMutation,
    api_keys::ApiKeyMutation,
    calls::CallMutation,
    appointments::AppointmentMutation,
    phone_settings::PhoneSettingsMutation,
    numbers::NumbersMutation,
    conversations::ConversationMutation,
    outbox::OutboxMutation,
    worklist::WorklistMutation,
    click_to_call::ClickToCallMutation,
    billing::BillingMutation,
    privacy::PrivacyMutation,
    leaving::LeavingMutation,
    ai_receptionist::AiReceptionistMutation,
    calendar::CalendarMutation,
    notifications::NotificationMutation,
);

/// The schema as async-graphql builds it.
type RootSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// The schema served at `/graphql`, built twice: once checking every validation rule, once
/// checking only fragment cycles, depth and complexity for requests that passed every rule before
/// ([`validated`]). Cheap to clone.
#[derive(Clone)]
pub struct RingbackSchema {
    every_rule: RootSchema,
    rules_passed: RootSchema,
    validated: Arc<Validated>,
    /// The server's secrets, for the DataLoaders that open messages.
    secrets: Arc<Secrets>,
}

/// Deepest query nesting accepted.
pub const MAX_DEPTH: usize = 12;
/// Highest query complexity accepted.
pub const MAX_COMPLEXITY: usize = 500;

/// Facts about the HTTP request that resolvers may need (never the clinic: that comes from the
/// authenticated caller).
#[derive(Clone, Debug, Default)]
pub struct RequestInfo {
    pub client_address: Option<IpAddr>,
    pub refresh_cookie: Option<String>,
}

/// Runs `request` for `caller`: refused before anything runs when its shape breaks a bound
/// ([`bounds::check_request`]), else executed with what its resolvers need (`request_data`).
pub async fn execute(
    schema: &RingbackSchema,
    mut request: async_graphql::Request,
    caller: Caller,
    info: RequestInfo,
) -> async_graphql::Response {
    if let Err(refusal) = bounds::check_request(&mut request) {
        return async_graphql::Response::from_errors(vec![refusal]);
    }
    let checked = Checked::of(&request);
    let request = request_data(request, caller, info, &schema.secrets);
    match checked {
        Some(checked) if schema.validated.passed(&checked) => {
            schema.rules_passed.execute(request).await
        }
        Some(checked) => {
            let response = schema.every_rule.execute(request).await;
            if response.errors.is_empty() {
                schema.validated.keep(checked);
            }
            response
        }
        None => schema.every_rule.execute(request).await,
    }
}

/// `request` with what its resolvers read besides the [`Backend`]: the `caller`, facts about the
/// HTTP request, and DataLoaders that open their transactions through the caller.
fn request_data(
    request: async_graphql::Request,
    caller: Caller,
    info: RequestInfo,
    secrets: &Arc<Secrets>,
) -> async_graphql::Request {
    let calls = CallLoader {
        caller: caller.clone(),
    };
    let credits = CreditLoader {
        caller: caller.clone(),
    };
    let conversations = ConversationLoader {
        caller: caller.clone(),
        secrets: Arc::clone(secrets),
    };
    request
        .data(info)
        .data(DataLoader::new(calls, tokio::spawn))
        .data(DataLoader::new(credits, tokio::spawn))
        .data(DataLoader::new(conversations, tokio::spawn))
        .data(caller)
}

/// Builds the schema with the domain's [`Backend`] available to resolvers; `introspection` off
/// answers `__schema` and `__type` with an error (the committed `schema.graphql` stays the
/// contract).
pub fn build_schema(backend: Backend, introspection: bool) -> RingbackSchema {
    RingbackSchema {
        secrets: Arc::clone(&backend.secrets),
        every_rule: root_schema(backend.clone(), introspection, ValidationMode::Strict),
        rules_passed: root_schema(backend, introspection, ValidationMode::Fast),
        validated: Arc::default(),
    }
}

/// The schema validating each request in `mode`.
fn root_schema(backend: Backend, introspection: bool, mode: ValidationMode) -> RootSchema {
    let builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .data(backend)
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .validation_mode(mode);
    if introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The schema in SDL, as committed in `schema.graphql` at the repository root.
pub fn sdl() -> String {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .finish()
    .sdl()
}
