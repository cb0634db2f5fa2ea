//! HTTP benchmarks of the tracker API: task-create throughput and latency, and task-list
//! latency over 100,000 tasks in one project; then the web console's overview, filtered task
//! list and board over the same tasks, and the requests inbox over 100,000 requests. Runs on SQLite, and on PostgreSQL when
//! `BENCH_DATABASE_URL` (or `TEST_DATABASE_URL`) names a server where it may create a
//! database. `cargo bench --bench api`; figures go to docs/benchmarks.md.
//!
//! Knobs: `BENCH_CREATE_SECS` (default 10), `BENCH_CONCURRENCY` (32), `BENCH_TASKS` (100000),
//! `BENCH_REQUESTS` (100000), `BENCH_BACKENDS` (`sqlite,postgres`).

use std::time::Instant;

use serde_json::json;
mod support;

use support::{Server, XorShift, env_or, ms, pct};
use taskbridge::config::Config;
use taskbridge::domain::task::{NewTask, Priority, TaskStatus};

const KEY: &str = "bench-admin-key-0123456789abcdef";

const WORDS: [&str; 16] = [
    "login",
    "billing",
    "export",
    "search",
    "onboarding",
    "invoice",
    "crash",
    "slow",
    "mobile",
    "api",
    "report",
    "email",
    "sync",
    "upload",
    "dashboard",
    "timeout",
];

