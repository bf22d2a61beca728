//! The connection loop: HTTP/1.1 on every accepted TCP connection, with the limits a public
//! server needs and `axum::serve` does not offer — a deadline for request headers (which is
//! also the idle keep-alive limit), a cap on open connections, and a deadline for graceful
//! shutdown.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// Limits of the connection loop.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// A client must send a request's complete headers within this time of connecting or of
    /// the previous response; otherwise the connection is closed. hyper starts this timer as
    /// soon as a connection is idle, so it is the keep-alive idle limit too.
    pub header_read_timeout: Duration,
    /// Connections open at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// After the shutdown signal, in-flight requests get this long to finish before their
    /// connections are closed.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 512,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// A pause after a failed `accept` (out of file descriptors, say), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown` completes, then closes idle connections, lets
/// requests in flight finish within the grace period, and closes what is left.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: &ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (closing, _) = watch::channel(());
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        // A free slot before accepting: at the cap, new clients wait in the kernel's backlog.
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the slots are never closed"),
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let mut closing = closing.subscribe();
        connections.spawn(async move {
            let _slot = slot;
            let mut connection = pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = closing.changed() => connection.as_mut().graceful_shutdown(),
            }
            // Errors (a client gone, a header timeout) concern that client only.
            let _ = connection.await;
        });
    }
    drop(listener);
    closing.send_replace(());
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_grace, drained)
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            grace_secs = limits.shutdown_grace.as_secs(),
            "shutdown grace period over; closing the remaining connections"
        );
        connections.shutdown().await;
    }
}
