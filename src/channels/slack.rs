//! Slack: Events API and slash commands in (v0 signatures), `chat.postMessage` or the
//! command's `response_url` out.

use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::{
    Answer, Channel, Fetch, FetchFuture, Inbound, InboundRequest, Reply, ReplyFuture, WebhookError, WebhookRequest,
};
use super::{Check, CheckFuture, check_call, check_secret};
use crate::domain::message::{Conversation, ThreadReply};
use crate::integrations::ssrf::check_on_hosts;
use crate::jobs::JobError;
use crate::outbound::http_failure;

pub struct Slack;

const TOLERANCE_SECS: i64 = 300;
const DEFAULT_API: &str = "https://slack.com/api";

fn header<'a>(r: &'a WebhookRequest<'_>, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

/// `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}` keyed with the signing secret as text.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::from("v0=");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Slack's markup made readable: mentions, channel links and URLs, escaped characters.
pub fn plain_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let inner = &rest[start + 1..start + end];
        let (target, label) = inner.split_once('|').map(|(t, l)| (t, Some(l))).unwrap_or((inner, None));
        if let Some(user) = target.strip_prefix('@') {
            out.push('@');
            out.push_str(label.unwrap_or(user));
        } else if let Some(channel) = target.strip_prefix('#') {
            out.push('#');
            out.push_str(label.unwrap_or(channel));
        } else if let Some(special) = target.strip_prefix('!') {
            out.push('@');
            out.push_str(label.unwrap_or(special));
        } else {
            out.push_str(label.unwrap_or(target));
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

/// Removes leading mentions (the bot's, in an `app_mention`).
fn without_leading_mentions(text: &str) -> String {
    let mut rest = text.trim_start();
    while rest.starts_with("<@") {
        match rest.find('>') {
            Some(end) => rest = rest[end + 1..].trim_start_matches([',', ':']).trim_start(),
            None => break,
        }
    }
    rest.to_string()
}

/// Whether a message goes through the install's incoming webhook: when asked for (`…/send`
/// without a channel), or when there is no bot token and it is for the webhook's channel.
fn through_webhook(reply: &Reply<'_>, has_token: bool) -> bool {
    let channel = reply.reply_to["channel"].as_str();
    reply.reply_to["webhook"] == true
        || (!has_token && channel.is_some() && channel == webhook_channel(reply.settings, reply.secrets))
}

/// The channel an install's incoming webhook posts to.
fn webhook_channel<'a>(settings: &'a Map<String, Value>, secrets: &'a Map<String, Value>) -> Option<&'a str> {
    crate::domain::integration::routed(settings, secrets, "webhook_channel_id")
}

fn no_bot_token(reply: &Reply<'_>, has_webhook: bool) -> String {
    match (has_webhook, webhook_channel(reply.settings, reply.secrets)) {
        (true, Some(channel)) => {
            format!("the Slack integration has no bot_token; its incoming webhook posts only to {channel}")
        }
        _ => "the Slack integration has no bot_token".into(),
    }
}

/// Posts `body` to a URL of Slack's hooks (a command's `response_url`, an incoming webhook),
/// which answer `ok` in plain text or an error code with a 4xx. Whoever holds the integration
/// (the tenant) chooses the URL: only Slack's own hosts are called, and the client's guard
/// still checks where they point.
async fn post_to_hook(reply: &Reply<'_>, url: &str, body: &Value, what: &'static str) -> Result<(), JobError> {
    let url = check_on_hosts(url, reply.slack_response_hosts, what)
        .map_err(|refused| JobError::Permanent(format!("{what}: refused: {refused}")))?;
    let res =
        reply.client.post(url).json(body).send().await.map_err(|e| crate::outbound::transport_failure(what, e))?;
    let status = res.status();
    if status.is_success() {
        return Ok(());
    }
    let headers = res.headers().clone();
    let code: String = res.text().await.unwrap_or_default().chars().take(100).collect();
    Err(match http_failure(status, &headers, what) {
        JobError::Permanent(message) if !code.trim().is_empty() => {
            JobError::Permanent(format!("{message}: {}", code.trim()))
        }
        other => other,
    })
}

impl Channel for Slack {
    fn verify(&self, r: &WebhookRequest<'_>, secrets: &Map<String, Value>) -> Result<(), WebhookError> {
        use subtle::ConstantTimeEq;
        let secret = secrets
            .get("signing_secret")
            .and_then(Value::as_str)
            .ok_or(WebhookError::Unauthorized("the integration has no signing_secret"))?;
        let timestamp =
            header(r, "x-slack-request-timestamp").ok_or(WebhookError::Unauthorized("missing timestamp"))?;
        let signature = header(r, "x-slack-signature").ok_or(WebhookError::Unauthorized("missing signature"))?;
        let ts: i64 = timestamp.parse().map_err(|_| WebhookError::Unauthorized("malformed timestamp"))?;
        if (r.now.timestamp() - ts).abs() > TOLERANCE_SECS {
            return Err(WebhookError::Unauthorized("stale timestamp"));
        }
        let expected = sign(secret, timestamp, r.body);
        if bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
            Ok(())
        } else {
            Err(WebhookError::Unauthorized("signature mismatch"))
        }
    }

    fn parse(&self, r: &WebhookRequest<'_>, settings: &Map<String, Value>) -> Result<Inbound, WebhookError> {
        let form = header(r, "content-type").is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        if form {
            return parse_command(r.body);
        }
        let v: Value = serde_json::from_slice(r.body).map_err(|e| WebhookError::Malformed(format!("not JSON: {e}")))?;
        match v["type"].as_str() {
            Some("url_verification") => Ok(Inbound::Respond {
                status: axum::http::StatusCode::OK,
                body: json!({"challenge": v["challenge"].as_str().unwrap_or_default()}).into(),
            }),
            Some("event_callback") => parse_event(&v, settings),
            _ => Ok(Inbound::Ignore),
        }
    }

    /// Reads the message a reaction pointed at (`conversations.replies`, which finds thread
    /// replies as well as channel messages).
    fn fetch<'a>(&'a self, fetch: Fetch<'a>) -> FetchFuture<'a> {
        Box::pin(async move {
            let token = fetch
                .secrets
                .get("bot_token")
                .and_then(Value::as_str)
                .ok_or_else(|| JobError::Permanent("the Slack integration has no bot_token".into()))?;
            let (Some(channel), Some(ts)) = (fetch.data["channel"].as_str(), fetch.data["ts"].as_str()) else {
                return Err(JobError::Permanent("the reaction names no message".into()));
            };
            let typed = super::ChannelSettings::read(fetch.settings);
            let base = typed.api(DEFAULT_API);
            let res = fetch
                .client
                .get(format!("{}/conversations.replies", base.trim_end_matches('/')))
                .bearer_auth(token)
                // The thread's parent always comes first; `oldest` + `inclusive` brings the
                // reacted message (a reply in a thread) right after it.
                .query(&[("channel", channel), ("ts", ts), ("oldest", ts), ("inclusive", "true"), ("limit", "2")])
                .send()
                .await
                .map_err(|e| crate::outbound::transport_failure("Slack conversations.replies", e))?;
            if !res.status().is_success() {
                return Err(http_failure(res.status(), res.headers(), "Slack conversations.replies"));
            }
            let answer: Value = res.json().await.map_err(|e| JobError::Retry(format!("Slack answer: {e}")))?;
            match (answer["ok"].as_bool(), answer["error"].as_str()) {
                (Some(true), _) => {}
                (_, Some("ratelimited")) => {
                    return Err(JobError::RetryAfter {
                        after: std::time::Duration::from_secs(30),
                        message: "Slack: ratelimited".into(),
                    });
                }
                // Deleted since, or the bot is not in the channel: nothing to turn into a task.
                (_, Some("thread_not_found" | "message_not_found")) => return Ok(None),
                (_, error) => {
                    return Err(JobError::Permanent(format!(
                        "Slack conversations.replies: {}",
                        error.unwrap_or("not ok")
                    )));
                }
            }
            let messages = answer["messages"].as_array().map(Vec::as_slice).unwrap_or_default();
            let Some(message) = messages.iter().find(|m| m["ts"] == ts) else { return Ok(None) };
            if message.get("bot_id").is_some() {
                return Ok(None);
            }
            let text = plain_text(&without_leading_mentions(message["text"].as_str().unwrap_or_default()));
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            let thread_ts = message["thread_ts"].as_str().unwrap_or(ts);
            Ok(Some(InboundRequest {
                text: text.to_string(),
                author: message["user"].as_str().map(str::to_string),
                channel: Some(channel.to_string()),
                thread_ref: Some(format!("{channel}/{thread_ts}")),
                external_id: fetch.external_id.to_string(),
                reply_to: json!({"channel": channel, "thread_ts": thread_ts}),
                ack: None,
                answer_inline: false,
            }))
        })
    }

    fn reply<'a>(&'a self, reply: Reply<'a>) -> ReplyFuture<'a> {
        Box::pin(async move {
            if let Some(url) = reply.reply_to["response_url"].as_str().filter(|u| !u.is_empty()) {
                let body = json!({"response_type": "in_channel", "text": reply.text});
                return post_to_hook(&reply, url, &body, "Slack response_url").await;
            }
            let webhook = reply.secrets.get("webhook_url").and_then(Value::as_str).filter(|u| !u.is_empty());
            let token = reply.secrets.get("bot_token").and_then(Value::as_str);
            if let Some(url) = webhook.filter(|_| through_webhook(&reply, token.is_some())) {
                return post_to_hook(&reply, url, &json!({"text": reply.text}), "Slack incoming webhook").await;
            }
            let token = token.ok_or_else(|| JobError::Permanent(no_bot_token(&reply, webhook.is_some())))?;
            let typed = super::ChannelSettings::read(reply.settings);
            let base = typed.api(DEFAULT_API);
            let mut body = json!({"channel": reply.reply_to["channel"], "text": reply.text, "unfurl_links": false});
            if let Some(ts) = reply.reply_to["thread_ts"].as_str() {
                body["thread_ts"] = Value::String(ts.to_string());
            }
            // A question offers its answer as a button too (heard through interactivity).
            if let Some(request) = reply.reply_to[super::OFFER_SAME].as_str() {
                body["blocks"] = json!([
                    {"type": "section", "text": {"type": "mrkdwn", "text": reply.text}},
                    {"type": "actions", "elements": [{"type": "button", "action_id": SAME_BUTTON, "value": request,
                        "text": {"type": "plain_text", "text": "Same — add my request there"}}]}
                ]);
            }
            let res = reply
                .client
                .post(format!("{}/chat.postMessage", base.trim_end_matches('/')))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .map_err(|e| crate::outbound::transport_failure("Slack chat.postMessage", e))?;
            if !res.status().is_success() {
                return Err(http_failure(res.status(), res.headers(), "Slack chat.postMessage"));
            }
            let answer: Value = res.json().await.map_err(|e| JobError::Retry(format!("Slack answer: {e}")))?;
            match (answer["ok"].as_bool(), answer["error"].as_str()) {
                (Some(true), _) => Ok(()),
                (_, Some("ratelimited")) => Err(JobError::RetryAfter {
                    after: std::time::Duration::from_secs(30),
                    message: "Slack: ratelimited".into(),
                }),
                (_, error) => {
                    Err(JobError::Permanent(format!("Slack chat.postMessage: {}", error.unwrap_or("not ok"))))
                }
            }
        })
    }

    /// `auth.test` with the bot token.
    fn check<'a>(&'a self, check: Check<'a>) -> CheckFuture<'a> {
        Box::pin(async move {
            let token = check_secret(check.secrets, "bot_token")?;
            let base = super::ChannelSettings::read(check.settings).api(DEFAULT_API).trim_end_matches('/').to_string();
            let answer = check_call("Slack", check.client.post(format!("{base}/auth.test")).bearer_auth(token)).await?;
            if answer["ok"] != true {
                return Err(format!(
                    "Slack refuses the bot token: {}",
                    answer["error"].as_str().unwrap_or("no reason")
                ));
            }
            Ok(format!(
                "Slack answers: the bot {} in {}",
                answer["user"].as_str().unwrap_or("?"),
                answer["team"].as_str().unwrap_or("?")
            ))
        })
    }

    /// A slash command is not sent again: the person sees why, only to them. Events get
    /// 429, which Slack retries (about a minute, then five, later).
    fn over_limit(&self, inbound: &Inbound, text: &str) -> Option<Answer> {
        match inbound {
            Inbound::Request(r) if r.reply_to.get("response_url").is_some() => {
                Some(json!({"response_type": "ephemeral", "text": text}).into())
            }
            _ => None,
        }
    }

    /// Answers posted in a thread (events, not slash commands) hear the thread's replies.
    fn hears_replies(&self, reply_to: &Value) -> bool {
        reply_to.get("response_url").is_none() && reply_to["thread_ts"].is_string()
    }

    /// A slash command's `response_url` answers for 30 minutes: later news goes to its
    /// channel with the bot token.
    fn later(&self, reply_to: &Value) -> Option<Value> {
        match reply_to["channel"].as_str().filter(|c| !c.is_empty()) {
            Some(channel) if reply_to.get("response_url").is_some() => Some(json!({"channel": channel})),
            _ => Some(reply_to.clone()),
        }
    }
}

