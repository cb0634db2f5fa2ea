//! Three instances of the real binary on one PostgreSQL database take a mixed load —
//! requests from chats (each a task pushed to Taiga), tasks made and closed through the API
//! (pushed, then moved in Taiga), and a Confluence task sync — and one of them is killed
//! with SIGKILL in the middle. The survivors take its work over: no accepted request is lost
//! or processed twice, no task, Taiga item, Jira issue or page is written twice, and the
//! sync run ends. Prints how long the takeover took and what the survivors got through.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::binary::{REQUESTS, Running, start};
use crate::fakes::atlassian::{Site, fake_site, macro_for, task, tasks};
use crate::fakes::taiga::{fake_taiga, taiga_integration};

const KEY: &str = "instances-admin-key-0123456789";
const PAGES: usize = 8;
const TASKS_PER_PAGE: u32 = 5;
const MESSAGES: usize = 60;
const API_TASKS: usize = 10;

fn seed(site: &mut Site) {
    site.add("700", None, "Programme", format!("<p>{}</p>", macro_for("WP-7")));
    for page in 0..PAGES {
        let items: Vec<String> =
            (1..=TASKS_PER_PAGE).map(|t| task(t, "incomplete", &format!("Step {t} of rollout {page}"))).collect();
        site.add(&format!("{}", 701 + page), Some("700"), &format!("Rollout {page}"), tasks(&items));
    }
    site.work_package("WP-7", None);
    // Slow enough that the run is cut in the middle.
    site.delay = Duration::from_millis(40);
}

