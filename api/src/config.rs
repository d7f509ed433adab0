//! Typed configuration, read from `RINGBACK_*` environment variables and an optional TOML file
//! (`RINGBACK_CONFIG`). The environment wins over the file, the file over the defaults. A malformed
//! or missing setting is reported under the name the operator typed (`RINGBACK_LISTEN`, or `listen`
//! in the file), never with a secret's value.
//!
//! With no configuration at all the server runs on an embedded SQLite file inside the data
//! directory; secrets are then generated there (see [`crate::secrets`]).

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::auth::client_address::TrustedProxies;
use crate::db::{DEFAULT_POSTGRES_CONNECTIONS, MAX_POSTGRES_CONNECTIONS};
pub use ringback_core::db::DatabaseKind;
pub use ringback_core::settings::{ConfigError, ENV_PREFIX, RawSettings, SecretString, env_name};
use ringback_domain::auth::rate_limit::RateLimitSettings;
use ringback_providers::anthropic::AnthropicSettings;
use ringback_providers::google::GoogleSettings;
use ringback_providers::mail::{MailSettings, Mailer};
use ringback_providers::stripe::BillingSettings;
use ringback_providers::twilio::TwilioSettings;

/// The embedded SQLite database's file name inside the data directory.
pub const EMBEDDED_DATABASE_FILE: &str = "ringback.db";