fn parse_command(body: &[u8]) -> Result<Inbound, WebhookError> {
    let fields: std::collections::HashMap<String, String> =
        serde_urlencoded::from_bytes(body).map_err(|e| WebhookError::Malformed(format!("bad form body: {e}")))?;
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
    if let Some(payload) = fields.get("payload") {
        return Ok(interaction(payload));
    }
    let text = plain_text(get("text")).trim().to_string();
    if text.is_empty() {
        return Ok(Inbound::Respond {
            status: axum::http::StatusCode::OK,
            body:
                json!({"response_type": "ephemeral", "text": format!("Usage: {} <what needs doing>", get("command"))})
                    .into(),
        });
    }
    let external_id = [get("trigger_id"), get("response_url")].into_iter().find(|s| !s.is_empty()).unwrap_or("");
    if external_id.is_empty() {
        return Err(WebhookError::Malformed("slash command without trigger_id".into()));
    }
    Ok(Inbound::Request(InboundRequest {
        text,
        author: Some(get("user_name")).filter(|s| !s.is_empty()).map(str::to_string),
        channel: Some(get("channel_name")).filter(|s| !s.is_empty()).map(|c| format!("#{c}")),
        thread_ref: None,
        external_id: external_id.to_string(),
        reply_to: json!({"response_url": get("response_url"), "channel": get("channel_id")}),
        ack: Some(json!({"response_type": "ephemeral", "text": "Got it — turning this into a task…"}).into()),
        answer_inline: false,
    }))
}

