//! Three instances of the real binary on one PostgreSQL database take a mixed load —
//! requests through the Telegram webhook (answered in their chats), task edits pushed to
//! Taiga, and a Confluence task sync — and the instance running the sync is killed with
//! SIGKILL in the middle. Nothing accepted is lost, nothing is done twice (no request, task,
//! Taiga item, answer, issue or page write), and a survivor finishes the sync.
//!
//! It prints where the kill cut the sync, the survivors' throughput and how long the
//! takeover took (for docs/scale.md); it asserts none of those times.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::binary::{Running, start};
use crate::fakes::atlassian::{fake_site, macro_for, task, tasks};
use crate::fakes::taiga::{fake_taiga, taiga_integration};
use crate::fakes::telegram::{SECRET, slow_telegram, update};
use crate::helpers::{Backend, TestDb};

const KEY: &str = "three-instances-admin-key-0123456789";
/// Every instance must read the secrets the others sealed.
const ENCRYPTION_KEY: &str = "8f2e1c4b7a6d5e3f9081726354a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d";
const REQUESTS: usize = 240;
/// Each sender's pause between requests: the load lasts seconds, so the kill falls in it.
const PACE: Duration = Duration::from_millis(25);
const SENDERS: usize = 6;
const PAGES: usize = 10;
const TASKS_PER_PAGE: u32 = 5;
const EDITS: usize = 30;

struct Client {
    http: reqwest::Client,
}

impl Client {
    /// The status and JSON of a call, or `None` when the instance did not answer (killed).
    async fn call(&self, base: &str, method: Method, path: &str, body: Option<Value>) -> Option<(StatusCode, Value)> {
        let mut request = self.http.request(method, format!("{base}{path}")).bearer_auth(KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let res = request.send().await.ok()?;
        let status = res.status();
        Some((status, res.json().await.unwrap_or(Value::Null)))
    }

    async fn json(&self, base: &str, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.call(base, method, path, body).await.expect("the instance answers");
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }
}

/// A request as Telegram delivers it, message `n` of the chat.
fn request(n: usize) -> Value {
    let mut update = update(900_000 + n as i64, &format!("/task Please handle request number {n} by Friday"));
    update["message"]["message_id"] = json!(10_000 + n);
    update
}

async fn every_page(client: &Client, base: &str, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let sep = if path.contains('?') { '&' } else { '?' };
        let page_path = match &cursor {
            Some(c) => format!("{path}{sep}limit=200&cursor={c}"),
            None => format!("{path}{sep}limit=200"),
        };
        let page = client.json(base, Method::GET, &page_path, None).await;
        items.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return items,
        }
    }
}

