//! A person's decisions on requests (triage, a later merge): each claims the message in the
//! state it was decided in, so of two decisions made at once exactly one commits; the
//! decision is journaled, and its task, comment and answer are written in the same
//! transaction.

use chrono::{DateTime, Utc};

use super::jobs::enqueue_job;
use super::links::enqueue_if_linked;
use super::messages::{COLUMNS, FROM};
use super::tasks::{add_labels, insert_task};
use super::{Result, Store, StoreError, parse_enum, read, write};
use crate::domain::comment::Comment;
use crate::domain::id::{TaskId, TenantId};
use crate::domain::job::NewJob;
use crate::domain::list::Page;
use crate::domain::message::{Decision, DecisionAction, Message, MessageFilter, MessageStatus};
use crate::domain::task::NewTask;

/// The journal's columns as [`DecisionRow`] reads them.
const DECISION_COLUMNS: &str = "id AS d_id, action AS d_action, task_id AS d_task_id, \
    closed_task_id AS d_closed_task_id, comment_id AS d_comment_id, reason AS d_reason, \
    decided_by_key_id AS d_decided_by_key_id, decided_by AS d_decided_by, decided_at AS d_decided_at";

/// The task a request has again once its merge is undone.
pub enum OwnTask<'a> {
    /// Made now from the request's draft, with its pushes to the project's trackers.
    Made { task: &'a NewTask, pushes: &'a [NewJob] },
    /// The possible duplicate's own task, closed by the merge: reopened (by the caller).
    Reopened,
}

/// A message's current decision, as joined in (all NULL when it has none).
#[derive(sqlx::FromRow)]
pub(super) struct DecisionRow {
    d_id: Option<String>,
    d_action: Option<String>,
    d_task_id: Option<TaskId>,
    d_closed_task_id: Option<TaskId>,
    d_comment_id: Option<String>,
    d_reason: Option<String>,
    d_decided_by_key_id: Option<String>,
    d_decided_by: Option<String>,
    d_decided_at: Option<DateTime<Utc>>,
}

impl DecisionRow {
    pub(super) fn into_decision(self) -> Result<Option<Decision>> {
        let Some(id) = self.d_id else { return Ok(None) };
        let missing = |what: &str| StoreError::Corrupt(format!("message_decisions.{what} is missing"));
        Ok(Some(Decision {
            id,
            action: parse_enum(
                "message_decisions.action",
                self.d_action.as_deref().unwrap_or_default(),
                DecisionAction::parse,
            )?,
            task_id: self.d_task_id,
            closed_task_id: self.d_closed_task_id,
            comment_id: self.d_comment_id,
            reason: self.d_reason,
            decided_by_key_id: self.d_decided_by_key_id.ok_or_else(|| missing("decided_by_key_id"))?,
            decided_by: self.d_decided_by.ok_or_else(|| missing("decided_by"))?,
            decided_at: self.d_decided_at.ok_or_else(|| missing("decided_at"))?,
        }))
    }
}

/// Claims message `$id` for a decision if it is still in status `$from`, giving it status
/// `$to`, task `$task_id`, merge comment `$comment_id` and decision `$decision_id`;
/// otherwise the enclosing function returns `Conflict` (someone decided first, or it is not
/// in that state) and the transaction is rolled back.
macro_rules! claim {
    ($tx:expr, $tenant:expr, $id:expr, $from:expr, $to:expr, $task_id:expr, $comment_id:expr, $decision_id:expr, $now:expr) => {{
        let claimed = crate::store::query(
            "UPDATE messages SET status = $1, task_id = $2, decision_id = $3, updated_at = $4, comment_id = $5
             WHERE id = $6 AND tenant_id = $7 AND status = $8",
        )
        .bind($to.as_str())
        .bind($task_id)
        .bind($decision_id)
        .bind($now)
        .bind($comment_id)
        .bind($id)
        .bind($tenant)
        .bind($from.as_str())
        .execute(&mut *$tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            return Err(StoreError::Conflict("the message was decided meanwhile".into()));
        }
    }};
}

