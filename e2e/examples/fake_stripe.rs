//! The fake Stripe as a process, for trying billing by hand against a running server:
//! `cargo run -p ringback-e2e --example fake_stripe -- 127.0.0.1:12111 sk_test_… whsec_…`.
//! It serves Stripe's API paths billing uses (Checkout's hosted page included) and sends no
//! events of its own: deliver them signed with curl, as the README's billing section shows.

use ringback_api::clock::Clock;
use ringback_api::fakes::stripe::FakeStripe;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(listen), Some(key), Some(secret)) = (args.next(), args.next(), args.next()) else {
        eprintln!("usage: fake_stripe <address:port> <secret key> <webhook secret>");
        std::process::exit(2);
    };
    let fake = FakeStripe::start_on(&listen, &key, &secret, Clock::system())
        .await
        .unwrap_or_else(|error| panic!("the fake Stripe cannot listen on {listen}: {error}"));
    println!("fake Stripe at {}", fake.api_url());
    let _ = tokio::signal::ctrl_c().await;
}
