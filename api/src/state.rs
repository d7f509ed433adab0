//! Shared application state handed to every request.

use std::ops::Deref;
use std::sync::Arc;

use ringback_domain::Backend;
use sea_orm::DatabaseConnection;

use crate::clock::Clock;
use crate::config::Config;
use crate::integrations::numbers::NumberDirectory;
use crate::integrations::sms::SmsProvider;
use crate::integrations::twilio::{DEFAULT_TIMEOUT, TwilioClient};
use crate::secrets::Secrets;
use ringback_domain::auth::rate_limit::RateLimits;
use ringback_domain::service::billing::BillingContext;
use ringback_domain::service::calendar::CalendarDesk;
use ringback_domain::service::click_to_call::VoiceLine;
use ringback_domain::service::mail_links::MailLinks;
use ringback_domain::service::numbers::NumberDesk;
use ringback_providers::anthropic::{
    AnthropicClient, ConversationModel, DEFAULT_TIMEOUT as ANTHROPIC_TIMEOUT, RetryPolicy,
};
use ringback_providers::google::{
    CalendarProvider, DEFAULT_TIMEOUT as GOOGLE_TIMEOUT, GoogleCalendar,
};
use ringback_providers::mail::Mailer;
use ringback_providers::records::ProviderRecords;
use ringback_providers::stripe::client::StripeBilling;
use ringback_providers::voice::CallPlacer;

/// Everything a request handler may need: the domain's [`Backend`] (database, clock, secrets,
/// session keys, rate limits, the workers' wake-up; reachable through `Deref`) plus what only the
/// binary knows, its configuration and its providers. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub backend: Backend,
    pub config: Arc<Config>,
    /// Where texts go out; `None` when no provider account is configured (jobs then wait).
    pub sms: Option<Arc<dyn SmsProvider>>,
}

impl Deref for AppState {
    type Target = Backend;

    fn deref(&self) -> &Backend {
        &self.backend
    }
}

impl AppState {
    /// State for a server on `db` with `config` and `secrets`, on the system clock.
    pub fn new(db: DatabaseConnection, config: Config, secrets: Secrets) -> Self {
        Self::with_clock(db, config, secrets, Clock::system())
    }

    /// State whose "now" comes from `clock`; only tests pass anything but the system clock.
    pub fn with_clock(
        db: DatabaseConnection,
        config: Config,
        secrets: Secrets,
        clock: Clock,
    ) -> Self {
        let twilio = twilio_client(&config);
        let mut backend = Backend::new(db, config.database_kind, secrets, clock);
        backend.numbers = twilio.clone().map(|client| NumberDesk {
            directory: client as Arc<dyn NumberDirectory>,
            public_base: public_base(&config),
        });
        backend.mail = mail_links(&config);
        backend.billing = billing_context(&config);
        backend.ai_model = ai_model(&config);
        backend.calendar = calendar_desk(&config);
        backend.ai_answer_within = config.anthropic.answer_within;
        backend.rate_limits = Arc::new(RateLimits::new(&config.rate_limits));
        backend.voice = twilio.clone().map(|client| VoiceLine {
            placer: client as Arc<dyn CallPlacer>,
            public_base: public_base(&config),
        });
        backend.provider_records = twilio
            .clone()
            .map(|client| client as Arc<dyn ProviderRecords>);
        Self {
            backend,
            sms: twilio.map(|client| client as Arc<dyn SmsProvider>),
            config: Arc::new(config),
        }
    }

    /// Where providers reach us: `RINGBACK_PUBLIC_URL`, or the listening address without a proxy.
    pub fn public_base(&self) -> String {
        public_base(&self.config)
    }
}

fn public_base(config: &Config) -> String {
    config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen))
}

/// The mailer and the public URL its links use, when mail is configured (the configuration
/// already proved both).
fn mail_links(config: &Config) -> Option<MailLinks> {
    let settings = config.mail.as_ref()?;
    let public_url = config.public_url.clone()?;
    match Mailer::new(settings) {
        Ok(mailer) => Some(MailLinks {
            mailer: Arc::new(mailer),
            public_url,
        }),
        Err(error) => {
            tracing::error!(%error, "mail is configured but unusable; sign-up confirms no address");
            None
        }
    }
}

/// Billing's settings and Stripe client, when a Stripe key is configured.
fn billing_context(config: &Config) -> Option<Arc<BillingContext>> {
    let settings = config.billing.clone()?;
    let public_url = config.public_url.clone()?;
    match StripeBilling::new(&settings) {
        Ok(stripe) => Some(Arc::new(BillingContext {
            settings,
            stripe: Arc::new(stripe),
            public_url,
        })),
        Err(error) => {
            tracing::error!(%error, "billing is configured but its Stripe client could not be built");
            None
        }
    }
}

/// The Google Calendar client and the URL events link to, when a service account is configured.
fn calendar_desk(config: &Config) -> Option<CalendarDesk> {
    match GoogleCalendar::new(&config.google, GOOGLE_TIMEOUT) {
        Ok(client) => client.map(|client| CalendarDesk {
            provider: Arc::new(client) as Arc<dyn CalendarProvider>,
            public_url: public_base(config),
        }),
        Err(error) => {
            tracing::error!(%error, "the Google Calendar client could not be built; calendars are off");
            None
        }
    }
}

/// The Anthropic client, when a key is configured.
fn ai_model(config: &Config) -> Option<Arc<dyn ConversationModel>> {
    let settings = &config.anthropic;
    match AnthropicClient::new(settings, ANTHROPIC_TIMEOUT, RetryPolicy::default()) {
        Ok(client) => client.map(|client| Arc::new(client) as Arc<dyn ConversationModel>),
        Err(error) => {
            tracing::error!(%error, "the Anthropic client could not be built; the AI stays off");
            None
        }
    }
}

/// A Twilio client when both the account sid and the auth token are configured.
fn twilio_client(config: &Config) -> Option<Arc<TwilioClient>> {
    let account = config.twilio.account()?;
    match TwilioClient::new(account, DEFAULT_TIMEOUT) {
        Ok(client) => Some(Arc::new(client)),
        Err(error) => {
            tracing::error!(%error, "the Twilio client could not be built; texts will wait");
            None
        }
    }
}