/// Journals decision `$d` on message `$message_id`.
macro_rules! journal {
    ($tx:expr, $tenant:expr, $message_id:expr, $d:expr) => {{
        let d: &Decision = $d;
        crate::store::query(
            "INSERT INTO message_decisions (id, tenant_id, message_id, action, task_id, closed_task_id, comment_id,
                                            reason, decided_by_key_id, decided_by, decided_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&d.id)
        .bind($tenant)
        .bind($message_id)
        .bind(d.action.as_str())
        .bind(&d.task_id)
        .bind(&d.closed_task_id)
        .bind(&d.comment_id)
        .bind(&d.reason)
        .bind(&d.decided_by_key_id)
        .bind(&d.decided_by)
        .bind(d.decided_at)
        .execute(&mut *$tx)
        .await?;
    }};
}

const NO_COMMENT: Option<&str> = None;

/// What a merge writes on the task merged into.
pub struct MergeComment<'a> {
    pub comment: &'a Comment,
    /// Writes the comment to the task's tracker items (enqueued only if it has some).
    pub sync: &'a NewJob,
}

impl Store {
    /// Accepts a request waiting for triage: task `task_id` is made from `task` (its pushes
    /// to trackers and its announcement written with it), the decision journaled and the
    /// answer (`reply`) queued, all in one transaction. `Conflict` when it no longer waits.
    pub async fn decide_accept(
        &self,
        tenant_id: &TenantId,
        message_id: &str,
        decision: &Decision,
        task: &NewTask,
        pushes: &[NewJob],
        reply: Option<&NewJob>,
    ) -> Result<()> {
        let task_id = decision.task_id.as_ref().ok_or_else(|| StoreError::Corrupt("accept without a task".into()))?;
        let now = super::now();
        let announcements =
            crate::domain::event::task_created(&super::tasks::new_task_view(task_id.clone(), task, now));
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            claim!(
                tx,
                tenant_id,
                message_id,
                MessageStatus::NeedsTriage,
                MessageStatus::Created,
                task_id,
                NO_COMMENT,
                &decision.id,
                now
            );
            journal!(tx, tenant_id, message_id, decision);
            insert_task!(tx, tenant_id, task_id, task, now);
            for job in pushes.iter().chain(reply) {
                let _ = enqueue_job!(&mut *tx, tenant_id, job, now);
            }
            super::integrations::enqueue_if_subscribed!(tx, tenant_id, &task.project_id, &announcements, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Merges a request (waiting for triage, or a possible duplicate: `from`) into a task of
    /// its project: the request becomes `merge.comment` there, the decision is journaled and
    /// the answer queued, in one transaction. `NotFound` when the task is not the project's.
    pub async fn decide_merge(
        &self,
        tenant_id: &TenantId,
        message: &Message,
        from: MessageStatus,
        decision: &Decision,
        merge: &MergeComment<'_>,
        reply: Option<&NewJob>,
    ) -> Result<()> {
        let now = super::now();
        let comment = merge.comment;
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            claim!(
                tx,
                tenant_id,
                &message.id,
                from,
                MessageStatus::Duplicate,
                &comment.task_id,
                Some(&comment.id),
                &decision.id,
                now
            );
            journal!(tx, tenant_id, &message.id, decision);
            let project_id = super::comments::insert_comment!(tx, tenant_id, comment);
            if project_id != message.project_id {
                // Another project's task is as good as none: nothing is written.
                return Err(StoreError::NotFound);
            }
            enqueue_if_linked!(tx, tenant_id, &comment.task_id, merge.sync, now);
            if let Some(job) = reply {
                let _ = enqueue_job!(&mut *tx, tenant_id, job, now);
            }
            let announcements = crate::domain::event::comment_created(&project_id, comment);
            super::integrations::enqueue_if_subscribed!(tx, tenant_id, &project_id, &announcements, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Declines a request waiting for triage: journaled and answered, in one transaction.
    pub async fn decide_decline(
        &self,
        tenant_id: &TenantId,
        message_id: &str,
        decision: &Decision,
        reply: Option<&NewJob>,
    ) -> Result<()> {
        let now = super::now();
        let no_task: Option<&TaskId> = None;
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            claim!(
                tx,
                tenant_id,
                message_id,
                MessageStatus::NeedsTriage,
                MessageStatus::Declined,
                no_task,
                NO_COMMENT,
                &decision.id,
                now
            );
            journal!(tx, tenant_id, message_id, decision);
            if let Some(job) = reply {
                let _ = enqueue_job!(&mut *tx, tenant_id, job, now);
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Undoes a merge of `message` (status `duplicate`): its comment `comment_id` is removed
    /// from the task merged into and the request is its own task again, `own` — made now, or
    /// (a possible duplicate merged later) its closed one, reopened by the caller. The
    /// decision is journaled and the answer queued, in one transaction. `Conflict` when the
    /// message is no longer that merge.
    pub async fn decide_unmerge(
        &self,
        tenant_id: &TenantId,
        message: &Message,
        comment_id: &str,
        decision: &Decision,
        own: &OwnTask<'_>,
        reply: Option<&NewJob>,
    ) -> Result<()> {
        let task_id = decision.task_id.as_ref().ok_or_else(|| StoreError::Corrupt("unmerge without a task".into()))?;
        let now = super::now();
        let (to, made) = match own {
            OwnTask::Made { task, pushes } => (MessageStatus::Created, Some((*task, *pushes))),
            OwnTask::Reopened => (MessageStatus::PossibleDuplicate, None),
        };
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            // Only the very merge the caller saw: its comment is the message's still.
            let still: Option<Option<String>> =
                crate::store::query_scalar("SELECT comment_id FROM messages WHERE id = $1 AND tenant_id = $2")
                    .bind(&message.id)
                    .bind(tenant_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if still.flatten().as_deref() != Some(comment_id) {
                return Err(StoreError::Conflict("the message was decided meanwhile".into()));
            }
            claim!(tx, tenant_id, &message.id, MessageStatus::Duplicate, to, task_id, NO_COMMENT, &decision.id, now);
            journal!(tx, tenant_id, &message.id, decision);
            crate::store::query("DELETE FROM comments WHERE id = $1 AND tenant_id = $2")
                .bind(comment_id)
                .bind(tenant_id)
                .execute(&mut *tx)
                .await?;
            if let Some((task, pushes)) = made {
                insert_task!(tx, tenant_id, task_id, task, now);
                for job in pushes {
                    let _ = enqueue_job!(&mut *tx, tenant_id, job, now);
                }
                let view = super::tasks::new_task_view(task_id.clone(), task, now);
                let announcements = crate::domain::event::task_created(&view);
                super::integrations::enqueue_if_subscribed!(tx, tenant_id, &task.project_id, &announcements, now);
            }
            if let Some(job) = reply {
                let _ = enqueue_job!(&mut *tx, tenant_id, job, now);
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// A message's decisions, oldest first: its journal.
    pub async fn decisions_of(&self, tenant_id: &TenantId, message_id: &str) -> Result<Vec<Decision>> {
        let sql = format!(
            "SELECT {DECISION_COLUMNS} FROM message_decisions WHERE message_id = $1 AND tenant_id = $2 ORDER BY id"
        );
        let rows: Vec<DecisionRow> = read!(self, |pool| {
            crate::store::query_as(&sql).bind(message_id).bind(tenant_id).fetch_all(pool).await?
        });
        rows.into_iter().filter_map(|r| r.into_decision().transpose()).collect()
    }

    /// One decision of the journal.
    pub async fn decision(&self, tenant_id: &TenantId, id: &str) -> Result<Decision> {
        let sql = format!("SELECT {DECISION_COLUMNS} FROM message_decisions WHERE id = $1 AND tenant_id = $2");
        let row: Option<DecisionRow> =
            read!(self, |pool| crate::store::query_as(&sql).bind(id).bind(tenant_id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)?.into_decision()?.ok_or(StoreError::NotFound)
    }

    /// The tenant's messages, newest first (ids are time-ordered), one more than the page asks
    /// for so the caller knows whether more follow.
    pub async fn list_messages(
        &self,
        tenant_id: &TenantId,
        filter: &MessageFilter,
        page: &Page,
    ) -> Result<Vec<Message>> {
        let rows: Vec<super::messages::MessageRow> = read!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM {FROM} WHERE m.tenant_id = "));
            q.push_bind(tenant_id);
            if let Some(status) = filter.status {
                q.push(" AND m.status = ").push_bind(status.as_str());
            }
            if let Some(project_id) = &filter.project_id {
                q.push(" AND m.project_id = ").push_bind(project_id);
            }
            if let Some(source) = &filter.source {
                q.push(" AND m.source = ").push_bind(source);
            }
            if let Some(since) = filter.received_since {
                q.push(" AND m.received_at >= ").push_bind(since);
            }
            if let Some(after) = &page.after {
                q.push(" AND m.id < ").push_bind(&after.id);
            }
            q.push(" ORDER BY m.id DESC LIMIT ").push_bind(i64::from(page.limit) + 1);
            q.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(Message::try_from).collect()
    }
}
