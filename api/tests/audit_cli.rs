//! `ringback audit verify` on a real data directory: intact after the demo, and naming the first
//! broken entry (with a failing exit status) after history is edited.

use std::process::Command;

fn ringback(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ringback"))
        .args(args)
        .env("RINGBACK_DATA_DIR", data_dir)
        .env("RINGBACK_LOG", "warn")
        .output()
        .expect("ringback runs")
}

#[test]
fn audit_verify_reports_intact_and_broken_chains() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo = ringback(dir.path(), &["demo"]);
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
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
