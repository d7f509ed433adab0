//! The command line: `ringback serve`, `ringback migrate`, `ringback demo`, `ringback phone
//! normalize`, `ringback audit verify`, `ringback keys rotate`, `ringback purge`, `ringback
//! reset-link`, `ringback provider-leftovers`.

use std::io::{BufWriter, IsTerminal};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use poem::listener::{Acceptor, Listener, TcpListener};
use ringback_shared::phone::Region;
use tracing_subscriber::EnvFilter;

use crate::config::{Config, ConfigError, RawSettings};
use crate::db::{self, DbError};
use crate::secrets::{KeyCheckError, Secret, Secrets, SecretsSource};
use crate::service::audit;
use crate::state::AppState;
use crate::{build_app, phone_cli};

#[derive(Parser, Debug)]
#[command(
    name = "ringback",
    version,
    about = "Turns missed calls into booked appointments."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the API and the dashboard (embedded SQLite unless RINGBACK_DATABASE_URL is set).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create a demo clinic with 90 days of activity (once) and print its login. Its owner's
    /// password is published, so beyond a trial on this machine (PostgreSQL, a public URL, Twilio
    /// or billing set up) it is created only with --allow-known-password.
    Demo {
        /// Create it on a server others may reach, knowing anyone may sign in as its owner.
        #[arg(long)]
        allow_known_password: bool,
    },
    /// Phone number tools.
    Phone {
        #[command(subcommand)]
        command: PhoneCommand,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print a one-time link (valid for an hour) with which the account of EMAIL chooses a new
    /// password, for servers that send no mail: pass it on to the account's owner by a way you
    /// trust. Using it ends every other session of the account; issuing it is audited.
    ResetLink {
        /// The account's e-mail address.
        email: String,
    },
    /// Delete what has outlived every clinic's retention (as the scheduler does daily, and never
    /// while a server's run holds the purge) and print what was removed.
    Purge {
        /// Count what would be removed and remove nothing (each clinic's audit log still records
        /// the operator's visit).
        #[arg(long)]
        dry_run: bool,
    },
    /// Show what deleted clinics left at Twilio that waits to be deleted there (how many, the
    /// oldest, the errors of failing attempts).
    ProviderLeftovers {
        /// Make every waiting record due now, so the server's next run (every ten minutes) tries
        /// them at once (after putting right what made them fail).
        #[arg(long)]
        retry_now: bool,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Rewrap every clinic's data key with a new master key (RINGBACK_NEW_MASTER_KEY, or a new
    /// random key written to the data directory's secrets file). Stop every server first.
    Rotate,
    /// Move to a new pepper (RINGBACK_PEPPER, with the old one as RINGBACK_PREVIOUS_PEPPER; or a
    /// new random pepper in the data directory's secrets file). Stop every server first.
    RotatePepper,
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Check every clinic's hash chain and name the first broken entry of each.
    Verify,
}

#[derive(Subcommand, Debug)]
enum PhoneCommand {
    /// Read numbers from stdin, one per line, and print how each is read, as JSON lines.
    Normalize {
        /// Region assumed for numbers written without a country code (ISO 3166 alpha-2).
        #[arg(long, default_value = "GB")]
        region: Region,
    },
}

/// Failures of a command, reported on stderr.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Database(#[from] DbError),
    #[error("secrets: {0}")]
    Secrets(#[from] KeyCheckError),
    #[error("cannot listen on {address}: {source}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("demo data: {0}")]
    Demo(String),
    #[error("the audit log is broken in {0} clinic(s)")]
    AuditBroken(usize),
    #[error("purge: {0}")]
    Purge(String),
    #[error("provider leftovers: {0}")]
    Leftovers(String),
    #[error("reset link: {0}")]
    ResetLink(String),
    #[error("billing: {0}")]
    Billing(String),
    #[error("key rotation: {0}; nothing was changed")]
    Rotation(#[from] ringback_core::rotation::RotationError),
    #[error(
        "the database has {0} migration(s) this server needs and has not applied: run `ringback \
         migrate` (as RINGBACK_MIGRATION_DATABASE_URL) first"
    )]
    PendingMigrations(usize),
    #[error(
        "no database at {0}: this command works on an existing server's data; run it where the \
         server runs, or set RINGBACK_DATA_DIR to the server's data directory"
    )]
    NoDatabase(String),
}

