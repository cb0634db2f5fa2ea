//! Language models behind one trait. Providers: `builtin` (offline rules, the default),
//! `ollama` and `openai` (any OpenAI-compatible server). Whatever a provider does wrong
//! (timeout, HTTP error, non-JSON, a draft outside the schema), intake falls back to the
//! builtin draft: a message is never lost or stuck because of a model.

pub mod builtin;
pub mod embed;
mod http;
pub mod judge;
mod ollama;
mod openai;
mod prompt;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::message::TaskDraft;

pub use builtin::Builtin;
pub use judge::{JudgeRequest, JudgedTask, Sameness};
pub use ollama::Ollama;
pub use openai::OpenAi;

/// What a model is given: the message and its context. The text is data, never
/// instructions.
#[derive(Debug, Clone)]
pub struct DraftRequest {
    pub text: String,
    pub author: Option<String>,
    pub channel: Option<String>,
    pub source: String,
    pub received_at: DateTime<Utc>,
    pub link: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the model did not answer within {0:?}")]
    Timeout(std::time::Duration),
    #[error("the model server answered HTTP {status}: {message}")]
    Http { status: u16, message: String },
    #[error("cannot reach the model server: {0}")]
    Unreachable(String),
    #[error("the model's answer does not fit its schema: {0}")]
    InvalidAnswer(String),
    #[error("the {0} model does not hold conversations")]
    Unsupported(&'static str),
}

pub type LlmFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LlmError>> + Send + 'a>>;

pub trait LanguageModel: Send + Sync {
    fn name(&self) -> &'static str;

    fn draft<'a>(&'a self, request: &'a DraftRequest) -> LlmFuture<'a, TaskDraft>;

    /// For each of `request.tasks`, whether the request asks for the same work ("same work
    /// or different?"). Providers without a model to ask answer `Unsupported`.
    fn judge<'a>(&'a self, request: &'a JudgeRequest) -> LlmFuture<'a, Vec<Sameness>> {
        let _ = request;
        Box::pin(async move { Err(LlmError::Unsupported(self.name())) })
    }

    /// The model's next turn after `turns`; it may call `tools` instead of (or besides)
    /// answering. Providers without a chat API answer `Unsupported`.
    fn converse<'a>(&'a self, turns: &'a [Turn], tools: &'a [Tool]) -> LlmFuture<'a, Reply> {
        let _ = (turns, tools);
        Box::pin(async move { Err(LlmError::Unsupported(self.name())) })
    }

    /// Whether the model can be used (the server answers and offers the model), said in
    /// words for `taskbridge doctor`; providers with nothing to reach say so.
    fn check(&self) -> LlmFuture<'_, String> {
        Box::pin(async move { Ok(format!("{}: nothing to reach", self.name())) })
    }
}

/// Whether `offered` (a server's model names) holds `model`; `name` and `name:latest` are one.
fn offers(offered: &[&str], model: &str) -> bool {
    let bare = |m: &str| m.strip_suffix(":latest").unwrap_or(m).to_string();
    offered.iter().any(|o| bare(o) == bare(model))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Instructions from taskbridge itself.
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One turn of a conversation with a model.
#[derive(Debug, Clone)]
pub struct Turn {
    pub role: Role,
    pub content: String,
}

impl Turn {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Turn { role, content: content.into() }
    }
}

/// A function a model may call: a name, what it does, and a JSON schema of its arguments
/// (strict: every property required, optional ones nullable).
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: &'static str,
    pub description: &'static str,
    pub parameters: serde_json::Value,
}

/// A call a model made, unchecked: `arguments` is `Err` when they were not a JSON object.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub name: String,
    pub arguments: Result<serde_json::Value, String>,
}

/// A model's turn: what it says and what it calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
}

/// The `tool_calls` of a provider's message (`[{"function": {"name", "arguments"}}]`).
fn tool_calls(raw: &serde_json::Value) -> Vec<ToolCall> {
    let calls = raw.as_array().map(Vec::as_slice).unwrap_or_default();
    calls
        .iter()
        .map(|c| ToolCall {
            name: c["function"]["name"].as_str().unwrap_or_default().to_string(),
            arguments: tool_arguments(&c["function"]["arguments"]),
        })
        .collect()
}

