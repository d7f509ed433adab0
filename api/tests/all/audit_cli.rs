//! The operator commands on a real data directory: `ringback audit verify` (intact after the demo,
//! naming the first broken entry with a failing exit status after history is edited), the key
//! checks at start-up, `ringback keys rotate`, and `ringback reset-link` (a link for an account
//! only, audited).

use std::process::Command;

fn ringback(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ringback"))
        .args(args)
        .env("RINGBACK_DATA_DIR", data_dir)
        .env("RINGBACK_LOG", "warn")
        .output()
        .expect("ringback runs")
}

/// A data directory with the demo clinic in it.
fn with_demo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = ringback(dir.path(), &["demo"]);
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    dir
}

#[test]
fn audit_verify_reports_intact_and_broken_chains() {
    let dir = with_demo();
    let intact = ringback(dir.path(), &["audit", "verify"]);
    let text = String::from_utf8_lossy(&intact.stdout).into_owned();
    assert!(intact.status.success(), "{text}");
    assert!(text.starts_with("audit log intact:"), "{text}");

    let database = dir.path().join("ringback.db");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        use sea_orm::ConnectionTrait;
        let url = format!("sqlite://{}?mode=rw", database.display());
        let db = sea_orm::Database::connect(url).await.expect("connect");
        db.execute_unprepared("UPDATE audit_log SET detail = '{\"edited\":true}' WHERE seq = 3")
            .await
            .expect("tamper");
        db.close().await.ok();
    });
    let broken = ringback(dir.path(), &["audit", "verify"]);
    let text = String::from_utf8_lossy(&broken.stdout).into_owned();
    assert!(!broken.status.success(), "a broken chain fails the command");
    assert!(text.contains("entry 3 is the first broken entry"), "{text}");
}

/// A server started with another master key than its database was set up with stops before
/// writing anything, naming the setting; a partial set of secrets stops it too.
#[test]
fn a_changed_master_key_or_a_partial_set_of_secrets_stops_start_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |master_key: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ringback"));
        command
            .arg("demo")
            .env("RINGBACK_DATA_DIR", dir.path())
            .env("RINGBACK_LOG", "warn")
            .env("RINGBACK_PEPPER", "11".repeat(32))
            .env("RINGBACK_SESSION_SECRET", "33".repeat(32));
        if let Some(key) = master_key {
            command.env("RINGBACK_MASTER_KEY", key);
        }
        command.output().expect("ringback runs")
    };
    let first = run(Some(&"22".repeat(32)));
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let changed = run(Some(&"44".repeat(32)));
    let said = String::from_utf8_lossy(&changed.stderr).into_owned();
    assert!(!changed.status.success(), "a changed master key is refused");
    assert!(said.contains("RINGBACK_MASTER_KEY"), "{said}");
    assert!(
        !said.contains(&"44".repeat(32)),
        "the key is never echoed: {said}"
    );
    let partial = run(None);
    let said = String::from_utf8_lossy(&partial.stderr).into_owned();
    assert!(!partial.status.success(), "a partial set is refused");
    assert!(said.contains("RINGBACK_MASTER_KEY"), "{said}");
    let again = run(Some(&"22".repeat(32)));
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// Every clinic's data key opens with `master_key` (hex) and not with any other key.
fn data_keys_open_with(database: &std::path::Path, master_key: &str) -> bool {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        use sea_orm::EntityTrait;
        let url = format!("sqlite://{}?mode=rw", database.display());
        let db = sea_orm::Database::connect(url).await.expect("connect");
        let clinics = ringback_entity::clinic::Entity::find()
            .all(&db)
            .await
            .expect("clinics");
        db.close().await.ok();
        let secrets = secrets_with_master(master_key);
        assert!(!clinics.is_empty());
        clinics
            .iter()
            .all(|clinic| ringback_api::service::keys::data_key(&secrets, clinic).is_ok())
    })
}