/// The server's parsed configuration, except secrets (see [`crate::secrets::Secrets`]).
#[derive(Clone, Debug)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (the chosen URL is printed).
    pub listen: SocketAddr,
    /// The URL the outside world uses to reach us (behind a proxy it differs from `listen`).
    pub public_url: Option<String>,
    pub database_url: String,
    pub database_kind: DatabaseKind,
    /// The tables' owner, for `ringback migrate`, `ringback audit verify` and the key rotations;
    /// the application itself connects with `database_url`, a role that does not own the tables
    /// (PostgreSQL row-level security applies to it). SQLite has no roles and uses `database_url`;
    /// PostgreSQL needs it set (see [`crate::db::connect_owner`]).
    pub migration_database_url: Option<String>,
    /// Most connections the server opens to PostgreSQL (`RINGBACK_DATABASE_CONNECTIONS`); the
    /// embedded SQLite file keeps its own small pool.
    pub database_connections: u32,
    /// True when the database is the default SQLite file in the data directory.
    pub embedded_database: bool,
    pub data_dir: PathBuf,
    /// The built dashboard (Trunk's `dist/`), served with an SPA fallback.
    pub web_dir: PathBuf,
    pub log_filter: String,
    /// Twilio's settings, which its module parses.
    pub twilio: TwilioSettings,
    /// The SMTP server and sender (`RINGBACK_SMTP_URL`, `RINGBACK_MAIL_FROM`), when mail is on.
    pub mail: Option<MailSettings>,
    /// Load balancers whose `X-Forwarded-For` names the client (rate limits count by client).
    pub trusted_proxies: TrustedProxies,
    /// Whether `GET /graphql` serves the console (`RINGBACK_GRAPHQL_CONSOLE`, on by default).
    pub graphql_console: bool,
    /// Whether the schema answers introspection (`RINGBACK_GRAPHQL_INTROSPECTION`, on by default).
    pub graphql_introspection: bool,
    /// Billing through Stripe (`RINGBACK_STRIPE_*`, `[[plans]]`); `None`, billing off, without a
    /// secret key: every clinic then runs without limits.
    pub billing: Option<BillingSettings>,
    /// Anthropic's Messages API (`RINGBACK_ANTHROPIC_*`), which the AI receptionist asks; without
    /// a key the AI stays off.
    pub anthropic: AnthropicSettings,
    /// Google Calendar through a service account (`RINGBACK_GOOGLE_*`); without its key file no
    /// clinic can choose a calendar.
    pub google: GoogleSettings,
    /// Requests per minute per client address, API key and clinic, and webhooks per address
    /// (`RINGBACK_RATE_LIMIT_*`).
    pub rate_limits: RateLimitSettings,
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
            let file = data_dir.join(EMBEDDED_DATABASE_FILE);
            (
                format!("sqlite://{}?mode=rwc", file.display()),
                DatabaseKind::Sqlite,
            )
        });
        let migration_database_url =
            settings.parse(
                "migration_database_url",
                |s| match DatabaseKind::from_url(s)? {
                    kind if kind == database_kind => Ok(s.to_owned()),
                    _ => Err(format!(
                        "expected a {} URL, as RINGBACK_DATABASE_URL is",
                        database_kind.label()
                    )),
                },
            )?;
        let database_connections = settings.parse("database_connections", parse_connections)?;
        if database_connections.is_some() && database_kind == DatabaseKind::Sqlite {
            return Err(ConfigError::Malformed {
                key: settings.origin("database_connections"),
                reason: "applies to PostgreSQL only; the SQLite file keeps its own pool".to_owned(),
            });
        }
        let log_filter = settings
            .parse("log", |s| {
                tracing_subscriber::EnvFilter::try_new(s).map(|_| s.to_owned())
            })?
            .unwrap_or_else(|| "info,sqlx=warn,sea_orm=warn".to_owned());
        let twilio = TwilioSettings::from_settings(settings)?;
        if twilio.auth_token.is_some() && public_url.is_none() {
            return Err(ConfigError::Missing {
                key: settings.origin("public_url"),
                hint: "Twilio signs each webhook with the public URL it calls, and texts report \
                       their delivery there; set the https:// address Twilio reaches this server at"
                    .to_owned(),
            });
        }
        let mail = MailSettings::from_settings(settings)?;
        if let Some(mail) = &mail {
            if public_url.is_none() {
                return Err(ConfigError::Missing {
                    key: settings.origin("public_url"),
                    hint: "the links in the mails RINGBACK_SMTP_URL sends point at it".to_owned(),
                });
            }
            Mailer::new(mail).map_err(|error| ConfigError::Malformed {
                key: settings.origin("smtp_url"),
                reason: error.to_string(),
            })?;
        }
        let billing = BillingSettings::from_settings(settings)?;
        if billing.is_some() && public_url.is_none() {
            return Err(ConfigError::Missing {
                key: settings.origin("public_url"),
                hint: "billing is on: Stripe Checkout and the Customer Portal return to pages \
                       under it"
                    .to_owned(),
            });
        }
        let trusted_proxies = settings
            .parse("trusted_proxies", TrustedProxies::parse)?
            .unwrap_or_default();
        let graphql_console = settings
            .parse("graphql_console", parse_switch)?
            .unwrap_or(true);
        let graphql_introspection = settings
            .parse("graphql_introspection", parse_switch)?
            .unwrap_or(true);
        let anthropic = AnthropicSettings::from_settings(settings)?;
        let google = GoogleSettings::from_settings(settings)?;
        if google.service_account.is_some() && public_url.is_none() {
            return Err(ConfigError::Missing {
                key: settings.origin("public_url"),
                hint:
                    "the events Google Calendar keeps for bookings link to the dashboard under it"
                        .to_owned(),
            });
        }
        let rate_limits = RateLimitSettings::from_settings(settings)?;
        Ok(Self {
            billing,
            anthropic,
            google,
            rate_limits,
            mail,
            graphql_console,
            graphql_introspection,
            trusted_proxies,
            twilio,
            listen,
            public_url,
            database_url,
            database_kind,
            database_connections: database_connections.unwrap_or(DEFAULT_POSTGRES_CONNECTIONS),
            migration_database_url,
            embedded_database,
            data_dir,
            web_dir,
            log_filter,
        })
    }
}

/// A pool size for PostgreSQL: at least 2 (requests and background work share the pool).
fn parse_connections(value: &str) -> Result<u32, String> {
    match value.trim().parse::<u32>() {
        Ok(count @ 2..=MAX_POSTGRES_CONNECTIONS) => Ok(count),
        _ => Err(format!(
            "expected a number of connections from 2 to {MAX_POSTGRES_CONNECTIONS}"
        )),
    }
}

/// An on/off setting.
fn parse_switch(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Ok(true),
        "off" | "false" | "no" | "0" => Ok(false),
        _ => Err("expected on or off".to_owned()),
    }
}

