//! Data and keys survive a restart; migrations and bootstrap run once.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_on};

async fn data_survives_a_restart(app: TestApp) {
    let backend = app.backend;
    let url = app.database_url.clone();
    let project = app.project("kept").await;
    let task = app.task(&project, json!({"title": "still here", "labels": ["l"]})).await;
    let db = app.stop().await;

    let again = spawn_on(db, url, backend).await;
    let res = again.get(&format!("/api/v1/tasks/{}", task["id"].as_str().expect("id"))).await;
    assert_eq!(res.status, StatusCode::OK, "the same key still works and the task is there");
    assert_eq!(res.body, task);
    // The default tenant was not created twice: still exactly one key.
    assert_eq!(again.get("/api/v1/api-keys").await.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(again.request(Method::GET, "/ready", None, None).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_a_restart_sqlite() {
    data_survives_a_restart(crate::helpers::spawn_app(Backend::Sqlite).await.expect("sqlite")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_a_restart_postgres() {
    if let Some(app) = crate::helpers::spawn_app(Backend::Postgres).await {
        data_survives_a_restart(app).await;
    }
}

/// Several instances starting at once on one PostgreSQL database migrate it once and
/// create the default tenant once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_bootstrap_once_postgres() {
    let Some((db, url)) = crate::helpers::TestDb::create(Backend::Postgres).await else {
        return;
    };
    let config = taskbridge::config::Config::for_tests(&url, crate::helpers::ADMIN_KEY);
    let build = || taskbridge::app::Application::build(&config);
    let (a, b, c, d) = tokio::join!(build(), build(), build(), build());
    let apps = [a, b, c, d];
    assert!(apps.iter().all(Result::is_ok), "every instance starts");
    let generated = apps
        .iter()
        .filter(|a| !matches!(a.as_ref().map(|a| a.bootstrap()), Ok(taskbridge::store::Bootstrap::Existing)))
        .count();
    assert_eq!(generated, 1, "exactly one instance seeded the default tenant");
    drop(apps);
    drop(db);
}

/// The SQLite database holds every tenant's data: it and its WAL and shared-memory files
/// are readable by their owner only, and a file an earlier version left open to others is
/// tightened at the next start.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_files_are_private_sqlite() {
    use std::os::unix::fs::PermissionsExt;
    let app = crate::helpers::spawn_app(Backend::Sqlite).await.expect("sqlite");
    let path = app.database_url.trim_start_matches("sqlite://").to_string();
    app.project("private").await;
    let mode =
        |p: &str| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777).unwrap_or_else(|e| panic!("{p}: {e}"));
    for file in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
        assert_eq!(mode(&file), 0o600, "{file}");
    }
    let url = app.database_url.clone();
    let db = app.stop().await;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let again = spawn_on(db, url, Backend::Sqlite).await;
    assert_eq!(mode(&path), 0o600, "tightened at start");
    assert_eq!(again.get("/api/v1/projects").await.body["items"].as_array().map(Vec::len), Some(1));
}
