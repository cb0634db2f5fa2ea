//! The real binary: first start prints a generated key once, logs are JSON lines with
//! request ids and without secrets, SIGTERM stops it cleanly.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn start(dir: &Path, extra_env: &[(&str, &str)]) -> Running {
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
    async fn wait_healthy(&mut self) {
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

    fn terminate(mut self) -> std::process::ExitStatus {
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
        .env("TASKBRIDGE_DATABASE_URL", "mysql://x")
        .env("TASKBRIDGE_ADDR", "127.0.0.1:0")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database url"));
}