/// The address providers and mailed links reach us at: `https://`, or plain `http://` only on
/// this machine (callers' numbers and texts, and the cookies' `Secure` sign-in, must not cross a
/// network in clear); no query, fragment or spaces (webhook signatures are computed over it).
fn parse_public_url(value: &str) -> Result<String, String> {
    let trimmed = value.trim_end_matches('/');
    let parsed =
        url::Url::parse(trimmed).map_err(|_| "expected an http:// or https:// URL".to_owned())?;
    if trimmed.chars().any(char::is_whitespace)
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err("expected a URL without spaces, query or fragment".to_owned());
    }
    let on_this_machine = match parsed.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(address)) => address.is_loopback(),
        Some(url::Host::Ipv6(address)) => address.is_loopback(),
        None => false,
    };
    // Kept as the URL standard writes it (`HTTPS://Host` is `https://host`), as it is compared
    // and signed.
    let written = parsed.as_str().trim_end_matches('/').to_owned();
    match parsed.scheme() {
        "https" => Ok(written),
        "http" if on_this_machine => Ok(written),
        "http" => Err("expected https:// (plain http:// only for localhost)".to_owned()),
        _ => Err("expected an http:// or https:// URL".to_owned()),
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

    /// A log filter `tracing` cannot read stops start-up, named, rather than being replaced by
    /// `info` unnoticed; an owner's URL on another engine than the server's is refused.
    #[test]
    fn a_malformed_log_filter_or_owner_url_stops_start_up() {
        let error = config(&[("RINGBACK_LOG", "info,sqlx=loud")])
            .expect_err("malformed")
            .to_string();
        assert!(error.contains("RINGBACK_LOG"), "{error}");
        let fine = config(&[("RINGBACK_LOG", "warn,ringback_api=debug")]).expect("fine");
        assert_eq!(fine.log_filter, "warn,ringback_api=debug");
        let error = config(&[
            (
                "RINGBACK_DATABASE_URL",
                "postgres://server@db.example.test/ringback",
            ),
            ("RINGBACK_MIGRATION_DATABASE_URL", "sqlite://owner.db"),
        ])
        .expect_err("another engine")
        .to_string();
        assert!(error.contains("RINGBACK_MIGRATION_DATABASE_URL"), "{error}");
        assert!(error.contains("PostgreSQL"), "{error}");
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
    fn billing_reads_its_plans_from_the_file_and_needs_a_public_url() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("ringback.toml");
        std::fs::write(
            &file,
            "stripe_secret_key = \"sk_test_0123456789abcdef\"\n\
             stripe_webhook_secret = \"whsec_0123456789abcdef\"\n\
             public_url = \"https://ringback.example\"\n\
             [[plans]]\nkey = \"solo\"\nname = \"Solo\"\nprice = \"price_solo\"\nsms_per_period = 120\n",
        )
        .expect("config file");
        let path = file.display().to_string();
        let on = config(&[("RINGBACK_CONFIG", &path)]).expect("billing on");
        let billing = on.billing.expect("billing");
        assert_eq!(billing.plans.len(), 1);
        assert_eq!(billing.plan("solo").map(|p| p.sms_per_period), Some(120));
        assert!(
            config(&[]).expect("defaults").billing.is_none(),
            "off without a key"
        );

        let error = config(&[
            ("RINGBACK_STRIPE_SECRET_KEY", "sk_test_0123456789abcdef"),
            ("RINGBACK_STRIPE_WEBHOOK_SECRET", "whsec_0123456789abcdef"),
        ])
        .expect_err("no public URL");
        assert!(error.to_string().contains("RINGBACK_PUBLIC_URL"), "{error}");
    }

    #[test]
    fn a_google_key_file_is_checked_at_start_up() {
        let missing = config(&[(
            "RINGBACK_GOOGLE_SERVICE_ACCOUNT_FILE",
            "/nonexistent/ringback-google.json",
        )])
        .expect_err("no such file");
        let message = missing.to_string();
        assert!(
            message.starts_with("RINGBACK_GOOGLE_SERVICE_ACCOUNT_FILE is malformed"),
            "{message}"
        );
        assert!(
            config(&[])
                .expect("defaults")
                .google
                .service_account
                .is_none(),
            "calendars are off without a key file"
        );
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
    fn rate_limits_and_the_answer_time_are_settings_that_name_themselves() {
        let set = config(&[
            ("RINGBACK_RATE_LIMIT_PER_API_KEY", "6000"),
            ("RINGBACK_RATE_LIMIT_PER_CLINIC", "20000"),
            ("RINGBACK_AI_ANSWER_SECONDS", "20"),
        ])
        .expect("valid");
        assert_eq!(set.rate_limits.per_api_key, 6000);
        assert_eq!(set.rate_limits.per_clinic, 20000);
        assert_eq!(set.rate_limits.per_address, 600, "the default");
        assert_eq!(set.anthropic.answer_within.as_secs(), 20);
        for (name, value) in [
            ("RINGBACK_RATE_LIMIT_PER_ADDRESS", "0"),
            ("RINGBACK_RATE_LIMIT_PER_API_KEY", "lots"),
            ("RINGBACK_RATE_LIMIT_PER_CLINIC", "-5"),
            ("RINGBACK_RATE_LIMIT_WEBHOOKS_PER_ADDRESS", "2000000"),
            ("RINGBACK_AI_ANSWER_SECONDS", "0"),
        ] {
            let message = config(&[(name, value)]).unwrap_err().to_string();
            assert!(
                message.starts_with(&format!("{name} is malformed")),
                "{message}"
            );
        }
    }

    #[test]
    fn the_postgres_pool_size_is_a_setting_that_names_itself() {
        let postgres = (
            "RINGBACK_DATABASE_URL",
            "postgres://u:p@db.example/ringback",
        );
        let default = config(&[postgres]).expect("valid");
        assert_eq!(default.database_connections, DEFAULT_POSTGRES_CONNECTIONS);
        let set = config(&[postgres, ("RINGBACK_DATABASE_CONNECTIONS", "4")]).expect("valid");
        assert_eq!(set.database_connections, 4);
        for value in ["1", "0", "many", "501"] {
            let message = config(&[postgres, ("RINGBACK_DATABASE_CONNECTIONS", value)])
                .unwrap_err()
                .to_string();
            assert!(
                message.starts_with("RINGBACK_DATABASE_CONNECTIONS is malformed: expected"),
                "{message}"
            );
        }
        let message = config(&[("RINGBACK_DATABASE_CONNECTIONS", "4")])
            .unwrap_err()
            .to_string();
        assert!(
            message
                .starts_with("RINGBACK_DATABASE_CONNECTIONS is malformed: applies to PostgreSQL"),
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
    fn a_blank_or_short_twilio_auth_token_stops_start_up() {
        for token in ["", " ", "short", " padded-auth-token-value "] {
            let err = config(&[
                ("RINGBACK_TWILIO_AUTH_TOKEN", token),
                ("RINGBACK_PUBLIC_URL", "https://ringback.example.test"),
            ])
            .unwrap_err();
            let message = err.to_string();
            assert!(
                message.starts_with("RINGBACK_TWILIO_AUTH_TOKEN is malformed"),
                "{message}"
            );
            assert!(
                !message.contains("padded"),
                "the token is not echoed: {message}"
            );
        }
    }

    #[test]
    fn twilio_without_a_public_url_stops_start_up() {
        let err =
            config(&[("RINGBACK_TWILIO_AUTH_TOKEN", "a-real-looking-auth-token")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("RINGBACK_PUBLIC_URL is required"),
            "{err}"
        );
        let config = config(&[
            ("RINGBACK_TWILIO_AUTH_TOKEN", "a-real-looking-auth-token"),
            ("RINGBACK_PUBLIC_URL", "https://ringback.example.test"),
        ])
        .expect("both set");
        assert!(config.twilio.auth_token.is_some());
    }

    #[test]
    fn unknown_variable_is_reported() {
        let settings = RawSettings::load(env(&[("RINGBACK_HARNESS_MODE", "1")])).expect("settings");
        assert_eq!(
            settings.unknown_env,
            vec!["RINGBACK_HARNESS_MODE".to_owned()]
        );
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
    fn the_public_url_is_https_unless_on_this_machine() {
        for good in [
            "https://ringback.example/",
            "https://ringback.example:8443/base",
            "http://localhost:8080",
            "http://127.0.0.1:3000",
            "http://[::1]:3000",
        ] {
            assert!(parse_public_url(good).is_ok(), "{good}");
        }
        assert_eq!(
            parse_public_url("HTTPS://Ringback.Example/")
                .ok()
                .as_deref(),
            Some("https://ringback.example")
        );
        assert_eq!(
            parse_public_url("https:ringback.example").ok().as_deref(),
            Some("https://ringback.example")
        );
        for bad in [
            "http://ringback.example",
            "http://10.0.0.5",
            "https://ringback.example/?x=1",
            "https://ringback.example/#top",
            "https://ringback .example",
            "ftp://ringback.example",
            "ringback.example",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
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
