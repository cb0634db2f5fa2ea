//! Messages and the atomic end of their processing: the outcome, the task (or the comment
//! on an existing one) and the message's status are written in one transaction, so a crash
//! at any moment leaves either nothing or everything.

use chrono::{DateTime, Utc};

use super::jobs::enqueue_job;
use super::links::enqueue_if_linked;
use super::tasks::{add_labels, insert_task};
use super::{Result, Store, StoreError, parse_enum, read, write};
use crate::domain::id::{IntegrationId, ProjectId, TaskId, TenantId};
use crate::domain::job::NewJob;
use crate::domain::message::{Candidate, Conversation, Message, MessageStatus, NewMessage, TaskDraft};

/// An e-mail's references looked at, newest last (a long thread's oldest are dropped).
const MAX_THREAD_REFS: usize = 20;
use crate::domain::new_id;
use crate::domain::project::{DuplicateBands, IntakeMode};
use crate::domain::task::NewTask;

#[derive(sqlx::FromRow)]
pub(super) struct MessageRow {
    id: String,
    project_id: ProjectId,
    text: String,
    author: Option<String>,
    source: String,
    channel: Option<String>,
    thread_ref: Option<String>,
    integration_id: Option<IntegrationId>,
    received_at: DateTime<Utc>,
    status: String,
    task_id: Option<TaskId>,
    score: Option<f64>,
    error: Option<String>,
    draft: Option<String>,
    candidates: Option<String>,
    comment_id: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[sqlx(flatten)]
    decision: super::decisions::DecisionRow,
}

impl TryFrom<MessageRow> for Message {
    type Error = StoreError;

    fn try_from(r: MessageRow) -> Result<Self> {
        let corrupt = |what: &str, e: serde_json::Error| StoreError::Corrupt(format!("messages.{what}: {e}"));
        Ok(Message {
            status: parse_enum("messages.status", &r.status, MessageStatus::parse)?,
            draft: r.draft.as_deref().map(serde_json::from_str).transpose().map_err(|e| corrupt("draft", e))?,
            candidates: match r.candidates.as_deref() {
                Some(c) => serde_json::from_str(c).map_err(|e| corrupt("candidates", e))?,
                None => Vec::new(),
            },
            decision: r.decision.into_decision()?,
            id: r.id,
            project_id: r.project_id,
            text: r.text,
            author: r.author,
            source: r.source,
            channel: r.channel,
            thread_ref: r.thread_ref,
            integration_id: r.integration_id,
            received_at: r.received_at,
            task_id: r.task_id,
            score: r.score,
            error: r.error,
            comment_id: r.comment_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// A message's columns with its current decision's, over `messages m` (see [`FROM`]).
pub(super) const COLUMNS: &str = "m.id, m.project_id, m.text, m.author, m.source, m.channel, m.thread_ref, \
    m.integration_id, m.received_at, m.status, m.task_id, m.score, m.error, m.draft, m.candidates, m.comment_id, \
    m.created_at, m.updated_at, d.id AS d_id, d.action AS d_action, d.task_id AS d_task_id, d.closed_task_id AS d_closed_task_id, \
    d.comment_id AS d_comment_id, d.reason AS d_reason, d.decided_by_key_id AS d_decided_by_key_id, \
    d.decided_by AS d_decided_by, d.decided_at AS d_decided_at";

/// Messages with their current decision.
pub(super) const FROM: &str = "messages m LEFT JOIN message_decisions d ON d.id = m.decision_id";

/// What intake decided, with what it saw.
pub struct Outcome<'a> {
    pub draft: &'a TaskDraft,
    pub candidates: &'a [Candidate],
    pub score: Option<f64>,
    /// Enqueued with the outcome (the reply in the conversation), so it cannot be lost.
    pub follow_up: Option<&'a NewJob>,
    /// Enqueued only when a task is created (pushing it to connected trackers).
    pub on_created: &'a [NewJob],
    /// For a duplicate whose task is linked to tracker items: the comment's id and the job
    /// writing it there.
    pub on_commented: Option<(&'a str, &'a NewJob)>,
}

/// A project's intake position, read before a duplicate decision (see [`Store::intake_turn`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntakeTurn(i64);

/// How a project takes requests now: its intake position, duplicate bands and mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProjectIntake {
    pub turn: IntakeTurn,
    /// The project's own bands, if it sets them.
    pub bands: Option<DuplicateBands>,
    pub mode: IntakeMode,
}

/// What [`Store::finish_created`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created {
    /// The task, created with the outcome.
    Task(TaskId),
    /// Another create of the project committed since the decision: decide again.
    Stale,
}

/// Records a message's outcome inside a transaction, unless it already has one: then the
/// enclosing function returns `Conflict` and the transaction is rolled back.
macro_rules! record_outcome {
    ($tx:expr, $status:expr, $task_id:expr, $score:expr, $draft:expr, $candidates:expr, $now:expr, $id:expr, $tenant:expr) => {{
        let claimed = crate::store::query(
            "UPDATE messages SET status = $1, task_id = $2, score = $3, draft = $4, candidates = $5,
                                 error = NULL, updated_at = $6
             WHERE id = $7 AND tenant_id = $8 AND status IN ('queued', 'processing')",
        )
        .bind($status)
        .bind($task_id)
        .bind($score)
        .bind($draft)
        .bind($candidates)
        .bind($now)
        .bind($id)
        .bind($tenant)
        .execute(&mut *$tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            return Err(StoreError::Conflict("the message already has an outcome".into()));
        }
    }};
}

impl Store {
    /// Persists a message and enqueues its processing in one transaction (shared with the
    /// messages accepted at the same moment: a group commit): once this returns, the message
    /// will be processed even if the process dies right away. The message takes id `id`;
    /// `job` is its processing.
    pub async fn create_message(
        &self,
        tenant_id: &TenantId,
        id: &str,
        new: &NewMessage,
        job: &NewJob,
    ) -> Result<Message> {
        let now = super::now();
        let received_at = new.received_at.unwrap_or(now);
        self.accepts()
            .accept(super::group_commit::Pending {
                tenant_id: tenant_id.clone(),
                id: id.to_string(),
                new: new.clone(),
                job: job.clone(),
                now,
                received_at,
            })
            .await?;
        Ok(Message {
            id: id.to_string(),
            project_id: new.project_id.clone(),
            text: new.text.clone(),
            author: new.author.clone(),
            source: new.source.clone(),
            channel: new.channel.clone(),
            thread_ref: new.thread_ref.clone(),
            integration_id: new.origin.as_ref().map(|o| o.integration_id.clone()),
            received_at,
            status: MessageStatus::Queued,
            task_id: None,
            score: None,
            error: None,
            draft: None,
            candidates: Vec::new(),
            comment_id: None,
            decision: None,
            created_at: now,
            updated_at: now,
        })
    }

