//! A small SMTP submission client (RFC 5321, 3207 STARTTLS, 8314 implicit TLS, 4954 AUTH):
//! one message per connection, which is all an answer to a request needs.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::net::{Io, NetError};

/// How the connection is protected (an e-mail integration's `tls` setting).
pub use crate::domain::integration::SmtpTls as Tls;

pub struct Server<'a> {
    pub host: &'a str,
    pub port: u16,
    pub tls: Tls,
    /// `(user, password)` for AUTH.
    pub credentials: Option<(&'a str, &'a str)>,
    /// The name this client gives in EHLO.
    pub client_name: &'a str,
    /// Where connections may go (the SSRF guard), checked on the addresses resolved.
    pub guard: crate::integrations::ssrf::Guard,
}

#[derive(Debug, thiserror::Error)]
pub enum SmtpError {
    /// Worth retrying: I/O failures, timeouts, 4xx answers.
    #[error("{0}")]
    Transient(String),
    /// Retrying would not help: 5xx answers, missing STARTTLS, refused credentials.
    #[error("{0}")]
    Permanent(String),
}

impl From<NetError> for SmtpError {
    fn from(e: NetError) -> Self {
        match e {
            NetError::Transient(m) => SmtpError::Transient(m),
            NetError::Permanent(m) => SmtpError::Permanent(m),
        }
    }
}

struct Session {
    io: BufReader<Box<dyn Io>>,
}

/// A server answer: its code and its text lines.
struct Answer {
    code: u16,
    lines: Vec<String>,
}

fn io_error(what: &str, e: std::io::Error) -> SmtpError {
    SmtpError::Transient(format!("SMTP {what}: {e}"))
}

impl Session {
    async fn read(&mut self) -> Result<Answer, SmtpError> {
        /// RFC 5321 caps reply lines at 512 octets; a little slack, then the server is broken.
        const LINE_MAX: u64 = 2048;
        let mut lines = Vec::new();
        loop {
            let mut raw = Vec::new();
            let n = (&mut self.io).take(LINE_MAX).read_until(b'\n', &mut raw).await.map_err(|e| io_error("read", e))?;
            if n == 0 {
                return Err(SmtpError::Transient("SMTP server closed the connection".into()));
            }
            let line = String::from_utf8_lossy(&raw);
            let malformed = || SmtpError::Transient(format!("SMTP server sent a malformed answer: {line:?}"));
            let digits = raw.get(..3).filter(|d| d.iter().all(u8::is_ascii_digit)).ok_or_else(malformed)?;
            if !raw.ends_with(b"\n") || lines.len() > 100 {
                return Err(malformed());
            }
            let code: u16 = std::str::from_utf8(digits).ok().and_then(|d| d.parse().ok()).ok_or_else(malformed)?;
            let more = raw.get(3) == Some(&b'-');
            lines.push(line.get(4..).unwrap_or("").trim_end().to_string());
            if !more {
                return Ok(Answer { code, lines });
            }
        }
    }

    async fn send(&mut self, line: &str) -> Result<(), SmtpError> {
        let io = self.io.get_mut();
        io.write_all(line.as_bytes()).await.map_err(|e| io_error("write", e))?;
        io.write_all(b"\r\n").await.map_err(|e| io_error("write", e))?;
        io.flush().await.map_err(|e| io_error("write", e))
    }

    /// Sends `line` (shown as `shown` in errors, so secrets stay out) and expects `want`.
    async fn command(&mut self, line: &str, shown: &str, want: &[u16]) -> Result<Answer, SmtpError> {
        self.send(line).await?;
        let answer = self.read().await?;
        expect(answer, shown, want)
    }
}

fn expect(answer: Answer, what: &str, want: &[u16]) -> Result<Answer, SmtpError> {
    if want.contains(&answer.code) {
        return Ok(answer);
    }
    let message = format!("SMTP {what}: {} {}", answer.code, answer.lines.join(" "));
    if (400..500).contains(&answer.code) {
        Err(SmtpError::Transient(message))
    } else {
        Err(SmtpError::Permanent(message))
    }
}

