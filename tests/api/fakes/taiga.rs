//! Taiga: a fake of its REST API (login, refresh on 401, project by slug, tasks filtered
//! by tag and by change time, paginated unless told otherwise, 201 on create, 429 with
//! Retry-After, a 502 after the write, optimistic concurrency on `version`, comments in the
//! history), shared by the Taiga tests and the concurrent intake tests.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Trouble;
use crate::helpers::TroubleQueue;

#[derive(Default)]
pub struct Fake {
    pub logins: usize,
    pub refreshes: usize,
    /// Authenticated calls made with the first token; it "expires" after two.
    pub first_token_uses: usize,
    pub creates: usize,
    pub patches: usize,
    pub deletes: usize,
    /// List calls asking for changes since a time (polls).
    pub change_lists: usize,
    pub tasks: Vec<Value>,
    /// How long a create takes (none by default), how many are being made now, and the
    /// most ever made at once: what a limit on calls in flight is checked against.
    pub create_delay: std::time::Duration,
    pub creating: usize,
    pub most_creating: usize,
    /// History entries with comments: (task id, entry).
    pub history: Vec<(i64, Value)>,
}

/// Now, as Taiga writes times.
pub fn taiga_time() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub type Shared = Arc<Mutex<Fake>>;

fn authorized(fake: &mut Fake, headers: &HeaderMap) -> bool {
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some("Bearer token-1") => {
            fake.first_token_uses += 1;
            fake.first_token_uses <= 2
        }
        Some("Bearer token-2") => true,
        _ => false,
    }
}

fn unauthorized() -> Response {
    let body = json!({"_error_message": "Invalid token", "_error_type": "taiga.base.exceptions.NotAuthenticated"});
    (AxumStatus::UNAUTHORIZED, Json(body)).into_response()
}

