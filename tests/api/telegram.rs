//! Telegram end to end: updates with the webhook's secret token, a local fake of the Bot
//! API, one task and one reply per update however often it is delivered.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::fakes::speech::fake_whisper;
use crate::fakes::telegram::{SECRET, Seen, deliver, fake_telegram, slow_telegram, update, voice_update};
use crate::helpers::{Backend, TestApp, each_backend, spawn_app_with};

/// An instance with a Telegram integration speaking to a fake Bot API, whose sent messages
/// are in `seen`.
async fn connected(backend: Backend) -> Option<(TestApp, String, Seen)> {
    let app = spawn_app_with(backend, |c| c.allow_private_urls = true).await?;
    let (fake, seen) = fake_telegram().await;
    let project = app.project("telegram").await;
    let integration = app
        .post(
            &format!("/api/v1/projects/{project}/integrations"),
            json!({"type": "telegram", "settings": {"api_base_url": fake},
                   "secrets": {"secret_token": SECRET, "bot_token": "123:ABC"}}),
        )
        .await
        .id();
    Some((app, integration, seen))
}

async fn telegram(backend: Backend) {
    let Some((app, integration, seen)) = connected(backend).await else { return };

    let request = update(727000001, "/task@TaskBridgeBot Fix the login page before Friday");
    // Refused without the right secret token; nothing stored.
    assert_eq!(deliver(&app, &integration, &request, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(deliver(&app, &integration, &request, Some("wrong")).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/v1/jobs").await.body["items"], json!([]));

    // Delivered three times (Telegram retries on errors): one task, one reply.
    for _ in 0..3 {
        assert_eq!(deliver(&app, &integration, &request, Some(SECRET)).await.0, StatusCode::OK);
    }
    for _ in 0..200 {
        if !seen.lock().expect("lock").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let replies = seen.lock().expect("lock").clone();
    assert_eq!(replies.len(), 1, "{replies:?}");
    let (bot, body) = &replies[0];
    assert_eq!(bot, "bot123:ABC");
    assert_eq!(body["chat_id"], -1001234567890i64);
    assert_eq!(body["reply_parameters"]["message_id"], 42);
    assert_eq!(body["message_thread_id"], 7);
    assert!(body["text"].as_str().unwrap_or_default().starts_with("Created task “Fix the login page”"), "{body}");
    let tasks = app.get("/api/v1/tasks").await.body;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(1));
    assert!(
        tasks["items"][0]["description"]
            .as_str()
            .unwrap_or_default()
            .contains("Requested by anap in Ops team via telegram")
    );

    // Chatter is not a request in `commands` mode; an empty command gets its usage at once.
    assert_eq!(deliver(&app, &integration, &update(727000002, "good morning"), Some(SECRET)).await.0, StatusCode::OK);
    let (status, body) = deliver(&app, &integration, &update(727000003, "/task"), Some(SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["method"], "sendMessage");
    assert_eq!(app.get("/api/v1/tasks").await.body["items"].as_array().map(Vec::len), Some(1));

    // Without speech-to-text a voice note, even a captioned one, is not a request.
    let voice = voice_update(727000004, "AwADBAAD", Some("/task"));
    assert_eq!(deliver(&app, &integration, &voice, Some(SECRET)).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let jobs = app.get("/api/v1/jobs?limit=200").await.body;
    assert!(jobs["items"].as_array().expect("jobs").iter().all(|j| j["kind"] != "channel.fetch"), "{jobs}");
    assert_eq!(app.get("/api/v1/tasks").await.body["items"].as_array().map(Vec::len), Some(1));
}

/// With a transcription server, a voice note is downloaded from Telegram, transcribed and
/// becomes a request answered in its chat — once, however often it is delivered.
async fn voice_notes_become_requests(backend: Backend) {
    let (whisper, heard) = fake_whisper().await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.transcribe_base_url = Some(whisper.clone());
    })
    .await
    else {
        return;
    };
    let (fake, seen) = fake_telegram().await;
    let project = app.project("telegram").await;
    let integration = app
        .post(
            &format!("/api/v1/projects/{project}/integrations"),
            json!({"type": "telegram", "settings": {"api_base_url": fake},
                   "secrets": {"secret_token": SECRET, "bot_token": "123:ABC"}}),
        )
        .await
        .id();

    // In `commands` mode an uncaptioned voice note is chatter; a `/task` caption makes it a request.
    let chatter = voice_update(727000101, "AwACAgQAAx", None);
    assert_eq!(deliver(&app, &integration, &chatter, Some(SECRET)).await.0, StatusCode::OK);
    let note = voice_update(727000102, "AwACAgQAAy", Some("/task"));
    for _ in 0..2 {
        assert_eq!(deliver(&app, &integration, &note, Some(SECRET)).await.0, StatusCode::OK);
    }
    for _ in 0..400 {
        if !seen.lock().expect("lock").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let files: Vec<Vec<u8>> = heard.lock().expect("lock").iter().map(|(_, _, _, file)| file.clone()).collect();
    assert_eq!(files, [b"OggS-AwACAgQAAy".to_vec()], "only the captioned note, once");
    let replies = seen.lock().expect("lock").clone();
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0].1["chat_id"], -1001234567890i64);
    assert_eq!(replies[0].1["reply_parameters"]["message_id"], 42);
    let tasks = app.get("/api/v1/tasks").await.body;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(1), "{tasks}");
    assert_eq!(tasks["items"][0]["title"], "Renew the TLS certificate of the billing API", "{tasks}");
    let messages = app.get("/api/v1/messages").await.body;
    assert_eq!(messages["items"][0]["source"], "telegram", "{messages}");
    assert_eq!(messages["items"][0]["author"], "anap", "{messages}");

    // A note Telegram no longer has fails its job with Telegram's reason; nothing is made.
    let gone = voice_update(727000103, "gone", Some("/task"));
    assert_eq!(deliver(&app, &integration, &gone, Some(SECRET)).await.0, StatusCode::OK);
    let mut failed = None;
    for _ in 0..400 {
        let jobs = app.get("/api/v1/jobs?limit=200").await.body;
        failed = jobs["items"]
            .as_array()
            .and_then(|items| items.iter().find(|j| j["kind"] == "channel.fetch" && j["status"] == "dead").cloned());
        if failed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let failed = failed.expect("the fetch of the gone note failed");
    assert!(failed["last_error"].as_str().unwrap_or_default().contains("invalid file_id"), "{failed}");
    assert!(!failed.to_string().contains("123:ABC"), "no bot token in the job: {failed}");
    assert_eq!(app.get("/api/v1/tasks").await.body["items"].as_array().map(Vec::len), Some(1));
}
each_backend!(voice_notes_become_requests);

/// A request that may repeat a task becomes its own task, and the answer names the likely one
/// and asks whether it is the same.
async fn a_possible_duplicate_is_named_in_the_answer(backend: Backend) {
    let Some((app, integration, seen)) = connected(backend).await else { return };
    let replies = async |n: usize| {
        for _ in 0..400 {
            if seen.lock().expect("lock").len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        seen.lock().expect("lock").clone()
    };
    let first = update(727000011, "/task Translate the pricing page into German");
    assert_eq!(deliver(&app, &integration, &first, Some(SECRET)).await.0, StatusCode::OK);
    assert_eq!(replies(1).await.len(), 1);
    let second = update(727000012, "/task Translate the pricing page into Japanese");
    assert_eq!(deliver(&app, &integration, &second, Some(SECRET)).await.0, StatusCode::OK);
    let answered = replies(2).await;
    let text = answered.get(1).and_then(|(_, body)| body["text"].as_str()).unwrap_or_default().to_string();
    assert!(text.starts_with("Created task “Translate the pricing page into Japanese”"), "{answered:?}");
    // Asked in the thread, where the requester can answer.
    assert!(text.contains("Looks like “Translate the pricing page into German”"), "{text}");
    assert!(text.contains("reply *same* to add your request there"), "{text}");
    assert_eq!(app.get("/api/v1/tasks").await.body["items"].as_array().map(Vec::len), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_possible_duplicate_is_named_in_the_answer_sqlite() {
    a_possible_duplicate_is_named_in_the_answer(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_possible_duplicate_is_named_in_the_answer_postgres() {
    a_possible_duplicate_is_named_in_the_answer(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_webhooks_sqlite() {
    telegram(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telegram_webhooks_postgres() {
    telegram(Backend::Postgres).await;
}

/// A slow Bot API gets the answers of many requests at once, but never more than the
/// integration's `max_in_flight`, however many workers have one to send.
async fn answers_are_sent_a_few_at_a_time(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let (fake, seen, slow) = slow_telegram(Duration::from_millis(200)).await;
    let project = app.project("telegram").await;
    let settings = |limit: serde_json::Value| {
        json!({"type": "telegram", "settings": {"api_base_url": fake, "max_in_flight": limit},
               "secrets": {"secret_token": SECRET, "bot_token": "123:ABC"}})
    };
    let path = format!("/api/v1/projects/{project}/integrations");
    for refused in [json!(0), json!(65), json!("2")] {
        let res = app.post(&path, settings(refused)).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    }
    let integration = app.post(&path, settings(json!(2))).await.id();

    let words = ["invoices", "exports", "backups", "alerts", "reports", "uploads", "logins", "receipts"];
    for (n, word) in words.iter().enumerate() {
        let request = update(727100000 + n as i64, &format!("/task Check the nightly {word} job"));
        assert_eq!(deliver(&app, &integration, &request, Some(SECRET)).await.0, StatusCode::OK);
    }
    for _ in 0..400 {
        if seen.lock().expect("lock").len() >= words.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(seen.lock().expect("lock").len(), words.len(), "one answer per request");
    assert_eq!(slow.at_once.lock().expect("lock").1, 2, "two at a time: in parallel, and never more");
}
each_backend!(answers_are_sent_a_few_at_a_time);
