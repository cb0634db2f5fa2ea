//! Discord: interactions in (Ed25519 over timestamp + body, PING → PONG, the `/task`
//! application command deferred, a press of the *same* button under a question), the
//! original response edited with the outcome out.

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::{Map, Value, json};

use super::{Answer, Channel, Inbound, InboundRequest, Reply, ReplyFuture, WebhookError, WebhookRequest};
use super::{Check, CheckFuture, check_call, check_secret};
use crate::domain::message::{Conversation, ThreadReply};
use crate::jobs::JobError;
use crate::outbound::http_failure;

pub struct Discord;

const DEFAULT_API: &str = "https://discord.com/api/v10";
/// Discord documents no window; five minutes keeps replays out without rejecting slow links.
const TOLERANCE_SECS: i64 = 300;

fn hex_bytes<const N: usize>(hex: &str) -> Option<[u8; N]> {
    let hex = hex.trim();
    if hex.len() != 2 * N || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

fn ephemeral(text: &str) -> Inbound {
    Inbound::Respond { status: axum::http::StatusCode::OK, body: ephemeral_message(text) }
}

/// A message only the person who used the command sees.
fn ephemeral_message(text: &str) -> Answer {
    json!({"type": 4, "data": {"content": text, "flags": 64, "allowed_mentions": {"parse": []}}}).into()
}

impl Channel for Discord {
    fn verify(&self, r: &WebhookRequest<'_>, secrets: &Map<String, Value>) -> Result<(), WebhookError> {
        let key = secrets
            .get("public_key")
            .and_then(Value::as_str)
            .and_then(hex_bytes::<32>)
            .and_then(|k| VerifyingKey::from_bytes(&k).ok())
            .ok_or(WebhookError::Unauthorized("the integration has no valid public_key"))?;
        let header = |name: &str| r.headers.get(name).and_then(|v| v.to_str().ok());
        let signature = header("x-signature-ed25519")
            .and_then(hex_bytes::<64>)
            .ok_or(WebhookError::Unauthorized("missing or malformed signature"))?;
        let timestamp = header("x-signature-timestamp").ok_or(WebhookError::Unauthorized("missing timestamp"))?;
        if let Ok(ts) = timestamp.parse::<i64>()
            && (r.now.timestamp() - ts).abs() > TOLERANCE_SECS
        {
            return Err(WebhookError::Unauthorized("stale timestamp"));
        }
        let mut message = Vec::with_capacity(timestamp.len() + r.body.len());
        message.extend_from_slice(timestamp.as_bytes());
        message.extend_from_slice(r.body);
        key.verify(&message, &Signature::from_bytes(&signature))
            .map_err(|_| WebhookError::Unauthorized("signature mismatch"))
    }

    fn parse(&self, r: &WebhookRequest<'_>, _settings: &Map<String, Value>) -> Result<Inbound, WebhookError> {
        let v: Value = serde_json::from_slice(r.body).map_err(|e| WebhookError::Malformed(format!("not JSON: {e}")))?;
        match v["type"].as_i64() {
            Some(1) => Ok(Inbound::Respond { status: axum::http::StatusCode::OK, body: json!({"type": 1}).into() }),
            Some(2) if v["data"]["name"] == "task" => {
                let text = v["data"]["options"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find_map(|o| o["value"].as_str())
                    .unwrap_or("")
                    .trim()
                    .to_string();
                if text.is_empty() {
                    return Ok(ephemeral("Usage: /task <what needs doing>"));
                }
                let id = v["id"].as_str().ok_or_else(|| WebhookError::Malformed("interaction without id".into()))?;
                let author = author_of(&v);
                Ok(Inbound::Request(InboundRequest {
                    text,
                    author,
                    channel: v["channel_id"].as_str().map(str::to_string),
                    thread_ref: v["channel_id"].as_str().map(str::to_string),
                    external_id: id.to_string(),
                    // The token answers for 15 minutes; the channel, as the bot, later on.
                    reply_to: json!({"application_id": v["application_id"], "token": v["token"],
                                     "channel_id": v["channel_id"]}),
                    // Deferred: the answer edits the original response once intake is done.
                    ack: Some(json!({"type": 5}).into()),
                    answer_inline: false,
                }))
            }
            Some(3) => component(&v),
            Some(_) => Ok(ephemeral("Only the /task command is supported.")),
            None => Err(WebhookError::Malformed("interaction without type".into())),
        }
    }

    /// The bot's own user, with its token.
    fn check<'a>(&'a self, check: Check<'a>) -> CheckFuture<'a> {
        Box::pin(async move {
            let token = check_secret(check.secrets, "bot_token")?;
            let base = super::ChannelSettings::read(check.settings).api(DEFAULT_API).trim_end_matches('/').to_string();
            let request = check.client.get(format!("{base}/users/@me")).header("authorization", format!("Bot {token}"));
            let me = check_call("Discord", request).await?;
            Ok(format!("Discord answers: the bot {}", me["username"].as_str().unwrap_or("?")))
        })
    }

    /// Discord does not send an interaction again: the person sees why instead.
    fn over_limit(&self, _inbound: &Inbound, text: &str) -> Option<Answer> {
        Some(ephemeral_message(text))
    }

    fn reply<'a>(&'a self, reply: Reply<'a>) -> ReplyFuture<'a> {
        Box::pin(async move {
            let typed = super::ChannelSettings::read(reply.settings);
            let base = typed.api(DEFAULT_API);
            let base = base.trim_end_matches('/');
            let mut content = json!({"content": reply.text, "allowed_mentions": {"parse": []}});
            // A question offers its answer as a button (a press comes back as an interaction).
            if let Some(request) = reply.reply_to[super::OFFER_SAME].as_str() {
                let button = json!({"type": 2, "style": 1, "label": "Same — add my request there",
                                    "custom_id": format!("{SAME_BUTTON}{request}")});
                content["components"] = json!([{"type": 1, "components": [button]}]);
            }
            let request = match (reply.reply_to["application_id"].as_str(), reply.reply_to["token"].as_str()) {
                (Some(app), Some(token)) => {
                    reply.client.patch(format!("{base}/webhooks/{app}/{token}/messages/@original")).json(&content)
                }
                // No interaction: a message to the channel, as the bot.
                _ => {
                    let channel = reply.reply_to["channel_id"]
                        .as_str()
                        .ok_or_else(|| JobError::Permanent("no interaction or channel to answer".into()))?;
                    let token = reply
                        .secrets
                        .get("bot_token")
                        .and_then(Value::as_str)
                        .ok_or_else(|| JobError::Permanent("the Discord integration has no bot_token".into()))?;
                    reply
                        .client
                        .post(format!("{base}/channels/{channel}/messages"))
                        .header("authorization", format!("Bot {token}"))
                        .json(&content)
                }
            };
            // Without the URL: it carries the interaction token.
            let res = request.send().await.map_err(|e| crate::outbound::transport_failure("Discord", e))?;
            if res.status().is_success() {
                return Ok(());
            }
            let (status, headers) = (res.status(), res.headers().clone());
            let body: Value = res.json().await.unwrap_or_default();
            if let Some(after) = body["retry_after"].as_f64() {
                return Err(JobError::RetryAfter {
                    after: std::time::Duration::from_secs_f64(after.clamp(0.0, 3600.0)),
                    message: "Discord: rate limited".into(),
                });
            }
            Err(http_failure(status, &headers, "Discord webhook"))
        })
    }

    /// Plain channel messages never reach the interactions endpoint; button presses do.
    fn hears_only_buttons(&self, _reply_to: &Value) -> bool {
        true
    }

    /// An interaction's token answers for 15 minutes and editing the first answer would
    /// replace it: later news goes to the channel, as the bot.
    fn later(&self, reply_to: &Value) -> Option<Value> {
        reply_to["channel_id"].as_str().map(|channel| json!({"channel_id": channel}))
    }
}

/// The `custom_id` of the button that answers *same*: this prefix, then the request's id.
const SAME_BUTTON: &str = "same:";

/// Who used an interaction: `member.user` in a server, `user` in a DM, named as requests
/// name their author.
fn author_of(v: &Value) -> Option<String> {
    let user = if v["member"].is_object() { &v["member"]["user"] } else { &v["user"] };
    user["username"].as_str().map(str::to_string)
}

/// A MESSAGE_COMPONENT interaction. A press of the *same* button under a question is the
/// answer *same* from whoever pressed it, about the request the button names; answered by
/// taking the button off the question (UPDATE_MESSAGE), or, for anyone but the requester,
/// with a refusal only they see. Any other component is acknowledged and changes nothing.
fn component(v: &Value) -> Result<Inbound, WebhookError> {
    let id = v["id"].as_str().ok_or_else(|| WebhookError::Malformed("interaction without id".into()))?;
    let request = v["data"]["custom_id"].as_str().and_then(|c| c.strip_prefix(SAME_BUTTON)).filter(|r| !r.is_empty());
    let Some(request) = request.filter(|_| v["data"]["component_type"] == 2) else {
        // DEFERRED_UPDATE_MESSAGE: acknowledged, the message stays as it is.
        return Ok(Inbound::Respond { status: axum::http::StatusCode::OK, body: json!({"type": 6}).into() });
    };
    let reply = ThreadReply {
        external_id: format!("button:{id}"),
        text: "same".into(),
        author: author_of(v),
        conversation: Conversation::Request(request.to_string()),
    };
    Ok(Inbound::Reply {
        reply,
        ack: Some(json!({"type": 7, "data": {"components": []}}).into()),
        otherwise: Box::new(ephemeral("Only the person who asked can answer this.")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let headers = axum::http::HeaderMap::new();
            let r = WebhookRequest { headers: &headers, body: &body, url: "", bot: None, now: chrono::Utc::now() };
            let _ = Discord.parse(&r, &Map::new());
            let secrets: Map<String, Value> = [("public_key".to_string(), Value::String("ab".repeat(32)))].into_iter().collect();
            let _ = Discord.verify(&r, &secrets);
        }
    }

    #[test]
    fn hex_is_strict() {
        assert!(hex_bytes::<2>("abcd").is_some());
        assert!(hex_bytes::<2>("abc").is_none());
        assert!(hex_bytes::<2>("zzzz").is_none());
        assert!(hex_bytes::<2>("ééa").is_none());
    }
}
