//! Likely duplicates found by meaning (`TASKBRIDGE_EMBEDDINGS`) against a local fake
//! embeddings server: a paraphrase sharing no word with its task is suggested (never merged
//! on that alone), and a task's vector is made again when its text changes.

use reqwest::StatusCode;
use serde_json::{Value, json};
use taskbridge::llm::embed::EmbeddingsProvider;

use crate::fakes::llm::{fake_embeddings, fake_embeddings_after};
use crate::helpers::{Backend, TestApp, each_backend, spawn_app_with, spawn_configured};

/// Words that mean the same to the fake server.
pub(crate) const CONCEPTS: &[&[&str]] = &[
    &["laptop", "notebook", "computer"],
    &["sales", "seller"],
    &["order", "buy", "purchas"],
    &["monitor", "screen", "display"],
];

async fn send(app: &TestApp, project: &str, text: &str) -> Value {
    let res = app.post("/api/v1/messages?wait=true", json!({"project_id": project, "text": text})).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

async fn found_by_meaning(backend: Backend) {
    let (base, inputs) = fake_embeddings(CONCEPTS).await;
    for provider in [EmbeddingsProvider::Ollama, EmbeddingsProvider::Openai] {
        let url = base.clone();
        let Some(app) = spawn_app_with(backend, move |c| {
            c.embeddings = provider;
            c.embeddings_base_url = Some(url);
            c.embeddings_model = Some("fake-minilm".into());
        })
        .await
        else {
            return;
        };
        let project = app.project("office").await;
        let laptops = app.task(&project, json!({"title": "Order new laptops for the sales team"})).await;
        inputs.lock().expect("lock").clear();

        // Not one word in common: the words alone call it new; its meaning is close.
        let paraphrase = send(&app, &project, "buy notebook computers, sellers").await;
        assert_eq!(paraphrase["status"], "possible_duplicate", "{paraphrase}");
        assert_eq!(paraphrase["candidates"][0]["task_id"], laptops["id"], "{paraphrase}");
        assert_ne!(paraphrase["task_id"], laptops["id"], "suggested, not merged");
        let asked = inputs.lock().expect("lock").clone();
        assert!(asked.iter().any(|t| t.starts_with("Order new laptops for the sales team")), "{asked:?}");
        assert!(asked.iter().any(|t| t.contains("buy notebook computers")), "{asked:?}");
        let own = paraphrase["task_id"].as_str().expect("its own task").to_string();
        assert_eq!(app.delete(&format!("/api/v1/tasks/{own}")).await.status, StatusCode::NO_CONTENT);

        // The task now asks for other work: its vector is made again from the new text, and
        // the paraphrase of its old text is no longer near it.
        let path = format!("/api/v1/tasks/{}", laptops["id"].as_str().expect("id"));
        let edited = app.patch(&path, json!({"title": "Replace the monitors at the reception"})).await;
        assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
        inputs.lock().expect("lock").clear();
        let again = send(&app, &project, "purchase notebooks, sellers").await;
        let asked = inputs.lock().expect("lock").clone();
        assert!(asked.iter().any(|t| t.starts_with("Replace the monitors at the reception")), "{asked:?}");
        assert_eq!(again["status"], "created", "{again}");
        assert!(again["candidates"].as_array().is_none_or(|c| c.iter().all(|c| c["task_id"] != laptops["id"])));

        // Vectors already made are not asked for again.
        inputs.lock().expect("lock").clear();
        send(&app, &project, "screens for the reception").await;
        let asked = inputs.lock().expect("lock").clone();
        assert!(asked.iter().any(|t| t.contains("screens for the reception")), "{asked:?}");
        assert!(!asked.iter().any(|t| t.starts_with("Replace the monitors")), "{asked:?}");

        // Vectors are stored: another instance on the database reads them back instead of
        // embedding every task again, and finds by meaning as well.
        let mut config = taskbridge::config::Config::for_tests(&app.database_url, crate::helpers::ADMIN_KEY);
        (config.embeddings, config.embeddings_base_url) = (provider, Some(base.clone()));
        config.embeddings_model = Some("fake-minilm".into());
        let other = spawn_configured(crate::helpers::TestDb::Borrowed, config, backend).await;
        inputs.lock().expect("lock").clear();
        let display = send(&other, &project, "displays and screens").await;
        assert_eq!(display["status"], "possible_duplicate", "{display}");
        let edited_id = &laptops["id"];
        assert!(display["candidates"].as_array().is_some_and(|c| c.iter().any(|c| &c["task_id"] == edited_id)));
        let asked = inputs.lock().expect("lock").clone();
        // (The task the last request made was never searched for by the first instance.)
        let embedded_before = ["Replace the monitors", "Purchase notebooks"];
        assert!(!asked.iter().any(|t| embedded_before.iter().any(|b| t.starts_with(b))), "{asked:?}");
        assert!(asked.iter().any(|t| t.contains("displays and screens")), "{asked:?}");
    }
}
each_backend!(found_by_meaning);

/// An embeddings server that fails leaves the words' decision, and the request is not lost.
async fn a_failing_embeddings_server_changes_nothing(backend: Backend) {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let Some(app) = spawn_app_with(backend, move |c| {
        c.embeddings = EmbeddingsProvider::Openai;
        c.embeddings_base_url = Some(closed);
    })
    .await
    else {
        return;
    };
    let project = app.project("office").await;
    app.task(&project, json!({"title": "Order new laptops for the sales team"})).await;
    let m = send(&app, &project, "buy notebook computers, sellers").await;
    assert_eq!(m["status"], "created", "{m}");
    let again = send(&app, &project, "Order new laptops for the sales team").await;
    assert_eq!(again["status"], "duplicate", "{again}");
}
each_backend!(a_failing_embeddings_server_changes_nothing);

/// A slow embeddings server is given `TASKBRIDGE_EMBEDDINGS_TIMEOUT_SECS`, not the language
/// model's far longer timeout: the words alone decide, in time for the answer (with the
/// model's timeout the request would still be waiting when `wait=true` gives up).
async fn a_slow_embeddings_server_times_out_on_its_own(backend: Backend) {
    let (base, inputs) = fake_embeddings_after(CONCEPTS, std::time::Duration::from_secs(120)).await;
    let Some(app) = spawn_app_with(backend, move |c| {
        c.embeddings = EmbeddingsProvider::Openai;
        c.embeddings_base_url = Some(base);
        c.embeddings_timeout_secs = 1;
        c.llm_timeout_secs = 300;
    })
    .await
    else {
        return;
    };
    let project = app.project("office").await;
    app.task(&project, json!({"title": "Order new laptops for the sales team"})).await;
    let m = send(&app, &project, "buy notebook computers, sellers").await;
    assert_eq!(m["status"], "created", "the words alone decided: {m}");
    let asked = inputs.lock().expect("lock").clone();
    assert!(asked.iter().any(|t| t.contains("buy notebook computers")), "the server was asked: {asked:?}");
    let again = send(&app, &project, "Order new laptops for the sales team").await;
    assert_eq!(again["status"], "duplicate", "{again}");
}
each_backend!(a_slow_embeddings_server_times_out_on_its_own);
