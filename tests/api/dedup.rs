//! Duplicate detection across instances, and the `eval-dedup` contract.

use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_on};

/// A task created through one instance is found by another instance on the same database.
async fn another_instance_sees_new_tasks(app: TestApp) {
    let url = app.database_url.clone();
    let backend = app.backend;
    let project = app.project("shared").await;
    // The second instance searches first, so its index exists before the task does.
    let other = spawn_on(crate::helpers::TestDb::Borrowed, url, backend).await;
    let warm = other
        .post("/api/v1/messages?wait=true", json!({"project_id": project, "text": "Order new office chairs"}))
        .await;
    assert_eq!(warm.body["status"], "created");

    let created = app
        .post("/api/v1/messages?wait=true", json!({"project_id": project, "text": "Migrate the wiki to Confluence"}))
        .await;
    assert_eq!(created.body["status"], "created");
    let res = other
        .post(
            "/api/v1/messages?wait=true",
            json!({"project_id": project, "text": "can someone migrate our wiki to confluence?"}),
        )
        .await;
    assert_eq!(res.body["status"], "duplicate", "{}", res.body);
    assert_eq!(res.body["task_id"], created.body["task_id"]);

    // A task deleted through one instance is no longer a candidate on the other.
    let task = created.body["task_id"].as_str().expect("task");
    let deleted = app.delete(&format!("/api/v1/tasks/{task}")).await;
    assert_eq!(deleted.status, reqwest::StatusCode::NO_CONTENT, "{}", deleted.body);
    let res = other
        .post("/api/v1/messages?wait=true", json!({"project_id": project, "text": "Migrate the wiki to Confluence"}))
        .await;
    assert_eq!(res.body["status"], "created", "{}", res.body);
}
crate::helpers::both_backends!(another_instance_sees_new_tasks);

