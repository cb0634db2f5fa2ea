//! Rate limits on the real server: 429 with `Retry-After` and the error body over an API
//! key's limit, the bucket refilling, keys and integrations limited apart, the buckets
//! shared by two instances through the local Redis, and each platform's webhook answered
//! the way that platform handles it.

use std::time::Duration;

use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use reqwest::StatusCode;
use serde_json::{Value, json};
use taskbridge::config::Config;
use taskbridge::limits::Setting;

use crate::helpers::{ADMIN_KEY, Backend, Resp, TestApp, TestDb, each_backend, spawn_app_with, spawn_configured};

/// One request in five seconds after a burst of three: slow enough that no token comes
/// back while a test makes its requests, however loaded the machine.
fn limit_keys(c: &mut Config) {
    c.rate_limit = Setting(Some(0.2));
    c.rate_burst = Setting(Some(3.0));
}

/// One delivery in ten seconds: a Teams outgoing webhook's first answer may wait up to four
/// seconds for its outcome, and no token may come back meanwhile.
fn limit_webhooks(c: &mut Config) {
    c.webhook_rate_limit = Setting(Some(0.1));
    c.webhook_rate_burst = Setting(Some(1.0));
    c.allow_private_urls = true;
}

fn retry_after(res: &Resp) -> u64 {
    let value = res.headers.get("retry-after").unwrap_or_else(|| panic!("no Retry-After: {}", res.body));
    value.to_str().ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("Retry-After {value:?}"))
}

async fn metrics(app: &TestApp) -> String {
    let res = app.raw().get(format!("{}/metrics", app.base)).send().await.expect("metrics");
    res.text().await.expect("text")
}

/// The value of the metric line starting with `series` (0 when absent).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn api_keys_are_limited_apart_and_refill(backend: Backend) {
    let Some(app) = spawn_app_with(backend, limit_keys).await else { return };
    let member = app.post("/api/v1/api-keys", json!({"name": "other", "role": "member"})).await;
    let other_key = member.body["api_key"].as_str().expect("api_key").to_string();
    // The admin key has made one request (creating the key): two more pass.
    for _ in 0..2 {
        assert_eq!(app.get("/api/v1/projects").await.status, StatusCode::OK);
    }
    let limited = app.get("/api/v1/projects").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{}", limited.body);
    assert_eq!(limited.code(), "rate_limited");
    assert!(limited.body["error"]["message"].as_str().is_some_and(|m| m.contains("API key")), "{}", limited.body);
    let wait = retry_after(&limited);
    assert!((1..=5).contains(&wait), "one token comes back within five seconds: {wait}");
    // Writes are limited the same way, and change nothing.
    let refused = app.post("/api/v1/projects", json!({"name": "flood"})).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);

    // Another key has its own bucket; routes without a key are never limited.
    let other = app.with_key(&other_key);
    for _ in 0..3 {
        assert_eq!(other.send(reqwest::Method::GET, "/api/v1/projects", None).await.status, StatusCode::OK);
    }
    assert_eq!(other.send(reqwest::Method::GET, "/api/v1/projects", None).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.raw().get(format!("{}/health", app.base)).send().await.expect("health").status(), StatusCode::OK);

    let text = metrics(&app).await;
    assert_eq!(
        metric(&text, r#"taskbridge_rate_limited_requests_total{scope="api_key",platform="api",answer="429"}"#),
        3.0,
        "{text}"
    );

    // After Retry-After seconds a token is back: one request passes, the next does not.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let res = app.get("/api/v1/projects").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["items"], json!([]), "the refused create stored nothing");
    assert_eq!(app.get("/api/v1/projects").await.status, StatusCode::TOO_MANY_REQUESTS);
}
each_backend!(api_keys_are_limited_apart_and_refill);

fn redis_url() -> Option<String> {
    let url = std::env::var("TEST_REDIS_URL").ok();
    if url.is_none() {
        eprintln!("TEST_REDIS_URL is not set: the shared rate limit is not tested");
    }
    url
}

