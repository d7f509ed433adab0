//! Raw settings: `RINGBACK_*` environment variables layered over an optional TOML file
//! (`RINGBACK_CONFIG`), before each part of the server parses the keys it owns. The environment
//! wins over the file. A malformed or missing setting is reported under the name the operator typed
//! (`RINGBACK_LISTEN`, or `listen` in the file), never with a secret's value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Prefix of every environment variable the server reads.
pub const ENV_PREFIX: &str = "RINGBACK_";

/// Settings the server understands, by their file name; the environment name is the upper-case
/// form with [`ENV_PREFIX`].
const KNOWN_KEYS: &[&str] = &[
    "listen",
    "public_url",
    "database_url",
    "migration_database_url",
    "database_connections",
    "data_dir",
    "web_dir",
    "pepper",
    "master_key",
    "new_master_key",
    "previous_pepper",
    "session_secret",
    "twilio_auth_token",
    "twilio_account_sid",
    "twilio_api_url",
    "trusted_proxies",
    "smtp_url",
    "mail_from",
    "graphql_console",
    "graphql_introspection",
    "log",
    "stripe_secret_key",
    "stripe_webhook_secret",
    "stripe_api_url",
    "trial_days",
    "trial_sms",
    "past_due_grace_days",
    "stripe_meter_event",
    "anthropic_api_key",
    "anthropic_api_url",
    "anthropic_model",
    "ai_answer_seconds",
    "google_service_account_file",
    "google_calendar_api_url",
    "rate_limit_per_address",
    "rate_limit_per_api_key",
    "rate_limit_per_clinic",
    "rate_limit_webhooks_per_address",
];

/// The one structured setting: the plan catalogue, `[[plans]]` tables in the file (or the same as
/// an inline TOML array in `RINGBACK_PLANS`).
const PLANS_KEY: &str = "plans";

