//! The real binary killed (SIGKILL) at several moments of a Confluence task sync: while it
//! creates issues, and while it rewrites pages. After the restarts the run finishes with
//! every task's issue created exactly once and every page written exactly once.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::binary::{Running, start};
use crate::fakes::atlassian::{Shared, Site, fake_site, macro_for, task, tasks};

const PAGES: usize = 12;
const TASKS_PER_PAGE: u32 = 5;

fn seed(site: &mut Site) {
    site.add("300", None, "Programme", format!("<p>{}</p>", macro_for("WP-9")));
    for page in 0..PAGES {
        let items: Vec<String> = (1..=TASKS_PER_PAGE)
            .map(|t| task(t, "incomplete", &format!("Task {t} of page {page} &amp; more")))
            .collect();
        site.add(&format!("{}", 301 + page), Some("300"), &format!("Page {page}"), tasks(&items));
    }
    site.work_package("WP-9", None);
    // Slow enough that the run takes seconds and can be cut at chosen points.
    site.delay = Duration::from_millis(15);
}

async fn send(
    client: &reqwest::Client,
    running: &Running,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut request = client.request(method, format!("{}{path}", running.base)).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.expect("sent").json().await.expect("json")
}

/// Waits until `reached` holds for the site, then kills the service and starts it again.
async fn kill_when(
    site: &Shared,
    running: &mut Running,
    dir: &std::path::Path,
    env: &[(&str, &str)],
    reached: impl Fn(&Site) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !reached(&site.lock().expect("lock")) {
        assert!(Instant::now() < deadline, "the run never reached the kill point");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    running.child.kill().expect("SIGKILL");
    let _ = running.child.wait();
    *running = start(dir, env);
    running.wait_healthy().await;
}

async fn sync_survives_kills(database_url: &str) {
    let (site_url, site) = fake_site(seed).await;
    let dir = std::env::temp_dir().join(format!("taskbridge-synccrash-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key = "sync-crash-admin-key-0123456789";
    let env = [
        ("TASKBRIDGE_API_KEY", key),
        ("TASKBRIDGE_DATABASE_URL", database_url),
        ("TASKBRIDGE_JOB_LEASE_SECS", "1"),
        ("TASKBRIDGE_JOB_POLL_MS", "50"),
        ("TASKBRIDGE_ALLOW_PRIVATE_URLS", "true"),
        // Answer at once with the run id: the run goes on in the background.
        ("TASKBRIDGE_SYNC_WAIT_SECS", "0"),
        ("TASKBRIDGE_LOG", "warn"),
    ];
    let client = reqwest::Client::new();
    let mut running = start(&dir, &env);
    running.wait_healthy().await;
    let project = send(
        &client,
        &running,
        key,
        reqwest::Method::POST,
        "/api/v1/projects",
        Some(json!({"name": "sync"})),
    )
    .await["id"]
        .as_str()
        .expect("project")
        .to_string();
    for (kind, settings) in [
        ("jira", json!({"site_url": site_url, "email": "bot@acme.test", "project_key": "WP"})),
        ("confluence", json!({"site_url": site_url, "email": "bot@acme.test"})),
    ] {
        let body = json!({"type": kind, "settings": settings, "secrets": {"api_token": "atl-token-1"}});
        let created = send(
            &client,
            &running,
            key,
            reqwest::Method::POST,
            &format!("/api/v1/projects/{project}/integrations"),
            Some(body),
        )
        .await;
        assert!(created["id"].is_string(), "{created}");
    }
    let started = send(
        &client,
        &running,
        key,
        reqwest::Method::POST,
        &format!("/api/v1/projects/{project}/sync/confluence-tasks"),
        Some(json!({"confluence_page_urls": [format!("{site_url}/wiki/spaces/OPS/pages/300")]})),
    )
    .await;
    assert_eq!(started["status"], "running", "{started}");
    let run_id = started["run_id"].as_str().expect("run id").to_string();

    // Cut it once issues are made (in bulk) but not yet linked, again while they are linked,
    // and while pages are rewritten.
    kill_when(&site, &mut running, &dir, &env, |s| s.creates >= 3).await;
    kill_when(&site, &mut running, &dir, &env, |s| s.remote_links.len() >= 30).await;
    kill_when(&site, &mut running, &dir, &env, |s| s.puts >= 3).await;

    let deadline = Instant::now() + Duration::from_secs(120);
    let run = loop {
        let run =
            send(&client, &running, key, reqwest::Method::GET, &format!("/api/v1/sync-runs/{run_id}"), None).await;
        if run["status"] != "running" {
            break run;
        }
        assert!(Instant::now() < deadline, "the run never finished: {run}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(run["status"], "done", "{run}");
    let results = run["results"].as_array().expect("results");
    let total = PAGES * TASKS_PER_PAGE as usize;
    assert_eq!(results.len(), total);
    assert!(results.iter().all(|r| r["status_text"] == "Success"), "{results:?}");
    let keys: HashSet<&str> = results.iter().filter_map(|r| r["new_jira_task_key"].as_str()).collect();
    assert_eq!(keys.len(), total, "a distinct issue per task");

    let s = site.lock().expect("lock");
    assert_eq!(s.creates, total, "every task's issue was created exactly once");
    for page in 0..PAGES {
        let id = format!("{}", 301 + page);
        assert_eq!(s.puts_by_page.get(&id).copied(), Some(1), "page {id} was written exactly once");
        let body = &s.pages[&id].versions.last().expect("version").body;
        assert!(!body.contains("<ac:task>"), "page {id} has no open task left");
    }
    drop(s);
    let changes = run["changes"].as_array().expect("journal");
    assert_eq!(changes.iter().filter(|c| c["action"] == "create").count(), total);
    assert_eq!(changes.iter().filter(|c| c["action"] == "rewrite").count(), PAGES);
    assert!(running.terminate().success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_survives_kills_sqlite() {
    let dir = std::env::temp_dir().join(format!("taskbridge-synccrashdb-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    sync_survives_kills(&format!("sqlite://{}", dir.join("sync.db").display())).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_survives_kills_postgres() {
    if let Some((db, url)) = crate::helpers::TestDb::create(crate::helpers::Backend::Postgres).await {
        sync_survives_kills(&url).await;
        drop(db);
    }
}
