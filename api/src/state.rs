//! Shared application state handed to every request.

use std::sync::Arc;

use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use crate::auth::rate_limit::RateLimits;
use crate::auth::session::SessionKeys;
use crate::config::Config;
use crate::integrations::sms::SmsProvider;
use crate::integrations::twilio::{DEFAULT_TIMEOUT, TwilioAccount, TwilioClient};
use crate::secrets::Secrets;

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
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
    /// State for a server on `db` with `config` and `secrets`.
    pub fn new(db: DatabaseConnection, config: Config, secrets: Secrets) -> Self {
        Self {
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

    /// Tells the workers that a job is waiting.
    pub fn wake_workers(&self) {
        self.jobs_queued.notify_waiters();
        self.jobs_queued.notify_one();
    }
}

/// A Twilio client when both the account sid and the auth token are configured.
fn twilio_client(config: &Config) -> Option<Arc<dyn SmsProvider>> {
    let account = TwilioAccount {
        api_url: config.twilio_api_url.clone(),
        account_sid: config.twilio_account_sid.clone()?,
        auth_token: config.twilio_auth_token.clone()?,
    };
    match TwilioClient::new(account, DEFAULT_TIMEOUT) {
        Ok(client) => Some(Arc::new(client)),
        Err(error) => {
            tracing::error!(%error, "the Twilio client could not be built; texts will wait");
            None
        }
    }
}
