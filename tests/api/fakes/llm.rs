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

/// Whether a request asks for a duplicate judgement (its answer schema has `verdicts`)
/// rather than a task draft.
pub fn asks_for_a_judgement(body: &Value) -> bool {
    let schema = match body["format"].is_object() {
        true => &body["format"],
        false => &body["response_format"]["json_schema"]["schema"],
    };
    schema["properties"]["verdicts"].is_object()
}

/// A successful answer of `api` whose message says `content`.
pub fn says(api: Api, content: &str) -> Response {
    use axum::response::IntoResponse;
    match api {
        Api::Ollama => Json(serde_json::json!({
            "model": "llama3.2", "message": {"role": "assistant", "content": content}, "done": true
        }))
        .into_response(),
        Api::OpenAi => Json(serde_json::json!({
            "id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content, "refusal": null}}]
        }))
        .into_response(),
    }
}
