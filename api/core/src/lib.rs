//! The bottom layer of the server, which every other server crate builds on and which imports none
//! of them: the database and its migrations ([`db`]), the only door to a clinic's data
//! ([`tenant`]), the clock every instant is read from ([`clock`]), the error type ([`error`]),
//! settings and secrets ([`settings`], [`secrets`]), per-clinic data keys ([`keys`]), the
//! hash-chained audit log ([`audit`]) and the durable outbox queue ([`outbox`]).

pub mod audit;
pub mod clock;
pub mod columns;
pub mod db;
pub mod error;
pub mod keys;
pub mod outbox;
pub mod read_notes;
pub mod rotation;
pub mod schedule;
pub mod secrets;
pub mod settings;
pub mod tenant;