/// The `action_id` of the button that answers *same*.
const SAME_BUTTON: &str = "same";

/// An interactivity payload: a press of the *same* button under a question is the answer
/// *same* from whoever pressed it, in the question's thread. Anything else is ignored.
fn interaction(payload: &str) -> Inbound {
    let Ok(v) = serde_json::from_str::<Value>(payload) else { return Inbound::Ignore };
    let pressed = v["actions"].as_array().into_iter().flatten().any(|a| a["action_id"] == SAME_BUTTON);
    let channel = v["channel"]["id"].as_str().or(v["container"]["channel_id"].as_str()).unwrap_or_default();
    let message = &v["message"];
    let thread_ts = message["thread_ts"].as_str().or(v["container"]["thread_ts"].as_str());
    let (Some(thread_ts), Some(action_ts)) =
        (thread_ts, v["actions"].as_array().and_then(|a| a.first()).and_then(|a| a["action_ts"].as_str()))
    else {
        return Inbound::Ignore;
    };
    if v["type"] != "block_actions" || !pressed || channel.is_empty() {
        return Inbound::Ignore;
    }
    let reply = ThreadReply {
        external_id: format!("button:{channel}:{thread_ts}:{action_ts}"),
        text: "same".into(),
        author: v["user"]["id"].as_str().map(str::to_string),
        conversation: Conversation::Threads(vec![format!("{channel}/{thread_ts}")]),
    };
    Inbound::Reply { reply, ack: None, otherwise: Box::new(Inbound::Ignore) }
}

