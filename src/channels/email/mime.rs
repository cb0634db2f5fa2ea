//! E-mail in and out: a raw RFC 5322 / MIME message read into a request (subject and the
//! new part of the plain-text body, HTML converted, quotes and signatures cut), and an
//! answer written as a threaded plain-text reply.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use mail_parser::{HeaderValue, MessageParser};

/// What a request e-mail says and how to answer it.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    pub subject: String,
    pub body: String,
    pub from_address: String,
    pub from_name: Option<String>,
    pub to_address: Option<String>,
    pub message_id: Option<String>,
    /// The thread so far, oldest first (`References`, else `In-Reply-To`).
    pub references: Vec<String>,
    /// Sent by a machine (RFC 3834 `Auto-Submitted`, `Precedence: bulk|list|junk`, bounces):
    /// never a request, never answered.
    pub automatic: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum MimeError {
    #[error("not an e-mail message")]
    NotAMessage,
    #[error("the message has no sender address")]
    NoSender,
}

fn header_text<'a>(message: &'a mail_parser::Message<'_>, name: &'a str) -> Option<&'a str> {
    message.header(name).and_then(HeaderValue::as_text).or_else(|| message.header_raw(name)).map(str::trim)
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    value
        .as_text_list()
        .map(|l| l.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default()
}

pub fn parse(raw: &[u8]) -> Result<Incoming, MimeError> {
    let message = MessageParser::default().parse(raw).ok_or(MimeError::NotAMessage)?;
    // A message without any header is arbitrary bytes, not mail.
    if message.headers().is_empty() {
        return Err(MimeError::NotAMessage);
    }
    let from = message.from().and_then(|a| a.first()).ok_or(MimeError::NoSender)?;
    let from_address = from.address.as_deref().map(str::trim).filter(|a| a.contains('@')).ok_or(MimeError::NoSender)?;
    let auto_submitted = header_text(&message, "Auto-Submitted").is_some_and(|v| !v.eq_ignore_ascii_case("no"));
    let precedence = header_text(&message, "Precedence")
        .is_some_and(|v| ["bulk", "list", "junk"].iter().any(|p| v.eq_ignore_ascii_case(p)));
    let local = from_address.split('@').next().unwrap_or_default().to_ascii_lowercase();
    let bounce = matches!(local.as_str(), "mailer-daemon" | "postmaster")
        || local.starts_with("no-reply")
        || local.starts_with("noreply");
    let mut references = ids(message.references());
    if references.is_empty() {
        references = ids(message.in_reply_to());
    }
    let body = message.body_text(0).map(|b| new_text(&b)).unwrap_or_default();
    Ok(Incoming {
        subject: clean_subject(message.subject().unwrap_or_default()),
        body,
        from_address: from_address.to_string(),
        from_name: from.name.as_deref().map(str::trim).filter(|n| !n.is_empty()).map(str::to_string),
        to_address: message.to().and_then(|a| a.first()).and_then(|a| a.address.as_deref()).map(str::to_string),
        message_id: message.message_id().map(str::to_string),
        references,
        automatic: auto_submitted || precedence || bounce,
    })
}

/// The subject without reply and forward prefixes (`Re:`, `AW:`, `Fwd:`…, repeated).
pub fn clean_subject(subject: &str) -> String {
    let mut s = subject.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        let prefix = ["re:", "aw:", "sv:", "fw:", "fwd:", "wg:", "tr:", "r:"].iter().find(|p| lower.starts_with(**p));
        match prefix {
            Some(p) => s = s[p.len()..].trim_start(),
            None => return s.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }
}

/// Lines that start the quoted original in a reply ("On … wrote:", Outlook's header block).
fn starts_quote(line: &str) -> bool {
    let l = line.trim();
    let lower = l.to_lowercase();
    (lower.starts_with("on ") && lower.ends_with("wrote:"))
        || (lower.starts_with("am ") && lower.ends_with("schrieb:"))
        || (lower.starts_with("le ") && lower.ends_with("a écrit :"))
        || (lower.starts_with("el ") && lower.ends_with("escribió:"))
        || lower.starts_with("-----original message-----")
        || lower.starts_with("________________________________")
        || (lower.starts_with("from:") && lower.contains('@'))
}

/// The part of a body its author wrote now: up to the quoted original or the signature,
/// without `>` quotes and trailing blank lines.
pub fn new_text(body: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for line in body.lines() {
        let bare = line.trim_end_matches('\r');
        // RFC 3676 signature separator "-- ", and the common phone footers.
        if bare == "-- " || bare == "--" || bare.starts_with("Sent from my ") || starts_quote(bare) {
            break;
        }
        if bare.trim_start().starts_with('>') {
            continue;
        }
        kept.push(bare.trim_end());
    }
    while kept.last().is_some_and(|l| l.is_empty()) {
        kept.pop();
    }
    while kept.first().is_some_and(|l| l.is_empty()) {
        kept.remove(0);
    }
    kept.join("\n")
}

/// A header value safe to write: no line breaks (header injection), trimmed.
fn one_line(value: &str) -> String {
    let clean: String = value.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    // Header lines stay far below RFC 5322's 998-octet limit.
    clean.trim().chars().take(200).collect()
}