/// Two instances on one database: through Redis they draw from one bucket per key; each
/// on its own keeps its own.
async fn two_instances_share_buckets_through_redis(backend: Backend) {
    let Some(redis) = redis_url() else { return };
    let Some((db, url)) = TestDb::create(backend).await else { return };
    let config = |redis: Option<&str>| {
        let mut c = Config::for_tests(&url, ADMIN_KEY);
        limit_keys(&mut c);
        c.redis_url = redis.map(taskbridge::config::Secret::new);
        c
    };
    let first = spawn_configured(db, config(Some(&redis)), backend).await;
    let second = spawn_configured(TestDb::Borrowed, config(Some(&redis)), backend).await;
    for app in [&first, &second, &first] {
        assert_eq!(app.get("/api/v1/projects").await.status, StatusCode::OK);
    }
    let limited = second.get("/api/v1/projects").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "the second instance saw the first's requests");
    assert_eq!(limited.code(), "rate_limited");
    assert!((1..=5).contains(&retry_after(&limited)));
    assert_eq!(first.get("/api/v1/projects").await.status, StatusCode::TOO_MANY_REQUESTS);
    let text = metrics(&first).await;
    assert_eq!(metric(&text, "taskbridge_rate_limit_unchecked_requests_total"), 0.0, "{text}");

    // Without Redis, an instance counts only its own requests.
    let alone = spawn_configured(TestDb::Borrowed, config(None), backend).await;
    for _ in 0..3 {
        assert_eq!(alone.get("/api/v1/projects").await.status, StatusCode::OK);
    }
    assert_eq!(alone.get("/api/v1/projects").await.status, StatusCode::TOO_MANY_REQUESTS);
    drop(alone);
    drop(second);
    first.stop().await;
}
each_backend!(two_instances_share_buckets_through_redis);

/// Redis gone at run time: requests pass (fail open), and /metrics counts them.
async fn an_unreachable_redis_lets_requests_through(backend: Backend) {
    // A loopback port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let Some(app) = spawn_app_with(backend, |c| {
        limit_keys(c);
        c.redis_url = Some(taskbridge::config::Secret::new(format!("redis://127.0.0.1:{port}")));
    })
    .await
    else {
        return;
    };
    for _ in 0..6 {
        assert_eq!(app.get("/api/v1/projects").await.status, StatusCode::OK);
    }
    let text = metrics(&app).await;
    assert_eq!(metric(&text, "taskbridge_rate_limit_unchecked_requests_total"), 6.0, "{text}");
}
each_backend!(an_unreachable_redis_lets_requests_through);

/// A closed loopback port: replies to the platforms fail there, never off the machine.
const NOWHERE: &str = "http://127.0.0.1:9";

async fn intake_jobs(app: &TestApp) -> usize {
    let jobs = app.get("/api/v1/jobs?limit=200").await.body;
    jobs["items"].as_array().map_or(0, |items| items.iter().filter(|j| j["kind"] == "intake.process").count())
}

async fn post_webhook(app: &TestApp, path: &str, headers: &[(&str, String)], body: String) -> (Resp, String) {
    let mut req = app.raw().post(format!("{}{path}", app.base)).body(body);
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    let res = req.send().await.expect("sent");
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.expect("text");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (Resp { status, headers, body }, text)
}

async fn slack(app: &TestApp, integration: &str, body: &str, content_type: &str) -> (Resp, String) {
    let ts = chrono::Utc::now().timestamp().to_string();
    let headers = [
        ("x-slack-request-timestamp", ts.clone()),
        ("x-slack-signature", taskbridge::channels::slack::sign(SLACK_SECRET, &ts, body.as_bytes())),
        ("content-type", content_type.to_string()),
    ];
    post_webhook(app, &format!("/webhooks/slack/{integration}"), &headers, body.to_string()).await
}

const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

fn slack_event(id: &str, text: &str) -> String {
    json!({"token": "x", "team_id": "T1", "type": "event_callback", "event_id": id, "event_time": 1,
           "event": {"type": "app_mention", "channel": "C0LAN2Q65", "user": "U061F7AUR", "text": text,
                     "ts": format!("1767225599.{id}"), "event_ts": "1767225599.000100"}})
    .to_string()
}

fn slash_command(trigger: &str, text: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("command", "/task"),
            ("text", text),
            ("user_name", "ana"),
            ("channel_id", "C1"),
            ("trigger_id", trigger),
            ("response_url", "http://127.0.0.1:9/commands/1"),
        ])
        .finish()
}

