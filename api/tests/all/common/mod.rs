//! Test support: a fresh database per test, on SQLite (a temporary file) or on PostgreSQL (a clone
//! of a migrated template database on the server named by `RINGBACK_TEST_POSTGRES_URL`), removed
//! when the test ends; an app built around it ([`app::TestApp`]); and [`on_both_databases!`],
//! which makes each test's SQLite and PostgreSQL twins.
//!
//! The PostgreSQL variant never skips: without the variable it fails and says how to provide one.

#![allow(dead_code)]

pub mod app;
pub mod figures;
pub mod graphql;
pub mod logs;
mod template;
pub mod twilio;

use poem::Endpoint;
use ringback_api::clock::Clock;
use ringback_api::config::{Config, DatabaseKind, RawSettings};
use ringback_api::fakes::twilio::{ACCOUNT_SID, FakeTwilio};
use ringback_api::secrets::Secrets;
use ringback_api::tenant::begin_maintenance;
use ringback_api::{AppState, build_app, db};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

/// A migrated database that exists only for one test.
pub struct TestDb {
    /// The owner's connection (migrations, fixtures, inspection).
    pub db: DatabaseConnection,
    /// The application's connection: on PostgreSQL a role that does not own the tables, so
    /// row-level security applies to everything the app does in tests, as in production.
    pub app_db: DatabaseConnection,
    pub kind: DatabaseKind,
    pub url: String,
    /// The clock of every app built on this database: the real time until the test sets it.
    pub clock: Clock,
    cleanup: Option<Cleanup>,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    /// A fresh, migrated database of `kind`.
    pub async fn new(kind: DatabaseKind) -> Self {
        let mut test_db = match kind {
            DatabaseKind::Sqlite => Self::sqlite().await,
            DatabaseKind::Postgres => Self::postgres().await,
        };
        db::migrate(&test_db.db).await.expect("migrations apply");
        if kind == DatabaseKind::Postgres {
            test_db.app_db = test_db.app_role_connection().await;
        }
        test_db
    }