fn secrets_with_master(master_key: &str) -> ringback_api::secrets::Secrets {
    let settings = ringback_api::config::RawSettings::load([
        ("RINGBACK_PEPPER".to_owned(), "11".repeat(32)),
        ("RINGBACK_MASTER_KEY".to_owned(), master_key.to_owned()),
        ("RINGBACK_SESSION_SECRET".to_owned(), "33".repeat(32)),
    ])
    .expect("settings");
    ringback_api::secrets::Secrets::resolve(&settings, std::path::Path::new("/nonexistent"), false)
        .expect("secrets")
        .0
}

/// `ringback keys rotate` with configured secrets: refused without the new key (naming the
/// setting, changing nothing); with it, every clinic's data key opens with the new key only, and a
/// server started with the old key is refused while one with the new key starts.
#[test]
fn keys_rotate_moves_every_clinic_to_the_new_master_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = dir.path().join("ringback.db");
    let (old, new) = ("22".repeat(32), "44".repeat(32));
    let run = |args: &[&str], master_key: &str, new_master_key: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ringback"));
        command
            .args(args)
            .env("RINGBACK_DATA_DIR", dir.path())
            .env("RINGBACK_LOG", "warn")
            .env("RINGBACK_PEPPER", "11".repeat(32))
            .env("RINGBACK_MASTER_KEY", master_key)
            .env("RINGBACK_SESSION_SECRET", "33".repeat(32));
        if let Some(key) = new_master_key {
            command.env("RINGBACK_NEW_MASTER_KEY", key);
        }
        command.output().expect("ringback runs")
    };
    let demo = run(&["demo"], &old, None);
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );

    let without_new_key = run(&["keys", "rotate"], &old, None);
    let said = String::from_utf8_lossy(&without_new_key.stderr).into_owned();
    assert!(!without_new_key.status.success());
    assert!(said.contains("RINGBACK_NEW_MASTER_KEY"), "{said}");
    assert!(data_keys_open_with(&database, &old));

    let rotated = run(&["keys", "rotate"], &old, Some(&new));
    let said = String::from_utf8_lossy(&rotated.stdout).into_owned();
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    // The demo's dental clinic and its trades business.
    assert!(said.contains("2 clinic data keys rewrapped"), "{said}");
    assert!(!said.contains(&new), "the key is never echoed: {said}");
    assert!(data_keys_open_with(&database, &new));
    assert!(!data_keys_open_with(&database, &old));

    let with_old_key = run(&["demo"], &old, None);
    assert!(!with_old_key.status.success(), "the old key is refused");
    let with_new_key = run(&["demo"], &new, None);
    assert!(
        with_new_key.status.success(),
        "{}",
        String::from_utf8_lossy(&with_new_key.stderr)
    );
}

/// `ringback keys rotate` on the data directory's generated secrets writes the new key there; a
/// rotation that stopped after the database committed but before the file was replaced is
/// finished by the next start.
#[test]
fn keys_rotate_updates_the_secrets_file_and_an_interrupted_rotation_is_finished() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secrets_file = dir.path().join("secrets.toml");
    let master_key_of = |path: &std::path::Path| {
        let text = std::fs::read_to_string(path).expect("secrets file");
        let table: toml::Table = text.parse().expect("toml");
        table["master_key"].as_str().expect("master_key").to_owned()
    };
    assert!(ringback(dir.path(), &["demo"]).status.success());
    let before = master_key_of(&secrets_file);
    let saved = std::fs::read(&secrets_file).expect("read");

    let rotated = ringback(dir.path(), &["keys", "rotate"]);
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let after = master_key_of(&secrets_file);
    assert_ne!(before, after);
    assert!(data_keys_open_with(&dir.path().join("ringback.db"), &after));

    // As if the rotation had stopped before the rename: the old file in place, the new one next.
    std::fs::rename(&secrets_file, dir.path().join("secrets.next.toml")).expect("rename");
    std::fs::write(&secrets_file, saved).expect("write");
    let resumed = ringback(dir.path(), &["demo"]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(master_key_of(&secrets_file), after);
    assert!(!dir.path().join("secrets.next.toml").exists());
}

