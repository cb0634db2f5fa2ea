//! `/api/v1/voice/transcribe`: a recorded request, transcribed and fed into intake.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::error::{ApiError, ErrorBody, NotFoundExt};
use super::extract::{ApiMultipart, ApiQuery};
use crate::domain::message::{Message, NewMessageInput};
use crate::domain::tenant::Caller;
use crate::voice::{Audio, TranscribeError};

#[derive(Debug, Serialize, ToSchema)]
pub struct Transcribed {
    pub transcript: String,
    /// The request the transcript became, as `GET /api/v1/messages/{id}` shows it; absent
    /// with `create_task=false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Message>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VoiceParams {
    /// Wait (bounded by the server's limit) for the outcome instead of answering at once.
    #[serde(default)]
    pub wait: bool,
    /// `false`: only transcribe (200 with the transcript), no request is made. Also
    /// accepted as a form field.
    pub create_task: Option<bool>,
}

/// The multipart form: the recording and where the request goes.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the form for OpenAPI
pub struct VoiceUpload {
    /// The recording (mp3, mp4, m4a, ogg, wav, webm…).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// The project; the tenant's default project when left out.
    project_id: Option<String>,
    author: Option<String>,
    channel: Option<String>,
    /// ISO-639-1 language of the speech, when known (helps the recogniser).
    language: Option<String>,
    /// `false`: only transcribe, as the query parameter.
    create_task: Option<bool>,
}

fn bad_form(e: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest { code: "malformed_multipart", message: format!("the upload is not a valid form: {e}") }
}

/// A field's bytes, refused once they pass `cap` (the route has no body limit of its own).
async fn read_capped(mut field: axum::extract::multipart::Field<'_>, cap: usize) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
        if bytes.len() + chunk.len() > cap {
            return Err(ApiError::PayloadTooLarge(cap));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

#[utoipa::path(post, path = "/api/v1/voice/transcribe", tag = "voice", params(VoiceParams),
    request_body(content = VoiceUpload, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Transcribed, persisted and queued", body = Transcribed),
        (status = 200, description = "With wait=true: processed, with its outcome; with create_task=false: the transcript alone", body = Transcribed),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 422, description = "No file, or audio the recogniser refused", body = ErrorBody),
        (status = 502, description = "The transcription server failed", body = ErrorBody),
        (status = 503, description = "No transcription server is configured", body = ErrorBody)))]
pub async fn transcribe(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<VoiceParams>,
    ApiMultipart(mut form): ApiMultipart,
) -> Result<(StatusCode, Json<Transcribed>), ApiError> {
    let transcriber = s.transcriber.clone().ok_or_else(|| {
        ApiError::Unavailable("speech-to-text is not configured (set TASKBRIDGE_TRANSCRIBE_BASE_URL)".into())
    })?;
    let mut audio = None;
    let (mut project_id, mut author, mut channel, mut language) = (None, None, None, None);
    let mut create_task = params.create_task;
    while let Some(field) = form.next_field().await.map_err(bad_form)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let file_name = field.file_name().unwrap_or("audio").to_string();
            let content_type = field.content_type().unwrap_or("application/octet-stream").to_string();
            let bytes = read_capped(field, s.max_upload_bytes).await?;
            audio = Some(Audio { bytes, file_name, content_type });
            continue;
        }
        let value = String::from_utf8(read_capped(field, 10_000).await?)
            .map_err(|_| ApiError::Validation(format!("{name}: not UTF-8 text")))?;
        let value = Some(value.trim().to_string()).filter(|v| !v.is_empty());
        match name.as_str() {
            "project_id" => project_id = value,
            "author" => author = value,
            "channel" => channel = value,
            "language" => language = value,
            "create_task" => create_task = Some(parse_flag(value.as_deref())?),
            _ => {} // other clients' extra fields
        }
    }
    let audio = audio.ok_or_else(|| ApiError::Validation("file: an audio file is required".into()))?;
    if audio.bytes.is_empty() {
        return Err(ApiError::Validation("file: the recording is empty".into()));
    }
    if create_task == Some(false) {
        // The replaced backend's transcription alone: nothing is stored.
        let transcript = transcribe_audio(&transcriber, audio, language.as_deref()).await?;
        return Ok((StatusCode::OK, Json(Transcribed { transcript, message: None })));
    }
    let project_id = super::projects::project_or_default(&s, &caller, project_id).await?;
    // Checked before the (paid, slow) transcription.
    s.store.get_project(&caller.tenant_id, &project_id).await.or_not_found("project")?;
    let transcript = transcribe_audio(&transcriber, audio, language.as_deref()).await?;
    // A long recording still makes one request; its start says what it is about.
    let text: String = transcript.chars().take(crate::domain::message::TEXT_MAX).collect();
    let input = NewMessageInput {
        text,
        project_id: project_id.into(),
        author,
        source: Some("voice".into()),
        channel,
        thread_ref: None,
        received_at: None,
    };
    let message = super::messages::accept(&s, &caller.tenant_id, &input.validate()?).await.or_not_found("project")?;
    if !params.wait {
        return Ok((StatusCode::ACCEPTED, Json(Transcribed { transcript, message: Some(message) })));
    }
    let (status, Json(message)) = super::messages::answer_with_outcome(&s, &caller.tenant_id, message).await?;
    Ok((status, Json(Transcribed { transcript, message: Some(message) })))
}

async fn transcribe_audio(
    transcriber: &crate::voice::Transcriber,
    audio: Audio,
    language: Option<&str>,
) -> Result<String, ApiError> {
    transcriber.transcribe(audio, language).await.map_err(|e| match e {
        TranscribeError::Failed(_) => ApiError::BadGateway(e.to_string()),
        TranscribeError::Refused(_) | TranscribeError::Empty => ApiError::Validation(e.to_string()),
    })
}

/// A form's boolean, as HTML forms and the replaced backend's clients write it.
fn parse_flag(value: Option<&str>) -> Result<bool, ApiError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        _ => Err(ApiError::Validation("create_task: must be true or false".into())),
    }
}