/// Settings whose values are secret and must never be echoed.
const SECRET_KEYS: &[&str] = &[
    "pepper",
    "master_key",
    "new_master_key",
    "previous_pepper",
    "session_secret",
    "database_url",
    "migration_database_url",
    "twilio_auth_token",
    "smtp_url",
    "stripe_secret_key",
    "stripe_webhook_secret",
    "anthropic_api_key",
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
    /// A `RINGBACK_*` variable a letter or two away from a setting: a typo that would otherwise
    /// leave the setting at its default (a misspelt database URL starts on an empty SQLite file).
    #[error("{key} is not a setting Ringback knows; did you mean {meant}?")]
    Misspelt { key: String, meant: String },
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
    /// The plan catalogue as given, with the name it was given under.
    plans: Option<(String, toml::Value)>,
    /// `RINGBACK_*` variables that match no setting and are not a near miss of one (those stop
    /// loading): reported as warnings, because other tools (test harnesses, say) share the prefix.
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
        settings.refuse_misspellings()?;
        Ok(settings)
    }

    /// Refuses an unknown variable within [`MISSPELLING_DISTANCE`] edits of a setting's name.
    fn refuse_misspellings(&self) -> Result<(), ConfigError> {
        for name in &self.unknown_env {
            let typed = name[ENV_PREFIX.len()..].to_ascii_lowercase();
            let near = KNOWN_KEYS
                .iter()
                .chain(std::iter::once(&PLANS_KEY))
                .find(|known| edit_distance(&typed, known) <= MISSPELLING_DISTANCE);
            if let Some(known) = near {
                return Err(ConfigError::Misspelt {
                    key: name.clone(),
                    meant: env_name(known),
                });
            }
        }
        Ok(())
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
            if key == PLANS_KEY {
                self.plans = Some((key, value));
                continue;
            }
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
            if key == PLANS_KEY {
                self.plans = Some((name.clone(), plans_from_env(value)));
                continue;
            }
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

    /// The plan catalogue as given (`[[plans]]`), with the name to report it under.
    pub fn plans(&self) -> Option<(&str, &toml::Value)> {
        self.plans
            .as_ref()
            .map(|(origin, value)| (origin.as_str(), value))
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

/// `RINGBACK_PLANS` read as an inline TOML array; anything else is kept as text, which the
/// catalogue's parser then reports as malformed under the variable's name.
fn plans_from_env(value: &str) -> toml::Value {
    format!("plans = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut table| table.remove(PLANS_KEY))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()))
}

/// Most single-letter edits (insertions, deletions, substitutions) that make an unknown variable
/// a misspelling of a setting rather than another tool's variable.
const MISSPELLING_DISTANCE: usize = 2;

/// The number of single-letter insertions, deletions and substitutions turning `a` into `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, from) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, to) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(from != *to);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
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

/// A secret setting; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    /// `RINGBACK_*` names the README mentions that are not the server's settings: the config
    /// file's path, an integrator's key in an example, and the test and benchmark tools' own.
    const NOT_SETTINGS: &[&str] = &[
        "CONFIG",
        "API_KEY",
        "BENCH_BINARY",
        "TEST_POSTGRES_URL",
        "TOOLS_DIR",
        "UPDATE_SCHEMA",
    ];

    /// A setting the README documents but the server does not know is dropped with a warning, so
    /// the operator believes it set something it did not (overage was once billed to the wrong
    /// meter this way).
    #[test]
    fn every_setting_the_readme_names_is_known() {
        let readme = include_str!("../../../README.md");
        let named: std::collections::BTreeSet<&str> = readme
            .match_indices(ENV_PREFIX)
            .map(|(at, _)| {
                let rest = &readme[at + ENV_PREFIX.len()..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            .filter(|name| !name.is_empty() && !NOT_SETTINGS.contains(name))
            .collect();
        assert!(named.len() > 20, "the README names its settings: {named:?}");
        let unknown: Vec<&&str> = named
            .iter()
            .filter(|name| {
                let key = name.to_ascii_lowercase();
                !KNOWN_KEYS.contains(&key.as_str()) && key != PLANS_KEY
            })
            .collect();
        assert!(unknown.is_empty(), "documented but unknown: {unknown:?}");
    }

    fn load(names: &[&str]) -> Result<RawSettings, ConfigError> {
        RawSettings::load(names.iter().map(|name| (name.to_string(), "x".to_owned())))
    }

    /// A variable a letter or two from a setting stops loading and names the setting it misses;
    /// the test and benchmark tools' own variables, far from every setting, are only unknown.
    #[test]
    fn a_misspelt_setting_stops_loading_and_names_the_setting() {
        for (typed, meant) in [
            ("RINGBACK_DATABSE_URL", "RINGBACK_DATABASE_URL"),
            ("RINGBACK_LISTN", "RINGBACK_LISTEN"),
            ("RINGBACK_MASTERKEY", "RINGBACK_MASTER_KEY"),
            ("RINGBACK_PLAN", "RINGBACK_PLANS"),
        ] {
            let error = load(&[typed]).expect_err(typed).to_string();
            assert!(error.contains(typed) && error.contains(meant), "{error}");
        }
        let names: Vec<String> = NOT_SETTINGS
            .iter()
            .filter(|name| **name != "CONFIG")
            .chain(["BIN", "E2E_WEB_DIR", "FAULT_DELIVERIES", "FUZZ_SEED"].iter())
            .map(|name| env_name(name))
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let settings = load(&names).expect("other tools' variables are not misspellings");
        assert_eq!(settings.unknown_env.len(), names.len());
    }

    #[test]
    fn edit_distance_counts_single_letter_edits() {
        assert_eq!(edit_distance("listen", "listen"), 0);
        assert_eq!(edit_distance("listn", "listen"), 1);
        assert_eq!(edit_distance("databse_url", "database_url"), 1);
        assert_eq!(edit_distance("lsiten", "listen"), 2);
        assert_eq!(edit_distance("", "log"), 3);
    }
}
