//! Microsoft Teams, two ways: outgoing webhooks (HMAC-SHA256 over the raw body with the
//! base64 security token; the webhook's own answer, a message activity, is the only way
//! back) and bots (Bot Connector JWTs; answers posted into the conversation).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::{Answer, Channel, Inbound, InboundRequest, Reply, ReplyFuture, WebhookError, WebhookRequest, botframework};
use super::{Check, CheckFuture};
use crate::domain::message::{Conversation, ThreadReply};
use crate::jobs::JobError;

pub struct MsTeams;

/// `HMAC <base64(HMAC-SHA256(base64_decode(token), body))>`.
pub fn sign(security_token: &str, body: &[u8]) -> Option<String> {
    let key = STANDARD.decode(security_token.trim()).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(body);
    Some(format!("HMAC {}", STANDARD.encode(mac.finalize().into_bytes())))
}

/// The message without the `<at>Bot</at>` mention and simple markup.
fn plain_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<at>") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</at>") {
            Some(end) => rest = &rest[start + end + "</at>".len()..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out.replace("&nbsp;", " ").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").trim().to_string()
}

/// The Bot Connector's token, if this is a bot activity rather than an outgoing webhook.
pub fn bearer<'a>(r: &WebhookRequest<'a>) -> Option<&'a str> {
    let auth = r.headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = auth.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

fn verify_bot(r: &WebhookRequest<'_>, token: &str) -> Result<(), WebhookError> {
    let check = r.bot.ok_or(WebhookError::Unauthorized("the integration has no app_id for a bot"))?;
    let activity: Value = serde_json::from_slice(r.body).map_err(|_| WebhookError::Unauthorized("not an activity"))?;
    let channel_id = activity["channelId"].as_str().unwrap_or_default();
    let service_url = activity["serviceUrl"].as_str().ok_or(WebhookError::Unauthorized("no serviceUrl"))?;
    botframework::verify(token, check.keys, check.app_id, channel_id, service_url, r.now).map_err(|e| match e {
        botframework::BotError::Unauthorized(why) => WebhookError::Unauthorized(why),
        _ => WebhookError::Unauthorized("token check failed"),
    })
}

/// A bot activity: in a personal chat every message is for the bot; elsewhere only messages
/// that mention it, unless the integration takes every message (`mode: all`).
fn parse_bot(activity: &Value, settings: &Map<String, Value>) -> Result<Inbound, WebhookError> {
    if activity["type"] != "message" {
        return Ok(Inbound::Ignore);
    }
    let id = activity["id"].as_str().ok_or_else(|| WebhookError::Malformed("activity without id".into()))?;
    let bot_id = activity["recipient"]["id"].as_str().unwrap_or_default();
    let mentioned = activity["entities"].as_array().into_iter().flatten().any(|e| {
        e["type"] == "mention" && e["mentioned"]["id"].as_str().is_some_and(|m| !bot_id.is_empty() && m == bot_id)
    });
    let personal = activity["conversation"]["conversationType"] == "personal";
    let text = plain_text(activity["text"].as_str().unwrap_or_default());
    let conversation = activity["conversation"]["id"].as_str().unwrap_or_default();
    let service_url = activity["serviceUrl"].as_str().unwrap_or_default();
    if text.is_empty() || conversation.is_empty() {
        return Ok(Inbound::Ignore);
    }
    let is_request = personal || mentioned || super::every_message_is_a_request(settings);
    let request = if is_request {
        Inbound::Request(bot_request(activity, id, &text, conversation, service_url, bot_id))
    } else {
        Inbound::Ignore
    };
    // Any message in the conversation may answer the question asked there.
    let reply = ThreadReply {
        external_id: format!("reply:{conversation}/{id}"),
        text,
        author: activity["from"]["name"].as_str().map(str::to_string),
        conversation: Conversation::Threads(vec![conversation.to_string()]),
    };
    Ok(Inbound::Reply { reply, ack: None, otherwise: Box::new(request) })
}

