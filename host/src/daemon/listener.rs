//! The accept loop under the HTTP routes: what `axum::serve` does, plus the bounds a slow
//! or greedy client must not get around. At most `max_connections` connections are open
//! (one more is closed as soon as it is accepted, and counted); a request's headers must
//! arrive within `header_timeout` (hyper's header read timeout, which also bounds how long
//! a kept-alive connection may sit idle), else the connection is closed. The body's own
//! deadline is the handler's (`body_timeout`, answered 408).
//!
//! On stop, no new connection is accepted and the open ones finish their request in hand
//! (hyper's graceful shutdown); [`serve`] returns once every connection is closed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::{Extension, Router};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

use crate::metrics::Metrics;

/// What bounds the connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

/// Serves `app` on `listener` until `stop` turns true, then waits for open connections
/// to finish their requests.
///
/// # Errors
/// None today: a failed accept (out of file descriptors) is logged and retried after a
/// pause, since the listener itself is still good.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Closing at once costs nothing and holds nothing.
            metrics.http_refused("too_many_connections");
            drop(stream);
            continue;
        };
        // The peer address, as `into_make_service_with_connect_info` would give it.
        let service = app
            .clone()
            .layer(Extension(ConnectInfo::<SocketAddr>(peer)));
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let mut stop = stop.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = async { drop(stop.wait_for(|s| *s).await) } => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            drop(slot);
        });
    }
    // Every slot back: every connection closed.
    let _all = slots.acquire_many(limits.max_connections as u32).await;
    Ok(())
}