/// `ringback keys rotate-pepper` on the generated secrets file: a new pepper, the old one kept as
/// the previous pepper, and the server starts with both; configured secrets without the previous
/// pepper are refused, naming the setting.
#[test]
fn keys_rotate_pepper_keeps_the_previous_pepper() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secrets_file = dir.path().join("secrets.toml");
    let read = || -> toml::Table {
        std::fs::read_to_string(&secrets_file)
            .expect("secrets file")
            .parse()
            .expect("toml")
    };
    assert!(ringback(dir.path(), &["demo"]).status.success());
    let before = read();
    let rotated = ringback(dir.path(), &["keys", "rotate-pepper"]);
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let after = read();
    assert_ne!(after["pepper"], before["pepper"]);
    assert_eq!(after["previous_pepper"], before["pepper"]);
    assert_eq!(after["master_key"], before["master_key"]);
    let started = ringback(dir.path(), &["demo"]);
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );

    let configured = Command::new(env!("CARGO_BIN_EXE_ringback"))
        .args(["keys", "rotate-pepper"])
        .env("RINGBACK_DATA_DIR", dir.path())
        .env("RINGBACK_LOG", "warn")
        .env("RINGBACK_PEPPER", "55".repeat(32))
        .env("RINGBACK_MASTER_KEY", "22".repeat(32))
        .env("RINGBACK_SESSION_SECRET", "33".repeat(32))
        .output()
        .expect("ringback runs");
    let said = String::from_utf8_lossy(&configured.stderr).into_owned();
    assert!(!configured.status.success());
    assert!(said.contains("RINGBACK_PREVIOUS_PEPPER"), "{said}");
}

#[test]
fn purge_prints_what_it_would_remove_and_then_removes_it() {
    let dir = with_demo();
    for args in [&["purge", "--dry-run"][..], &["purge"][..]] {
        let purged = ringback(dir.path(), args);
        let text = String::from_utf8_lossy(&purged.stdout).into_owned();
        assert!(
            purged.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&purged.stderr)
        );
        // The demo's dental clinic and its trades business.
        assert!(text.contains("2 clinics visited"), "{args:?}: {text}");
    }
    let verified = ringback(dir.path(), &["audit", "verify"]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
}

/// `ringback provider-leftovers`: what deleted clinics left at Twilio (nothing here), and
/// `--retry-now` makes it due.
#[test]
fn provider_leftovers_says_what_waits() {
    let dir = with_demo();
    let shown = ringback(dir.path(), &["provider-leftovers", "--retry-now"]);
    let text = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(shown.status.success(), "{text}");
    assert!(text.contains("0 records made due now"), "{text}");
    assert!(
        text.contains(
            "0 records wait to be deleted at the provider, 0 of them after a failed attempt"
        ),
        "{text}"
    );
}

/// `ringback reset-link`: a one-time link for an account, on the public URL when one is set,
/// audited in the account's clinic with no actor; an address without an account fails the
/// command and gets no link.
#[test]
fn reset_link_prints_a_link_for_an_account_only() {
    let dir = with_demo();
    let issued = Command::new(env!("CARGO_BIN_EXE_ringback"))
        .args(["reset-link", ringback_api::demo::DEMO_EMAIL])
        .env("RINGBACK_DATA_DIR", dir.path())
        .env("RINGBACK_LOG", "warn")
        .env("RINGBACK_PUBLIC_URL", "https://ringback.example.test")
        .output()
        .expect("ringback runs");
    let text = String::from_utf8_lossy(&issued.stdout).into_owned();
    assert!(
        issued.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&issued.stderr)
    );
    let token = text
        .lines()
        .find_map(|line| line.strip_prefix("https://ringback.example.test/reset-password#"))
        .unwrap_or_else(|| panic!("a link: {text}"));
    assert_eq!(token.len(), 64, "{text}");
    let unknown = ringback(dir.path(), &["reset-link", "nobody@clinic.test"]);
    assert!(!unknown.status.success(), "no account, no link");
    let said = String::from_utf8_lossy(&unknown.stderr).into_owned();
    assert!(said.contains("no account uses this address"), "{said}");
    assert!(!String::from_utf8_lossy(&unknown.stdout).contains("reset-password"));

    let database = dir.path().join("ringback.db");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let issued_entries = runtime.block_on(async {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let url = format!("sqlite://{}?mode=rw", database.display());
        let db = sea_orm::Database::connect(url).await.expect("connect");
        let count = ringback_entity::audit_log::Entity::find()
            .filter(
                ringback_entity::audit_log::Column::Action.eq("auth.password_reset_link_issued"),
            )
            .filter(ringback_entity::audit_log::Column::ActorUserId.is_null())
            .count(&db)
            .await
            .expect("audit entries");
        db.close().await.ok();
        count
    });
    assert_eq!(
        issued_entries, 2,
        "audited in each of the demo owner's businesses"
    );
}

