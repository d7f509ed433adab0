//! Background work owed by events: the durable outbox (jobs written in the same transaction as
//! the event, claimed safely by any number of workers, retried with backoff, dead-lettered after
//! too many attempts) and the worker that delivers texts through the SMS provider without ever
//! sending one twice; the sweep that seals noted reads into the audit chain; and the scheduler of
//! periodic work (the retention purge).

pub mod audit_sweep;
pub mod scheduler;
pub use ringback_core::outbox;
pub mod worker;