/// The configured reaction (`settings.reaction`, default `ticket`) on a message makes that
/// message a request; its text is read later, by [`Slack::fetch`].
fn parse_reaction(event: &Value, settings: &Map<String, Value>) -> Inbound {
    let typed = super::ChannelSettings::read(settings);
    let wanted = typed.reaction.as_deref().map(|r| r.trim_matches(':')).unwrap_or("ticket");
    let item = &event["item"];
    let (Some(channel), Some(ts)) = (item["channel"].as_str(), item["ts"].as_str()) else {
        return Inbound::Ignore;
    };
    // Skin-tone variants (`ticket::skin-tone-2`) count as the reaction.
    let reaction = event["reaction"].as_str().unwrap_or_default();
    if item["type"] != "message" || reaction.split("::").next() != Some(wanted) {
        return Inbound::Ignore;
    }
    Inbound::Fetch {
        // However many people react, and however often Slack delivers it: one request.
        external_id: format!("reaction:{channel}:{ts}"),
        data: json!({"channel": channel, "ts": ts, "reacted_by": event["user"]}),
    }
}

fn parse_event(v: &Value, settings: &Map<String, Value>) -> Result<Inbound, WebhookError> {
    let event = &v["event"];
    let event_id =
        v["event_id"].as_str().ok_or_else(|| WebhookError::Malformed("event_callback without event_id".into()))?;
    if event["type"] == "reaction_added" {
        return Ok(parse_reaction(event, settings));
    }
    // Never bots' messages or edits.
    let by_a_person = event.get("subtype").is_none() && event.get("bot_id").is_none();
    let is_request = match event["type"].as_str() {
        Some("app_mention") => true,
        // Plain messages count only in `all` mode.
        Some("message") => by_a_person && super::every_message_is_a_request(settings),
        _ => false,
    };
    let raw = event["text"].as_str().unwrap_or_default();
    let text = plain_text(&without_leading_mentions(raw)).trim().to_string();
    let channel = event["channel"].as_str().unwrap_or_default();
    let ts = event["ts"].as_str().unwrap_or_default();
    let thread_ts = event["thread_ts"].as_str().unwrap_or(ts);
    let request = if is_request && !text.is_empty() {
        Inbound::Request(request(event, event_id, &text, channel, thread_ts))
    } else {
        Inbound::Ignore
    };
    // A reply in a thread (a mention or not) may answer the question asked there.
    let in_thread = matches!(event["type"].as_str(), Some("message" | "app_mention")) && thread_ts != ts;
    if by_a_person && in_thread && !text.is_empty() && !channel.is_empty() {
        let reply = ThreadReply {
            // Slack sends a mention in a thread twice (`app_mention` and `message`): one reply.
            external_id: format!("reply:{channel}:{ts}"),
            text,
            author: event["user"].as_str().map(str::to_string),
            conversation: Conversation::Threads(vec![format!("{channel}/{thread_ts}")]),
        };
        return Ok(Inbound::Reply { reply, ack: None, otherwise: Box::new(request) });
    }
    Ok(request)
}

