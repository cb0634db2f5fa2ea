//! Client connections are bounded: heads must arrive in time, idle kept-alive connections
//! are closed, connections beyond the cap are refused and counted, heads have a size limit.
//! Raw sockets throughout (a pooling client would hold connections of its own). The accept
//! loop knows nothing of the database, so these run on SQLite only.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Backend, TestApp, spawn_app_with};

/// How long a test waits for something that should happen within a second or two.
const PATIENCE: Duration = Duration::from_secs(15);

async fn app(tweak: impl FnOnce(&mut taskbridge::config::Config)) -> TestApp {
    spawn_app_with(Backend::Sqlite, tweak).await.expect("sqlite app")
}

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (end of file or reset); how long that took,
/// or `None` if it was still open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    let read_to_close = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return start.elapsed(),
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, read_to_close).await.ok()
}

/// One request on a kept-alive connection; the response's head and body.
async fn exchange(stream: &mut TcpStream, path: &str) -> String {
    let head = format!("GET {path} HTTP/1.1\r\nHost: taskbridge\r\n\r\n");
    stream.write_all(head.as_bytes()).await.expect("request written");
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await.expect("answered").expect("read");
        assert!(n > 0, "closed before answering: {}", String::from_utf8_lossy(&received));
        received.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&received).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse::<usize>().ok())
                .expect("content-length");
            if body.len() >= length {
                return text;
            }
        }
    }
}

/// A request on a connection of its own; the whole answer, or what arrived before the
/// connection closed or failed.
async fn one_shot(addr: &str, path: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(addr).await else { return String::new() };
    let head = format!("GET {path} HTTP/1.1\r\nHost: taskbridge\r\nConnection: close\r\n\r\n");
    if stream.write_all(head.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut received = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received)).await;
    String::from_utf8_lossy(&received).to_string()
}

