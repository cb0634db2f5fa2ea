//! Tracker pushes through the durable queue against an instant fake Taiga: how many
//! `tracker.push` jobs per second the workers complete (each is a project read, a marker
//! search and a create). `cargo bench --bench trackers`; PostgreSQL too when
//! `BENCH_DATABASE_URL` or `TEST_DATABASE_URL` is set. Knobs: `BENCH_BACKENDS`
//! (`sqlite,postgres`), `BENCH_TASKS` (default 2000), `BENCH_WORKERS` (default 4).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
mod support;

use support::{Server, env_or};
use taskbridge::config::Config;

const KEY: &str = "bench-admin-key-0123456789abcdef";

/// Taiga as fast as it can be: every answer is immediate and constant but the create.
async fn instant_taiga() -> (String, Arc<AtomicUsize>) {
    let created = Arc::new(AtomicUsize::new(0));
    async fn create(
        State(n): State<Arc<AtomicUsize>>,
        Json(body): Json<Value>,
    ) -> (axum::http::StatusCode, Json<Value>) {
        let id = n.fetch_add(1, Ordering::SeqCst) as i64 + 1;
        let task = json!({"id": id, "ref": id, "version": 1, "subject": body["subject"], "tags": [], "status": 1});
        (axum::http::StatusCode::CREATED, Json(task))
    }
    let app = axum::Router::new()
        .route("/api/v1/auth", axum::routing::post(|| async { Json(json!({"auth_token": "t", "refresh": "r"})) }))
        .route(
            "/api/v1/projects/by_slug",
            axum::routing::get(|| async {
                Json(json!({"id": 1, "slug": "ops", "task_statuses": [{"id": 1, "slug": "new", "is_closed": false, "order": 1}],
                            "members": []}))
            }),
        )
        .route("/api/v1/tasks", axum::routing::get(|| async { Json(json!([])) }).post(create))
        .with_state(created.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/api/v1"), created)
}

async fn bench(label: &str, url: &str) {
    let (fake, created) = instant_taiga().await;
    let tasks: usize = env_or("BENCH_TASKS", 2000);
    let workers: usize = env_or("BENCH_WORKERS", 4);
    let mut config = Config::for_tests(url, KEY);
    config.workers = 0; // tasks first, then the workers alone
    config.allow_private_urls = true;
    let server = Server::start(&config).await;
    let (client, base) = (server.client.clone(), server.base.clone());
    let project = support::create_project(&client, &base, KEY, "ops").await;
    let integration = json!({"type": "taiga", "settings": {"api_base_url": fake, "username": "bot", "project_slug": "ops"},
                             "secrets": {"password": "pw"}});
    support::expect_status(
        client.post(format!("{base}/api/v1/projects/{project}/integrations")).bearer_auth(KEY).json(&integration),
        201,
        "integration",
    )
    .await;
    for i in 0..tasks {
        let body = json!({"project_id": project, "title": format!("Bench task {i}")});
        support::expect_status(client.post(format!("{base}/api/v1/tasks")).bearer_auth(KEY).json(&body), 201, "task")
            .await;
    }
    server.stop().await;

    // The same database, now with workers: the queue holds exactly the pushes.
    config.workers = workers;
    config.job_poll_ms = 20;
    let server = Server::start(&config).await;
    let start = Instant::now();
    while created.load(Ordering::SeqCst) < tasks && start.elapsed() < Duration::from_secs(600) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let done = created.load(Ordering::SeqCst);
    println!(
        "| {label} | tracker.push jobs, instant fake Taiga | {:.0} jobs/s | – | – | {done} of {tasks} pushed in {elapsed:.1} s by {workers} workers |",
        done as f64 / elapsed
    );
    server.stop().await;
}

fn main() {
    support::table_on_backends(|label, url| async move { bench(label, &url).await });
}