async fn bench_backend(label: &str, url: &str) {
    let mut config = Config::for_tests(url, KEY);
    config.db_max_connections = 10;
    let server = Server::start(&config).await;
    let (client, base, store) = (server.client.clone(), server.base.clone(), server.store.clone());
    let project_id = support::create_project(&client, &base, KEY, "bench").await;

    // 1. Task creation through HTTP, many clients at once.
    let secs: u64 = env_or("BENCH_CREATE_SECS", 10);
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 32);
    let (mut samples, elapsed) = support::load(concurrency, secs, {
        let (client, base, project_id) = (client.clone(), base.clone(), project_id.clone());
        move |w, i| {
            let body = json!({
                "project_id": project_id, "title": format!("Fix the {} issue #{w}-{i}", WORDS[(i % 16) as usize]),
                "description": "Created by the benchmark", "priority": "high", "labels": ["bench"],
                "due_date": "2026-12-01"
            });
            let req = client.post(format!("{base}/api/v1/tasks")).bearer_auth(KEY).json(&body);
            support::expect_status(req, 201, "task create")
        }
    })
    .await;
    let created = samples.len();
    println!(
        "| {label} | POST /api/v1/tasks, {concurrency} clients, {secs} s | {:.0} req/s | {} | {} | {created} tasks |",
        created as f64 / elapsed,
        ms(pct(&mut samples, 0.5)),
        ms(pct(&mut samples, 0.99))
    );

    // 2. Seed up to BENCH_TASKS tasks in a second project, through the store.
    let target: usize = env_or("BENCH_TASKS", 100_000);
    let big_id = support::create_project(&client, &base, KEY, "big").await;
    let seed_started = Instant::now();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut seeders = Vec::new();
    let per = target / 4;
    for s in 0..4 {
        let (store, big_id) = (store.clone(), big_id.clone());
        let tenant = taskbridge::domain::tenant::default_tenant();
        let mut rng = XorShift(rng.next() | 1);
        seeders.push(tokio::spawn(async move {
            let mut ids = Vec::with_capacity(per);
            for i in 0..per {
                let w1 = WORDS[rng.below(16)];
                let w2 = WORDS[rng.below(16)];
                let new = NewTask {
                    project_id: big_id.as_str().into(),
                    title: format!("{w1} {w2} problem {s}-{i}"),
                    description: format!("Customers report that {w1} breaks when {w2} is used."),
                    status: [TaskStatus::Todo, TaskStatus::InProgress, TaskStatus::Done][rng.below(3)],
                    priority: [Priority::Low, Priority::Medium, Priority::High][rng.below(3)],
                    assigned_to: Some(format!("user{}", rng.below(20))),
                    time_estimate: Some(rng.below(480) as i64),
                    time_spent: 0,
                    due_date: chrono::NaiveDate::from_ymd_opt(2026, 1 + rng.below(12) as u32, 1 + rng.below(28) as u32),
                    labels: if rng.below(10) == 0 { vec!["bug".into()] } else { vec![] },
                };
                ids.push(store.create_task(&tenant, &new).await.expect("seed").id.to_string());
            }
            ids
        }));
    }
    let mut task_ids = Vec::with_capacity(target);
    for s in seeders {
        task_ids.extend(s.await.expect("seeder"));
    }
    let seed_secs = seed_started.elapsed().as_secs_f64();
    // Steady state: autovacuum (PostgreSQL) or `PRAGMA optimize` would have refreshed the
    // planner's statistics by now in a running service.
    store.optimize().await.expect("optimize");
    println!(
        "| {label} | seeding {} tasks through the store, 4 writers | {:.0} tasks/s | | | |",
        per * 4,
        (per * 4) as f64 / seed_secs
    );

    // 3. List queries over the big project, one client, sequential requests.
    let deep_cursor = {
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let mut url = format!("{base}/api/v1/tasks?project_id={big_id}&status=todo&limit=50");
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page: serde_json::Value =
                client.get(url).bearer_auth(KEY).send().await.expect("page").json().await.expect("json");
            cursor = page["next_cursor"].as_str().map(str::to_string);
        }
        cursor.expect("at least 100 pages of todo tasks")
    };
    let queries = [
        ("status filter, first page of 50", format!("project_id={big_id}&status=todo&limit=50")),
        ("status filter, page 101 by cursor", format!("project_id={big_id}&status=todo&limit=50&cursor={deep_cursor}")),
        ("assignee + priority filter", format!("project_id={big_id}&assigned_to=user7&priority=high&limit=50")),
        ("label filter", format!("project_id={big_id}&label=bug&limit=50")),
        ("due_before + sort=-due_date", format!("project_id={big_id}&due_before=2026-06-30&sort=-due_date&limit=50")),
        ("text search q=invoice", format!("project_id={big_id}&q=invoice&limit=50")),
    ];
    for (name, query) in queries {
        let mut samples = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            let res = client.get(format!("{base}/api/v1/tasks?{query}")).bearer_auth(KEY).send().await.expect("list");
            assert_eq!(res.status().as_u16(), 200);
            let _ = res.bytes().await;
            samples.push(t.elapsed());
        }
        let (p50, p99) = (pct(&mut samples, 0.5), pct(&mut samples, 0.99));
        println!(
            "| {label} | GET /api/v1/tasks: {name} ({} tasks in project) | | {} | {} | 200 requests |",
            per * 4,
            ms(p50),
            ms(p99)
        );
    }

    // 4. Web console pages over the same 100,000 tasks, as a signed-in browser asks for them:
    //    the whole answer (session lookup, queries, rendering) for one client, sequentially.
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let signed_in = browser.post(format!("{base}/sign-in")).form(&[("key", KEY)]).send().await.expect("sign in");
    assert_eq!(signed_in.status().as_u16(), 303, "signed in");
    let cookie = signed_in
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("session cookie")
        .to_string();
    let pages = [
        ("overview /dashboard", "/dashboard".to_string()),
        (
            "task list, status + priority filter, sorted by due date",
            format!("/tasks?project_id={big_id}&status=todo&priority=high&sort=due_date"),
        ),
        ("task list, text search q=invoice", format!("/tasks?project_id={big_id}&q=invoice")),
        ("board of the project", format!("/board?project_id={big_id}")),
    ];
    for (name, path) in pages {
        let mut samples = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            let res = browser.get(format!("{base}{path}")).header("cookie", &cookie).send().await.expect("page");
            assert_eq!(res.status().as_u16(), 200, "{path}");
            let _ = res.bytes().await;
            samples.push(t.elapsed());
        }
        let (p50, p99) = (pct(&mut samples, 0.5), pct(&mut samples, 0.99));
        println!("| {label} | console: {name} ({} tasks) | | {} | {} | 200 requests |", per * 4, ms(p50), ms(p99));
    }

    // 5. The requests inbox over BENCH_REQUESTS requests in the big project, as the same
    //    browser asks for its pages, the feed its script polls, and a request's triage page.
    let requests: usize = env_or("BENCH_REQUESTS", 100_000);
    let seed_started = Instant::now();
    let sample = seed_requests(url, &big_id, &task_ids, requests).await;
    store.optimize().await.expect("optimize");
    println!(
        "| {label} | seeding {requests} requests (SQL inserts of 1,000 rows) | {:.0} requests/s | | | |",
        requests as f64 / seed_started.elapsed().as_secs_f64()
    );
    let deep_cursor = {
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let mut url = format!("{base}/api/v1/messages?project_id={big_id}&limit=50");
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page: serde_json::Value =
                client.get(url).bearer_auth(KEY).send().await.expect("page").json().await.expect("json");
            cursor = page["next_cursor"].as_str().map(str::to_string);
        }
        cursor.expect("at least 100 pages of requests")
    };
    let today = chrono::Utc::now().date_naive();
    let pages = [
        ("inbox of the project, first page of 50", format!("/requests?project_id={big_id}")),
        ("inbox, page 101 by cursor", format!("/requests?project_id={big_id}&cursor={deep_cursor}")),
        ("inbox, outcome needs_triage", format!("/requests?project_id={big_id}&status=needs_triage")),
        ("inbox, platform telegram", format!("/requests?project_id={big_id}&source=telegram")),
        (
            "inbox, platform whatsapp + outcome failed (about 80 match)",
            format!("/requests?project_id={big_id}&source=whatsapp&status=failed"),
        ),
        ("inbox, a platform with no request (zendesk)", format!("/requests?project_id={big_id}&source=zendesk")),
        (
            "inbox, received today, duplicates (overview link)",
            format!("/requests?received_since={today}&status=duplicate"),
        ),
        ("feed the inbox polls (first page's rows)", format!("/requests/feed?project_id={big_id}")),
        ("a possible duplicate's triage page (3 candidates)", format!("/requests/{}", sample.possible)),
        ("a request waiting for triage: search for a merge target", format!("/requests/{}?q=invoice", sample.waiting)),
        ("overview /dashboard (with the requests)", "/dashboard".to_string()),
    ];
    for (name, path) in pages {
        let mut samples = Vec::new();
        for _ in 0..200 {
            let t = Instant::now();
            let res = browser.get(format!("{base}{path}")).header("cookie", &cookie).send().await.expect("page");
            assert_eq!(res.status().as_u16(), 200, "{path}");
            let _ = res.bytes().await;
            samples.push(t.elapsed());
        }
        let (p50, p99) = (pct(&mut samples, 0.5), pct(&mut samples, 0.99));
        println!("| {label} | console: {name} ({requests} requests) | | {} | {} | 200 requests |", ms(p50), ms(p99));
    }

    server.stop().await;
}

