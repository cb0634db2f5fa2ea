//! WhatsApp through Twilio: form-encoded webhooks in (`X-Twilio-Signature`, HMAC-SHA1 over
//! the called URL and the sorted parameters), the Messages API out. A WhatsApp message to
//! the project's number is addressed to taskbridge, so each one is a request.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::voice::{VoiceNote, file_name, hear, read_audio};
use super::{Answer, Channel, Fetch, FetchFuture, Inbound, Reply, ReplyFuture, WebhookError, WebhookRequest};
use super::{Check, CheckFuture, check_call, check_secret};
use crate::jobs::JobError;
use crate::outbound::http_failure;

pub struct WhatsApp;

const DEFAULT_API: &str = "https://api.twilio.com";

/// The URL-decoded form fields, in order.
fn form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// Twilio's signature: base64(HMAC-SHA1(auth token, url + each name and value, sorted)).
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()) else {
        return String::new(); // unreachable: HMAC takes keys of any length
    };
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The URL as configured in Twilio may carry the default port or not; Twilio's SDK accepts
/// either, so both spellings are tried.
fn url_variants(url: &str) -> Vec<String> {
    let mut out = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else { return out };
    let (authority, tail) = rest.find(['/', '?']).map_or((rest, ""), |i| rest.split_at(i));
    let default_port = match scheme {
        "https" => "443",
        "http" => "80",
        _ => return out,
    };
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => out.push(format!("{scheme}://{host}{tail}")),
        _ => out.push(format!("{scheme}://{authority}:{default_port}{tail}")),
    }
    out
}

/// JSON-bodied webhooks sign the URL only and carry the body's hash in `bodySHA256`.
fn body_hash_matches(url: &str, body: &[u8]) -> Option<bool> {
    let query = url.split_once('?')?.1;
    let expected = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "bodySHA256")?.1;
    let actual: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
    Some(expected.eq_ignore_ascii_case(&actual))
}

fn twiml(message: Option<&str>) -> Answer {
    match message {
        Some(text) => Answer::Xml(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{}</Message></Response>",
            xml_escape(text)
        )),
        None => Answer::Xml("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>".into()),
    }
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// WhatsApp addresses carry the channel prefix in Twilio's API.
fn whatsapp_address(number: &str) -> String {
    if number.starts_with("whatsapp:") { number.to_string() } else { format!("whatsapp:{number}") }
}

impl Channel for WhatsApp {
    fn verify(&self, r: &WebhookRequest<'_>, secrets: &Map<String, Value>) -> Result<(), WebhookError> {
        use subtle::ConstantTimeEq;
        let token = secrets
            .get("auth_token")
            .and_then(Value::as_str)
            .ok_or(WebhookError::Unauthorized("the integration has no auth_token"))?;
        let given = r
            .headers
            .get("x-twilio-signature")
            .and_then(|v| v.to_str().ok())
            .ok_or(WebhookError::Unauthorized("missing signature"))?;
        let params = match body_hash_matches(r.url, r.body) {
            Some(false) => return Err(WebhookError::Unauthorized("body does not match bodySHA256")),
            Some(true) => Vec::new(),
            None => form(r.body),
        };
        let matches = url_variants(r.url)
            .iter()
            .any(|url| bool::from(sign(token, url, &params).as_bytes().ct_eq(given.trim().as_bytes())));
        if matches { Ok(()) } else { Err(WebhookError::Unauthorized("signature mismatch")) }
    }