/// Runs the command named on the command line.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve => serve().await,
        Command::Migrate => migrate().await,
        Command::Demo {
            allow_known_password,
        } => demo(allow_known_password).await,
        Command::Phone {
            command: PhoneCommand::Normalize { region },
        } => normalize(region),
        Command::Audit {
            command: AuditCommand::Verify,
        } => verify_audit().await,
        Command::Keys {
            command: KeysCommand::Rotate,
        } => rotate_master_key().await,
        Command::Keys {
            command: KeysCommand::RotatePepper,
        } => rotate_pepper().await,
        Command::Purge { dry_run } => purge(dry_run).await,
        Command::ProviderLeftovers { retry_now } => provider_leftovers(retry_now).await,
        Command::ResetLink { email } => reset_link(&email).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ringback: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Reads configuration and starts logging; every server command begins here.
fn load_config() -> Result<(RawSettings, Config), CliError> {
    let settings = RawSettings::load(std::env::vars())?;
    let config = Config::from_settings(&settings)?;
    init_logging(&config.log_filter);
    for name in &settings.unknown_env {
        tracing::warn!(variable = %name, "ignoring unknown RINGBACK_ variable");
    }
    Ok((settings, config))
}

fn init_logging(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// The tables' owner's connection (`RINGBACK_MIGRATION_DATABASE_URL`), which PostgreSQL needs
/// set: the server's own role sees no clinic's rows outside a clinic's scope.
async fn owner_database(
    settings: &RawSettings,
    config: &Config,
) -> Result<sea_orm::DatabaseConnection, CliError> {
    if config.database_kind == db::DatabaseKind::Postgres && config.migration_database_url.is_none()
    {
        return Err(CliError::Config(ConfigError::Missing {
            key: settings.origin("migration_database_url"),
            hint: "on PostgreSQL, the login of the tables' owner, which migrations, audit \
                   verification and key rotations run as (README: PostgreSQL roles)"
                .to_owned(),
        }));
    }
    Ok(db::connect_owner(config).await?)
}

/// Refuses to work on an embedded database that is not there: a maintenance command run from
/// another directory would otherwise create an empty database (and new secrets) and report on it.
fn require_existing_database(config: &Config) -> Result<(), CliError> {
    let file = config.data_dir.join(crate::config::EMBEDDED_DATABASE_FILE);
    if config.embedded_database && !file.exists() {
        return Err(CliError::NoDatabase(file.display().to_string()));
    }
    Ok(())
}

async fn verify_audit() -> Result<(), CliError> {
    let (settings, config) = load_config()?;
    require_existing_database(&config)?;
    let db = owner_database(&settings, &config).await?;
    let report = audit::verify(&db).await?;
    for broken in &report.broken {
        println!(
            "clinic {}: entry {} is the first broken entry ({})",
            broken.clinic_id, broken.seq, broken.reason
        );
    }
    if report.broken.is_empty() {
        println!(
            "audit log intact: {} entries in {} clinics",
            report.entries, report.clinics
        );
        Ok(())
    } else {
        Err(CliError::AuditBroken(report.broken.len()))
    }
}

async fn rotate_master_key() -> Result<(), CliError> {
    let (settings, config) = load_config()?;
    require_existing_database(&config)?;
    let (secrets, source) =
        Secrets::resolve(&settings, &config.data_dir, config.embedded_database)?;
    let db = owner_database(&settings, &config).await?;
    let secrets = checked_secrets(secrets, &source, &config, &db).await?;
    let in_file = source != SecretsSource::Configured;
    let new_master = match Secrets::new_master_key(&settings)? {
        Some(key) => key,
        None if in_file => Secret::random(),
        None => {
            return Err(CliError::Config(ConfigError::Missing {
                key: settings.origin("new_master_key"),
                hint: "the master key to rotate to (64 hex digits); RINGBACK_MASTER_KEY keeps the \
                       current one until the rotation is done"
                    .to_owned(),
            }));
        }
    };
    if in_file {
        secrets
            .with_master_key(new_master.clone())
            .write_next_file(&config.data_dir)?;
    }
    let clinics = ringback_core::rotation::rotate_master_key(&db, &secrets, &new_master).await?;
    if in_file {
        Secrets::promote_next_file(&config.data_dir)?;
        println!(
            "Master key rotated: {clinics} clinic data keys rewrapped; the data directory's secrets \
             file holds the new key. Start the server."
        );
    } else {
        println!(
            "Master key rotated: {clinics} clinic data keys rewrapped. Set RINGBACK_MASTER_KEY to \
             the value of RINGBACK_NEW_MASTER_KEY, remove RINGBACK_NEW_MASTER_KEY, and start the servers."
        );
    }
    Ok(())
}

async fn rotate_pepper() -> Result<(), CliError> {
    let (settings, config) = load_config()?;
    require_existing_database(&config)?;
    let (secrets, source) =
        Secrets::resolve(&settings, &config.data_dir, config.embedded_database)?;
    let db = owner_database(&settings, &config).await?;
    let in_file = source != SecretsSource::Configured;
    let rotating = if in_file {
        // The file's pepper is the one in use: check it, then rotate to a new random one.
        let current = checked_secrets(secrets, &source, &config, &db).await?;
        let rotating = current.with_new_pepper(Secret::random());
        rotating.write_next_file(&config.data_dir)?;
        rotating
    } else {
        // RINGBACK_PEPPER is already the new pepper; the rotation checks the previous one.
        secrets
    };
    let numbers = ringback_core::rotation::rotate_pepper(&db, &rotating).await?;
    if in_file {
        Secrets::promote_next_file(&config.data_dir)?;
    }
    println!(
        "Pepper rotated: {numbers} provider numbers re-keyed. Start the servers with the new pepper \
         and the previous one (RINGBACK_PREVIOUS_PEPPER; the generated secrets file holds both); \
         remove the previous pepper once every clinic's retention has passed."
    );
    Ok(())
}

/// The secrets, checked against the database's key checks; secrets from the data directory's
/// file may first finish a rotation that stopped between its commit and the file's replacement.
async fn checked_secrets(
    secrets: Secrets,
    source: &SecretsSource,
    config: &Config,
    db: &sea_orm::DatabaseConnection,
) -> Result<Secrets, CliError> {
    if *source == SecretsSource::Configured {
        secrets.check_against(db).await?;
        return Ok(secrets);
    }
    Ok(secrets
        .finish_interrupted_rotation(&config.data_dir, db)
        .await?)
}

async fn migrate() -> Result<(), CliError> {
    let (settings, config) = load_config()?;
    let db = owner_database(&settings, &config).await?;
    db::migrate(&db).await?;
    let version = db::schema_version(&db).await?.unwrap_or_default();
    tracing::info!(database = config.database_kind.label(), %version, "migrations applied");
    Ok(())
}

/// Configuration, secrets and a ready database: what `serve` and `demo` both start from, and the
/// maintenance commands once [`require_existing_database`] passed. PostgreSQL's schema must be
/// the one this server knows (the embedded file is migrated here).
async fn open_server() -> Result<(Config, Secrets, sea_orm::DatabaseConnection), CliError> {
    let (settings, config) = load_config()?;
    open_database(settings, config).await
}

/// [`open_server`] for a command that works on an existing server's data.
async fn open_existing() -> Result<(Config, Secrets, sea_orm::DatabaseConnection), CliError> {
    let (settings, config) = load_config()?;
    require_existing_database(&config)?;
    open_database(settings, config).await
}

async fn open_database(
    settings: RawSettings,
    config: Config,
) -> Result<(Config, Secrets, sea_orm::DatabaseConnection), CliError> {
    let (secrets, source) =
        Secrets::resolve(&settings, &config.data_dir, config.embedded_database)?;
    log_secrets_source(&source);
    let db = db::connect(&config).await?;
    db::check_serving_role(&db).await?;
    if config.embedded_database {
        db::migrate(&db).await?;
    } else {
        match db::pending_migrations(&db).await? {
            0 => {}
            pending => return Err(CliError::PendingMigrations(pending)),
        }
    }
    let secrets = checked_secrets(secrets, &source, &config, &db).await?;
    Ok((config, secrets, db))
}

/// What `ringback demo` says of the trades business it made.
fn print_trades(trades: &crate::demo::trades::TradesSummary) {
    println!(
        "Demo trades business created, {}, with the AI receptionist on: {} calls ({} missed), {} conversations the AI answered, {} visits it booked, {} callers it handed over, {} follow-ups, {} appointments in all. Switch to it in the dashboard's header.",
        crate::demo::trades::NAME,
        trades.calls,
        trades.missed,
        trades.ai_conversations,
        trades.ai_bookings,
        trades.hand_offs,
        trades.follow_ups,
        trades.appointments
    );
}

/// What makes this server one others may reach, where a demo owner with a published password
/// could be signed in as by anyone: `None` for a trial on this machine alone.
fn reachable_by_others(config: &Config) -> Option<&'static str> {
    // Plain http is allowed only for this machine's own addresses (the setting's rule).
    let public = config
        .public_url
        .as_deref()
        .is_some_and(|url| url.starts_with("https://"));
    if config.database_kind == db::DatabaseKind::Postgres {
        Some("this PostgreSQL database")
    } else if public {
        Some("this server's public URL")
    } else if config.twilio.auth_token.is_some() {
        Some("this server (Twilio is set up: its numbers would be the demo's to use)")
    } else if config.billing.is_some() {
        Some("this server (billing is set up)")
    } else {
        None
    }
}

