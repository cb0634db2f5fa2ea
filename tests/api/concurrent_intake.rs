//! The same request arriving many times at once becomes one task and duplicates of it,
//! however many workers and instances race: deciding and creating take turns per project.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_KEY, Backend, TestApp, TestDb, each_backend, spawn_app_with, spawn_configured};

const REQUESTS: usize = 8;
const TEXT: &str = "Please set up nightly backups of the billing database";

fn many_workers(config: &mut taskbridge::config::Config) {
    config.workers = REQUESTS;
    config.job_poll_ms = 10;
    config.allow_private_urls = true;
}

/// Posts the request to `/teams/` of each app in turn, all at once; the outcomes.
async fn post_all_at_once(apps: &[&TestApp], project: &str) -> Vec<Value> {
    let sends = (0..REQUESTS).map(|i| {
        let app = apps[i % apps.len()];
        async move {
            let res =
                app.post("/teams/", json!({"text": TEXT, "project_id": project, "author": format!("p{i}")})).await;
            assert!(res.status == StatusCode::OK || res.status == StatusCode::ACCEPTED, "{}", res.body);
            res.body["id"].as_str().expect("message id").to_string()
        }
    });
    let ids = crate::helpers::join_all(sends).await;
    let mut outcomes = Vec::new();
    for id in ids {
        outcomes.push(outcome(apps[0], &id).await);
    }
    outcomes
}

/// The message once it has its outcome.
async fn outcome(app: &TestApp, id: &str) -> Value {
    for _ in 0..800 {
        let m = app.get(&format!("/api/v1/messages/{id}")).await.body;
        if m["status"] != "queued" && m["status"] != "processing" {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("message {id} has no outcome");
}

/// Exactly one created, the rest duplicates of it; one task in taskbridge and one in Taiga.
async fn assert_one_task(app: &TestApp, project: &str, outcomes: &[Value], taiga: &crate::fakes::taiga::Shared) {
    let created: Vec<&Value> = outcomes.iter().filter(|m| m["status"] == "created").collect();
    assert_eq!(created.len(), 1, "exactly one request became a task: {outcomes:#?}");
    let task_id = &created[0]["task_id"];
    let duplicates = outcomes.iter().filter(|m| m["status"] == "duplicate" && m["task_id"] == *task_id).count();
    assert_eq!(duplicates, REQUESTS - 1, "the others are duplicates of it: {outcomes:#?}");
    let tasks = app.get(&format!("/api/v1/tasks?project_id={project}")).await.body;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(1), "{tasks}");
    let comments = app.get(&format!("/api/v1/comments?task_id={}", task_id.as_str().expect("id"))).await.body;
    assert_eq!(comments["items"].as_array().map(Vec::len), Some(REQUESTS - 1), "one 'also requested' each");
    // The one task reaches Taiga once.
    for _ in 0..400 {
        if app
            .get(&format!("/api/v1/tasks/{}/links", task_id.as_str().expect("id")))
            .await
            .body
            .as_array()
            .is_some_and(|l| !l.is_empty())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(taiga.lock().expect("lock").tasks.len(), 1, "one Taiga task");
}

async fn identical_requests_at_once_make_one_task(backend: Backend) {
    let (fake, taiga, _) = crate::fakes::taiga::fake_taiga(&[]).await;
    let Some(app) = spawn_app_with(backend, many_workers).await else { return };
    let project = app.project("ops").await;
    app.integration(&project, crate::fakes::taiga::taiga_integration(&fake)).await;
    let outcomes = post_all_at_once(&[&app], &project).await;
    assert_one_task(&app, &project, &outcomes, &taiga).await;
}
each_backend!(identical_requests_at_once_make_one_task);

/// Two instances on one PostgreSQL database, each with its own workers and duplicate
/// index, receive the same request at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identical_requests_at_two_instances_make_one_task_postgres() {
    let Some((db, url)) = TestDb::create(Backend::Postgres).await else { return };
    let (fake, taiga, _) = crate::fakes::taiga::fake_taiga(&[]).await;
    let config = |url: &str| {
        let mut config = taskbridge::config::Config::for_tests(url, ADMIN_KEY);
        many_workers(&mut config);
        config
    };
    let first = spawn_configured(db, config(&url), Backend::Postgres).await;
    let second = spawn_configured(TestDb::Borrowed, config(&url), Backend::Postgres).await;
    let project = first.project("ops").await;
    first.integration(&project, crate::fakes::taiga::taiga_integration(&fake)).await;
    // Both instances have looked at the project before the burst: each holds an index of it.
    for app in [&first, &second] {
        let warm = app
            .post(
                "/teams/",
                json!({"text": "Renew the TLS certificate of the status page",
                                                 "project_id": project}),
            )
            .await;
        assert_eq!(warm.status, StatusCode::OK, "{}", warm.body);
    }
    let outcomes = post_all_at_once(&[&first, &second], &project).await;
    let created: Vec<&Value> = outcomes.iter().filter(|m| m["status"] == "created").collect();
    assert_eq!(created.len(), 1, "exactly one request became a task: {outcomes:#?}");
    let task_id = created[0]["task_id"].clone();
    let duplicates = outcomes.iter().filter(|m| m["status"] == "duplicate" && m["task_id"] == task_id).count();
    assert_eq!(duplicates, REQUESTS - 1, "{outcomes:#?}");
    let tasks = first.get(&format!("/api/v1/tasks?project_id={project}")).await.body;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(2), "the warm-up task and the one task: {tasks}");
    drop(taiga);
    drop(second);
}
