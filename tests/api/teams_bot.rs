//! Microsoft Teams bots: activities carrying Bot Connector JWTs (RS256, signed in the test
//! with a key a local fake publishes through OpenID metadata, as Microsoft does), answered by
//! posting into the conversation with a client-credentials token.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app_with};

const APP_ID: &str = "2f1c7a4e-6d0b-4e39-9a8e-1b2c3d4e5f60";
const BOT_ID: &str = "28:2f1c7a4e-6d0b-4e39-9a8e-1b2c3d4e5f60";
const CONVERSATION: &str = "19:693e@thread.tacv2;messageid=1767225600123";

fn key_pair() -> RsaKeyPair {
    let der = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/botframework-test-key.der"))
        .expect("test key");
    RsaKeyPair::from_der(&der).expect("PKCS#1 RSA key")
}

#[derive(Default)]
struct Microsoft {
    token_requests: Vec<String>,
    posts: Vec<(String, String, Value)>,
}

type Seen = Arc<Mutex<Microsoft>>;

/// OpenID metadata, the key set, the token endpoint and the Bot Connector, on one server.
async fn fake_microsoft() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let public = RsaPublicKeyComponents::<Vec<u8>>::from(key_pair().public());
    let jwks = json!({"keys": [{"kty": "RSA", "use": "sig", "kid": "test-key-1",
        "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e),
        "endorsements": ["msteams", "skype"]}]});
    let metadata = json!({"issuer": "https://api.botframework.com", "jwks_uri": format!("{base}/keys"),
                          "id_token_signing_alg_values_supported": ["RS256"]});
    async fn token(State(seen): State<Seen>, body: String) -> Json<Value> {
        seen.lock().expect("lock").token_requests.push(body);
        Json(json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": "bot-token-1"}))
    }
    async fn post(
        State(seen): State<Seen>,
        Path((conversation, activity)): Path<(String, String)>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> (axum::http::StatusCode, Json<Value>) {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        seen.lock().expect("lock").posts.push((format!("{conversation}|{activity}"), auth, body));
        (axum::http::StatusCode::CREATED, Json(json!({"id": "1767225601000"})))
    }
    let app = axum::Router::new()
        .route("/openid", axum::routing::get(move || async move { Json(metadata) }))
        .route("/keys", axum::routing::get(move || async move { Json(jwks) }))
        .route("/token", axum::routing::post(token))
        .route("/v3/conversations/{conversation}/activities/{activity}", axum::routing::post(post))
        .with_state(seen.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, seen)
}

/// A Bot Connector token, signed as Microsoft signs it (RS256).
fn jwt(claims: Value, kid: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "typ": "JWT", "kid": kid}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    let pair = key_pair();
    let mut signature = vec![0u8; pair.public().modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), signed.as_bytes(), &mut signature).expect("sign");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn claims(service_url: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"serviceurl": service_url, "nbf": now - 60, "exp": now + 3600, "iss": "https://api.botframework.com",
           "aud": APP_ID})
}

fn activity(id: &str, service_url: &str, text: &str, mention: bool, conversation_type: &str) -> Value {
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

async fn deliver(app: &TestApp, integration: &str, body: &Value, token: Option<&str>) -> StatusCode {
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