async fn demo(allow_known_password: bool) -> Result<(), CliError> {
    let (config, secrets, db) = open_server().await?;
    // Only a demo with something to create is refused: one all there was allowed when it was
    // made (`cargo xtask run` runs this each time, with whatever the developer's environment
    // sets); a missing trades business would be created with the same published password.
    let creating = !crate::demo::is_complete(&db, &crate::clock::Clock::system())
        .await
        .map_err(|error| CliError::Demo(error.to_string()))?;
    if let Some(reachable) =
        reachable_by_others(&config).filter(|_| creating && !allow_known_password)
    {
        return Err(CliError::Demo(format!(
            "the demo owner's password is published, so anyone could sign in to a demo clinic \
             on {reachable}; nothing was created: pass --allow-known-password to create it anyway"
        )));
    }
    let outcome = crate::demo::seed(&db, &crate::clock::Clock::system(), &secrets)
        .await
        .map_err(|error| CliError::Demo(error.to_string()))?;
    match outcome {
        crate::demo::DemoOutcome::Created(summary) => {
            println!(
                "Demo clinic created: {} calls ({} missed), {} text-backs, {} replies, {} callbacks, {} appointments over {} days.",
                summary.calls,
                summary.missed,
                summary.text_backs,
                summary.replies,
                summary.callbacks,
                summary.appointments,
                crate::demo::DEMO_DAYS
            );
            print_trades(&summary.trades);
        }
        crate::demo::DemoOutcome::TradesAdded(trades) => {
            println!("The demo clinic already exists.");
            print_trades(&trades);
        }
        crate::demo::DemoOutcome::AlreadyPresent => println!("The demo clinic already exists."),
    }
    println!(
        "Sign in as {} with password {}",
        crate::demo::DEMO_EMAIL,
        crate::demo::DEMO_PASSWORD
    );
    Ok(())
}

