//! Shared application state handed to every request.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::auth::rate_limit::RateLimits;
use crate::auth::session::SessionKeys;
use crate::clock::Clock;
use crate::config::Config;
use crate::integrations::sms::SmsProvider;
use crate::integrations::twilio::{DEFAULT_TIMEOUT, TwilioClient};
use crate::secrets::Secrets;
use crate::tenant::TenantScope;

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// Where every "now" comes from: the system clock in a deployment, a settable one in tests.
    pub clock: Clock,
    pub config: Arc<Config>,
    pub secrets: Arc<Secrets>,
    pub session_keys: SessionKeys,
    pub rate_limits: Arc<RateLimits>,
    /// Where texts go out; `None` when no provider account is configured (jobs then wait).
    pub sms: Option<Arc<dyn SmsProvider>>,
    /// Wakes the outbox workers when a request queues a job, so a text-back with no delay does
    /// not wait for the next poll.
    pub jobs_queued: Arc<Notify>,
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
        Self {
            clock,
            session_keys: SessionKeys::new(secrets.session_secret.expose()),
            sms: twilio_client(&config),
            db,
            config: Arc::new(config),
            secrets: Arc::new(secrets),
            rate_limits: Arc::new(RateLimits::default()),
            jobs_queued: Arc::new(Notify::new()),
        }
    }

    /// Where providers reach us: `RINGBACK_PUBLIC_URL`, or the listening address without a proxy.
    pub fn public_base(&self) -> String {
        self.config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.config.listen))
    }

    /// The door to `clinic_id`'s data, on this server's database and clock. `clinic_id` must come
    /// from a verified source (see [`TenantScope::new`]).
    pub fn tenant(&self, clinic_id: uuid::Uuid) -> TenantScope {
        TenantScope::new(self.db.clone(), self.clock.clone(), clinic_id)
    }

    /// Tells the workers that a job is waiting.
    pub fn wake_workers(&self) {
        self.jobs_queued.notify_waiters();
        self.jobs_queued.notify_one();
    }
}

/// A Twilio client when both the account sid and the auth token are configured.
fn twilio_client(config: &Config) -> Option<Arc<dyn SmsProvider>> {
    let account = config.twilio.account()?;
    match TwilioClient::new(account, DEFAULT_TIMEOUT) {
        Ok(client) => Some(Arc::new(client)),
        Err(error) => {
            tracing::error!(%error, "the Twilio client could not be built; texts will wait");
            None
        }
    }
}
