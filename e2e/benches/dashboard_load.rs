//! Figures for the dashboard: the release WASM's size (raw and gzipped, as `web/dist` holds it)
//! and the time from navigating to the dashboard to a rendered overview in headless Chromium, on
//! the demo clinic served by the real binary. Each of 20 loads is a fresh navigation (the session
//! cookie is kept, as for a returning user): HTML, JS and WASM fetched and compiled, `me` and the
//! overview's figures asked for, and the figures drawn.
//!
//! Run: `cargo bench -p ringback-e2e --bench dashboard_load` after `trunk build --release` and
//! `cargo build --release -p ringback-api` (the bench serves `target/release/ringback`; its path
//! and build time are printed, so a stale binary shows).

use std::io::Write;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use ringback_e2e::browser::Browser;
use ringback_e2e::pages::sign_in;
use ringback_e2e::server::{DEMO_OWNER, Data, RingbackServer, dashboard_dir, ringback_binary};

const LOADS: usize = 20;

fn gzipped_size(bytes: &[u8]) -> std::io::Result<usize> {
    let mut child = std::process::Command::new("gzip")
        .arg("-9")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no stdin"))?;
    // Fed from another thread: gzip writes while it reads, and a full pipe would stall both.
    let bytes = bytes.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&bytes));
    let compressed = child.wait_with_output()?.stdout.len();
    feeder
        .join()
        .map_err(|_| std::io::Error::other("the gzip feeder panicked"))??;
    Ok(compressed)
}

fn wasm_size() -> Result<(usize, usize), Box<dyn std::error::Error>> {
    let dist = dashboard_dir()?;
    let wasm = std::fs::read_dir(&dist)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .ok_or("no .wasm in the built dashboard")?;
    let bytes = std::fs::read(wasm)?;
    Ok((bytes.len(), gzipped_size(&bytes)?))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("dashboard load figures: pass --bench (cargo bench) to run them");
        return Ok(());
    }
    let (raw, gzipped) = wasm_size()?;
    println!("release WASM: {raw} B raw, {gzipped} B gzipped (gzip -9); goal <= 400 KB gzipped");

    let binary = ringback_binary()?;
    let built: chrono::DateTime<chrono::Utc> = std::fs::metadata(&binary)?.modified()?.into();
    println!(
        "server: {} (built {})",
        binary.display(),
        built.format("%Y-%m-%d %H:%M UTC")
    );
    let server = RingbackServer::start_with(Data::Demo)?;
    let browser = Browser::start().await?;
    sign_in(&browser.client, &server.url, DEMO_OWNER.0, DEMO_OWNER.1).await?;
    let mut times = Vec::with_capacity(LOADS);
    for _ in 0..LOADS {
        // Leave the app, so the next navigation loads everything again.
        browser.client.goto("about:blank").await?;
        let started = Instant::now();
        browser.client.goto(&server.url).await?;
        browser
            .client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("[data-testid=figure-revenue]"))
            .await?;
        times.push(started.elapsed());
    }
    browser.close().await;
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "navigation -> rendered overview, {LOADS} loads: median {:.0} ms, p95 {:.0} ms, max {:.0} ms; goal <= 1500 ms",
        ms(percentile(&times, 50.0)),
        ms(percentile(&times, 95.0)),
        ms(times[times.len() - 1]),
    );
    Ok(())
}