async fn purge(dry_run: bool) -> Result<(), CliError> {
    let (_, _, db) = open_existing().await?;
    let clock = crate::clock::Clock::system();
    let report = if dry_run {
        crate::service::retention::purge_all(&db, &clock, true)
            .await
            .map_err(purge_failed)?
    } else {
        purge_under_lease(&db, &clock).await?
    };
    let verb = if dry_run { "would remove" } else { "removed" };
    for clinic in &report.clinics {
        for kind in clinic.purged.iter().filter(|kind| kind.rows > 0) {
            let range = kind
                .oldest
                .zip(kind.newest)
                .map(|(oldest, newest)| {
                    format!(" ({} to {})", oldest.date_naive(), newest.date_naive())
                })
                .unwrap_or_default();
            println!(
                "clinic {}: {verb} {} {}{range}",
                clinic.clinic_id, kind.rows, kind.kind
            );
        }
    }
    println!(
        "{} clinics visited; {verb} {} expired sign-up requests and {} expired password resets",
        report.clinics.len(),
        report.sign_up_requests,
        report.password_resets
    );
    if report.failed.is_empty() {
        return Ok(());
    }
    for clinic in &report.failed {
        println!("clinic {clinic}: the purge failed (see the log); run it again");
    }
    Err(CliError::Purge(format!(
        "the purge of {} clinics failed",
        report.failed.len()
    )))
}