    /// A fresh, migrated database of `kind` whose clock starts at noon of today in London (the
    /// test clinics' and the demo's time zone), for tests whose minutes must not cross a boundary
    /// of the clock: a local midnight (which moves every local day they look at by one, e.g. a
    /// purge of the 90-day demo), the default opening hours' 09:00 and 17:30 (which change a
    /// text-back's wording; noon is inside them on weekdays, outside at weekends) or a UTC month
    /// (which resets monthly quotas and budgets).
    pub async fn at_midday(kind: DatabaseKind) -> Self {
        let test_db = Self::new(kind).await;
        test_db.clock.set(midday_in_london(test_db.clock.now()));
        test_db
    }

    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        let db = db::connect_url(&url, DatabaseKind::Sqlite)
            .await
            .expect("sqlite connects");
        Self {
            app_db: db.clone(),
            db,
            kind: DatabaseKind::Sqlite,
            url,
            clock: Clock::settable(),
            cleanup: Some(Cleanup::Sqlite(dir)),
        }
    }

    async fn postgres() -> Self {
        let admin_url = std::env::var("RINGBACK_TEST_POSTGRES_URL").unwrap_or_else(|_| {
            panic!(
                "RINGBACK_TEST_POSTGRES_URL is not set: the PostgreSQL tests need a server \
                 (`cargo xtask test` starts one; or point it at a role with CREATEDB)"
            )
        });
        let template = template::migrated(&admin_url).await;
        let name = format!("ringback_test_{}", random_suffix());
        let admin = db::connect_url(&admin_url, DatabaseKind::Postgres)
            .await
            .expect("PostgreSQL test server reachable");
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await
            .expect("clone the template database");
        admin.close().await.ok();
        let url = replace_database(&admin_url, &name);
        let db = db::connect_url(&url, DatabaseKind::Postgres)
            .await
            .expect("test database connects");
        Self {
            app_db: db.clone(),
            db,
            kind: DatabaseKind::Postgres,
            url,
            clock: Clock::settable(),
            cleanup: Some(Cleanup::Postgres { admin_url, name }),
        }
    }

    /// A pool on this database as a login role that is only a member of `ringback_app` (not the
    /// tables' owner), so PostgreSQL's row-level security applies to it.
    pub async fn app_role_connection(&self) -> DatabaseConnection {
        let url = self.app_role_url().await;
        db::connect_serving(
            &url,
            DatabaseKind::Postgres,
            db::DEFAULT_POSTGRES_CONNECTIONS,
        )
        .await
        .expect("app role connects")
    }

    /// The URL of this database for a login in the application role (created if need be), as a
    /// server started against it uses.
    pub async fn app_role_url(&self) -> String {
        assert_eq!(
            self.kind,
            DatabaseKind::Postgres,
            "only PostgreSQL has roles"
        );
        self.db
            .execute_unprepared(&format!(
                "DO $$ BEGIN CREATE ROLE {APP_LOGIN} LOGIN PASSWORD '{APP_LOGIN}' IN ROLE ringback_app; \
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            ))
            .await
            .expect("create app login role");
        with_credentials(&self.url, APP_LOGIN, APP_LOGIN)
    }

    /// Everything stored, as text: on SQLite the database file and its write-ahead log (so a value
    /// shows up whichever table or journal holds it); on PostgreSQL every row of `tables` as JSON.
    pub async fn stored_text(&self, tables: &[&str]) -> String {
        match self.kind {
            DatabaseKind::Sqlite => {
                let path = self
                    .url
                    .trim_start_matches("sqlite://")
                    .split('?')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                [path.clone(), format!("{path}-wal")]
                    .iter()
                    .filter_map(|file| std::fs::read(file).ok())
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                    .collect()
            }
            DatabaseKind::Postgres => {
                let mut text = String::new();
                for table in tables {
                    let sql = format!("SELECT row_to_json(t)::text AS row FROM {table} t");
                    text.push_str(&self.query_strings(&sql, &["row"]).await.concat().concat());
                }
                text
            }
        }
    }

    /// Runs `sql` as the tables' owner, across clinics (row-level security is forced on
    /// PostgreSQL, so it runs as declared maintenance).
    pub async fn execute_as_owner(&self, sql: &str) {
        let txn = begin_maintenance(&self.db).await.expect("begin");
        txn.execute_unprepared(sql).await.expect("statement runs");
        txn.commit().await.expect("commit");
    }

    /// Runs `sql` and returns each row's columns as strings.
    pub async fn query_strings(&self, sql: &str, columns: &[&str]) -> Vec<Vec<String>> {
        let backend = self.db.get_database_backend();
        // As the owner, across clinics: row-level security is forced on PostgreSQL.
        let txn = begin_maintenance(&self.db).await.expect("begin");
        let rows = txn
            .query_all_raw(Statement::from_string(backend, sql.to_owned()))
            .await
            .expect("query runs");
        txn.commit().await.expect("commit");
        rows.iter()
            .map(|row| {
                columns
                    .iter()
                    .map(|column| row.try_get::<String>("", column).expect("string column"))
                    .collect()
            })
            .collect()
    }

    /// An application serving this database, with its dashboard in `web_dir`.
    pub fn app(&self, web_dir: &std::path::Path) -> impl Endpoint + use<> {
        build_app(self.state(web_dir))
    }

    /// A fake Twilio dating by this database's clock, whose account holds `numbers` (E.164).
    pub async fn fake_twilio(&self, numbers: &[&str]) -> FakeTwilio {
        let fake = FakeTwilio::start_with_clock(ACCOUNT_SID, TWILIO_AUTH_TOKEN, self.clock.clone())
            .await
            .expect("fake Twilio starts");
        for number in numbers {
            fake.provision_number(number);
        }
        fake
    }

    /// An application serving this database whose Twilio account is `fake`.
    pub fn app_with_twilio(
        &self,
        web_dir: &std::path::Path,
        fake: &FakeTwilio,
    ) -> impl Endpoint + use<> {
        build_app(self.state_with(web_dir, &twilio_settings(fake)))
    }

    /// Application state around this database.
    pub fn state(&self, web_dir: &std::path::Path) -> AppState {
        self.state_with(web_dir, &[])
    }

    /// Application state around this database, with more `RINGBACK_*` settings.
    pub fn state_with(&self, web_dir: &std::path::Path, extra: &[(&str, &str)]) -> AppState {
        let mut env = vec![
            ("RINGBACK_DATABASE_URL".to_owned(), self.url.clone()),
            ("RINGBACK_WEB_DIR".to_owned(), web_dir.display().to_string()),
            ("RINGBACK_PEPPER".to_owned(), "11".repeat(32)),
            ("RINGBACK_MASTER_KEY".to_owned(), "22".repeat(32)),
            ("RINGBACK_SESSION_SECRET".to_owned(), "33".repeat(32)),
            (
                "RINGBACK_TWILIO_AUTH_TOKEN".to_owned(),
                TWILIO_AUTH_TOKEN.to_owned(),
            ),
            ("RINGBACK_PUBLIC_URL".to_owned(), PUBLIC_URL.to_owned()),
        ];
        env.extend(
            extra
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        let settings = RawSettings::load(env).expect("settings");
        let config = Config::from_settings(&settings).expect("config");
        let (secrets, _) = Secrets::resolve(&settings, &config.data_dir, false).expect("secrets");
        AppState::with_clock(self.app_db.clone(), config, secrets, self.clock.clone())
    }

    /// Closes the pools, checks that no job was left claimed, and drops a PostgreSQL test database
    /// (also done on drop; this form lets a test wait for it).
    pub async fn finish(mut self) {
        self.app_db.close_by_ref().await.ok();
        self.db.close_by_ref().await.ok();
        if let Some(cleanup) = self.cleanup.take() {
            cleanup
                .run(self.url.clone(), !std::thread::panicking())
                .await;
        }
    }
}

impl Drop for TestDb {
    /// A test that did not call [`TestDb::finish`] still leaves no database behind: the clean-up
    /// runs on a thread of its own (a destructor cannot wait on the test's runtime).
    fn drop(&mut self) {
        let Some(cleanup) = self.cleanup.take() else {
            return;
        };
        let url = self.url.clone();
        let check = !std::thread::panicking();
        let outcome = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the clean-up")
                .block_on(cleanup.run(url, check));
        })
        .join();
        if let Err(panic) = outcome
            && check
        {
            std::panic::resume_unwind(panic);
        }
    }
}