/// Retitles tasks of `project` until `upto` are edited, each through the next of `bases`.
async fn edit_tasks(
    client: &Client,
    bases: &[String],
    project: &str,
    edited: &mut HashMap<String, String>,
    upto: usize,
) {
    while edited.len() < upto {
        let made = every_page(client, &bases[0], &format!("/api/v1/tasks?project_id={project}")).await;
        let fresh: Vec<String> = made
            .iter()
            .filter_map(|t| t["id"].as_str())
            .filter(|id| !edited.contains_key(*id))
            .map(str::to_string)
            .collect();
        for id in fresh.into_iter().take(upto - edited.len()) {
            let title = format!("Request {} (edited)", edited.len());
            let base = &bases[edited.len() % bases.len()];
            client.json(base, Method::PATCH, &format!("/api/v1/tasks/{id}"), Some(json!({"title": title}))).await;
            edited.insert(id, title);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_three_instances_killed_under_load_postgres() {
    let Some((db, url)) = TestDb::create(Backend::Postgres).await else { return };
    let (taiga_url, taiga, _) = fake_taiga(&[]).await;
    taiga.lock().expect("lock").create_delay = Duration::from_millis(20);
    let (telegram_url, answers, _) = slow_telegram(Duration::from_millis(20)).await;
    let (site_url, site) = fake_site(|site| {
        site.add("300", None, "Programme", format!("<p>{}</p>", macro_for("WP-9")));
        for page in 0..PAGES {
            let items: Vec<String> =
                (1..=TASKS_PER_PAGE).map(|t| task(t, "incomplete", &format!("Task {t} of page {page}"))).collect();
            site.add(&format!("{}", 301 + page), Some("300"), &format!("Page {page}"), tasks(&items));
        }
        site.work_package("WP-9", None);
        // Slow enough that the kill lands in the middle of the run.
        site.delay = Duration::from_millis(300);
    })
    .await;

    let env = [
        ("TASKBRIDGE_API_KEY", KEY),
        ("TASKBRIDGE_DATABASE_URL", url.as_str()),
        ("TASKBRIDGE_ENCRYPTION_KEY", ENCRYPTION_KEY),
        ("TASKBRIDGE_JOB_LEASE_SECS", "2"),
        ("TASKBRIDGE_JOB_POLL_MS", "50"),
        ("TASKBRIDGE_ALLOW_PRIVATE_URLS", "true"),
        ("TASKBRIDGE_SYNC_WAIT_SECS", "0"),
        ("TASKBRIDGE_LOG", "warn"),
    ];
    let dirs: Vec<std::path::PathBuf> = (0..3)
        .map(|i| {
            let dir = std::env::temp_dir().join(format!("taskbridge-instance{i}-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir).expect("dir");
            dir
        })
        .collect();
    let client = Client { http: reqwest::Client::new() };

    // The first instance alone takes the sync, so that it is the one killed with the run.
    let mut doomed: Running = start(&dirs[0], &env);
    doomed.wait_healthy().await;
    let a = doomed.base.clone();
    let requests =
        client.json(&a, Method::POST, "/api/v1/projects", Some(json!({"name": "requests"}))).await["id"].clone();
    let requests = requests.as_str().expect("project").to_string();
    client
        .json(
            &a,
            Method::POST,
            &format!("/api/v1/projects/{requests}/integrations"),
            Some(taiga_integration(&taiga_url)),
        )
        .await;
    let telegram = client
        .json(
            &a,
            Method::POST,
            &format!("/api/v1/projects/{requests}/integrations"),
            Some(json!({"type": "telegram", "settings": {"api_base_url": telegram_url},
                        "secrets": {"secret_token": SECRET, "bot_token": "123:ABC"}})),
        )
        .await["id"]
        .as_str()
        .expect("integration")
        .to_string();
    let sync = client.json(&a, Method::POST, "/api/v1/projects", Some(json!({"name": "sync"}))).await["id"].clone();
    let sync = sync.as_str().expect("project").to_string();
    for (kind, settings) in [
        ("jira", json!({"site_url": site_url, "email": "bot@acme.test", "project_key": "WP"})),
        ("confluence", json!({"site_url": site_url, "email": "bot@acme.test"})),
    ] {
        let body = json!({"type": kind, "settings": settings, "secrets": {"api_token": "atl-token-1"}});
        client.json(&a, Method::POST, &format!("/api/v1/projects/{sync}/integrations"), Some(body)).await;
    }
    let started = client
        .json(
            &a,
            Method::POST,
            &format!("/api/v1/projects/{sync}/sync/confluence-tasks"),
            Some(json!({"confluence_page_urls": [format!("{site_url}/wiki/spaces/OPS/pages/300")]})),
        )
        .await;
    let run_id = started["run_id"].as_str().expect("run id").to_string();
    // Its first call to the site says the first instance has the run.
    while site.lock().expect("lock").in_flight.most_confluence == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let mut survivors: Vec<Running> = dirs[1..].iter().map(|dir| start(dir, &env)).collect();
    for running in &mut survivors {
        running.wait_healthy().await;
    }
    let bases = Arc::new(vec![a.clone(), survivors[0].base.clone(), survivors[1].base.clone()]);
    let alive = Arc::new(AtomicBool::new(true));
    let next = Arc::new(AtomicUsize::new(0));
    let accepted_at = Arc::new(Mutex::new(Vec::<Instant>::new()));

    // Senders deliver every request, each to the next instance in turn; one that gets no
    // answer (the killed instance) delivers it again elsewhere, as Telegram would.
    let began = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..SENDERS {
        let (bases, alive, next, accepted_at, telegram) =
            (bases.clone(), alive.clone(), next.clone(), accepted_at.clone(), telegram.clone());
        let http = reqwest::Client::new();
        senders.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= REQUESTS {
                    return;
                }
                let mut attempt = n;
                loop {
                    let choices = if alive.load(Ordering::SeqCst) { &bases[..] } else { &bases[1..] };
                    let base = &choices[attempt % choices.len()];
                    attempt += 1;
                    let res = http
                        .post(format!("{base}/webhooks/telegram/{telegram}"))
                        .header("X-Telegram-Bot-Api-Secret-Token", SECRET)
                        .json(&request(n))
                        .send()
                        .await;
                    if res.is_ok_and(|r| r.status() == StatusCode::OK) {
                        accepted_at.lock().expect("lock").push(Instant::now());
                        break;
                    }
                }
                tokio::time::sleep(PACE).await;
            }
        });
    }

    // Edits of tasks already made, while the load goes on, through every instance.
    let mut edited: HashMap<String, String> = HashMap::new();
    edit_tasks(&client, &bases, &requests, &mut edited, EDITS / 2).await;

    // The kill: the first instance, holding the sync run and some of the requests.
    let cut = {
        let s = site.lock().expect("lock");
        format!("{} issues made, {} linked, {} pages written", s.creates, s.remote_links.len(), s.puts)
    };
    doomed.child.kill().expect("SIGKILL");
    let _ = doomed.child.wait();
    alive.store(false, Ordering::SeqCst);
    let killed = Instant::now();
    let accepted_before_kill = accepted_at.lock().expect("lock").len();
    let b = survivors[0].base.clone();

    edit_tasks(&client, &bases[1..], &requests, &mut edited, EDITS).await;
    while let Some(sent) = senders.join_next().await {
        sent.expect("sender");
    }

    // Every request has its outcome: nothing accepted was lost.
    let deadline = Instant::now() + Duration::from_secs(300);
    let messages = loop {
        let messages = every_page(&client, &b, &format!("/api/v1/messages?project_id={requests}")).await;
        let settled = messages.iter().all(|m| m["status"] != "queued" && m["status"] != "processing");
        if messages.len() >= REQUESTS && settled {
            break messages;
        }
        if Instant::now() > deadline {
            let mut counts: HashMap<String, usize> = HashMap::new();
            for m in &messages {
                *counts.entry(m["status"].as_str().unwrap_or_default().to_string()).or_default() += 1;
            }
            panic!("requests still without an outcome: {} of {REQUESTS} there, {counts:?}", messages.len());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let all_settled = killed.elapsed();
    assert_eq!(messages.len(), REQUESTS, "one request per Telegram update, however often delivered");
    // Each request is its own task, or (the builtin model's judgement) a duplicate of one.
    let made: Vec<&Value> =
        messages.iter().filter(|m| m["status"] == "created" || m["status"] == "possible_duplicate").collect();
    let duplicates = messages.iter().filter(|m| m["status"] == "duplicate").count();
    assert_eq!(made.len() + duplicates, REQUESTS, "every request has its outcome");
    let task_ids: HashSet<&str> = made.iter().filter_map(|m| m["task_id"].as_str()).collect();
    assert_eq!(task_ids.len(), made.len(), "one task per request that made one");
    let tasks = every_page(&client, &b, &format!("/api/v1/tasks?project_id={requests}")).await;
    assert_eq!(tasks.len(), made.len(), "no task made twice");
    let known: HashSet<&str> = tasks.iter().filter_map(|t| t["id"].as_str()).collect();
    assert!(
        messages
            .iter()
            .filter(|m| m["status"] == "duplicate")
            .all(|m| known.contains(m["task_id"].as_str().unwrap_or_default())),
        "a duplicate names a task of the project"
    );

    // Every task reaches Taiga once, with its last title.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (items, subjects) = {
            let fake = taiga.lock().expect("lock");
            let subjects: HashMap<String, usize> = fake.tasks.iter().fold(HashMap::new(), |mut m, t| {
                *m.entry(t["subject"].as_str().unwrap_or_default().to_string()).or_default() += 1;
                m
            });
            (fake.tasks.len(), subjects)
        };
        let titled = |t: &Value| {
            let title = edited.get(t["id"].as_str().unwrap_or_default()).cloned();
            title.unwrap_or_else(|| t["title"].as_str().unwrap_or_default().to_string())
        };
        let stale: Vec<String> = tasks.iter().map(titled).filter(|title| subjects.get(title) != Some(&1)).collect();
        if items >= tasks.len() && stale.is_empty() {
            assert_eq!(items, tasks.len(), "one Taiga item per task");
            break;
        }
        if Instant::now() > deadline {
            let dead = client.json(&b, Method::GET, "/api/v1/jobs?limit=200&status=dead", None).await;
            panic!(
                "Taiga has {items} items for {} tasks; not there as titled: {stale:?}; dead jobs {dead}",
                tasks.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Each request answered at most once in its chat.
    let sent = answers.lock().expect("lock").clone();
    let mut per_message: HashMap<i64, usize> = HashMap::new();
    for (_, body) in &sent {
        *per_message.entry(body["reply_parameters"]["message_id"].as_i64().unwrap_or_default()).or_default() += 1;
    }
    assert!(per_message.values().all(|&n| n == 1), "an answer was sent twice");

    // The sync, taken over by a survivor, finishes with each issue made and each page
    // written exactly once.
    let deadline = Instant::now() + Duration::from_secs(300);
    let run = loop {
        let run = client.json(&b, Method::GET, &format!("/api/v1/sync-runs/{run_id}"), None).await;
        if run["status"] != "running" {
            break run;
        }
        assert!(Instant::now() < deadline, "the sync never finished: {run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let sync_done = killed.elapsed();
    assert_eq!(run["status"], "done", "{run}");
    let total = PAGES * TASKS_PER_PAGE as usize;
    {
        let s = site.lock().expect("lock");
        assert_eq!(s.creates, total, "every task's issue was created exactly once");
        for page in 0..PAGES {
            let id = format!("{}", 301 + page);
            assert_eq!(s.puts_by_page.get(&id).copied(), Some(1), "page {id} was written exactly once");
        }
    }

    let after_kill = accepted_at.lock().expect("lock").iter().filter(|t| **t > killed).count();
    eprintln!(
        "three instances: {accepted_before_kill} requests accepted in {:.2} s before the kill (the sync cut at {cut}); \
         survivors: {after_kill} more accepted, all {REQUESTS} settled {:.2} s after the kill \
         ({:.1} requests/s end to end after it); the sync done {:.2} s after the kill; {} of {REQUESTS} answers sent",
        killed.duration_since(began).as_secs_f64(),
        all_settled.as_secs_f64(),
        (REQUESTS - accepted_before_kill.min(REQUESTS)) as f64 / all_settled.as_secs_f64(),
        sync_done.as_secs_f64(),
        per_message.len(),
    );
    for running in survivors {
        assert!(running.terminate().success());
    }
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
    drop(db);
}
