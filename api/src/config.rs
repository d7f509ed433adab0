//! Typed configuration, read from `RINGBACK_*` environment variables and an optional TOML file
//! (`RINGBACK_CONFIG`). The environment wins over the file, the file over the defaults. A malformed
//! or missing setting is reported under the name the operator typed (`RINGBACK_LISTEN`, or `listen`
//! in the file), never with a secret's value.
//!
//! With no configuration at all the server runs on an embedded SQLite file inside the data
//! directory; secrets are then generated there (see [`crate::secrets`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::auth::client_address::TrustedProxies;

/// Prefix of every environment variable the server reads.
pub const ENV_PREFIX: &str = "RINGBACK_";

/// Settings the server understands, by their file name; the environment name is the upper-case
/// form with [`ENV_PREFIX`].
const KNOWN_KEYS: &[&str] = &[
    "listen",
    "public_url",
    "database_url",
    "migration_database_url",
    "data_dir",
    "web_dir",
    "pepper",
    "master_key",
    "session_secret",
    "twilio_auth_token",
    "twilio_account_sid",
    "twilio_api_url",
    "trusted_proxies",
    "log",
];

/// Settings whose values are secret and must never be echoed.
const SECRET_KEYS: &[&str] = &[
    "pepper",
    "master_key",
    "session_secret",
    "database_url",
    "migration_database_url",
    "twilio_auth_token",
];

/// Errors in the configuration. Each names the setting it is about.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{key} is malformed: {reason}")]
    Malformed { key: String, reason: String },
    #[error("{key} is required: {hint}")]
    Missing { key: String, hint: String },
    #[error("{key} is not a setting Ringback knows (known: {known})")]
    Unknown { key: String, known: String },
    #[error("configuration file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

/// Where a raw value came from, so errors can name it the way the operator wrote it.
#[derive(Clone, Debug)]
struct RawValue {
    value: String,
    origin: String,
}

/// Raw settings after layering file and environment, before parsing.
#[derive(Debug, Default)]
pub struct RawSettings {
    values: BTreeMap<&'static str, RawValue>,
    /// `RINGBACK_*` variables that match no setting: likely typos, reported as warnings because
    /// other tools (test harnesses, say) may share the prefix.
    pub unknown_env: Vec<String>,
}

impl RawSettings {
    /// Layers the optional file named by `RINGBACK_CONFIG` under the `RINGBACK_*` variables in `env`.
    pub fn load<I>(env: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let env: BTreeMap<String, String> = env
            .into_iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX))
            .collect();
        let mut settings = RawSettings::default();
        if let Some(path) = env.get("RINGBACK_CONFIG") {
            settings.merge_file(Path::new(path))?;
        }
        settings.merge_env(&env);
        Ok(settings)
    }

    fn merge_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let file_error = |reason: String| ConfigError::File {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| file_error(e.message().to_owned()))?;
        for (key, value) in table {
            let known = known_key(&key).ok_or_else(|| unknown(&key))?;
            let value = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                other => {
                    return Err(ConfigError::Malformed {
                        key: key.clone(),
                        reason: format!("expected a string, found {}", other.type_str()),
                    });
                }
            };
            self.values.insert(known, RawValue { value, origin: key });
        }
        Ok(())
    }

    fn merge_env(&mut self, env: &BTreeMap<String, String>) {
        for (name, value) in env {
            if name == "RINGBACK_CONFIG" {
                continue;
            }
            let key = name[ENV_PREFIX.len()..].to_ascii_lowercase();
            let Some(known) = known_key(&key) else {
                self.unknown_env.push(name.clone());
                continue;
            };
            self.values.insert(
                known,
                RawValue {
                    value: value.clone(),
                    origin: name.clone(),
                },
            );
        }
    }

    fn get(&self, key: &str) -> Option<&RawValue> {
        self.values.get(key)
    }

    /// The name under which `key` was supplied, or its environment name when it was not.
    pub fn origin(&self, key: &str) -> String {
        self.get(key)
            .map(|raw| raw.origin.clone())
            .unwrap_or_else(|| env_name(key))
    }

    /// The raw string for `key`, if it was supplied.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.get(key).map(|raw| raw.value.as_str())
    }

    /// Parses `key` with `parse`, naming the setting (never a secret's value) on failure.
    pub fn parse<T, E: std::fmt::Display>(
        &self,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(raw) = self.get(key) else {
            return Ok(None);
        };
        parse(&raw.value).map(Some).map_err(|e| {
            let reason = if SECRET_KEYS.contains(&key) {
                e.to_string()
            } else {
                format!("{e} (got {:?})", raw.value)
            };
            ConfigError::Malformed {
                key: raw.origin.clone(),
                reason,
            }
        })
    }
}

