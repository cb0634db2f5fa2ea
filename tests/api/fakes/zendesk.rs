//! Zendesk: a fake of the Support API (tickets listed, created, shown, updated and deleted,
//! comments listed and redacted, the incremental export in cursor pages of two), for an
//! agent's API token or an OAuth install's bearer token, its first requests meeting the
//! troubles it is given.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::Trouble;
use crate::helpers::TroubleQueue;

/// The tickets; each keeps its comments under `_comments` (never served with the ticket).
pub type Shared = Arc<Mutex<Vec<Value>>>;

/// Now, as Zendesk writes times.
pub fn zendesk_time() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn authorized(headers: &HeaderMap) -> bool {
    let expected =
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("bot@example.org/token:zd-token-1"));
    // An agent's API token, or an OAuth install's bearer token.
    headers.get("authorization").is_some_and(|v| v == expected.as_str() || v == "Bearer zd-oauth-1")
}

fn denied() -> Response {
    (AxumStatus::UNAUTHORIZED, Json(json!({"error": "Couldn't authenticate you"}))).into_response()
}

/// The Support API under `/api/v2`; the base URL, the tickets, and the troubles not met yet.
pub async fn fake_zendesk(troubles: &[Trouble]) -> (String, Shared, TroubleQueue) {
    let shared: Shared = Arc::default();
    async fn list(State(s): State<Shared>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
        if !authorized(&headers) {
            return denied();
        }
        let tickets = s.lock().expect("lock").clone();
        if let Some(external) = q.get("external_id") {
            let found: Vec<Value> = tickets.into_iter().filter(|t| t["external_id"] == external.as_str()).collect();
            return Json(json!({"tickets": found, "next_page": null, "count": 0})).into_response();
        }
        // Cursor pagination; this fake pages by 2 whatever the size asked.
        let start: usize =
            q.get("page[after]").and_then(|c| c.strip_prefix("c")).and_then(|n| n.parse().ok()).unwrap_or(0);
        let page: Vec<Value> = tickets.iter().skip(start).take(2).cloned().collect();
        let more = start + 2 < tickets.len();
        Json(json!({"tickets": page, "meta": {"has_more": more, "after_cursor": if more { json!(format!("c{}", start + 2)) } else { json!(null) }},
                    "links": {"next": null}}))
        .into_response()
    }
    async fn create(State(s): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
        if !authorized(&headers) {
            return denied();
        }
        let t = &body["ticket"];
        if t["subject"].as_str().unwrap_or_default().is_empty() {
            let error = json!({"error": "RecordInvalid", "description": "Record validation errors",
                               "details": {"subject": [{"description": "Subject: cannot be blank"}]}});
            return (AxumStatus::UNPROCESSABLE_ENTITY, Json(error)).into_response();
        }
        let mut tickets = s.lock().expect("lock");
        let id = 4240 + tickets.len() as i64;
        let ticket = json!({"id": id, "subject": t["subject"], "description": t["comment"]["body"], "status": "new",
                            "priority": t["priority"], "external_id": t["external_id"], "tags": t["tags"],
                            "comment_public": t["comment"]["public"], "updated_at": zendesk_time()});
        tickets.push(ticket.clone());
        (AxumStatus::CREATED, Json(json!({"ticket": ticket, "audit": {}}))).into_response()
    }
    async fn update(
        State(s): State<Shared>,
        headers: HeaderMap,
        Path(id): Path<i64>,
        Json(body): Json<Value>,
    ) -> Response {
        if !authorized(&headers) {
            return denied();
        }
        let mut tickets = s.lock().expect("lock");
        let Some(t) = tickets.iter_mut().find(|t| t["id"] == id) else {
            return (AxumStatus::NOT_FOUND, Json(json!({"error": "RecordNotFound", "description": "Not found"})))
                .into_response();
        };
        for field in ["status", "subject", "priority", "tags"] {
            if let Some(value) = body["ticket"].get(field) {
                t[field] = value.clone();
                t["updated_at"] = json!(zendesk_time());
            }
        }
        if let Some(comment) = body["ticket"].get("comment") {
            let mut comments = t["_comments"].as_array().cloned().unwrap_or_default();
            comments.push(json!({"id": 90000 + id * 10 + comments.len() as i64, "body": comment["body"],
                                 "public": comment["public"]}));
            t["_comments"] = json!(comments);
        }
        Json(json!({"ticket": t.clone()})).into_response()
    }
    async fn show(State(s): State<Shared>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
        if !authorized(&headers) {
            return denied();
        }
        match s.lock().expect("lock").iter().find(|t| t["id"] == id) {
            Some(t) => {
                let mut t = t.clone();
                t.as_object_mut().map(|t| t.remove("_comments"));
                Json(json!({"ticket": t})).into_response()
            }
            None => (AxumStatus::NOT_FOUND, Json(json!({"error": "RecordNotFound", "description": "Not found"})))
                .into_response(),
        }
    }
    async fn comments(
        State(s): State<Shared>,
        headers: HeaderMap,
        Path(id): Path<i64>,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        if !authorized(&headers) {
            return denied();
        }
        let tickets = s.lock().expect("lock");
        let Some(t) = tickets.iter().find(|t| t["id"] == id) else {
            return (AxumStatus::NOT_FOUND, Json(json!({"error": "RecordNotFound", "description": "Not found"})))
                .into_response();
        };
        let mut comments = t["_comments"].as_array().cloned().unwrap_or_default();
        if q.get("sort_order").map(String::as_str) == Some("desc") {
            comments.reverse();
        }
        Json(json!({"comments": comments, "next_page": null, "previous_page": null, "count": comments.len()}))
            .into_response()
    }
    /// Redact String in Comment: every occurrence of `text` becomes ▇ characters.
    async fn redact(
        State(s): State<Shared>,
        headers: HeaderMap,
        Path((id, comment_id)): Path<(i64, i64)>,
        Json(body): Json<Value>,
    ) -> Response {
        if !authorized(&headers) {
            return denied();
        }
        let mut tickets = s.lock().expect("lock");
        let text = body["text"].as_str().unwrap_or_default();
        let found = tickets.iter_mut().find(|t| t["id"] == id).and_then(|t| {
            t["_comments"].as_array_mut()?.iter_mut().find(|c| c["id"] == comment_id).map(|c| {
                let redacted = c["body"].as_str().unwrap_or_default().replace(text, &"▇".repeat(text.chars().count()));
                c["body"] = json!(redacted);
                c.clone()
            })
        });
        match found {
            Some(comment) => Json(json!({"comment": comment})).into_response(),
            None => (AxumStatus::NOT_FOUND, Json(json!({"error": "RecordNotFound", "description": "Not found"})))
                .into_response(),
        }
    }
    async fn delete(State(s): State<Shared>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
        if !authorized(&headers) {
            return denied();
        }
        let mut tickets = s.lock().expect("lock");
        let before = tickets.len();
        tickets.retain(|t| t["id"] != id);
        if tickets.len() == before {
            return (AxumStatus::NOT_FOUND, Json(json!({"error": "RecordNotFound", "description": "Not found"})))
                .into_response();
        }
        AxumStatus::NO_CONTENT.into_response()
    }
    /// The incremental export, cursor-based: tickets updated since `start_time`, oldest
    /// first, two per page here; the cursor carries on where a page ended.
    async fn incremental(
        State(s): State<Shared>,
        headers: HeaderMap,
        Query(q): Query<HashMap<String, String>>,
    ) -> Response {
        if !authorized(&headers) {
            return denied();
        }
        let (since, skip) = match (q.get("start_time"), q.get("cursor")) {
            (_, Some(cursor)) => {
                let mut parts = cursor.splitn(2, '.');
                let since = parts.next().and_then(|t| t.parse::<i64>().ok());
                (since, parts.next().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0))
            }
            (Some(start), None) => (start.parse::<i64>().ok(), 0),
            (None, None) => (None, 0),
        };
        let Some(since) = since else {
            let error = json!({"error": "InvalidValue", "description": "start_time or cursor is required"});
            return (AxumStatus::BAD_REQUEST, Json(error)).into_response();
        };
        let updated = |t: &Value| {
            t["updated_at"].as_str().and_then(|u| chrono::DateTime::parse_from_rfc3339(u).ok()).map(|u| u.timestamp())
        };
        let mut changed: Vec<Value> =
            s.lock().expect("lock").iter().filter(|t| updated(t).is_some_and(|u| u >= since)).cloned().collect();
        changed.sort_by_key(|t| updated(t));
        let page: Vec<Value> = changed.iter().skip(skip).take(2).cloned().collect();
        let end = skip + 2 >= changed.len();
        let cursor = format!("{since}.{}", skip + page.len());
        Json(json!({"tickets": page, "after_cursor": cursor, "after_url": null, "before_cursor": null,
                    "end_of_stream": end}))
        .into_response()
    }
    let app = axum::Router::new()
        .route("/api/v2/incremental/tickets/cursor.json", axum::routing::get(incremental))
        .route("/api/v2/tickets", axum::routing::get(list).post(create))
        .route("/api/v2/tickets/{id}", axum::routing::get(show).put(update).delete(delete))
        .route("/api/v2/tickets/{id}/comments", axum::routing::get(comments))
        .route("/api/v2/tickets/{id}/comments/{comment_id}/redact", axum::routing::put(redact))
        .with_state(shared.clone());
    let (base, troubles) = crate::helpers::serve_troubled(app, troubles).await;
    (base, shared, troubles)
}
