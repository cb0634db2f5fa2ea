//! The HTTP accept loop: a cap on open connections, a header-read and an idle timeout per
//! connection, a bound on request heads, and a graceful shutdown that lets requests in
//! flight finish. `axum::serve` offers none of the first three, and without them idle or
//! slow sockets hold memory for as long as their clients like.

mod activity;
mod connection;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

pub use activity::Timeouts;

use crate::http::ConnectionMetrics;

/// hyper refuses a read buffer smaller than this.
const MIN_HEADER_BYTES: usize = 8192;

/// The limits on client connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once; more are answered 503 and closed at once.
    pub max_connections: usize,
    pub timeouts: Timeouts,
    /// Largest request head (request line and headers); larger ones get 431. It also bounds
    /// the read buffer each connection may grow, which is what a slow or idle client can
    /// make the server hold.
    pub max_header_bytes: usize,
}

/// Answered to a connection beyond the cap, without reading its request.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 102\r\n\
\r\n\
{\"error\":{\"code\":\"too_many_connections\",\"message\":\"the server is at its connection limit; try again\"}}";

/// Serves `router` on `listener` until `shutdown` completes; then stops accepting and waits
/// for open connections to finish their requests (the caller bounds that wait).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: ConnectionMetrics,
    shutdown: impl Future<Output = ()>,
) {
    warn_if_above_open_files_limit(limits.max_connections);
    let slots = Arc::new(Semaphore::new(limits.max_connections.clamp(1, Semaphore::MAX_PERMITS)));
    let mut http1 = http1::Builder::new();
    // Our own clock times heads and idle connections (see `activity`): hyper's
    // header-read timer would also cut kept-alive connections between requests.
    http1.header_read_timeout(None).max_buf_size(limits.max_header_bytes.max(MIN_HEADER_BYTES));
    let (stopping_tx, stopping) = watch::channel(false);
    let shared = connection::Shared {
        http1: Arc::new(http1),
        router,
        timeouts: limits.timeouts,
        graceful: GracefulShutdown::new(),
        stopping,
        metrics,
    };
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        match slots.clone().try_acquire_owned() {
            Ok(permit) => connection::spawn(stream, permit, &shared),
            Err(_) => {
                shared.metrics.refused();
                refuse(&stream);
            }
        }
    }
    // New connections are refused by the kernel from here on.
    drop(listener);
    let _ = stopping_tx.send(true);
    shared.graceful.shutdown().await;
}

/// Best effort and never waiting: a client whose request is already unread may see the
/// connection reset rather than the 503; either way it is not served.
fn refuse(stream: &TcpStream) {
    if let Err(e) = stream.try_write(REFUSAL) {
        tracing::debug!(error = %e, "could not answer a refused connection");
    }
}

async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    // A client that gave up before we accepted it: nothing wrong here.
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    // Out of file descriptors, mostly: retrying at once would spin; a second lets
    // connections close (as hyper's and axum's loops do).
    tracing::error!(error = %e, "cannot accept connections");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Above the process's open-files limit, accepting fails before the cap refuses anything.
fn warn_if_above_open_files_limit(max_connections: usize) {
    let Some(limit) = open_files_limit() else { return };
    // The database pool, logs and outbound calls need descriptors too.
    let needed = u64::try_from(max_connections).unwrap_or(u64::MAX).saturating_add(64);
    if needed > limit {
        tracing::warn!(
            max_connections,
            open_files_limit = limit,
            "TASKBRIDGE_MAX_CONNECTIONS is near or above the open-files limit (ulimit -n): \
             connections beyond it fail to be accepted instead of being refused with 503"
        );
    }
}

/// The soft limit on open files, where the platform tells it (Linux).
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files").split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_well_formed_answer() {
        let text = std::str::from_utf8(REFUSAL).unwrap_or_default();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
        assert!(head.contains(&format!("content-length: {}", body.len())), "{head}");
        let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        assert_eq!(json["error"]["code"], "too_many_connections");
    }
}