    fn parse(&self, r: &WebhookRequest<'_>, _settings: &Map<String, Value>) -> Result<Inbound, WebhookError> {
        let fields = form(r.body);
        let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let sid = get("MessageSid")
            .or(get("SmsMessageSid"))
            .ok_or_else(|| WebhookError::Malformed("no MessageSid".into()))?;
        let from = get("From").ok_or_else(|| WebhookError::Malformed("no From".into()))?;
        let text = get("Body").unwrap_or("").trim();
        let author = get("ProfileName").filter(|n| !n.is_empty()).unwrap_or(from);
        let note = VoiceNote {
            media: Value::Null,
            author: Some(author.to_string()),
            channel: Some(from.to_string()),
            thread_ref: Some(sid.to_string()),
            external_id: sid.to_string(),
            reply_to: json!({"to": from, "from": get("To")}),
        };
        if text.is_empty() {
            // A photo, or a voice note that cannot be heard: say what is understood.
            let unheard = Inbound::Respond {
                status: axum::http::StatusCode::OK,
                body: twiml(Some("Send me a text describing what needs doing and I will turn it into a task.")),
            };
            let audio = get("MediaContentType0").filter(|t| t.starts_with("audio/"));
            let (Some(content_type), Some(url)) = (audio, get("MediaUrl0")) else { return Ok(unheard) };
            let note = VoiceNote { media: json!({"url": url, "content_type": content_type}), ..note };
            return Ok(Inbound::Voice {
                external_id: sid.to_string(),
                data: serde_json::to_value(note).unwrap_or_default(),
                ack: Some(twiml(None)),
                unheard: Box::new(unheard),
            });
        }
        let mut request = note.into_request(text.to_string());
        request.ack = Some(twiml(None));
        Ok(Inbound::Request(request))
    }

    /// The Twilio account, with its SID and auth token.
    fn check<'a>(&'a self, check: Check<'a>) -> CheckFuture<'a> {
        Box::pin(async move {
            let token = check_secret(check.secrets, "auth_token")?;
            let settings = super::ChannelSettings::read(check.settings);
            let account = settings.account_sid.as_deref().ok_or("the integration has no account_sid")?;
            let base = settings.api(DEFAULT_API).trim_end_matches('/').to_string();
            let request =
                check.client.get(format!("{base}/2010-04-01/Accounts/{account}.json")).basic_auth(account, Some(token));
            let found = check_call("Twilio", request).await?;
            Ok(format!(
                "Twilio answers: the account {:?} is {}",
                found["friendly_name"].as_str().unwrap_or(account),
                found["status"].as_str().unwrap_or("?")
            ))
        })
    }

    /// Twilio does not retry a webhook answered with an error (unless the URL asks for it),
    /// so the sender is told to send it again.
    fn over_limit(&self, _inbound: &Inbound, text: &str) -> Option<Answer> {
        Some(twiml(Some(text)))
    }

    /// Downloads a voice note from Twilio's media URL and transcribes it.
    fn fetch<'a>(&'a self, fetch: Fetch<'a>) -> FetchFuture<'a> {
        Box::pin(async move {
            let note = VoiceNote::from_data(fetch.data)?;
            let url = note.media["url"]
                .as_str()
                .ok_or_else(|| JobError::Permanent("the voice note has no media URL".into()))?;
            let settings = super::ChannelSettings::read(fetch.settings);
            let base = settings.api(DEFAULT_API).trim_end_matches('/');
            let mut request = fetch.client.get(url);
            // Twilio's media may need the account's credentials; they go to Twilio's own
            // API only, never to another host a media URL could name.
            if url.starts_with(&format!("{base}/"))
                && let (Some(account), Some(token)) =
                    (settings.account_sid.as_deref(), fetch.secrets.get("auth_token").and_then(Value::as_str))
            {
                request = request.basic_auth(account, Some(token));
            }
            let res =
                request.send().await.map_err(|e| crate::outbound::transport_failure("Twilio media download", e))?;
            let bytes = read_audio(res, "Twilio media download").await?;
            let content_type = note.media["content_type"].as_str().unwrap_or("audio/ogg").to_string();
            let audio = crate::voice::Audio { bytes, file_name: file_name(&content_type), content_type };
            Ok(hear(fetch.transcriber, audio).await?.map(|text| note.into_request(text)))
        })
    }