/// Slack: events get 429 (Slack sends them again) and are taken when sent again after
/// `Retry-After`; slash commands, which Slack never resends, tell the person; handshakes
/// are always answered; another integration is not affected.
async fn slack_webhooks_over_the_limit(backend: Backend) {
    let Some(app) = spawn_app_with(backend, limit_webhooks).await else { return };
    let project = app.project("limits").await;
    let body = json!({"type": "slack", "settings": {"api_base_url": NOWHERE},
                      "secrets": {"signing_secret": SLACK_SECRET, "bot_token": "xoxb-test"}});
    let other_project = app.project("limits too").await;
    let (first, second) = (app.integration(&project, body.clone()).await, app.integration(&other_project, body).await);
    let json_type = "application/json";

    let (res, _) = slack(&app, &first, &slack_event("Ev1", "<@U0BOT> renew the TLS certificate"), json_type).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let (limited, _) = slack(&app, &first, &slack_event("Ev2", "<@U0BOT> rotate the API keys"), json_type).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{}", limited.body);
    assert_eq!(limited.code(), "rate_limited");
    assert!(limited.headers.get("x-slack-no-retry").is_none(), "Slack must send it again");
    let wait = retry_after(&limited);
    assert!((1..=10).contains(&wait), "{wait}");
    assert_eq!(intake_jobs(&app).await, 1, "nothing was taken from the limited event");

    let (told, text) =
        slack(&app, &first, &slash_command("tr-1", "order new laptops"), "application/x-www-form-urlencoded").await;
    assert_eq!(told.status, StatusCode::OK, "{text}");
    assert_eq!(told.body["response_type"], "ephemeral", "{text}");
    assert!(told.body["text"].as_str().is_some_and(|t| t.contains("send it again")), "{text}");
    let challenge = json!({"token": "x", "challenge": "c-123", "type": "url_verification"}).to_string();
    let (handshake, _) = slack(&app, &first, &challenge, json_type).await;
    assert_eq!((handshake.status, &handshake.body["challenge"]), (StatusCode::OK, &json!("c-123")));

    let (other, _) = slack(&app, &second, &slack_event("Ev3", "<@U0BOT> fix the build"), json_type).await;
    assert_eq!(other.status, StatusCode::OK, "another integration has its own bucket");

    let text = metrics(&app).await;
    let series = |answer: &str| {
        format!(r#"taskbridge_rate_limited_requests_total{{scope="webhook",platform="slack",answer="{answer}"}}"#)
    };
    assert_eq!((metric(&text, &series("429")), metric(&text, &series("told"))), (1.0, 1.0), "{text}");

    // Slack's retry after the wait is taken: the request was not lost.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let (retried, _) = slack(&app, &first, &slack_event("Ev2", "<@U0BOT> rotate the API keys"), json_type).await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
    assert_eq!(intake_jobs(&app).await, 3);
}
each_backend!(slack_webhooks_over_the_limit);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Platforms that do not resend a refused webhook (Discord interactions, Teams outgoing
/// webhooks, Twilio) get a success with words for the person; Telegram, which resends, 429.
async fn other_platforms_over_the_limit(backend: Backend) {
    let Some(app) = spawn_app_with(backend, limit_webhooks).await else { return };
    let project = app.project("limits").await;

    // Discord: an ephemeral message instead of the deferral.
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let discord = app
        .integration(
            &project,
            json!({"type": "discord", "settings": {"api_base_url": NOWHERE},
                   "secrets": {"public_key": hex(key.verifying_key().as_bytes()), "bot_token": "Bot-x"}}),
        )
        .await;
    let interaction = |id: &str| {
        json!({"id": id, "application_id": "1234567890123456789", "type": 2, "token": "tok", "version": 1,
               "channel_id": "1200000000000000002",
               "data": {"id": "1", "name": "task", "type": 1, "options": [{"name": "title", "type": 3, "value": "Fix the login page"}]},
               "member": {"user": {"id": "1000000000000000006", "username": "ana"}}})
        .to_string()
    };
    let send_discord = |body: String| {
        let ts = chrono::Utc::now().timestamp().to_string();
        let signature = hex(&key.sign(format!("{ts}{body}").as_bytes()).to_bytes());
        let headers = [
            ("content-type", "application/json".to_string()),
            ("x-signature-ed25519", signature),
            ("x-signature-timestamp", ts),
        ];
        let app = &app;
        let path = format!("/webhooks/discord/{discord}");
        async move { post_webhook(app, &path, &headers, body).await }
    };
    assert_eq!(send_discord(interaction("1300000000000000001")).await.0.body, json!({"type": 5}));
    let (told, text) = send_discord(interaction("1300000000000000002")).await;
    assert_eq!(told.status, StatusCode::OK, "{text}");
    assert_eq!((told.body["type"].as_i64(), told.body["data"]["flags"].as_i64()), (Some(4), Some(64)), "{text}");
    // PING is a handshake: answered over the limit too.
    assert_eq!(send_discord(json!({"type": 1}).to_string()).await.0.body, json!({"type": 1}));

    // A Teams outgoing webhook: a message activity saying so.
    let token = base64::engine::general_purpose::STANDARD.encode([5u8; 32]);
    let teams = app.integration(&project, json!({"type": "teams", "secrets": {"hmac_secret": token}})).await;
    let activity = |id: &str| {
        json!({"type": "message", "id": id, "serviceUrl": "https://smba.trafficmanager.net/emea/",
               "channelId": "msteams", "from": {"id": "29:1", "name": "Megan"},
               "conversation": {"id": format!("19:abc@thread.tacv2;messageid={id}")},
               "text": "<at>TaskBot</at> renew the certificate"})
        .to_string()
    };
    let send_teams = |body: String| {
        let signature = taskbridge::channels::msteams::sign(&token, body.as_bytes()).expect("signed");
        let headers = [("content-type", "application/json".to_string()), ("authorization", signature)];
        let app = &app;
        let path = format!("/webhooks/teams/{teams}");
        async move { post_webhook(app, &path, &headers, body).await }
    };
    assert_eq!(send_teams(activity("1")).await.0.status, StatusCode::OK);
    let (told, text) = send_teams(activity("2")).await;
    assert_eq!(told.status, StatusCode::OK, "{text}");
    assert_eq!(told.body["type"], "message");
    assert!(told.body["text"].as_str().is_some_and(|t| t.contains("send it again")), "{text}");

    // WhatsApp through Twilio: TwiML telling the sender.
    let created = app
        .post(
            &format!("/api/v1/projects/{project}/integrations"),
            json!({"type": "whatsapp", "settings": {"api_base_url": NOWHERE, "account_sid": "AC1",
                   "from_number": "+14155238886"}, "secrets": {"auth_token": "twilio-token"}}),
        )
        .await;
    let url = created.body["webhook_url"].as_str().expect("webhook_url").to_string();
    let whatsapp = created.id();
    let send_whatsapp = |sid: &str| {
        let fields: Vec<(String, String)> = [
            ("MessageSid", sid),
            ("From", "whatsapp:+34600111222"),
            ("To", "whatsapp:+14155238886"),
            ("Body", "the checkout page shows a 500 error"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let signature = taskbridge::channels::whatsapp::sign("twilio-token", &url, &fields);
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&fields).finish();
        let headers =
            [("content-type", "application/x-www-form-urlencoded".to_string()), ("x-twilio-signature", signature)];
        let app = &app;
        let path = format!("/webhooks/whatsapp/{whatsapp}");
        async move { post_webhook(app, &path, &headers, body).await }
    };
    assert_eq!(send_whatsapp("SM1").await.0.status, StatusCode::OK);
    let (told, text) = send_whatsapp("SM2").await;
    assert_eq!(told.status, StatusCode::OK, "{text}");
    assert!(text.contains("<Message>") && text.contains("send it again"), "{text}");

    // Telegram resends: 429 with Retry-After.
    let telegram = app
        .integration(
            &project,
            json!({"type": "telegram", "settings": {"api_base_url": NOWHERE},
                   "secrets": {"secret_token": "tg-secret", "bot_token": "123:ABC"}}),
        )
        .await;
    let send_telegram = |id: i64| {
        let body = crate::fakes::telegram::update(id, "/task fix the VPN").to_string();
        let headers = [
            ("content-type", "application/json".to_string()),
            ("x-telegram-bot-api-secret-token", "tg-secret".to_string()),
        ];
        let app = &app;
        let path = format!("/webhooks/telegram/{telegram}");
        async move { post_webhook(app, &path, &headers, body).await }
    };
    assert_eq!(send_telegram(1).await.0.status, StatusCode::OK);
    let (limited, text) = send_telegram(2).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS, "{text}");
    assert_eq!(limited.code(), "rate_limited");
    assert!((1..=10).contains(&retry_after(&limited)));

    // One request of each platform was taken; none of the refused ones.
    assert_eq!(intake_jobs(&app).await, 4);
    let text = metrics(&app).await;
    for (platform, answer) in [("discord", "told"), ("teams", "told"), ("whatsapp", "told"), ("telegram", "429")] {
        let series = format!(
            r#"taskbridge_rate_limited_requests_total{{scope="webhook",platform="{platform}",answer="{answer}"}}"#
        );
        assert_eq!(metric(&text, &series), 1.0, "{series}\n{text}");
    }
}
each_backend!(other_platforms_over_the_limit);
