//! The real binary: first start prints a generated key once, logs are JSON lines with
//! request ids and without secrets, SIGTERM stops it cleanly.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) struct Running {
    pub(crate) child: Child,
    lines: mpsc::Receiver<String>,
    pub(crate) base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

pub(crate) fn start(dir: &Path, extra_env: &[(&str, &str)]) -> Running {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_taskbridge"));
    cmd.current_dir(dir)
        .env_remove("TASKBRIDGE_API_KEY")
        .env("TASKBRIDGE_ADDR", format!("127.0.0.1:{port}"))
        .env("TASKBRIDGE_DATABASE_URL", format!("sqlite://{}", dir.join("tb.db").display()))
        .env("TASKBRIDGE_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Running { child, lines, base: format!("http://127.0.0.1:{port}") }
}

impl Running {
    pub(crate) async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(res) = reqwest::get(format!("{}/health", self.base)).await
                && res.status().is_success()
            {
                return;
            }
            assert!(self.child.try_wait().expect("status").is_none(), "the service exited early");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the service did not become healthy");
    }

    fn stdout_so_far(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    pub(crate) fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(killed.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("status") {
                return status;
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[tokio::test]
async fn first_start_prints_a_key_once_and_logs_keep_secrets_out() {
    let dir = std::env::temp_dir().join(format!("taskbridge-bin-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let log_file = dir.join("taskbridge.log");
    let log_path = log_file.display().to_string();
    let env = [("TASKBRIDGE_LOG_FORMAT", "json"), ("TASKBRIDGE_LOG_FILE", log_path.as_str())];

    let mut first = start(&dir, &env);
    first.wait_healthy().await;
    let printed = first.stdout_so_far().join("\n");
    let key = printed
        .split_whitespace()
        .find(|w| w.starts_with("tb_"))
        .unwrap_or_else(|| panic!("no generated key printed: {printed}"))
        .to_string();

    let client = reqwest::Client::new();
    let res = client
        .post(format!("{}/api/v1/projects", first.base))
        .bearer_auth(&key)
        .json(&serde_json::json!({"name": "from the binary"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 201);
    let request_id = res.headers()["x-request-id"].to_str().expect("id").to_string();
    let res =
        client.get(format!("{}/api/v1/projects", first.base)).header("X-API-Key", &key).send().await.expect("sent");
    assert_eq!(res.status(), 200);
    let wrong = "tb_this-wrong-key-must-not-be-logged";
    let res = client.get(format!("{}/api/v1/projects", first.base)).bearer_auth(wrong).send().await.expect("sent");
    assert_eq!(res.status(), 401);

    let status = first.terminate();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");

    let logs = std::fs::read_to_string(&log_file).expect("log file written");
    assert!(!logs.is_empty());
    for line in logs.lines() {
        let entry: Value = serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON line: {line}"));
        assert!(entry["timestamp"].is_string() && entry["level"].is_string(), "{line}");
    }
    let request_lines: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["span"]["request_id"] == request_id.as_str())
        .collect();
    assert!(!request_lines.is_empty(), "the request's log lines carry its id");
    assert!(!logs.contains(&key), "the API key leaked into the log file");
    assert!(!logs.contains(wrong), "a presented key leaked into the log file");

    // A second start reuses the tenant and prints no key.
    let mut second = start(&dir, &env);
    second.wait_healthy().await;
    let res = client.get(format!("{}/api/v1/projects", second.base)).bearer_auth(&key).send().await.expect("sent");
    assert_eq!(res.status(), 200);
    assert!(!second.stdout_so_far().join("\n").contains("tb_"), "the key is shown only once");
    assert!(second.terminate().success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreachable_database_fails_start_up_with_a_clear_message() {
    let dir = std::env::temp_dir();
    let out = Command::new(env!("CARGO_BIN_EXE_taskbridge"))
        .current_dir(&dir)
        .env("TASKBRIDGE_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env("TASKBRIDGE_ADDR", "127.0.0.1:0")
        .env("TASKBRIDGE_API_KEY", "a-long-enough-test-key-123")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("database"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("a-long-enough-test-key-123"), "{stderr}");

    let out = Command::new(env!("CARGO_BIN_EXE_taskbridge"))
        .current_dir(&dir)
        .env("TASKBRIDGE_DATABASE_URL", "mongodb://x")
        .env("TASKBRIDGE_ADDR", "127.0.0.1:0")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database url"));

    // MariaDB/MySQL is refused, saying why, until its backend is whole (docs/mariadb.md).
    let out = Command::new(env!("CARGO_BIN_EXE_taskbridge"))
        .current_dir(&dir)
        .env("TASKBRIDGE_DATABASE_URL", "mysql://x")
        .env("TASKBRIDGE_ADDR", "127.0.0.1:0")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("MariaDB") && stderr.contains("docs/mariadb.md"), "{stderr}");
}

pub(crate) const REQUESTS: [&str; 30] = [
    "Renew the TLS certificate of the status page",
    "Add OAuth2 login to the customer portal",
    "Translate the pricing page into German",
    "Investigate slow invoice exports",
    "Book a venue for the March offsite",
    "Upgrade PostgreSQL on the analytics cluster",
    "Write onboarding docs for new support agents",
    "Fix the broken avatar upload on iOS",
    "Archive last year's marketing assets",
    "Set up alerting for queue depth",
    "Replace the office printer toner",
    "Review the vendor security questionnaire",
    "Design a dark theme for the dashboard",
    "Migrate cron jobs to the scheduler",
    "Prepare the quarterly board deck",
    "Rotate the Stripe API credentials",
    "Clean up stale feature flags",
    "Order laptops for the two new hires",
    "Document the incident from Tuesday night",
    "Add CSV import for contacts",
    "Tune autoscaling for the web tier",
    "Organise the team lunch on Friday",
    "Audit admin permissions in Jira",
    "Localise push notifications for Spain",
    "Refactor the billing webhook handler",
    "Publish the API changelog",
    "Negotiate the CDN contract renewal",
    "Reduce Docker image size for workers",
    "Schedule penetration testing with the auditors",
    "Create a FAQ page about refunds",
];

async fn json_of(res: reqwest::Response) -> Value {
    res.json().await.expect("json")
}

/// Kills the service with SIGKILL at varying moments after messages were accepted, starts
/// it again, and checks that every accepted message ends with exactly one outcome and at
/// most one task.
async fn crash_and_restart(database_url: &str) {
    let dir = std::env::temp_dir().join(format!("taskbridge-crash-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key = "crash-test-admin-key-0123456789";
    let env = [
        ("TASKBRIDGE_API_KEY", key),
        ("TASKBRIDGE_DATABASE_URL", database_url),
        ("TASKBRIDGE_JOB_LEASE_SECS", "1"),
        ("TASKBRIDGE_JOB_POLL_MS", "50"),
        ("TASKBRIDGE_LOG", "warn"),
    ];
    let client = reqwest::Client::new();
    let mut running = start(&dir, &env);
    running.wait_healthy().await;
    let project = json_of(
        client
            .post(format!("{}/api/v1/projects", running.base))
            .bearer_auth(key)
            .json(&serde_json::json!({"name": "crash"}))
            .send()
            .await
            .expect("sent"),
    )
    .await["id"]
        .as_str()
        .expect("project")
        .to_string();

    let mut accepted = Vec::new();
    for (round, texts) in REQUESTS.chunks(5).enumerate() {
        for text in texts {
            let res = client
                .post(format!("{}/api/v1/messages", running.base))
                .bearer_auth(key)
                .json(&serde_json::json!({"project_id": project, "text": text}))
                .send()
                .await
                .expect("sent");
            assert_eq!(res.status(), 202);
            accepted.push(json_of(res).await["id"].as_str().expect("id").to_string());
        }
        // Die at a different moment each round: at once, or while jobs are running.
        std::thread::sleep(Duration::from_millis((round as u64 * 7) % 30));
        running.child.kill().expect("SIGKILL");
        let _ = running.child.wait();
        running = start(&dir, &env);
        running.wait_healthy().await;
    }

    // After the last restart every message reaches its outcome (leases of killed workers expire).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut task_ids = HashSet::new();
    for id in &accepted {
        loop {
            let m = json_of(
                client
                    .get(format!("{}/api/v1/messages/{id}", running.base))
                    .bearer_auth(key)
                    .send()
                    .await
                    .expect("sent"),
            )
            .await;
            match m["status"].as_str() {
                Some("created") => {
                    assert!(task_ids.insert(m["task_id"].as_str().expect("task").to_string()), "one task per message");
                    break;
                }
                Some(other) if other != "queued" && other != "processing" => panic!("unexpected outcome {m}"),
                _ => {
                    assert!(Instant::now() < deadline, "message {id} never finished: {m}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    let tasks = json_of(
        client
            .get(format!("{}/api/tasks?project_id={project}", running.base))
            .bearer_auth(key)
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_eq!(tasks.as_array().map(Vec::len), Some(accepted.len()), "exactly one task per accepted message");
    let listed: HashSet<String> =
        tasks.as_array().into_iter().flatten().filter_map(|t| t["id"].as_str().map(str::to_string)).collect();
    assert_eq!(listed, task_ids);
    assert!(running.terminate().success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_messages_survive_crashes_sqlite() {
    let dir = std::env::temp_dir().join(format!("taskbridge-crashdb-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    crash_and_restart(&format!("sqlite://{}", dir.join("crash.db").display())).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_messages_survive_crashes_postgres() {
    if let Some((db, url)) = crate::helpers::TestDb::create(crate::helpers::Backend::Postgres).await {
        crash_and_restart(&url).await;
        drop(db);
    }
}

/// A language model that takes `latency` per answer, drafting "Request N" from a message
/// "… request number N …"; the number of calls it has had.
async fn slow_model(latency: Duration) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use axum::response::IntoResponse;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let (base, _) = crate::fakes::llm::fake_llm(move |_, body| {
        counted.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(latency).await;
            let text = body.to_string();
            let n: String = text
                .split("request number ")
                .nth(1)
                .map(|rest| rest.chars().take_while(char::is_ascii_digit).collect())
                .unwrap_or_default();
            let draft = serde_json::json!({"title": format!("Request {n}"), "description": "", "priority": "medium",
                                           "due_date": null, "labels": [], "assigned_to": null});
            axum::Json(serde_json::json!({"id": "chatcmpl-1", "object": "chat.completion", "model": "m",
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": draft.to_string()}}]}))
            .into_response()
        }
    })
    .await;
    (base, calls)
}

/// SIGKILL in the middle of a burst of 50 messages, with the default lease: after the
/// restart every message has its outcome within about one lease (30 s), because a running
/// job's lease is short and renewed, not five minutes long.
async fn a_killed_burst_finishes_within_a_lease(database_url: &str) {
    let dir = std::env::temp_dir().join(format!("taskbridge-burst-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (model, calls) = slow_model(Duration::from_millis(300)).await;
    let key = "burst-test-admin-key-0123456789";
    let env = [
        ("TASKBRIDGE_API_KEY", key),
        ("TASKBRIDGE_DATABASE_URL", database_url),
        ("TASKBRIDGE_LLM", "openai"),
        ("TASKBRIDGE_LLM_BASE_URL", model.as_str()),
        ("TASKBRIDGE_JOB_POLL_MS", "50"),
        ("TASKBRIDGE_LOG", "warn"),
    ];
    let client = reqwest::Client::new();
    let mut running = start(&dir, &env);
    running.wait_healthy().await;
    let project =
        post_json(&client, &format!("{}/api/v1/projects", running.base), key, serde_json::json!({"name": "burst"}))
            .await["id"]
            .as_str()
            .expect("project")
            .to_string();
    let mut accepted = Vec::new();
    for n in 0..50 {
        let body =
            serde_json::json!({"project_id": project, "text": format!("Please handle request number {n} today")});
        let m = post_json(&client, &format!("{}/api/v1/messages", running.base), key, body).await;
        accepted.push(m["id"].as_str().expect("id").to_string());
    }
    // Kill while the workers are in the middle of their jobs.
    while calls.load(std::sync::atomic::Ordering::SeqCst) < 6 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.child.kill().expect("SIGKILL");
    let _ = running.child.wait();

    running = start(&dir, &env);
    running.wait_healthy().await;
    let restarted = Instant::now();
    let status = |m: &Value| m["status"].as_str().unwrap_or_default().to_string();
    let mut orphaned = 0;
    for id in &accepted {
        let m = get_json(&client, &format!("{}/api/v1/messages/{id}", running.base), key).await;
        orphaned += usize::from(status(&m) == "processing");
    }
    assert!(orphaned > 0, "the kill left messages in the hands of dead workers");
    for id in &accepted {
        loop {
            let m = get_json(&client, &format!("{}/api/v1/messages/{id}", running.base), key).await;
            match status(&m).as_str() {
                "created" | "duplicate" | "possible_duplicate" => break,
                "queued" | "processing" => {
                    // One lease, and the processing of the rest on top of it.
                    assert!(restarted.elapsed() < Duration::from_secs(45), "message {id} still has no outcome: {m}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                _ => panic!("unexpected outcome {m}"),
            }
        }
    }
    assert!(running.terminate().success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_burst_finishes_within_a_lease_sqlite() {
    let dir = std::env::temp_dir().join(format!("taskbridge-burstdb-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    a_killed_burst_finishes_within_a_lease(&format!("sqlite://{}", dir.join("burst.db").display())).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_burst_finishes_within_a_lease_postgres() {
    if let Some((db, url)) = crate::helpers::TestDb::create(crate::helpers::Backend::Postgres).await {
        a_killed_burst_finishes_within_a_lease(&url).await;
        drop(db);
    }
}

async fn post_json(client: &reqwest::Client, url: &str, key: &str, body: Value) -> Value {
    let res = client.post(url).bearer_auth(key).json(&body).send().await.expect("sent");
    assert!(res.status().is_success(), "{}", res.status());
    res.json().await.expect("json")
}

async fn get_json(client: &reqwest::Client, url: &str, key: &str) -> Value {
    client.get(url).bearer_auth(key).send().await.expect("sent").json().await.expect("json")
}

/// The real binary with Slack OAuth configured: an install through the callback, a refused
/// code, then `admin rotate-key` re-seals the token under a new key file and the service
/// opens it after a restart; no token, client secret or state reaches the logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_install_survives_a_key_rotation_and_keeps_tokens_out_of_logs() {
    let (fake, _shared) = crate::fakes::oauth::fake_provider().await;
    let dir = std::env::temp_dir().join(format!("taskbridge-bin-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let log_file = dir.join("taskbridge.log");
    let log_path = log_file.display().to_string();
    let token_url = format!("{fake}/slack/token");
    let env = [
        ("TASKBRIDGE_LOG_FORMAT", "json"),
        ("TASKBRIDGE_LOG_FILE", log_path.as_str()),
        ("TASKBRIDGE_LOG", "debug"),
        ("TASKBRIDGE_PUBLIC_URL", "https://taskbridge.example"),
        ("TASKBRIDGE_FRONTEND_URL", "https://app.taskbridge.example"),
        ("TASKBRIDGE_OAUTH_SLACK_CLIENT_ID", "slack-client"),
        ("TASKBRIDGE_OAUTH_SLACK_CLIENT_SECRET", "slack-secret"),
        ("TASKBRIDGE_OAUTH_SLACK_TOKEN_URL", token_url.as_str()),
        ("TASKBRIDGE_OAUTH_SLACK_SIGNING_SECRET", "slack-app-signing-secret"),
    ];
    let mut first = start(&dir, &env);
    first.wait_healthy().await;
    let printed = first.stdout_so_far().join("\n");
    let key = printed.split_whitespace().find(|w| w.starts_with("tb_")).expect("a generated key").to_string();
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let project: Value = client
        .post(format!("{}/api/v1/projects", first.base))
        .bearer_auth(&key)
        .json(&serde_json::json!({"name": "chat"}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let project = project["id"].as_str().expect("id").to_string();
    let mut states = Vec::new();
    for code in ["good-code", "bad-code"] {
        let install =
            get_json(&client, &format!("{}/api/v1/projects/{project}/integrations/slack/install", first.base), &key)
                .await;
        let url = install["oauth_url"].as_str().expect("url");
        let state = url.split("state=").nth(1).and_then(|s| s.split('&').next()).expect("state").to_string();
        let res = client
            .get(format!("{}/api/public/integrations/slack/callback?code={code}&state={state}", first.base))
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status(), 302);
        let location = res.headers()["location"].to_str().expect("location").to_string();
        let expected = if code == "good-code" { "status=success" } else { "error=token_exchange_failed" };
        assert!(location.contains(expected), "{location}");
        states.push(state);
    }
    let integrations = get_json(&client, &format!("{}/api/v1/projects/{project}/integrations", first.base), &key).await;
    let integration = integrations["items"][0]["id"].as_str().expect("installed").to_string();
    assert!(first.terminate().success());

    let before = std::fs::read_to_string(dir.join("taskbridge.key")).expect("key file");
    let out = Command::new(env!("CARGO_BIN_EXE_taskbridge"))
        .current_dir(&dir)
        .env_remove("TASKBRIDGE_ENCRYPTION_KEY")
        .env("TASKBRIDGE_DATABASE_URL", format!("sqlite://{}", dir.join("tb.db").display()))
        .args(["admin", "rotate-key"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).expect("a JSON answer");
    assert_eq!(answer["rotated"], 1, "{answer}");
    let after = std::fs::read_to_string(dir.join("taskbridge.key")).expect("key file");
    assert_ne!(before, after, "a new key is in the key file");
    assert_eq!(std::fs::read_to_string(dir.join("taskbridge.key.old")).expect("old key kept"), before);

    // An instance not yet restarted still seals with the old key meanwhile ...
    let mut stale_env = env.to_vec();
    stale_env.push(("TASKBRIDGE_ENCRYPTION_KEY", before.trim()));
    let mut stale = start(&dir, &stale_env);
    stale.wait_healthy().await;
    let res = client
        .post(format!("{}/api/v1/projects/{project}/integrations", stale.base))
        .bearer_auth(&key)
        .json(&serde_json::json!({"type": "telegram", "secrets": {"bot_token": "written-by-a-stale-instance"}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 201);
    let stale_written = res.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_string();
    assert!(stale.terminate().success());

    // ... and restarted on the new key (the old one kept as previous), everything opens.
    let mut second = start(&dir, &env);
    second.wait_healthy().await;
    let res = client
        .patch(format!("{}/api/v1/projects/{project}/integrations/{integration}", second.base))
        .bearer_auth(&key)
        .json(&serde_json::json!({"secrets": {"signing_secret": "rotated-signing-secret"}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    let res = client
        .patch(format!("{}/api/v1/projects/{project}/integrations/{stale_written}", second.base))
        .bearer_auth(&key)
        .json(&serde_json::json!({"secrets": {"secret_token": "rotated-telegram-secret"}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200, "what the stale instance sealed opens: {}", res.text().await.unwrap_or_default());
    assert!(second.terminate().success());

    let logs = std::fs::read_to_string(&log_file).expect("log file");
    for secret in [
        "xoxb-17653672481-oauth-bot",
        "slack-secret",
        "secret-hook",
        "slack-app-signing",
        "rotated-signing",
        "stale-instance",
    ]
    .into_iter()
    .chain(states.iter().map(String::as_str))
    {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
    assert!(logs.contains("OAuth token exchange failed"), "the failure is logged, without secrets");
    let _ = std::fs::remove_dir_all(&dir);
}