    fn reply<'a>(&'a self, reply: Reply<'a>) -> ReplyFuture<'a> {
        Box::pin(async move {
            let token = reply
                .secrets
                .get("auth_token")
                .and_then(Value::as_str)
                .ok_or_else(|| JobError::Permanent("the WhatsApp integration has no auth_token".into()))?;
            let settings = super::ChannelSettings::read(reply.settings);
            let account = settings
                .account_sid
                .as_deref()
                .ok_or_else(|| JobError::Permanent("the WhatsApp integration has no account_sid".into()))?;
            // The configured sender, else the number the request was sent to.
            let from = settings
                .from_number
                .as_deref()
                .or(reply.reply_to["from"].as_str())
                .ok_or_else(|| JobError::Permanent("the WhatsApp integration has no from_number".into()))?;
            let to = reply.reply_to["to"]
                .as_str()
                .ok_or_else(|| JobError::Permanent("the request has no sender to answer".into()))?;
            let base = settings.api(DEFAULT_API);
            let url = format!("{}/2010-04-01/Accounts/{account}/Messages.json", base.trim_end_matches('/'));
            let form =
                [("From", whatsapp_address(from)), ("To", whatsapp_address(to)), ("Body", reply.text.to_string())];
            let res = reply
                .client
                .post(url)
                .basic_auth(account, Some(token))
                .form(&form)
                .send()
                .await
                .map_err(|e| crate::outbound::transport_failure("Twilio Messages", e))?;
            let status = res.status();
            if status.is_success() {
                return Ok(());
            }
            let headers = res.headers().clone();
            let answer: Value = res.json().await.unwrap_or_default();
            // Twilio's rate limit is error 20429 with HTTP 429: the queue waits and retries.
            if status.is_client_error()
                && status != reqwest::StatusCode::TOO_MANY_REQUESTS
                && let Some(message) = answer["message"].as_str()
            {
                let code = answer["code"].as_i64().map(|c| format!(" (error {c})")).unwrap_or_default();
                return Err(JobError::Permanent(format!("Twilio Messages: {message}{code}")));
            }
            Err(http_failure(status, &headers, "Twilio Messages"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The vectors Twilio publishes (contracts/external-apis.md §1.5).
    #[test]
    fn signatures_match_twilios_published_vectors() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let mut p = params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(sign("12345", url, &p), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
        p[1].1 = "+14158675309".into();
        p[3].1 = "+14158675309".into();
        assert_eq!(sign("12345", url, &p), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    }

    #[test]
    fn the_default_port_may_be_written_or_not() {
        assert_eq!(url_variants("https://h.example/x?y=1"), ["https://h.example/x?y=1", "https://h.example:443/x?y=1"]);
        assert_eq!(url_variants("https://h.example:443/x"), ["https://h.example:443/x", "https://h.example/x"]);
    }

    #[test]
    fn json_bodies_are_checked_against_their_hash() {
        let body = br#"{"a":1}"#;
        let hash: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(body_hash_matches(&format!("https://h/x?bodySHA256={hash}"), body), Some(true));
        assert_eq!(body_hash_matches(&format!("https://h/x?bodySHA256={hash}"), b"{}"), Some(false));
        assert_eq!(body_hash_matches("https://h/x", body), None);
    }

    #[test]
    fn twiml_is_escaped() {
        assert_eq!(
            twiml(Some("a < b & \"c\"")),
            Answer::Xml(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>a &lt; b &amp; &quot;c&quot;</Message></Response>"
                    .into()
            )
        );
    }

    proptest::proptest! {
        #[test]
        fn parsing_and_verifying_arbitrary_bytes_never_panics(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            url in ".{0,80}",
        ) {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert("x-twilio-signature", axum::http::HeaderValue::from_static("abc="));
            let r = WebhookRequest { headers: &headers, body: &body, url: &url, bot: None, now: chrono::Utc::now() };
            let _ = WhatsApp.parse(&r, &Map::new());
            let mut secrets = Map::new();
            secrets.insert("auth_token".into(), json!("t"));
            let _ = WhatsApp.verify(&r, &secrets);
        }
    }
}
