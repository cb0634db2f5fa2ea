//! `/webhooks/{platform}/{integration_id}`: verified as the platform signs, persisted and
//! queued, acknowledged within the platform's deadline; processing happens later.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::error::{ApiError, ErrorBody};
use super::extract::ApiPath;
use crate::channels::{BotCheck, Inbound, WebhookError, WebhookRequest, adapter};
use crate::domain::id::{IntegrationId, TenantId};
use crate::domain::integration::IntegrationType;
use crate::intake::answer::Heard;
use crate::integrations::IntegrationError;
use crate::jobs::JobKind;
use crate::limits::Scope;
use crate::store::StoreError;
use crate::tasks::mirror::{Mirrored, TrackerChange, mirror};

/// Teams waits five seconds for an outgoing webhook's answer.
const INLINE_WAIT: std::time::Duration = std::time::Duration::from_millis(4000);

#[utoipa::path(post, path = "/webhooks/{platform}/{integration_id}", tag = "webhooks", security(()),
    params(("platform" = String, Path), ("integration_id" = String, Path)),
    request_body(content = String, description = "The platform's payload, signed as the platform signs it"),
    responses(
        (status = 200, description = "Accepted (or a handshake answered)"),
        (status = 401, description = "Bad, missing or stale signature; nothing stored", body = ErrorBody),
        (status = 429, description = "The integration is over its rate limit (`TASKBRIDGE_WEBHOOK_RATE_LIMIT`); \
            nothing stored, retry after `Retry-After` seconds. Platforms that do not retry (Slack slash commands, \
            Discord interactions, Teams outgoing webhooks, Twilio) get 200 with a message saying so instead",
            body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn receive(
    State(s): State<AppState>,
    ApiPath((platform, integration_id)): ApiPath<(String, IntegrationId)>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let unknown = || ApiError::not_found("integration");
    let kind = IntegrationType::parse(&platform).ok_or_else(unknown)?;
    let channel = adapter(kind);
    if channel.is_none() && !crate::trackers::is_tracker(kind) {
        return Err(unknown());
    }
    let (tenant_id, record, secrets) = s.integrations.for_webhook(&integration_id).await.map_err(|e| match e {
        IntegrationError::Store(StoreError::NotFound) => unknown(),
        other => other.into(),
    })?;
    if record.kind != kind {
        return Err(unknown());
    }
    let Some(channel) = channel else {
        return tracker_change(&s, &tenant_id, kind, &record.id, &headers, &body, &secrets).await;
    };
    // Behind a proxy the platform called the public URL, not ours.
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or(uri.path());
    let url = format!("{}{path}", s.integrations.public_url());
    // A Teams bot's token is checked against the Bot Connector's published keys, fetched
    // (and cached) before the synchronous check.
    let mut keys = Vec::new();
    let mut app_id = None;
    let bearer = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.split_once(' '));
    if let (IntegrationType::MsTeams, Some((scheme, token))) = (kind, bearer)
        && scheme.eq_ignore_ascii_case("bearer")
        && let Some(id) = crate::channels::ChannelSettings::read(&record.settings).app_id
    {
        let kid = crate::channels::botframework::key_id(token.trim());
        keys = s.bot.keys(&s.outbound.http, kid.as_deref()).await.map_err(|e| {
            tracing::warn!(error = %e, "Bot Framework keys unavailable");
            ApiError::Unavailable("the Bot Framework signing keys cannot be fetched; retry later".into())
        })?;
        app_id = Some(id.to_string());
    }
    let bot = app_id.as_deref().map(|app_id| BotCheck { keys: &keys, app_id });
    let request = WebhookRequest { headers: &headers, body: &body, url: &url, bot, now: chrono::Utc::now() };
    channel.verify(&request, &secrets).map_err(|e| {
        tracing::warn!(integration_id = %integration_id, reason = %e, "webhook refused");
        ApiError::Unauthorized("the request is not signed by the platform")
    })?;
    let inbound = channel.parse(&request, &record.settings).map_err(|e| match e {
        WebhookError::Malformed(m) => ApiError::BadRequest { code: "malformed_webhook", message: m },
        WebhookError::Unauthorized(m) => ApiError::Unauthorized(m),
    })?;
    // The requester's answer to a question asked in their thread merges their request;
    // any other reply is a message like the rest.
    let inbound = match inbound {
        Inbound::Reply { reply, ack, otherwise } => {
            match crate::intake::answer::hear(&s.store, &tenant_id, &record.id, &reply).await? {
                Heard::NotAnAnswer => *otherwise,
                Heard::Merging | Heard::Settled => {
                    s.wake_workers.wake(crate::jobs::Lane::Intake);
                    return Ok(match ack {
                        Some(ack) => (StatusCode::OK, ack).into_response(),
                        None => (StatusCode::OK, Json(json!({"ok": true}))).into_response(),
                    });
                }
            }
        }
        other => other,
    };
    // A voice note is heard only where speech-to-text is configured.
    let inbound = match inbound {
        Inbound::Voice { unheard, .. } if s.transcriber.is_none() => *unheard,
        other => other,
    };
    if inbound.makes_work()
        && let Err(limited) = s.limiter.check(Scope::Webhook, record.id.as_str()).await
    {
        let told = channel.over_limit(&inbound, &crate::channels::over_limit_text(limited.retry_after_secs()));
        s.metrics.rate_limited(Scope::Webhook, kind.as_str(), told.is_some());
        tracing::warn!(integration_id = %record.id, retry_after_secs = limited.retry_after_secs(),
            "webhook over its rate limit; nothing accepted");
        return match told {
            Some(answer) => Ok((StatusCode::OK, answer).into_response()),
            None => Err(ApiError::RateLimited { what: "this integration", limited }),
        };
    }
    let request = match inbound {
        Inbound::Respond { status, body } => return Ok((status, body).into_response()),
        Inbound::Ignore | Inbound::Reply { .. } => return Ok(StatusCode::OK.into_response()),
        Inbound::Request(r) => r,
        Inbound::Fetch { external_id, data } => {
            defer(&s, &tenant_id, &record.id, external_id, data).await?;
            return Ok((StatusCode::OK, Json(json!({"ok": true}))).into_response());
        }
        Inbound::Voice { external_id, data, ack, .. } => {
            defer(&s, &tenant_id, &record.id, external_id, data).await?;
            return Ok(match ack {
                Some(ack) => (StatusCode::OK, ack).into_response(),
                None => (StatusCode::OK, Json(json!({"ok": true}))).into_response(),
            });
        }
    };
    let answer_inline = request.answer_inline;
    let ack = request.ack.clone();
    let new = request.into_message(kind, &record.id, &record.project_id);
    match super::messages::accept(&s, &tenant_id, &new).await {
        Ok(message) => {
            tracing::info!(message_id = %message.id, integration_id = %record.id, "webhook request accepted");
            if answer_inline {
                // The platform reads only this answer: wait for the outcome within its deadline.
                let message = super::messages::wait_at_most(&s, &tenant_id, message, INLINE_WAIT).await?;
                if message.status.is_final() {
                    let text = crate::channels::reply_text(
                        &s.store,
                        &tenant_id,
                        &message,
                        s.integrations.public_url(),
                        crate::channels::Ask::No,
                    )
                    .await;
                    return Ok((StatusCode::OK, Json(channel.inline_answer(&text))).into_response());
                }
            }
        }
        // A redelivery: the first delivery was stored, so acknowledge and do nothing more.
        Err(StoreError::Conflict(_)) => tracing::info!(integration_id = %record.id, "redelivered event ignored"),
        Err(e) => return Err(e.into()),
    }
    Ok(match ack {
        Some(ack) => (StatusCode::OK, ack).into_response(),
        None => (StatusCode::OK, Json(json!({"ok": true}))).into_response(),
    })
}

/// Queues a request to be read from the platform (`channel.fetch`), persisted before the
/// answer; a redelivery finds the job and adds nothing.
async fn defer(
    s: &AppState,
    tenant_id: &TenantId,
    integration_id: &IntegrationId,
    external_id: String,
    data: serde_json::Value,
) -> Result<(), ApiError> {
    let job = crate::intake::FetchRequest { integration_id: integration_id.clone(), external_id, data }.job();
    if s.store.enqueue(tenant_id, &job).await? {
        s.wake_workers.wake(crate::jobs::Lane::Intake);
    } else {
        tracing::info!(integration_id = %integration_id, "redelivered event ignored");
    }
    Ok(())
}

/// A tracker telling of a change (Taiga webhooks): verified, then the linked task takes the
/// item's status. The tracker it came from is not sent the change back.
async fn tracker_change(
    s: &AppState,
    tenant_id: &TenantId,
    kind: IntegrationType,
    integration_id: &IntegrationId,
    headers: &HeaderMap,
    body: &[u8],
    secrets: &serde_json::Map<String, serde_json::Value>,
) -> Result<Response, ApiError> {
    let read =
        crate::trackers::inbound::read(kind, headers, body, secrets).ok_or(ApiError::not_found("integration"))?;
    let change = read.map_err(|e| match e {
        WebhookError::Malformed(m) => ApiError::BadRequest { code: "malformed_webhook", message: m },
        WebhookError::Unauthorized(why) => {
            tracing::warn!(%integration_id, reason = %why, "tracker webhook refused");
            ApiError::Unauthorized("the request is not signed by the tracker")
        }
    })?;
    if let Some(change) = change {
        // Jira retries a 429; Taiga does not, and its next poll (TASKBRIDGE_TRACKER_POLL_SECS) brings the change.
        if let Err(limited) = s.limiter.check(Scope::Webhook, integration_id.as_str()).await {
            s.metrics.rate_limited(Scope::Webhook, kind.as_str(), false);
            tracing::warn!(%integration_id, "tracker webhook over its rate limit; nothing accepted");
            return Err(ApiError::RateLimited { what: "this integration", limited });
        }
        let mirrored = TrackerChange { status: change.status, assignee: change.assignee, changed_at: None };
        if mirror(&s.store, tenant_id, integration_id, &change.external_id, &mirrored).await? == Mirrored::Changed {
            s.wake_workers.wake(crate::jobs::Lane::Work);
        }
    }
    Ok((StatusCode::OK, Json(json!({"ok": true}))).into_response())
}
