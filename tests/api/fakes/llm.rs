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

/// An embeddings server (Ollama's `POST /api/embed` and an OpenAI-compatible
/// `POST /v1/embeddings`, both `{model, input: [texts]}`) whose vectors count the words of
/// each concept in `concepts` (a text's vector has one dimension per concept, plus one for
/// any other word). Texts with none of a concept's words share nothing in that dimension;
/// a paraphrase naming the same concepts in other words is close. The texts it was asked
/// to embed, in order.
pub async fn fake_embeddings(concepts: &'static [&'static [&'static str]]) -> (String, Arc<Mutex<Vec<String>>>) {
    fake_embeddings_after(concepts, std::time::Duration::ZERO).await
}

/// [`fake_embeddings`], answering each call only after `delay` (the texts are recorded when
/// the call arrives).
pub async fn fake_embeddings_after(
    concepts: &'static [&'static [&'static str]],
    delay: std::time::Duration,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let inputs: Arc<Mutex<Vec<String>>> = Arc::default();
    let vector = move |text: &str| -> Vec<f64> {
        let mut v = vec![0.0; concepts.len() + 1];
        for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
            let word = word.to_lowercase();
            match concepts.iter().position(|c| c.iter().any(|stem| word.starts_with(stem))) {
                Some(i) => v[i] += 1.0,
                None => v[concepts.len()] += 0.05,
            }
        }
        v
    };
    let route = |ollama: bool| {
        let inputs = inputs.clone();
        axum::routing::post(move |Json(body): Json<Value>| async move {
            let texts: Vec<String> = match &body["input"] {
                Value::String(s) => vec![s.clone()],
                other => {
                    other.as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_string)).collect()
                }
            };
            inputs.lock().expect("lock").extend(texts.iter().cloned());
            tokio::time::sleep(delay).await;
            let vectors: Vec<Vec<f64>> = texts.iter().map(|t| vector(t)).collect();
            match ollama {
                true => Json(serde_json::json!({"model": body["model"], "embeddings": vectors})),
                false => Json(serde_json::json!({
                    "object": "list", "model": body["model"],
                    "data": vectors.iter().enumerate()
                        .map(|(i, v)| serde_json::json!({"object": "embedding", "index": i, "embedding": v}))
                        .collect::<Vec<_>>(),
                })),
            }
        })
    };
    let app = axum::Router::new().route("/api/embed", route(true)).route("/v1/embeddings", route(false));
    (crate::helpers::serve(app).await, inputs)
}
