//! The webhook ingest part of `cargo xtask bench-api`: Twilio's voice webhook for a missed call
//! (the demo clinic has no forwarding line, so each call is recorded as missed at once, in the
//! webhook's own transaction), sent by 16 wrk clients back to back, against pgbench of the
//! statements one such webhook sent.
//!
//! The server runs with a Twilio account whose REST API is [`twilio::FakeApi`] on this machine: the
//! owner adds the clinic's number through GraphQL (the server asks the API whether the account
//! holds it), and the outbox worker sends its text-backs there, as it would in production.
//!
//! Every webhook is a new call (its own `CallSid`) from one of a thousand fiction callers, so that
//! all of them take one path through the server and pgbench replays that path: first each caller
//! calls once (queued text-back, an outbox write; the worker sends them all before anything is
//! captured), then every captured and timed call is that caller calling again within the day: the
//! call is recorded, the caller's days are marked for recounting, and the text-back is decided
//! against (texted in the last 24 hours) in the same transaction. After the timed run the bench
//! checks that the `calls` table grew by exactly the number of webhooks answered 200 (and those
//! still in flight when wrk stopped), and before it that one pass of the pgbench script records
//! one call.

use std::net::SocketAddr;
use std::path::Path;

use serde_json::json;

use super::twilio::{self, Account, FakeApi};
use super::{
    Bench, DATABASE, Memory, Options, Row, Target, TaskError, TaskResult, graphql, load,
    random_hex, sign_in, step, superuser_sql, timed_pgbench, write_file,
};
use crate::root;

/// Clients sending webhooks back to back, as the issue names.
pub const CLIENTS: u32 = 16;
/// The clinic's number: 07700 900777.
const CLINIC_NUMBER: &str = "+447700900777";
/// What the server is told its public address is; the webhooks are signed for it.
const PUBLIC_URL: &str = "https://bench.ringback.test";
/// Feed lines written per second of a wrk run: more than the server answers.
const FEED_PER_SECOND: usize = 5_000;

/// What one round of the timed ingest works with.
struct IngestRun<'a> {
    account: &'a Account,
    api: &'a FakeApi,
    /// The pgbench script of the captured statements.
    script: &'a Path,
    /// How pgbench sends it; `None` when it cannot replay it.
    protocol: Option<load::Protocol>,
    /// Which round this is, from 0.
    round: u32,
}

/// The indices of round `round`'s feed of `count` calls: after every earlier round's, so that no
/// two rounds send the same `CallSid`.
fn round_calls(round: u32, count: usize) -> std::ops::Range<usize> {
    let first = round as usize * count;
    first..first + count
}

impl Bench {
    /// Step 6: the webhook ingest row (the median of `--rounds` rounds).
    pub(super) fn measure_ingest(
        &mut self,
        options: &Options,
        memory: &mut Memory,
    ) -> TaskResult<Row> {
        step("Webhook ingest: a Twilio account for the server, the clinic's number");
        let account = Account {
            sid: format!("AC{}", random_hex(16)?),
            auth_token: random_hex(16)?,
            number: CLINIC_NUMBER.to_owned(),
            public_url: PUBLIC_URL.to_owned(),
        };
        let api = FakeApi::start(CLINIC_NUMBER)?;
        self.twilio_env = vec![
            ("RINGBACK_TWILIO_ACCOUNT_SID", account.sid.clone()),
            ("RINGBACK_TWILIO_AUTH_TOKEN", account.auth_token.clone()),
            ("RINGBACK_TWILIO_API_URL", api.url()),
            ("RINGBACK_PUBLIC_URL", PUBLIC_URL.to_owned()),
        ];
        step(&format!(
            "A first call from each of the {} callers; capturing the statements of one more",
            twilio::CALLERS
        ));
        let script = self.with_statement_log(|bench, log_path| {
            bench.start_ringback(false)?;
            let addr = bench.ringback_addr()?;
            bench.set_up_number(addr)?;
            for index in 0..twilio::CALLERS {
                send_one(addr, &account, 'b', index)?;
            }
            wait_for_texts(&api, twilio::CALLERS as u64)?;
            bench.capture_script("ingest", log_path, |run| send_one(addr, &account, 'c', run))
        })?;
        let protocol = self.pgbench_protocol("ingest", &script);
        if let Some(protocol) = protocol {
            self.check_one_pass_records_one_call(&script, protocol)?;
        }

        let mut rounds = Vec::new();
        for round in 0..options.rounds {
            let run = IngestRun {
                account: &account,
                api: &api,
                script: &script,
                protocol,
                round,
            };
            rounds.push(self.measure_ingest_round(options, memory, run)?);
        }
        super::median_round(rounds)
            .ok_or_else(|| TaskError("the webhook ingest ran no round".to_owned()))
    }

