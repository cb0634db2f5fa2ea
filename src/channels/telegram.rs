//! Telegram: bot webhook updates in (secret-token header), `sendMessage` replying to the
//! request out.

use serde_json::{Map, Value, json};

use super::voice::{VoiceNote, file_name, hear, read_audio};
use super::{Channel, Fetch, FetchFuture, Inbound, Reply, ReplyFuture, WebhookError, WebhookRequest};
use super::{Check, CheckFuture, check_call, check_secret};
use crate::domain::message::{Conversation, ThreadReply};
use crate::jobs::JobError;
use crate::outbound::http_failure;

pub struct Telegram;

const DEFAULT_API: &str = "https://api.telegram.org";

/// The text after a `/task` (or `/task@BotName`) command, if the message is one.
fn command_text(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix("/task")?;
    let rest = match rest.strip_prefix('@') {
        Some(r) => r.split_once(char::is_whitespace).map(|(_, t)| t).unwrap_or(""),
        None if rest.is_empty() || rest.starts_with(char::is_whitespace) => rest,
        None => return None, // "/tasks", "/taskforce": other commands
    };
    Some(rest.trim())
}

impl Channel for Telegram {
    /// `getMe` with the bot token.
    fn check<'a>(&'a self, check: Check<'a>) -> CheckFuture<'a> {
        Box::pin(async move {
            let token = check_secret(check.secrets, "bot_token")?;
            let base = super::ChannelSettings::read(check.settings).api(DEFAULT_API).trim_end_matches('/').to_string();
            let me = check_call("Telegram", check.client.get(format!("{base}/bot{token}/getMe"))).await?;
            if me["ok"] != true {
                return Err(format!(
                    "Telegram refuses the bot token: {}",
                    me["description"].as_str().unwrap_or("no reason")
                ));
            }
            Ok(format!("Telegram answers: the bot @{}", me["result"]["username"].as_str().unwrap_or("?")))
        })
    }

