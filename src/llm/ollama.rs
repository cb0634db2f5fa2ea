//! Ollama's native chat API with a JSON-schema `format`.

use std::time::Duration;

use serde_json::json;

use super::judge::{self, JudgeRequest, Sameness};
use super::{DraftRequest, LanguageModel, LlmError, LlmFuture, Reply, Tool, Turn, http, prompt};
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

impl Ollama {
    /// One chat turn answered in the shape of `schema` (a JSON-schema `format`): the
    /// answer's text, unchecked.
    async fn structured(&self, system: &str, user: &str, schema: serde_json::Value) -> Result<String, LlmError> {
        let body = json!({
            "model": self.model,
            "stream": false,
            "format": schema,
            "options": {"temperature": 0},
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
        });
        let url = format!("{}/api/chat", self.base_url);
        let answer = http::post_json(&self.client, &url, None, &body, self.timeout).await?;
        answer["message"]["content"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| LlmError::InvalidAnswer("no message.content in the response".into()))
    }
}

impl LanguageModel for Ollama {
    fn name(&self) -> &'static str {
        "ollama"
    }

    /// The pulled models (`/api/tags`) include this one.
    fn check(&self) -> LlmFuture<'_, String> {
        Box::pin(async move {
            let url = format!("{}/api/tags", self.base_url);
            let tags = http::get_json(&self.client, &url, None, self.timeout).await?;
            let names: Vec<&str> =
                tags["models"].as_array().into_iter().flatten().filter_map(|m| m["name"].as_str()).collect();
            if !super::offers(&names, &self.model) {
                return Err(LlmError::InvalidAnswer(format!(
                    "Ollama at {} has no model {:?} (pull it with `ollama pull {}`); it has: {}",
                    crate::outbound::shown_url(&self.base_url),
                    self.model,
                    self.model,
                    if names.is_empty() { "none".to_string() } else { names.join(", ") }
                )));
            }
            Ok(format!("Ollama at {} answers and has {:?}", crate::outbound::shown_url(&self.base_url), self.model))
        })
    }

    fn draft<'a>(&'a self, request: &'a DraftRequest) -> LlmFuture<'a, TaskDraft> {
        Box::pin(async move {
            let content = self.structured(prompt::SYSTEM, &prompt::user_turn(request), prompt::schema()).await?;
            prompt::parse_answer(&content, request)
        })
    }

    fn judge<'a>(&'a self, request: &'a JudgeRequest) -> LlmFuture<'a, Vec<Sameness>> {
        Box::pin(async move {
            let content = self.structured(judge::SYSTEM, &judge::user_turn(request), judge::schema()).await?;
            judge::parse_answer(&content, request.tasks.len())
        })
    }

    fn converse<'a>(&'a self, turns: &'a [Turn], tools: &'a [Tool]) -> LlmFuture<'a, Reply> {
        Box::pin(async move {
            let messages: Vec<_> =
                turns.iter().map(|t| json!({"role": t.role.as_str(), "content": t.content})).collect();
            let mut body =
                json!({"model": self.model, "stream": false, "options": {"temperature": 0}, "messages": messages});
            if !tools.is_empty() {
                let tools: Vec<_> = tools
                    .iter()
                    .map(|t| {
                        json!({"type": "function", "function": {
                            "name": t.name, "description": t.description, "parameters": t.parameters,
                        }})
                    })
                    .collect();
                body["tools"] = json!(tools);
            }
            let url = format!("{}/api/chat", self.base_url);
            let answer = http::post_json(&self.client, &url, None, &body, self.timeout).await?;
            let message = &answer["message"];
            if !message.is_object() {
                return Err(LlmError::InvalidAnswer("no message in the response".into()));
            }
            // Native tool calls carry their arguments as an object (no call id).
            let tool_calls = super::tool_calls(&message["tool_calls"]);
            Ok(Reply { content: message["content"].as_str().unwrap_or_default().trim().to_string(), tool_calls })
        })
    }
}
