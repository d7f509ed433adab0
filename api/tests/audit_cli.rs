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
