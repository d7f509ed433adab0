//! The deployment's secrets: the caller-key pepper, the master key that wraps each clinic's data key,
//! and the session signing secret.
//!
//! In production they come from configuration (`RINGBACK_PEPPER`, `RINGBACK_MASTER_KEY`,
//! `RINGBACK_SESSION_SECRET`, 64 hex digits each). On the embedded default (SQLite in the data
//! directory, no configuration) missing secrets are generated once into `secrets.toml` in the data
//! directory with mode 0600, and the log says so. They are never generated for an external database:
//! several instances would each invent different keys.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use rand::RngCore;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use sha2::Sha256;

use crate::settings::{ConfigError, RawSettings};

/// Length in bytes of every secret.
const SECRET_LEN: usize = 32;

/// Name of the generated secrets file inside the data directory.
pub const SECRETS_FILE: &str = "secrets.toml";

/// The secrets file a rotation writes before its database commit, and renames over
/// [`SECRETS_FILE`] after it.
pub const NEXT_SECRETS_FILE: &str = "secrets.next.toml";

/// One 32-byte secret. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret([u8; SECRET_LEN]);

impl Secret {
    /// The secret's bytes.
    pub fn expose(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }

    /// A new secret from the operating system's random source.
    pub fn random() -> Self {
        let mut bytes = [0u8; SECRET_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    fn from_hex(value: &str) -> Result<Self, String> {
        let bytes =
            hex::decode(value.trim()).map_err(|_| "expected 64 hexadecimal digits".to_owned())?;
        let bytes: [u8; SECRET_LEN] = bytes
            .try_into()
            .map_err(|_| "expected 64 hexadecimal digits (32 bytes)".to_owned())?;
        Ok(Self(bytes))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The secrets the server needs.
#[derive(Clone, Debug)]
pub struct Secrets {
    pub pepper: Secret,
    pub master_key: Secret,
    pub session_secret: Secret,
    /// The pepper before the last rotation, while caller keys made with it may still be stored
    /// (`RINGBACK_PREVIOUS_PEPPER`): look-ups of a caller try both, and a caller met again is
    /// re-keyed to the current pepper.
    pub previous_pepper: Option<Secret>,
}

/// What [`Secrets::resolve`] did, so `serve` can log it.
#[derive(Debug, PartialEq, Eq)]
pub enum SecretsSource {
    Configured,
    LoadedFrom(PathBuf),
    GeneratedInto(PathBuf),
}

const SECRET_NAMES: [&str; 3] = ["pepper", "master_key", "session_secret"];

impl Secrets {
    /// Takes secrets from configuration; for an embedded database, falls back to (and if need be
    /// creates) the data directory's secrets file.
    pub fn resolve(
        settings: &RawSettings,
        data_dir: &Path,
        embedded_database: bool,
    ) -> Result<(Self, SecretsSource), ConfigError> {
        let configured = SECRET_NAMES.map(|name| settings.parse(name, Secret::from_hex));
        let [pepper, master_key, session_secret] = configured;
        let (pepper, master_key, session_secret) = (pepper?, master_key?, session_secret?);
        let given = [&pepper, &master_key, &session_secret]
            .iter()
            .filter(|secret| secret.is_some())
            .count();
        if given > 0 && given < SECRET_NAMES.len() {
            // A partial set is a mistake, not a request to mix configured and generated keys.
            return Err(first_missing(
                settings,
                "set all three secrets (pepper, master key, session secret) or none of them",
            ));
        }
        if let (Some(pepper), Some(master_key), Some(session_secret)) =
            (pepper, master_key, session_secret)
        {
            let secrets = Self {
                pepper,
                master_key,
                session_secret,
                previous_pepper: settings.parse("previous_pepper", Secret::from_hex)?,
            };
            return Ok((secrets, SecretsSource::Configured));
        }
        if !embedded_database {
            return Err(first_missing(
                settings,
                "an external database needs its secrets configured (64 hex digits each)",
            ));
        }
        Self::from_data_dir(data_dir)
    }

    fn from_data_dir(data_dir: &Path) -> Result<(Self, SecretsSource), ConfigError> {
        let path = data_dir.join(SECRETS_FILE);
        if path.exists() {
            return Ok((read_file(&path)?, SecretsSource::LoadedFrom(path)));
        }
        let secrets = Self {
            pepper: Secret::random(),
            master_key: Secret::random(),
            session_secret: Secret::random(),
            previous_pepper: None,
        };
        write_file(&path, &secrets)?;
        Ok((secrets, SecretsSource::GeneratedInto(path)))
    }
}

impl Secrets {
    /// A keyed hash of `label` under the session secret, in hex: the same on every server of the
    /// deployment, unguessable without its secrets. For a code a clinic shows somewhere else to
    /// prove the place is its own (its Google calendar).
    pub fn tag(&self, label: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.session_secret.expose())
            .expect("HMAC accepts a key of any length");
        mac.update(format!("ringback tag: {label}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Picks one secret out of the set.
type SecretOf = fn(&Secrets) -> &Secret;

/// The secrets a database is tied to, by setting name: with another master key its sealed data
/// would not open, with another pepper new caller keys would not match old ones.
const CHECKED: [(&str, SecretOf); 2] = [
    ("master_key", |secrets| &secrets.master_key),
    ("pepper", |secrets| &secrets.pepper),
];

/// A keyed hash of a constant under `secret`: equal for equal secrets, and telling nothing of them.
fn check_value(name: &str, secret: &Secret) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose())
        .expect("HMAC accepts a key of any length");
    mac.update(format!("ringback key check: {name}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The lock a master-key rotation holds alone and a new clinic's data key is wrapped under, shared
/// (a PostgreSQL advisory lock: it needs no right on any table; SQLite serialises writers anyway).
const MASTER_KEY_LOCK: i64 = 0x5249_4e47_4b45_5931; // "RINGKEY1"

/// Whether the master-key lock is taken shared, by work that wraps with the key, or alone, by
/// the rotation that changes it.
#[derive(Clone, Copy)]
pub(crate) enum KeyLock {
    Shared,
    Alone,
}

/// Takes the master-key lock inside `txn` until it ends.
pub(crate) async fn take_master_key_lock(
    txn: &impl ConnectionTrait,
    how: KeyLock,
) -> Result<(), sea_orm::DbErr> {
    if txn.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    let function = match how {
        KeyLock::Shared => "pg_advisory_xact_lock_shared",
        KeyLock::Alone => "pg_advisory_xact_lock",
    };
    txn.execute_raw(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        format!("SELECT {function}($1)"),
        [MASTER_KEY_LOCK.into()],
    ))
    .await?;
    Ok(())
}

impl Secrets {
    /// Whether this server's master key is still the one the database records, asked inside
    /// `txn` before it wraps a new key. A rotation run while this server is up is then either
    /// committed, and seen here (the server must be restarted with the new key: what it wrapped
    /// now would never open again), or waits for `txn` and rewraps what it wrote. A database that
    /// recorded no check yet contradicts nothing.
    pub async fn master_key_still_current(
        &self,
        txn: &impl ConnectionTrait,
    ) -> Result<bool, sea_orm::DbErr> {
        take_master_key_lock(txn, KeyLock::Shared).await?;
        let expected = check_value("master_key", &self.master_key);
        Ok(recorded_check(txn, "master_key")
            .await?
            .is_none_or(|recorded| recorded == expected))
    }

    /// Checks the secrets against the values the database recorded when it was first served, and
    /// records them on a first start. A different master key or pepper stops start-up, named by
    /// its setting, before anything is written with it.
    pub async fn check_against(&self, db: &DatabaseConnection) -> Result<(), KeyCheckError> {
        for (name, secret) in CHECKED {
            let expected = check_value(name, secret(self));
            match recorded_check(db, name).await? {
                Some(recorded) if recorded == expected => {}
                Some(_) => return Err(KeyCheckError::Mismatch(name)),
                None => record_check(db, name, &expected).await?,
            }
        }
        match &self.previous_pepper {
            Some(previous) => {
                // Only a pepper this database was rotated away from may be named as the previous
                // one.
                let expected = check_value(PREVIOUS_PEPPER, previous);
                if recorded_check(db, PREVIOUS_PEPPER).await? != Some(expected) {
                    return Err(KeyCheckError::Mismatch(PREVIOUS_PEPPER));
                }
            }
            None => {
                let clinics = clinics_with_lists_under_previous_pepper(db).await?;
                if !clinics.is_empty() {
                    return Err(KeyCheckError::PreviousPepperNeeded(clinics.len()));
                }
            }
        }
        Ok(())
    }
}

impl Secrets {
    /// These secrets with `pepper` as the pepper and the current one as the previous pepper.
    pub fn with_new_pepper(&self, pepper: Secret) -> Self {
        Self {
            previous_pepper: Some(self.pepper.clone()),
            pepper,
            ..self.clone()
        }
    }

    /// These secrets with another master key.
    pub fn with_master_key(&self, master_key: Secret) -> Self {
        Self {
            master_key,
            ..self.clone()
        }
    }

    /// The master key a rotation moves to: `RINGBACK_NEW_MASTER_KEY` (or `new_master_key` in the
    /// file) when set, malformed values refused by name.
    pub fn new_master_key(settings: &RawSettings) -> Result<Option<Secret>, ConfigError> {
        settings.parse("new_master_key", Secret::from_hex)
    }

    /// Writes these secrets as the data directory's next secrets file (mode 0600), replacing an
    /// earlier one: the half of a rotation that comes before the database commits.
    pub fn write_next_file(&self, data_dir: &Path) -> Result<PathBuf, ConfigError> {
        let path = data_dir.join(NEXT_SECRETS_FILE);
        if path.exists() {
            fs::remove_file(&path).map_err(|e| file_error(&path, e))?;
        }
        write_file(&path, self)?;
        Ok(path)
    }

    /// Makes the next secrets file the secrets file: the half of a rotation after the commit.
    pub fn promote_next_file(data_dir: &Path) -> Result<(), ConfigError> {
        let next = data_dir.join(NEXT_SECRETS_FILE);
        fs::rename(&next, data_dir.join(SECRETS_FILE)).map_err(|e| file_error(&next, e))
    }

    /// Finishes a rotation of the data directory's secrets that stopped between the database's
    /// commit and the file's replacement: when the stored secrets fail the master key's or the
    /// pepper's check and
    /// the next file passes every check, the next file becomes the secrets file and its secrets are
    /// returned. Otherwise the check's own error.
    pub async fn finish_interrupted_rotation(
        self,
        data_dir: &Path,
        db: &DatabaseConnection,
    ) -> Result<Self, KeyCheckError> {
        let mismatch = match self.check_against(db).await {
            Ok(()) => return Ok(self),
            Err(error @ KeyCheckError::Mismatch("master_key" | "pepper")) => error,
            Err(error) => return Err(error),
        };
        let next_path = data_dir.join(NEXT_SECRETS_FILE);
        let Ok(next) = read_file(&next_path) else {
            return Err(mismatch);
        };
        if next.check_against(db).await.is_err() {
            return Err(mismatch);
        }
        Self::promote_next_file(data_dir).map_err(|_| mismatch)?;
        Ok(next)
    }
}

/// Moves the pepper's key checks inside a pepper rotation's transaction: `previous` must be the
/// pepper recorded so far (or the previous one of an earlier, repeated run of the same rotation);
/// afterwards `current` is the pepper and `previous` the previous pepper. Whether they moved
/// (`false` for a repeated run).
pub(crate) async fn move_pepper_checks(
    txn: &impl ConnectionTrait,
    current: &Secret,
    previous: &Secret,
) -> Result<bool, KeyCheckError> {
    let recorded = recorded_check(txn, "pepper").await?;
    let already_rotated = recorded.as_deref() == Some(&check_value("pepper", current))
        && recorded_check(txn, PREVIOUS_PEPPER).await?.as_deref()
            == Some(&check_value(PREVIOUS_PEPPER, previous));
    if already_rotated {
        return Ok(false);
    }
    if recorded.is_some_and(|recorded| recorded != check_value("pepper", previous)) {
        return Err(KeyCheckError::Mismatch(PREVIOUS_PEPPER));
    }
    move_check(txn, "pepper", current).await?;
    move_check(txn, PREVIOUS_PEPPER, previous).await?;
    Ok(true)
}

/// Moves the key check of secret `name` to `secret` inside a rotation's transaction (the tables'
/// owner: the application may add a check, never change one).
pub(crate) async fn move_check(
    txn: &impl ConnectionTrait,
    name: &str,
    secret: &Secret,
) -> Result<(), sea_orm::DbErr> {
    let update = Query::update()
        .table(Alias::new("key_checks"))
        .value(Alias::new("check_value"), check_value(name, secret))
        .and_where(Expr::col(Alias::new("name")).eq(name))
        .to_owned();
    let changed = txn.execute(&update).await?.rows_affected();
    if changed == 0 {
        record_check(txn, name, &check_value(name, secret)).await?;
    }
    Ok(())
}

/// The clinics whose opt-out or do-not-process lists still hold caller keys of the previous
/// pepper: without it, their STOPs and objections would not be found.
async fn clinics_with_lists_under_previous_pepper(
    db: &DatabaseConnection,
) -> Result<Vec<uuid::Uuid>, sea_orm::DbErr> {
    use ringback_migration::m20261221_100000_lists_keep_their_pepper::CLINICS_WITH_LISTS_UNDER_PREVIOUS_PEPPER as QUERY;
    crate::schedule::clinic_ids(
        db,
        "ringback_clinics_with_lists_under_previous_pepper()",
        QUERY,
        Vec::new(),
    )
    .await
    .map_err(|error| sea_orm::DbErr::Custom(error.to_string()))
}

/// Why the secrets cannot be used with this database.
#[derive(Debug, thiserror::Error)]
pub enum KeyCheckError {
    #[error(
        "RINGBACK_PREVIOUS_PEPPER is needed: {0} clinic(s) keep opt-outs or processing \
         restrictions under the pepper before the last rotation (each moves to the current pepper \
         when its caller is met again); without it those callers' STOPs and objections would not \
         be found. Set it to the pepper rotated from"
    )]
    PreviousPepperNeeded(usize),
    #[error(
        "RINGBACK_{} is not the one this database was set up with: {}. Set the original, or rotate \
         it as the README describes",
        .0.to_uppercase(),
        consequence(.0)
    )]
    Mismatch(&'static str),
    #[error("the key checks could not be read or written: {0}")]
    Database(#[from] sea_orm::DbErr),
}

fn consequence(name: &str) -> &'static str {
    match name {
        "master_key" => "no clinic's sealed numbers or messages would open",
        PREVIOUS_PEPPER => "it is not the pepper this database was rotated from",
        _ => "callers would get new caller keys and lose their history",
    }
}

/// The key check of the pepper a rotation moved away from.
const PREVIOUS_PEPPER: &str = "previous_pepper";

async fn recorded_check(
    db: &impl ConnectionTrait,
    name: &str,
) -> Result<Option<String>, sea_orm::DbErr> {
    let query = Query::select()
        .column(Alias::new("check_value"))
        .from(Alias::new("key_checks"))
        .and_where(Expr::col(Alias::new("name")).eq(name))
        .to_owned();
    let row = db.query_one(&query).await?;
    row.map(|row| row.try_get::<String>("", "check_value"))
        .transpose()
}

async fn record_check(
    db: &impl ConnectionTrait,
    name: &str,
    value: &str,
) -> Result<(), sea_orm::DbErr> {
    let insert = Query::insert()
        .into_table(Alias::new("key_checks"))
        .columns([
            Alias::new("name"),
            Alias::new("check_value"),
            Alias::new("created_at"),
        ])
        .values([name.into(), value.into(), chrono::Utc::now().into()])
        .map_err(|error| sea_orm::DbErr::Custom(error.to_string()))?
        .to_owned();
    db.execute(&insert).await?;
    Ok(())
}

/// The error naming the first secret `settings` lacks, with `hint`.
fn first_missing(settings: &RawSettings, hint: &str) -> ConfigError {
    let missing = SECRET_NAMES
        .into_iter()
        .find(|name| settings.value(name).is_none())
        .unwrap_or("pepper");
    ConfigError::Missing {
        key: settings.origin(missing),
        hint: hint.to_owned(),
    }
}

fn file_error(path: &Path, reason: impl ToString) -> ConfigError {
    ConfigError::File {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

fn read_file(path: &Path) -> Result<Secrets, ConfigError> {
    let text = fs::read_to_string(path).map_err(|e| file_error(path, e))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| file_error(path, e.message()))?;
    let secret = |name: &str| -> Result<Secret, ConfigError> {
        let value = table
            .get(name)
            .and_then(toml::Value::as_str)
            .ok_or_else(|| file_error(path, format!("{name} is missing")))?;
        Secret::from_hex(value).map_err(|reason| file_error(path, format!("{name}: {reason}")))
    };
    let previous_pepper = match table.get("previous_pepper") {
        Some(_) => Some(secret("previous_pepper")?),
        None => None,
    };
    Ok(Secrets {
        pepper: secret("pepper")?,
        master_key: secret("master_key")?,
        session_secret: secret("session_secret")?,
        previous_pepper,
    })
}

fn write_file(path: &Path, secrets: &Secrets) -> Result<(), ConfigError> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| file_error(dir, e))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| file_error(dir, e))?;
    }
    let mut body = format!(
        "# Generated by Ringback for the embedded database. Keep private; losing it loses access to sealed data.\n\
         pepper = \"{}\"\nmaster_key = \"{}\"\nsession_secret = \"{}\"\n",
        hex::encode(secrets.pepper.expose()),
        hex::encode(secrets.master_key.expose()),
        hex::encode(secrets.session_secret.expose()),
    );
    if let Some(previous) = &secrets.previous_pepper {
        body.push_str(&format!(
            "# The pepper before the last rotation: remove once every clinic's retention has passed\n\
             # and the server starts without it (opt-outs and restrictions may still need it).\n\
             previous_pepper = \"{}\"\n",
            hex::encode(previous.expose())
        ));
    }
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| file_error(path, e))?;
    file.write_all(body.as_bytes())
        .map_err(|e| file_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> RawSettings {
        RawSettings::load(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )
        .expect("settings")
    }

    #[test]
    fn generates_private_file_once_then_reuses_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (first, source) = Secrets::resolve(&settings(&[]), dir.path(), true).expect("generate");
        let path = dir.path().join(SECRETS_FILE);
        assert_eq!(source, SecretsSource::GeneratedInto(path.clone()));
        let mode = fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (second, source) = Secrets::resolve(&settings(&[]), dir.path(), true).expect("load");
        assert_eq!(source, SecretsSource::LoadedFrom(path));
        assert_eq!(first.pepper, second.pepper);
        assert_ne!(first.pepper, first.master_key);
    }

    #[test]
    fn external_database_requires_configured_secrets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = Secrets::resolve(&settings(&[]), dir.path(), false).unwrap_err();
        assert!(
            err.to_string().starts_with("RINGBACK_PEPPER is required"),
            "{err}"
        );
        assert!(!dir.path().join(SECRETS_FILE).exists());
    }

    #[test]
    fn malformed_secret_names_itself_without_echoing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = Secrets::resolve(
            &settings(&[("RINGBACK_MASTER_KEY", "abc123")]),
            dir.path(),
            true,
        )
        .unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("RINGBACK_MASTER_KEY is malformed"),
            "{message}"
        );
        assert!(!message.contains("abc123"), "{message}");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let secret = Secret::from_hex(&"ab".repeat(32)).expect("hex");
        assert_eq!(format!("{secret:?}"), "Secret(…)");
    }
}
