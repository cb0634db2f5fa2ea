//! `spawn_app()`: the real server on a random port over a fresh database, and a small
//! HTTP client speaking to it.

use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::Connection;
use taskbridge::app::Application;
use taskbridge::config::Config;

pub const ADMIN_KEY: &str = "test-admin-key-0123456789abcdef";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// MariaDB or MySQL through `TEST_MYSQL_URL`: store-level tests only until the server
    /// runs there (see `mariadb.rs`).
    Mysql,
}

/// Where a test's fresh database lives, removed when the test ends.
pub enum TestDb {
    Sqlite {
        dir: PathBuf,
    },
    Postgres {
        admin_url: String,
        name: String,
    },
    Mysql {
        admin_url: String,
        name: String,
    },
    /// A database another `TestDb` owns (a second instance on it).
    Borrowed,
}

impl TestDb {
    /// A fresh database, or `None` for PostgreSQL when `TEST_DATABASE_URL` is unset.
    /// A set but unreachable URL fails the test: it never skips silently.
    pub async fn create(backend: Backend) -> Option<(TestDb, String)> {
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("taskbridge-test-{}", uuid::Uuid::new_v4()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                let url = format!("sqlite://{}", dir.join("taskbridge.db").display());
                Some((TestDb::Sqlite { dir }, url))
            }
            Backend::Postgres => {
                let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
                    eprintln!("TEST_DATABASE_URL is not set: PostgreSQL variant not run");
                    return None;
                };
                let mut conn = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("TEST_DATABASE_URL is set but unreachable: {e}"));
                let name = format!("tbtest_{}", uuid::Uuid::new_v4().simple());
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
                let url = with_database(&admin_url, &name);
                Some((TestDb::Postgres { admin_url, name }, url))
            }
            Backend::Mysql => {
                let Ok(admin_url) = std::env::var("TEST_MYSQL_URL") else {
                    eprintln!("TEST_MYSQL_URL is not set: MariaDB/MySQL variant not run");
                    return None;
                };
                let mut conn = sqlx::MySqlConnection::connect(&admin_url)
                    .await
                    .unwrap_or_else(|e| panic!("TEST_MYSQL_URL is set but unreachable: {e}"));
                let name = format!("tbtest_{}", uuid::Uuid::new_v4().simple());
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
                let url = with_database(&admin_url, &name);
                Some((TestDb::Mysql { admin_url, name }, url))
            }
        }
    }
}

/// `admin_url` with its database name replaced.
pub fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self {
            TestDb::Borrowed => {}
            TestDb::Sqlite { dir } => {
                let _ = std::fs::remove_dir_all(dir);
            }
            TestDb::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime: clean up on a thread of its own.
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                        return;
                    };
                    rt.block_on(async {
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                            let _ = sqlx::query(&sql).execute(&mut conn).await;
                        }
                    });
                })
                .join();
            }
            TestDb::Mysql { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                        return;
                    };
                    rt.block_on(async {
                        if let Ok(mut conn) = sqlx::MySqlConnection::connect(&admin_url).await {
                            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}")).execute(&mut conn).await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub key: String,
    pub backend: Backend,
    pub database_url: String,
    client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    // Last: the database goes after the server has stopped.
    _db: TestDb,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    /// The `error.code` of an error answer (and a check that it has the error shape).
    pub fn code(&self) -> &str {
        let code = self.body["error"]["code"].as_str();
        assert!(
            code.is_some() && self.body["error"]["message"].is_string(),
            "not an error body: {} {}",
            self.status,
            self.body
        );
        code.unwrap_or_default()
    }

    pub fn id(&self) -> String {
        self.body["id"].as_str().unwrap_or_else(|| panic!("no id in {} {}", self.status, self.body)).to_string()
    }
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    let (db, url) = TestDb::create(backend).await?;
    Some(spawn_on(db, url, backend).await)
}

pub async fn spawn_on(db: TestDb, url: String, backend: Backend) -> TestApp {
    spawn_configured(db, Config::for_tests(&url, ADMIN_KEY), backend).await
}

pub async fn spawn_configured(db: TestDb, config: Config, backend: Backend) -> TestApp {
    let url = config.database_url.clone();
    let app = Application::build(&config).await.expect("application starts");
    let base = format!("http://{}", app.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until(async {
            let _ = stopped.await;
        })
        .await
        .expect("server runs");
    });
    TestApp {
        base,
        key: ADMIN_KEY.to_string(),
        backend,
        database_url: url,
        client: reqwest::Client::new(),
        stop: Some(stop),
        server: Some(server),
        _db: db,
    }
}

impl TestApp {
    /// Stops the server and waits until it has let go of the database.
    pub async fn stop(mut self) -> TestDb {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        std::mem::replace(&mut self._db, TestDb::Borrowed)
    }

