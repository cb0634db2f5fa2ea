//! Proactive posting (issue 25): `POST …/integrations/{id}/send` posts to a Slack channel
//! (`chat.postMessage` with the installed bot token) and to a Discord channel (as the bot),
//! through the queue, against local fakes; and a Discord requester hears later news in the
//! channel, as the bot, since the interaction's token is short-lived.

use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::discord::fake_discord;
use crate::fakes::slack::fake_slack;
use crate::helpers::{Backend, TestApp, spawn_app_with};

/// The delivery `id` once it is no longer queued or being sent.
async fn sent(app: &TestApp, id: &str) -> Value {
    for _ in 0..400 {
        let history = app.get("/api/v1/history?limit=50").await.body;
        let item = history["items"].as_array().and_then(|items| items.iter().find(|i| i["id"] == id).cloned());
        if let Some(item) = item.filter(|i| !["queued", "sending"].contains(&i["status"].as_str().unwrap_or_default()))
        {
            return item;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("delivery {id} was not sent");
}

async fn posts_to_a_slack_channel(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let (fake, seen) = fake_slack().await;
    let project = app.project("slack").await;
    let integration = app
        .integration(
            &project,
            json!({"type": "slack", "settings": {"api_base_url": format!("{fake}/api")},
                   "secrets": {"signing_secret": "s", "bot_token": "xoxb-test"}}),
        )
        .await;
    let send = format!("/api/v1/projects/{project}/integrations/{integration}/send");

    // Not a channel id: refused, nothing queued.
    let res = app.post(&send, json!({"to": "general chat", "text": "hi"})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body["error"]["message"].as_str().unwrap_or_default().contains("Slack channel id"), "{}", res.body);

    let res = app.post(&send, json!({"to": "C0ALERTS", "text": "Deploy freeze from 18:00 today"})).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    assert_eq!(sent(&app, &res.id()).await["status"], "sent");
    let calls = seen.lock().expect("lock").clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let (method, headers, body) = &calls[0];
    assert_eq!(method, "chat.postMessage");
    assert_eq!(headers.get("authorization").and_then(|v| v.to_str().ok()), Some("Bearer xoxb-test"));
    assert_eq!((&body["channel"], &body["text"]), (&json!("C0ALERTS"), &json!("Deploy freeze from 18:00 today")));
    assert!(body.get("thread_ts").is_none(), "a new message, not a reply: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_to_a_slack_channel_sqlite() {
    posts_to_a_slack_channel(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_to_a_slack_channel_postgres() {
    posts_to_a_slack_channel(Backend::Postgres).await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn posts_to_a_discord_channel_and_tells_requesters_there(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |c| c.allow_private_urls = true).await else { return };
    let (fake, seen) = fake_discord().await;
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let project = app.project("discord").await;
    let integration = app
        .integration(
            &project,
            json!({"type": "discord", "settings": {"api_base_url": fake},
                   "secrets": {"public_key": hex(key.verifying_key().as_bytes()), "bot_token": "tok-bot"}}),
        )
        .await;
    let send = format!("/api/v1/projects/{project}/integrations/{integration}/send");
    let res = app.post(&send, json!({"to": "#general", "text": "hi"})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let res = app.post(&send, json!({"to": "1200000000000000002", "text": "Standup moved to 10:30"})).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    assert_eq!(sent(&app, &res.id()).await["status"], "sent");
    {
        let calls = seen.lock().expect("lock").clone();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!((calls[0].0.as_str(), calls[0].1.as_str()), ("channels/1200000000000000002", "Bot tok-bot"));
        assert_eq!(calls[0].2["content"], "Standup moved to 10:30");
    }

    // A /task command is answered by editing the deferred response; news of its task later
    // goes to the channel as the bot (the interaction's token lasts 15 minutes, and an edit
    // would replace the first answer).
    let command = json!({"id": "1300000000000000005", "application_id": "1234567890123456789", "type": 2,
        "token": "tok-15-min", "version": 1, "guild_id": "1100000000000000004", "channel_id": "1200000000000000002",
        "data": {"id": "1250000000000000003", "name": "task", "type": 1,
                 "options": [{"name": "title", "type": 3, "value": "Rotate the staging database credentials"}]},
        "member": {"user": {"id": "1000000000000000006", "username": "ana"}}})
    .to_string();
    let ts = chrono::Utc::now().timestamp().to_string();
    let signature = key.sign(format!("{ts}{command}").as_bytes());
    let res = app
        .raw()
        .post(format!("{}/webhooks/discord/{integration}", app.base))
        .header("content-type", "application/json")
        .header("X-Signature-Ed25519", hex(&signature.to_bytes()))
        .header("X-Signature-Timestamp", ts)
        .body(command)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), StatusCode::OK);
    let mut task_id = String::new();
    for _ in 0..400 {
        if seen.lock().expect("lock").len() >= 2 {
            task_id = app.get("/api/v1/tasks").await.body["items"][0]["id"].as_str().unwrap_or_default().to_string();
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(seen.lock().expect("lock")[1].1, "tok-15-min", "the first answer edits the deferred response");
    let res = app.patch(&format!("/api/v1/tasks/{task_id}"), json!({"status": "done"})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    for _ in 0..400 {
        if seen.lock().expect("lock").len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let calls = seen.lock().expect("lock").clone();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert_eq!((calls[2].0.as_str(), calls[2].1.as_str()), ("channels/1200000000000000002", "Bot tok-bot"));
    let text = calls[2].2["content"].as_str().unwrap_or_default();
    assert!(text.starts_with("Update on “Rotate the staging database credentials”: it is done."), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_to_a_discord_channel_and_tells_requesters_there_sqlite() {
    posts_to_a_discord_channel_and_tells_requesters_there(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_to_a_discord_channel_and_tells_requesters_there_postgres() {
    posts_to_a_discord_channel_and_tells_requesters_there(Backend::Postgres).await;
}

/// The ids of the project's integrations of `kind`.
async fn integrations_of(app: &TestApp, project: &str, kind: &str) -> Vec<Value> {
    let list = app.get(&format!("/api/v1/projects/{project}/integrations")).await.body;
    list["items"].as_array().map(|i| i.iter().filter(|i| i["type"] == kind).cloned().collect()).unwrap_or_default()
}

const TEAMS_CHANNEL: &str = "19:ab12cd34@thread.tacv2";

/// Teams through the Bot Connector: an integration that cannot post says exactly what it
/// lacks; an OAuth install posts with the app's own credentials and nothing written by hand;
/// the client-credentials token is reused, fetched anew once when the connector refuses it,
/// and a 429 is retried after its Retry-After.
async fn posts_to_a_teams_conversation(backend: Backend) {
    let (bot, seen) = crate::fakes::microsoft::fake_microsoft().await;
    let (provider, shared) = crate::fakes::oauth::fake_provider().await;
    let oauth = crate::oauth::settings(&provider);
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.oauth = oauth;
        c.botframework_token_url = Some(format!("{bot}/token"));
        c.botframework_service_url = Some(format!("{bot}/"));
    })
    .await
    else {
        return;
    };
    let project = app.project("teams-send").await;

    // An outgoing webhook only: it cannot post on its own, and says what it would need.
    let hooked = app.project("teams-hook").await;
    let hook = app
        .integration(&hooked, json!({"type": "teams", "secrets": {"hmac_secret": "c2VjcmV0LXNlY3JldC1zZWNyZXQ="}}))
        .await;
    let read = app.get(&format!("/api/v1/projects/{hooked}/integrations/{hook}")).await.body;
    let why = read["cannot_send"].as_str().unwrap_or_default().to_string();
    assert!(why.contains("settings.app_id") && why.contains("secrets.app_password"), "{read}");
    let res = app
        .post(
            &format!("/api/v1/projects/{hooked}/integrations/{hook}/send"),
            json!({"to": TEAMS_CHANNEL, "text": "hi"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(res.body["error"]["message"].as_str().map(|m| m.contains(&why)), Some(true), "{}", res.body);

    // An OAuth install: the app's client id and secret are the bot's.
    let (_, q) = crate::oauth::install(&app, &project, "teams", "").await;
    shared.lock().expect("lock").challenges.push(q["code_challenge"].clone());
    let landed = crate::oauth::callback(&app, "teams", &format!("?code=good-code&state={}", q["state"])).await;
    assert!(landed.contains("status=success"), "{landed}");
    let installed = integrations_of(&app, &project, "teams").await.into_iter().next().expect("the install");
    assert_eq!(installed["settings"]["app_id"], "teams-client", "{installed}");
    assert!(installed["secrets_set"].to_string().contains("app_password"), "{installed}");
    assert!(installed.get("cannot_send").is_none(), "{installed}");
    let send = format!("/api/v1/projects/{project}/integrations/{}/send", installed["id"].as_str().expect("id"));

    let res = app.post(&send, json!({"to": "general", "text": "hi"})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    let res = app.post(&send, json!({"to": TEAMS_CHANNEL, "text": "Release train leaves at 16:00"})).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    assert_eq!(sent(&app, &res.id()).await["status"], "sent");
    {
        let m = seen.lock().expect("lock");
        assert_eq!(m.token_requests.len(), 1);
        let form: std::collections::HashMap<String, String> =
            form_urlencoded::parse(m.token_requests[0].as_bytes()).into_owned().collect();
        assert_eq!(form["grant_type"], "client_credentials");
        assert_eq!((form["client_id"].as_str(), form["client_secret"].as_str()), ("teams-client", "teams-secret"));
        assert_eq!(form["scope"], "https://api.botframework.com/.default");
        assert_eq!(m.posts.len(), 1);
        let (path, auth, body) = &m.posts[0];
        assert_eq!((path.as_str(), auth.as_str()), (TEAMS_CHANNEL, "Bearer bot-token-1"));
        assert_eq!((&body["type"], &body["text"]), (&json!("message"), &json!("Release train leaves at 16:00")));
        assert_eq!(body["conversation"]["id"], TEAMS_CHANNEL);
        assert!(body.get("replyToId").is_none(), "a new message, not a reply: {body}");
    }

    // The token is reused while it lasts.
    let res = app.post(&send, json!({"to": TEAMS_CHANNEL, "text": "second"})).await;
    assert_eq!(sent(&app, &res.id()).await["status"], "sent");
    assert_eq!(seen.lock().expect("lock").token_requests.len(), 1);

    // Another token issued elsewhere invalidates the cached one: refused once, then a fresh one.
    reqwest::Client::new()
        .post(format!("{bot}/token"))
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("token");
    let res = app.post(&send, json!({"to": TEAMS_CHANNEL, "text": "third"})).await;
    assert_eq!(sent(&app, &res.id()).await["status"], "sent");
    {
        let m = seen.lock().expect("lock");
        assert_eq!(m.token_requests.len(), 3);
        let auths: Vec<&str> = m.posts[2..].iter().map(|p| p.1.as_str()).collect();
        assert_eq!(auths, ["Bearer bot-token-1", "Bearer bot-token-3"]);
    }

    // Throttled: retried after Retry-After, sent once.
    seen.lock().expect("lock").refuse.push_back(429);
    let res = app.post(&send, json!({"to": TEAMS_CHANNEL, "text": "fourth"})).await;
    assert_eq!(sent(&app, &res.id()).await["status"], "sent");
    let m = seen.lock().expect("lock");
    let fourth: Vec<&(String, String, Value)> = m.posts.iter().filter(|p| p.2["text"] == "fourth").collect();
    assert_eq!(fourth.len(), 2, "one throttled, one accepted: {fourth:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_to_a_teams_conversation_sqlite() {
    posts_to_a_teams_conversation(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_to_a_teams_conversation_postgres() {
    posts_to_a_teams_conversation(Backend::Postgres).await;
}

/// Slack's incoming webhook, as an OAuth install provides it: used when asked for (no `to`),
/// and for its own channel when there is no bot token; an archived channel fails for good.
async fn posts_through_a_slack_incoming_webhook(backend: Backend) {
    let (slack, seen) = fake_slack().await;
    let (provider, shared) = crate::fakes::oauth::fake_provider().await;
    shared.lock().expect("lock").slack_webhook_url = Some(format!("{slack}/services/T1/B1/secret-hook"));
    let oauth = crate::oauth::settings(&provider);
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.oauth = oauth;
        c.slack_response_url_hosts = vec!["127.0.0.1".into()];
    })
    .await
    else {
        return;
    };
    let project = app.project("slack-hook").await;

    // Without an incoming webhook, a channel must be named.
    let other = app.project("slack-by-hand").await;
    let by_hand = app
        .integration(
            &other,
            json!({"type": "slack", "settings": {"api_base_url": format!("{slack}/api")},
                   "secrets": {"signing_secret": "s", "bot_token": "xoxb-test"}}),
        )
        .await;
    let res = app.post(&format!("/api/v1/projects/{other}/integrations/{by_hand}/send"), json!({"text": "hi"})).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body["error"]["message"].as_str().unwrap_or_default().contains("incoming webhook"), "{}", res.body);

    let (_, q) = crate::oauth::install(&app, &project, "slack", "").await;
    let landed = crate::oauth::callback(&app, "slack", &format!("?code=good-code&state={}", q["state"])).await;
    assert!(landed.contains("status=success"), "{landed}");
    let installed = integrations_of(&app, &project, "slack").await.into_iter().next().expect("the install");
    let id = installed["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/projects/{project}/integrations/{id}");
    let res = app.patch(&path, json!({"settings": {"api_base_url": format!("{slack}/api")}})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let send = format!("{path}/send");
    let calls =
        |from: usize| seen.lock().expect("lock")[from..].iter().map(|c| (c.0.clone(), c.2.clone())).collect::<Vec<_>>();

    // No channel: the incoming webhook, as Slack documents its payload.
    let res = app.post(&send, json!({"text": "Maintenance window tonight 22:00-23:00"})).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    assert_eq!(res.body["recipient"], "incoming webhook");
    assert_eq!(sent(&app, &res.id()).await["status"], "sent");
    assert_eq!(
        calls(0),
        [("incoming_webhook/secret-hook".to_string(), json!({"text": "Maintenance window tonight 22:00-23:00"}))]
    );
    // A channel, with the bot token: chat.postMessage.
    let res = app.post(&send, json!({"to": "C0LAN2Q65", "text": "with the bot"})).await;
    assert_eq!(sent(&app, &res.id()).await["status"], "sent");
    assert_eq!(calls(1)[0].0, "chat.postMessage");

    // Without a bot token, the webhook's own channel goes through the webhook; another
    // channel cannot be reached, and the error says why.
    let res = app.patch(&path, json!({"secrets": {"bot_token": null}})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = app.post(&send, json!({"to": "C0LAN2Q65", "text": "for #ops"})).await;
    assert_eq!(sent(&app, &res.id()).await["status"], "sent");
    assert_eq!(calls(2), [("incoming_webhook/secret-hook".to_string(), json!({"text": "for #ops"}))]);
    let res = app.post(&send, json!({"to": "C0OTHER", "text": "elsewhere"})).await;
    let failed = sent(&app, &res.id()).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().unwrap_or_default().contains("posts only to C0LAN2Q65"), "{failed}");
    assert_eq!(calls(3), []);

    // An archived channel: Slack's 410 and its code, not retried.
    let archived = format!("{slack}/services/T1/B1/archived");
    let res = app.patch(&path, json!({"secrets": {"webhook_url": archived}})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = app.post(&send, json!({"text": "too late"})).await;
    let failed = sent(&app, &res.id()).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["error"].as_str().unwrap_or_default().contains("channel_is_archived"), "{failed}");
    assert_eq!(calls(3).len(), 1, "tried once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_through_a_slack_incoming_webhook_sqlite() {
    posts_through_a_slack_incoming_webhook(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_through_a_slack_incoming_webhook_postgres() {
    posts_through_a_slack_incoming_webhook(Backend::Postgres).await;
}
