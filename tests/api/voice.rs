//! Voice requests: a recording uploaded as multipart, transcribed by a local fake of an
//! OpenAI-compatible `/v1/audio/transcriptions` server, and fed into intake.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::fakes::speech::fake_whisper;
use crate::helpers::{Backend, TestApp, spawn_app_with};

fn recording(bytes: &[u8], project: Option<&str>) -> Form {
    let part = Part::bytes(bytes.to_vec()).file_name("note.ogg").mime_str("audio/ogg").expect("mime");
    let form = Form::new().part("file", part).text("author", "ana").text("language", "en");
    match project {
        Some(p) => form.text("project_id", p.to_string()),
        None => form,
    }
}

async fn upload(app: &TestApp, path: &str, form: Form) -> (StatusCode, Value) {
    let res = app.raw().post(format!("{}{path}", app.base)).bearer_auth(&app.key).multipart(form).send().await;
    let res = res.expect("sent");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn voice(backend: Backend) {
    let (fake, seen) = fake_whisper().await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.transcribe_base_url = Some(fake.clone());
        c.transcribe_api_key = Some(taskbridge::config::Secret::new("sk-whisper-test"));
        // Small, so that the refused upload fits in the socket buffers and its answer is read.
        c.max_upload_bytes = 4 * 1024;
    })
    .await
    else {
        return;
    };
    let project = app.project("voice").await;

    // Transcribed, persisted, queued; with wait=true the outcome comes back too.
    let (status, body) =
        upload(&app, "/api/v1/voice/transcribe?wait=true", recording(b"OggS...", Some(&project))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["transcript"].as_str().unwrap_or_default().starts_with("We need to renew the TLS certificate"));
    assert_eq!(body["message"]["status"], "created", "{body}");
    assert_eq!(body["message"]["source"], "voice");
    let task = app.get(&format!("/api/v1/tasks/{}", body["message"]["task_id"].as_str().expect("task_id"))).await;
    assert_eq!(task.body["title"], "Renew the TLS certificate of the billing API", "{}", task.body);
    assert_eq!(task.body["priority"], "high");
    {
        let calls = seen.lock().expect("lock");
        let (auth, fields, file_name, file) = &calls[0];
        assert_eq!(auth, "Bearer sk-whisper-test");
        assert!(fields.contains(&("model".into(), "whisper-1".into())), "{fields:?}");
        assert!(fields.contains(&("language".into(), "en".into())), "{fields:?}");
        assert_eq!(file_name, "note.ogg");
        assert_eq!(file, b"OggS...");
    }

    // The replaced backend's route, without a project: the default project; 202 at once.
    let (status, body) = upload(&app, "/integrations/voice/transcribe", recording(b"OggS2", None)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_ne!(body["message"]["project_id"], json!(project));
    let queued = body["message"]["id"].as_str().expect("message id").to_string();

    // create_task=false (query or form field): the transcript alone, no request stored.
    let messages = app.get("/api/v1/messages?limit=200").await.body["items"].as_array().map(Vec::len);
    let (status, body) =
        upload(&app, "/integrations/voice/transcribe?create_task=false", recording(b"OggS3", None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["transcript"].as_str().unwrap_or_default().starts_with("We need to renew the TLS certificate"));
    assert!(body.get("message").is_none(), "{body}");
    let form = recording(b"OggS4", Some(&project)).text("create_task", "false");
    let (status, body) = upload(&app, "/api/v1/voice/transcribe", form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("message").is_none(), "{body}");
    let (status, _) =
        upload(&app, "/api/v1/voice/transcribe", recording(b"OggS5", None).text("create_task", "perhaps")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get("/api/v1/messages?limit=200").await.body["items"].as_array().map(Vec::len), messages);

    // Refusals: clear JSON errors, nothing stored.
    let messages_before = seen.lock().expect("lock").len();
    let (status, body) = upload(&app, "/api/v1/voice/transcribe", recording(b"broken", Some(&project))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("Invalid file format."), "{body}");
    let (status, body) = upload(&app, "/api/v1/voice/transcribe", recording(b"overloaded", Some(&project))).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "upstream_failed");
    let (status, _) = upload(&app, "/api/v1/voice/transcribe", recording(b"noise", Some(&project))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = upload(&app, "/api/v1/voice/transcribe", recording(b"x", Some("no-such-project"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) =
        upload(&app, "/api/v1/voice/transcribe", Form::new().text("project_id", project.clone())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let too_big = vec![7u8; 5 * 1024];
    let (status, body) = upload(&app, "/api/v1/voice/transcribe", recording(&too_big, Some(&project))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let res = app.post("/api/v1/voice/transcribe", json!({"file": "not multipart"})).await;
    assert_eq!(res.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", res.body);
    // Neither the unknown project nor the oversized upload reached the recogniser.
    assert_eq!(seen.lock().expect("lock").len(), messages_before + 3);
    let mut processed = Value::Null;
    for _ in 0..200 {
        processed = app.get(&format!("/api/v1/messages/{queued}")).await.body;
        if processed["status"] == "created" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(processed["status"], "created", "{processed}");
    let tasks = app.get("/api/v1/tasks").await.body;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(2), "{tasks}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_sqlite() {
    voice(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_postgres() {
    voice(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_without_a_transcription_server_is_unavailable() {
    let Some(app) = spawn_app_with(Backend::Sqlite, |_| {}).await else { return };
    let project = app.project("voice").await;
    let (status, body) = upload(&app, "/api/v1/voice/transcribe", recording(b"OggS", Some(&project))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or_default().contains("TASKBRIDGE_TRANSCRIBE_BASE_URL"));
}
