//! Microsoft for Teams bots: a fake of the Bot Framework's OpenID metadata and key set, the
//! client-credentials token endpoint and the Bot Connector's conversations API, and Bot
//! Connector tokens signed with the key it publishes.

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
    /// Activities posted: (`{conversation}|{activity}` from the path, Authorization, body).
    pub posts: Vec<(String, String, Value)>,
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
pub fn jwt(claims: Value, kid: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "typ": "JWT", "kid": kid}).to_string());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    let pair = key_pair();
    let mut signature = vec![0u8; pair.public().modulus_len()];
    pair.sign(&RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), signed.as_bytes(), &mut signature).expect("sign");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}