/// Requests the inbox benchmark reads individually.
struct Sampled {
    possible: String,
    waiting: String,
}

/// Writes `n` requests of project `project_id` straight into the database, in transactions
/// of 1,000 rows, shaped as intake leaves them: one every 20 s until now (about 4,300 today),
/// from seven platforms (Slack 40%, Teams 20%, e-mail 15%, API 10%, Telegram 8%, Discord 5%,
/// WhatsApp 2%), with outcomes as a busy `auto` project with some triage has them (created
/// 62%, duplicate 12%, possible duplicate 8% and waiting for triage 8% with three candidates
/// each, failed 4% with an error, declined 6%) and their drafts. Intake itself is measured in
/// `cargo bench --bench intake`; here only the reading matters.
async fn seed_requests(url: &str, project_id: &str, task_ids: &[String], n: usize) -> Sampled {
    const SOURCES: [(&str, usize); 7] =
        [("slack", 40), ("teams", 20), ("email", 15), ("api", 10), ("telegram", 8), ("discord", 5), ("whatsapp", 2)];
    const OUTCOMES: [(&str, usize); 6] = [
        ("created", 62),
        ("duplicate", 12),
        ("possible_duplicate", 8),
        ("needs_triage", 8),
        ("failed", 4),
        ("declined", 6),
    ];
    fn pick<'a>(rng: &mut XorShift, table: &[(&'a str, usize)]) -> &'a str {
        let mut roll = rng.below(100);
        for (value, weight) in table {
            if roll < *weight {
                return value;
            }
            roll -= weight;
        }
        table[0].0
    }
    struct Row {
        id: String,
        text: String,
        author: String,
        source: &'static str,
        channel: String,
        received_at: chrono::DateTime<chrono::Utc>,
        status: &'static str,
        task_id: Option<String>,
        score: Option<f64>,
        error: Option<String>,
        draft: String,
        candidates: String,
    }
    let mut rng = XorShift(0x517c_c1b7_2722_0a95);
    let mut ids: Vec<String> = (0..n).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    ids.sort();
    let now = chrono::Utc::now();
    let tenant = taskbridge::domain::tenant::default_tenant();
    let mut sampled = Sampled { possible: String::new(), waiting: String::new() };
    let rows: Vec<Row> = ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            let (w1, w2) = (WORDS[rng.below(16)], WORDS[rng.below(16)]);
            let status = pick(&mut rng, &OUTCOMES);
            let task = || task_ids[rng.below(task_ids.len())].clone();
            let task_id = matches!(status, "created" | "duplicate" | "possible_duplicate").then(task);
            let with_candidates = matches!(status, "possible_duplicate" | "needs_triage");
            let candidates: Vec<serde_json::Value> = (0..if with_candidates { 3 } else { rng.below(2) })
                .map(|k| {
                    let score = 0.9 - 0.1 * k as f64;
                    json!({"task_id": task_ids[rng.below(task_ids.len())], "title": format!("{w1} {w2} problem"), "score": score})
                })
                .collect();
            if status == "possible_duplicate" {
                sampled.possible = id.clone();
            }
            if status == "needs_triage" {
                sampled.waiting = id.clone();
            }
            Row {
                text: format!("The {w1} page is {w2} again for customer {}: can someone look at it before Friday?", rng.below(5000)),
                author: format!("user{}", rng.below(50)),
                source: pick(&mut rng, &SOURCES),
                channel: format!("#team-{}", rng.below(12)),
                received_at: now - chrono::Duration::seconds(20 * (n - i) as i64),
                task_id,
                score: candidates.first().map(|c| c["score"].as_f64().unwrap_or_default()),
                error: (status == "failed").then(|| "the language model did not answer in time (after 8 attempts)".into()),
                draft: json!({"title": format!("Fix the {w1} {w2} issue"), "description": "From the request.",
                              "priority": "medium", "due_date": null, "labels": [], "assigned_to": null})
                .to_string(),
                candidates: serde_json::Value::Array(candidates).to_string(),
                status,
                id,
            }
        })
        .collect();
    macro_rules! insert_all {
        ($pool:expr, $db:ty) => {{
            for chunk in rows.chunks(1000) {
                let mut tx = $pool.begin().await.expect("begin");
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO messages (id, tenant_id, project_id, text, author, source, channel, received_at, \
                     status, task_id, score, error, draft, candidates, created_at, updated_at) ",
                );
                q.push_values(chunk, |mut b, r| {
                    b.push_bind(&r.id)
                        .push_bind(tenant.as_str())
                        .push_bind(project_id)
                        .push_bind(&r.text)
                        .push_bind(&r.author)
                        .push_bind(r.source)
                        .push_bind(&r.channel)
                        .push_bind(r.received_at)
                        .push_bind(r.status)
                        .push_bind(&r.task_id)
                        .push_bind(r.score)
                        .push_bind(&r.error)
                        .push_bind(&r.draft)
                        .push_bind(&r.candidates)
                        .push_bind(r.received_at)
                        .push_bind(r.received_at);
                });
                q.build().execute(&mut *tx).await.expect("seed requests");
                tx.commit().await.expect("commit");
            }
        }};
    }
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await.expect("sqlite");
        insert_all!(pool, sqlx::Sqlite);
    } else {
        let pool = sqlx::PgPool::connect(url).await.expect("postgres");
        insert_all!(pool, sqlx::Postgres);
    }
    sampled
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        println!("| backend | what | throughput | p50 | p99 | notes |");
        println!("| --- | --- | --- | --- | --- | --- |");
        support::on_backends(|label, url| async move { bench_backend(label, &url).await }).await;
    });
}
