//! Microsoft Teams outgoing webhooks: HMAC-SHA256 over the raw body with the base64
//! security token; the webhook's own answer, a message activity, is the only way back.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::{Channel, Inbound, InboundRequest, Reply, ReplyFuture, WebhookError, WebhookRequest};

pub struct Teams;

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

impl Channel for Teams {
    fn verify(&self, r: &WebhookRequest<'_>, secrets: &Map<String, Value>) -> Result<(), WebhookError> {
        use subtle::ConstantTimeEq;
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

    fn parse(&self, r: &WebhookRequest<'_>, _settings: &Map<String, Value>) -> Result<Inbound, WebhookError> {
        let activity: Value =
            serde_json::from_slice(r.body).map_err(|e| WebhookError::Malformed(format!("not JSON: {e}")))?;
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

    /// The outgoing webhook was answered inline; Teams offers it no other way back.
    fn reply<'a>(&'a self, _reply: Reply<'a>) -> ReplyFuture<'a> {
        Box::pin(async { Ok(()) })
    }

    fn sends_replies(&self) -> bool {
        false
    }

    fn inline_answer(&self, text: &str) -> Value {
        json!({"type": "message", "text": text})
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
            let r = WebhookRequest { headers: &headers, body: &body, url: "", now: chrono::Utc::now() };
            let _ = Teams.parse(&r, &Map::new());
        }

        #[test]
        fn any_text_converts(text in ".{0,200}") {
            let _ = plain_text(&text);
        }
    }
}
