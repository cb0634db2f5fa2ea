//! E-mail: raw RFC 5322 messages posted by a mail gateway (authenticated with the shared
//! secret in `X-Taskbridge-Secret` or HTTP basic auth) in, threaded SMTP answers out. An
//! e-mail to the project's address is addressed to taskbridge, so each one is a request.

pub mod imap;
pub mod mime;
mod net;
pub mod smtp;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::ChannelSettings;
use super::{Channel, Inbound, InboundRequest, Reply, ReplyFuture, WebhookError, WebhookRequest};
use crate::domain::message::{Conversation, ThreadReply};
use crate::jobs::JobError;

pub struct Email;

/// The whole SMTP exchange, from connecting to the server's final answer.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

fn given_secret(r: &WebhookRequest<'_>) -> Option<String> {
    if let Some(v) = r.headers.get("x-taskbridge-secret").and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    let auth = r.headers.get("authorization")?.to_str().ok()?;
    let (scheme, encoded) = auth.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    decoded.split_once(':').map(|(_, password)| password.to_string())
}

impl Channel for Email {
    /// Mail arrives through the gateway; an SMTP relay for answers is named, not reached
    /// (that takes a session with the relay, which sending does).
    fn check<'a>(&'a self, check: super::Check<'a>) -> super::CheckFuture<'a> {
        Box::pin(async move {
            Ok(match ChannelSettings::read(check.settings).smtp_host {
                Some(host) => format!("mail arrives from the gateway; answers go out through {host}, not reached here"),
                None => "mail arrives from the gateway; no SMTP relay for answers".to_string(),
            })
        })
    }

    fn verify(&self, r: &WebhookRequest<'_>, secrets: &Map<String, Value>) -> Result<(), WebhookError> {
        use subtle::ConstantTimeEq;
        let expected = secrets
            .get("inbound_secret")
            .and_then(Value::as_str)
            .ok_or(WebhookError::Unauthorized("the integration has no inbound_secret"))?;
        let given = given_secret(r).ok_or(WebhookError::Unauthorized("missing secret"))?;
        if bool::from(expected.trim().as_bytes().ct_eq(given.as_bytes())) {
            Ok(())
        } else {
            Err(WebhookError::Unauthorized("secret mismatch"))
        }
    }

