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

/// Where a request's CPU time went, in microseconds.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuPerRequest {
    pub server: f64,
    pub postgres: f64,
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
    let before = target.pid.map(|pid| (cpu_ticks(pid), postgres_ticks()));
    let output = command
        .output()
        .map_err(|e| TaskError(format!("cannot run wrk: {e}")))?;
    let after = target.pid.map(|pid| (cpu_ticks(pid), postgres_ticks()));
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
    if let (Some(before), Some(after)) = (before, after) {
        run.cpu_us = per_request(before, after, run.rps * seconds as f64);
    }
    Ok(run)
}

/// CPU time per request between two readings of (the client or server's ticks, PostgreSQL's
/// ticks), over `requests` requests; None when a reading is missing or nothing was served.
fn per_request(
    before: (Option<u64>, u64),
    after: (Option<u64>, u64),
    requests: f64,
) -> Option<CpuPerRequest> {
    let (Some(server0), pg0) = before else {
        return None;
    };
    let (Some(server1), pg1) = after else {
        return None;
    };
    let us_per_tick = 1e6 / ticks_per_second();
    (requests > 0.0).then(|| CpuPerRequest {
        server: server1.saturating_sub(server0) as f64 * us_per_tick / requests,
        postgres: pg1.saturating_sub(pg0) as f64 * us_per_tick / requests,
    })
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
/// (in `server`: it stands where a server would) and of PostgreSQL.
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
    let before = (children_ticks(), postgres_ticks());
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
    std::thread::sleep(REAPING);
    let after = (children_ticks(), postgres_ticks());
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

    #[test]
    fn reads_a_processes_cpu_time() {
        let pid = std::process::id();
        let before = cpu_ticks(pid).expect("this process's ticks");
        let start = std::time::Instant::now();
        let mut spin = 0u64;
        while start.elapsed() < Duration::from_millis(200) {
            spin = std::hint::black_box(spin.wrapping_add(1));
        }
        let after = cpu_ticks(pid).expect("this process's ticks");
        assert!(
            after >= before + 5,
            "200 ms of spinning: {before} -> {after} ticks"
        );
        assert!(ticks_per_second() >= 100.0);
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
