//! Small in-process stand-ins for outside providers, speaking their real wire formats (paths,
//! Basic auth, form bodies, JSON shapes, signed callbacks) so that tests, benchmarks and local runs
//! exercise the real clients. Compiled only with the `fakes` feature, which tests and benchmarks
//! turn on: a deployment's binary holds none of them.

pub mod anthropic;
pub mod smtp;
pub mod stripe;
pub mod twilio;