/// A command run against the PostgreSQL database `test_db` as the server's role, with `extra`
/// settings.
fn ringback_on_postgres(
    app_url: &str,
    args: &[&str],
    extra: &[(&str, &str)],
) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ringback"));
    command
        .args(args)
        .env("RINGBACK_DATABASE_URL", app_url)
        .env("RINGBACK_PEPPER", "11".repeat(32))
        .env("RINGBACK_MASTER_KEY", "22".repeat(32))
        .env("RINGBACK_SESSION_SECRET", "33".repeat(32))
        .env("RINGBACK_LOG", "warn");
    for (name, value) in extra {
        command.env(name, value);
    }
    command.output().expect("ringback runs")
}

/// On PostgreSQL the audit verification runs as the tables' owner: without
/// `RINGBACK_MIGRATION_DATABASE_URL` it stops naming the setting, and as the server's own role
/// (which row-level security shows no clinic's rows outside a scope) it is refused rather than
/// reporting an empty log as intact; as the owner it checks every entry.
#[tokio::test]
async fn audit_verify_on_postgresql_runs_only_as_the_owner() {
    use crate::common::TestDb;
    use ringback_api::config::DatabaseKind;
    let test_db = TestDb::new(DatabaseKind::Postgres).await;
    let app_url = test_db.app_role_url().await;
    let seeded = ringback_on_postgres(&app_url, &["demo", "--allow-known-password"], &[]);
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let verify = |migration_url: Option<&str>| {
        let extra: Vec<(&str, &str)> = migration_url
            .map(|url| vec![("RINGBACK_MIGRATION_DATABASE_URL", url)])
            .unwrap_or_default();
        let output = ringback_on_postgres(&app_url, &["audit", "verify"], &extra);
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), said)
    };
    let (passed, said) = verify(None);
    assert!(!passed, "{said}");
    assert!(
        said.contains("RINGBACK_MIGRATION_DATABASE_URL is required"),
        "{said}"
    );
    let (passed, said) = verify(Some(&app_url));
    assert!(!passed, "{said}");
    assert!(said.contains("does not own the tables"), "{said}");
    assert!(!said.contains("intact"), "{said}");
    let (passed, said) = verify(Some(&test_db.url));
    assert!(passed, "{said}");
    assert!(said.contains("audit log intact"), "{said}");
    assert!(said.contains("in 2 clinics"), "{said}");
    test_db.finish().await;
}

/// A PostgreSQL database missing a migration this server needs stops the server (and every
/// command on it), naming `ringback migrate`, rather than failing request by request.
#[tokio::test]
async fn a_database_missing_a_migration_stops_start_up() {
    use crate::common::TestDb;
    use ringback_api::config::DatabaseKind;
    use sea_orm::ConnectionTrait;
    let test_db = TestDb::new(DatabaseKind::Postgres).await;
    let app_url = test_db.app_role_url().await;
    test_db
        .db
        .execute_unprepared(
            "DELETE FROM seaql_migrations WHERE version = \
             (SELECT MAX(version) FROM seaql_migrations)",
        )
        .await
        .expect("forget the newest migration");
    let output = ringback_on_postgres(&app_url, &["provider-leftovers"], &[]);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{said}");
    assert!(said.contains("1 migration(s)"), "{said}");
    assert!(said.contains("ringback migrate"), "{said}");
    test_db.finish().await;
}