/// The purge run under the scheduler's lease, as a server's run is: refused while a server's
/// run holds it; recorded as the task's last run (so the next daily run comes a day later).
async fn purge_under_lease(
    db: &sea_orm::DatabaseConnection,
    clock: &crate::clock::Clock,
) -> Result<crate::service::retention::PurgeReport, CliError> {
    use crate::jobs::scheduler::{RETENTION, purge_outcome};
    let holder = format!("command line {}", uuid::Uuid::new_v4());
    ringback_core::schedule::register(db, RETENTION.name).await?;
    let lease = (chrono::Duration::zero(), RETENTION.lease);
    if !ringback_core::schedule::take_if_due(db, RETENTION.name, &holder, lease, clock.now())
        .await?
    {
        return Err(CliError::Purge(
            "a server is purging now; nothing was removed: run it again when that run has \
             finished (within the hour)"
                .to_owned(),
        ));
    }
    let report = crate::service::retention::purge_all(db, clock, false).await;
    let outcome = match &report {
        Ok(report) => purge_outcome(report),
        Err(error) => Err(error.clone()),
    }
    .unwrap_or_else(|error| format!("failed: {error}"));
    ringback_core::schedule::finish(db, RETENTION.name, &holder, &outcome, clock.now()).await?;
    report.map_err(purge_failed)
}

/// A purge that failed as a whole, as the command reports it.
fn purge_failed(error: ringback_core::error::DomainError) -> CliError {
    CliError::Purge(error.to_string())
}

async fn provider_leftovers(retry_now: bool) -> Result<(), CliError> {
    use crate::service::provider_leftovers;
    let (_, _, db) = open_existing().await?;
    let failed = |error: ringback_core::error::DomainError| CliError::Leftovers(error.to_string());
    if retry_now {
        let now = crate::clock::Clock::system().now();
        let due = provider_leftovers::retry_now(&db, now)
            .await
            .map_err(failed)?;
        println!("{due} records made due now");
    }
    let waiting = provider_leftovers::waiting(&db).await.map_err(failed)?;
    let oldest = waiting
        .oldest
        .map(|at| format!(", the oldest left on {}", at.date_naive()))
        .unwrap_or_default();
    println!(
        "{} records wait to be deleted at the provider, {} of them after a failed attempt{oldest}",
        waiting.records, waiting.failing
    );
    for (error, records) in &waiting.errors {
        println!("{records} last failed with: {error}");
    }
    Ok(())
}

async fn reset_link(email: &str) -> Result<(), CliError> {
    let (config, _, db) = open_existing().await?;
    let token = crate::service::password_resets::issue(&db, &crate::clock::Clock::system(), email)
        .await
        .map_err(|error| CliError::ResetLink(error.to_string()))?
        .ok_or_else(|| CliError::ResetLink("no account uses this address".to_owned()))?;
    let base = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://localhost:{}", config.listen.port()));
    println!(
        "{base}{}#{token}",
        crate::service::password_resets::RESET_PATH
    );
    println!("The link works once, for an hour; using it ends every other session of the account.");
    Ok(())
}