    pub async fn request(&self, method: Method, path: &str, key: Option<&str>, body: Option<Value>) -> Resp {
        let mut req = self.client.request(method, format!("{}{}", self.base, path));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body read");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        Resp { status, headers, body }
    }

    pub fn raw(&self) -> &reqwest::Client {
        &self.client
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path, Some(&self.key), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.request(Method::POST, path, Some(&self.key), Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.request(Method::PATCH, path, Some(&self.key), Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.request(Method::PUT, path, Some(&self.key), Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Resp {
        self.request(Method::DELETE, path, Some(&self.key), None).await
    }

    /// The same client acting with another key.
    pub fn with_key(&self, key: &str) -> Caller<'_> {
        Caller { app: self, key: key.to_string() }
    }

    pub async fn project(&self, name: &str) -> String {
        let res = self.post("/api/v1/projects", serde_json::json!({"name": name})).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        res.id()
    }

    /// Connects `project` to a platform (`body` as `POST …/integrations` takes it); its id.
    pub async fn integration(&self, project: &str, body: Value) -> String {
        let res = self.post(&format!("/api/v1/projects/{project}/integrations"), body).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        res.id()
    }

    pub async fn task(&self, project_id: &str, body: Value) -> Value {
        let mut body = body;
        body["project_id"] = Value::String(project_id.to_string());
        let res = self.post("/api/v1/tasks", body).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        res.body
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub struct Caller<'a> {
    app: &'a TestApp,
    key: String,
}

impl Caller<'_> {
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.app.request(method, path, Some(&self.key), body).await
    }
}

/// Runs one async test body against SQLite and, when `TEST_DATABASE_URL` is set, PostgreSQL.
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await.expect("sqlite");
                super::$name(app).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = crate::helpers::spawn_app(crate::helpers::Backend::Postgres).await {
                    super::$name(app).await;
                }
            }
        }
    };
}
pub(crate) use both_backends;

/// Runs `async fn $name(backend: Backend)` as one test per backend, for scenarios that
/// configure the app themselves (the PostgreSQL one returns early without a test database).
macro_rules! each_backend {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::helpers::Backend::Postgres).await;
            }
        }
    };
}
pub(crate) use each_backend;