fn bot_request(
    activity: &Value,
    id: &str,
    text: &str,
    conversation: &str,
    service_url: &str,
    bot_id: &str,
) -> InboundRequest {
    InboundRequest {
        text: text.to_string(),
        author: activity["from"]["name"].as_str().map(str::to_string),
        channel: activity["channelData"]["channel"]["id"].as_str().map(str::to_string),
        thread_ref: Some(conversation.to_string()),
        external_id: format!("{conversation}/{id}"),
        reply_to: json!({"service_url": service_url, "conversation": conversation, "activity": id, "bot": bot_id}),
        ack: None,
        answer_inline: false,
    }
}

/// Answers in the conversation as the bot: a reply to the request's activity, or (sent on
/// request, `proactive`) a new message in the conversation, through the request's Bot
/// Connector or else the configured one. A token the connector refuses is fetched anew once.
async fn reply_as_bot(reply: Reply<'_>) -> Result<(), JobError> {
    let settings = super::ChannelSettings::read(reply.settings);
    let app_id =
        settings.app_id.as_deref().ok_or_else(|| JobError::Permanent("the Teams integration has no app_id".into()))?;
    let password = reply
        .secrets
        .get("app_password")
        .and_then(Value::as_str)
        .ok_or_else(|| JobError::Permanent("the Teams integration has no app_password".into()))?;
    let to = &reply.reply_to;
    let Some(conversation) = to["conversation"].as_str().filter(|c| !c.is_empty()) else {
        return Err(JobError::Permanent("the request has no conversation to answer".into()));
    };
    let activity = to["activity"].as_str();
    let service_url = to["service_url"].as_str().unwrap_or(reply.bot.service_url());
    let mut url = reqwest::Url::parse(service_url)
        .map_err(|_| JobError::Permanent(format!("serviceUrl {service_url:?} is not a URL")))?;
    // Conversation ids carry `:`, `@` and `;`: each is one path segment, encoded.
    url.path_segments_mut()
        .map_err(|_| JobError::Permanent("serviceUrl cannot take a path".into()))?
        .pop_if_empty()
        .extend(["v3", "conversations", conversation, "activities"])
        .extend(activity);
    let mut body = json!({"type": "message", "text": reply.text, "conversation": {"id": conversation}});
    if let Some(activity) = activity {
        body["replyToId"] = json!(activity);
    }
    if let Some(bot) = to["bot"].as_str() {
        body["from"] = json!({"id": bot});
    }
    let mut refreshed = false;
    loop {
        let token = reply.bot.token(app_id, password).await.map_err(|e| JobError::Retry(e.to_string()))?;
        let res = reply
            .client
            .post(url.clone())
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .map_err(|e| crate::outbound::transport_failure("Bot Connector", e))?;
        let status = res.status();
        if status.is_success() {
            return Ok(());
        }
        if status == reqwest::StatusCode::UNAUTHORIZED && !refreshed {
            // A cached token revoked or expired early: one fresh token, then the answer stands.
            reply.bot.forget(app_id, password).await;
            refreshed = true;
            continue;
        }
        return Err(crate::outbound::http_failure(status, res.headers(), "Bot Connector"));
    }
}

