//! Language models behind one trait. Providers: `builtin` (offline rules, the default),
//! `ollama` and `openai` (any OpenAI-compatible server). Whatever a provider does wrong
//! (timeout, HTTP error, non-JSON, a draft outside the schema), intake falls back to the
//! builtin draft: a message is never lost or stuck because of a model.

pub mod builtin;
mod http;
mod ollama;
mod openai;
mod prompt;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::message::TaskDraft;

pub use builtin::Builtin;
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
    #[error("the model's answer is not a task draft: {0}")]
    InvalidAnswer(String),
}

pub type LlmFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LlmError>> + Send + 'a>>;

pub trait LanguageModel: Send + Sync {
    fn name(&self) -> &'static str;

    fn draft<'a>(&'a self, request: &'a DraftRequest) -> LlmFuture<'a, TaskDraft>;
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
    pub api_key: Option<crate::config::Secret>,
    pub timeout: std::time::Duration,
}

impl ProviderConfig {
    pub fn build(&self) -> Arc<dyn LanguageModel> {
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

    pub async fn draft(&self, request: &DraftRequest) -> TaskDraft {
        match self.primary.draft(request).await {
            Ok(draft) => draft,
            Err(err) => {
                if let Some(counter) = &self.fallback_counter {
                    counter.inc();
                }
                tracing::warn!(provider = self.primary.name(), error = %err, "language model failed; using the builtin draft");
                builtin::draft(request)
            }
        }
    }
}
