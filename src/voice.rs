//! Speech to text through any OpenAI-compatible `/v1/audio/transcriptions` server (OpenAI,
//! a local whisper.cpp or faster-whisper server…): a voice note becomes the text of a request.

use std::time::Duration;

use serde_json::Value;

use crate::domain::secret::Secret;

#[derive(Debug, Clone)]
pub struct TranscriberConfig {
    /// The server's base URL, without `/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<Secret>,
    pub timeout: Duration,
}

#[derive(Clone)]
pub struct Transcriber {
    client: reqwest::Client,
    config: TranscriberConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    /// The server refused this audio (format, size, language): the caller's problem.
    #[error("the transcription service refused the audio: {0}")]
    Refused(String),
    /// The server failed or could not be reached.
    #[error("the transcription service failed: {0}")]
    Failed(String),
    #[error("the transcription is empty: no speech was recognised")]
    Empty,
}

/// An uploaded recording.
pub struct Audio {
    pub bytes: Vec<u8>,
    pub file_name: String,
    pub content_type: String,
}

impl Transcriber {
    pub fn new(config: TranscriberConfig) -> Self {
        // Not the guarded client: only the operator's `TASKBRIDGE_TRANSCRIBE_BASE_URL` is
        // called (a local whisper server is normal), never a URL a tenant supplied.
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(config.timeout)
            .user_agent(concat!("taskbridge/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Transcriber {
            client,
            config: TranscriberConfig { base_url: config.base_url.trim_end_matches('/').into(), ..config },
        }
    }

    pub async fn transcribe(&self, audio: Audio, language: Option<&str>) -> Result<String, TranscribeError> {
        let part = reqwest::multipart::Part::bytes(audio.bytes)
            .file_name(audio.file_name)
            .mime_str(&audio.content_type)
            .map_err(|_| TranscribeError::Refused(format!("{:?} is not a media type", audio.content_type)))?;
        let mut form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("model", self.config.model.clone())
            .text("response_format", "json");
        if let Some(language) = language {
            form = form.text("language", language.to_string());
        }
        let mut request = self.client.post(format!("{}/v1/audio/transcriptions", self.config.base_url)).multipart(form);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key.expose());
        }
        let response = request.send().await.map_err(|e| {
            tracing::warn!(error = %e.without_url(), "transcription server unreachable");
            TranscribeError::Failed("unreachable".into())
        })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            let message = body["error"]["message"].as_str().unwrap_or_default();
            // 400/413/415/422: this audio will never work, and the server's reason helps the
            // caller. Other failures are the operator's (a wrong key is quoted back, partly):
            // logged, not shown.
            return Err(if matches!(status.as_u16(), 400 | 413 | 415 | 422) {
                TranscribeError::Refused(if message.is_empty() {
                    format!("HTTP {status}")
                } else {
                    message.to_string()
                })
            } else {
                tracing::warn!(status = status.as_u16(), upstream = %message, "transcription failed");
                TranscribeError::Failed(format!("HTTP {}", status.as_u16()))
            });
        }
        let text = body["text"].as_str().ok_or_else(|| TranscribeError::Failed("the answer has no text".into()))?;
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() { Err(TranscribeError::Empty) } else { Ok(text) }
    }
}
