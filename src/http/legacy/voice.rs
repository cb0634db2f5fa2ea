//! The replaced systems' voice routes, over the v1 handlers of `http::voice`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use crate::domain::tenant::Caller;
use crate::http::AppState;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::extract::{ApiMultipart, ApiQuery};
use crate::http::voice::*;

/// The replaced coordination backend's route for the same upload.
#[utoipa::path(post, path = "/integrations/voice/transcribe", tag = "legacy", params(VoiceParams),
    request_body(content = VoiceUpload, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Transcribed, persisted and queued", body = Transcribed),
        (status = 200, description = "With wait=true: processed, with its outcome; with create_task=false: the transcript alone", body = Transcribed),
        (status = 422, body = ErrorBody), (status = 502, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub async fn legacy_transcribe(
    state: State<AppState>,
    caller: Caller,
    params: ApiQuery<VoiceParams>,
    form: ApiMultipart,
) -> Result<(StatusCode, Json<Transcribed>), ApiError> {
    transcribe(state, caller, params, form).await
}