fn request(event: &Value, event_id: &str, text: &str, channel: &str, thread_ts: &str) -> InboundRequest {
    InboundRequest {
        text: text.to_string(),
        author: event["user"].as_str().map(str::to_string),
        channel: Some(channel.to_string()).filter(|c| !c.is_empty()),
        thread_ref: Some(format!("{channel}/{thread_ts}")),
        external_id: event_id.to_string(),
        reply_to: json!({"channel": channel, "thread_ts": thread_ts}),
        ack: None,
        answer_inline: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_signature_example_verifies() {
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            sign("8f742231b10e8888abcd99yyyzzz85a5", "1531420618", body.as_bytes()),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }

    #[test]
    fn slack_markup_becomes_plain_text() {
        assert_eq!(
            plain_text("ask <@U123|ana> in <#C1|eng> about <https://x.io|the doc> &amp; &lt;stuff&gt;"),
            "ask @ana in #eng about the doc & <stuff>"
        );
        assert_eq!(without_leading_mentions("<@UBOT> please fix login"), "please fix login");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..Default::default() })]

        #[test]
        fn parsing_arbitrary_bytes_never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512), form in proptest::prelude::any::<bool>()) {
            let mut headers = axum::http::HeaderMap::new();
            if form {
                headers.insert("content-type", axum::http::HeaderValue::from_static("application/x-www-form-urlencoded"));
            }
            let r = WebhookRequest { headers: &headers, body: &body, url: "", bot: None, now: chrono::Utc::now() };
            let _ = Slack.parse(&r, &Map::new());
            let secrets: Map<String, Value> = [("signing_secret".to_string(), Value::String("s".into()))].into_iter().collect();
            let _ = Slack.verify(&r, &secrets);
        }

        #[test]
        fn any_text_converts(text in ".{0,200}") {
            let _ = plain_text(&text);
            let _ = without_leading_mentions(&text);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let headers = axum::http::HeaderMap::new();
        for body in [&b""[..], b"{", b"\xff\xfe", b"{\"type\":\"event_callback\"}", b"payload=%7B"] {
            let r = WebhookRequest { headers: &headers, body, url: "", bot: None, now: chrono::Utc::now() };
            let _ = Slack.parse(&r, &Map::new());
        }
    }
}