async fn serve() -> Result<(), CliError> {
    let (config, secrets, db) = open_server().await?;
    tracing::info!(
        database = config.database_kind.label(),
        embedded = config.embedded_database,
        "database ready"
    );
    warn_of_open_sign_up(&config);
    if let Some(billing) = &config.billing {
        crate::service::billing::check_catalogue(&db, billing)
            .await
            .map_err(|error| CliError::Billing(error.to_string()))?;
        start_trials(&db).await?;
    }
    let state = AppState::new(db, config.clone(), secrets);
    let (stop_worker, worker_stop) = tokio::sync::watch::channel(false);
    let sweep = crate::jobs::audit_sweep::spawn(&state, worker_stop.clone());
    let _scheduler = crate::jobs::scheduler::spawn(&state, worker_stop.clone());
    let worker = crate::jobs::worker::spawn(&state, worker_stop);
    let acceptor = TcpListener::bind(config.listen)
        .into_acceptor()
        .await
        .map_err(|source| CliError::Listen {
            address: config.listen.to_string(),
            source,
        })?;
    let url = local_url(&acceptor, &config);
    // The URL goes to stdout so scripts and tests can read where we listen.
    println!("Ringback dashboard: {url}");
    tracing::info!(%url, "serving");
    poem::Server::new_with_acceptor(acceptor)
        .idle_timeout(IDLE_CONNECTION_TIMEOUT)
        .run_with_graceful_shutdown(build_app(state), shutdown_signal(), Some(SHUTDOWN_GRACE))
        .await?;
    // No request is in flight any more; the worker settles the jobs it holds, then stops.
    let _ = stop_worker.send(true);
    if tokio::time::timeout(SHUTDOWN_GRACE, worker).await.is_err() {
        tracing::warn!("the outbox worker did not finish in time; its claims pass on at the lease");
    }
    if tokio::time::timeout(SHUTDOWN_GRACE, sweep).await.is_err() {
        tracing::warn!(
            "the audit sweep did not finish in time; waiting reads are sealed at the next start"
        );
    }
    tracing::info!("stopped");
    Ok(())
}

/// With billing on, the clinics whose trial has not started (they existed before billing was
/// turned on) start it now.
async fn start_trials(db: &sea_orm::DatabaseConnection) -> Result<(), CliError> {
    let started = crate::service::trials::start_all(db, &crate::clock::Clock::system())
        .await
        .map_err(|error| CliError::Billing(error.to_string()))?;
    if started > 0 {
        tracing::info!(clinics = started, "billing is on: free trials started");
    }
    Ok(())
}

/// A server reached over https (a public deployment) that sends no mail signs up at once, which
/// says whether an address has an account: say so, and what turns on confirmed sign-up.
fn warn_of_open_sign_up(config: &Config) {
    let public = config
        .public_url
        .as_deref()
        .is_some_and(|url| url.starts_with("https://"));
    if public && config.mail.is_none() {
        tracing::warn!(
            "sign-up answers at once and so says when an address already has an account; set \
             RINGBACK_SMTP_URL and RINGBACK_MAIL_FROM so that sign-up confirms addresses by mail"
        );
    }
}

/// How long a connection may send and receive nothing before it is closed: a client that opens
/// connections and goes silent would otherwise hold them (and their file descriptors) for ever.
/// A request in flight is never cut: the connection then only stops being kept alive.
const IDLE_CONNECTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a shutdown waits for in-flight requests, and then for the worker's jobs.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

fn log_secrets_source(source: &SecretsSource) {
    match source {
        SecretsSource::Configured => tracing::info!("secrets taken from configuration"),
        SecretsSource::LoadedFrom(path) => {
            tracing::info!(path = %path.display(), "secrets loaded from the data directory")
        }
        SecretsSource::GeneratedInto(path) => tracing::warn!(
            path = %path.display(),
            "generated new secrets for the embedded database (file mode 0600); back this file up"
        ),
    }
}

/// The URL to print: the actual bound port (the configured port may be 0).
fn local_url(acceptor: &impl Acceptor, config: &Config) -> String {
    let bound = acceptor
        .local_addr()
        .into_iter()
        .find_map(|addr| addr.as_socket_addr().copied())
        .unwrap_or(config.listen);
    format!("http://{bound}/")
}

/// Resolves on Ctrl-C or `SIGTERM` (what service managers and container runtimes send).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}

fn normalize(region: Region) -> Result<(), CliError> {
    let stdin = std::io::stdin().lock();
    let stdout = BufWriter::new(std::io::stdout().lock());
    // A line that cannot be read as a number is reported in its own JSON line; the command
    // still succeeds.
    phone_cli::normalize_lines(region, stdin, stdout)?;
    Ok(())
}
