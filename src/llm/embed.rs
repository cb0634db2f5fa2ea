//! Embeddings (`TASKBRIDGE_EMBEDDINGS`): texts to vectors through Ollama's `POST /api/embed`
//! (`{model, input}` → `{embeddings: [[…]]}`) or an OpenAI-compatible `POST /v1/embeddings`
//! (`{model, input}` → `{data: [{index, embedding: […]}]}`), with the same HTTP call and
//! error handling as the language models.

use std::time::Duration;

use serde_json::{Value, json};

use super::{LlmError, http};
use crate::domain::secret::Secret;

/// Which server embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum EmbeddingsProvider {
    /// No embeddings: duplicates are found by their words alone.
    #[default]
    None,
    Ollama,
    Openai,
}

/// A configured embeddings server.
pub struct Embedder {
    provider: EmbeddingsProvider,
    client: reqwest::Client,
    base_url: String,
    model: String,
    api_key: Option<Secret>,
    timeout: Duration,
}

impl Embedder {
    /// `None` when no provider is configured. Base URL and model default per provider.
    pub fn new(
        provider: EmbeddingsProvider,
        base_url: Option<&str>,
        model: Option<&str>,
        api_key: Option<Secret>,
        timeout: Duration,
    ) -> Option<Self> {
        let (default_url, default_model) = match provider {
            EmbeddingsProvider::None => return None,
            EmbeddingsProvider::Ollama => ("http://localhost:11434", "all-minilm"),
            EmbeddingsProvider::Openai => ("https://api.openai.com", "text-embedding-3-small"),
        };
        // As for the language model: the operator's own server, never a tenant's URL.
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("taskbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Some(Embedder {
            provider,
            client,
            base_url: base_url.unwrap_or(default_url).trim_end_matches('/').to_string(),
            model: model.unwrap_or(default_model).to_string(),
            api_key,
            timeout,
        })
    }

    /// The model's name, stored with each vector (vectors of another model are made again).
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Where the server is, said without credentials.
    pub fn place(&self) -> String {
        crate::outbound::shown_url(&self.base_url)
    }

    /// One vector per text, in order.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, LlmError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let body = json!({"model": self.model, "input": texts});
        let (path, key) = match self.provider {
            EmbeddingsProvider::Ollama => ("/api/embed", None),
            _ => ("/v1/embeddings", self.api_key.as_ref().map(Secret::expose)),
        };
        let url = format!("{}{path}", self.base_url);
        let answer = http::post_json(&self.client, &url, key, &body, self.timeout).await?;
        let vectors = match self.provider {
            EmbeddingsProvider::Ollama => parse_ollama(&answer)?,
            _ => parse_openai(&answer)?,
        };
        if vectors.len() != texts.len() {
            return Err(LlmError::InvalidAnswer(format!("{} vectors for {} texts", vectors.len(), texts.len())));
        }
        if vectors.iter().any(|v| v.is_empty() || v.len() != vectors[0].len()) {
            return Err(LlmError::InvalidAnswer("vectors of different or no dimensions".into()));
        }
        Ok(vectors)
    }
}

fn vector(raw: &Value) -> Result<Vec<f32>, LlmError> {
    let items = raw.as_array().ok_or_else(|| LlmError::InvalidAnswer("a vector is not an array".into()))?;
    items
        .iter()
        .map(|x| {
            x.as_f64()
                .filter(|f| f.is_finite())
                .map(|f| f as f32)
                .ok_or_else(|| LlmError::InvalidAnswer("a vector holds something other than numbers".into()))
        })
        .collect()
}

/// `{"embeddings": [[…], …]}`.
fn parse_ollama(answer: &Value) -> Result<Vec<Vec<f32>>, LlmError> {
    let all = answer["embeddings"].as_array().ok_or_else(|| LlmError::InvalidAnswer("no embeddings".into()))?;
    all.iter().map(vector).collect()
}

/// `{"data": [{"index", "embedding": […]}, …]}`, put in `index` order.
fn parse_openai(answer: &Value) -> Result<Vec<Vec<f32>>, LlmError> {
    let data = answer["data"].as_array().ok_or_else(|| LlmError::InvalidAnswer("no data".into()))?;
    let mut indexed: Vec<(u64, Vec<f32>)> = data
        .iter()
        .enumerate()
        .map(|(i, d)| Ok((d["index"].as_u64().unwrap_or(i as u64), vector(&d["embedding"])?)))
        .collect::<Result<_, LlmError>>()?;
    indexed.sort_by_key(|(i, _)| *i);
    Ok(indexed.into_iter().map(|(_, v)| v).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_answer_shapes_are_read() {
        let ollama = json!({"model": "all-minilm", "embeddings": [[0.1, 0.2], [0.3, -0.4]]});
        assert_eq!(parse_ollama(&ollama).expect("ok"), vec![vec![0.1f32, 0.2], vec![0.3, -0.4]]);
        let openai = json!({"object": "list", "data": [
            {"object": "embedding", "index": 1, "embedding": [0.3, -0.4]},
            {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]},
        ]});
        assert_eq!(parse_openai(&openai).expect("ok"), vec![vec![0.1f32, 0.2], vec![0.3, -0.4]]);
    }

    #[test]
    fn other_answers_are_refused() {
        assert!(parse_ollama(&json!({"embedding": [0.1]})).is_err());
        assert!(parse_ollama(&json!({"embeddings": [[0.1, "x"]]})).is_err());
        assert!(parse_openai(&json!({"data": [{"embedding": "0.1"}]})).is_err());
        assert!(parse_openai(&json!({"error": "x"})).is_err());
    }
}