    fn parse(&self, r: &WebhookRequest<'_>, settings: &Map<String, Value>) -> Result<Inbound, WebhookError> {
        let mail = mime::parse(r.body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        let ours =
            ChannelSettings::read(settings).from_address.is_some_and(|a| a.eq_ignore_ascii_case(&mail.from_address));
        // Never answer a machine or ourselves: that is how mail loops start.
        if mail.automatic || ours {
            return Ok(Inbound::Ignore);
        }
        let text = match (mail.subject.is_empty(), mail.body.is_empty()) {
            (true, true) => return Ok(Inbound::Ignore),
            (false, true) => mail.subject.clone(),
            (true, false) => mail.body.clone(),
            (false, false) => format!("{}\n\n{}", mail.subject, mail.body),
        };
        let external_id = match &mail.message_id {
            Some(id) => id.clone(),
            // Without a Message-ID the same bytes are the same message.
            None => Sha256::digest(r.body).iter().map(|b| format!("{b:02x}")).collect(),
        };
        let author = match &mail.from_name {
            Some(name) => format!("{name} <{}>", mail.from_address),
            None => mail.from_address.clone(),
        };
        // A reply to a request's thread may answer the question asked there: its first line,
        // above what it quotes.
        let answer = mail.body.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default().to_string();
        let reply = ThreadReply {
            external_id: format!("reply:{external_id}"),
            text: answer,
            author: Some(author.clone()),
            conversation: Conversation::Threads(mail.references.clone()),
        };
        let request = Inbound::Request(InboundRequest {
            text,
            author: Some(author),
            channel: Some(mail.to_address.clone().unwrap_or_else(|| "e-mail".into())),
            thread_ref: mail.message_id.clone(),
            external_id,
            reply_to: json!({"to": mail.from_address, "subject": mail.subject,
                             "message_id": mail.message_id, "references": mail.references}),
            ack: None,
            answer_inline: false,
        });
        if mail.references.is_empty() {
            return Ok(request);
        }
        Ok(Inbound::Reply { reply, ack: None, otherwise: Box::new(request) })
    }

    /// A reply to an answer comes back to the project's address.
    fn hears_replies(&self, _reply_to: &Value) -> bool {
        true
    }

    fn reply<'a>(&'a self, reply: Reply<'a>) -> ReplyFuture<'a> {
        Box::pin(async move {
            let missing = |what: &str| JobError::Permanent(format!("the e-mail integration has no {what}"));
            let typed = ChannelSettings::read(reply.settings);
            let host = typed.smtp_host.as_deref().ok_or_else(|| missing("smtp_host"))?;
            let from = typed.from_address.as_deref().ok_or_else(|| missing("from_address"))?;
            // Checked when the integration was saved; an older record may still hold nonsense.
            let tls = smtp::Tls::of(reply.settings)
                .ok_or_else(|| JobError::Permanent(format!("unknown tls mode {}", reply.settings["tls"])))?;
            let port = match reply.settings.get("smtp_port") {
                None | Some(Value::Null) => Some(tls.default_port()),
                Some(value) => crate::domain::integration::smtp_port(value),
            }
            .ok_or_else(|| JobError::Permanent("smtp_port is not a port number".into()))?;
            let password = reply.secrets.get("smtp_password").and_then(Value::as_str);
            let credentials = match (typed.smtp_user.as_deref(), password) {
                (Some(user), Some(password)) => Some((user, password)),
                (None, None) => None,
                _ => return Err(JobError::Permanent("smtp_user and smtp_password go together".into())),
            };
            let to = reply.reply_to["to"]
                .as_str()
                .ok_or_else(|| JobError::Permanent("the request has no sender to answer".into()))?;
            let references: Vec<String> = reply.reply_to["references"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            let id = uuid::Uuid::new_v4().simple().to_string();
            let message = mime::Outgoing {
                from,
                to,
                subject: reply.reply_to["subject"].as_str().unwrap_or_default(),
                in_reply_to: reply.reply_to["message_id"].as_str(),
                references: &references,
                text: reply.text,
                date: chrono::Utc::now(),
                id: &id,
            };
            let server = smtp::Server {
                host,
                port,
                tls,
                credentials,
                client_name: from.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost"),
                guard: reply.guard,
            };
            smtp::send(&server, reply.tls, from, &[to], &message.to_bytes(), SEND_TIMEOUT).await.map_err(|e| match e {
                smtp::SmtpError::Transient(m) => JobError::Retry(m),
                smtp::SmtpError::Permanent(m) => JobError::Permanent(m),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(headers: &'a axum::http::HeaderMap, body: &'a [u8]) -> WebhookRequest<'a> {
        WebhookRequest { headers, body, url: "", bot: None, now: chrono::Utc::now() }
    }

    #[test]
    fn the_secret_comes_in_a_header_or_as_the_basic_auth_password() {
        let mut secrets = Map::new();
        secrets.insert("inbound_secret".into(), json!("s3cret"));
        let mut headers = axum::http::HeaderMap::new();
        assert!(Email.verify(&request(&headers, b""), &secrets).is_err());
        headers.insert("x-taskbridge-secret", "s3cret".parse().expect("header"));
        assert!(Email.verify(&request(&headers, b""), &secrets).is_ok());
        let mut headers = axum::http::HeaderMap::new();
        let basic = format!("Basic {}", STANDARD.encode("gateway:s3cret"));
        headers.insert("authorization", basic.parse().expect("header"));
        assert!(Email.verify(&request(&headers, b""), &secrets).is_ok());
        let wrong = format!("Basic {}", STANDARD.encode("gateway:nope"));
        headers.insert("authorization", wrong.parse().expect("header"));
        assert!(Email.verify(&request(&headers, b""), &secrets).is_err());
    }

    #[test]
    fn automatic_mail_is_not_a_request() {
        let raw =
            b"From: MAILER-DAEMON@example.com\r\nTo: tasks@example.com\r\nSubject: Undelivered Mail\r\n\r\nbounce\r\n";
        let headers = axum::http::HeaderMap::new();
        assert!(matches!(Email.parse(&request(&headers, raw), &Map::new()), Ok(Inbound::Ignore)));
        let raw = b"From: ana@example.com\r\nAuto-Submitted: auto-replied\r\nSubject: Out of office\r\n\r\naway\r\n";
        assert!(matches!(Email.parse(&request(&headers, raw), &Map::new()), Ok(Inbound::Ignore)));
    }
}