/// The demo's published password is refused on a server others may reach even on SQLite: a
/// public https URL or Twilio set up needs `--allow-known-password`; nothing is created.
#[test]
fn the_demo_needs_allowing_on_a_server_others_may_reach() {
    let dir = tempfile::tempdir().expect("tempdir");
    let public_demo = || {
        Command::new(env!("CARGO_BIN_EXE_ringback"))
            .arg("demo")
            .env("RINGBACK_DATA_DIR", dir.path())
            .env("RINGBACK_LOG", "warn")
            .env("RINGBACK_PUBLIC_URL", "https://clinic.example.test")
            .output()
            .expect("ringback runs")
    };
    let refused = public_demo();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{said}");
    assert!(said.contains("public URL"), "{said}");
    assert!(said.contains("--allow-known-password"), "{said}");
    let shown = ringback(dir.path(), &["reset-link", ringback_api::demo::DEMO_EMAIL]);
    assert!(
        !shown.status.success(),
        "no demo owner was created: {}",
        String::from_utf8_lossy(&shown.stdout)
    );
    // A demo made on this machine alone is there: the same server later given a public URL
    // (`cargo xtask run` runs the demo each time) is not stopped by it.
    let made = ringback(dir.path(), &["demo"]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let again = public_demo();
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(said.contains("already exists"), "{said}");
}

/// `ringback purge` takes the scheduler's lease: while a server's purge holds it the command
/// removes nothing and says so; afterwards it runs and is recorded as the task's last run.
#[tokio::test]
async fn purge_waits_for_a_servers_run_and_counts_as_the_days_run() {
    let dir = with_demo();
    let url = format!(
        "sqlite://{}?mode=rw",
        dir.path().join("ringback.db").display()
    );
    let db = sea_orm::Database::connect(&url).await.expect("open");
    let now = chrono::Utc::now();
    let lease = (chrono::Duration::hours(24), chrono::Duration::hours(1));
    ringback_core::schedule::register(&db, "retention")
        .await
        .expect("register");
    let taken = ringback_core::schedule::take_if_due(&db, "retention", "server-1", lease, now)
        .await
        .expect("take");
    assert!(taken, "the server's run holds the purge");
    let refused = ringback(dir.path(), &["purge"]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{said}");
    assert!(said.contains("a server is purging now"), "{said}");

    ringback_core::schedule::finish(&db, "retention", "server-1", "done", now)
        .await
        .expect("finish");
    let purged = ringback(dir.path(), &["purge"]);
    assert!(
        purged.status.success(),
        "{}",
        String::from_utf8_lossy(&purged.stderr)
    );
    let record = ringback_core::schedule::record(&db, "retention")
        .await
        .expect("read")
        .expect("registered");
    assert!(record.leased_by.is_none(), "the command let the lease go");
    let outcome = record.last_outcome.unwrap_or_default();
    assert!(outcome.contains("rows removed in 2 clinics"), "{outcome}");
    assert!(
        record.last_started_at > Some(now),
        "the command's run is the last"
    );
    db.close().await.ok();
}

/// A command on an existing server's data, run where there is none, stops naming
/// `RINGBACK_DATA_DIR` and creates neither a database nor secrets.
#[test]
fn maintenance_commands_never_create_a_database() {
    let dir = tempfile::tempdir().expect("tempdir");
    for args in [
        &["purge"][..],
        &["provider-leftovers"][..],
        &["reset-link", "owner@example.test"][..],
        &["audit", "verify"][..],
        &["keys", "rotate"][..],
    ] {
        let output = ringback(dir.path(), args);
        let said = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}: {said}");
        assert!(said.contains("RINGBACK_DATA_DIR"), "{args:?}: {said}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("list").collect();
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
}
