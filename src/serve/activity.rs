//! What one connection is doing, for its timeouts: bytes moving, a request being handled,
//! the head of the next request arriving. The socket wrapper and the service wrapper
//! report; [`Activity::expired`] turns that into the moment the connection must go.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// No head is being received.
const NONE: u64 = u64::MAX;

/// How long a connection may wait, and for what.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// From the first byte of a request's head (or from the accept, for the first request)
    /// to its last.
    pub header_read: Duration,
    /// Between requests: no request being handled and no byte moving.
    pub idle: Duration,
}

/// Why a connection was closed by its clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// A request head took longer than the header-read timeout (slowloris, or nothing sent).
    Header,
    /// A kept-alive connection sat unused past the idle timeout.
    Idle,
}

impl Expired {
    pub fn as_str(self) -> &'static str {
        match self {
            Expired::Header => "header",
            Expired::Idle => "idle",
        }
    }
}

/// Times are milliseconds since `start`, so they fit in atomics the socket can update
/// without a lock.
#[derive(Debug)]
pub struct Activity {
    start: Instant,
    last_io: AtomicU64,
    head_started: AtomicU64,
    in_flight: AtomicUsize,
    /// Answers whose body hyper has not taken whole yet.
    sending: AtomicUsize,
    /// The last write found the socket full: hyper holds bytes the client has not taken.
    write_blocked: AtomicBool,
    changed: Notify,
}

impl Activity {
    /// A connection just accepted: the clock of its first request's head starts now, as a
    /// client that connects and says nothing is the cheapest attack there is.
    pub fn new() -> Arc<Self> {
        Arc::new(Activity {
            start: Instant::now(),
            last_io: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            sending: AtomicUsize::new(0),
            write_blocked: AtomicBool::new(false),
            changed: Notify::new(),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }

    fn read(&self) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        // Bytes read while no request is being handled belong to the next request's head.
        if self.in_flight.load(Ordering::Acquire) == 0
            && self.head_started.compare_exchange(NONE, now, Ordering::AcqRel, Ordering::Relaxed).is_ok()
        {
            self.changed.notify_one();
        }
    }

    fn wrote(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    fn write_polled<T>(&self, polled: &Poll<io::Result<T>>) {
        self.write_blocked.store(polled.is_pending(), Ordering::Relaxed);
    }

    /// The head of a request is complete (the service is called); until the guard drops,
    /// no clock runs: a slow handler is not an idle connection.
    pub fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(NONE, Ordering::Release);
        self.changed.notify_one();
        InFlight(self.clone())
    }

    /// An answer's body starts on its way; until the guard drops (hyper drops the body once
    /// it has taken all of it), the connection is not idle for a shutdown. The idle clock
    /// does run: it is pushed by every write, so only a client that stops reading is cut.
    pub fn answer_started(self: &Arc<Self>) -> Sending {
        self.sending.fetch_add(1, Ordering::AcqRel);
        Sending(self.clone())
    }

    /// Neither a request being handled nor an answer being sent (by the handler, or by hyper
    /// from its buffer): between requests, or in the middle of a head.
    pub fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
            && self.sending.load(Ordering::Acquire) == 0
            && !self.write_blocked.load(Ordering::Relaxed)
    }

    /// When the connection must go, and why, given what it is doing now; `None` while a
    /// request is being handled.
    fn deadline(&self, timeouts: &Timeouts) -> Option<(Instant, Expired)> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        let idle = (self.at(self.last_io.load(Ordering::Relaxed)) + timeouts.idle, Expired::Idle);
        match self.head_started.load(Ordering::Acquire) {
            NONE => Some(idle),
            started => {
                let header = (self.at(started) + timeouts.header_read, Expired::Header);
                Some(if header.0 <= idle.0 { header } else { idle })
            }
        }
    }

    /// Completes when a timeout has run out. Cheap to leave pending: it sleeps until the
    /// earliest deadline and wakes early only when a request starts or ends or a head
    /// begins; bytes moving merely push the idle deadline, read again on waking.
    pub async fn expired(&self, timeouts: Timeouts) -> Expired {
        loop {
            match self.deadline(&timeouts) {
                None => self.changed.notified().await,
                Some((when, why)) => {
                    if when <= Instant::now() {
                        return why;
                    }
                    tokio::select! {
                        () = tokio::time::sleep_until(when) => {}
                        () = self.changed.notified() => {}
                    }
                }
            }
        }
    }
}

/// A request being handled; dropped when its response is ready (or the request is
/// abandoned).
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        // The idle clock counts from the answer, not from the last byte of the request.
        self.0.wrote();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_one();
    }
}

/// An answer being sent.
#[derive(Debug)]
pub struct Sending(Arc<Activity>);

impl Drop for Sending {
    fn drop(&mut self) {
        self.0.sending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A socket that tells its [`Activity`] when bytes move.
#[derive(Debug)]
pub struct Observed<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Observed<S> {
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Observed { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Observed<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Observed<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.activity.write_polled(&polled);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.activity.write_polled(&polled);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real time, short timeouts; the bounds are generous, the reasons exact.
    const T: Timeouts = Timeouts { header_read: Duration::from_millis(200), idle: Duration::from_millis(400) };
    const SLACK: Duration = Duration::from_secs(2);

    fn watch(activity: &Arc<Activity>) -> tokio::task::JoinHandle<Expired> {
        let activity = activity.clone();
        tokio::spawn(async move { activity.expired(T).await })
    }

    #[tokio::test]
    async fn a_connection_that_sends_nothing_expires_on_the_header_clock() {
        let activity = Activity::new();
        let start = Instant::now();
        assert_eq!(watch(&activity).await.ok(), Some(Expired::Header));
        assert!(start.elapsed() >= T.header_read && start.elapsed() < T.header_read + SLACK);
    }

    #[tokio::test]
    async fn no_clock_runs_while_a_request_is_handled_and_idle_counts_from_the_answer() {
        let activity = Activity::new();
        let in_flight = activity.request_started();
        let watcher = watch(&activity);
        tokio::time::sleep(T.idle * 3).await;
        assert!(!watcher.is_finished(), "expired while a request was handled");
        let answered = Instant::now();
        drop(in_flight);
        assert_eq!(watcher.await.ok(), Some(Expired::Idle));
        assert!(answered.elapsed() >= T.idle && answered.elapsed() < T.idle + SLACK);
    }

    #[tokio::test]
    async fn a_head_begun_between_requests_runs_the_header_clock() {
        let activity = Activity::new();
        drop(activity.request_started());
        let watcher = watch(&activity);
        tokio::time::sleep(T.header_read).await;
        let begun = Instant::now();
        activity.read();
        // Bytes trickling in keep the idle clock away, not the header clock.
        while !watcher.is_finished() && begun.elapsed() < SLACK {
            tokio::time::sleep(Duration::from_millis(20)).await;
            activity.read();
        }
        assert_eq!(watcher.await.ok(), Some(Expired::Header));
        assert!(begun.elapsed() >= T.header_read && begun.elapsed() < T.header_read + SLACK);
    }
}
