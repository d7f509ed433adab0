//! The load generators and the memory sampler: wrk against a GraphQL server (requests per second,
//! p50 and p99 from `--latency`), pgbench of a captured statement script (transactions per
//! second), the CPU time the server and PostgreSQL spent per request (`/proc/<pid>/stat`), and
//! the resident set size of the server processes from `/proc/<pid>/status`.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::{TaskError, TaskResult};

/// One wrk run.
#[derive(Clone, Debug, Default)]
pub struct WrkRun {
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Answers that were not 200, 200s that carried GraphQL errors, and wrk's socket errors.
    pub problems: Vec<String>,
    /// The 200s, when the script counts them.
    pub answered: Option<u64>,
    /// CPU time per request, in microseconds: the server process's, and PostgreSQL's (every
    /// `postgres` process, the backends serving the server among them).
    pub cpu_us: Option<CpuPerRequest>,
}

/// Where a request's CPU time went, in microseconds, and how busy the machine was.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuPerRequest {
    /// The load generator's own time (wrk's, or pgbench's).
    pub client: f64,
    /// The server process's; None for pgbench, which is its own client of PostgreSQL.
    pub server: Option<f64>,
    pub postgres: f64,
    /// How many of the machine's cores were busy on average during the run (every process's
    /// time, from `/proc/stat`): near the core count, the run was bound by CPU.
    pub busy_cores: f64,
}

impl CpuPerRequest {
    /// The CPU time one request cost in all: client, server and PostgreSQL.
    pub fn total(&self) -> f64 {
        self.client + self.server.unwrap_or(0.0) + self.postgres
    }
}

/// One reading of the clocks a run's CPU time is measured by, in ticks.
#[derive(Clone, Copy, Debug)]
struct Reading {
    /// This process's children that have ended (the load generator, once it has been waited for).
    client: Option<u64>,
    /// The server's process, if one is measured.
    server: Option<u64>,
    postgres: u64,
    /// Every core's busy time (`/proc/stat`).
    machine: Option<u64>,
    at: std::time::Instant,
}

impl Reading {
    /// The clocks now, with the server process `server_pid` if there is one.
    fn now(server_pid: Option<u32>) -> Self {
        Self {
            client: children_ticks(),
            server: server_pid.and_then(cpu_ticks),
            postgres: postgres_ticks(),
            machine: machine_busy_ticks(),
            at: std::time::Instant::now(),
        }
    }
}

/// What wrk is pointed at.
pub struct Target<'a> {
    pub url: &'a str,
    pub body: &'a Path,
    pub cookie: Option<&'a str>,
    /// One X-Forwarded-For per request (only for a Ringback without the rate-limit settings).
    pub spread_addresses: bool,
    /// The webhook feed the ingest script replays.
    pub feed: Option<&'a Path>,
    /// The server's process, whose CPU time is counted.
    pub pid: Option<u32>,
}

