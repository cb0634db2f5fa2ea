//! Outgoing webhooks: a fake of the endpoint a project's `webhook` integration posts task
//! events to, recording taskbridge's `x-taskbridge-*` headers and the raw body of every
//! request and failing the first with a 500.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use serde_json::{Value, json};

/// Requests received: (headers as a JSON object, body), the first answered 500.
pub type Received = Arc<Mutex<Vec<(Value, String)>>>;

/// A receiver of a project's outgoing webhooks at `/hooks/taskbridge`; its full URL.
pub async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    async fn hook(State(r): State<Received>, headers: HeaderMap, body: String) -> AxumStatus {
        let headers: serde_json::Map<String, Value> = headers
            .iter()
            .filter(|(k, _)| k.as_str().starts_with("x-taskbridge"))
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or_default())))
            .collect();
        let mut all = r.lock().expect("lock");
        all.push((Value::Object(headers), body));
        if all.len() == 1 { AxumStatus::INTERNAL_SERVER_ERROR } else { AxumStatus::NO_CONTENT }
    }
    let app = axum::Router::new().route("/hooks/taskbridge", axum::routing::post(hook)).with_state(received.clone());
    (format!("{}/hooks/taskbridge", crate::helpers::serve(app).await), received)
}