async fn metrics(addr: &str) -> String {
    let text = one_shot(addr, "/metrics").await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_read_timeout() {
    let app = app(|c| {
        c.header_read_timeout_secs = 1;
        c.idle_timeout_secs = 60;
    })
    .await;
    let mut silent = TcpStream::connect(addr(&app)).await.expect("connect");
    let lived = closed_within(&mut silent, PATIENCE).await.expect("closed by the server");
    assert!(lived >= Duration::from_millis(900), "closed too early: {lived:?}");
    let text = metrics(&addr(&app)).await;
    assert!(text.contains(r#"taskbridge_http_connection_timeouts_total{reason="header"} 1"#), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_connection_is_closed_after_the_header_read_timeout() {
    let app = app(|c| {
        c.header_read_timeout_secs = 1;
        c.idle_timeout_secs = 60;
    })
    .await;
    let (mut reader, mut writer) = TcpStream::connect(addr(&app)).await.expect("connect").into_split();
    // A header line every 200 ms, never the blank line that ends the head.
    let trickle = tokio::spawn(async move {
        if writer.write_all(b"GET /health HTTP/1.1\r\nHost: taskbridge\r\n").await.is_err() {
            return;
        }
        for i in 0..200 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if writer.write_all(format!("X-Slow-{i}: still here\r\n").as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(PATIENCE, async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a slowloris head is still being read after {PATIENCE:?}");
    assert!(start.elapsed() >= Duration::from_millis(900), "closed too early: {:?}", start.elapsed());
    trickle.abort();
    let text = metrics(&addr(&app)).await;
    assert!(text.contains(r#"taskbridge_http_connection_timeouts_total{reason="header"} 1"#), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_alive_connections_are_reused_within_the_idle_timeout_and_closed_past_it() {
    let app = app(|c| {
        c.header_read_timeout_secs = 30;
        c.idle_timeout_secs = 2;
    })
    .await;
    let mut stream = TcpStream::connect(addr(&app)).await.expect("connect");
    assert!(exchange(&mut stream, "/health").await.starts_with("HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(exchange(&mut stream, "/health").await.starts_with("HTTP/1.1 200"), "not kept alive");
    let idle = closed_within(&mut stream, PATIENCE).await.expect("closed by the server");
    assert!(idle >= Duration::from_millis(1800), "closed too early: {idle:?}");
    let text = metrics(&addr(&app)).await;
    assert!(text.contains(r#"taskbridge_http_connection_timeouts_total{reason="idle"} 1"#), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_refused_and_counted_until_others_close() {
    let app = app(|c| {
        c.max_connections = 3;
        c.header_read_timeout_secs = 60;
        c.idle_timeout_secs = 60;
    })
    .await;
    let addr = addr(&app);
    // A request on each makes sure the server holds all three.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(&addr).await.expect("connect");
        assert!(exchange(&mut stream, "/health").await.starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let refused = one_shot(&addr, "/health").await;
    assert!(!refused.contains("200 OK"), "served beyond the cap: {refused}");
    if !refused.is_empty() {
        assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
        assert!(refused.contains("too_many_connections"), "{refused}");
    }

    // One leaves: new connections are served again (once the server has seen it go).
    drop(held.pop());
    let deadline = Instant::now() + PATIENCE;
    let text = loop {
        let answer = one_shot(&addr, "/metrics").await;
        if answer.starts_with("HTTP/1.1 200") {
            break answer;
        }
        assert!(Instant::now() < deadline, "still refused after a connection closed: {answer}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let refusals: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("taskbridge_http_connections_refused_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no refusal counter in {text}"));
    assert!(refusals >= 1, "{text}");
    // The two still held and the one reading the metrics.
    assert!(text.contains("taskbridge_http_connections 3"), "{text}");
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_larger_than_the_limit_is_answered_431() {
    let app = app(|c| c.max_header_bytes = 8192).await;
    let mut stream = TcpStream::connect(addr(&app)).await.expect("connect");
    let head = format!("GET /health HTTP/1.1\r\nHost: taskbridge\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000));
    // The server may stop reading (and close) before all of it is written.
    let _ = stream.write_all(head.as_bytes()).await;
    let mut received = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received)).await;
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 431"), "{text}");
    // A head within the limit is served as before.
    assert!(one_shot(&addr(&app), "/health").await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_closes_connections_with_no_request_in_flight_at_once() {
    let mut app = app(|c| {
        c.header_read_timeout_secs = 60;
        c.idle_timeout_secs = 60;
        c.shutdown_grace_secs = 60;
    })
    .await;
    let mut silent = TcpStream::connect(addr(&app)).await.expect("connect");
    let mut kept = TcpStream::connect(addr(&app)).await.expect("connect");
    assert!(exchange(&mut kept, "/health").await.starts_with("HTTP/1.1 200"));
    let stopping = Instant::now();
    app.begin_shutdown();
    // Neither timeout nor the grace period: the stop itself closes them.
    let limit = Duration::from_secs(10);
    assert!(closed_within(&mut silent, limit).await.is_some(), "a silent connection held the shutdown");
    assert!(closed_within(&mut kept, limit).await.is_some(), "a kept-alive connection held the shutdown");
    tokio::time::timeout(limit, app.wait_stopped()).await.expect("stopped without waiting for the grace period");
    assert!(stopping.elapsed() < limit);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_lets_a_response_still_being_sent_finish() {
    let mut app = app(|c| c.shutdown_grace_secs = 60).await;
    // An answer of ~8 MB, more than the kernel's socket buffers take: most of it is still
    // the server's to send when the stop comes.
    let project = app.project("large answer").await;
    let description = "d".repeat(20_000);
    for i in 0..400 {
        app.task(&project, serde_json::json!({"title": format!("task {i}"), "description": description})).await;
    }
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("receive buffer");
    let mut stream = socket.connect(addr(&app).parse().expect("address")).await.expect("connect");
    let head = format!(
        "GET /api/tasks?project_id={project} HTTP/1.1\r\nHost: taskbridge\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        app.key
    );
    stream.write_all(head.as_bytes()).await.expect("request written");
    let mut received = vec![0u8; 1024];
    let n = tokio::time::timeout(PATIENCE, stream.read(&mut received)).await.expect("answer begins").expect("read");
    received.truncate(n);
    tokio::time::sleep(Duration::from_millis(300)).await;

    app.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received)).await.expect("answer ends");
    let text = String::from_utf8_lossy(&received);
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
        .and_then(|v| v.parse().ok())
        .expect("content-length");
    assert!(length > 6_000_000, "the answer is too small to test this: {length} bytes");
    assert_eq!(body.len(), length, "the answer was cut at shutdown");
    app.wait_stopped().await;
}
