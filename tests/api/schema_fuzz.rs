//! A schema-based fuzzer (schemathesis, from PyPI, in a virtual environment of the tests'
//! own) calls every operation of the served OpenAPI document with generated requests, with
//! and without a key, and fails on any 5xx, any answer that breaks its documented schema or
//! content type, and any status code the document does not list.

use std::time::Duration;

use crate::fakes::speech::fake_whisper_saying;
use crate::helpers::{Backend, spawn_app_with};

/// The fuzzer, pinned: a new release may check differently.
const SCHEMATHESIS: &str = "schemathesis==4.32.5";
/// Generated cases per operation; about a minute for the whole API on 2 cores.
const CASES_PER_OPERATION: &str = "25";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_as_documented() {
    // A speech-to-text server that answers every upload, so the voice routes are reachable.
    let (transcriber, _) = fake_whisper_saying("Order new chairs for the office").await;
    let app = spawn_app_with(Backend::Sqlite, |c| {
        c.transcribe_base_url = Some(transcriber);
        c.message_wait_secs = 1;
        c.sync_wait_secs = 1;
    })
    .await
    .expect("sqlite");
    let python = crate::helpers::python_with("schemathesis-venv", SCHEMATHESIS, "schemathesis");
    let seed = std::env::var("TASKBRIDGE_FUZZ_SEED").unwrap_or_else(|_| "20261206".into());
    let report = std::env::temp_dir().join(format!("taskbridge-fuzz-{}", uuid::Uuid::new_v4().simple()));
    let run = tokio::process::Command::new(python)
        .args(["-m", "schemathesis.cli", "run", &format!("{}/openapi.json", app.base)])
        .args(["--header", &format!("Authorization: Bearer {}", app.key)])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing", "--max-examples", CASES_PER_OPERATION])
        .args(["--seed", &seed, "--workers", "2", "--request-timeout", "20", "--max-failures", "50"])
        .args(["--no-color", "--output-truncate", "false", "--generation-database", "none"])
        .arg("--report-dir")
        .arg(&report)
        .env("SCHEMATHESIS_HOOKS", "")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(900), run)
        .await
        .expect("the fuzzer finishes within 15 minutes")
        .expect("the fuzzer runs");
    let _ = std::fs::remove_dir_all(&report);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the fuzzer found answers that break the API document (seed {seed}):\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("Tested:"), "the fuzzer tested nothing:\n{text}");
}