/// The arguments of a tool call, which providers send as an object or as a JSON string.
fn tool_arguments(raw: &serde_json::Value) -> Result<serde_json::Value, String> {
    let parsed = match raw {
        serde_json::Value::String(s) => {
            serde_json::from_str(s).map_err(|e| format!("the arguments are not JSON: {e}"))?
        }
        other => other.clone(),
    };
    if parsed.is_object() { Ok(parsed) } else { Err("the arguments are not a JSON object".into()) }
}

/// Which provider drafts tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Provider {
    #[default]
    Builtin,
    Ollama,
    Openai,
}

/// The provider's settings; base URLs default to the providers' usual addresses.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub provider: Provider,
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<crate::domain::secret::Secret>,
    pub timeout: std::time::Duration,
}

impl ProviderConfig {
    pub fn build(&self) -> Arc<dyn LanguageModel> {
        // Not the guarded client: the base URL is the operator's configuration (a local
        // Ollama is normal), and no tenant or webhook ever supplies a URL this client calls.
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .user_agent(concat!("taskbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        match self.provider {
            Provider::Builtin => Arc::new(Builtin),
            Provider::Ollama => Arc::new(Ollama::new(
                client,
                self.base_url.as_deref().unwrap_or("http://localhost:11434"),
                self.model.as_deref().unwrap_or("llama3.2"),
                self.timeout,
            )),
            Provider::Openai => Arc::new(OpenAi::new(
                client,
                self.base_url.as_deref().unwrap_or("https://api.openai.com"),
                self.model.as_deref().unwrap_or("gpt-4o-mini"),
                self.api_key.clone(),
                self.timeout,
            )),
        }
    }
}

/// A provider with the builtin rules behind it; counts how often it had to fall back.
pub struct WithFallback {
    primary: Arc<dyn LanguageModel>,
    fallback_counter: Option<prometheus_client::metrics::counter::Counter>,
}

impl WithFallback {
    pub fn new(primary: Arc<dyn LanguageModel>) -> Self {
        WithFallback { primary, fallback_counter: None }
    }

    /// Also counts fallbacks in this (Prometheus) counter.
    pub fn counting_in(mut self, counter: prometheus_client::metrics::counter::Counter) -> Self {
        self.fallback_counter = Some(counter);
        self
    }

    pub fn provider(&self) -> &'static str {
        self.primary.name()
    }

    /// Whether drafting asks a model (rather than the builtin rules, which cost nothing).
    pub fn asks_a_model(&self) -> bool {
        self.primary.name() != Builtin.name()
    }

    /// The model's next turn, or `None` when there is no model to ask (the builtin one)
    /// or it failed (logged and counted like a failed draft); the caller answers by rules.
    pub async fn converse(&self, turns: &[Turn], tools: &[Tool]) -> Option<Reply> {
        match self.primary.converse(turns, tools).await {
            Ok(reply) => Some(reply),
            Err(LlmError::Unsupported(_)) => None,
            Err(err) => {
                self.fell_back(&err, "the builtin rules");
                None
            }
        }
    }

    /// The model's verdict on each of `request.tasks`, or `None` when there is no model to
    /// ask or it failed (logged and counted as a fallback): the offline decision stands.
    pub async fn judge(&self, request: &JudgeRequest) -> Option<Vec<Sameness>> {
        if request.tasks.is_empty() {
            return None;
        }
        match self.primary.judge(request).await {
            Ok(verdicts) => Some(verdicts),
            Err(LlmError::Unsupported(_)) => None,
            Err(err) => {
                self.fell_back(&err, "the offline duplicate decision");
                None
            }
        }
    }

    /// Counts and logs a failure the builtin rules stand in for.
    fn fell_back(&self, err: &LlmError, instead: &str) {
        if let Some(counter) = &self.fallback_counter {
            counter.inc();
        }
        tracing::warn!(provider = self.primary.name(), error = %err, "language model failed; using {instead}");
    }

    pub async fn draft(&self, request: &DraftRequest) -> TaskDraft {
        match self.primary.draft(request).await {
            Ok(draft) => draft,
            Err(err) => {
                self.fell_back(&err, "the builtin rules");
                builtin::draft(request)
            }
        }
    }
}
