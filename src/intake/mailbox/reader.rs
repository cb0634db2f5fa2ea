//! Reading a mailbox, the same for a poll and for an IDLE watcher: the integration's IMAP
//! settings, the session opened with them, and a pass over the folder that stores each new
//! message as a request before marking it seen (or moving it).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use serde_json::{Map, Value};

use crate::channels::email::imap::{self, ImapError, Session};
use crate::channels::{Channel, ChannelClients, Inbound, WebhookRequest, store_failure};
use crate::domain::id::TenantId;
use crate::domain::integration::setting;
use crate::jobs::JobError;
use crate::store::integrations::IntegrationRecord;
use crate::store::{Store, StoreError};

/// Messages taken per pass at most; the rest wait for the next.
const BATCH: usize = 50;
/// A larger message is left in the mailbox (unmarked) and named in the pass's error.
pub const MESSAGE_MAX: u64 = 25 * 1024 * 1024;

/// An integration's mailbox: where it is and how to log in.
#[derive(Clone, PartialEq)]
pub struct Mailbox {
    host: String,
    port: u16,
    tls: imap::Tls,
    user: String,
    password: String,
    folder: String,
}

impl Mailbox {
    /// The mailbox of an e-mail integration's settings and secrets.
    pub fn of(settings: &Map<String, Value>, secrets: &Map<String, Value>) -> Result<Self, JobError> {
        let missing = |what: &str| JobError::Permanent(format!("the mailbox has no {what}"));
        let tls =
            imap::Tls::of(settings).ok_or_else(|| JobError::Permanent("imap_tls must be tls or starttls".into()))?;
        let port = match settings.get("imap_port") {
            None | Some(Value::Null) => Some(tls.default_port()),
            Some(value) => crate::domain::integration::smtp_port(value),
        }
        .ok_or_else(|| JobError::Permanent("imap_port is not a port number".into()))?;
        Ok(Mailbox {
            host: setting(settings, "imap_host").ok_or_else(|| missing("imap_host"))?.to_string(),
            port,
            tls,
            user: setting(settings, "imap_user").ok_or_else(|| missing("imap_user"))?.to_string(),
            password: setting(secrets, "imap_password").ok_or_else(|| missing("imap_password"))?.to_string(),
            folder: setting(settings, "imap_folder").unwrap_or("INBOX").to_string(),
        })
    }

    /// Logs in and selects the folder: the session and the folder's UIDVALIDITY.
    pub async fn open(&self, out: &ChannelClients) -> Result<(Session, i64), JobError> {
        let server = imap::Server {
            host: &self.host,
            port: self.port,
            tls: self.tls,
            user: &self.user,
            password: &self.password,
            guard: out.out.guard,
        };
        let literal_max = usize::try_from(MESSAGE_MAX).unwrap_or(usize::MAX) + 4096;
        let mut session = Session::open(&server, &out.out.tls, literal_max).await.map_err(failure)?;
        let validity = i64::from(session.select(&self.folder).await.map_err(failure)?);
        Ok((session, validity))
    }

    /// `text` (an error) without the password, in clear or in the login's encoding: a
    /// server may say anything, and what is recorded is shown to the tenant.
    pub fn redact(&self, text: &str) -> String {
        let token = STANDARD.encode(format!("\0{}\0{}", self.user, self.password));
        let mut text = text.to_string();
        for secret in [token.as_str(), self.password.as_str()] {
            if !secret.is_empty() {
                text = text.replace(secret, "[redacted]");
            }
        }
        text
    }
}

/// How far reading a folder got, and what it took.
pub struct Reader {
    /// Messages stored as requests since the last record.
    pub taken: i64,
    /// (UIDVALIDITY, last UID taken); `None` before the folder was ever reached.
    pub at: Option<(i64, i64)>,
    /// Why a message was left behind (too large, unreadable), though reading went on.
    pub problem: Option<String>,
}

impl Reader {
    pub fn new(at: Option<(i64, i64)>) -> Self {
        Reader { taken: 0, at, problem: None }
    }

