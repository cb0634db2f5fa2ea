//! Voice notes sent in a chat (Telegram, WhatsApp): the webhook defers them, the
//! `channel.fetch` job downloads the audio from the platform, has it transcribed and makes
//! the transcript the request's text.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::InboundRequest;
use crate::jobs::JobError;
use crate::voice::{Audio, TranscribeError, Transcriber};

/// The largest voice note downloaded (OpenAI's transcription limit).
pub const MAX_VOICE_BYTES: usize = 25 * 1024 * 1024;

/// A deferred voice note: where its audio is (in the adapter's terms) and the request it
/// becomes once heard, less its text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VoiceNote {
    /// Telegram: `{"file_id"}`; WhatsApp: `{"url", "content_type"}`.
    pub media: Value,
    pub author: Option<String>,
    pub channel: Option<String>,
    pub thread_ref: Option<String>,
    pub external_id: String,
    pub reply_to: Value,
}

impl VoiceNote {
    pub fn from_data(data: &Value) -> Result<Self, JobError> {
        serde_json::from_value(data.clone()).map_err(|e| JobError::Permanent(format!("not a voice note: {e}")))
    }

    /// The request the note becomes with its transcript.
    pub fn into_request(self, text: String) -> InboundRequest {
        InboundRequest {
            text,
            author: self.author,
            channel: self.channel,
            thread_ref: self.thread_ref,
            external_id: self.external_id,
            reply_to: self.reply_to,
            ack: None,
            answer_inline: false,
        }
    }
}

/// Reads a download's body, refusing audio above [`MAX_VOICE_BYTES`].
pub async fn read_audio(mut res: reqwest::Response, what: &str) -> Result<Vec<u8>, JobError> {
    if !res.status().is_success() {
        return Err(crate::outbound::http_failure(res.status(), res.headers(), what));
    }
    if res.content_length().is_some_and(|n| n > MAX_VOICE_BYTES as u64) {
        return Err(JobError::Permanent(format!("{what}: the voice note is larger than {MAX_VOICE_BYTES} bytes")));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| crate::outbound::transport_failure(what, e))? {
        if bytes.len() + chunk.len() > MAX_VOICE_BYTES {
            return Err(JobError::Permanent(format!("{what}: the voice note is larger than {MAX_VOICE_BYTES} bytes")));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// The transcript of `audio`; `None` when the recogniser refuses it or hears nothing (a
/// request without words is no request). A failing server is retried.
pub async fn hear(transcriber: Option<&Transcriber>, audio: Audio) -> Result<Option<String>, JobError> {
    let transcriber =
        transcriber.ok_or_else(|| JobError::Permanent("speech-to-text is no longer configured".into()))?;
    match transcriber.transcribe(audio, None).await {
        Ok(text) => Ok(Some(text)),
        Err(e @ (TranscribeError::Refused(_) | TranscribeError::Empty)) => {
            tracing::info!(reason = %e, "voice note not transcribed");
            Ok(None)
        }
        Err(e @ TranscribeError::Failed(_)) => Err(JobError::Retry(e.to_string())),
    }
}

/// A file name the recogniser recognises the format by.
pub fn file_name(content_type: &str) -> String {
    let ext = match content_type.split(';').next().unwrap_or_default().trim() {
        "audio/ogg" | "audio/opus" => "ogg",
        "audio/mpeg" | "audio/mp3" => "mp3",
        "audio/mp4" | "audio/m4a" | "audio/x-m4a" | "audio/aac" => "m4a",
        "audio/amr" => "amr",
        "audio/wav" | "audio/x-wav" => "wav",
        "audio/webm" => "webm",
        _ => "ogg",
    };
    format!("voice.{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_follow_the_media_type() {
        assert_eq!(file_name("audio/ogg; codecs=opus"), "voice.ogg");
        assert_eq!(file_name("audio/mpeg"), "voice.mp3");
        assert_eq!(file_name("audio/amr"), "voice.amr");
    }

    #[test]
    fn a_note_becomes_a_request_with_its_transcript() {
        let note = VoiceNote {
            media: serde_json::json!({"file_id": "f"}),
            author: Some("ana".into()),
            channel: Some("Ops".into()),
            thread_ref: Some("1/2".into()),
            external_id: "9".into(),
            reply_to: serde_json::json!({"chat_id": 1}),
        };
        let data = serde_json::to_value(&note).expect("json");
        let request = VoiceNote::from_data(&data).expect("note").into_request("Renew the cert".into());
        assert_eq!((request.text.as_str(), request.external_id.as_str()), ("Renew the cert", "9"));
        assert_eq!(request.author.as_deref(), Some("ana"));
        assert!(VoiceNote::from_data(&serde_json::json!({"media": 1})).is_err());
    }
}