    fn verify(&self, r: &WebhookRequest<'_>, secrets: &Map<String, Value>) -> Result<(), WebhookError> {
        use subtle::ConstantTimeEq;
        let expected = secrets
            .get("secret_token")
            .and_then(Value::as_str)
            .ok_or(WebhookError::Unauthorized("the integration has no secret_token"))?;
        let given = r
            .headers
            .get("x-telegram-bot-api-secret-token")
            .and_then(|v| v.to_str().ok())
            .ok_or(WebhookError::Unauthorized("missing secret token"))?;
        if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            Ok(())
        } else {
            Err(WebhookError::Unauthorized("secret token mismatch"))
        }
    }

    fn parse(&self, r: &WebhookRequest<'_>, settings: &Map<String, Value>) -> Result<Inbound, WebhookError> {
        let update: Value =
            serde_json::from_slice(r.body).map_err(|e| WebhookError::Malformed(format!("not JSON: {e}")))?;
        let update_id = update["update_id"].as_i64().ok_or_else(|| WebhookError::Malformed("no update_id".into()))?;
        if update["callback_query"].is_object() {
            return Ok(button(&update["callback_query"]));
        }
        let message = &update["message"];
        if message["from"]["is_bot"].as_bool() == Some(true) {
            return Ok(Inbound::Ignore);
        }
        let Some(text) = message["text"].as_str() else { return Ok(voice_note(update_id, message, settings)) };
        let chat_id = message["chat"]["id"].clone();
        let request = match command_text(text) {
            Some("") => {
                // Telegram accepts a method call as the webhook's answer.
                return Ok(Inbound::Respond {
                    status: axum::http::StatusCode::OK,
                    body:
                        json!({"method": "sendMessage", "chat_id": chat_id, "text": "Usage: /task <what needs doing>"})
                            .into(),
                });
            }
            Some(rest) => rest.to_string(),
            None if super::every_message_is_a_request(settings) && !text.starts_with('/') => text.trim().to_string(),
            None if text.starts_with('/') => return Ok(Inbound::Ignore),
            None => return Ok(as_reply(update_id.to_string(), text, message, Inbound::Ignore)),
        };
        let request = Inbound::Request(where_from(update_id, message).into_request(request));
        Ok(as_reply(update_id.to_string(), text, message, request))
    }

    /// Downloads a voice note (`getFile`, then the file) and transcribes it.
    fn fetch<'a>(&'a self, fetch: Fetch<'a>) -> FetchFuture<'a> {
        Box::pin(async move {
            let token = fetch
                .secrets
                .get("bot_token")
                .and_then(Value::as_str)
                .ok_or_else(|| JobError::Permanent("the Telegram integration has no bot_token".into()))?;
            let note = VoiceNote::from_data(fetch.data)?;
            let file_id = note.media["file_id"]
                .as_str()
                .ok_or_else(|| JobError::Permanent("the voice note has no file_id".into()))?;
            let typed = super::ChannelSettings::read(fetch.settings);
            let base = typed.api(DEFAULT_API).trim_end_matches('/');
            let res = fetch
                .client
                .post(format!("{base}/bot{token}/getFile"))
                .json(&json!({"file_id": file_id}))
                .send()
                .await
                // Without the URL: it carries the bot token.
                .map_err(|e| crate::outbound::transport_failure("Telegram getFile", e))?;
            let status = res.status();
            let headers = res.headers().clone();
            let answer: Value = res.json().await.unwrap_or_default();
            let Some(path) = answer["result"]["file_path"].as_str().filter(|_| answer["ok"] == true) else {
                return Err(match answer["description"].as_str() {
                    Some(d) if status.is_client_error() => JobError::Permanent(format!("Telegram getFile: {d}")),
                    _ => crate::outbound::http_failure(status, &headers, "Telegram getFile"),
                });
            };
            let res = fetch
                .client
                .get(format!("{base}/file/bot{token}/{path}"))
                .send()
                .await
                .map_err(|e| crate::outbound::transport_failure("Telegram file download", e))?;
            let bytes = read_audio(res, "Telegram file download").await?;
            let content_type = note.media["mime_type"].as_str().unwrap_or("audio/ogg").to_string();
            let audio = crate::voice::Audio { bytes, file_name: file_name(&content_type), content_type };
            Ok(hear(fetch.transcriber, audio).await?.map(|text| note.into_request(text)))
        })
    }

    fn reply<'a>(&'a self, reply: Reply<'a>) -> ReplyFuture<'a> {
        Box::pin(async move {
            let token = reply
                .secrets
                .get("bot_token")
                .and_then(Value::as_str)
                .ok_or_else(|| JobError::Permanent("the Telegram integration has no bot_token".into()))?;
            let typed = super::ChannelSettings::read(reply.settings);
            let base = typed.api(DEFAULT_API);
            let mut body = json!({"chat_id": reply.reply_to["chat_id"], "text": reply.text});
            // Answers reply to the request; messages sent on request stand alone.
            if let Some(message_id) = reply.reply_to.get("message_id").filter(|m| !m.is_null()) {
                body["reply_parameters"] = json!({"message_id": message_id, "allow_sending_without_reply": true});
            }
            if let Some(thread) = reply.reply_to.get("message_thread_id") {
                body["message_thread_id"] = thread.clone();
            }
            // A question offers its answer as a button too.
            if reply.reply_to[super::OFFER_SAME].is_string() {
                let button = json!({"text": "Same — add my request there", "callback_data": SAME_BUTTON});
                body["reply_markup"] = json!({"inline_keyboard": [[button]]});
            }
            let res = reply
                .client
                .post(format!("{}/bot{token}/sendMessage", base.trim_end_matches('/')))
                .json(&body)
                .send()
                .await
                // Without the URL: it carries the bot token.
                .map_err(|e| crate::outbound::transport_failure("Telegram sendMessage", e))?;
            let status = res.status();
            let headers = res.headers().clone();
            let answer: Value = res.json().await.unwrap_or_default();
            if let Some(after) = answer["parameters"]["retry_after"].as_u64() {
                return Err(JobError::RetryAfter {
                    after: std::time::Duration::from_secs(after.min(3600)),
                    message: "Telegram: too many requests".into(),
                });
            }
            if answer["ok"].as_bool() == Some(true) {
                return Ok(());
            }
            match answer["description"].as_str() {
                Some(d) if !status.is_server_error() => Err(JobError::Permanent(format!("Telegram sendMessage: {d}"))),
                _ => Err(http_failure(status, &headers, "Telegram sendMessage")),
            }
        })
    }

    /// Every chat with the bot sends it replies (in groups, when the bot may read them).
    fn hears_replies(&self, _reply_to: &Value) -> bool {
        true
    }
}

/// The `callback_data` of the button that answers *same*.
const SAME_BUTTON: &str = "same";

/// The name a request's author has (see [`where_from`]).
fn author_of(from: &Value) -> Option<String> {
    from["username"].as_str().or(from["first_name"].as_str()).map(str::to_string)
}

