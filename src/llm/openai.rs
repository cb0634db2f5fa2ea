//! Any OpenAI-compatible `/v1/chat/completions` server, with a strict JSON-schema
//! `response_format`.

use std::time::Duration;

use serde_json::json;

use super::judge::{self, JudgeRequest, Sameness};
use super::{DraftRequest, LanguageModel, LlmError, LlmFuture, Reply, Tool, Turn, http, prompt};
use crate::domain::message::TaskDraft;
use crate::domain::secret::Secret;

pub struct OpenAi {
    client: reqwest::Client,
    base_url: String,
    model: String,
    api_key: Option<Secret>,
    timeout: Duration,
}

impl OpenAi {
    pub fn new(
        client: reqwest::Client,
        base_url: &str,
        model: &str,
        api_key: Option<Secret>,
        timeout: Duration,
    ) -> Self {
        OpenAi {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
            model: model.to_string(),
            api_key,
            timeout,
        }
    }
}

impl OpenAi {
    /// One chat turn answered in the shape of `schema` (a strict `json_schema` response
    /// format named `name`): the answer's text, unchecked.
    async fn structured(
        &self,
        system: &str,
        user: &str,
        name: &str,
        schema: serde_json::Value,
    ) -> Result<String, LlmError> {
        let body = json!({
            "model": self.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": name, "strict": true, "schema": schema},
            },
        });
        let url = format!("{}/v1/chat/completions", self.base_url);
        let key = self.api_key.as_ref().map(Secret::expose);
        let answer = http::post_json(&self.client, &url, key, &body, self.timeout).await?;
        let message = &answer["choices"][0]["message"];
        if let Some(refusal) = message["refusal"].as_str() {
            return Err(LlmError::InvalidAnswer(format!("the model refused: {refusal}")));
        }
        message["content"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| LlmError::InvalidAnswer("no choices[0].message.content in the response".into()))
    }
}

impl LanguageModel for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    /// The server's models (`/v1/models`, with the key) include this one.
    fn check(&self) -> LlmFuture<'_, String> {
        Box::pin(async move {
            let url = format!("{}/v1/models", self.base_url);
            let key = self.api_key.as_ref().map(Secret::expose);
            let models = match http::get_json(&self.client, &url, key, self.timeout).await {
                Err(LlmError::Http { status: 401 | 403, .. }) => {
                    return Err(LlmError::InvalidAnswer(format!(
                        "the server at {} refuses {} (TASKBRIDGE_LLM_API_KEY)",
                        crate::outbound::shown_url(&self.base_url),
                        if key.is_some() { "the API key" } else { "calls without an API key" }
                    )));
                }
                other => other?,
            };
            let ids: Vec<&str> =
                models["data"].as_array().into_iter().flatten().filter_map(|m| m["id"].as_str()).collect();
            if !super::offers(&ids, &self.model) {
                return Err(LlmError::InvalidAnswer(format!(
                    "the server at {} does not offer the model {:?} (TASKBRIDGE_LLM_MODEL); it offers: {}",
                    crate::outbound::shown_url(&self.base_url),
                    self.model,
                    if ids.is_empty() { "none".to_string() } else { ids.join(", ") }
                )));
            }
            Ok(format!(
                "the server at {} answers and offers {:?}",
                crate::outbound::shown_url(&self.base_url),
                self.model
            ))
        })
    }

    fn draft<'a>(&'a self, request: &'a DraftRequest) -> LlmFuture<'a, TaskDraft> {
        Box::pin(async move {
            let user = prompt::user_turn(request);
            let content = self.structured(prompt::SYSTEM, &user, "task_draft", prompt::schema()).await?;
            prompt::parse_answer(&content, request)
        })
    }

    fn judge<'a>(&'a self, request: &'a JudgeRequest) -> LlmFuture<'a, Vec<Sameness>> {
        Box::pin(async move {
            let user = judge::user_turn(request);
            let content = self.structured(judge::SYSTEM, &user, "duplicate_judgement", judge::schema()).await?;
            judge::parse_answer(&content, request.tasks.len())
        })
    }

    fn converse<'a>(&'a self, turns: &'a [Turn], tools: &'a [Tool]) -> LlmFuture<'a, Reply> {
        Box::pin(async move {
            let messages: Vec<_> =
                turns.iter().map(|t| json!({"role": t.role.as_str(), "content": t.content})).collect();
            let mut body = json!({"model": self.model, "temperature": 0, "messages": messages});
            if !tools.is_empty() {
                let tools: Vec<_> = tools
                    .iter()
                    .map(|t| {
                        json!({"type": "function", "function": {
                            "name": t.name, "description": t.description, "strict": true, "parameters": t.parameters,
                        }})
                    })
                    .collect();
                body["tools"] = json!(tools);
                body["tool_choice"] = json!("auto");
            }
            let url = format!("{}/v1/chat/completions", self.base_url);
            let key = self.api_key.as_ref().map(Secret::expose);
            let answer = http::post_json(&self.client, &url, key, &body, self.timeout).await?;
            let message = &answer["choices"][0]["message"];
            if !message.is_object() {
                return Err(LlmError::InvalidAnswer("no choices[0].message in the response".into()));
            }
            if let Some(refusal) = message["refusal"].as_str() {
                return Err(LlmError::InvalidAnswer(format!("the model refused: {refusal}")));
            }
            let tool_calls = super::tool_calls(&message["tool_calls"]);
            Ok(Reply { content: message["content"].as_str().unwrap_or_default().trim().to_string(), tool_calls })
        })
    }
}
