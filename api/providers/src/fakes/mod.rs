//! Small in-process stand-ins for outside providers, speaking their real wire formats (paths,
//! Basic auth, form bodies, JSON shapes, signed callbacks) so that tests, benchmarks and local runs
//! exercise the real clients. Compiled only with the `fakes` feature, which tests and benchmarks
//! turn on: a deployment's binary holds none of them.

pub mod anthropic;
pub mod google;
pub mod smtp;
pub mod stripe;
pub mod twilio;

use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};

/// A fake's listener on `address` (port 0 picks a free one), and the base URL it answers at.
pub(crate) async fn listen(address: &str) -> std::io::Result<(TcpAcceptor, String)> {
    let acceptor = TcpListener::bind(address.to_owned())
        .into_acceptor()
        .await?;
    let address = acceptor
        .local_addr()
        .into_iter()
        .find_map(|addr| addr.as_socket_addr().copied())
        .ok_or_else(|| std::io::Error::other("the fake has no local address"))?;
    Ok((acceptor, format!("http://{address}")))
}

/// Serves `routes` on `acceptor` until the task is aborted (each fake aborts it when dropped).
pub(crate) fn serve(
    acceptor: TcpAcceptor,
    routes: impl poem::Endpoint + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let _ = poem::Server::new_with_acceptor(acceptor).run(routes).await;
    })
}