/// RFC 2047 encoded words for non-ASCII text, each under the 75-character limit.
fn encode_header(value: &str) -> String {
    let value = one_line(value);
    if value.is_ascii() {
        return value;
    }
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in value.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(&chunk)));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", STANDARD.encode(&chunk)));
    }
    words.join("\r\n ")
}

/// A message id in angle brackets.
fn bracketed(id: &str) -> String {
    let id = one_line(id);
    let id = id.trim_start_matches('<').trim_end_matches('>');
    format!("<{id}>")
}

/// The answer to `to`, threaded under the request (`In-Reply-To`, `References`) and marked
/// as automatic (RFC 3834) so that auto-responders do not answer it.
pub struct Outgoing<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub in_reply_to: Option<&'a str>,
    pub references: &'a [String],
    pub text: &'a str,
    pub date: DateTime<Utc>,
    /// Unique part of the new Message-ID.
    pub id: &'a str,
}

impl Outgoing<'_> {
    pub fn message_id(&self) -> String {
        let domain = self.from.rsplit_once('@').map(|(_, d)| d).unwrap_or("taskbridge.invalid");
        format!("<{}@{}>", self.id, one_line(domain))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let subject = match (self.in_reply_to, self.subject.trim()) {
            (Some(_), "") => "Re: your request".to_string(),
            (Some(_), subject) => format!("Re: {}", clean_subject(subject)),
            (None, subject) => subject.to_string(),
        };
        let mut h = vec![
            format!("From: taskbridge <{}>", one_line(self.from)),
            format!("To: <{}>", one_line(self.to)),
            format!("Subject: {}", encode_header(&subject)),
            format!("Date: {}", self.date.to_rfc2822()),
            format!("Message-ID: {}", self.message_id()),
        ];
        if let Some(parent) = self.in_reply_to {
            h.push(format!("In-Reply-To: {}", bracketed(parent)));
            let mut chain: Vec<String> = self.references.iter().map(|r| bracketed(r)).collect();
            let parent = bracketed(parent);
            if chain.last() != Some(&parent) {
                chain.push(parent);
            }
            h.push(format!("References: {}", chain.join("\r\n ")));
        }
        h.push("Auto-Submitted: auto-replied".into());
        h.push("MIME-Version: 1.0".into());
        h.push("Content-Type: text/plain; charset=utf-8".into());
        h.push("Content-Transfer-Encoding: base64".into());
        let mut out = h.join("\r\n");
        out.push_str("\r\n\r\n");
        let body = STANDARD.encode(self.text.replace("\r\n", "\n").replace('\n', "\r\n"));
        for line in body.as_bytes().chunks(76) {
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push_str("\r\n");
        }
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_lose_their_reply_prefixes() {
        assert_eq!(clean_subject("Re: AW: Fwd:  VPN   is down"), "VPN is down");
        assert_eq!(clean_subject("Reorder the backlog"), "Reorder the backlog");
    }

    #[test]
    fn quotes_and_signatures_are_cut() {
        let body = "Please renew the cert.\n\nThanks\n-- \nAna\nOps\n";
        assert_eq!(new_text(body), "Please renew the cert.\n\nThanks");
        let reply = "Yes, and the staging one too.\n\nOn Tue, 3 Dec 2026 at 10:00, Bob <bob@x.io> wrote:\n> renew\n";
        assert_eq!(new_text(reply), "Yes, and the staging one too.");
        assert_eq!(new_text("> only a quote\n"), "");
    }

    #[test]
    fn non_ascii_headers_are_encoded_words() {
        let encoded = encode_header("Re: Überprüfung der Zugänge für das neue Büro in München");
        assert!(encoded.starts_with("=?UTF-8?B?"), "{encoded}");
        assert!(encoded.split("\r\n ").all(|w| w.len() <= 75), "{encoded}");
        assert_eq!(encode_header("plain\r\nBcc: x@y"), "plain  Bcc: x@y");
    }

    #[test]
    fn replies_are_threaded() {
        let refs = vec!["<a@x>".to_string()];
        let out = Outgoing {
            from: "tasks@example.com",
            to: "ana@example.com",
            subject: "VPN is down",
            in_reply_to: Some("<b@x>"),
            references: &refs,
            text: "Created task",
            date: Utc::now(),
            id: "123",
        };
        let text = String::from_utf8(out.to_bytes()).expect("ascii");
        assert!(text.contains("\r\nIn-Reply-To: <b@x>\r\n"), "{text}");
        assert!(text.contains("\r\nReferences: <a@x>\r\n <b@x>\r\n"), "{text}");
        assert!(text.contains("\r\nSubject: Re: VPN is down\r\n"), "{text}");
        assert!(text.contains("Message-ID: <123@example.com>"), "{text}");
        // A message that answers nothing keeps its subject and has no thread headers.
        let fresh = Outgoing { in_reply_to: None, subject: "Deploy at 17:00", ..out };
        let text = String::from_utf8(fresh.to_bytes()).expect("ascii");
        assert!(text.contains("\r\nSubject: Deploy at 17:00\r\n") && !text.contains("In-Reply-To"), "{text}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..1024)) {
            let _ = parse(&raw);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
            let _ = new_text(&text);
            let _ = clean_subject(&text);
            let _ = encode_header(&text);
        }
    }
}
