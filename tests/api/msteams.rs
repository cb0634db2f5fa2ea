//! Microsoft Teams outgoing webhooks: HMAC over the body with the base64 security token,
//! and the outcome in the webhook's own answer.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use taskbridge::channels::msteams::sign;

use crate::helpers::{TestApp, both_backends};

fn activity(id: &str, text: &str) -> Value {
    json!({"type": "message", "id": id, "timestamp": "2026-11-22T09:30:00.123Z",
           "serviceUrl": "https://smba.trafficmanager.net/emea/", "channelId": "msteams",
           "from": {"id": "29:1XJK", "name": "Megan Bowen"},
           "conversation": {"id": "19:693e@thread.tacv2;messageid=1767225600123", "conversationType": "channel"},
           "text": text, "textFormat": "plain",
           "channelData": {"channel": {"id": "19:693e@thread.tacv2"}}})
}

async fn deliver(app: &TestApp, integration: &str, body: &Value, signature: Option<String>) -> (StatusCode, Value) {
    let raw = body.to_string();
    let mut req = app
        .raw()
        .post(format!("{}/webhooks/teams/{integration}", app.base))
        .header("content-type", "application/json")
        .body(raw);
    if let Some(sig) = signature {
        req = req.header("authorization", sig);
    }
    let res = req.send().await.expect("sent");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn teams_outgoing_webhooks_answer_inline(app: TestApp) {
    let token = STANDARD.encode([5u8; 32]);
    let project = app.project("teams").await;
    let integration = app
        .post(
            &format!("/api/v1/projects/{project}/integrations"),
            json!({"type": "teams", "secrets": {"hmac_secret": token}}),
        )
        .await
        .id();

    let request = activity("1767225600123", "<at>TaskBot</at> renew the TLS certificate of the status page");
    let good = sign(&token, request.to_string().as_bytes());
    let wrong = sign(&STANDARD.encode([6u8; 32]), request.to_string().as_bytes());
    assert_eq!(deliver(&app, &integration, &request, None).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(deliver(&app, &integration, &request, wrong).await.0, StatusCode::UNAUTHORIZED);
    let tampered = activity("1767225600123", "<at>TaskBot</at> delete everything");
    assert_eq!(deliver(&app, &integration, &tampered, good.clone()).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/v1/jobs").await.body["items"], json!([]), "nothing stored");

    // The answer is a message activity carrying the outcome.
    let (status, body) = deliver(&app, &integration, &request, good.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["type"], "message");
    let text = body["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("Created task “Renew the TLS certificate of the status page”"), "{text}");
    let tasks = app.get("/api/v1/tasks").await.body;
    assert_eq!(tasks["items"].as_array().map(Vec::len), Some(1));
    assert!(tasks["items"][0]["description"].as_str().unwrap_or_default().contains("Requested by Megan Bowen"));

    // A redelivery creates nothing more.
    assert_eq!(deliver(&app, &integration, &request, good).await.0, StatusCode::OK);
    assert_eq!(app.get("/api/v1/tasks").await.body["items"].as_array().map(Vec::len), Some(1));
}
both_backends!(teams_outgoing_webhooks_answer_inline);
