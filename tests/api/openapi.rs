//! The OpenAPI document is generated from the router: it must be well-formed, resolve
//! every reference, and describe exactly the routes the server answers.

use std::collections::HashSet;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{TestApp, both_backends};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    if let Some(s) = v.as_str() {
                        out.push(s.to_string());
                    }
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

async fn the_document_is_valid_and_matches_the_router(app: TestApp) {
    let res = app.request(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(res.status, StatusCode::OK);
    let doc = res.body;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());

    // Every reference points at a defined schema.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in &refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected ref {r}"));
        assert!(doc["components"]["schemas"][name].is_object(), "dangling ref {r}");
    }

    let paths = doc["paths"].as_object().expect("paths");
    // A redirect is an answer here, not something to follow.
    let unredirected = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let mut operation_ids = HashSet::new();
    let mut documented = HashSet::new();
    for (path, item) in paths {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            documented.insert(format!("{} {path}", method.to_uppercase()));
            // Every `{name}` of the template is declared as a path parameter, and nothing else.
            let mut templated: Vec<&str> = path.split('{').skip(1).filter_map(|p| p.split('}').next()).collect();
            let mut declared: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect())
                .unwrap_or_default();
            templated.sort_unstable();
            declared.sort_unstable();
            assert_eq!(templated, declared, "{method} {path} path parameters");
            let id = op["operationId"].as_str().expect("operationId");
            assert!(operation_ids.insert(id.to_string()), "duplicate operationId {id}");
            let responses = op["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{method} {path} has no responses");
            if let Some(body) = op.get("requestBody") {
                let media = body["content"].as_object().expect("content");
                assert!(!media.is_empty() && media.values().all(|m| m["schema"].is_object()), "{method} {path} body");
                // Every body is JSON, except what platforms send to webhooks and file uploads.
                if path.ends_with("/voice/transcribe") {
                    assert!(body["content"]["multipart/form-data"]["schema"].is_object(), "{method} {path} body");
                } else if !path.starts_with("/webhooks/") {
                    assert!(body["content"]["application/json"]["schema"].is_object(), "{method} {path} body");
                }
            }
            // The server answers this route: no "no route" 404, no 405.
            let concrete = path
                .replace("{id}", "00000000-does-not-exist")
                .replace("{task_id}", "00000000-does-not-exist")
                .replace("{integration_id}", "00000000-does-not-exist")
                .replace("{platform}", "slack")
                .replace("{integration_type}", "slack")
                .replace("{tenant_id}", "00000000-does-not-exist")
                .replace("{project_id}", "00000000-does-not-exist");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let body = matches!(method, "post" | "put" | "patch").then(|| serde_json::json!({}));
            let mut req = unredirected.request(m, format!("{}{concrete}", app.base));
            if let Some(body) = body {
                req = req.json(&body);
            }
            let res = req.send().await.expect("sent");
            let status = res.status();
            let text = res.text().await.expect("text");
            let no_route = status == StatusCode::NOT_FOUND && text.contains("no route");
            assert!(
                !no_route && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but not served"
            );
            let public = op.get("security").is_some_and(|s| s == &serde_json::json!([{}]));
            if public {
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path} is public");
                if method == "get" {
                    // The OAuth callback answers a browser with a redirect, whatever it brings.
                    let expected = if path.ends_with("/callback") { StatusCode::FOUND } else { StatusCode::OK };
                    assert_eq!(status, expected, "{method} {path}");
                }
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} must need a key");
            }
        }
    }

    // The routes the issue names are all there.
    for route in [
        "POST /api/v1/tenants",
        "POST /api/v1/api-keys",
        "GET /api/v1/api-keys",
        "DELETE /api/v1/api-keys/{id}",
        "GET /api/v1/projects",
        "POST /api/v1/projects",
        "GET /api/v1/projects/{id}",
        "PATCH /api/v1/projects/{id}",
        "DELETE /api/v1/projects/{id}",
        "GET /api/v1/tasks",
        "POST /api/v1/tasks",
        "GET /api/v1/tasks/{id}",
        "PATCH /api/v1/tasks/{id}",
        "DELETE /api/v1/tasks/{id}",
        "PATCH /api/v1/tasks/{id}/status",
        "GET /api/v1/comments",
        "POST /api/v1/comments",
        "GET /api/v1/comments/{id}",
        "PATCH /api/v1/comments/{id}",
        "DELETE /api/v1/comments/{id}",
        "GET /api/v1/labels",
        "POST /api/v1/labels",
        "GET /api/v1/labels/{id}",
        "PATCH /api/v1/labels/{id}",
        "DELETE /api/v1/labels/{id}",
        "GET /api/projects",
        "POST /api/projects",
        "GET /api/projects/{id}",
        "PUT /api/projects/{id}",
        "DELETE /api/projects/{id}",
        "GET /api/tasks",
        "POST /api/tasks",
        "GET /api/tasks/{id}",
        "PUT /api/tasks/{id}",
        "DELETE /api/tasks/{id}",
        "PATCH /api/tasks/{id}/status",
        "GET /api/comments",
        "POST /api/comments",
        "GET /api/comments/{id}",
        "PUT /api/comments/{id}",
        "DELETE /api/comments/{id}",
        "GET /health",
        "GET /ready",
        "GET /metrics",
        "GET /api/v1/me",
        "POST /api/v1/messages",
        "GET /api/v1/messages/{id}",
        "GET /api/v1/jobs",
        "POST /api/v1/jobs/{id}/retry",
        "POST /teams",
        "POST /taiga/create-task",
        "POST /teams/create-task-with-team",
        "GET /teams/team-by-task/{task_id}",
        "POST /api/v1/projects/{id}/integrations",
        "GET /api/v1/projects/{id}/integrations",
        "GET /api/v1/projects/{id}/integrations/{integration_id}",
        "PATCH /api/v1/projects/{id}/integrations/{integration_id}",
        "DELETE /api/v1/projects/{id}/integrations/{integration_id}",
    ] {
        assert!(documented.contains(route), "{route} is not documented");
    }
    // The served document is the one the code builds.
    let built = serde_json::to_value(taskbridge::http::openapi_document()).expect("serialises");
    assert_eq!(built, doc);
}
both_backends!(the_document_is_valid_and_matches_the_router);

/// The document, pretty-printed with sorted keys, is the committed snapshot
/// `tests/api/snapshots/openapi.json`: any change to the API shows in review as a diff of
/// that file (`UPDATE_SNAPSHOTS=1` writes it anew). Two servers serve the same document, so
/// the snapshot depends on nothing but the code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_the_committed_snapshot() {
    let mut documents = Vec::new();
    for _ in 0..2 {
        let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await.expect("sqlite");
        let res = app.request(Method::GET, "/openapi.json", None, None).await;
        assert_eq!(res.status, StatusCode::OK);
        let text = serde_json::to_string_pretty(&crate::helpers::sorted_keys(&res.body)).expect("serialises");
        documents.push(text + "\n");
    }
    assert_eq!(documents[0], documents[1], "the document differs between two servers");
    crate::helpers::assert_snapshot("openapi.json", &documents[0]);
}
