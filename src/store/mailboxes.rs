//! Where reading each mailbox (an e-mail integration's IMAP folder) stands, and who holds it:
//! one reader at a time — an instance's IDLE watcher or a poll job — takes its mail.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Result, Store, parse_enum, read, write};
use crate::domain::id::{IntegrationId, TenantId};

/// How a mailbox is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailboxMode {
    /// A connection kept open in IDLE (RFC 2177): mail is taken as the server announces it.
    Idle,
    /// A poll every `TASKBRIDGE_MAILBOX_POLL_SECS` (no IDLE offered, or the connection broke).
    #[default]
    Poll,
}

impl MailboxMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MailboxMode::Idle => "idle",
            MailboxMode::Poll => "poll",
        }
    }

    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            "idle" => Some(MailboxMode::Idle),
            "poll" => Some(MailboxMode::Poll),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct MailboxState {
    #[schema(value_type = String)]
    pub integration_id: IntegrationId,
    /// How the mailbox is read now (`poll` while a broken IDLE connection is opened again).
    #[sqlx(skip)]
    pub mode: MailboxMode,
    /// The folder's UIDVALIDITY when `last_uid` was taken: UIDs mean nothing under another.
    pub uid_validity: i64,
    /// Every message up to this UID has been taken (stored, then marked) or left on purpose.
    pub last_uid: i64,
    /// Reads so far (polls, and passes over the folder while idling).
    pub polls: i64,
    /// Messages stored as requests.
    pub taken: i64,
    /// The latest error (a read that failed, or a message left in the mailbox); it stays
    /// until another error replaces it: compare `last_error_at` with `last_success_at`.
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub last_polled_at: DateTime<Utc>,
}

/// How one read of a mailbox went.
#[derive(Debug, Clone)]
pub struct MailboxRead<'a> {
    /// How far it took the folder: (UIDVALIDITY, last UID); `None` keeps what is stored
    /// (a read that never reached the folder).
    pub at: Option<(i64, i64)>,
    pub taken: i64,
    pub error: Option<&'a str>,
    pub mode: MailboxMode,
}

/// A row as stored: its mode is text until parsed (`sqlx(skip)` leaves the default meanwhile).
#[derive(sqlx::FromRow)]
struct Row {
    #[sqlx(flatten)]
    state: MailboxState,
    mode: String,
}

impl Store {
    pub async fn mailbox_state(
        &self,
        tenant_id: &TenantId,
        integration_id: &IntegrationId,
    ) -> Result<Option<MailboxState>> {
        let row: Option<Row> = read!(self, |pool| {
            crate::store::query_as(
                "SELECT integration_id, mode, uid_validity, last_uid, polls, taken, last_error, last_error_at,
                        last_success_at, last_polled_at
                 FROM mailbox_polls WHERE tenant_id = $1 AND integration_id = $2",
            )
            .bind(tenant_id)
            .bind(integration_id)
            .fetch_optional(pool)
            .await?
        });
        row.map(|Row { state, mode }| {
            Ok(MailboxState { mode: parse_enum("mailbox_polls.mode", &mode, MailboxMode::parse)?, ..state })
        })
        .transpose()
    }

    /// Records a read: how far it took the folder, how many it took, how it ended.
    pub async fn record_mailbox(
        &self,
        tenant_id: &TenantId,
        integration_id: &IntegrationId,
        outcome: &MailboxRead<'_>,
    ) -> Result<()> {
        let now = super::now();
        let error = super::clipped(outcome.error);
        let (error_at, success_at) = if error.is_some() { (Some(now), None) } else { (None, Some(now)) };
        write!(self, |pool| {
            crate::store::query(
                "INSERT INTO mailbox_polls (integration_id, tenant_id, uid_validity, last_uid, polls, taken, last_error,
                                            last_polled_at, mode, last_error_at, last_success_at)
                 VALUES ($1, $2, COALESCE($3, 0), COALESCE($4, 0), 1, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (integration_id) DO UPDATE SET uid_validity = COALESCE($3, mailbox_polls.uid_validity),
                     last_uid = COALESCE($4, mailbox_polls.last_uid),
                     polls = mailbox_polls.polls + 1, taken = mailbox_polls.taken + $5,
                     last_error = COALESCE($6, mailbox_polls.last_error), last_polled_at = $7, mode = $8,
                     last_error_at = COALESCE($9, mailbox_polls.last_error_at),
                     last_success_at = COALESCE($10, mailbox_polls.last_success_at)",
            )
            .bind(integration_id)
            .bind(tenant_id)
            .bind(outcome.at.map(|at| at.0))
            .bind(outcome.at.map(|at| at.1))
            .bind(outcome.taken)
            .bind(&error)
            .bind(now)
            .bind(outcome.mode.as_str())
            .bind(error_at)
            .bind(success_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Takes (or keeps) the mailbox for `holder` for `ttl`; false while another holder's
    /// claim runs. Renewing is claiming again: it fails once another holder took over.
    pub async fn hold_mailbox(
        &self,
        tenant_id: &TenantId,
        integration_id: &IntegrationId,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool> {
        let now = super::now();
        let until = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::minutes(1));
        let done = write!(self, |pool| {
            crate::store::query(
                "INSERT INTO mailbox_leases (integration_id, tenant_id, holder, held_until) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (integration_id) DO UPDATE SET holder = $3, held_until = $4
                 WHERE mailbox_leases.holder = $3 OR mailbox_leases.held_until < $5",
            )
            .bind(integration_id)
            .bind(tenant_id)
            .bind(holder)
            .bind(until)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    /// Lets go of the mailbox if `holder` still holds it.
    pub async fn release_mailbox(&self, integration_id: &IntegrationId, holder: &str) -> Result<()> {
        write!(self, |pool| {
            crate::store::query("DELETE FROM mailbox_leases WHERE integration_id = $1 AND holder = $2")
                .bind(integration_id)
                .bind(holder)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
