//! A small IMAP client (RFC 3501 IMAP4rev1; STARTTLS per RFC 2595, SASL-IR per RFC 4959,
//! MOVE per RFC 6851, UID EXPUNGE per RFC 4315, IDLE per RFC 2177) with the few commands
//! reading one folder needs: log in, select, search by UID, fetch a message without marking
//! it, then mark it seen or move it; and wait in IDLE for the server to announce new mail.
//! Responses are read with their literals (`{n}` and `n` bytes), bounded.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use super::net::{Io, NetError};
pub use crate::domain::integration::ImapTls as Tls;

pub struct Server<'a> {
    pub host: &'a str,
    pub port: u16,
    pub tls: Tls,
    pub user: &'a str,
    pub password: &'a str,
    /// Where connections may go (the SSRF guard), checked on the addresses resolved.
    pub guard: crate::integrations::ssrf::Guard,
}

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// Worth retrying: I/O failures, timeouts, `NO` to a command that may pass later.
    #[error("{0}")]
    Transient(String),
    /// Retrying would not help: refused credentials, no TLS, a folder that does not exist.
    #[error("{0}")]
    Permanent(String),
}

impl From<NetError> for ImapError {
    fn from(e: NetError) -> Self {
        match e {
            NetError::Transient(m) => ImapError::Transient(m),
            NetError::Permanent(m) => ImapError::Permanent(m),
        }
    }
}

/// A line longer than this is a broken server (RFC 7162 advises 8 KB for commands).
const LINE_MAX: usize = 64 * 1024;

/// One response: its text with each literal left out (`{n}` stays in place), and the
/// literals in order.
#[derive(Debug, Default, PartialEq)]
struct Response {
    text: String,
    literals: Vec<Vec<u8>>,
}

/// How a tagged command ended.
struct Done {
    ok: bool,
    text: String,
    untagged: Vec<Response>,
}

pub struct Session {
    io: BufReader<Box<dyn Io>>,
    tag: u32,
    capabilities: Vec<String>,
    /// The largest literal accepted (a message's size, with some room).
    literal_max: usize,
    /// The server announced new mail (`EXISTS`/`RECENT`) since [`Session::take_news`].
    news: bool,
}

/// A session in IDLE: its command's tag, for ending it.
#[must_use = "an IDLE is ended with Session::done"]
pub struct Idling {
    tag: String,
}

/// Whether an untagged response announces mail (`* 12 EXISTS`, `* 1 RECENT`).
fn announces_mail(text: &str) -> bool {
    let mut words = text.split_ascii_whitespace();
    words.next() == Some("*")
        && words.next().is_some_and(|n| n.parse::<u32>().is_ok())
        && words.next().is_some_and(|w| w.eq_ignore_ascii_case("EXISTS") || w.eq_ignore_ascii_case("RECENT"))
        && words.next().is_none()
}

fn io_error(what: &str, e: std::io::Error) -> ImapError {
    ImapError::Transient(format!("IMAP {what}: {e}"))
}

/// The length of the literal a line announces at its end (`{12}` or `{12+}`).
fn literal_len(line: &str) -> Option<usize> {
    let inner = line.strip_suffix('}')?;
    let start = inner.rfind('{')?;
    inner[start + 1..].trim_end_matches('+').parse().ok()
}

