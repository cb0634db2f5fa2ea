//! One accepted connection: HTTP/1.1 through hyper, watched by its clock, holding a slot
//! of the connection cap for as long as it lives.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tower::ServiceExt;

use super::activity::{Activity, InFlight, Observed, Sending, Timeouts};
use crate::http::ConnectionMetrics;

/// A slot of the cap, given back (and the gauge lowered) however the connection ends.
struct Slot {
    _permit: OwnedSemaphorePermit,
    metrics: ConnectionMetrics,
}

impl Slot {
    fn take(permit: OwnedSemaphorePermit, metrics: ConnectionMetrics) -> Self {
        metrics.opened();
        Slot { _permit: permit, metrics }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.metrics.closed();
    }
}

/// What every connection shares with the accept loop.
pub(super) struct Shared {
    pub http1: Arc<http1::Builder>,
    pub router: Router,
    pub timeouts: Timeouts,
    pub graceful: GracefulShutdown,
    /// Turns true when the server stops.
    pub stopping: watch::Receiver<bool>,
    pub metrics: ConnectionMetrics,
}

/// Serves `stream` on a task of its own until the client leaves, a timeout runs out or a
/// graceful shutdown has let its request finish.
pub(super) fn spawn(stream: TcpStream, permit: OwnedSemaphorePermit, shared: &Shared) {
    let slot = Slot::take(permit, shared.metrics.clone());
    let activity = Activity::new();
    let service = Tracked { router: shared.router.clone(), activity: activity.clone() };
    let http1 = shared.http1.clone();
    let graceful = shared.graceful.watcher();
    let timeouts = shared.timeouts;
    let stopping = shared.stopping.clone();
    tokio::spawn(async move {
        let served = async {
            // hyper gives a connection its buffers (8 KiB each way) when it starts; one
            // that has sent nothing yet is served once it does, holding none until then.
            // A peek, not `readable()`: that answers ready at once for a new socket.
            if let Err(e) = stream.peek(&mut [0u8; 1]).await {
                tracing::debug!(error = %e, "connection failed before its first byte");
                return;
            }
            let io = TokioIo::new(Observed::new(stream, activity.clone()));
            if let Err(e) = graceful.watch(http1.serve_connection(io, service)).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        };
        tokio::select! {
            () = served => {}
            why = activity.expired(timeouts) => {
                // Nothing is in flight (the clock only runs between requests): dropping the
                // connection closes the socket and frees its buffers.
                tracing::debug!(reason = why.as_str(), "closing a connection that timed out");
                slot.metrics.timed_out(why.as_str());
            }
            () = idle_at_shutdown(&activity, stopping) => {
                tracing::debug!("closing a connection with nothing in flight at shutdown");
            }
        }
        drop(slot);
    });
}

/// Completes when the server stops while this connection has no request in flight and no
/// answer on its way. hyper's graceful shutdown closes a connection after its answer, and
/// between requests, but waits on one that has not finished (or begun) its first head;
/// nothing is lost closing that one, and the stop need not wait for its timeout.
async fn idle_at_shutdown(activity: &Activity, mut stopping: watch::Receiver<bool>) {
    let stopped = stopping.wait_for(|stopping| *stopping).await.is_ok();
    if !stopped || !activity.is_idle() {
        std::future::pending::<()>().await;
    }
}

/// The router, telling the connection's clock when a request starts and ends.
#[derive(Clone)]
struct Tracked {
    router: Router,
    activity: Arc<Activity>,
}

impl hyper::service::Service<hyper::Request<Incoming>> for Tracked {
    type Response = hyper::Response<Answer>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        // Called once the head is parsed, before the handler runs.
        let in_flight: InFlight = self.activity.request_started();
        let router = self.router.clone();
        let activity = self.activity.clone();
        Box::pin(async move {
            let Ok(response) = router.oneshot(request).await;
            let sending = activity.answer_started();
            drop(in_flight);
            Ok(response.map(|body| Answer { body, _sending: sending }))
        })
    }
}

/// A response body that tells the connection when it has been sent: hyper drops it then.
pub(super) struct Answer {
    body: Body,
    _sending: Sending,
}

impl http_body::Body for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