/// Dot-stuffs the message and ends lines with CRLF (RFC 5321 §4.5.2).
fn data_block(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 64);
    let text = message.strip_suffix(b"\r\n").or(message.strip_suffix(b"\n")).unwrap_or(message);
    for line in text.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

async fn handshake(stream: Box<dyn Io>, host: &str, tls: &Arc<rustls::ClientConfig>) -> Result<Box<dyn Io>, SmtpError> {
    Ok(super::net::handshake(stream, host, tls, "SMTP").await?)
}

fn offers(ehlo: &Answer, extension: &str) -> bool {
    ehlo.lines.iter().skip(1).any(|l| l.split_whitespace().next().is_some_and(|w| w.eq_ignore_ascii_case(extension)))
}

fn auth_mechanisms(ehlo: &Answer) -> Vec<String> {
    ehlo.lines
        .iter()
        .skip(1)
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            words.next().filter(|w| w.eq_ignore_ascii_case("AUTH")).map(|_| words.map(str::to_ascii_uppercase))
        })
        .flatten()
        .collect()
}

/// An address fit for MAIL FROM / RCPT TO: no brackets, spaces or line breaks.
fn envelope_address(address: &str) -> Result<&str, SmtpError> {
    let ok = !address.is_empty()
        && address.contains('@')
        && !address.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>'));
    if ok { Ok(address) } else { Err(SmtpError::Permanent(format!("not a deliverable address: {address:?}"))) }
}

/// Delivers one message to `to` through `server`, within `timeout`.
pub async fn send(
    server: &Server<'_>,
    tls: &Arc<rustls::ClientConfig>,
    from: &str,
    to: &[&str],
    message: &[u8],
    timeout: Duration,
) -> Result<(), SmtpError> {
    match tokio::time::timeout(timeout, deliver(server, tls, from, to, message)).await {
        Ok(result) => result,
        Err(_) => Err(SmtpError::Transient(format!("SMTP: no answer from {} within {timeout:?}", server.host))),
    }
}

