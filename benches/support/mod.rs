//! Helpers shared by the benchmarks.

#![allow(dead_code)]

use std::time::Duration;

use sqlx::Connection;

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The `q` quantile of `samples` (sorted in place).
pub fn pct(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 - 1.0) * q).round() as usize]
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// A tiny deterministic generator, so every run sees the same data.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Roughly Zipf-distributed rank in 0..n: a few items are common, most are rare.
    pub fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64).powf(u) as usize).saturating_sub(1).min(n - 1)
    }
}

/// Which backends to measure (`BENCH_BACKENDS`, default: all).
pub fn wanted(what: &str) -> bool {
    std::env::var("BENCH_BACKENDS").map(|b| b.contains(what)).unwrap_or(true)
}

/// A fresh SQLite file in a temporary folder.
pub fn sqlite_url() -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("taskbridge-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    (dir, url)
}

/// A fresh PostgreSQL database when `BENCH_DATABASE_URL` or `TEST_DATABASE_URL` names a
/// server; its URL, and the name to drop.
pub async fn postgres_database() -> Option<(String, String, String)> {
    let admin = std::env::var("BENCH_DATABASE_URL").or_else(|_| std::env::var("TEST_DATABASE_URL")).ok()?;
    let name = format!("tbbench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.expect("PostgreSQL reachable");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create db");
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b.to_string(), format!("?{q}")),
        None => (admin.clone(), String::new()),
    };
    let url = match base.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}{query}"),
        None => admin.clone(),
    };
    Some((admin, name, url))
}

pub async fn drop_postgres_database(admin: &str, name: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await;
    }
}

/// Creates a project through the API and answers its id.
pub async fn create_project(client: &reqwest::Client, base: &str, key: &str, name: &str) -> String {
    let project: serde_json::Value = client
        .post(format!("{base}/api/v1/projects"))
        .bearer_auth(key)
        .json(&serde_json::json!({ "name": name }))
        .send()
        .await
        .expect("project")
        .json()
        .await
        .expect("json");
    project["id"].as_str().expect("id").to_string()
}

/// A service started in this process for a benchmark.
pub struct Server {
    pub base: String,
    pub store: taskbridge::store::Store,
    pub client: reqwest::Client,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), taskbridge::app::StartupError>>,
}

impl Server {
    pub async fn start(config: &taskbridge::config::Config) -> Server {
        let app = taskbridge::app::Application::build(config).await.expect("application starts");
        let base = format!("http://{}", app.local_addr());
        let store = app.store().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().expect("client");
        Server { base, store, client, stop, task }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Runs `request(worker, n)` from `concurrency` clients for `secs` seconds; answers each
/// request's latency and the elapsed seconds. `request` asserts its own answer.
pub async fn load<F, Fut>(concurrency: usize, secs: u64, request: F) -> (Vec<Duration>, f64)
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    let started = std::time::Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (stop, request) = (stop.clone(), request.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let t = std::time::Instant::now();
                request(w, n).await;
                latencies.push(t.elapsed());
                n += 1;
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut samples = Vec::new();
    for w in workers {
        samples.extend(w.await.expect("worker"));
    }
    (samples, started.elapsed().as_secs_f64())
}

/// Sends `req` and asserts its status.
pub async fn expect_status(req: reqwest::RequestBuilder, status: u16, what: &str) {
    let res = req.send().await;
    let ok = matches!(&res, Ok(r) if r.status().as_u16() == status);
    if let Ok(r) = res {
        let _ = r.bytes().await;
    }
    assert!(ok, "{what} failed");
}

/// Runs `bench(label, url)` on a fresh SQLite file and, when a server is configured, a fresh
/// PostgreSQL database, as `BENCH_BACKENDS` allows; each is removed afterwards.
pub async fn on_backends<F, Fut>(bench: F)
where
    F: Fn(&'static str, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    if wanted("sqlite") {
        let (dir, url) = sqlite_url();
        bench("SQLite", url).await;
        let _ = std::fs::remove_dir_all(&dir);
    }
    if wanted("postgres")
        && let Some((admin, name, url)) = postgres_database().await
    {
        bench("PostgreSQL", url).await;
        drop_postgres_database(&admin, &name).await;
    }
}

/// The whole of a benchmark whose every figure is a row of the usual table: its head, then
/// `bench(label, url)` on each backend (see [`on_backends`]).
pub fn table_on_backends<F, Fut>(bench: F)
where
    F: Fn(&'static str, String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!("| backend | what | rate | p50 | p99 | notes |");
    println!("| --- | --- | --- | --- | --- | --- |");
    runtime.block_on(on_backends(bench));
}