fn known_key(key: &str) -> Option<&'static str> {
    KNOWN_KEYS.iter().copied().find(|known| *known == key)
}

fn unknown(key: &str) -> ConfigError {
    ConfigError::Unknown {
        key: key.to_owned(),
        known: KNOWN_KEYS.join(", "),
    }
}

/// The environment variable that sets `key`.
pub fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

/// Which database engine a URL selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseKind {
    /// Reads the engine from a database URL's scheme.
    pub fn from_url(url: &str) -> Result<Self, String> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err("expected a sqlite: or postgres:// URL".to_owned())
        }
    }

    /// The engine's name as shown to users.
    pub fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// The server's parsed configuration, except secrets (see [`crate::secrets::Secrets`]).
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (the chosen URL is printed).
    pub listen: SocketAddr,
    /// The URL the outside world uses to reach us (behind a proxy it differs from `listen`).
    pub public_url: Option<String>,
    pub database_url: String,
    pub database_kind: DatabaseKind,
    /// The tables' owner, for `ringback migrate` and `ringback audit verify`; the application
    /// itself connects with `database_url`, a role that does not own the tables (PostgreSQL
    /// row-level security applies to it). Defaults to `database_url`.
    pub migration_database_url: String,
    /// True when the database is the default SQLite file in the data directory.
    pub embedded_database: bool,
    pub data_dir: PathBuf,
    /// The built dashboard (Trunk's `dist/`), served with an SPA fallback.
    pub web_dir: PathBuf,
    pub log_filter: String,
    /// Twilio's auth token, which signs its webhooks; without it Twilio webhooks are refused.
    pub twilio_auth_token: Option<SecretString>,
    /// Twilio's account sid; with the auth token it lets the server send texts.
    pub twilio_account_sid: Option<String>,
    /// Twilio's REST API base URL (Twilio's own unless overridden, as tests do).
    pub twilio_api_url: String,
    /// Load balancers whose `X-Forwarded-For` names the client (rate limits count by client).
    pub trusted_proxies: TrustedProxies,
}

/// A secret setting; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// The secret's value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString(…)")
    }
}

impl Config {
    /// Parses every non-secret setting, filling defaults.
    pub fn from_settings(settings: &RawSettings) -> Result<Self, ConfigError> {
        let listen = settings
            .parse("listen", |s| s.parse::<SocketAddr>())?
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let public_url = settings.parse("public_url", parse_public_url)?;
        let data_dir = settings
            .parse("data_dir", parse_path)?
            .unwrap_or_else(|| PathBuf::from("ringback-data"));
        let web_dir = settings
            .parse("web_dir", parse_path)?
            .unwrap_or_else(|| PathBuf::from("web/dist"));
        let explicit_url = settings.parse("database_url", |s| {
            DatabaseKind::from_url(s).map(|kind| (s.to_owned(), kind))
        })?;
        let embedded_database = explicit_url.is_none();
        let (database_url, database_kind) = explicit_url.unwrap_or_else(|| {
            let file = data_dir.join("ringback.db");
            (
                format!("sqlite://{}?mode=rwc", file.display()),
                DatabaseKind::Sqlite,
            )
        });
        let migration_database_url = settings
            .parse("migration_database_url", |s| {
                DatabaseKind::from_url(s).map(|_| s.to_owned())
            })?
            .unwrap_or_else(|| database_url.clone());
        let log_filter = settings
            .value("log")
            .unwrap_or("info,sqlx=warn,sea_orm=warn")
            .to_owned();
        let twilio_auth_token = settings
            .value("twilio_auth_token")
            .map(|token| SecretString(token.to_owned()));
        let twilio_account_sid = settings.parse("twilio_account_sid", parse_account_sid)?;
        let twilio_api_url = settings
            .parse("twilio_api_url", parse_public_url)?
            .unwrap_or_else(|| crate::integrations::twilio::DEFAULT_API_URL.to_owned());
        let trusted_proxies = settings
            .parse("trusted_proxies", TrustedProxies::parse)?
            .unwrap_or_default();
        Ok(Self {
            trusted_proxies,
            twilio_auth_token,
            twilio_account_sid,
            twilio_api_url,
            listen,
            public_url,
            database_url,
            database_kind,
            migration_database_url,
            embedded_database,
            data_dir,
            web_dir,
            log_filter,
        })
    }
}

