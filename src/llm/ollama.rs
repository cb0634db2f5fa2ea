//! Ollama's native chat API with a JSON-schema `format`.

use std::time::Duration;

use serde_json::json;

use super::{DraftRequest, LanguageModel, LlmError, LlmFuture, http, prompt};
use crate::domain::message::TaskDraft;

pub struct Ollama {
    client: reqwest::Client,
    base_url: String,
    model: String,
    timeout: Duration,
}

impl Ollama {
    pub fn new(client: reqwest::Client, base_url: &str, model: &str, timeout: Duration) -> Self {
        Ollama { client, base_url: base_url.trim_end_matches('/').to_string(), model: model.to_string(), timeout }
    }
}

impl LanguageModel for Ollama {
    fn name(&self) -> &'static str {
        "ollama"
    }

    fn draft<'a>(&'a self, request: &'a DraftRequest) -> LlmFuture<'a, TaskDraft> {
        Box::pin(async move {
            let body = json!({
                "model": self.model,
                "stream": false,
                "format": prompt::schema(),
                "options": {"temperature": 0},
                "messages": [
                    {"role": "system", "content": prompt::SYSTEM},
                    {"role": "user", "content": prompt::user_turn(request)},
                ],
            });
            let url = format!("{}/api/chat", self.base_url);
            let answer = http::post_json(&self.client, &url, None, &body, self.timeout).await?;
            let content = answer["message"]["content"]
                .as_str()
                .ok_or_else(|| LlmError::InvalidAnswer("no message.content in the response".into()))?;
            prompt::parse_answer(content, request)
        })
    }
}
