//! The PostgreSQL template database: migrated once per set of migrations, then cloned by every
//! PostgreSQL test (`CREATE DATABASE … TEMPLATE`), which is far quicker than migrating each time.
//!
//! Its name carries a fingerprint of the migration crate's sources, so a changed migration gets a
//! new template. Test processes may race to build it: each builds under a name of its own and
//! renames it into place; a loser drops its copy and uses the winner's.

use std::hash::{Hash, Hasher};
use std::path::Path;

use ringback_api::config::DatabaseKind;
use ringback_api::db;
use sea_orm::ConnectionTrait;
use tokio::sync::OnceCell;

/// The template's name, once this process has made sure it exists.
static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// The name of a migrated template database on the server at `admin_url`.
pub async fn migrated(admin_url: &str) -> String {
    TEMPLATE
        .get_or_init(|| async { ensure(admin_url).await })
        .await
        .clone()
}

async fn ensure(admin_url: &str) -> String {
    let name = format!("ringback_template_{:016x}", migrations_fingerprint());
    let admin = db::connect_url(admin_url, DatabaseKind::Postgres)
        .await
        .expect("PostgreSQL test server reachable");
    if !exists(&admin, &name).await {
        let building = format!("{name}_{}", super::random_suffix());
        admin
            .execute_unprepared(&format!("CREATE DATABASE {building}"))
            .await
            .expect("create the template database");
        let url = super::replace_database(admin_url, &building);
        let template = db::connect_url(&url, DatabaseKind::Postgres)
            .await
            .expect("template database connects");
        db::migrate(&template).await.expect("migrations apply");
        template.close().await.ok();
        let renamed = admin
            .execute_unprepared(&format!("ALTER DATABASE {building} RENAME TO {name}"))
            .await;
        if renamed.is_err() {
            // Another test process put its template in place first.
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                .await
                .ok();
        }
    }
    admin.close().await.ok();
    name
}

async fn exists(admin: &sea_orm::DatabaseConnection, name: &str) -> bool {
    let statement = sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT 1 AS found FROM pg_database WHERE datname = $1",
        [name.into()],
    );
    admin
        .query_one_raw(statement)
        .await
        .expect("list databases")
        .is_some()
}

/// A hash of every file under the migration crate's `src/`.
fn migrations_fingerprint() -> u64 {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migration/src");
    let mut files = Vec::new();
    collect(&dir, &mut files);
    files.sort();
    let mut hasher = std::hash::DefaultHasher::new();
    for file in files {
        file.file_name().hash(&mut hasher);
        std::fs::read(&file)
            .expect("readable migration source")
            .hash(&mut hasher);
    }
    hasher.finish()
}

fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("migration sources") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}
