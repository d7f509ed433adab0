//! The `ringback` binary: parses the command line and hands over to [`ringback_api::cli`].

use std::process::ExitCode;

/// The server allocates with mimalloc: under load the system allocator was the largest single
/// cost in a profile of the dashboard's reads (about a quarter of the server's CPU time).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The stack of each runtime thread. A request is polled on one, down through the HTTP layer,
/// GraphQL's nested merged objects and the services; a debug build's async frames are large (one
/// mutation took about 1.35 MiB of stack below the HTTP client in a test, of tokio's default
/// 2 MiB), so the threads get room to spare. Stack that is never touched costs no memory.
const THREAD_STACK_BYTES: usize = 8 * 1024 * 1024;

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(THREAD_STACK_BYTES)
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(ringback_api::cli::run()),
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}
