//! Language models: one fake of an OpenAI-compatible server (`POST /v1/chat/completions`)
//! and of Ollama (`POST /api/chat`) that records every request; what it answers (and how
//! late) is the test's to say.

use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;

/// Which of the two APIs a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    OpenAi,
    Ollama,
}

/// The requests received, in order, with their headers.
pub type Seen = Arc<Mutex<Vec<(HeaderMap, Value)>>>;

/// Serves both APIs, each request recorded and then answered by `answer` (given the API it
/// came to and its body); the base URL and the requests.
pub async fn fake_llm<F, Fut>(answer: F) -> (String, Seen)
where
    F: Fn(Api, Value) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response> + Send + 'static,
{
    let seen = Seen::default();
    let route = |api: Api| {
        let (seen, answer) = (seen.clone(), answer.clone());
        axum::routing::post(move |headers: HeaderMap, Json(body): Json<Value>| async move {
            seen.lock().expect("lock").push((headers, body.clone()));
            answer(api, body).await
        })
    };
    let app =
        axum::Router::new().route("/v1/chat/completions", route(Api::OpenAi)).route("/api/chat", route(Api::Ollama));
    (crate::helpers::serve(app).await, seen)
}