/// Runs wrk with the benchmark's Lua script for `seconds` at `conns` connections.
pub fn wrk(script: &Path, target: &Target, conns: u32, seconds: u64) -> TaskResult<WrkRun> {
    let threads = conns.clamp(1, 2);
    let mut command = Command::new("wrk");
    command
        .arg(format!("-t{threads}"))
        .arg(format!("-c{conns}"))
        .arg(format!("-d{seconds}s"))
        .arg("--latency")
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(script)
        .arg(target.url)
        .env("BODY", target.body)
        .env("COOKIE", target.cookie.unwrap_or(""))
        .env(
            "SPREAD_ADDRESSES",
            if target.spread_addresses { "1" } else { "0" },
        )
        .env("FEED", target.feed.unwrap_or(Path::new("")))
        .env("THREADS", threads.to_string());
    let before = Reading::now(target.pid);
    let output = command
        .output()
        .map_err(|e| TaskError(format!("cannot run wrk: {e}")))?;
    let after = Reading::now(target.pid);
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(TaskError(format!(
            "wrk against {} failed ({}): {}{}",
            target.url,
            output.status,
            text,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let mut run =
        parse_wrk(&text).ok_or_else(|| TaskError(format!("cannot read wrk's output:\n{text}")))?;
    if target.pid.is_some() {
        run.cpu_us = per_request(before, after, run.rps * seconds as f64);
    }
    Ok(run)
}

/// CPU time per request between two readings, over `requests` requests; None when the client's
/// reading is missing or nothing was served.
fn per_request(before: Reading, after: Reading, requests: f64) -> Option<CpuPerRequest> {
    let ticks_per_second = ticks_per_second();
    let us = |ticks: u64| ticks as f64 * 1e6 / ticks_per_second / requests;
    let client = after.client?.saturating_sub(before.client?);
    let server = before
        .server
        .zip(after.server)
        .map(|(server0, server1)| us(server1.saturating_sub(server0)));
    let seconds = after.at.duration_since(before.at).as_secs_f64();
    let busy_cores = before
        .machine
        .zip(after.machine)
        .filter(|_| seconds > 0.0)
        .map_or(0.0, |(busy0, busy1)| {
            busy1.saturating_sub(busy0) as f64 / ticks_per_second / seconds
        });
    (requests > 0.0).then(|| CpuPerRequest {
        client: us(client),
        server,
        postgres: us(after.postgres.saturating_sub(before.postgres)),
        busy_cores,
    })
}

/// Every core's busy time so far in clock ticks (all but idle and waiting for I/O, from the
/// first line of `/proc/stat`).
fn machine_busy_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    busy_of_cpu_line(stat.lines().next()?)
}

/// The busy ticks of `/proc/stat`'s `cpu` line: user, nice, system, irq, softirq and steal.
fn busy_of_cpu_line(line: &str) -> Option<u64> {
    let ticks: Vec<u64> = line
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let (idle, iowait) = (*ticks.get(3)?, *ticks.get(4)?);
    // guest and guest_nice (fields 9 and 10) are already counted in user and nice.
    let counted: u64 = ticks.iter().take(8).sum();
    Some(counted - idle - iowait)
}

/// The CPU time (user + system) of this process's children that have ended and been waited
/// for, in clock ticks: a pgbench run's own time, read before and after it.
fn children_ticks() -> Option<u64> {
    stat_ticks("/proc/self/stat", Ticks::EndedChildren)
}

/// A process's CPU time so far (user + system, all threads), in clock ticks; None once gone.
fn cpu_ticks(pid: u32) -> Option<u64> {
    stat_ticks(&format!("/proc/{pid}/stat"), Ticks::Own)
}

/// Whose CPU time a `/proc/<pid>/stat` reading adds up.
#[derive(Clone, Copy, PartialEq)]
enum Ticks {
    /// The process's own.
    Own,
    /// Its children's that have ended and been waited for.
    EndedChildren,
    /// Both.
    OwnAndEndedChildren,
}

/// Reads utime + stime and/or cutime + cstime (fields 14–17 of the line, 12–15 after the
/// command name, which is in parentheses and may hold spaces) from a `stat` file.
fn stat_ticks(path: &str, whose: Ticks) -> Option<u64> {
    let stat = std::fs::read_to_string(path).ok()?;
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 2..)?.split(' ').collect();
    let sum = |first: usize| -> Option<u64> {
        Some(fields.get(first)?.parse::<u64>().ok()? + fields.get(first + 1)?.parse::<u64>().ok()?)
    };
    match whose {
        Ticks::Own => sum(11),
        Ticks::EndedChildren => sum(13),
        Ticks::OwnAndEndedChildren => Some(sum(11)? + sum(13)?),
    }
}

/// The CPU time of PostgreSQL in clock ticks: every `postgres` process now running, and the
/// backends that have ended (counted in the postmaster's children's time once it reaps them:
/// pgbench's connections end with each run).
fn postgres_ticks() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(|pid| stat_ticks(&format!("/proc/{pid}/stat"), Ticks::OwnAndEndedChildren))
        .sum()
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 when it cannot say).
fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn parse_wrk(text: &str) -> Option<WrkRun> {
    let mut run = WrkRun::default();
    let mut rps = None;
    let (mut p50, mut p99) = (None, None);
    for line in text.lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("Requests/sec:") {
            rps = value.trim().parse().ok();
        } else if let Some(value) = line.strip_prefix("50%") {
            p50 = duration_ms(value.trim());
        } else if let Some(value) = line.strip_prefix("99%") {
            p99 = duration_ms(value.trim());
        } else if line.starts_with("Socket errors:") {
            run.problems.push(format!("wrk {line}"));
        } else if let Some(counts) = line.strip_prefix("bench-api: ")
            && counts != "non-200 0, errors 0"
        {
            run.problems.push(counts.to_owned());
        } else if let Some(count) = line.strip_prefix("bench-api-ok: ") {
            run.answered = count.trim().parse().ok();
        }
    }
    run.rps = rps?;
    run.p50_ms = p50?;
    run.p99_ms = p99?;
    Some(run)
}

