//! The replaced Teams→Taiga service's own route, `POST /teams/`, as its users call it: a
//! request goes to the language model for a draft, is checked for a duplicate, becomes a task,
//! and the task is pushed to Taiga, with every upstream call taking `BENCH_DELAY_MS` (default
//! 50 ms) — the OpenAI-compatible model and Taiga are the tests' fakes. Clients wait for the
//! outcome (the route answers when the task exists; the Taiga push runs behind it).
//! Two loads: distinct requests, and one text repeated (a duplicate should cost no model call).
//! `cargo bench --bench teams`; PostgreSQL too when `TEST_DATABASE_URL` is set. Knobs:
//! `BENCH_BACKENDS`, `BENCH_DELAY_MS`, `BENCH_CLIENTS` (default 8), `BENCH_SECS` (default 10).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::response::IntoResponse;
use serde_json::{Value, json};
mod support;

#[allow(dead_code, unused_imports, unused_macros)]
#[path = "../tests/api/fakes/mod.rs"]
mod fakes;
#[allow(dead_code, unused_imports, unused_macros)]
#[path = "../tests/api/helpers.rs"]
mod helpers;

use support::{Server, XorShift, env_or, ms, pct};
use taskbridge::config::{Config, Secret};

const KEY: &str = "bench-admin-key-0123456789abcdef";

/// Words for distinct requests: different enough that none is a duplicate of another.
const WORDS: &[&str] = &[
    "invoice",
    "export",
    "login",
    "dashboard",
    "report",
    "billing",
    "search",
    "upload",
    "profile",
    "calendar",
    "alert",
    "backup",
    "sync",
    "import",
    "filter",
    "chart",
    "payment",
    "refund",
    "webhook",
    "token",
    "session",
    "cache",
    "queue",
    "email",
    "pdf",
    "csv",
    "mobile",
    "tablet",
    "android",
    "ios",
    "safari",
    "firefox",
    "timeout",
    "crash",
    "layout",
    "font",
    "color",
    "button",
    "modal",
    "sidebar",
    "footer",
    "header",
    "menu",
    "avatar",
    "password",
];

/// The model: after `delay`, a draft whose title is the request's own words.
async fn model(delay: Duration, calls: Arc<AtomicU64>) -> String {
    let (base, _seen) = fakes::llm::fake_llm(move |_, body: Value| {
        let calls = calls.clone();
        async move {
            calls.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(delay).await;
            let user: Value =
                body["messages"][1]["content"].as_str().and_then(|c| serde_json::from_str(c).ok()).unwrap_or_default();
            let text = user["text"].as_str().unwrap_or("request").to_string();
            let draft = json!({"title": text.chars().take(80).collect::<String>(), "description": "From the bench.",
                               "priority": "medium", "due_date": null, "labels": [], "assigned_to": null});
            // A judgement of likely duplicates (counted as a model call too), as a model would
            // judge these: the same work when the task is the request's own words, else other work.
            let draft = match fakes::llm::asks_for_a_judgement(&body) {
                true => {
                    let request = user["request"].as_str().unwrap_or_default();
                    let verdicts: Vec<Value> = user["tasks"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .enumerate()
                        .map(|(i, task)| {
                            let title = task["title"].as_str().unwrap_or_default().trim();
                            let same = !title.is_empty() && request.contains(title);
                            json!({"number": i + 1, "verdict": if same { "same" } else { "different" }})
                        })
                        .collect();
                    json!({"verdicts": verdicts})
                }
                false => draft,
            };
            Json(json!({
                "id": "chatcmpl-1", "object": "chat.completion", "model": "bench-model",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": draft.to_string(), "refusal": null}}]
            }))
            .into_response()
        }
    })
    .await;
    base
}

async fn bench(label: &str, url: &str) {
    let delay = Duration::from_millis(env_or("BENCH_DELAY_MS", 50));
    let (clients, secs) = (env_or("BENCH_CLIENTS", 8usize), env_or("BENCH_SECS", 10u64));
    let calls = Arc::new(AtomicU64::new(0));
    let model_base = model(delay, calls.clone()).await;
    // Every Taiga answer comes `delay` late.
    let slow = vec![fakes::Trouble::Slow(delay); 1_000_000];
    let (taiga, shared, _) = fakes::taiga::fake_taiga(&slow).await;

    let mut config = Config::for_tests(url, KEY);
    config.allow_private_urls = true;
    config.db_max_connections = 10;
    config.llm = taskbridge::llm::Provider::Openai;
    config.llm_base_url = Some(model_base);
    config.llm_model = Some("bench-model".into());
    config.llm_api_key = Some(Secret::new("sk-bench"));
    config.workers = env_or("BENCH_WORKERS", 16);
    config.intake_workers = env_or("BENCH_INTAKE_WORKERS", 16);
    let server = Server::start(&config).await;
    let (client, base) = (server.client.clone(), server.base.clone());
    let project = support::create_project(&client, &base, KEY, "teams").await;
    support::expect_status(
        client
            .post(format!("{base}/api/v1/projects/{project}/integrations"))
            .bearer_auth(KEY)
            .json(&fakes::taiga::taiga_integration(&taiga)),
        201,
        "integration",
    )
    .await;

    for repeated in [false, true] {
        calls.store(0, Ordering::Relaxed);
        let (c, b, p) = (client.clone(), base.clone(), project.clone());
        let (mut samples, elapsed) = support::load(clients, secs, move |w, n| {
            let (c, b, p) = (c.clone(), b.clone(), p.clone());
            async move {
                let text = if repeated {
                    "The nightly backup of the billing database failed again, please check the disk".to_string()
                } else {
                    let mut rng = XorShift(((w as u64) << 32 | n) * 2654435761 + 7);
                    let words: Vec<&str> = (0..7).map(|_| WORDS[rng.below(WORDS.len())]).collect();
                    format!("{} broken for client {w} case {n}", words.join(" "))
                };
                let res = c
                    .post(format!("{b}/teams/"))
                    .bearer_auth(KEY)
                    .json(&json!({"text": text, "project_id": p, "author": "bench"}))
                    .send()
                    .await
                    .expect("answered");
                assert_eq!(res.status().as_u16(), 200, "outcome within the wait");
                let body: Value = res.json().await.expect("json");
                assert!(body["task_id"].is_string(), "{body}");
            }
        })
        .await;
        let done = samples.len();
        let model_calls = calls.load(Ordering::Relaxed);
        println!(
            "| {label} | `POST /teams/`, {} text, model and Taiga answering in {} ms, {clients} clients | {:.0} req/s | {} | {} | {done} requests, {model_calls} model calls |",
            if repeated { "one repeated" } else { "distinct" },
            delay.as_millis(),
            done as f64 / elapsed,
            ms(pct(&mut samples, 0.50)),
            ms(pct(&mut samples, 0.99)),
        );
    }
    // The pushes run behind the answers; how far they got says whether Taiga keeps up.
    let creates = shared.lock().expect("lock").creates;
    println!(
        "| {label} | Taiga tasks created by the end of the load | {creates} | – | – | pushed behind the answers |"
    );
    server.stop().await;
}

fn main() {
    support::table_on_backends(|label, url| async move { bench(label, &url).await });
}
