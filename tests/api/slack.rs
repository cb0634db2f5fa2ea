//! Slack end to end: requests signed as Slack signs them, a local fake of Slack's Web API,
//! one task and one threaded reply per event however often it is delivered.

use std::time::Duration;

use axum::http::HeaderMap;
use reqwest::StatusCode;
use serde_json::{Value, json};
use taskbridge::channels::slack::sign;

use crate::fakes::slack::{Seen, fake_slack};
use crate::helpers::{Backend, TestApp, join_all, spawn_app_with};

const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

async fn slack_app(backend: Backend) -> Option<(TestApp, String, String, Seen)> {
    // The fake answers slash commands too: its address is one of "Slack's" hosts here.
    let app = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.slack_response_url_hosts = vec!["127.0.0.1".into()];
    })
    .await?;
    let (fake, seen) = fake_slack().await;
    let project = app.project("slack").await;
    let res = app
        .post(
            &format!("/api/v1/projects/{project}/integrations"),
            json!({"type": "slack", "settings": {"api_base_url": format!("{fake}/api")},
                   "secrets": {"signing_secret": SECRET, "bot_token": "xoxb-test"}}),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    Some((app, res.id(), fake, seen))
}

async fn deliver(
    app: &TestApp,
    integration: &str,
    body: &str,
    content_type: &str,
    tweak: impl FnOnce(&mut Vec<(&'static str, String)>),
) -> (StatusCode, String) {
    let ts = chrono::Utc::now().timestamp().to_string();
    let mut headers = vec![
        ("x-slack-request-timestamp", ts.clone()),
        ("x-slack-signature", sign(SECRET, &ts, body.as_bytes())),
        ("content-type", content_type.to_string()),
    ];
    tweak(&mut headers);
    let mut req = app.raw().post(format!("{}/webhooks/slack/{integration}", app.base)).body(body.to_string());
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let res = req.send().await.expect("sent");
    (res.status(), res.text().await.expect("text"))
}

fn event(id: &str, text: &str) -> String {
    json!({"token": "x", "team_id": "T1", "type": "event_callback", "event_id": id, "event_time": 1,
           "event": {"type": "app_mention", "channel": "C0LAN2Q65", "user": "U061F7AUR", "text": text,
                     "ts": "1767225599.000100", "event_ts": "1767225599.000100"}})
    .to_string()
}

async fn messages(app: &TestApp) -> Vec<Value> {
    let jobs = app.get("/api/v1/jobs?limit=200").await.body;
    jobs["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|j| j["kind"] == "intake.process")
        .collect()
}

async fn wait_for_replies(seen: &Seen, n: usize) -> Vec<(String, HeaderMap, Value)> {
    for _ in 0..200 {
        if seen.lock().expect("lock").len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    seen.lock().expect("lock").clone()
}

async fn slack(backend: Backend) {
    let Some((app, integration, fake, seen)) = slack_app(backend).await else { return };
    let json_ct = "application/json";

    // The URL check Slack makes when the Request URL is saved.
    let challenge = json!({"token": "t", "challenge": "3eZbrw1aBm2rZgRN", "type": "url_verification"}).to_string();
    let (status, body) = deliver(&app, &integration, &challenge, json_ct, |_| {}).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&body).expect("json")["challenge"], "3eZbrw1aBm2rZgRN");

    // Refused: wrong secret, tampered body, stale timestamp, missing headers. Nothing stored.
    let mention = event("Ev1", "<@UBOT> please add SSO login to the admin console");
    let (status, _) =
        deliver(&app, &integration, &mention, json_ct, |h| h[1].1 = sign("wrong-secret", &h[0].1, b"x")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let ts = chrono::Utc::now().timestamp().to_string();
    let signed_for_other_body = sign(SECRET, &ts, event("Ev1", "something else").as_bytes());
    let (status, _) = deliver(&app, &integration, &mention, json_ct, |h| {
        h[0].1 = ts.clone();
        h[1].1 = signed_for_other_body.clone();
    })
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let stale = (chrono::Utc::now().timestamp() - 301).to_string();
    let stale_sig = sign(SECRET, &stale, mention.as_bytes());
    let (status, _) = deliver(&app, &integration, &mention, json_ct, |h| {
        h[0].1 = stale.clone();
        h[1].1 = stale_sig.clone();
    })
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = deliver(&app, &integration, &mention, json_ct, |h| {
        h.remove(1);
    })
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(messages(&app).await.is_empty(), "nothing stored for refused requests");

    // Accepted, then redelivered by Slack twice: one message, one task, one reply in the thread.
    let (status, _) = deliver(&app, &integration, &mention, json_ct, |_| {}).await;
    assert_eq!(status, StatusCode::OK);
    for retry in ["1", "2"] {
        let (status, _) =
            deliver(&app, &integration, &mention, json_ct, |h| h.push(("x-slack-retry-num", retry.into()))).await;
        assert_eq!(status, StatusCode::OK);
    }
    let replies = wait_for_replies(&seen, 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(messages(&app).await.len(), 1, "one message for three deliveries");
    let replies_now = seen.lock().expect("lock").clone();
    assert_eq!(replies_now.len(), 1, "one reply");
    let (endpoint, headers, body) = &replies[0];
    assert_eq!(endpoint, "chat.postMessage");
    assert_eq!(headers["authorization"], "Bearer xoxb-test");
    assert_eq!(body["channel"], "C0LAN2Q65");
    assert_eq!(body["thread_ts"], "1767225599.000100");
    let text = body["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("Created task “Add SSO login to the admin console”"), "{text}");
    let tasks = app.get("/api/v1/tasks").await.body;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(tasks["items"][0]["title"], "Add SSO login to the admin console");

    // Plain channel chatter is not a request in the default `commands` mode; bots never are.
    let chatter = json!({"type": "event_callback", "event_id": "Ev2",
                         "event": {"type": "message", "channel": "C1", "user": "U1", "text": "lunch?", "ts": "1.2"}})
    .to_string();
    let (status, _) = deliver(&app, &integration, &chatter, json_ct, |_| {}).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(messages(&app).await.len(), 1);

    // A slash command: acknowledged at once, answered through its response_url.
    let form = serde_urlencoded::to_string([
        ("command", "/task"),
        ("text", "renew the TLS certificate of the status page"),
        ("user_name", "ana"),
        ("channel_name", "ops"),
        ("channel_id", "C9"),
        ("response_url", &format!("{fake}/commands/T1/123/abc")),
        ("trigger_id", "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"),
    ])
    .expect("form");
    let (status, body) = deliver(&app, &integration, &form, "application/x-www-form-urlencoded", |_| {}).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(serde_json::from_str::<Value>(&body).expect("json")["response_type"], "ephemeral");
    let replies = wait_for_replies(&seen, 2).await;
    assert_eq!(replies[1].0, "response_url");
    assert_eq!(replies[1].2["response_type"], "in_channel");
    assert!(replies[1].2["text"].as_str().unwrap_or_default().contains("Renew the TLS certificate of the status page"));

    // Unknown integration, or the wrong platform for it.
    let (status, _) = deliver(&app, "nope", &mention, json_ct, |_| {}).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res =
        app.raw().post(format!("{}/webhooks/discord/{integration}", app.base)).body("{}").send().await.expect("sent");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

fn reaction(id: &str, user: &str, reaction: &str, ts: &str) -> String {
    json!({"token": "x", "team_id": "T1", "type": "event_callback", "event_id": id, "event_time": 1,
           "event": {"type": "reaction_added", "user": user, "reaction": reaction, "item_user": "U0ANA",
                     "item": {"type": "message", "channel": "C0LAN2Q65", "ts": ts}, "event_ts": "1767225800.000300"}})
    .to_string()
}

/// The `:ticket:` reaction turns the message it is on into a request: read from Slack,
/// answered in its thread, once however many people react and however often Slack retries.
async fn slack_reaction(backend: Backend) {
    let Some((app, integration, _fake, seen)) = slack_app(backend).await else { return };
    let json_ct = "application/json";
    let ticket = reaction("EvR1", "U0CAROL", "ticket", "1767225700.000200");
    for _ in 0..2 {
        let (status, _) =
            deliver(&app, &integration, &ticket, json_ct, |h| h.push(("x-slack-retry-num", "1".into()))).await;
        assert_eq!(status, StatusCode::OK);
    }
    let again = reaction("EvR2", "U0DAVE", "ticket::skin-tone-3", "1767225700.000200");
    assert_eq!(deliver(&app, &integration, &again, json_ct, |_| {}).await.0, StatusCode::OK);
    // Other reactions, and a ticket on a message Slack no longer has, make nothing.
    let thumbs = reaction("EvR3", "U0CAROL", "thumbsup", "1767225700.000200");
    assert_eq!(deliver(&app, &integration, &thumbs, json_ct, |_| {}).await.0, StatusCode::OK);
    let gone = reaction("EvR4", "U0CAROL", "ticket", "1767225000.000999");
    assert_eq!(deliver(&app, &integration, &gone, json_ct, |_| {}).await.0, StatusCode::OK);

    let calls = wait_for_replies(&seen, 3).await;
    let posts: Vec<&Value> = calls.iter().filter(|c| c.0 == "chat.postMessage").map(|c| &c.2).collect();
    assert_eq!(posts.len(), 1, "{calls:?}");
    assert_eq!(posts[0]["channel"], "C0LAN2Q65");
    assert_eq!(posts[0]["thread_ts"], "1767225600.000100", "answered in the message's thread");
    assert!(posts[0]["text"].as_str().unwrap_or_default().starts_with("Created task"), "{}", posts[0]);
    let reads = calls.iter().filter(|c| c.0 == "conversations.replies").count();
    assert_eq!(reads, 2, "one read per distinct message reacted to");
    let tasks = app.get("/api/v1/tasks").await.body;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(1), "{tasks}");
    assert!(tasks["items"][0]["title"].as_str().unwrap_or_default().contains("CSV"), "{tasks}");
    assert_eq!(messages(&app).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_reaction_sqlite() {
    slack_reaction(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_reaction_postgres() {
    slack_reaction(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_webhooks_sqlite() {
    slack(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_webhooks_postgres() {
    slack(Backend::Postgres).await;
}

/// Requests accepted at the same moment are committed together (a group commit), yet each
/// is answered for itself: every new event is kept once with its job, a redelivery of one
/// event is kept once however many copies land in one commit, and a request for another
/// tenant's project is 404 without failing the requests committed beside it.
async fn accepted_together_answered_each(backend: Backend) {
    let Some((app, integration, _fake, _seen)) = slack_app(backend).await else { return };
    let project = app.project("api").await;
    let other = app.post("/api/v1/tenants", json!({"name": "other"})).await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.body);
    let other_key = other.body["api_key"].as_str().expect("key").to_string();
    let elsewhere = app
        .with_key(&other_key)
        .send(reqwest::Method::POST, "/api/v1/projects", Some(json!({"name": "theirs"})))
        .await
        .id();

    let events: Vec<String> = (0..60)
        .map(|i| event(&format!("EvMany{i}"), &format!("<@U0LAN0Z89> please rotate certificate number {i}")))
        .chain((0..20).map(|_| event("EvSame", "<@U0LAN0Z89> the printer on floor 3 is jammed")))
        .collect();
    let app = &app;
    let deliveries = join_all(events.iter().map(|body| deliver(app, &integration, body, "application/json", |_| {})));
    let posts = join_all((0..40).map(|i| {
        let target = if i % 2 == 0 { project.clone() } else { elsewhere.clone() };
        let body = json!({"project_id": target, "text": format!("Renew the domain example{i}.org")});
        async move { app.post("/api/v1/messages", body).await }
    }));
    let (deliveries, posts) = tokio::join!(deliveries, posts);
    for (status, body) in &deliveries {
        assert_eq!(*status, StatusCode::OK, "{body}");
    }
    for (i, res) in posts.iter().enumerate() {
        if i % 2 == 0 {
            assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
            let kept = app.get(&format!("/api/v1/messages/{}", res.id())).await;
            assert_eq!(kept.status, StatusCode::OK, "accepted means kept: {}", kept.body);
        } else {
            assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
            assert_eq!(res.body["error"]["code"], "not_found", "{}", res.body);
        }
    }
    let (mut processing, mut cursor) = (0, String::new());
    loop {
        let page = app.get(&format!("/api/v1/jobs?limit=200{cursor}")).await.body;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        processing += items.iter().filter(|j| j["kind"] == "intake.process").count();
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(processing, 60 + 1 + 20, "one processing job per kept request");
    let listed = app.get(&format!("/api/v1/messages?project_id={project}&limit=200")).await;
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(20), "{}", listed.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_together_answered_each_sqlite() {
    accepted_together_answered_each(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_together_answered_each_postgres() {
    accepted_together_answered_each(Backend::Postgres).await;
}
