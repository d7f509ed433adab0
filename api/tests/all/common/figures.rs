//! Figures the benchmarks print: percentiles of measured durations, in milliseconds; and the
//! start of a benchmark that needs PostgreSQL.

use std::time::Duration;

/// Runs `bench` (named `name`) on a multi-threaded runtime, or fails the run at once when
/// `RINGBACK_TEST_POSTGRES_URL` names no server (as the tests do: a benchmark never skips).
pub fn run_on_postgres(name: &str, bench: impl Future<Output = ()>) {
    if std::env::var("RINGBACK_TEST_POSTGRES_URL").is_err() {
        eprintln!("the {name} benchmark needs PostgreSQL: set RINGBACK_TEST_POSTGRES_URL");
        std::process::exit(1);
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench);
}

/// The `p`th percentile of `sorted` (nearest rank); zero when nothing was measured.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `duration` in milliseconds, one decimal.
pub fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}