async fn call(client: &reqwest::Client, at: &Running, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = client.request(method, format!("{}{path}", at.base)).bearer_auth(KEY);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let res = request.send().await.expect("sent");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Polls `check` on a survivor until it holds, for at most `limit`.
async fn until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "{what} did not happen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn three_instances_one_killed(database_url: &str) {
    let (site_url, site) = fake_site(seed).await;
    let (taiga, taiga_state, _) = fake_taiga(&[]).await;
    taiga_state.lock().expect("lock").create_delay = Duration::from_millis(30);
    let env = [
        ("TASKBRIDGE_API_KEY", KEY),
        ("TASKBRIDGE_DATABASE_URL", database_url),
        ("TASKBRIDGE_JOB_LEASE_SECS", "2"),
        ("TASKBRIDGE_JOB_POLL_MS", "50"),
        ("TASKBRIDGE_ALLOW_PRIVATE_URLS", "true"),
        ("TASKBRIDGE_SYNC_WAIT_SECS", "0"),
        ("TASKBRIDGE_LOG", "warn"),
    ];
    let dirs: Vec<_> = (0..3)
        .map(|n| {
            let dir = std::env::temp_dir().join(format!("taskbridge-instance{n}-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir).expect("dir");
            dir
        })
        .collect();
    let mut instances: Vec<Running> = dirs.iter().map(|dir| start(dir, &env)).collect();
    for instance in &mut instances {
        instance.wait_healthy().await;
    }
    let client = reqwest::Client::new();
    let first = &instances[0];
    // The sync's project has the Atlassian site; the requests' project pushes to Taiga.
    let mut projects = Vec::new();
    for name in ["fleet", "programme"] {
        let (_, project) = call(&client, first, Method::POST, "/api/v1/projects", Some(json!({"name": name}))).await;
        projects.push(project["id"].as_str().expect("project").to_string());
    }
    let (project, programme) = (projects[0].clone(), projects[1].clone());
    let integrations = [
        (
            &programme,
            json!({"type": "jira", "settings": {"site_url": site_url, "email": "bot@acme.test", "project_key": "WP"},
               "secrets": {"api_token": "atl-token-1"}}),
        ),
        (
            &programme,
            json!({"type": "confluence", "settings": {"site_url": site_url, "email": "bot@acme.test"},
               "secrets": {"api_token": "atl-token-1"}}),
        ),
        (&project, taiga_integration(&taiga)),
    ];
    for (at, body) in integrations {
        let path = format!("/api/v1/projects/{at}/integrations");
        let (status, created) = call(&client, first, Method::POST, &path, Some(body)).await;
        assert_eq!(status, 201, "{created}");
    }

    // The sync starts on the instance that will die; requests and task edits go to all three.
    let (_, run) = call(
        &client,
        first,
        Method::POST,
        &format!("/api/v1/projects/{programme}/sync/confluence-tasks"),
        Some(json!({"confluence_page_urls": [format!("{site_url}/wiki/spaces/OPS/pages/700")]})),
    )
    .await;
    assert_eq!(run["status"], "running", "{run}");
    let run_id = run["run_id"].as_str().expect("run id").to_string();
    let load_started = Instant::now();
    let mut accepted = Vec::new();
    let mut api_tasks = Vec::new();
    let mut killed_at = None;
    for n in 0..MESSAGES {
        let at = &instances[n % 3];
        if killed_at.is_some() && n % 3 == 0 {
            continue;
        }
        let text =
            format!("{} (request {n} from the {} team)", REQUESTS[n % REQUESTS.len()], ["ops", "web", "data"][n % 3]);
        let body = json!({"project_id": project, "text": text, "author": format!("user{n}")});
        let (status, message) = call(&client, at, Method::POST, "/api/v1/messages", Some(body)).await;
        assert_eq!(status, 202, "{message}");
        accepted.push(message["id"].as_str().expect("id").to_string());
        if n < API_TASKS {
            let body = json!({"project_id": project, "title": format!("Inventory rack {n} in the second data hall")});
            let (status, made) = call(&client, &instances[1 + n % 2], Method::POST, "/api/v1/tasks", Some(body)).await;
            assert_eq!(status, 201, "{made}");
            api_tasks.push(made["id"].as_str().expect("task").to_string());
        }
        // Killed once the sync is well under way and requests are in flight.
        if killed_at.is_none() && site.lock().expect("lock").creates >= 8 {
            instances[0].child.kill().expect("SIGKILL");
            let _ = instances[0].child.wait();
            killed_at = Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if killed_at.is_none() {
        until("the sync reaching the kill point", Duration::from_secs(60), || async {
            site.lock().expect("lock").creates >= 8
        })
        .await;
        instances[0].child.kill().expect("SIGKILL");
        let _ = instances[0].child.wait();
        killed_at = Some(Instant::now());
    }
    let killed_at = killed_at.expect("killed");
    let creates_at_kill = site.lock().expect("lock").creates;
    let survivor = &instances[1];

    // Close the API tasks through the survivors once they are in Taiga: moves there too.
    let total = PAGES * TASKS_PER_PAGE as usize;
    let mut takeover = None;
    let mut linked: HashSet<String> = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while linked.len() < api_tasks.len() {
        assert!(Instant::now() < deadline, "the API tasks were not all pushed to Taiga");
        if takeover.is_none() && site.lock().expect("lock").creates > creates_at_kill {
            takeover = Some(killed_at.elapsed());
        }
        for id in &api_tasks {
            if !linked.contains(id) {
                let (_, l) = call(&client, survivor, Method::GET, &format!("/api/v1/tasks/{id}/links"), None).await;
                if l.as_array().is_some_and(|l| !l.is_empty()) {
                    linked.insert(id.clone());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (n, id) in api_tasks.iter().enumerate() {
        let at = &instances[1 + n % 2];
        let (status, task) =
            call(&client, at, Method::PATCH, &format!("/api/v1/tasks/{id}"), Some(json!({"status": "done"}))).await;
        assert_eq!(status, 200, "{task}");
    }

    // Everything finishes on the survivors.
    until("the sync run ending", Duration::from_secs(120), || async {
        let (_, run) = call(&client, survivor, Method::GET, &format!("/api/v1/sync-runs/{run_id}"), None).await;
        run["status"] != "running"
    })
    .await;
    let mut outcomes: HashMap<String, Value> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while outcomes.len() < accepted.len() {
        assert!(Instant::now() < deadline, "not every accepted request reached its outcome");
        for id in &accepted {
            if !outcomes.contains_key(id) {
                let (_, m) = call(&client, survivor, Method::GET, &format!("/api/v1/messages/{id}"), None).await;
                let status = m["status"].as_str().unwrap_or("");
                if ["created", "duplicate", "possible_duplicate", "failed"].contains(&status) {
                    outcomes.insert(id.clone(), m);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let processed_in = load_started.elapsed();
    until("the queue draining", Duration::from_secs(120), || async {
        let mut open = 0;
        for status in ["queued", "running", "failed"] {
            let (_, page) =
                call(&client, survivor, Method::GET, &format!("/api/v1/jobs?status={status}&limit=100"), None).await;
            open += page["items"].as_array().map_or(0, Vec::len);
        }
        open == 0
    })
    .await;

    // No request lost, none processed twice.
    assert!(outcomes.values().all(|m| m["status"] != "failed"), "{outcomes:?}");
    let made: HashSet<&str> = outcomes.values().filter_map(|m| m["task_id"].as_str()).collect();
    let created = outcomes.values().filter(|m| m["status"] != "duplicate").count();
    let (_, listed) =
        call(&client, survivor, Method::GET, &format!("/api/v1/tasks?project_id={project}&limit=200"), None).await;
    let listed = listed["items"].as_array().expect("tasks").clone();
    assert_eq!(listed.len(), created + API_TASKS, "one task per created request and per API call, no more");
    assert!(made.iter().all(|id| listed.iter().any(|t| t["id"] == *id)));
    let (_, dead) = call(&client, survivor, Method::GET, "/api/v1/jobs?status=dead&limit=100", None).await;
    assert_eq!(dead["items"], json!([]), "no job gave up");

    // No tracker write twice: one Taiga item per task, one issue per Confluence task, one
    // write per page.
    {
        let taiga = taiga_state.lock().expect("lock");
        assert_eq!(taiga.tasks.len(), listed.len(), "one Taiga item per task");
        // Each item carries its task's marker tag: one item per marker.
        let markers: HashSet<String> = taiga
            .tasks
            .iter()
            .flat_map(|t| t["tags"].as_array().cloned().unwrap_or_default())
            .filter_map(|tag| tag[0].as_str().filter(|t| t.starts_with("tb-")).map(str::to_string))
            .collect();
        assert_eq!(markers.len(), taiga.tasks.len(), "no item written twice");
        assert!(taiga.most_creating <= 8, "the default in-flight limit holds across workers");
    }
    let (_, run) = call(&client, survivor, Method::GET, &format!("/api/v1/sync-runs/{run_id}"), None).await;
    assert_eq!(run["status"], "done", "{run}");
    let s = site.lock().expect("lock");
    assert_eq!(s.creates, total, "every Confluence task's issue created exactly once");
    for page in 0..PAGES {
        let id = format!("{}", 701 + page);
        assert_eq!(s.puts_by_page.get(&id).copied(), Some(1), "page {id} written exactly once");
    }
    drop(s);

    // Measured while the API tasks were pushed; if the sync was already past them, as
    // late as that loop ended.
    let takeover = takeover.unwrap_or_else(|| killed_at.elapsed());
    println!(
        "three instances, one killed: {} requests and {API_TASKS} API tasks and a {total}-task sync in {:.1} s; \
         the dead instance's sync taken over after {:.2} s (lease 2 s)",
        accepted.len(),
        processed_in.as_secs_f64(),
        takeover.as_secs_f64()
    );
    for instance in instances.drain(1..) {
        assert!(instance.terminate().success());
    }
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_one_killed_postgres() {
    if let Some((db, url)) = crate::helpers::TestDb::create(crate::helpers::Backend::Postgres).await {
        three_instances_one_killed(&url).await;
        drop(db);
    }
}