impl TestApp {
    /// Signals shutdown without waiting for it, as SIGTERM would.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for the server to finish after [`TestApp::begin_shutdown`].
    pub async fn wait_stopped(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

/// Like [`spawn_app`], with the configuration adjusted first.
pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let (db, url) = TestDb::create(backend).await?;
    let mut config = Config::for_tests(&url, ADMIN_KEY);
    tweak(&mut config);
    Some(spawn_configured(db, config, backend).await)
}

/// Serves a local fake of an external API on a free loopback port; its base URL.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// What a fake's next requests meet instead of an answer, one trouble each.
pub type TroubleQueue = std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<crate::fakes::Trouble>>>;

/// Serves `app` like [`serve`], its first requests meeting `troubles` (a late answer, a
/// server error); the queue shows which were met.
pub async fn serve_troubled(app: axum::Router, troubles: &[crate::fakes::Trouble]) -> (String, TroubleQueue) {
    async fn meet(
        axum::extract::State(queue): axum::extract::State<TroubleQueue>,
        request: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> axum::response::Response {
        use axum::response::IntoResponse;
        let trouble = queue.lock().expect("lock").pop_front();
        match trouble {
            Some(crate::fakes::Trouble::Slow(d)) => tokio::time::sleep(d).await,
            Some(crate::fakes::Trouble::Status(code)) => {
                let status =
                    axum::http::StatusCode::from_u16(code).unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
                let body = serde_json::json!({"error": status.canonical_reason().unwrap_or("error")});
                return (status, axum::Json(body)).into_response();
            }
            None => {}
        }
        next.run(request).await
    }
    let queue: TroubleQueue = std::sync::Arc::new(std::sync::Mutex::new(troubles.iter().copied().collect()));
    let app = app.layer(axum::middleware::from_fn_with_state(queue.clone(), meet));
    (serve(app).await, queue)
}

/// The dead jobs, once there is one (or after five seconds).
pub async fn dead_jobs(app: &TestApp) -> Value {
    dead_jobs_at_least(app, 1).await
}

/// The dead jobs, once there are `n` (or after ten seconds). A job is marked dead after
/// its failure is recorded elsewhere (an answer's history row), so callers wait for it.
pub async fn dead_jobs_at_least(app: &TestApp, n: usize) -> Value {
    let mut dead = Value::Null;
    for _ in 0..400 {
        dead = app.get("/api/v1/jobs?status=dead").await.body;
        if dead["items"].as_array().is_some_and(|a| a.len() >= n) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    dead
}

/// What `path` answers once its `status` is no longer `running` (or after ten seconds).
pub async fn finished(app: &TestApp, path: &str) -> Value {
    let mut body = Value::Null;
    for _ in 0..400 {
        body = app.get(path).await.body;
        if body["status"] != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    body
}

/// The poll state of a tracker integration once polling has moved `task_id` to `status`,
/// imported a task titled `imported`, and recorded at least `count` imports (the state is
/// written a moment after the tasks); `null` after ten seconds.
pub async fn polled(
    app: &TestApp,
    project: &str,
    integration: &str,
    task_id: &str,
    (status, imported, count): (&str, &str, i64),
) -> Value {
    for _ in 0..400 {
        let task = app.get(&format!("/api/v1/tasks/{task_id}")).await.body;
        let tasks = app.get(&format!("/api/v1/tasks?project_id={project}&limit=200")).await.body;
        let came_in = tasks["items"].as_array().is_some_and(|t| t.iter().any(|t| t["title"] == imported));
        let state = app.get(&format!("/api/v1/projects/{project}/integrations/{integration}/poll")).await.body;
        if task["status"] == status && came_in && state["imported"].as_i64() >= Some(count) {
            return state;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    Value::Null
}

/// How many tasks of `project` are titled `title`.
pub async fn titled(app: &TestApp, project: &str, title: &str) -> usize {
    let tasks = app.get(&format!("/api/v1/tasks?project_id={project}&limit=200")).await.body;
    tasks["items"].as_array().map_or(0, |t| t.iter().filter(|t| t["title"] == title).count())
}

/// The run of a task's `kind` once it has finished, listed by task.
pub async fn finished_run(app: &TestApp, task_id: &str, kind: &str) -> Value {
    let path = format!("/api/v1/sync-runs?task_id={task_id}&kind={kind}");
    for _ in 0..1200 {
        let listed = app.get(&path).await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
        if let Some(run) = listed.body["items"].as_array().and_then(|r| r.first()).filter(|r| r["status"] != "running")
        {
            return run.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("no finished {kind} run for task {task_id}");
}

/// Runs `sql` with text arguments `$1…` on the app's database, as a crash or an outside
/// writer would leave it; answers the rows changed.
pub async fn execute_sql(app: &TestApp, sql: &str, args: &[&str]) -> u64 {
    if app.database_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&app.database_url).await.expect("sqlite");
        let mut q = sqlx::query(sql);
        for a in args {
            q = q.bind(*a);
        }
        q.execute(&pool).await.expect("sql").rows_affected()
    } else {
        let pool = sqlx::PgPool::connect(&app.database_url).await.expect("pg");
        let mut q = sqlx::query(sql);
        for a in args {
            q = q.bind(*a);
        }
        q.execute(&pool).await.expect("sql").rows_affected()
    }
}

/// Makes a task look unchanged for `days` days (as if edited then).
pub async fn backdate(app: &TestApp, task_id: &str, days: i64) {
    set_time(app, "tasks", "updated_at", task_id, chrono::Utc::now() - chrono::Duration::days(days)).await;
}

/// Sets a timestamp column of the row `id` of `table`, as if written at `at`.
pub async fn set_time(app: &TestApp, table: &str, column: &str, id: &str, at: chrono::DateTime<chrono::Utc>) {
    let sql = format!("UPDATE {table} SET {column} = $1 WHERE id = $2");
    if app.database_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&app.database_url).await.expect("sqlite");
        sqlx::query(&sql).bind(at).bind(id).execute(&pool).await.expect("update");
    } else {
        let pool = sqlx::PgPool::connect(&app.database_url).await.expect("pg");
        sqlx::query(&sql).bind(at).bind(id).execute(&pool).await.expect("update");
    }
}

/// How often the language model failed and the builtin rules answered instead.
pub async fn fallbacks(app: &TestApp) -> u64 {
    let text = app.raw().get(format!("{}/metrics", app.base)).send().await.expect("sent").text().await.expect("text");
    text.lines()
        .find(|l| l.starts_with("taskbridge_llm_fallbacks_total "))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("fallback counter")
}

/// Runs the futures together, all in flight before any is awaited to its end (so requests
/// overlap); their outputs in order.
pub async fn join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *out = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// A Python of the tests' own in which `module` imports (after installing `requirement`):
/// a virtual environment `name` made on first use and kept under the target directory for
/// later runs, so an externally managed system Python (Debian 12, Ubuntu 23.04 and later)
/// is never installed into. Used for real peers written in Python (an SMTP server, a
/// schema fuzzer).
pub fn python_with(name: &str, requirement: &str, module: &str) -> PathBuf {
    static MADE: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, python)) = made.iter().find(|(n, _)| n == name) {
        return python.clone();
    }
    let python = make_venv(name, requirement, module);
    made.push((name.to_string(), python.clone()));
    python
}

fn imports(python: &std::path::Path, module: &str) -> bool {
    std::process::Command::new(python)
        .args(["-c", &format!("import {module}")])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn make_venv(name: &str, requirement: &str, module: &str) -> PathBuf {
    use std::process::{Command, Stdio};
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let venv = base.join(name);
    let python = venv.join("bin").join("python");
    if imports(&python, module) {
        return python;
    }
    match Command::new("python3").arg("--version").stdout(Stdio::null()).status() {
        Ok(s) if s.success() => {}
        _ => {
            panic!("these tests need Python 3: install python3 and python3-venv (apt-get install python3 python3-venv)")
        }
    }
    // Made aside and moved into place at once: test processes running side by side never
    // see half a virtual environment.
    let staging = base.join(format!("{name}-{}", uuid::Uuid::new_v4().simple()));
    let made = Command::new("python3").arg("-m").arg("venv").arg(&staging).status();
    assert!(
        made.is_ok_and(|s| s.success()),
        "`python3 -m venv` failed: install python3-venv (apt-get install python3-venv) for these tests"
    );
    let installed = Command::new(staging.join("bin").join("python"))
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement])
        .status();
    assert!(installed.is_ok_and(|s| s.success()), "installing {requirement} into {} failed", staging.display());
    if !imports(&python, module) {
        // A broken leftover is replaced; a complete one another process made just now is kept.
        let _ = std::fs::remove_dir_all(&venv);
    }
    if std::fs::rename(&staging, &venv).is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    assert!(imports(&python, module), "no {module} in {} after installing {requirement}", venv.display());
    python
}

/// `value` with the keys of every object in sorted order, whatever order it was built in.
pub fn sorted_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted_keys(&map[k]))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted_keys).collect()),
        other => other.clone(),
    }
}

