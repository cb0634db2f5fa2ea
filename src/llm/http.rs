//! The HTTP call every provider makes: JSON in, JSON out, errors made readable.

use std::time::Duration;

use serde_json::Value;

use super::LlmError;

pub async fn post_json(
    client: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
    body: &Value,
    timeout: Duration,
) -> Result<Value, LlmError> {
    send(client.post(url).json(body), bearer, timeout).await
}

/// A GET answered with JSON (a server's list of models).
pub async fn get_json(
    client: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
    timeout: Duration,
) -> Result<Value, LlmError> {
    send(client.get(url), bearer, timeout).await
}

async fn send(req: reqwest::RequestBuilder, bearer: Option<&str>, timeout: Duration) -> Result<Value, LlmError> {
    let mut req = req.timeout(timeout);
    if let Some(key) = bearer {
        req = req.bearer_auth(key);
    }
    let res = req.send().await.map_err(|e| classify(e, timeout))?;
    let status = res.status();
    let text = res.text().await.map_err(|e| classify(e, timeout))?;
    if !status.is_success() {
        return Err(LlmError::Http { status: status.as_u16(), message: error_message(&text) });
    }
    serde_json::from_str(&text).map_err(|e| LlmError::InvalidAnswer(format!("the response is not JSON: {e}")))
}

fn classify(e: reqwest::Error, timeout: Duration) -> LlmError {
    if e.is_timeout() {
        LlmError::Timeout(timeout)
    } else {
        // Without the URL: it may carry credentials in a query string.
        LlmError::Unreachable(crate::outbound::describe(e))
    }
}

/// The provider's own words from an error body (`{"error": "…"}` or `{"error": {"message"}}`).
fn error_message(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let message = parsed
        .as_ref()
        .and_then(|v| v["error"]["message"].as_str().or_else(|| v["error"].as_str()).map(str::to_string));
    let message = message.unwrap_or_else(|| body.to_string());
    message.chars().take(300).collect()
}
