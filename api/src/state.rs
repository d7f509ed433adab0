//! Shared application state handed to every request.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::config::Config;
use crate::secrets::Secrets;

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub config: Arc<Config>,
    pub secrets: Arc<Secrets>,
}