/// An IMAP quoted string (RFC 3501 §4.3) for ASCII text without line breaks.
fn quoted(s: &str) -> Result<String, ImapError> {
    if s.chars().any(|c| !c.is_ascii() || c == '\r' || c == '\n' || c == '\0') {
        return Err(ImapError::Permanent("IMAP names and logins must be ASCII without line breaks".into()));
    }
    Ok(format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
}

/// Words of a capability list, upper-cased.
fn words(list: &str) -> Vec<String> {
    list.split_whitespace().map(str::to_ascii_uppercase).collect()
}

/// The capabilities in a `[CAPABILITY …]` response code, if the text carries one.
fn capability_code(text: &str) -> Option<Vec<String>> {
    let start = text.find("[CAPABILITY ")? + "[CAPABILITY ".len();
    let end = text[start..].find(']')? + start;
    Some(words(&text[start..end]))
}

impl Session {
    /// Connects, protects and logs in.
    pub async fn open(
        server: &Server<'_>,
        tls: &Arc<rustls::ClientConfig>,
        literal_max: usize,
    ) -> Result<Self, ImapError> {
        let mut stream = super::net::connect(server.host, server.port, server.guard, "IMAP").await?;
        if server.tls == Tls::Implicit {
            stream = super::net::handshake(stream, server.host, tls, "IMAP").await?;
        }
        let mut session =
            Session { io: BufReader::new(stream), tag: 0, capabilities: Vec::new(), literal_max, news: false };
        let greeting = session.read().await?;
        if greeting.text.starts_with("* BYE") {
            return Err(ImapError::Transient(format!("IMAP server refused the connection: {}", greeting.text)));
        }
        if greeting.text.starts_with("* PREAUTH") {
            return Err(ImapError::Permanent("IMAP server pre-authenticated the connection; refusing".into()));
        }
        session.capabilities = capability_code(&greeting.text).unwrap_or_default();
        if server.tls == Tls::StartTls {
            session.refresh_capabilities().await?;
            if !session.offers("STARTTLS") {
                return Err(ImapError::Permanent(format!("IMAP server {} does not offer STARTTLS", server.host)));
            }
            session.expect("STARTTLS", "STARTTLS").await?;
            // Anything buffered before the upgrade would be a plaintext injection: refuse it.
            if !session.io.buffer().is_empty() {
                return Err(ImapError::Permanent("IMAP server sent data after STARTTLS".into()));
            }
            let plain = session.io.into_inner();
            session.io = BufReader::new(super::net::handshake(plain, server.host, tls, "IMAP").await?);
            // Capabilities from before TLS are not to be trusted (RFC 3501 §6.2.1).
            session.capabilities.clear();
        }
        if session.capabilities.is_empty() {
            session.refresh_capabilities().await?;
        }
        session.login(server.user, server.password).await?;
        // Capabilities change once logged in (MOVE, UIDPLUS).
        session.refresh_capabilities().await?;
        Ok(session)
    }

    fn offers(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// Whether the server offers IDLE (RFC 2177) once logged in.
    pub fn offers_idle(&self) -> bool {
        self.offers("IDLE")
    }

    /// Whether the server announced new mail since the last call (in any response, even
    /// one to another command: mail that came during a pass must not wait for the next).
    pub fn take_news(&mut self) -> bool {
        std::mem::take(&mut self.news)
    }

    /// Enters IDLE; the server then announces changes of the selected folder as they happen.
    pub async fn idle(&mut self) -> Result<Idling, ImapError> {
        let tag = self.next_tag();
        self.write_line(&format!("{tag} IDLE")).await?;
        loop {
            let response = self.read().await?;
            if response.text.starts_with('+') {
                return Ok(Idling { tag });
            }
            if let Some(rest) = response.text.strip_prefix(&format!("{tag} ")) {
                return Err(ImapError::Transient(format!("IMAP IDLE: {rest}")));
            }
            self.untagged(&response)?;
        }
    }

    /// Waits until the server says something (cancel-safe: nothing is consumed, so a
    /// caller may give up waiting and end the IDLE).
    pub async fn readable(&mut self) -> Result<(), ImapError> {
        let buffered = self.io.fill_buf().await.map_err(|e| io_error("read", e))?;
        if buffered.is_empty() {
            return Err(ImapError::Transient("IMAP server closed the connection".into()));
        }
        Ok(())
    }

    /// Reads what the server said while idling (after [`Session::readable`]).
    pub async fn idle_response(&mut self, idling: &Idling) -> Result<(), ImapError> {
        let response = self.read().await?;
        if let Some(rest) = response.text.strip_prefix(&format!("{} ", idling.tag)) {
            return Err(ImapError::Transient(format!("IMAP server ended IDLE: {rest}")));
        }
        self.untagged(&response)
    }

    /// Ends IDLE (`DONE`), reading what the server still had to say.
    pub async fn done(&mut self, idling: Idling) -> Result<(), ImapError> {
        self.write_line("DONE").await?;
        let done = self.until_tagged(&idling.tag).await?;
        if done.ok { Ok(()) } else { Err(ImapError::Transient(format!("IMAP IDLE: {}", done.text))) }
    }

    /// Notes an untagged response: new mail, or the server closing the session.
    fn untagged(&mut self, response: &Response) -> Result<(), ImapError> {
        if response.text.starts_with("* BYE") {
            return Err(ImapError::Transient(format!("IMAP server closed the session: {}", response.text)));
        }
        self.news |= announces_mail(&response.text);
        Ok(())
    }

    async fn refresh_capabilities(&mut self) -> Result<(), ImapError> {
        let done = self.expect("CAPABILITY", "CAPABILITY").await?;
        for r in &done.untagged {
            if let Some(list) = r.text.strip_prefix("* CAPABILITY ") {
                self.capabilities = words(list);
            }
        }
        Ok(())
    }

    async fn login(&mut self, user: &str, password: &str) -> Result<(), ImapError> {
        let done = if self.offers("AUTH=PLAIN") {
            let token = STANDARD.encode(format!("\0{user}\0{password}"));
            if self.offers("SASL-IR") {
                self.command(&format!("AUTHENTICATE PLAIN {token}")).await?
            } else {
                self.command_with_continuation("AUTHENTICATE PLAIN", &token).await?
            }
        } else if self.offers("LOGINDISABLED") {
            return Err(ImapError::Permanent("IMAP server offers no way to log in here (LOGINDISABLED)".into()));
        } else {
            self.command(&format!("LOGIN {} {}", quoted(user)?, quoted(password)?)).await?
        };
        if !done.ok {
            return Err(ImapError::Permanent(format!("IMAP login refused for {user}: {}", done.text)));
        }
        Ok(())
    }

    /// Opens `folder` for reading and writing; its UIDVALIDITY.
    pub async fn select(&mut self, folder: &str) -> Result<u32, ImapError> {
        let done = self.command(&format!("SELECT {}", quoted(folder)?)).await?;
        if !done.ok {
            return Err(ImapError::Permanent(format!("IMAP folder {folder:?} cannot be opened: {}", done.text)));
        }
        done.untagged
            .iter()
            .find_map(|r| {
                let start = r.text.find("[UIDVALIDITY ")? + "[UIDVALIDITY ".len();
                r.text[start..].split(']').next()?.trim().parse().ok()
            })
            .ok_or_else(|| ImapError::Permanent(format!("IMAP folder {folder:?} has no UIDVALIDITY")))
    }

    /// The UIDs a `UID SEARCH` with `criteria` finds, ascending.
    pub async fn search(&mut self, criteria: &str) -> Result<Vec<u32>, ImapError> {
        let done = self.expect(&format!("UID SEARCH {criteria}"), "UID SEARCH").await?;
        let mut uids: Vec<u32> = done
            .untagged
            .iter()
            .filter_map(|r| r.text.strip_prefix("* SEARCH"))
            .flat_map(|list| list.split_whitespace().filter_map(|n| n.parse().ok()).collect::<Vec<u32>>())
            .collect();
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }

    /// The size in octets of message `uid`, `None` when it is gone.
    pub async fn size(&mut self, uid: u32) -> Result<Option<u64>, ImapError> {
        let done = self.expect(&format!("UID FETCH {uid} (UID RFC822.SIZE)"), "UID FETCH").await?;
        Ok(fetched(&done.untagged, uid).and_then(|r| {
            let start = r.text.find("RFC822.SIZE ")? + "RFC822.SIZE ".len();
            r.text[start..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        }))
    }

    /// Message `uid` as it was received, without marking it seen; `None` when it is gone.
    pub async fn fetch(&mut self, uid: u32) -> Result<Option<Vec<u8>>, ImapError> {
        let done = self.expect(&format!("UID FETCH {uid} (UID BODY.PEEK[])"), "UID FETCH").await?;
        let Some(response) = fetched(&done.untagged, uid) else { return Ok(None) };
        // The body is the literal right after `BODY[]`; NIL for no content.
        let Some(at) = response.text.find("BODY[] ") else { return Ok(None) };
        let index = response.text[..at].matches("{").count();
        let after = &response.text[at + "BODY[] ".len()..];
        if after.starts_with('{') {
            return Ok(response.literals.get(index).cloned());
        }
        if after.starts_with("NIL") {
            return Ok(Some(Vec::new()));
        }
        Err(ImapError::Transient(format!("IMAP server sent an unexpected body for UID {uid}")))
    }

    /// Marks message `uid` seen.
    pub async fn mark_seen(&mut self, uid: u32) -> Result<(), ImapError> {
        self.expect(&format!("UID STORE {uid} +FLAGS.SILENT (\\Seen)"), "UID STORE").await.map(|_| ())
    }

    /// Moves message `uid` to `folder` (MOVE, or COPY then delete where MOVE is missing).
    pub async fn move_to(&mut self, uid: u32, folder: &str) -> Result<(), ImapError> {
        let folder = quoted(folder)?;
        if self.offers("MOVE") {
            return self.expect(&format!("UID MOVE {uid} {folder}"), "UID MOVE").await.map(|_| ());
        }
        self.expect(&format!("UID COPY {uid} {folder}"), "UID COPY").await?;
        self.expect(&format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"), "UID STORE").await?;
        if self.offers("UIDPLUS") {
            self.expect(&format!("UID EXPUNGE {uid}"), "UID EXPUNGE").await.map(|_| ())
        } else {
            self.expect("EXPUNGE", "EXPUNGE").await.map(|_| ())
        }
    }

    /// Says goodbye; failures do not matter any more.
    pub async fn logout(mut self) {
        let _ = self.command("LOGOUT").await;
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("t{}", self.tag)
    }

    async fn write_line(&mut self, line: &str) -> Result<(), ImapError> {
        let io = self.io.get_mut();
        io.write_all(line.as_bytes()).await.map_err(|e| io_error("write", e))?;
        io.write_all(b"\r\n").await.map_err(|e| io_error("write", e))?;
        io.flush().await.map_err(|e| io_error("write", e))
    }

    /// Sends `command` and reads until its tagged answer.
    async fn command(&mut self, command: &str) -> Result<Done, ImapError> {
        let tag = self.next_tag();
        self.write_line(&format!("{tag} {command}")).await?;
        self.until_tagged(&tag).await
    }

    /// Sends `command`, answers the server's `+` continuation with `data`, then reads on.
    async fn command_with_continuation(&mut self, command: &str, data: &str) -> Result<Done, ImapError> {
        let tag = self.next_tag();
        self.write_line(&format!("{tag} {command}")).await?;
        let response = self.read().await?;
        if !response.text.starts_with('+') {
            return self.finish(&tag, response, Vec::new()).await;
        }
        self.write_line(data).await?;
        self.until_tagged(&tag).await
    }

    /// Sends `command` and fails unless it ends `OK` (named `shown` in errors).
    async fn expect(&mut self, command: &str, shown: &str) -> Result<Done, ImapError> {
        let done = self.command(command).await?;
        if done.ok { Ok(done) } else { Err(ImapError::Transient(format!("IMAP {shown}: {}", done.text))) }
    }

    async fn until_tagged(&mut self, tag: &str) -> Result<Done, ImapError> {
        let first = self.read().await?;
        self.finish(tag, first, Vec::new()).await
    }

    async fn finish(
        &mut self,
        tag: &str,
        mut response: Response,
        mut untagged: Vec<Response>,
    ) -> Result<Done, ImapError> {
        let prefix = format!("{tag} ");
        loop {
            if let Some(rest) = response.text.strip_prefix(&prefix) {
                let ok = rest.get(..2).is_some_and(|status| status.eq_ignore_ascii_case("OK"));
                return Ok(Done { ok, text: rest.to_string(), untagged });
            }
            self.untagged(&response)?;
            if untagged.len() > 100_000 {
                return Err(ImapError::Transient("IMAP server sent too many responses".into()));
            }
            untagged.push(response);
            response = self.read().await?;
        }
    }

    /// One response, with its literals.
    async fn read(&mut self) -> Result<Response, ImapError> {
        let mut response = Response::default();
        loop {
            let mut raw = Vec::new();
            let limit = (LINE_MAX + 1) as u64;
            let n = (&mut self.io).take(limit).read_until(b'\n', &mut raw).await.map_err(|e| io_error("read", e))?;
            if n == 0 {
                return Err(ImapError::Transient("IMAP server closed the connection".into()));
            }
            if !raw.ends_with(b"\n") {
                return Err(ImapError::Transient("IMAP server sent a line too long".into()));
            }
            let line = String::from_utf8_lossy(&raw);
            let line = line.trim_end_matches(['\r', '\n']);
            response.text.push_str(line);
            let Some(len) = literal_len(line) else { return Ok(response) };
            if len > self.literal_max {
                return Err(ImapError::Permanent(format!(
                    "IMAP server sent {len} octets, more than {} allowed",
                    self.literal_max
                )));
            }
            if response.literals.len() >= 64 {
                return Err(ImapError::Transient("IMAP server sent too many literals".into()));
            }
            let mut literal = vec![0; len];
            self.io.read_exact(&mut literal).await.map_err(|e| io_error("read", e))?;
            response.literals.push(literal);
        }
    }
}

/// The FETCH response for `uid` among `untagged` (servers may add others, unasked).
fn fetched(untagged: &[Response], uid: u32) -> Option<&Response> {
    untagged.iter().find(|r| {
        r.text.starts_with("* ")
            && r.text.contains(" FETCH (")
            && r.text.split(['(', ' ']).collect::<Vec<_>>().windows(2).any(|w| {
                w[0].eq_ignore_ascii_case("UID") && w[1].trim_end_matches(')').parse::<u32>().ok() == Some(uid)
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_quoting() {
        assert_eq!(literal_len("* 1 FETCH (UID 5 BODY[] {56}"), Some(56));
        assert_eq!(literal_len("a LOGIN {5+}"), Some(5));
        assert_eq!(literal_len("* OK [UIDVALIDITY 1] x"), None);
        assert_eq!(literal_len("* 1 FETCH (FLAGS (\\Seen))"), None);
        assert_eq!(quoted("Inbox \"old\" \\ x").expect("ascii"), "\"Inbox \\\"old\\\" \\\\ x\"");
        assert!(quoted("a\r\nb").is_err());
        assert_eq!(
            capability_code("* OK [CAPABILITY IMAP4rev1 move] hi"),
            Some(vec!["IMAP4REV1".into(), "MOVE".into()])
        );
    }

    #[test]
    fn new_mail_is_recognised() {
        assert!(announces_mail("* 12 EXISTS"));
        assert!(announces_mail("* 1 recent"));
        assert!(!announces_mail("* 3 EXPUNGE"));
        assert!(!announces_mail("* OK Still here"));
        assert!(!announces_mail("* 4 FETCH (FLAGS (\\Seen))"));
        assert!(!announces_mail("t3 OK EXISTS"));
    }

    #[test]
    fn fetch_responses_are_found_by_uid() {
        let r = |text: &str| Response { text: text.into(), literals: vec![b"x".to_vec()] };
        let list = [r("* 3 FETCH (FLAGS (\\Seen))"), r("* 4 FETCH (UID 12 BODY[] {1})"), r("* 5 FETCH (UID 123)")];
        assert_eq!(fetched(&list, 12).map(|r| r.text.as_str()), Some("* 4 FETCH (UID 12 BODY[] {1})"));
        assert_eq!(fetched(&list, 123).map(|r| r.text.as_str()), Some("* 5 FETCH (UID 123)"));
        assert!(fetched(&list, 1).is_none());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_lines_never_panic(line in "\\PC{0,200}") {
            let _ = literal_len(&line);
            let _ = capability_code(&line);
            let _ = fetched(&[Response { text: line.clone(), literals: Vec::new() }], 7);
            let _ = announces_mail(&line);
        }
    }
}