    pub async fn get_message(&self, tenant_id: &TenantId, id: &str) -> Result<Message> {
        let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE m.id = $1 AND m.tenant_id = $2");
        let row: Option<MessageRow> =
            read!(self, |pool| crate::store::query_as(&sql).bind(id).bind(tenant_id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)?.try_into()
    }

    /// The requests that created a task or were merged into it, oldest first (at most `limit`).
    pub async fn messages_for_task(&self, tenant_id: &str, task_id: &str, limit: u32) -> Result<Vec<Message>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE m.tenant_id = $1 AND m.task_id = $2 ORDER BY m.received_at, m.id LIMIT $3"
        );
        let rows: Vec<MessageRow> = read!(self, |pool| {
            crate::store::query_as(&sql).bind(tenant_id).bind(task_id).bind(i64::from(limit)).fetch_all(pool).await?
        });
        rows.into_iter().map(Message::try_from).collect()
    }

    /// Marks a message as being processed, unless it already has its outcome.
    pub async fn mark_processing(&self, tenant_id: &TenantId, id: &str) -> Result<()> {
        let now = super::now();
        write!(self, |pool| {
            crate::store::query(
                "UPDATE messages SET status = 'processing', updated_at = $1
                 WHERE id = $2 AND tenant_id = $3 AND status IN ('queued', 'processing')",
            )
            .bind(now)
            .bind(id)
            .bind(tenant_id)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Where intake stands in `project_id`: read before a duplicate decision, it makes the
    /// create that follows conditional on no other intake create having committed since.
    /// The project's own duplicate bands (if it sets them) and its intake mode come with it,
    /// from the same row.
    pub async fn intake_turn(&self, tenant_id: &TenantId, project_id: &ProjectId) -> Result<ProjectIntake> {
        let row: Option<(i64, Option<f64>, Option<f64>, String)> = read!(self, |pool| {
            crate::store::query_as(
                "SELECT intake_seq, duplicate_merge_at, duplicate_suggest_at, intake_mode FROM projects
                 WHERE id = $1 AND tenant_id = $2",
            )
            .bind(project_id)
            .bind(tenant_id)
            .fetch_optional(pool)
            .await?
        });
        let (seq, merge_at, suggest_at, mode) = row.ok_or(StoreError::NotFound)?;
        Ok(ProjectIntake {
            turn: IntakeTurn(seq),
            bands: super::projects::bands(merge_at, suggest_at),
            mode: parse_enum("projects.intake_mode", &mode, IntakeMode::parse)?,
        })
    }

    /// Records that a request waits for a person (the project triages): its draft and
    /// candidates are kept, no task is made. `Conflict` when it already has an outcome.
    pub async fn finish_needs_triage(
        &self,
        tenant_id: &TenantId,
        message_id: &str,
        outcome: &Outcome<'_>,
    ) -> Result<()> {
        let now = super::now();
        let (draft, candidates) = encode(outcome)?;
        let no_task: Option<&str> = None;
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            record_outcome!(
                tx,
                MessageStatus::NeedsTriage.as_str(),
                no_task,
                outcome.score,
                &draft,
                &candidates,
                now,
                message_id,
                tenant_id
            );
            if let Some(job) = outcome.follow_up {
                let _ = enqueue_job!(&mut *tx, tenant_id, job, now);
            }
            tx.commit().await?;
        });
        self.announce(message_id).await;
        Ok(())
    }

    /// Creates the task and records the outcome atomically, if the project's intake is still
    /// at `turn`: otherwise nothing is written and [`Created::Stale`] asks for a new decision
    /// (another request of the project became a task meanwhile, on any instance). `Conflict`
    /// when the message already has an outcome: no second task is ever created for one message.
    /// `possible_duplicate` records the message as perhaps the same work as its candidates.
    pub async fn finish_created(
        &self,
        tenant_id: &TenantId,
        message_id: &str,
        task: &NewTask,
        outcome: &Outcome<'_>,
        turn: IntakeTurn,
        possible_duplicate: bool,
    ) -> Result<Created> {
        let status = if possible_duplicate { MessageStatus::PossibleDuplicate } else { MessageStatus::Created };
        let task_id = TaskId::generate();
        let (draft, candidates) = encode(outcome)?;
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            // The row lock taken here orders concurrent creates of the project; a loser sees
            // the counter moved past its turn once the winner commits.
            let advanced: Option<i64> = if self.mysql().is_some() {
                // No `UPDATE … RETURNING`: the counter is read back under the update's lock.
                let updated = crate::store::query(
                    "UPDATE projects SET intake_seq = intake_seq + 1 WHERE id = $1 AND tenant_id = $2",
                )
                .bind(&task.project_id)
                .bind(tenant_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                match updated {
                    0 => None,
                    _ => Some(
                        crate::store::query_scalar("SELECT intake_seq FROM projects WHERE id = $1")
                            .bind(&task.project_id)
                            .fetch_one(&mut *tx)
                            .await?,
                    ),
                }
            } else {
                crate::store::query_scalar(
                    "UPDATE projects SET intake_seq = intake_seq + 1 WHERE id = $1 AND tenant_id = $2 RETURNING intake_seq",
                )
                .bind(&task.project_id)
                .bind(tenant_id)
                .fetch_optional(&mut *tx)
                .await?
            };
            match advanced {
                None => return Err(StoreError::NotFound),
                Some(seq) if seq != turn.0 + 1 => return Ok(Created::Stale),
                Some(_) => {}
            }
            // Stamped under the lock, so the project's tasks commit in the order of their
            // times and an index reading changes since a time misses none of them.
            let now = super::now();
            let announcements =
                crate::domain::event::task_created(&super::tasks::new_task_view(task_id.clone(), task, now));
            record_outcome!(
                tx,
                status.as_str(),
                &task_id,
                outcome.score,
                &draft,
                &candidates,
                now,
                message_id,
                tenant_id
            );
            insert_task!(tx, tenant_id, &task_id, task, now);
            if let Some(job) = outcome.follow_up {
                let _ = enqueue_job!(&mut *tx, tenant_id, job, now);
            }
            for job in outcome.on_created {
                let _ = enqueue_job!(&mut *tx, tenant_id, job, now);
            }
            super::integrations::enqueue_if_subscribed!(tx, tenant_id, &task.project_id, &announcements, now);
            tx.commit().await?;
        });
        self.announce(message_id).await;
        Ok(Created::Task(task_id))
    }

