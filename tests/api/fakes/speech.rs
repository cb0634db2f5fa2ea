//! Speech to text: one fake of an OpenAI-compatible `/v1/audio/transcriptions` server that
//! records every upload and either hears what a recording holds, as a real recogniser
//! would, or hears the same words in anything sent to it.

use std::sync::{Arc, Mutex};

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// What the fake received: (Authorization, fields other than the file, file name, file bytes).
pub type Seen = Arc<Mutex<Vec<(String, Vec<(String, String)>, String, Vec<u8>)>>>;

/// What the fake hears in an upload.
#[derive(Clone, Copy)]
enum Hearing {
    /// The audio content decides: `noise` is blank, `broken` a 400, `overloaded` a 503, and
    /// anything else an urgent request to renew a TLS certificate.
    ByContent,
    /// The same text, whatever was sent (even something that is not an upload).
    Always(&'static str),
}

/// A recogniser that hears what each recording holds (see the answers above).
pub async fn fake_whisper() -> (String, Seen) {
    serve(Hearing::ByContent).await
}

/// A recogniser that answers every request with `text`, so that any upload is transcribed.
pub async fn fake_whisper_saying(text: &'static str) -> (String, Seen) {
    serve(Hearing::Always(text)).await
}

async fn serve(hearing: Hearing) -> (String, Seen) {
    let seen: Seen = Arc::default();
    async fn transcribe(
        State((hearing, seen)): State<(Hearing, Seen)>,
        headers: HeaderMap,
        form: Result<Multipart, MultipartRejection>,
    ) -> Response {
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let (mut fields, mut file_name, mut file) = (Vec::new(), String::new(), Vec::new());
        if let Ok(mut form) = form {
            while let Ok(Some(field)) = form.next_field().await {
                let name = field.name().unwrap_or_default().to_string();
                if name == "file" {
                    file_name = field.file_name().unwrap_or_default().to_string();
                    file = field.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                } else {
                    fields.push((name, field.text().await.unwrap_or_default()));
                }
            }
        }
        seen.lock().expect("lock").push((auth, fields, file_name, file.clone()));
        if let Hearing::Always(text) = hearing {
            return axum::Json(json!({"text": text})).into_response();
        }
        // The audio content decides the answer, as a real recogniser's would.
        match file.as_slice() {
            b"noise" => (AxumStatus::OK, json!({"text": "  "}).to_string()),
            b"broken" => (
                AxumStatus::BAD_REQUEST,
                json!({"error": {"message": "Invalid file format.", "type": "invalid_request_error"}}).to_string(),
            ),
            b"overloaded" => (AxumStatus::SERVICE_UNAVAILABLE, json!({"error": {"message": "busy"}}).to_string()),
            _ => (
                AxumStatus::OK,
                json!({"text": "We need to renew the TLS certificate of the billing API before Friday, it is urgent."})
                    .to_string(),
            ),
        }
        .into_response()
    }
    let app = axum::Router::new()
        .route("/v1/audio/transcriptions", axum::routing::post(transcribe))
        .with_state((hearing, seen.clone()));
    (crate::helpers::serve(app).await, seen)
}