async fn deliver(
    server: &Server<'_>,
    tls: &Arc<rustls::ClientConfig>,
    from: &str,
    to: &[&str],
    message: &[u8],
) -> Result<(), SmtpError> {
    let from = envelope_address(from)?;
    let to = to.iter().map(|a| envelope_address(a)).collect::<Result<Vec<_>, _>>()?;
    if server.credentials.is_some() && server.tls == Tls::None {
        return Err(SmtpError::Permanent("refusing to send SMTP credentials without TLS".into()));
    }
    let mut stream = super::net::connect(server.host, server.port, server.guard, "SMTP").await?;
    if server.tls == Tls::Implicit {
        stream = handshake(stream, server.host, tls).await?;
    }
    let mut s = Session { io: BufReader::new(stream) };
    let greeting = s.read().await?;
    expect(greeting, "greeting", &[220])?;
    let ehlo_line = format!("EHLO {}", server.client_name);
    let mut ehlo = s.command(&ehlo_line, "EHLO", &[250]).await?;
    if server.tls == Tls::StartTls {
        if !offers(&ehlo, "STARTTLS") {
            return Err(SmtpError::Permanent(format!("SMTP server {} does not offer STARTTLS", server.host)));
        }
        s.command("STARTTLS", "STARTTLS", &[220]).await?;
        // Anything buffered before the upgrade would be a plaintext injection: refuse it.
        if !s.io.buffer().is_empty() {
            return Err(SmtpError::Permanent("SMTP server sent data after STARTTLS".into()));
        }
        let plain = s.io.into_inner();
        s = Session { io: BufReader::new(handshake(plain, server.host, tls).await?) };
        ehlo = s.command(&ehlo_line, "EHLO", &[250]).await?;
    }
    if let Some((user, password)) = server.credentials {
        let mechanisms = auth_mechanisms(&ehlo);
        if mechanisms.iter().any(|m| m == "PLAIN") {
            let token = STANDARD.encode(format!("\0{user}\0{password}"));
            s.command(&format!("AUTH PLAIN {token}"), "AUTH PLAIN", &[235]).await?;
        } else if mechanisms.iter().any(|m| m == "LOGIN") {
            s.command("AUTH LOGIN", "AUTH LOGIN", &[334]).await?;
            s.command(&STANDARD.encode(user), "AUTH LOGIN user", &[334]).await?;
            s.command(&STANDARD.encode(password), "AUTH LOGIN password", &[235]).await?;
        } else {
            return Err(SmtpError::Permanent(format!(
                "SMTP server {} offers no PLAIN or LOGIN authentication",
                server.host
            )));
        }
    }
    let utf8 = from.chars().chain(to.iter().flat_map(|a| a.chars())).any(|c| !c.is_ascii());
    let mail_from = if utf8 && offers(&ehlo, "SMTPUTF8") {
        format!("MAIL FROM:<{from}> SMTPUTF8")
    } else {
        format!("MAIL FROM:<{from}>")
    };
    s.command(&mail_from, "MAIL FROM", &[250]).await?;
    for rcpt in &to {
        s.command(&format!("RCPT TO:<{rcpt}>"), "RCPT TO", &[250, 251]).await?;
    }
    s.command("DATA", "DATA", &[354]).await?;
    let block = data_block(message);
    let io = s.io.get_mut();
    io.write_all(&block).await.map_err(|e| io_error("write", e))?;
    io.flush().await.map_err(|e| io_error("write", e))?;
    let answer = s.read().await?;
    expect(answer, "message", &[250])?;
    // The message is accepted; a failed QUIT changes nothing.
    let _ = s.command("QUIT", "QUIT", &[221]).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_dot_stuffed_with_crlf_line_ends() {
        assert_eq!(data_block(b"a\n.b\r\n..c\n"), b"a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(data_block(b""), b"\r\n.\r\n");
    }

    #[test]
    fn extensions_are_read_from_the_ehlo_answer() {
        let ehlo = Answer {
            code: 250,
            lines: vec!["mx.example".into(), "SIZE 1000".into(), "starttls".into(), "AUTH LOGIN plain".into()],
        };
        assert!(offers(&ehlo, "STARTTLS"));
        assert!(!offers(&ehlo, "SMTPUTF8"));
        assert_eq!(auth_mechanisms(&ehlo), ["LOGIN", "PLAIN"]);
    }

    #[test]
    fn envelope_addresses_cannot_inject_commands() {
        assert!(envelope_address("ana@example.com").is_ok());
        assert!(envelope_address("ana@example.com>\r\nRCPT TO:<x@y").is_err());
        assert!(envelope_address("no-at-sign").is_err());
    }

    /// The SMTP client connects by itself: the guard is checked on what the host resolves
    /// to, before connecting, in every spelling of loopback.
    #[tokio::test]
    async fn the_guard_refuses_internal_relays_before_connecting() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let tls = Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("versions")
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        );
        let guard = crate::integrations::ssrf::Guard::new(false);
        for host in ["127.0.0.1", "localhost", "2130706433", "[::ffff:127.0.0.1]"] {
            let server = Server { host, port, tls: Tls::None, credentials: None, client_name: "t", guard };
            let sent = send(&server, &tls, "a@example.com", &["b@example.com"], b"x", Duration::from_secs(5)).await;
            match sent {
                Err(SmtpError::Permanent(why)) => assert!(why.contains("refused"), "{host}: {why}"),
                other => panic!("{host}: {other:?}"),
            }
        }
        let open = crate::integrations::ssrf::Guard::new(true);
        let server = Server { host: "0.0.0.0", port, tls: Tls::None, credentials: None, client_name: "t", guard: open };
        let sent = send(&server, &tls, "a@example.com", &["b@example.com"], b"x", Duration::from_secs(5)).await;
        assert!(matches!(&sent, Err(SmtpError::Permanent(why)) if why.contains("never a destination")), "{sent:?}");
        let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        assert!(accepted.is_err(), "nothing connected");
    }

    #[test]
    fn tls_modes() {
        assert_eq!(Tls::parse("STARTTLS"), Some(Tls::StartTls));
        assert_eq!(Tls::parse("tls").map(Tls::default_port), Some(465));
        assert_eq!(Tls::parse("maybe"), None);
    }
}