    /// Records a duplicate: the request becomes a comment on the existing task (its id answered).
    pub async fn finish_duplicate(
        &self,
        tenant_id: &TenantId,
        message_id: &str,
        existing_task_id: &TaskId,
        comment: &str,
        author: Option<&str>,
        outcome: &Outcome<'_>,
    ) -> Result<String> {
        let now = super::now();
        let (draft, candidates) = encode(outcome)?;
        let made = crate::domain::comment::Comment {
            id: outcome.on_commented.map_or_else(new_id, |(id, _)| id.to_string()),
            task_id: existing_task_id.clone(),
            content: comment.to_string(),
            author: author.map(str::to_string),
            created_at: now,
            updated_at: now,
        };
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            record_outcome!(
                tx,
                "duplicate",
                existing_task_id,
                outcome.score,
                &draft,
                &candidates,
                now,
                message_id,
                tenant_id
            );
            // The task went away since it was found: `NotFound` lets the caller decide again.
            let project_id = super::comments::insert_comment!(tx, tenant_id, &made);
            // Kept so the merge can be undone.
            crate::store::query("UPDATE messages SET comment_id = $1 WHERE id = $2 AND tenant_id = $3")
                .bind(&made.id)
                .bind(message_id)
                .bind(tenant_id)
                .execute(&mut *tx)
                .await?;
            if let Some((_, sync)) = outcome.on_commented {
                enqueue_if_linked!(tx, tenant_id, existing_task_id, sync, now);
            }
            if let Some(job) = outcome.follow_up {
                let _ = enqueue_job!(&mut *tx, tenant_id, job, now);
            }
            let announcements = crate::domain::event::comment_created(&project_id, &made);
            super::integrations::enqueue_if_subscribed!(tx, tenant_id, &project_id, &announcements, now);
            tx.commit().await?;
        });
        self.announce(message_id).await;
        Ok(made.id)
    }

    /// Where the answer to a webhook message goes: its integration and reply address.
    pub async fn message_origin(
        &self,
        tenant_id: &TenantId,
        id: &str,
    ) -> Result<Option<(IntegrationId, serde_json::Value)>> {
        let row: Option<(Option<IntegrationId>, Option<String>)> = read!(self, |pool| {
            crate::store::query_as("SELECT integration_id, reply_to FROM messages WHERE id = $1 AND tenant_id = $2")
                .bind(id)
                .bind(tenant_id)
                .fetch_optional(pool)
                .await?
        });
        let (integration, reply_to) = row.ok_or(StoreError::NotFound)?;
        match (integration, reply_to) {
            (Some(i), Some(r)) => {
                let value =
                    serde_json::from_str(&r).map_err(|e| StoreError::Corrupt(format!("messages.reply_to: {e}")))?;
                Ok(Some((i, value)))
            }
            _ => Ok(None),
        }
    }

    /// Puts a failed message back in the queue: status `queued`, its error cleared, and its
    /// processing job (`job`, the one it was accepted with) armed again with fresh attempts,
    /// or enqueued anew if it is gone; in one transaction. `Conflict` when the message is
    /// not `failed` (retried already, or never failed), `NotFound` when there is none.
    pub async fn requeue_failed_message(&self, tenant_id: &TenantId, id: &str, job: &NewJob) -> Result<()> {
        let now = super::now();
        // `Some(status)` when the message was not failed (`None` inside: no such message).
        let refused: Option<Option<String>> = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let claimed = crate::store::query(
                "UPDATE messages SET status = 'queued', error = NULL, updated_at = $1
                 WHERE id = $2 AND tenant_id = $3 AND status = 'failed'",
            )
            .bind(now)
            .bind(id)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed == 0 {
                let status: Option<String> =
                    crate::store::query_scalar("SELECT status FROM messages WHERE id = $1 AND tenant_id = $2")
                        .bind(id)
                        .bind(tenant_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                Some(status)
            } else {
                // A job still marked running (its last attempt is being recorded) is taken
                // from its worker: that worker's settle finds it no longer running and writes
                // nothing.
                let rearmed = crate::store::query(
                    "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $1, updated_at = $2,
                                     lease_token = NULL, locked_until = NULL
                     WHERE tenant_id = $3 AND idempotency_key = $4
                       AND status IN ('failed', 'dead', 'succeeded', 'running')",
                )
                .bind(now)
                .bind(now)
                .bind(tenant_id)
                .bind(&job.idempotency_key)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if rearmed == 0 {
                    let _ = enqueue_job!(&mut *tx, tenant_id, job, now);
                }
                tx.commit().await?;
                None
            }
        });
        match refused {
            None => Ok(()),
            Some(None) => Err(StoreError::NotFound),
            Some(Some(status)) => {
                Err(StoreError::Conflict(format!("message {id} is {status}; only a failed request can be retried")))
            }
        }
    }

    /// The draft of the project's latest other request with the same words as `message`'s,
    /// if one was drafted.
    pub async fn repeated_draft(&self, tenant_id: &TenantId, message: &Message) -> Result<Option<TaskDraft>> {
        let draft: Option<String> = read!(self, |pool| {
            crate::store::query_scalar(
                "SELECT draft FROM messages
                 WHERE project_id = $1 AND text_key = $2 AND tenant_id = $3 AND id <> $4 AND draft IS NOT NULL
                 ORDER BY created_at DESC LIMIT 1",
            )
            .bind(&message.project_id)
            .bind(crate::domain::message::text_key(&message.text))
            .bind(tenant_id)
            .bind(&message.id)
            .fetch_optional(pool)
            .await?
        });
        draft
            .map(|d| serde_json::from_str(&d).map_err(|e| StoreError::Corrupt(format!("messages.draft: {e}"))))
            .transpose()
    }

    /// The latest request by `author` in `conversation` of integration `integration_id`:
    /// the one a plain reply there answers. Requests of another author, integration or
    /// tenant are never found.
    pub async fn latest_request_in(
        &self,
        tenant_id: &TenantId,
        integration_id: &IntegrationId,
        conversation: &Conversation,
        author: &str,
    ) -> Result<Option<Message>> {
        let mut sql = format!(
            "SELECT {COLUMNS} FROM {FROM} WHERE m.tenant_id = $1 AND m.integration_id = $2 AND m.author = $3 AND "
        );
        // PostgreSQL compares byte-wise only under "C", as its index does.
        let thread = match self.backend() {
            super::Backend::Postgres => "m.thread_ref COLLATE \"C\"",
            // MySQL's columns compare bytes already (`utf8mb4_bin`).
            super::Backend::Sqlite | super::Backend::Mysql => "m.thread_ref",
        };
        let refs: Vec<String> = match conversation {
            Conversation::Threads(refs) => {
                let refs: Vec<String> = refs.iter().rev().take(MAX_THREAD_REFS).cloned().collect();
                if refs.is_empty() {
                    return Ok(None);
                }
                let marks: Vec<String> = (0..refs.len()).map(|i| format!("${}", i + 4)).collect();
                sql.push_str(&format!("{thread} IN ({})", marks.join(", ")));
                refs
            }
            // `{chat}/` up to `{chat}0` ('0' follows '/'): a range the index serves.
            Conversation::Chat(chat) => {
                sql.push_str(&format!("{thread} >= $4 AND {thread} < $5"));
                vec![format!("{chat}/"), format!("{chat}0")]
            }
            Conversation::Request(id) => {
                sql.push_str("m.id = $4");
                vec![id.clone()]
            }
        };
        sql.push_str(" ORDER BY m.received_at DESC, m.id DESC LIMIT 1");
        let row: Option<MessageRow> = read!(self, |pool| {
            let mut query = crate::store::query_as(&sql).bind(tenant_id).bind(integration_id).bind(author);
            for r in &refs {
                query = query.bind(r);
            }
            query.fetch_optional(pool).await?
        });
        row.map(Message::try_from).transpose()
    }

    /// Records that a message could not be processed.
    pub async fn fail_message(&self, tenant_id: &TenantId, id: &str, error: &str) -> Result<()> {
        let now = super::now();
        write!(self, |pool| {
            crate::store::query(
                "UPDATE messages SET status = 'failed', error = $1, updated_at = $2
                 WHERE id = $3 AND tenant_id = $4 AND status IN ('queued', 'processing')",
            )
            .bind(error)
            .bind(now)
            .bind(id)
            .bind(tenant_id)
            .execute(pool)
            .await?;
        });
        self.announce(id).await;
        Ok(())
    }
}

fn encode(outcome: &Outcome<'_>) -> Result<(String, String)> {
    let draft = serde_json::to_string(outcome.draft).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let candidates = serde_json::to_string(outcome.candidates).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok((draft, candidates))
}