    /// Takes what is new in the selected folder: the UIDs after the last one taken, or
    /// the unseen mail on a first read (or after the UIDVALIDITY changed).
    pub async fn pass(
        &mut self,
        store: &Store,
        tenant: &TenantId,
        record: &IntegrationRecord,
        session: &mut Session,
        validity: i64,
    ) -> Result<(), JobError> {
        let uids = match self.at {
            Some((known, last)) if known == validity => {
                // `n:*` always matches the last message, even below n: keep only newer ones.
                let found = session.search(&format!("UID {}:*", last + 1)).await.map_err(failure)?;
                found.into_iter().filter(|uid| i64::from(*uid) > last).collect()
            }
            _ => {
                self.at = Some((validity, 0));
                session.search("UNSEEN").await.map_err(failure)?
            }
        };
        let move_to = setting(&record.settings, "imap_move_to");
        for uid in uids.into_iter().take(BATCH) {
            self.take(store, tenant, record, session, uid, move_to).await?;
            self.at = Some((validity, i64::from(uid)));
        }
        Ok(())
    }

    /// Stores message `uid` as a request, then marks it seen or moves it.
    async fn take(
        &mut self,
        store: &Store,
        tenant: &TenantId,
        record: &IntegrationRecord,
        session: &mut Session,
        uid: u32,
        move_to: Option<&str>,
    ) -> Result<(), JobError> {
        match session.size(uid).await.map_err(failure)? {
            None => return Ok(()), // expunged meanwhile
            Some(size) if size > MESSAGE_MAX => {
                self.problem = Some(format!(
                    "message UID {uid} ({size} octets) is larger than {MESSAGE_MAX}: left in the mailbox"
                ));
                return Ok(());
            }
            Some(_) => {}
        }
        let Some(raw) = session.fetch(uid).await.map_err(failure)? else { return Ok(()) };
        let headers = axum::http::HeaderMap::new();
        let request = WebhookRequest { headers: &headers, body: &raw, url: "", bot: None, now: Utc::now() };
        match crate::channels::email::Email.parse(&request, &record.settings) {
            Ok(Inbound::Request(r)) => {
                let new = r.into_message(record.kind, &record.id, &record.project_id);
                let id = crate::domain::new_id();
                match store.create_message(tenant, &id, &new, &crate::intake::process_job(&id)).await {
                    // Taken before (a crash before the mark, or the gateway sent it too): one request.
                    Ok(_) => self.taken += 1,
                    Err(StoreError::Conflict(_)) => {}
                    Err(e) => return Err(store_failure(e)),
                }
            }
            // Auto-replies, bounces, our own mail: not requests, but handled.
            Ok(_) => {}
            Err(e) => {
                self.problem = Some(format!("message UID {uid} is not readable mail ({e}): left in the mailbox"));
                return Ok(());
            }
        }
        match move_to {
            Some(folder) => session.move_to(uid, folder).await.map_err(failure),
            None => session.mark_seen(uid).await.map_err(failure),
        }
    }
}

pub fn failure(e: ImapError) -> JobError {
    match e {
        ImapError::Transient(m) => JobError::Retry(m),
        ImapError::Permanent(m) => JobError::Permanent(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_carry_the_password() {
        let object = |v: Value| v.as_object().cloned().expect("an object");
        let settings = object(serde_json::json!({"imap_host": "mail.example.org", "imap_user": "tasks@example.org"}));
        let secrets = object(serde_json::json!({"imap_password": "hunter2-pw"}));
        let mailbox = Mailbox::of(&settings, &secrets).expect("a mailbox");
        let token = STANDARD.encode("\0tasks@example.org\0hunter2-pw");
        let said = format!("IMAP login refused: NO [AUTHENTICATIONFAILED] hunter2-pw {token}");
        let shown = mailbox.redact(&said);
        assert!(!shown.contains("hunter2-pw") && !shown.contains(&token), "{shown}");
        assert!(shown.contains("AUTHENTICATIONFAILED"), "{shown}");
    }
}