impl Channel for MsTeams {
    fn verify(&self, r: &WebhookRequest<'_>, secrets: &Map<String, Value>) -> Result<(), WebhookError> {
        use subtle::ConstantTimeEq;
        if let Some(token) = bearer(r) {
            return verify_bot(r, token);
        }
        let token = secrets
            .get("hmac_secret")
            .and_then(Value::as_str)
            .ok_or(WebhookError::Unauthorized("the integration has no hmac_secret"))?;
        if r.body.is_empty() {
            return Err(WebhookError::Unauthorized("empty body"));
        }
        let given = r
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or(WebhookError::Unauthorized("missing signature"))?;
        let expected = sign(token, r.body).ok_or(WebhookError::Unauthorized("the hmac_secret is not base64"))?;
        if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            Ok(())
        } else {
            Err(WebhookError::Unauthorized("signature mismatch"))
        }
    }

    fn parse(&self, r: &WebhookRequest<'_>, settings: &Map<String, Value>) -> Result<Inbound, WebhookError> {
        let activity: Value =
            serde_json::from_slice(r.body).map_err(|e| WebhookError::Malformed(format!("not JSON: {e}")))?;
        if bearer(r).is_some() {
            return parse_bot(&activity, settings);
        }
        if activity["type"] != "message" {
            return Ok(Inbound::Ignore);
        }
        let id = activity["id"].as_str().ok_or_else(|| WebhookError::Malformed("activity without id".into()))?;
        let text = plain_text(activity["text"].as_str().unwrap_or_default());
        if text.is_empty() {
            return Ok(Inbound::Respond {
                status: axum::http::StatusCode::OK,
                body: self.inline_answer("Tell me what needs doing, e.g. “@TaskBot renew the TLS certificate”.").into(),
            });
        }
        let conversation = activity["conversation"]["id"].as_str().unwrap_or_default();
        Ok(Inbound::Request(InboundRequest {
            text,
            author: activity["from"]["name"].as_str().map(str::to_string),
            channel: activity["channelData"]["channel"]["id"].as_str().map(str::to_string),
            thread_ref: Some(conversation.to_string()).filter(|c| !c.is_empty()),
            external_id: format!("{conversation}/{id}"),
            reply_to: json!({"conversation": conversation, "activity": id}),
            ack: Some(self.inline_answer("Working on it — the task will appear shortly.").into()),
            answer_inline: true,
        }))
    }

    /// A bot posts into the conversation; an outgoing webhook was answered inline, Teams
    /// offers it no other way back.
    fn reply<'a>(&'a self, reply: Reply<'a>) -> ReplyFuture<'a> {
        Box::pin(async move { if self.sends_reply(reply.reply_to) { reply_as_bot(reply).await } else { Ok(()) } })
    }

    /// A bot's answers (they know their Bot Connector) and messages sent on request; an
    /// outgoing webhook's request was answered inline.
    fn sends_reply(&self, reply_to: &Value) -> bool {
        reply_to.get("service_url").is_some() || reply_to["proactive"] == true
    }

    /// A bot hears its conversations; an outgoing webhook only messages that mention it.
    fn hears_replies(&self, reply_to: &Value) -> bool {
        self.sends_reply(reply_to)
    }

    fn inline_answer(&self, text: &str) -> Value {
        json!({"type": "message", "text": text})
    }

    /// A bot gets a token with its app id and password; an outgoing webhook only receives.
    fn check<'a>(&'a self, check: Check<'a>) -> CheckFuture<'a> {
        Box::pin(async move {
            let app_id = super::ChannelSettings::read(check.settings).app_id;
            let password = check.secrets.get("app_password").and_then(Value::as_str);
            let (Some(app_id), Some(password)) = (app_id, password) else {
                return Ok("an outgoing webhook: Teams calls taskbridge, nothing to call".to_string());
            };
            check
                .bot
                .token(&app_id, password)
                .await
                .map(|_| format!("the Bot Framework gives the bot {app_id} a token"))
                .map_err(|e| format!("the Bot Framework gives the bot {app_id} no token: {e}"))
        })
    }

    /// An outgoing webhook is not sent again: its answer tells the person. A bot's activity
    /// gets 429, which the Bot Connector retries.
    fn over_limit(&self, inbound: &Inbound, text: &str) -> Option<Answer> {
        match inbound {
            Inbound::Request(r) if !self.sends_reply(&r.reply_to) => Some(self.inline_answer(text).into()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_stripped() {
        assert_eq!(plain_text("<at>TaskBot</at> renew the TLS cert&nbsp;"), "renew the TLS cert");
        assert_eq!(plain_text("<at>broken"), "");
    }

    #[test]
    fn signatures_use_the_decoded_token() {
        let token = STANDARD.encode([1u8; 32]);
        let a = sign(&token, b"{}").expect("base64 token");
        assert!(a.starts_with("HMAC "));
        assert_ne!(Some(a), sign(&STANDARD.encode([2u8; 32]), b"{}"));
        assert!(sign("not base64!", b"{}").is_none());
    }

    proptest::proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let headers = axum::http::HeaderMap::new();
            let r = WebhookRequest { headers: &headers, body: &body, url: "", bot: None, now: chrono::Utc::now() };
            let _ = MsTeams.parse(&r, &Map::new());
        }

        #[test]
        fn any_text_converts(text in ".{0,200}") {
            let _ = plain_text(&text);
        }
    }
}
