//! `taskbridge import-env`: the real binary turns a replaced-services `.env` into the
//! default project's integrations (secrets sealed) and provider settings, on a fresh
//! database, says what it did and ignored, and never prints a secret.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::helpers::{ADMIN_KEY, Backend, TestApp, TestDb, each_backend, spawn_on};

/// The secrets of the sample `.env`: none may appear in the output or in clear in the database.
const SECRETS: &[&str] = &[
    "taiga-Pa55word!",
    "jira-tok-8c1f0d2e",
    "sk-old-openai-5d1c",
    "twilio-auth-77aa55cc",
    "7700112233:AAH-telegram-token",
    "zendesk-tok-19fe",
    "smtp-Pa55!",
];

const SAMPLE: &str = r#"# The replaced services' configuration
TAIGA_URL=https://taiga.acme.example
TAIGA_USERNAME=taskbot
TAIGA_PASSWORD="taiga-Pa55word!"
TAIGA_PROJECT_SLUG=acme-ops
TAIGA_PROJECT_ID=42
OLLAMA_API_URL=http://ollama.acme.example:11434/api/generate
OLLAMA_MODEL=llama3.1
JIRA_URL=https://acme.atlassian.net
JIRA_EMAIL=ops@acme.example
JIRA_API_TOKEN=jira-tok-8c1f0d2e
CONFLUENCE_URL=https://acme.atlassian.net/wiki
OPENAI_API_KEY=sk-old-openai-5d1c
TWILIO_ACCOUNT_SID=AC0123456789abcdef0123456789abcdef
TWILIO_AUTH_TOKEN=twilio-auth-77aa55cc
TWILIO_WHATSAPP_NUMBER=whatsapp:+14155238886
TELEGRAM_BOT_TOKEN=7700112233:AAH-telegram-token
ZENDESK_SUBDOMAIN=acme
ZENDESK_EMAIL=support@acme.example
ZENDESK_API_TOKEN=zendesk-tok-19fe
EMAIL_HOST=smtp.acme.example
EMAIL_PORT=587
EMAIL_USER=requests@acme.example
EMAIL_PASSWORD=smtp-Pa55!
EMAIL_USE_TLS=true
DEBUG=true
"#;

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// Runs `taskbridge import-env` in `dir` on database `url`: (success, stdout + stderr).
fn import(dir: &Path, url: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_taskbridge"))
        .current_dir(dir)
        .args(["import-env", "--file", ".env"])
        .env("TASKBRIDGE_DATABASE_URL", url)
        .env("TASKBRIDGE_API_KEY", ADMIN_KEY)
        .env("TASKBRIDGE_ENCRYPTION_KEY", KEY)
        .env("TASKBRIDGE_LOG", "info")
        .output()
        .expect("the binary runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

async fn raw_rows(app: &TestApp) -> String {
    let sql = "SELECT settings || secret_names || COALESCE(secrets, '') FROM integrations";
    let rows: Vec<String> = if app.database_url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(&app.database_url).await.expect("sqlite");
        sqlx::query_scalar(sql).fetch_all(&pool).await.expect("rows")
    } else {
        let pool = sqlx::PgPool::connect(&app.database_url).await.expect("pg");
        sqlx::query_scalar(sql).fetch_all(&pool).await.expect("rows")
    };
    rows.join("\n")
}

async fn an_old_env_becomes_integrations_and_provider_settings(backend: Backend) {
    let Some((db, url)) = TestDb::create(backend).await else { return };
    let dir = std::env::temp_dir().join(format!("taskbridge-import-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join(".env"), SAMPLE).expect("sample .env");

    let (ok, said) = import(&dir, &url);
    assert!(ok, "{said}");
    for secret in SECRETS {
        assert!(!said.contains(secret), "a secret was printed: {said}");
    }
    for kind in ["taiga", "jira", "confluence", "whatsapp", "telegram", "zendesk", "email"] {
        assert!(said.contains(&format!("created {kind} integration")), "{kind}: {said}");
    }
    assert!(said.contains("TASKBRIDGE_LLM=ollama (from OLLAMA_API_URL)"), "{said}");
    assert!(said.contains("TASKBRIDGE_TRANSCRIBE_API_KEY (secret, from OPENAI_API_KEY)"), "{said}");
    assert!(said.contains("ignored TAIGA_PROJECT_ID: no taskbridge equivalent"), "{said}");
    assert!(said.contains("ignored DEBUG: not a variable of the replaced services"), "{said}");

    // The provider settings, secrets included, are in a file only its owner reads.
    let written = std::fs::read_to_string(dir.join("taskbridge.env")).expect("provider settings");
    assert!(written.contains("TASKBRIDGE_LLM=ollama\n"), "{written}");
    assert!(written.contains("TASKBRIDGE_LLM_BASE_URL=http://ollama.acme.example:11434\n"), "{written}");
    assert!(written.contains("TASKBRIDGE_LLM_MODEL=llama3.1\n"), "{written}");
    assert!(written.contains("TASKBRIDGE_TRANSCRIBE_API_KEY=sk-old-openai-5d1c\n"), "{written}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("taskbridge.env")).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // Run again: the integrations are kept, not doubled, and the settings file is not overwritten.
    let (ok, again) = import(&dir, &url);
    assert!(ok, "{again}");
    assert!(again.contains("kept the project's existing taiga integration"), "{again}");
    assert!(again.contains("provider settings not written"), "{again}");
    for secret in SECRETS {
        assert!(!again.contains(secret), "a secret was printed: {again}");
    }

    // What the API now shows of the default project.
    let app = spawn_on(db, url, backend).await;
    let project = app.get("/api/v1/me").await.body["default_project"]["id"].as_str().expect("project").to_string();
    let listed = app.get(&format!("/api/v1/projects/{project}/integrations")).await.body;
    let all: Vec<Value> = listed.as_array().or(listed["items"].as_array()).cloned().expect("integrations");
    assert_eq!(all.len(), 7, "{listed}");
    let of = |kind: &str| all.iter().find(|i| i["type"] == kind).cloned().unwrap_or_else(|| panic!("{kind}: {listed}"));
    let taiga = of("taiga");
    assert_eq!(taiga["settings"]["api_base_url"], "https://taiga.acme.example/api/v1");
    assert_eq!(taiga["settings"]["username"], "taskbot");
    assert_eq!(taiga["settings"]["project_slug"], "acme-ops");
    assert_eq!(taiga["secrets_set"], serde_json::json!(["password"]));
    let confluence = of("confluence");
    assert_eq!(confluence["settings"]["site_url"], "https://acme.atlassian.net");
    assert_eq!(confluence["settings"]["email"], "ops@acme.example");
    assert_eq!(confluence["secrets_set"], serde_json::json!(["api_token"]));
    assert_eq!(of("whatsapp")["settings"]["from_number"], "+14155238886");
    assert_eq!(of("telegram")["secrets_set"], serde_json::json!(["bot_token"]));
    assert_eq!(of("zendesk")["settings"]["subdomain"], "acme");
    let email = of("email");
    assert_eq!(
        (email["settings"]["smtp_port"].clone(), email["settings"]["tls"].clone()),
        (587.into(), "starttls".into())
    );
    assert_eq!(email["secrets_set"], serde_json::json!(["smtp_password"]));
    let rows = raw_rows(&app).await;
    for secret in SECRETS {
        assert!(!rows.contains(secret), "{secret} stored in clear");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
each_backend!(an_old_env_becomes_integrations_and_provider_settings);

/// A missing file is a clear error, and nothing is created.
#[test]
fn a_missing_file_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("taskbridge-import-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let url = format!("sqlite://{}", dir.join("tb.db").display());
    let (ok, said) = import(&dir, &url);
    assert!(!ok);
    assert!(said.contains("cannot read .env"), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}
