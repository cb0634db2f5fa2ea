//! Microsoft for Teams bots: a fake of the Bot Framework's OpenID metadata and key set, the
//! client-credentials token endpoint and the Bot Connector's conversations API (replies to an
//! activity and new messages in a conversation, which accepts only the latest token it
//! handed out), and Bot Connector tokens signed with the key it publishes.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair, RsaPublicKeyComponents};
use serde_json::{Value, json};

/// The test key (`kid` `test-key-1`) that the fake publishes and [`jwt`] signs with.
fn key_pair() -> RsaKeyPair {
    let der = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/botframework-test-key.der"))
        .expect("test key");
    RsaKeyPair::from_der(&der).expect("PKCS#1 RSA key")
}

/// What reached Microsoft.
#[derive(Default)]
pub struct Microsoft {
    /// The token requests' form bodies.
    pub token_requests: Vec<String>,
    /// Activities posted: (`{conversation}|{activity}` from the path, or `{conversation}` for
    /// a new message, Authorization, body).
    pub posts: Vec<(String, String, Value)>,
    /// Answers the next posts get instead of 201, in order (`429` with `Retry-After: 1`).
    pub refuse: std::collections::VecDeque<u16>,
}

pub type Seen = Arc<Mutex<Microsoft>>;

/// Microsoft for a bot: OpenID metadata, the key set, the token endpoint and the Bot
/// Connector, on one server.
pub async fn fake_microsoft() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let public = RsaPublicKeyComponents::<Vec<u8>>::from(key_pair().public());
    let jwks = json!({"keys": [{"kty": "RSA", "use": "sig", "kid": "test-key-1",
        "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e),
        "endorsements": ["msteams", "skype"]}]});
    let metadata = json!({"issuer": "https://api.botframework.com", "jwks_uri": format!("{base}/keys"),
                          "id_token_signing_alg_values_supported": ["RS256"]});
    /// Tokens `bot-token-1`, `bot-token-2`… one per request.
    async fn token(State(seen): State<Seen>, body: String) -> Json<Value> {
        let mut seen = seen.lock().expect("lock");
        seen.token_requests.push(body);
        let token = format!("bot-token-{}", seen.token_requests.len());
        Json(json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}))
    }
    fn posted(seen: &Seen, path: String, headers: &HeaderMap, body: Value) -> axum::response::Response {
        use axum::response::IntoResponse;
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let mut seen = seen.lock().expect("lock");
        let latest = format!("Bearer bot-token-{}", seen.token_requests.len());
        seen.posts.push((path, auth.clone(), body));
        if auth != latest {
            return (
                axum::http::StatusCode::UNAUTHORIZED,
                Json(json!({"message": "Authorization has been denied for this request."})),
            )
                .into_response();
        }
        match seen.refuse.pop_front() {
            Some(429) => (axum::http::StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], "").into_response(),
            Some(status) => {
                axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::BAD_REQUEST).into_response()
            }
            None => (axum::http::StatusCode::CREATED, Json(json!({"id": "1767225601000"}))).into_response(),
        }
    }
    async fn reply(
        State(seen): State<Seen>,
        Path((conversation, activity)): Path<(String, String)>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> axum::response::Response {
        posted(&seen, format!("{conversation}|{activity}"), &headers, body)
    }
    async fn send(
        State(seen): State<Seen>,
        Path(conversation): Path<String>,
        headers: HeaderMap,
        Json(body): Json<Value>,
    ) -> axum::response::Response {
        posted(&seen, conversation, &headers, body)
    }
    let app = axum::Router::new()
        .route("/openid", axum::routing::get(move || async move { Json(metadata) }))
        .route("/keys", axum::routing::get(move || async move { Json(jwks) }))
        .route("/token", axum::routing::post(token))
        .route("/v3/conversations/{conversation}/activities/{activity}", axum::routing::post(reply))
        .route("/v3/conversations/{conversation}/activities", axum::routing::post(send))
        .with_state(seen.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, seen)
}

/// A Bot Connector token, signed as Microsoft signs it (RS256).
pub fn jwt(claims: Value, kid: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "typ": "JWT", "kid": kid}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    let pair = key_pair();
    let mut signature = vec![0u8; pair.public().modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), signed.as_bytes(), &mut signature).expect("sign");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}