#[test]
fn eval_dedup_prints_one_decision_per_query() {
    let dir = std::env::temp_dir().join(format!("taskbridge-eval-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let corpus = dir.join("corpus.jsonl");
    let queries = dir.join("queries.jsonl");
    std::fs::write(
        &corpus,
        [
            json!({"id": "a-1", "title": "Crash when opening the settings page", "body": "the app crashes on settings", "source": "x"}),
            json!({"id": "a-2", "title": "Add dark mode"}),
            json!({"id": "a-3", "title": "Export invoices to CSV", "body": "finance needs csv"}),
        ]
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n"),
    )
    .expect("corpus");
    // Fields other than `text` must never be read: a wrong answer here changes nothing.
    std::fs::write(
        &queries,
        [
            json!({"text": "settings page crashes when opened", "duplicate_of": "a-2"}),
            json!({"text": "Quarterly budget review meeting", "duplicate_of": "a-1"}),
        ]
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n"),
    )
    .expect("queries");
    let out = Command::new(env!("CARGO_BIN_EXE_taskbridge"))
        .args(["eval-dedup", "--corpus"])
        .arg(&corpus)
        .arg("--queries")
        .arg(&queries)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["query_index"], 0);
    assert_eq!(lines[0]["predicted_id"], "a-1");
    assert_eq!(lines[0]["is_duplicate"], true);
    assert!(lines[0]["score"].as_f64().is_some_and(|s| s > 0.4));
    assert_eq!(lines[1]["query_index"], 1);
    assert_eq!(lines[1]["is_duplicate"], false);
    assert!(lines[1]["score"].is_number());

    let bad = Command::new(env!("CARGO_BIN_EXE_taskbridge"))
        .args(["eval-dedup", "--corpus", "/nonexistent.jsonl", "--queries"])
        .arg(&queries)
        .output()
        .expect("runs");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("/nonexistent.jsonl"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Three outcomes: merged when surely the same work, created naming its likely duplicate when
/// perhaps (or when a key detail differs), created when new; and a project's own bands.
async fn requests_are_merged_suggested_or_created(app: TestApp) {
    let project = app.project("web").await;
    let send = async |text: &str| {
        let res = app.post("/api/v1/messages?wait=true", json!({"project_id": project, "text": text})).await;
        assert_eq!(res.status, reqwest::StatusCode::OK, "{}", res.body);
        res.body
    };
    let german = send("Translate the pricing page into German").await;
    assert_eq!(german["status"], "created", "{german}");
    let german_task = german["task_id"].clone();

    // Another language is other work: a task of its own, naming the similar one.
    let japanese = send("Translate the pricing page into Japanese").await;
    assert_eq!(japanese["status"], "possible_duplicate", "{japanese}");
    assert_ne!(japanese["task_id"], german_task);
    assert_eq!(japanese["candidates"][0]["task_id"], german_task, "{japanese}");
    let id = japanese["id"].as_str().expect("id");
    let shown = app.get(&format!("/api/v1/messages/{id}")).await.body;
    assert_eq!(
        (shown["status"].as_str(), &shown["candidates"][0]["task_id"]),
        (Some("possible_duplicate"), &german_task)
    );
    let task = japanese["task_id"].as_str().expect("task");
    assert_eq!(app.get(&format!("/api/v1/tasks/{task}")).await.status, reqwest::StatusCode::OK);

    // The same request again is merged; something new is created.
    let again = send("Translate the pricing page into German").await;
    assert_eq!((again["status"].as_str(), &again["task_id"]), (Some("duplicate"), &german_task), "{again}");
    assert_eq!(send("Order new office chairs for the second floor").await["status"], "created");

    // A project that merges nothing on its own: the same request is only suggested.
    let path = format!("/api/v1/projects/{project}");
    for bad in [
        json!({"merge_at": 0.3, "suggest_at": 0.6}),
        json!({"merge_at": 1.5, "suggest_at": 0.2}),
        json!({"merge_at": 0.9}),
    ] {
        let res = app.patch(&path, json!({"duplicate_bands": bad})).await;
        assert_eq!(res.status, reqwest::StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", res.body);
    }
    assert_eq!(app.get(&path).await.body["duplicate_bands"], Value::Null, "a refused change changes nothing");
    let strict = app.patch(&path, json!({"duplicate_bands": {"merge_at": 1.0, "suggest_at": 0.2}})).await;
    assert_eq!(strict.body["duplicate_bands"], json!({"merge_at": 1.0, "suggest_at": 0.2}), "{}", strict.body);
    let suggested = send("Translate the pricing page into German").await;
    assert_eq!(suggested["status"], "possible_duplicate", "{suggested}");
    assert_eq!(suggested["candidates"][0]["task_id"], german_task);
    // Back to the service's bands.
    assert_eq!(app.patch(&path, json!({"duplicate_bands": null})).await.body["duplicate_bands"], Value::Null);
    assert_eq!(send("Translate the pricing page into German").await["status"], "duplicate");
}
crate::helpers::both_backends!(requests_are_merged_suggested_or_created);

/// With a model configured, `eval-dedup` has it judge the likely duplicates as live intake
/// does (here a fake that calls any Japanese request other work and the rest the same);
/// `--offline` keeps to the offline decision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_dedup_asks_a_configured_model_to_judge() {
    use crate::fakes::llm::{asks_for_a_judgement, fake_llm, says};
    let (base, seen) = fake_llm(|api, body: Value| async move {
        let user: Value =
            serde_json::from_str(body["messages"][1]["content"].as_str().unwrap_or("{}")).unwrap_or_default();
        let verdict =
            if user["request"].as_str().unwrap_or_default().contains("Japanese") { "different" } else { "same" };
        let verdicts: Vec<Value> = (1..=user["tasks"].as_array().map_or(0, Vec::len))
            .map(|n| json!({"number": n, "verdict": verdict}))
            .collect();
        says(api, &json!({ "verdicts": verdicts }).to_string())
    })
    .await;
    let dir = std::env::temp_dir().join(format!("taskbridge-eval-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (corpus, queries) = (dir.join("corpus.jsonl"), dir.join("queries.jsonl"));
    let lines = |items: &[Value]| items.iter().map(Value::to_string).collect::<Vec<_>>().join("\n");
    std::fs::write(
        &corpus,
        lines(&[
            json!({"id": "de", "title": "Translate the pricing page into German"}),
            json!({"id": "pg", "title": "Upgrade PostgreSQL to 16 on the reporting server", "body": "Version 16 only."}),
        ]),
    )
    .expect("corpus");
    std::fs::write(
        &queries,
        lines(&[
            json!({"text": "Translate the pricing page into Japanese"}),
            json!({"text": "reporting server: move postgres to version 16"}),
            json!({"text": "Order new office chairs"}),
        ]),
    )
    .expect("queries");
    let run = |offline: bool| {
        let (corpus, queries, base) = (corpus.clone(), queries.clone(), base.clone());
        tokio::task::spawn_blocking(move || {
            let env = [
                ("TASKBRIDGE_LLM", "openai"),
                ("TASKBRIDGE_LLM_BASE_URL", &base),
                ("TASKBRIDGE_LLM_MODEL", "judge-model"),
            ];
            let out = eval_dedup(&corpus, &queries, offline, &env);
            out.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect()
        })
    };

    let offline: Vec<Value> = run(true).await.expect("offline run");
    let decisions = |lines: &[Value]| lines.iter().map(|l| l["decision"].clone()).collect::<Vec<_>>();
    assert_eq!(decisions(&offline), [json!("possible_duplicate"), json!("possible_duplicate"), json!("new")]);
    assert!(offline.iter().all(|l| l["judged"].is_null()));
    assert!(seen.lock().expect("lock").is_empty(), "--offline asks no model");

    let judged: Vec<Value> = run(false).await.expect("judged run");
    assert_eq!(decisions(&judged), [json!("new"), json!("duplicate"), json!("new")]);
    assert_eq!((judged[0]["judged"][0].as_str(), judged[1]["judged"][0].as_str()), (Some("different"), Some("same")));
    assert_eq!(judged[1]["predicted_id"], "pg");
    assert!(judged[2]["judged"].is_null(), "a new request is not judged");
    let asked = seen.lock().expect("lock").clone();
    assert_eq!(asked.len(), 2);
    assert!(asked.iter().all(|(_, body)| asks_for_a_judgement(body)));
    let _ = std::fs::remove_dir_all(&dir);
}

/// With embeddings configured, `eval-dedup` suggests a task near a query in meaning, as live
/// intake does; `--offline` does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eval_dedup_finds_by_meaning_with_embeddings() {
    let (base, inputs) = crate::fakes::llm::fake_embeddings(crate::embeddings::CONCEPTS).await;
    let dir = std::env::temp_dir().join(format!("taskbridge-eval-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (corpus, queries) = (dir.join("corpus.jsonl"), dir.join("queries.jsonl"));
    std::fs::write(&corpus, json!({"id": "laptops", "title": "Order new laptops for the sales team"}).to_string())
        .expect("corpus");
    std::fs::write(&queries, json!({"text": "buy notebook computers, sellers"}).to_string()).expect("queries");
    let run = |offline: bool| {
        let (corpus, queries, base) = (corpus.clone(), queries.clone(), base.clone());
        tokio::task::spawn_blocking(move || {
            let env = [("TASKBRIDGE_EMBEDDINGS", "ollama"), ("TASKBRIDGE_EMBEDDINGS_BASE_URL", &base)];
            let out = eval_dedup(&corpus, &queries, offline, &env);
            serde_json::from_str::<Value>(out.trim()).expect("one JSON line")
        })
    };
    let offline = run(true).await.expect("offline run");
    assert_eq!(offline["decision"], "new", "{offline}");
    assert!(inputs.lock().expect("lock").is_empty());
    let semantic = run(false).await.expect("run with embeddings");
    assert_eq!(
        (semantic["decision"].as_str(), &semantic["candidates"]),
        (Some("possible_duplicate"), &json!(["laptops"]))
    );
    assert_eq!(inputs.lock().expect("lock").len(), 2, "the corpus item and the query");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `taskbridge eval-dedup` on the files with `env` (and `--offline` when asked); its
/// standard output, once it exited successfully.
fn eval_dedup(corpus: &std::path::Path, queries: &std::path::Path, offline: bool, env: &[(&str, &str)]) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_taskbridge"));
    command.arg("eval-dedup").arg("--corpus").arg(corpus).arg("--queries").arg(queries);
    if offline {
        command.arg("--offline");
    }
    let out = command.envs(env.iter().copied()).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}
