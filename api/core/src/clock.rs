//! The server's clock. Every instant the server stores or compares (when a call happened, whether a
//! text-back falls in business hours, which local day a figure belongs to, when a job is due, when a
//! session expires) is read from the [`Clock`] in the application state, never from the system
//! directly, so that one value decides what "now" is.
//!
//! A deployment always runs on the system clock: no setting moves it. Tests (with the
//! `test-support` feature) build a clock they can set to any instant, from which it keeps running at
//! the real pace, so that "a booking now and a call eight days ago", a day boundary in the clinic's
//! time zone or a retention age mean the same thing on whichever day the suite runs.

use chrono::{DateTime, Utc};

#[cfg(any(test, feature = "test-support"))]
use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

/// Where "now" comes from. Cheap to clone; clones share a settable clock's setting.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    source: Source,
}

#[derive(Clone, Debug, Default)]
enum Source {
    /// The operating system's clock.
    #[default]
    System,
    /// The system clock moved by an offset in nanoseconds that tests choose.
    #[cfg(any(test, feature = "test-support"))]
    Shifted(Arc<AtomicI64>),
}

impl Clock {
    /// The operating system's clock: the only clock a deployment runs on.
    pub fn system() -> Self {
        Self {
            source: Source::System,
        }
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.source {
            Source::System => Utc::now(),
            #[cfg(any(test, feature = "test-support"))]
            Source::Shifted(offset) => {
                Utc::now() + chrono::Duration::nanoseconds(offset.load(Ordering::SeqCst))
            }
        }
    }
}

#[cfg(any(test, feature = "test-support"))]
impl Clock {
    /// A clock that reads the system time until a test sets it.
    pub fn settable() -> Self {
        Self {
            source: Source::Shifted(Arc::new(AtomicI64::new(0))),
        }
    }

    /// A settable clock that reads `at` now and runs on from there.
    pub fn starting_at(at: DateTime<Utc>) -> Self {
        let clock = Self::settable();
        clock.set(at);
        clock
    }

    /// Makes `now()` read `at` at once; time then runs on at the real pace. Every clone follows.
    ///
    /// # Panics
    /// On a system clock: only settable clocks move.
    pub fn set(&self, at: DateTime<Utc>) {
        let offset = (at - Utc::now())
            .num_nanoseconds()
            .expect("a test clock stays within 290 years of today");
        self.shared_offset().store(offset, Ordering::SeqCst);
    }

    /// Moves the clock `by` forward (or back, when negative).
    pub fn advance(&self, by: chrono::Duration) {
        let nanos = by
            .num_nanoseconds()
            .expect("a test clock moves by less than 290 years");
        self.shared_offset().fetch_add(nanos, Ordering::SeqCst);
    }

    fn shared_offset(&self) -> &AtomicI64 {
        match &self.source {
            Source::Shifted(offset) => offset,
            Source::System => panic!("the system clock cannot be moved; use Clock::settable"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn a_set_clock_reads_its_instant_and_runs_on() {
        let at: DateTime<Utc> = "2031-03-30T00:59:00Z".parse().expect("instant");
        let clock = Clock::starting_at(at);
        let read = clock.now();
        assert!(read >= at && read - at < Duration::seconds(5), "{read}");

        let copy = clock.clone();
        clock.advance(Duration::days(2));
        assert!(copy.now() - at >= Duration::days(2), "clones follow");
    }

    #[test]
    fn the_system_clock_follows_the_system() {
        let before = Utc::now();
        let read = Clock::system().now();
        assert!(read >= before && read - before < Duration::seconds(5));
    }
}