/// A text in a chat, `otherwise` handled as `otherwise`: perhaps the answer to a question
/// asked there. A reply to a person's message (the request itself) answers that request;
/// any other, the requester's latest in the chat.
fn as_reply(external_id: String, text: &str, message: &Value, otherwise: Inbound) -> Inbound {
    let chat = message["chat"]["id"].to_string();
    let replied = &message["reply_to_message"];
    let conversation = match replied["message_id"].as_i64() {
        Some(id) if replied["from"]["is_bot"] != true => Conversation::Threads(vec![format!("{chat}/{id}")]),
        _ => Conversation::Chat(chat),
    };
    let reply = ThreadReply { external_id, text: text.to_string(), author: author_of(&message["from"]), conversation };
    Inbound::Reply { reply, ack: None, otherwise: Box::new(otherwise) }
}

/// A press of the *same* button under a question: the answer *same* from whoever pressed it,
/// about the request the question answered (the message the bot's answer replied to).
fn button(query: &Value) -> Inbound {
    let id = query["id"].as_str().unwrap_or_default();
    // The button's spinner stops once the press is answered.
    let answered = |text: Option<&str>| {
        let mut method = json!({"method": "answerCallbackQuery", "callback_query_id": id});
        if let Some(text) = text {
            method["text"] = json!(text);
        }
        Inbound::Respond { status: axum::http::StatusCode::OK, body: method.into() }
    };
    let message = &query["message"];
    if query["data"] != SAME_BUTTON || id.is_empty() || !message["chat"]["id"].is_i64() {
        return answered(None);
    }
    let chat = message["chat"]["id"].to_string();
    let conversation = match message["reply_to_message"]["message_id"].as_i64() {
        Some(request) => Conversation::Threads(vec![format!("{chat}/{request}")]),
        None => Conversation::Chat(chat),
    };
    let reply = ThreadReply {
        external_id: format!("button:{id}"),
        text: "same".into(),
        author: author_of(&query["from"]),
        conversation,
    };
    let ack = json!({"method": "answerCallbackQuery", "callback_query_id": id, "text": "Got it."});
    Inbound::Reply {
        reply,
        ack: Some(ack.into()),
        otherwise: Box::new(answered(Some("Only the person who asked can answer this."))),
    }
}

/// Who sent `message`, where, and where the answer goes: a request less its text.
fn where_from(update_id: i64, message: &Value) -> VoiceNote {
    let chat_id = message["chat"]["id"].clone();
    let from = &message["from"];
    let author = author_of(from);
    let chat = message["chat"]["title"].as_str().map(str::to_string).or_else(|| Some(chat_id.to_string()));
    let mut reply_to = json!({"chat_id": chat_id, "message_id": message["message_id"]});
    if let Some(thread) = message["message_thread_id"].as_i64() {
        reply_to["message_thread_id"] = json!(thread);
    }
    VoiceNote {
        media: Value::Null,
        author,
        channel: chat,
        thread_ref: Some(format!("{}/{}", message["chat"]["id"], message["message_id"])),
        external_id: update_id.to_string(),
        reply_to,
    }
}

/// A voice note (or audio file) is a request where a text would be: in `all` mode, or with
/// a `/task` caption. Anything else without text is ignored.
fn voice_note(update_id: i64, message: &Value, settings: &Map<String, Value>) -> Inbound {
    let Some(audio) = [&message["voice"], &message["audio"]].into_iter().find(|a| a["file_id"].is_string()) else {
        return Inbound::Ignore;
    };
    let caption = message["caption"].as_str().unwrap_or_default();
    if !(super::every_message_is_a_request(settings) || command_text(caption).is_some()) {
        return Inbound::Ignore;
    }
    let note = VoiceNote {
        media: json!({"file_id": audio["file_id"], "mime_type": audio["mime_type"]}),
        ..where_from(update_id, message)
    };
    Inbound::Voice {
        external_id: update_id.to_string(),
        data: serde_json::to_value(note).unwrap_or_default(),
        ack: None,
        unheard: Box::new(Inbound::Ignore),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_commands_are_recognised() {
        assert_eq!(command_text("/task Fix the login page"), Some("Fix the login page"));
        assert_eq!(command_text("/task@TaskBridgeBot Fix the login page"), Some("Fix the login page"));
        assert_eq!(command_text("/task"), Some(""));
        assert_eq!(command_text("/tasks list"), None);
        assert_eq!(command_text("hello"), None);
    }

    proptest::proptest! {
        #[test]
        fn parsing_arbitrary_bytes_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let headers = axum::http::HeaderMap::new();
            let r = WebhookRequest { headers: &headers, body: &body, url: "", bot: None, now: chrono::Utc::now() };
            let _ = Telegram.parse(&r, &Map::new());
        }

        #[test]
        fn any_text_is_handled(text in ".{0,100}") {
            let _ = command_text(&text);
        }
    }
}
