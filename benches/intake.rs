//! Intake benchmarks: acceptance of `POST /api/v1/messages`, end-to-end processing through
//! the builtin pipeline, and duplicate-search latency and memory at 10k, 100k and 1M tasks.
//! `cargo bench --bench intake`; PostgreSQL too when `BENCH_DATABASE_URL` or
//! `TEST_DATABASE_URL` is set. Knobs: `BENCH_BACKENDS` (`webhooks,sqlite,postgres,dedup`),
//! `BENCH_DEDUP_SIZES` (e.g. `10000,100000`), `BENCH_PROJECTS` (messages spread over this many
//! projects, default 1), `BENCH_WORKERS` and `BENCH_INTAKE_WORKERS`
//! (the two lanes end to end, default 4 and 16).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
mod support;

use support::{Server, XorShift, env_or, ms, pct};
use taskbridge::config::Config;
use taskbridge::dedup::{Index, Settings};

const KEY: &str = "bench-admin-key-0123456789abcdef";

/// The vocabulary of the development corpus's titles, most frequent first.
fn vocabulary() -> Vec<String> {
    let path = std::env::var("BENCH_VOCAB").unwrap_or_else(|_| "../shared/data/dedup-dev/corpus.jsonl".into());
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    if let Ok(text) = std::fs::read_to_string(&path) {
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            for w in v["title"].as_str().unwrap_or("").split_whitespace() {
                let w: String = w.chars().filter(|c| c.is_alphanumeric()).collect::<String>().to_lowercase();
                if w.len() > 1 {
                    *counts.entry(w).or_default() += 1;
                }
            }
        }
    }
    let mut words: Vec<(String, usize)> = counts.into_iter().collect();
    words.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut out: Vec<String> = words.into_iter().map(|(w, _)| w).collect();
    // Enough distinct words for a million tasks even without the corpus file.
    for i in 0..20_000 {
        out.push(format!("term{i}"));
    }
    out
}

fn sentence(rng: &mut XorShift, vocab: &[String], words: usize) -> String {
    (0..words).map(|_| vocab[rng.zipf(vocab.len())].as_str()).collect::<Vec<_>>().join(" ")
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn bench_dedup(sizes: &[usize]) {
    let vocab = vocabulary();
    let settings = Settings::default();
    for &size in sizes {
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        let before = rss_mib();
        let started = Instant::now();
        let mut index = Index::new();
        let mut titles = Vec::with_capacity(1000);
        for i in 0..size {
            let n = 5 + rng.below(8);
            let title = sentence(&mut rng, &vocab, n);
            let body = sentence(&mut rng, &vocab, 40);
            if titles.len() < 1000 {
                titles.push(title.clone());
            }
            index.upsert(&format!("t{i}"), &title, &body);
        }
        let build = started.elapsed();
        let memory = rss_mib() - before;
        let mut samples = Vec::new();
        for q in 0..200 {
            // Half near-duplicates of existing titles, half fresh text.
            let query = if q % 2 == 0 {
                let base = &titles[rng.below(titles.len())];
                format!("{base} {}", vocab[rng.zipf(vocab.len())])
            } else {
                sentence(&mut rng, &vocab, 9)
            };
            let t = Instant::now();
            let decision = settings.decide(&index, &query);
            samples.push(t.elapsed());
            std::hint::black_box(decision);
        }
        println!(
            "| duplicate search, {size} tasks | p50 {} | p99 {} | index built in {:.1} s | +{memory:.0} MiB RSS |",
            ms(pct(&mut samples, 0.5)),
            ms(pct(&mut samples, 0.99)),
            build.as_secs_f64()
        );
        drop(index);
    }
}

async fn bench_http(label: &str, url: &str) {
    // Acceptance alone: no workers, so only persist-and-enqueue is measured.
    let mut config = Config::for_tests(url, KEY);
    config.db_max_connections = 10;
    config.workers = 0;
    let server = Server::start(&config).await;
    // Messages go round-robin to this many projects: decisions take turns per project only.
    let projects: usize = env_or("BENCH_PROJECTS", 1).max(1);
    let mut project_ids = Vec::new();
    for p in 0..projects {
        project_ids.push(support::create_project(&server.client, &server.base, KEY, &format!("bench {p}")).await);
    }
    let project_ids = Arc::new(project_ids);
    let secs: u64 = env_or("BENCH_CREATE_SECS", 10);
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 32);
    let vocab = Arc::new(vocabulary());
    let (mut samples, elapsed) = support::load(concurrency, secs, {
        let (client, base) = (server.client.clone(), server.base.clone());
        move |w, i| {
            // Varied requests, so that intake creates tasks as well as finding duplicates.
            let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ ((w as u64 + 1) << 32 | i));
            let text = format!("please {} before friday", sentence(&mut rng, &vocab, 8));
            let project_id = &project_ids[(w + i as usize) % project_ids.len()];
            let body = json!({"project_id": project_id, "text": text,
                              "author": "bench", "source": "slack", "channel": "#bench"});
            support::expect_status(
                client.post(format!("{base}/api/v1/messages")).bearer_auth(KEY).json(&body),
                202,
                "accept",
            )
        }
    })
    .await;
    let rate = samples.len() as f64 / elapsed;
    println!(
        "| {label} | POST /api/v1/messages accepted, {concurrency} clients | {rate:.0} msg/s | p50 {} | p99 {} |",
        ms(pct(&mut samples, 0.5)),
        ms(pct(&mut samples, 0.99))
    );
    server.stop().await;

    // End to end: the queued messages are processed by a restarted instance with workers.
    let accepted = samples.len();
    let mut config = Config::for_tests(url, KEY);
    config.workers = env_or("BENCH_WORKERS", 4);
    // Intake has its own lane of workers; the service's default is 16.
    config.intake_workers = env_or("BENCH_INTAKE_WORKERS", 16);
    config.db_max_connections = 10;
    let started = Instant::now();
    let server = Server::start(&config).await;
    let store = server.store.clone();
    loop {
        let counts = store.job_counts().await.expect("counts");
        let pending: i64 =
            counts.iter().filter(|(s, _)| s == "queued" || s == "running" || s == "failed").map(|(_, n)| n).sum();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "| {label} | end to end through the builtin pipeline ({} intake workers, {projects} projects) | {:.0} msg/s | | | {accepted} messages in {secs:.1} s |",
        config.intake_workers,
        accepted as f64 / secs
    );
    server.stop().await;
}