    /// One round of the ingest: the server started afresh, warmed up and timed with a feed of
    /// calls no round before sent, the calls it recorded checked, then pgbench of the captured
    /// statements with the server stopped.
    fn measure_ingest_round(
        &mut self,
        options: &Options,
        memory: &mut Memory,
        run: IngestRun,
    ) -> TaskResult<Row> {
        let part = if options.rounds > 1 {
            format!("ingest (round {} of {})", run.round + 1, options.rounds)
        } else {
            "ingest".to_owned()
        };
        step(&format!(
            "{part} at {CLIENTS} clients: {} s warm-up, {} s measured, each",
            options.warmup, options.seconds
        ));
        self.start_ringback(false)?;
        let addr = self.ringback_addr()?;
        let pid = self.pids_ringback()?;
        memory.idle.0 = memory.idle.0.max(load::rss_kb(pid).unwrap_or(0));
        let sampler = load::RssSampler::start(vec![pid]);
        let url = format!("http://{addr}{}", twilio::VOICE_PATH);
        let lua = root().join("xtask").join("bench-api").join("webhook.lua");
        let warm_feed = self.work.join("feed-warm-up.txt");
        let feed = self.work.join("feed.txt");
        twilio::write_feed(
            &warm_feed,
            run.account,
            'd',
            round_calls(run.round, FEED_PER_SECOND * options.warmup as usize),
        )?;
        twilio::write_feed(
            &feed,
            run.account,
            'e',
            round_calls(run.round, FEED_PER_SECOND * options.seconds as usize),
        )?;
        if options.warmup > 0 {
            load::wrk(
                &lua,
                &target(&url, &warm_feed, Some(pid)),
                CLIENTS,
                options.warmup,
            )?;
        }
        let texts_before = run.api.texts();
        let before = calls()?;
        let timed = self.timed_wrk(
            &lua,
            &target(&url, &feed, Some(pid)),
            CLIENTS,
            (0, options.seconds),
            "Ringback",
            &part,
        )?;
        // wrk stops the clock with up to one request per client in flight: the server still
        // records those, and wrk does not count their answers.
        std::thread::sleep(std::time::Duration::from_secs(1));
        let recorded = calls()? - before;
        let texts = run.api.texts() - texts_before;
        let answered = timed.answered.unwrap_or(0) as i64;
        println!(
            "  {recorded} calls recorded for {answered} webhooks answered 200 (and up to \
             {CLIENTS} in flight when wrk stopped); {texts} text-backs sent meanwhile"
        );
        if !(answered..=answered + i64::from(CLIENTS)).contains(&recorded) {
            return Err(TaskError(format!(
                "the calls table grew by {recorded} while Ringback answered {answered} webhooks \
                 with 200; nothing more was timed"
            )));
        }
        self.notes.push(format!(
            "{part}: {answered} missed calls recorded in the measured run, while the outbox \
             worker sent {texts} text-backs to the Twilio API on this machine"
        ));
        let peaks = sampler.finish();
        memory.note_ringback_files(pid);
        memory.peak.0 = memory.peak.0.max(peaks.get(&pid).copied().unwrap_or(0));
        self.stop_ringback();
        let pgbench = match run.protocol {
            Some(protocol) => Some(timed_pgbench(
                run.script,
                &self.pg_target(),
                protocol,
                CLIENTS,
                options,
            )?),
            None => None,
        };
        Ok(Row {
            label: "webhook ingest (Twilio `voice` of a missed call)",
            conns: CLIENTS,
            ringback: timed,
            postgraphile: None,
            pgbench,
            spread: None,
        })
    }