impl Cleanup {
    /// Checks (when `check`) that no job of the database at `url` is still claimed, then removes
    /// the database.
    async fn run(self, url: String, check: bool) {
        let kind = match self {
            Cleanup::Sqlite(_) => DatabaseKind::Sqlite,
            Cleanup::Postgres { .. } => DatabaseKind::Postgres,
        };
        let claimed = if check {
            claimed_jobs(&url, kind).await
        } else {
            0
        };
        let dropped = match self {
            Cleanup::Postgres { admin_url, name } => drop_database(&admin_url, &name).await,
            Cleanup::Sqlite(_) => Ok(()),
        };
        assert_eq!(claimed, 0, "the test left jobs claimed in the outbox");
        if check && let Err(error) = dropped {
            panic!("the test database was left behind: {error}");
        }
    }
}

/// Drops the PostgreSQL test database `name`. `WITH (FORCE)` ends the sessions still connected,
/// but the test role may not end the app role's: when the drop is refused, those are ended as the
/// app role itself (a role may end its own sessions) and the drop is tried again, up to eight
/// times, waiting a little longer each time.
async fn drop_database(admin_url: &str, name: &str) -> Result<(), String> {
    let admin = db::connect_url(admin_url, DatabaseKind::Postgres)
        .await
        .map_err(|e| format!("{name}: the server cannot be reached: {e}"))?;
    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    let mut outcome = admin.execute_unprepared(&drop).await.map(|_| ());
    let mut ending = Ok(());
    // A busy machine may take longer than one wait to end a session: each try waits longer.
    for attempt in 0..8 {
        if outcome.is_ok() {
            break;
        }
        ending = end_app_role_sessions(admin_url, name).await;
        tokio::time::sleep(std::time::Duration::from_millis(250 * attempt)).await;
        outcome = admin.execute_unprepared(&drop).await.map(|_| ());
    }
    admin.close().await.ok();
    outcome.map_err(|e| match ending {
        Ok(()) => format!("{name} could not be dropped: {e}"),
        Err(ending) => format!("{name} could not be dropped: {e} ({ending})"),
    })
}