/// Signed Slack events into `/webhooks/slack/{id}`: verification, parsing, persistence and
/// queueing per request (workers off, so acceptance alone is measured).
async fn bench_webhooks(label: &str, url: &str) {
    let mut config = Config::for_tests(url, KEY);
    config.workers = 0;
    config.db_max_connections = 10;
    config.allow_private_urls = true;
    let server = Server::start(&config).await;
    let (client, base) = (server.client.clone(), server.base.clone());
    let project_id = support::create_project(&client, &base, KEY, "webhooks").await;
    let secret = "8f742231b10e8888abcd99yyyzzz85a5";
    let integration: serde_json::Value = client
        .post(format!("{base}/api/v1/projects/{project_id}/integrations"))
        .bearer_auth(KEY)
        .json(&json!({"type": "slack", "secrets": {"signing_secret": secret, "bot_token": "xoxb-bench"}}))
        .send()
        .await
        .expect("integration")
        .json()
        .await
        .expect("json");
    let hook = format!("{base}/webhooks/slack/{}", integration["id"].as_str().expect("id"));
    let secs: u64 = env_or("BENCH_CREATE_SECS", 10);
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 32);
    let (mut samples, elapsed) = support::load(concurrency, secs, move |w, i| {
        let body = json!({"type": "event_callback", "event_id": format!("Ev{w}-{i}"),
            "event": {"type": "app_mention", "channel": "C1", "user": "U1", "ts": "1.1",
                      "text": format!("<@UBOT> please look at incident {w}-{i}")}})
        .to_string();
        let ts = chrono::Utc::now().timestamp().to_string();
        let signature = taskbridge::channels::slack::sign(secret, &ts, body.as_bytes());
        let req = client
            .post(&hook)
            .header("content-type", "application/json")
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", signature)
            .body(body);
        support::expect_status(req, 200, "webhook")
    })
    .await;
    let rate = samples.len() as f64 / elapsed;
    println!(
        "| {label} | signed Slack events accepted at /webhooks/slack, {concurrency} clients | {rate:.0} req/s | p50 {} | p99 {} |",
        ms(pct(&mut samples, 0.5)),
        ms(pct(&mut samples, 0.99))
    );
    server.stop().await;
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!("| backend | what | rate | p50 | p99 | notes |");
    println!("| --- | --- | --- | --- | --- | --- |");
    runtime.block_on(async {
        if support::wanted("webhooks") {
            let (dir, url) = support::sqlite_url();
            bench_webhooks("SQLite", &url).await;
            let _ = std::fs::remove_dir_all(&dir);
        }
        support::on_backends(|label, url| async move { bench_http(label, &url).await }).await;
    });
    if support::wanted("dedup") {
        let sizes: Vec<usize> = std::env::var("BENCH_DEDUP_SIZES")
            .unwrap_or_else(|_| "10000,100000,1000000".into())
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        println!();
        println!("| what | p50 | p99 | build | memory |");
        println!("| --- | --- | --- | --- | --- |");
        bench_dedup(&sizes);
    }
}
