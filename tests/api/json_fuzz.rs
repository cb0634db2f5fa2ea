//! Property test of the JSON layer: whatever body arrives, the service answers a JSON
//! object with a status below 500 and never panics.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use proptest::prelude::*;
use serde_json::Value;
use taskbridge::http::AppState;
use taskbridge::store::{Store, StoreOptions};
use tower::ServiceExt;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("todo"),
            Just("done"),
            Just("high"),
            Just("2026-02-29"),
            Just("2026-12-01"),
            Just(""),
            Just("#ffffff"),
            Just("in_progress")
        ]
        .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("title".to_string()),
                        Just("project_id".to_string()),
                        Just("status".to_string()),
                        Just("priority".to_string()),
                        Just("due_date".to_string()),
                        Just("labels".to_string()),
                        Just("time_spent".to_string()),
                        Just("time_estimate".to_string()),
                        Just("name".to_string()),
                        Just("deadline".to_string()),
                        Just("content".to_string()),
                        Just("task_id".to_string()),
                        Just("color".to_string()),
                        Just("assigned_to".to_string()),
                        ".{0,8}".prop_map(String::from)
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

struct Harness {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    key: String,
    task_path: String,
    _dir: std::path::PathBuf,
}

fn harness() -> Harness {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = std::env::temp_dir().join(format!("taskbridge-fuzz-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let key = "fuzz-admin-key-0123456789".to_string();
    let (router, task_path) = rt.block_on(async {
        let url = format!("sqlite://{}", dir.join("fuzz.db").display());
        let store = Store::connect(&url, &StoreOptions::default()).await.expect("store");
        store.bootstrap(Some(&key)).await.expect("bootstrap");
        let router = taskbridge::http::app(AppState::with_defaults(store), 64 * 1024);
        let project = call(&router, &key, "POST", "/api/v1/projects", br#"{"name":"fuzz"}"#.to_vec()).await.1;
        let project_id = project["id"].as_str().expect("project").to_string();
        let body = format!(r#"{{"project_id":"{project_id}","title":"t"}}"#).into_bytes();
        let task = call(&router, &key, "POST", "/api/v1/tasks", body).await.1;
        (router, format!("/api/v1/tasks/{}", task["id"].as_str().expect("task")))
    });
    Harness { rt, router, key, task_path, _dir: dir }
}

async fn call(router: &axum::Router, key: &str, method: &str, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    let res = router.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.expect("body");
    let value = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON answer") };
    (status, value)
}

fn check(h: &Harness, method: &str, path: &str, body: Vec<u8>) -> Result<(), TestCaseError> {
    let (status, value) = h.rt.block_on(call(&h.router, &h.key, method, path, body));
    prop_assert!(status.as_u16() < 500, "{method} {path} answered {status}: {value}");
    if !status.is_success() {
        prop_assert!(value["error"]["code"].is_string(), "{value}");
    }
    Ok(())
}

const TARGETS: [(&str, &str); 5] = [
    ("POST", "/api/v1/tasks"),
    ("POST", "/api/v1/projects"),
    ("POST", "/api/v1/comments"),
    ("POST", "/api/v1/labels"),
    ("POST", "/api/v1/api-keys"),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_fails_the_server(value in json_value(), target in 0usize..7) {
        let h = HARNESS.with(|h| h.clone());
        let body = serde_json::to_vec(&value).expect("serialise");
        match target {
            5 => check(&h, "PATCH", &h.task_path, body)?,
            6 => check(&h, "PATCH", &format!("{}/status", h.task_path), body)?,
            t => check(&h, TARGETS[t].0, TARGETS[t].1, body)?,
        }
    }

    #[test]
    fn arbitrary_bytes_never_fail_the_server(bytes in prop::collection::vec(any::<u8>(), 0..256), target in 0usize..5) {
        let h = HARNESS.with(|h| h.clone());
        check(&h, TARGETS[target].0, TARGETS[target].1, bytes)?;
    }
}

thread_local! {
    static HARNESS: std::rc::Rc<Harness> = std::rc::Rc::new(harness());
}
