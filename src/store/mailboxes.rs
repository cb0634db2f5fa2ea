//! Where polling each mailbox (an e-mail integration's IMAP folder) stands.

use chrono::{DateTime, Utc};

use super::{Result, Store, read, write};
use crate::domain::id::{IntegrationId, TenantId};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MailboxState {
    /// The folder's UIDVALIDITY when `last_uid` was taken: UIDs mean nothing under another.
    pub uid_validity: i64,
    /// Every message up to this UID has been taken (stored, then marked) or left on purpose.
    pub last_uid: i64,
    pub polls: i64,
    pub taken: i64,
    pub last_error: Option<String>,
    pub last_polled_at: DateTime<Utc>,
}

impl Store {
    pub async fn mailbox_state(
        &self,
        tenant_id: &TenantId,
        integration_id: &IntegrationId,
    ) -> Result<Option<MailboxState>> {
        Ok(read!(self, |pool| {
            sqlx::query_as(
                "SELECT uid_validity, last_uid, polls, taken, last_error, last_polled_at
                 FROM mailbox_polls WHERE tenant_id = $1 AND integration_id = $2",
            )
            .bind(tenant_id)
            .bind(integration_id)
            .fetch_optional(pool)
            .await?
        }))
    }

    /// Records a poll: how far it took the folder, how many it took, how it ended.
    pub async fn record_mailbox(
        &self,
        tenant_id: &TenantId,
        integration_id: &IntegrationId,
        (uid_validity, last_uid): (i64, i64),
        taken: i64,
        error: Option<&str>,
    ) -> Result<()> {
        let now = super::now();
        let error = error.map(|e| e.chars().take(2000).collect::<String>());
        write!(self, |pool| {
            sqlx::query(
                "INSERT INTO mailbox_polls (integration_id, tenant_id, uid_validity, last_uid, polls, taken, last_error,
                                            last_polled_at)
                 VALUES ($1, $2, $3, $4, 1, $5, $6, $7)
                 ON CONFLICT (integration_id) DO UPDATE SET uid_validity = $3, last_uid = $4,
                     polls = mailbox_polls.polls + 1, taken = mailbox_polls.taken + $5, last_error = $6,
                     last_polled_at = $7",
            )
            .bind(integration_id)
            .bind(tenant_id)
            .bind(uid_validity)
            .bind(last_uid)
            .bind(taken)
            .bind(&error)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
