//! Twilio: a fake of the Messages API that WhatsApp replies go through, rate-limiting the
//! first call and recording the form of every other.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use serde_json::json;

/// A form's fields, in order.
pub type Form = Vec<(String, String)>;

/// What the Messages API was asked.
#[derive(Default)]
pub struct Fake {
    /// Every call, the rate-limited first one included.
    pub calls: usize,
    /// (account in the path, Authorization header, form fields)
    pub sent: Vec<(String, String, Form)>,
    /// The Authorization header of each media download.
    pub media: Vec<String>,
}

pub type Seen = Arc<Mutex<Fake>>;

/// Twilio's Messages API (`POST /2010-04-01/Accounts/{account}/Messages.json`): the first
/// call is rate-limited (429 with Retry-After: 1), the others are queued (201) and recorded.
pub async fn fake_twilio() -> (String, Seen) {
    let seen: Seen = Arc::default();
    async fn send(
        State(seen): State<Seen>,
        Path(account): Path<String>,
        headers: HeaderMap,
        body: String,
    ) -> (AxumStatus, [(&'static str, &'static str); 1], String) {
        let mut fake = seen.lock().expect("lock");
        fake.calls += 1;
        if fake.calls == 1 {
            let error = json!({"code": 20429, "message": "Too Many Requests", "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429});
            return (AxumStatus::TOO_MANY_REQUESTS, [("retry-after", "1")], error.to_string());
        }
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let form = form_urlencoded::parse(body.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        fake.sent.push((account, auth, form));
        let ok = json!({"sid": "SM0123", "status": "queued", "body": "…"});
        (AxumStatus::CREATED, [("content-type", "application/json")], ok.to_string())
    }
    // A message's media (a voice note): `OggS-<media sid>`, with the caller's credentials
    // recorded.
    async fn media(
        State(seen): State<Seen>,
        Path((_account, _message, media)): Path<(String, String, String)>,
        headers: HeaderMap,
    ) -> ([(&'static str, &'static str); 1], Vec<u8>) {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        seen.lock().expect("lock").media.push(auth);
        ([("content-type", "audio/ogg")], format!("OggS-{media}").into_bytes())
    }
    let app = axum::Router::new()
        .route("/2010-04-01/Accounts/{account}/Messages.json", axum::routing::post(send))
        .route("/2010-04-01/Accounts/{account}/Messages/{message}/Media/{media}", axum::routing::get(media))
        .with_state(seen.clone());
    (crate::helpers::serve(app).await, seen)
}