    /// As the demo owner, as the dashboard does: adds the clinic's number and lifts the daily
    /// text limit above the run's texts and lets texts reach Australian phones (every first call
    /// is texted back).
    fn set_up_number(&self, addr: SocketAddr) -> TaskResult {
        let cookie = sign_in(addr, &super::Clinic::any())?.cookie;
        let body = self.work.join("add-number.json");
        write_file(
            &body,
            json!({
                "query": "mutation Add($number: String!) { addProviderNumber(number: $number) { id } \
                          updatePhoneSettings(input: { smsDailyLimit: 10000, smsCountries: [\"GB\", \"AU\"] }) { smsDailyLimit } }",
                "variables": { "number": CLINIC_NUMBER },
            })
            .to_string()
            .as_bytes(),
        )?;
        graphql(addr, &body, Some(&cookie)).map(drop)
    }

    /// One pass of `script` under `protocol` must record exactly one call, or its figure means
    /// nothing.
    fn check_one_pass_records_one_call(
        &self,
        script: &Path,
        protocol: load::Protocol,
    ) -> TaskResult {
        let before = calls()?;
        load::pgbench_once(script, &self.pg_target(), protocol)?;
        let recorded = calls()? - before;
        if recorded == 1 {
            Ok(())
        } else {
            Err(TaskError(format!(
                "one pass of the ingest pgbench script recorded {recorded} calls, not one: {}",
                script.display()
            )))
        }
    }
}

/// Waits (up to a minute) until the worker has sent `count` texts through `api`: the first calls'
/// text-backs, which would otherwise run beside the statements being captured.
fn wait_for_texts(api: &FakeApi, count: u64) -> TaskResult {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while api.texts() < count {
        if std::time::Instant::now() > deadline {
            return Err(TaskError(format!(
                "the outbox worker sent {} of {count} text-backs in a minute",
                api.texts()
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The last text's own bookkeeping commits just after Twilio answers.
    std::thread::sleep(std::time::Duration::from_millis(500));
    Ok(())
}

/// wrk's target for the feed at `feed`, served by process `pid`.
fn target<'a>(url: &'a str, feed: &'a Path, pid: Option<u32>) -> Target<'a> {
    Target {
        url,
        body: feed,
        cookie: None,
        spread_addresses: false,
        feed: Some(feed),
        pid,
    }
}

/// Sends call `index` of the feed tagged `tag`; an error unless answered 200.
fn send_one(addr: SocketAddr, account: &Account, tag: char, index: usize) -> TaskResult {
    let (signature, body) = twilio::signed_call(account, tag, index);
    let response = super::http::post(
        addr,
        twilio::VOICE_PATH,
        body.as_bytes(),
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Twilio-Signature", &signature),
        ],
    )
    .map_err(|e| TaskError(format!("a voice webhook: {e}")))?;
    if response.status == 200 {
        Ok(())
    } else {
        Err(TaskError(format!(
            "a voice webhook was answered {}: {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        )))
    }
}

/// The rows of `calls` (every clinic's: the bench database holds one).
fn calls() -> TaskResult<i64> {
    let count = superuser_sql(Some(DATABASE), "SELECT count(*) FROM calls")?;
    count
        .trim()
        .parse()
        .map_err(|_| TaskError(format!("counting calls: {count}")))
}

#[cfg(test)]
mod tests {
    use super::round_calls;

    #[test]
    fn each_round_of_the_ingest_sends_calls_of_its_own() {
        assert_eq!(round_calls(0, 50), 0..50);
        assert_eq!(round_calls(1, 50), 50..100);
        assert_eq!(round_calls(2, 50), 100..150);
    }
}
