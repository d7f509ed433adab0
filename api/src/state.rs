//! Shared application state handed to every request.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::rate_limit::RateLimits;
use crate::auth::session::SessionKeys;
use crate::config::Config;
use crate::secrets::Secrets;

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub secrets: Arc<Secrets>,
    pub session_keys: SessionKeys,
    pub rate_limits: Arc<RateLimits>,
}

impl AppState {
    /// State for a server on `db` with `config` and `secrets`.
    pub fn new(db: DatabaseConnection, config: Config, secrets: Secrets) -> Self {
        Self {
            session_keys: SessionKeys::new(secrets.session_secret.expose()),
            db,
            config: Arc::new(config),
            secrets: Arc::new(secrets),
            rate_limits: Arc::new(RateLimits::default()),
        }
    }
}
