//! The `ringback` binary: parses the command line and hands over to [`ringback_api::cli`].

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    ringback_api::cli::run().await
}