pub async fn fake_taiga(troubles: &[Trouble]) -> (String, Shared, TroubleQueue) {
    let shared: Shared = Arc::default();
    async fn auth(State(s): State<Shared>, Json(body): Json<Value>) -> Response {
        if body["type"] != "normal" || body["username"] != "taskbridge-bot" || body["password"] != "taiga-pw-1" {
            let error = json!({"_error_message": "Username or password does not matches user.",
                               "_error_type": "taiga.base.exceptions.WrongArguments"});
            return (AxumStatus::BAD_REQUEST, Json(error)).into_response();
        }
        s.lock().expect("lock").logins += 1;
        Json(json!({"id": 7, "username": "taskbridge-bot", "auth_token": "token-1", "refresh": "refresh-1"}))
            .into_response()
    }
    async fn refresh(State(s): State<Shared>, Json(body): Json<Value>) -> Response {
        if body["refresh"] != "refresh-1" {
            return unauthorized();
        }
        s.lock().expect("lock").refreshes += 1;
        Json(json!({"auth_token": "token-2", "refresh": "refresh-2"})).into_response()
    }
    async fn project(State(s): State<Shared>, headers: HeaderMap, Query(q): Query<Value>) -> Response {
        if !authorized(&mut s.lock().expect("lock"), &headers) {
            return unauthorized();
        }
        if q["slug"] != "ops" {
            return (AxumStatus::NOT_FOUND, Json(json!({"_error_message": "No Project matches the given query."})))
                .into_response();
        }
        Json(json!({"id": 1, "slug": "ops", "name": "Ops",
            "task_statuses": [
                {"id": 12, "name": "Closed", "slug": "closed", "is_closed": true, "order": 5},
                {"id": 10, "name": "New", "slug": "new", "is_closed": false, "order": 1},
                {"id": 11, "name": "In progress", "slug": "in-progress", "is_closed": false, "order": 2}],
            "members": [{"id": 5, "username": "anap", "full_name": "Ana Pérez"}]}))
        .into_response()
    }
    async fn list(State(s): State<Shared>, headers: HeaderMap, Query(q): Query<Value>) -> Response {
        let mut fake = s.lock().expect("lock");
        if !authorized(&mut fake, &headers) {
            return unauthorized();
        }
        let tag = q["tags"].as_str().unwrap_or_default().to_string();
        let time = |v: &Value| v.as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        let since = time(&q["modified_date__gte"]);
        fake.change_lists += usize::from(since.is_some());
        let mut found: Vec<Value> = fake
            .tasks
            .iter()
            .filter(|t| tag.is_empty() || t["tags"].as_array().is_some_and(|ts| ts.iter().any(|p| p[0] == tag)))
            .filter(|t| since.is_none_or(|since| time(&t["modified_date"]).is_some_and(|m| m >= since)))
            .cloned()
            .collect();
        if q["order_by"] == "modified_date" {
            found.sort_by_key(|t| time(&t["modified_date"]));
        }
        // Paginated unless told otherwise, as Taiga is.
        let number = |k: &str| q[k].as_str().and_then(|v| v.parse::<usize>().ok());
        match (number("page"), headers.get("x-disable-pagination")) {
            (Some(page), None) => {
                let size = number("page_size").unwrap_or(30);
                Json(found.into_iter().skip((page - 1) * size).take(size).collect::<Vec<_>>()).into_response()
            }
            _ => Json(found).into_response(),
        }
    }
    async fn create(State(s): State<Shared>, headers: HeaderMap, Json(body): Json<Value>) -> Response {
        let delay = {
            let mut fake = s.lock().expect("lock");
            fake.creating += 1;
            fake.most_creating = fake.most_creating.max(fake.creating);
            fake.create_delay
        };
        tokio::time::sleep(delay).await;
        let mut fake = s.lock().expect("lock");
        fake.creating -= 1;
        if !authorized(&mut fake, &headers) {
            return unauthorized();
        }
        fake.creates += 1;
        if body["subject"].as_str().unwrap_or_default().contains("throttled") && fake.creates == 2 {
            return (AxumStatus::TOO_MANY_REQUESTS, [("retry-after", "1")], Json(json!({"detail": "Throttled."})))
                .into_response();
        }
        let id = 100 + fake.tasks.len() as i64;
        let reference = 1 + fake.tasks.len() as i64;
        let tags: Vec<Value> =
            body["tags"].as_array().cloned().unwrap_or_default().into_iter().map(|t| json!([t, null])).collect();
        let task = json!({"id": id, "ref": reference, "version": 1, "project": body["project"], "subject": body["subject"],
            "description": body["description"], "status": body["status"], "assigned_to": body["assigned_to"],
            "due_date": body["due_date"], "tags": tags, "is_closed": false,
            "status_extra_info": {"name": "New", "is_closed": false}, "modified_date": taiga_time()});
        fake.tasks.push(task.clone());
        // The first create is written, but its answer is lost on the way back.
        if fake.creates == 1 {
            return (AxumStatus::BAD_GATEWAY, "upstream timed out").into_response();
        }
        (AxumStatus::CREATED, Json(task)).into_response()
    }
    async fn get_one(State(s): State<Shared>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
        let mut fake = s.lock().expect("lock");
        if !authorized(&mut fake, &headers) {
            return unauthorized();
        }
        match fake.tasks.iter().find(|t| t["id"] == id) {
            Some(t) => Json(t.clone()).into_response(),
            None => (AxumStatus::NOT_FOUND, Json(json!({"_error_message": "No Task matches the given query."})))
                .into_response(),
        }
    }
    /// Taiga's optimistic concurrency: the current `version` must be sent.
    async fn patch(
        State(s): State<Shared>,
        headers: HeaderMap,
        Path(id): Path<i64>,
        Json(body): Json<Value>,
    ) -> Response {
        let mut fake = s.lock().expect("lock");
        if !authorized(&mut fake, &headers) {
            return unauthorized();
        }
        fake.patches += 1;
        let Some(task) = fake.tasks.iter_mut().find(|t| t["id"] == id) else {
            return (AxumStatus::NOT_FOUND, Json(json!({"_error_message": "No Task matches the given query."})))
                .into_response();
        };
        if body["version"] != task["version"] {
            let error = json!({"version": ["The version doesn't match with the current one"]});
            return (AxumStatus::BAD_REQUEST, Json(error)).into_response();
        }
        if let Some(status) = body.get("status") {
            task["status"] = status.clone();
            let (name, closed) = match status.as_i64() {
                Some(11) => ("In progress", false),
                Some(12) => ("Closed", true),
                _ => ("New", false),
            };
            task["status_extra_info"] = json!({"name": name, "is_closed": closed});
        }
        for field in ["subject", "description", "assigned_to", "due_date"] {
            if let Some(value) = body.get(field) {
                task[field] = value.clone();
            }
        }
        if let Some(comment) = body["comment"].as_str() {
            let entry = json!({"id": format!("hist-{}", 1 + fake.history.len()), "comment": comment,
                               "delete_comment_date": null, "type": 1});
            let task = fake.tasks.iter_mut().find(|t| t["id"] == id).expect("found above");
            task["version"] = json!(task["version"].as_i64().unwrap_or(0) + 1);
            let answer = task.clone();
            fake.history.push((id, entry));
            return Json(answer).into_response();
        }
        if let Some(tags) = body["tags"].as_array() {
            task["tags"] = json!(tags.iter().map(|t| json!([t, null])).collect::<Vec<_>>());
        }
        task["version"] = json!(task["version"].as_i64().unwrap_or(0) + 1);
        task["modified_date"] = json!(taiga_time());
        Json(task.clone()).into_response()
    }
    async fn delete(State(s): State<Shared>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
        let mut fake = s.lock().expect("lock");
        if !authorized(&mut fake, &headers) {
            return unauthorized();
        }
        let before = fake.tasks.len();
        fake.tasks.retain(|t| t["id"] != id);
        if fake.tasks.len() == before {
            return (AxumStatus::NOT_FOUND, Json(json!({"_error_message": "No Task matches the given query."})))
                .into_response();
        }
        fake.deletes += 1;
        AxumStatus::NO_CONTENT.into_response()
    }
    async fn history(State(s): State<Shared>, headers: HeaderMap, Path(id): Path<i64>) -> Response {
        let mut fake = s.lock().expect("lock");
        if !authorized(&mut fake, &headers) {
            return unauthorized();
        }
        Json(fake.history.iter().filter(|(t, _)| *t == id).map(|(_, e)| e.clone()).collect::<Vec<_>>()).into_response()
    }
    async fn delete_comment(
        State(s): State<Shared>,
        headers: HeaderMap,
        Path(id): Path<i64>,
        Query(q): Query<Value>,
    ) -> Response {
        let mut fake = s.lock().expect("lock");
        if !authorized(&mut fake, &headers) {
            return unauthorized();
        }
        match fake.history.iter_mut().find(|(t, e)| *t == id && e["id"] == q["id"]) {
            Some((_, entry)) => {
                entry["delete_comment_date"] = json!(taiga_time());
                AxumStatus::NO_CONTENT.into_response()
            }
            None => (AxumStatus::NOT_FOUND, Json(json!({"_error_message": "Not found."}))).into_response(),
        }
    }
    let app = axum::Router::new()
        .route("/api/v1/history/task/{id}", axum::routing::get(history))
        .route("/api/v1/history/task/{id}/delete_comment", axum::routing::post(delete_comment))
        .route("/api/v1/tasks/{id}", axum::routing::get(get_one).patch(patch).delete(delete))
        .route("/api/v1/auth", axum::routing::post(auth))
        .route("/api/v1/auth/refresh", axum::routing::post(refresh))
        .route("/api/v1/projects/by_slug", axum::routing::get(project))
        .route("/api/v1/tasks", axum::routing::get(list).post(create))
        .with_state(shared.clone());
    let (base, troubles) = crate::helpers::serve_troubled(app, troubles).await;
    (format!("{base}/api/v1"), shared, troubles)
}

/// The integration body connecting a project to the fake Taiga at `fake`.
pub fn taiga_integration(fake: &str) -> Value {
    json!({"type": "taiga", "settings": {"api_base_url": fake, "username": "taskbridge-bot", "project_slug": "ops"},
           "secrets": {"password": "taiga-pw-1"}})
}