/// Ends the app role's sessions on the database `name`, connected as that role, and waits (up
/// to 5 s each) until they are gone: a session still exiting would refuse the drop again.
async fn end_app_role_sessions(admin_url: &str, name: &str) -> Result<(), String> {
    let url = with_credentials(admin_url, APP_LOGIN, APP_LOGIN);
    let app = db::connect_url(&url, DatabaseKind::Postgres)
        .await
        .map_err(|e| format!("the app role cannot connect to end its sessions: {e}"))?;
    let ended = app
        .execute_unprepared(&format!(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
             WHERE datname = '{name}' AND usename = '{APP_LOGIN}' AND pid <> pg_backend_pid()"
        ))
        .await
        .map(|_| ())
        .map_err(|e| format!("the app role's sessions could not be ended: {e}"));
    app.close().await.ok();
    ended
}

/// How many outbox jobs of the database at `url` are claimed by a worker.
async fn claimed_jobs(url: &str, kind: DatabaseKind) -> i64 {
    let Ok(db) = db::connect_url(url, kind).await else {
        return 0;
    };
    let statement = Statement::from_string(
        db.get_database_backend(),
        "SELECT count(*) AS n FROM job_outbox WHERE status = 'claimed'".to_owned(),
    );
    let Ok(txn) = begin_maintenance(&db).await else {
        return 0;
    };
    let count = match txn.query_one_raw(statement).await {
        Ok(Some(row)) => row.try_get::<i64>("", "n").unwrap_or(0),
        _ => 0,
    };
    txn.commit().await.ok();
    db.close().await.ok();
    count
}

/// The Twilio auth token test servers are configured with.
pub const TWILIO_AUTH_TOKEN: &str = "test-twilio-auth-token";
/// The public URL test servers are configured with (as behind a TLS-terminating proxy).
pub const PUBLIC_URL: &str = "https://ringback.example.test";

/// Login role used by tests that need row-level security to apply.
const APP_LOGIN: &str = "ringback_app_test";

/// `url` with its user and password replaced.
fn with_credentials(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("url has a scheme");
    let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{user}:{password}@{host}")
}

fn random_suffix() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// `postgres://u:p@h:5432/postgres` with its database replaced by `name`.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(head, _)| head);
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// Serves `app` on a free local port; returns its base URL (no trailing slash).
pub async fn serve(app: impl Endpoint + 'static) -> String {
    use poem::listener::{Acceptor, Listener, TcpListener};
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("bind a local port");
    let address = acceptor
        .local_addr()
        .into_iter()
        .find_map(|addr| addr.as_socket_addr().copied())
        .expect("local address");
    tokio::spawn(async move {
        let _ = poem::Server::new_with_acceptor(acceptor).run(app).await;
    });
    format!("http://{address}")
}

/// The test door to `clinic_id`'s data on `state`'s database and clock.
pub fn tenant(state: &AppState, clinic_id: uuid::Uuid) -> ringback_api::tenant::TenantScope {
    ringback_api::tenant::TenantScope::for_test(state.db.clone(), state.clock.clone(), clinic_id)
}

/// Runs each named `async fn(DatabaseKind)` as two tests, `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name(ringback_api::config::DatabaseKind::Sqlite).await;
                }

                #[tokio::test]
                async fn postgres() {
                    super::$name(ringback_api::config::DatabaseKind::Postgres).await;
                }
            }
        )+
    };
}

/// The settings that make an application use `fake` as its Twilio account.
pub fn twilio_settings(fake: &FakeTwilio) -> [(&'static str, &str); 2] {
    [
        ("RINGBACK_TWILIO_ACCOUNT_SID", ACCOUNT_SID),
        ("RINGBACK_TWILIO_API_URL", fake.api_url()),
    ]
}

/// Noon of `now`'s London day, as an instant.
fn midday_in_london(now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    let zone = chrono_tz::Europe::London;
    let noon = now
        .with_timezone(&zone)
        .date_naive()
        .and_hms_opt(12, 0, 0)
        .expect("noon exists");
    zone.from_local_datetime(&noon)
        .single()
        .expect("noon is never skipped nor repeated in London")
        .with_timezone(&chrono::Utc)
}