/// wrk's durations: `812.00us`, `2.31ms`, `1.02s`, `1.50m`.
fn duration_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let value: f64 = text[..split].parse().ok()?;
    let factor = match &text[split..] {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1_000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    };
    Some(value * factor)
}

/// How pgbench sends the script's statements.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Protocol {
    Prepared,
    Simple,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Prepared => "prepared",
            Protocol::Simple => "simple",
        }
    }
}

/// Where pgbench connects: the login role on the bench database.
pub struct PgTarget {
    pub role: &'static str,
    pub password: String,
    pub database: &'static str,
}

/// Runs `script` once in one client: Ok when every statement succeeds.
pub fn pgbench_once(script: &Path, target: &PgTarget, protocol: Protocol) -> TaskResult {
    let output = pgbench_command(script, target, protocol)
        .args(["-c", "1", "-j", "1", "-t", "1"])
        .output()
        .map_err(|e| TaskError(format!("cannot run pgbench: {e}")))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() && !text.contains("aborted") {
        Ok(())
    } else {
        Err(TaskError(text.trim().to_owned()))
    }
}

/// How long after pgbench ends its connections' backends are counted as ended.
const REAPING: Duration = Duration::from_millis(200);

/// One pgbench run: transactions per second, and the CPU time per transaction of pgbench itself
/// (the client) and of PostgreSQL.
#[derive(Clone, Copy, Debug, Default)]
pub struct PgbenchRun {
    pub tps: f64,
    pub cpu_us: Option<CpuPerRequest>,
}

