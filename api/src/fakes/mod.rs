//! Small in-process stand-ins for outside providers, speaking their real wire formats (paths,
//! Basic auth, form bodies, JSON shapes, signed callbacks) so that tests, benchmarks and local runs
//! exercise the real clients. Nothing in the server's request path uses them.

pub mod twilio;