/// Compares `actual` with the committed snapshot `tests/api/snapshots/{name}`; with
/// `UPDATE_SNAPSHOTS=1` set, writes `actual` there instead (and passes). A mismatch fails
/// with where the two first differ and how to accept the change.
pub fn assert_snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/api/snapshots").join(name);
    let shown = format!("tests/api/snapshots/{name}");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("snapshot folder");
        // Written aside and moved into place, so a reader never sees half a file.
        let staging = path.with_extension(format!("new-{}", uuid::Uuid::new_v4().simple()));
        std::fs::write(&staging, actual).expect("snapshot written");
        std::fs::rename(&staging, &path).expect("snapshot moved into place");
        eprintln!("{shown} updated: review the diff before committing it");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("no snapshot {shown} ({e}): run with UPDATE_SNAPSHOTS=1 to write it, then review and commit it")
    });
    if expected == actual {
        return;
    }
    let (old, new): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let report = first_differences(&old, &new, 30).join("\n");
    panic!(
        "{name} differs from the snapshot {shown}; the first differing lines (- snapshot, + now, with \
         their line numbers):\n{report}\nIf the change is intended, run `UPDATE_SNAPSHOTS=1 cargo test \
         --test api {}` and review the diff of {shown} before committing it.",
        name.split('.').next().unwrap_or(name),
    );
}

/// The first `most` lines that differ between `old` and `new`, as `-` (only in `old`) and
/// `+` (only in `new`) with their line numbers: a small diff that, past a difference, goes
/// on from the nearest point where both agree again for three lines.
fn first_differences(old: &[&str], new: &[&str], most: usize) -> Vec<String> {
    const REACH: usize = 500;
    let agree = |i: usize, j: usize| (0..3).all(|k| old.get(i + k) == new.get(j + k));
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < old.len() || j < new.len() {
        if old.get(i).is_some() && old.get(i) == new.get(j) {
            (i, j) = (i + 1, j + 1);
            continue;
        }
        let (left, right) = (old.len() - i, new.len() - j);
        let (a, b) = (1..=REACH)
            .flat_map(|k| (0..=k).map(move |a| (a, k - a)))
            .find(|&(a, b)| a <= left && b <= right && agree(i + a, j + b))
            .unwrap_or((left, right));
        out.extend(old[i..i + a].iter().enumerate().map(|(k, l)| format!("-{:>6} | {l}", i + k + 1)));
        out.extend(new[j..j + b].iter().enumerate().map(|(k, l)| format!("+{:>6} | {l}", j + k + 1)));
        (i, j) = (i + a, j + b);
        if out.len() >= most {
            out.truncate(most);
            out.push("   ... (more differences follow)".into());
            break;
        }
    }
    out
}