/// Runs `script` for `seconds` at `conns` clients.
pub fn pgbench(
    script: &Path,
    target: &PgTarget,
    protocol: Protocol,
    conns: u32,
    seconds: u64,
) -> TaskResult<PgbenchRun> {
    let before = Reading::now(None);
    let output = pgbench_command(script, target, protocol)
        .arg("-c")
        .arg(conns.to_string())
        .arg("-j")
        .arg(conns.clamp(1, 2).to_string())
        .arg("-T")
        .arg(seconds.to_string())
        .output()
        .map_err(|e| TaskError(format!("cannot run pgbench: {e}")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let tps = text
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok());
    // The postmaster counts a backend's time once it has reaped it, just after pgbench ends.
    let ended = Reading::now(None);
    std::thread::sleep(REAPING);
    let after = Reading {
        postgres: postgres_ticks(),
        ..ended
    };
    match tps {
        Some(tps) if output.status.success() => Ok(PgbenchRun {
            tps,
            cpu_us: per_request(before, after, tps * seconds as f64),
        }),
        _ => Err(TaskError(format!(
            "pgbench failed ({}): {text}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))),
    }
}

fn pgbench_command(script: &Path, target: &PgTarget, protocol: Protocol) -> Command {
    let mut command = Command::new("pgbench");
    command
        .args(["-n", "-M", protocol.name(), "-h", "127.0.0.1", "-p", "5432"])
        .args(["-U", target.role])
        .arg("-f")
        .arg(script)
        .arg(target.database)
        .env("PGPASSWORD", &target.password)
        .env(super::PLAIN_TCP_ENV.0, super::PLAIN_TCP_ENV.1);
    command
}

/// A process's resident set size in kB (`VmRSS`), or None once it has gone.
pub fn rss_kb(pid: u32) -> Option<u64> {
    status_kb(pid, "VmRSS:")
}

/// The part of a process's resident set mapped from files (`RssFile`: for a server, its program's
/// code most of all), in kB.
pub fn rss_file_kb(pid: u32) -> Option<u64> {
    status_kb(pid, "RssFile:")
}

/// A kB figure from `/proc/<pid>/status`, by its label.
fn status_kb(pid: u32, label: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
}

/// Samples the RSS of some processes every 50 ms and keeps each one's peak.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peaks: Arc<Mutex<HashMap<u32, u64>>>,
    thread: Option<JoinHandle<()>>,
}

impl RssSampler {
    pub fn start(pids: Vec<u32>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peaks = Arc::new(Mutex::new(HashMap::new()));
        let thread = {
            let (stop, peaks) = (Arc::clone(&stop), Arc::clone(&peaks));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    for &pid in &pids {
                        if let Some(kb) = rss_kb(pid)
                            && let Ok(mut peaks) = peaks.lock()
                        {
                            let peak = peaks.entry(pid).or_insert(0);
                            *peak = (*peak).max(kb);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        Self {
            stop,
            peaks,
            thread: Some(thread),
        }
    }

    /// Stops sampling and returns each process's peak in kB.
    pub fn finish(mut self) -> HashMap<u32, u64> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.peaks.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_latency_output() {
        let text = "Running 10s test @ http://127.0.0.1:1/graphql
  2 threads and 8 connections
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     90%    2.00ms
     99%    1.02s
  12345 requests in 10.00s, 1.23MB read
Requests/sec:   1234.56
Transfer/sec:    123.45KB
bench-api: non-200 3, errors 0
";
        let run = parse_wrk(text).expect("parses");
        assert!((run.rps - 1234.56).abs() < 1e-9);
        assert!((run.p50_ms - 0.812).abs() < 1e-9);
        assert!((run.p99_ms - 1020.0).abs() < 1e-9);
        assert_eq!(run.problems, ["non-200 3, errors 0"]);
    }

    /// Keeps this thread's core busy for `how_long`.
    fn spin_for(how_long: Duration) {
        let start = std::time::Instant::now();
        let mut spin = 0u64;
        while start.elapsed() < how_long {
            spin = std::hint::black_box(spin.wrapping_add(1));
        }
    }

    #[test]
    fn reads_a_processes_cpu_time() {
        let pid = std::process::id();
        let before = cpu_ticks(pid).expect("this process's ticks");
        spin_for(Duration::from_millis(200));
        let after = cpu_ticks(pid).expect("this process's ticks");
        assert!(
            after >= before + 5,
            "200 ms of spinning: {before} -> {after} ticks"
        );
        assert!(ticks_per_second() >= 100.0);
    }

    #[test]
    fn counts_the_busy_time_of_every_core() {
        // user nice system idle iowait irq softirq steal guest guest_nice
        let line = "cpu  100 5 50 1000 20 3 2 1 40 0";
        assert_eq!(busy_of_cpu_line(line), Some(161));
        assert_eq!(busy_of_cpu_line("cpu0 1 2 3 4 5 6 7 8"), None);
        assert_eq!(busy_of_cpu_line("cpu  1 2"), None);
        let before = machine_busy_ticks().expect("this machine's /proc/stat");
        spin_for(Duration::from_millis(200));
        let after = machine_busy_ticks().expect("this machine's /proc/stat");
        assert!(
            after >= before + 5,
            "200 ms of spinning: {before} -> {after}"
        );
    }

    #[test]
    fn reads_the_cpu_time_of_children_that_ended() {
        let before = children_ticks().expect("this process's children's ticks");
        let status = Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"])
            .status()
            .expect("a shell");
        assert!(status.success());
        let after = children_ticks().expect("this process's children's ticks");
        assert!(
            after > before,
            "a spinning shell: {before} -> {after} ticks"
        );
    }
}
