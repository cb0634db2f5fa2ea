//! Microsoft Teams bots: activities carrying Bot Connector JWTs (RS256, signed in the test
//! with a key a local fake publishes through OpenID metadata, as Microsoft does), answered by
//! posting into the conversation with a client-credentials token.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::fakes::microsoft::{fake_microsoft, jwt};
use crate::helpers::{Backend, TestApp, spawn_app_with};

pub(crate) const APP_ID: &str = "2f1c7a4e-6d0b-4e39-9a8e-1b2c3d4e5f60";
const BOT_ID: &str = "28:2f1c7a4e-6d0b-4e39-9a8e-1b2c3d4e5f60";
pub(crate) const CONVERSATION: &str = "19:693e@thread.tacv2;messageid=1767225600123";

pub(crate) fn claims(service_url: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"serviceurl": service_url, "nbf": now - 60, "exp": now + 3600, "iss": "https://api.botframework.com",
           "aud": APP_ID})
}

pub(crate) fn activity(id: &str, service_url: &str, text: &str, mention: bool, conversation_type: &str) -> Value {
    let entities = if mention {
        json!([{"type": "mention", "mentioned": {"id": BOT_ID, "name": "TaskBot"}, "text": "<at>TaskBot</at>"}])
    } else {
        json!([])
    };
    json!({"type": "message", "id": id, "timestamp": "2026-11-22T09:30:00.123Z", "serviceUrl": service_url,
           "channelId": "msteams", "from": {"id": "29:1XJK", "name": "Megan Bowen", "aadObjectId": "a1"},
           "conversation": {"id": CONVERSATION, "conversationType": conversation_type, "tenantId": "t1"},
           "recipient": {"id": BOT_ID, "name": "TaskBot"}, "text": text, "textFormat": "plain",
           "entities": entities, "channelData": {"channel": {"id": "19:693e@thread.tacv2"}, "tenant": {"id": "t1"}}})
}

pub(crate) async fn deliver(app: &TestApp, integration: &str, body: &Value, token: Option<&str>) -> StatusCode {
    let mut req = app.raw().post(format!("{}/webhooks/teams/{integration}", app.base)).json(body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.expect("sent").status()
}

async fn teams_bot(backend: Backend) {
    let (fake, seen) = fake_microsoft().await;
    let Some(app) = spawn_app_with(backend, |c| {
        c.allow_private_urls = true;
        c.botframework_openid_url = Some(format!("{fake}/openid"));
        c.botframework_token_url = Some(format!("{fake}/token"));
    })
    .await
    else {
        return;
    };
    let project = app.project("teams-bot").await;
    let integration = app
        .post(
            &format!("/api/v1/projects/{project}/integrations"),
            json!({"type": "teams", "settings": {"app_id": APP_ID}, "secrets": {"app_password": "bot-password-1"}}),
        )
        .await
        .id();
    let service_url = format!("{fake}/");
    let request =
        activity("1767225600123", &service_url, "<at>TaskBot</at> migrate the wiki to the new space", true, "channel");
    let good = jwt(claims(&service_url), "test-key-1");

    // Refused: no token, a token for another bot, an expired one, one from an unknown key,
    // one issued for another service URL, a tampered activity. Nothing stored.
    assert_eq!(deliver(&app, &integration, &request, None).await, StatusCode::UNAUTHORIZED);
    let mut other_bot = claims(&service_url);
    other_bot["aud"] = json!("another-app");
    assert_eq!(
        deliver(&app, &integration, &request, Some(&jwt(other_bot, "test-key-1"))).await,
        StatusCode::UNAUTHORIZED
    );
    let mut expired = claims(&service_url);
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    assert_eq!(
        deliver(&app, &integration, &request, Some(&jwt(expired, "test-key-1"))).await,
        StatusCode::UNAUTHORIZED
    );
    let unknown_key = jwt(claims(&service_url), "rotated-away");
    assert_eq!(deliver(&app, &integration, &request, Some(&unknown_key)).await, StatusCode::UNAUTHORIZED);
    let elsewhere = jwt(claims("https://attacker.example/"), "test-key-1");
    assert_eq!(deliver(&app, &integration, &request, Some(&elsewhere)).await, StatusCode::UNAUTHORIZED);
    let mut tampered = request.clone();
    tampered["serviceUrl"] = json!("https://attacker.example/");
    assert_eq!(deliver(&app, &integration, &tampered, Some(&good)).await, StatusCode::UNAUTHORIZED);
    let mut forged = good.clone();
    forged.replace_range(forged.len() - 8.., "AAAAAAAA");
    assert_eq!(deliver(&app, &integration, &request, Some(&forged)).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/v1/jobs").await.body["items"], json!([]));

    // Delivered twice: one task, one answer in the conversation.
    assert_eq!(deliver(&app, &integration, &request, Some(&good)).await, StatusCode::OK);
    assert_eq!(deliver(&app, &integration, &request, Some(&good)).await, StatusCode::OK);
    // Channel chatter without a mention is not for the bot; a personal chat is.
    let chatter = activity("1767225600200", &service_url, "lunch?", false, "channel");
    assert_eq!(deliver(&app, &integration, &chatter, Some(&good)).await, StatusCode::OK);
    let personal = activity("1767225600300", &service_url, "renew the TLS certificate", false, "personal");
    assert_eq!(deliver(&app, &integration, &personal, Some(&good)).await, StatusCode::OK);

    for _ in 0..200 {
        if seen.lock().expect("lock").posts.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (posts, token_requests) = {
        let m = seen.lock().expect("lock");
        (m.posts.clone(), m.token_requests.clone())
    };
    assert_eq!(posts.len(), 2, "{posts:?}");
    // Answers may go out in either order: the mention's is found by its path.
    let mention_path = format!("{CONVERSATION}|1767225600123");
    let (_, auth, body) =
        posts.iter().find(|p| p.0 == mention_path).expect("the conversation id is one encoded segment");
    assert_eq!(auth, "Bearer bot-token-1");
    assert_eq!(body["type"], "message");
    assert_eq!(body["replyToId"], "1767225600123");
    assert!(body["text"].as_str().unwrap_or_default().starts_with("Created task"), "{body}");
    assert_eq!(token_requests.len(), 1, "the token is reused: {token_requests:?}");
    let form: Vec<(String, String)> =
        form_urlencoded::parse(token_requests[0].as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    assert!(form.contains(&("client_id".into(), APP_ID.into())), "{form:?}");
    assert!(form.contains(&("grant_type".into(), "client_credentials".into())), "{form:?}");
    assert!(form.contains(&("scope".into(), "https://api.botframework.com/.default".into())), "{form:?}");

    let tasks = app.get("/api/v1/tasks").await.body;
    let titles: Vec<&str> =
        tasks["items"].as_array().expect("items").iter().filter_map(|t| t["title"].as_str()).collect();
    assert_eq!(titles.len(), 2, "{tasks}");
    assert!(titles.iter().any(|t| t.starts_with("Migrate the wiki")), "{titles:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_bot_sqlite() {
    teams_bot(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_bot_postgres() {
    teams_bot(Backend::Postgres).await;
}
