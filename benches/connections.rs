//! Client connections against the real binary, run as a process of its own so that its
//! memory is the server's alone: resident memory at rest, with 2,000 connections held open
//! (silent, part of a head sent, a head just under the size limit, kept alive after a
//! request) and after they close; how long a slowloris, a silent and an idle kept-alive
//! connection survive with the default settings; what the cap does with twice its number.
//! `cargo bench --bench connections` (Linux: reads /proc); figures go to docs/benchmarks.md.
//!
//! Knobs: `BENCH_CONNECTIONS` (2000), `BENCH_HEAD_BYTES` (15000, the big partial head),
//! `BENCH_SLOWLORIS` (200 connections), `BENCH_SLOWLORIS_INTERVAL_MS` (5000, a header line
//! each), `BENCH_BINARY` (measure another build, e.g. one from before the limits; it is
//! given the same environment and ignores what it does not know).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod support;

use support::env_or;

/// The longest any connection is watched for; the benchmark always ends.
const WATCH_LIMIT: Duration = Duration::from_secs(180);

struct Server {
    child: Child,
    addr: String,
    dir: PathBuf,
}

impl Server {
    async fn start(env: &[(&str, String)]) -> Server {
        let dir = std::env::temp_dir().join(format!("taskbridge-bench-conn-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let addr = format!("127.0.0.1:{port}");
        let binary = std::env::var("BENCH_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_taskbridge").to_string());
        let mut command = Command::new(binary);
        command
            .current_dir(&dir)
            .env("TASKBRIDGE_ADDR", &addr)
            .env("TASKBRIDGE_DATABASE_URL", format!("sqlite://{}", dir.join("tb.db").display()))
            .env("TASKBRIDGE_API_KEY", "bench-admin-key-0123456789abcdef")
            .env("TASKBRIDGE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command.spawn().expect("the binary starts");
        let server = Server { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !one_shot(&server.addr, "/health").await.starts_with("HTTP/1.1 200") {
            assert!(Instant::now() < deadline, "the service did not become healthy");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Warm: a few requests, so that "at rest" is a service that has served.
        for _ in 0..50 {
            one_shot(&server.addr, "/health").await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        server
    }

    fn rss_mib(&self) -> f64 {
        rss_kib(self.child.id()) as f64 / 1024.0
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A request on a connection of its own; what came back before it closed.
async fn one_shot(addr: &str, path: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(addr).await else { return String::new() };
    let head = format!("GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n");
    if stream.write_all(head.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut received = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut received)).await;
    String::from_utf8_lossy(&received).to_string()
}

/// Reads one response on a kept-alive connection (head and `Content-Length` body).
async fn exchange(stream: &mut TcpStream, path: &str) -> bool {
    let head = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n");
    if stream.write_all(head.as_bytes()).await.is_err() {
        return false;
    }
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await else {
            return false;
        };
        if n == 0 {
            return false;
        }
        received.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&received);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return head.starts_with("HTTP/1.1 200");
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Silent,
    SmallHead,
    BigHead(usize),
    KeptAlive,
}

impl Kind {
    fn label(self) -> String {
        match self {
            Kind::Silent => "silent (connected, nothing sent)".into(),
            Kind::SmallHead => "request line and one header sent, head unfinished".into(),
            Kind::BigHead(n) => format!("{n} bytes of an unfinished head"),
            Kind::KeptAlive => "kept alive after one GET /health".into(),
        }
    }

    async fn open(self, addr: &str) -> Option<TcpStream> {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        match self {
            Kind::Silent => {}
            Kind::SmallHead => stream.write_all(b"GET /health HTTP/1.1\r\nHost: bench\r\n").await.ok()?,
            Kind::BigHead(n) => {
                let mut head = b"GET /health HTTP/1.1\r\nHost: bench\r\nX-Pad: ".to_vec();
                head.resize(n, b'a');
                stream.write_all(&head).await.ok()?;
            }
            Kind::KeptAlive => {
                if !exchange(&mut stream, "/health").await {
                    return None;
                }
            }
        }
        Some(stream)
    }
}

/// Opens `n` connections, then closes them: how many were held, memory open and closed.
async fn round(server: &Server, kind: Kind, n: usize) -> (usize, f64, f64) {
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        if let Some(s) = kind.open(&server.addr).await {
            streams.push(s);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let open = server.rss_mib();
    let held = streams.len();
    drop(streams);
    tokio::time::sleep(Duration::from_secs(2)).await;
    (held, open, server.rss_mib())
}

/// Memory with `n` connections of one kind held open, in a fresh server each time.
async fn memory(kind: Kind, n: usize) {
    let long = "600".to_string();
    let server = Server::start(&[
        ("TASKBRIDGE_MAX_CONNECTIONS", (2 * n + 100).to_string()),
        ("TASKBRIDGE_HEADER_READ_TIMEOUT_SECS", long.clone()),
        ("TASKBRIDGE_IDLE_TIMEOUT_SECS", long),
    ])
    .await;
    let rest = server.rss_mib();
    let (held, open, closed) = round(&server, kind, n).await;
    // Again: shows whether the memory freed by the first round is used again.
    let (_, open2, closed2) = round(&server, kind, n).await;
    println!(
        "| {} | {held} | {rest:.1} MiB | {open:.1} MiB (+{:.1}, {:.1} KiB each) | {closed:.1} MiB | {open2:.1} / {closed2:.1} MiB |",
        kind.label(),
        open - rest,
        (open - rest) * 1024.0 / held.max(1) as f64,
    );
    server.stop();
}

/// How long a connection lives before the server closes it.
async fn survival(stream: TcpStream, trickle: Option<Duration>) -> Option<Duration> {
    let start = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let writer = tokio::spawn(async move {
        let Some(every) = trickle else { return std::future::pending::<()>().await };
        if writer.write_all(b"GET /health HTTP/1.1\r\nHost: bench\r\n").await.is_err() {
            return;
        }
        for i in 0.. {
            tokio::time::sleep(every).await;
            if writer.write_all(format!("X-Slow-{i}: still here\r\n").as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(WATCH_LIMIT, async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return start.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok();
    writer.abort();
    closed
}

fn summary(mut lived: Vec<Option<Duration>>) -> String {
    let total = lived.len();
    let mut closed: Vec<Duration> = lived.drain(..).flatten().collect();
    if closed.is_empty() {
        return format!("none of {total} closed within {} s", WATCH_LIMIT.as_secs());
    }
    closed.sort();
    let s = |d: Duration| format!("{:.1} s", d.as_secs_f64());
    let open = total - closed.len();
    let still = if open > 0 { format!("; {open} still open after {} s", WATCH_LIMIT.as_secs()) } else { String::new() };
    format!(
        "{} closed: min {}, median {}, max {}{still}",
        closed.len(),
        s(closed[0]),
        s(closed[closed.len() / 2]),
        s(closed[closed.len() - 1])
    )
}

/// With the default settings: how long slow, silent and idle connections survive.
async fn timeouts() {
    let server = Server::start(&[]).await;
    let slowloris: usize = env_or("BENCH_SLOWLORIS", 200);
    let every = Duration::from_millis(env_or("BENCH_SLOWLORIS_INTERVAL_MS", 5000));
    let mut slow = Vec::new();
    for _ in 0..slowloris {
        if let Ok(stream) = TcpStream::connect(&server.addr).await {
            slow.push(tokio::spawn(survival(stream, Some(every))));
        }
    }
    let mut silent = Vec::new();
    let mut idle = Vec::new();
    for _ in 0..10 {
        if let Ok(stream) = TcpStream::connect(&server.addr).await {
            silent.push(tokio::spawn(survival(stream, None)));
        }
        if let Some(stream) = Kind::KeptAlive.open(&server.addr).await {
            idle.push(tokio::spawn(survival(stream, None)));
        }
    }
    let collect = |handles: Vec<tokio::task::JoinHandle<Option<Duration>>>| async move {
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.ok().flatten());
        }
        out
    };
    println!("| slowloris, a header line every {} ms | {} |", every.as_millis(), summary(collect(slow).await));
    println!("| silent | {} |", summary(collect(silent).await));
    println!("| kept alive, idle after one request | {} |", summary(collect(idle).await));
    server.stop();
}

/// Twice the default cap at once: how many are held, refused, and what /metrics says.
async fn cap(n: usize) {
    let server = Server::start(&[]).await;
    let rest = server.rss_mib();
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        if let Ok(s) = TcpStream::connect(&server.addr).await {
            streams.push(s);
        }
    }
    let opened = streams.len();
    // A refused connection gets its 503 (or a close) at once; a held one hears nothing.
    let mut watches = Vec::new();
    for mut s in streams {
        watches.push(tokio::spawn(async move {
            let mut buf = [0u8; 512];
            let answer = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await;
            let refused = match answer {
                Ok(Ok(n)) => n == 0 || buf[..n].starts_with(b"HTTP/1.1 503"),
                Ok(Err(_)) => true,
                Err(_) => false,
            };
            (refused, s)
        }));
    }
    let mut refused = 0;
    let mut kept = Vec::new();
    for w in watches {
        if let Ok((r, s)) = w.await {
            refused += usize::from(r);
            kept.push(s);
        }
    }
    let at_cap = server.rss_mib();
    drop(kept);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let metrics = one_shot(&server.addr, "/metrics").await;
    let counter = metrics
        .lines()
        .find_map(|l| l.strip_prefix("taskbridge_http_connections_refused_total "))
        .map_or("n/a".to_string(), |v| v.trim().to_string());
    println!(
        "| {opened} opened at once, default cap | {} held, {refused} refused (counter: {counter}) | {rest:.1} → {at_cap:.1} MiB |",
        opened - refused
    );
    server.stop();
}

fn binary_name() -> String {
    std::env::var("BENCH_BINARY").unwrap_or_else(|_| {
        Path::new(env!("CARGO_BIN_EXE_taskbridge"))
            .file_name()
            .map_or("taskbridge".into(), |f| f.to_string_lossy().into())
    })
}

#[tokio::main]
async fn main() {
    let n: usize = env_or("BENCH_CONNECTIONS", 2000);
    let head: usize = env_or("BENCH_HEAD_BYTES", 15000);
    println!("binary: {}", binary_name());
    println!("\n| {n} connections of each kind | held | at rest | open | after closing | second round open / closed |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for kind in [Kind::Silent, Kind::SmallHead, Kind::BigHead(head), Kind::KeptAlive] {
        memory(kind, n).await;
    }
    println!("\n| default settings | how long until the server closed it |");
    println!("| --- | --- |");
    timeouts().await;
    println!("\n| cap | outcome | memory |");
    println!("| --- | --- | --- |");
    cap(n).await;
}
