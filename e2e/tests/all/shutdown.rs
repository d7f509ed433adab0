//! The real binary stops cleanly on `SIGTERM`, as service managers and container runtimes ask it
//! to: it stops accepting, finishes what is in flight, logs that it stopped and exits with success
//! (without handling the signal the process dies of it, which is not a success).

use std::time::Duration;

use ringback_e2e::server::{Data, RingbackServer};

#[test]
fn sigterm_stops_the_server_cleanly() {
    let mut server = RingbackServer::start_with(Data::Empty).unwrap_or_else(|e| panic!("{e}"));
    let info = server
        .graphql("{ serverInfo { name } }")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(info["data"]["serverInfo"]["name"], "Ringback", "{info}");
    let status = server
        .terminate(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    assert!(status.success(), "exit status {status:?}\n{}", server.log());
    let log = server.log();
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("stopped"), "{log}");
}
