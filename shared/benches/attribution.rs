//! Benchmark of the attribution engine on one large, deterministic clinic history: 1,000,000 calls,
//! 100,000 text replies and 100,000 appointments over 20,000 callers and 180 days. The goal is under
//! one second on one core. Prints one plainly timed run, then runs the criterion group.

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    use chrono::{DateTime, TimeDelta, TimeZone, Utc};
    use criterion::Criterion;
    use ringback_shared::attribution::{
        AppointmentRecord, AttributionWindow, CallDirection, CallOutcome, CallRecord, ReplyRecord,
        attribute,
    };
    use uuid::Uuid;

    const CALLS: usize = 1_000_000;
    const REPLIES: usize = 100_000;
    const APPOINTMENTS: usize = 100_000;
    const CALLERS: usize = 20_000;
    const SPAN_SECONDS: u64 = 180 * 24 * 60 * 60;

    /// xorshift64*: small, seeded, and the same on every machine.
    struct Xorshift(u64);

    impl Xorshift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, bound: u64) -> u64 {
            self.next() % bound
        }

        fn uuid(&mut self) -> Uuid {
            Uuid::from_u128(u128::from(self.next()) << 64 | u128::from(self.next()))
        }
    }

    struct History {
        calls: Vec<CallRecord>,
        replies: Vec<ReplyRecord>,
        appointments: Vec<AppointmentRecord>,
    }

    fn generate(seed: u64) -> History {
        let mut rng = Xorshift(seed);
        let start: DateTime<Utc> = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let callers: Vec<String> = (0..CALLERS)
            .map(|_| {
                format!(
                    "v1:{:016x}{:016x}{:016x}{:016x}",
                    rng.next(),
                    rng.next(),
                    rng.next(),
                    rng.next()
                )
            })
            .collect();
        let instant = |rng: &mut Xorshift| {
            start + TimeDelta::seconds(i64::try_from(rng.below(SPAN_SECONDS)).unwrap())
        };
        let caller = |rng: &mut Xorshift| callers[rng.below(CALLERS as u64) as usize].clone();

        let calls = (0..CALLS)
            .map(|_| {
                let direction = if rng.below(10) < 6 {
                    CallDirection::Inbound
                } else {
                    CallDirection::Outbound
                };
                let outcome = match rng.below(10) {
                    0..=4 => CallOutcome::Answered,
                    5 => CallOutcome::NoAnswer,
                    6 => CallOutcome::Busy,
                    7 => CallOutcome::Voicemail,
                    8 => CallOutcome::Canceled,
                    _ => CallOutcome::Machine,
                };
                CallRecord {
                    id: rng.uuid(),
                    caller_key: caller(&mut rng),
                    at: instant(&mut rng),
                    direction,
                    outcome,
                }
            })
            .collect();
        let replies = (0..REPLIES)
            .map(|_| ReplyRecord {
                id: rng.uuid(),
                caller_key: caller(&mut rng),
                at: instant(&mut rng),
            })
            .collect();
        let appointments = (0..APPOINTMENTS)
            .map(|_| AppointmentRecord {
                id: rng.uuid(),
                caller_key: caller(&mut rng),
                created_at: instant(&mut rng),
                value_minor: 5_000 + i64::try_from(rng.below(45_000)).unwrap(),
                cancelled: rng.below(10) == 0,
            })
            .collect();
        History {
            calls,
            replies,
            appointments,
        }
    }

    fn run(history: &History) -> u64 {
        let report = attribute(
            AttributionWindow::default(),
            black_box(&history.calls),
            black_box(&history.replies),
            black_box(&history.appointments),
        );
        report.recovered_count
    }

    pub fn main() {
        let history = generate(0x5eed_1234_abcd_0001);

        let started = Instant::now();
        let recovered = run(&history);
        let elapsed = started.elapsed();
        println!(
            "attribute 1M calls / 100k replies / 100k appointments / 20k callers: {elapsed:?} \
             ({recovered} recovered)"
        );

        let mut criterion = Criterion::default()
            .sample_size(10)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(8))
            .configure_from_args();
        criterion.bench_function("attribute_1m_calls_100k_appointments_20k_callers", |b| {
            b.iter(|| run(&history))
        });
        criterion.final_summary();
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

#[cfg(target_arch = "wasm32")]
fn main() {}
