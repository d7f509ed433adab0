//! The `ringback` binary: parses the command line and hands over to [`ringback_api::cli`].

use std::process::ExitCode;

/// The server allocates with mimalloc: under load the system allocator was the largest single
/// cost in a profile of the dashboard's reads (about a quarter of the server's CPU time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    ringback_api::cli::run().await
}
