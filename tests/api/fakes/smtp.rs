//! SMTP: a real SMTP server (aiosmtpd, `tests/support/smtp_server.py`) in its own process on
//! a free loopback port, standing in for a mail provider's submission port: STARTTLS with a
//! test certificate and AUTH required, every accepted message recorded.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join(name)
}

/// The CA that signed the server's certificate, for taskbridge to trust.
pub fn ca_file() -> PathBuf {
    fixture("fixtures/tls/ca.pem")
}

/// A real SMTP server in its own process, killed when dropped.
pub struct SmtpServer {
    pub port: u16,
    /// The messages accepted, as the server reports them: `mail_from`, `rcpt_tos`, `data`,
    /// `tls` and `auth`.
    pub received: Arc<Mutex<Vec<Value>>>,
    _child: tokio::process::Child,
}

impl SmtpServer {
    /// Starts a server that accepts `user` with `password`, once it is listening.
    pub async fn start(user: &str, password: &str) -> SmtpServer {
        let mut child = tokio::process::Command::new(crate::helpers::python_with("smtp-venv", "aiosmtpd", "aiosmtpd"))
            .arg(fixture("support/smtp_server.py"))
            .arg(fixture("fixtures/tls/server.pem"))
            .arg(fixture("fixtures/tls/server-key.pem"))
            .args([user, password])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the SMTP server");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the SMTP server starts within 20 s")
            .expect("read")
            .expect("a READY line");
        let port = ready.strip_prefix("READY ").and_then(|p| p.parse().ok()).expect("READY <port>");
        let received: Arc<Mutex<Vec<Value>>> = Arc::default();
        let sink = received.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(v) = serde_json::from_str(&line) {
                    sink.lock().expect("lock").push(v);
                }
            }
        });
        SmtpServer { port, received, _child: child }
    }

    /// The messages received once there are `n`, or after five seconds.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        for _ in 0..200 {
            if self.received.lock().expect("lock").len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.received.lock().expect("lock").clone()
    }
}