fn parse_public_url(value: &str) -> Result<String, String> {
    let trimmed = value.trim_end_matches('/');
    if trimmed.starts_with("https://") || trimmed.starts_with("http://") {
        Ok(trimmed.to_owned())
    } else {
        Err("expected an http:// or https:// URL".to_owned())
    }
}

fn parse_account_sid(value: &str) -> Result<String, String> {
    let well_formed = value.len() == 34
        && value.starts_with("AC")
        && value[2..].bytes().all(|b| b.is_ascii_hexdigit());
    if well_formed {
        Ok(value.to_owned())
    } else {
        Err("expected AC followed by 32 hexadecimal digits".to_owned())
    }
}

fn parse_path(value: &str) -> Result<PathBuf, String> {
    if value.trim().is_empty() {
        Err("expected a path, got an empty value".to_owned())
    } else {
        Ok(PathBuf::from(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_settings(&RawSettings::load(env(pairs))?)
    }

    #[test]
    fn no_configuration_means_embedded_sqlite_in_the_data_dir() {
        let config = config(&[]).expect("defaults");
        assert!(config.embedded_database);
        assert_eq!(config.database_kind, DatabaseKind::Sqlite);
        assert!(config.database_url.contains("ringback-data/ringback.db"));
        assert_eq!(config.listen.port(), 8080);
    }

    #[test]
    fn malformed_setting_names_itself() {
        let err = config(&[("RINGBACK_LISTEN", "not-an-address")]).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("RINGBACK_LISTEN is malformed"),
            "{message}"
        );
    }

    #[test]
    fn malformed_secret_is_not_echoed() {
        let err = config(&[("RINGBACK_DATABASE_URL", "mysql://user:hunter2@db")]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("RINGBACK_DATABASE_URL"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn unknown_variable_is_reported() {
        let settings =
            RawSettings::load(env(&[("RINGBACK_LISTN", "127.0.0.1:1")])).expect("settings");
        assert_eq!(settings.unknown_env, vec!["RINGBACK_LISTN".to_owned()]);
    }

    #[test]
    fn unknown_file_key_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("ringback.toml");
        std::fs::write(&file, "lisen = \"127.0.0.1:9000\"\n").expect("write");
        let path = file.display().to_string();
        let err = config(&[("RINGBACK_CONFIG", &path)]).unwrap_err();
        assert!(
            err.to_string().starts_with("lisen is not a setting"),
            "{err}"
        );
    }

    #[test]
    fn environment_overrides_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("ringback.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nweb_dir = \"/srv/web\"\n",
        )
        .expect("write");
        let path = file.display().to_string();
        let config = config(&[
            ("RINGBACK_CONFIG", &path),
            ("RINGBACK_LISTEN", "127.0.0.1:9001"),
        ])
        .expect("config");
        assert_eq!(config.listen.port(), 9001);
        assert_eq!(config.web_dir, PathBuf::from("/srv/web"));
    }

    #[test]
    fn malformed_file_value_names_the_file_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("ringback.toml");
        std::fs::write(&file, "public_url = \"ftp://example\"\n").expect("write");
        let path = file.display().to_string();
        let err = config(&[("RINGBACK_CONFIG", &path)]).unwrap_err();
        assert!(
            err.to_string().starts_with("public_url is malformed"),
            "{err}"
        );
    }

    #[test]
    fn unreadable_file_names_the_path() {
        let err = config(&[("RINGBACK_CONFIG", "/nonexistent/ringback.toml")]).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/ringback.toml"),
            "{err}"
        );
    }
}
