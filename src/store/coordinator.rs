//! What the AI coordinator keeps: its analyses, its conversations and the actions it proposes.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::jobs::enqueue_job;
use super::{Result, Store, StoreError, read, write};
use crate::domain::coordinator::{Action, ActionStatus, ChatTurn, Conversation, FollowUp, Proposal, Role};
use crate::domain::id::{IntegrationId, ProjectId, TaskId, TenantId};
use crate::domain::job::NewJob;
use crate::domain::list::Page;
use crate::domain::new_id;

/// A kept analysis.
#[derive(Debug, Clone)]
pub struct StoredAnalysis {
    pub id: String,
    pub project_id: Option<ProjectId>,
    pub result: Value,
    pub created_at: DateTime<Utc>,
}

impl Store {
    pub async fn save_analysis(
        &self,
        tenant_id: &TenantId,
        project_id: Option<&ProjectId>,
        result: &Value,
    ) -> Result<String> {
        let id = crate::domain::new_id();
        let now = super::now();
        write!(self, |pool| {
            crate::store::query(
                "INSERT INTO ai_analyses (id, tenant_id, project_id, result, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&id)
            .bind(tenant_id)
            .bind(project_id)
            .bind(result.to_string())
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(id)
    }

    /// The tenant's latest analysis (of `project_id` when given, else of the whole workspace).
    pub async fn latest_analysis(
        &self,
        tenant_id: &TenantId,
        project_id: Option<&ProjectId>,
    ) -> Result<Option<StoredAnalysis>> {
        let row: Option<(String, Option<String>, String, DateTime<Utc>)> = read!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT id, project_id, result, created_at FROM ai_analyses WHERE tenant_id = ",
            );
            q.push_bind(tenant_id);
            match project_id {
                Some(p) => q.push(" AND project_id = ").push_bind(p),
                None => q.push(" AND project_id IS NULL"),
            };
            q.push(" ORDER BY created_at DESC, id DESC LIMIT 1");
            q.build_query_as().fetch_optional(pool).await?
        });
        Ok(row.map(|(id, project_id, result, created_at)| StoredAnalysis {
            id,
            project_id: project_id.map(Into::into),
            result: serde_json::from_str(&result).unwrap_or(Value::Null),
            created_at,
        }))
    }
}

/// An analysis as listed: when, and of what.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AnalysisHead {
    pub id: String,
    pub project_id: Option<ProjectId>,
    pub created_at: DateTime<Utc>,
}

/// A conversation as listed: its first question and when it last went on.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConversationHead {
    pub id: String,
    pub first_question: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl Store {
    /// One of the tenant's analyses; `NotFound` for another tenant's.
    pub async fn get_analysis(&self, tenant_id: &TenantId, id: &str) -> Result<StoredAnalysis> {
        let row: Option<(String, Option<String>, String, DateTime<Utc>)> = read!(self, |pool| {
            crate::store::query_as(
                "SELECT id, project_id, result, created_at FROM ai_analyses WHERE id = $1 AND tenant_id = $2",
            )
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(pool)
            .await?
        });
        let (id, project_id, result, created_at) = row.ok_or(StoreError::NotFound)?;
        let result =
            serde_json::from_str(&result).map_err(|e| StoreError::Corrupt(format!("ai_analyses.result: {e}")))?;
        Ok(StoredAnalysis { id, project_id: project_id.map(Into::into), result, created_at })
    }

    /// The tenant's latest analyses (of any scope), newest first, without their findings.
    pub async fn recent_analyses(&self, tenant_id: &TenantId, limit: i64) -> Result<Vec<AnalysisHead>> {
        Ok(read!(self, |pool| {
            crate::store::query_as(
                "SELECT id, project_id, created_at FROM ai_analyses WHERE tenant_id = $1
                 ORDER BY created_at DESC, id DESC LIMIT $2",
            )
            .bind(tenant_id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The tenant's conversations that went on last, newest first, each with its first question.
    pub async fn recent_conversations(&self, tenant_id: &TenantId, limit: i64) -> Result<Vec<ConversationHead>> {
        Ok(read!(self, |pool| {
            crate::store::query_as(
                "SELECT c.id, c.updated_at,
                        (SELECT t.content FROM ai_turns t WHERE t.conversation_id = c.id AND t.role = 'user'
                         ORDER BY t.created_at, t.id LIMIT 1) AS first_question
                 FROM ai_conversations c WHERE c.tenant_id = $1 ORDER BY c.updated_at DESC, c.id DESC LIMIT $2",
            )
            .bind(tenant_id)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }))
    }
}

/// An exchange of a chat: the question, the answer and the actions it proposes, kept
/// together or not at all.
#[derive(Debug)]
pub struct Exchange<'a> {
    /// Continue this conversation; a new one is started when `None`.
    pub conversation_id: Option<&'a str>,
    pub started_by: &'a str,
    pub question: &'a str,
    pub answer: &'a str,
    pub cited_task_ids: &'a [String],
    pub proposals: &'a [Proposal],
    /// `ai:{provider}` or `builtin`.
    pub proposed_by: &'a str,
}

/// What [`Store::record_exchange`] wrote.
#[derive(Debug)]
pub struct Recorded {
    pub conversation_id: String,
    /// The proposals, as pending actions.
    pub actions: Vec<Action>,
}

#[derive(sqlx::FromRow)]
struct ActionRow {
    id: String,
    conversation_id: Option<String>,
    kind: String,
    params: String,
    status: String,
    proposed_by: String,
    decided_by: Option<String>,
    decided_at: Option<DateTime<Utc>>,
    result: Option<String>,
    error: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ActionRow> for Action {
    type Error = StoreError;

    fn try_from(r: ActionRow) -> Result<Self> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("ai_actions.{what} of {}", r.id));
        Ok(Action {
            status: ActionStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            params: serde_json::from_str(&r.params).map_err(|_| corrupt("params"))?,
            result: r.result.as_deref().map(serde_json::from_str).transpose().map_err(|_| corrupt("result"))?,
            id: r.id,
            conversation_id: r.conversation_id,
            kind: r.kind,
            proposed_by: r.proposed_by,
            decided_by: r.decided_by,
            decided_at: r.decided_at,
            error: r.error,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

const ACTION_COLUMNS: &str = "id, conversation_id, kind, params, status, proposed_by, decided_by, decided_at, \
                              result, error, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct TurnRow {
    role: String,
    content: String,
    cited_task_ids: String,
    action_ids: String,
    created_at: DateTime<Utc>,
}

fn id_list(raw: &str) -> Vec<String> {
    serde_json::from_str(raw).unwrap_or_default()
}

/// A new action carrying out `proposal`: pending, or approved at once by `approved_by`.
fn new_action(
    proposal: &Proposal,
    conversation_id: Option<&str>,
    proposed_by: &str,
    approved_by: Option<&str>,
    now: DateTime<Utc>,
) -> Action {
    Action {
        id: new_id(),
        kind: proposal.kind().to_string(),
        params: proposal.params(),
        status: if approved_by.is_some() { ActionStatus::Approved } else { ActionStatus::Pending },
        proposed_by: proposed_by.to_string(),
        decided_by: approved_by.map(str::to_string),
        decided_at: approved_by.map(|_| now),
        conversation_id: conversation_id.map(str::to_string),
        result: None,
        error: None,
        created_at: now,
        updated_at: now,
    }
}

/// Inserts an action inside the caller's transaction, unless its `dedupe_key` (when it has
/// one) was used; answers the rows written.
macro_rules! insert_action {
    ($tx:expr, $tenant_id:expr, $action:expr, $dedupe_key:expr) => {{
        let a: &Action = $action;
        crate::store::query(
            "INSERT INTO ai_actions (id, tenant_id, conversation_id, kind, params, status, proposed_by, decided_by,
                                     decided_at, dedupe_key, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
             ON CONFLICT (tenant_id, dedupe_key) DO NOTHING",
        )
        .bind(&a.id)
        .bind($tenant_id)
        .bind(&a.conversation_id)
        .bind(&a.kind)
        .bind(a.params.to_string())
        .bind(a.status.as_str())
        .bind(&a.proposed_by)
        .bind(&a.decided_by)
        .bind(a.decided_at)
        .bind($dedupe_key)
        .bind(a.created_at)
        .execute(&mut *$tx)
        .await?
        .rows_affected()
    }};
}

/// Inserts one turn of a conversation, inside the caller's transaction.
macro_rules! insert_turn {
    ($tx:expr, $conversation:expr, $role:expr, $content:expr, $cited:expr, $actions:expr, $now:expr) => {
        crate::store::query(
            "INSERT INTO ai_turns (id, conversation_id, role, content, cited_task_ids, action_ids, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(crate::domain::new_id())
        .bind($conversation)
        .bind($role.as_str())
        .bind($content)
        .bind(serde_json::to_string($cited).unwrap_or_else(|_| "[]".into()))
        .bind(serde_json::to_string($actions).unwrap_or_else(|_| "[]".into()))
        .bind($now)
        .execute(&mut *$tx)
        .await?
    };
}

impl Store {
    /// Writes a chat exchange in one transaction: the conversation (started, or
    /// `NotFound` when the one to continue is not the tenant's), both turns, and each
    /// proposal as a pending action.
    pub async fn record_exchange(&self, tenant_id: &TenantId, ex: &Exchange<'_>) -> Result<Recorded> {
        let now = super::now();
        let conversation_id = ex.conversation_id.map(str::to_string).unwrap_or_else(new_id);
        let actions: Vec<Action> =
            ex.proposals.iter().map(|p| new_action(p, Some(&conversation_id), ex.proposed_by, None, now)).collect();
        let action_ids: Vec<&str> = actions.iter().map(|a| a.id.as_str()).collect();
        let no_ids: [String; 0] = [];
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            if ex.conversation_id.is_some() {
                let touched =
                    crate::store::query("UPDATE ai_conversations SET updated_at = $1 WHERE id = $2 AND tenant_id = $3")
                        .bind(now)
                        .bind(&conversation_id)
                        .bind(tenant_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                if touched == 0 {
                    return Err(StoreError::NotFound);
                }
            } else {
                crate::store::query(
                    "INSERT INTO ai_conversations (id, tenant_id, started_by, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $4)",
                )
                .bind(&conversation_id)
                .bind(tenant_id)
                .bind(ex.started_by)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            insert_turn!(tx, &conversation_id, Role::User, ex.question, &no_ids, &no_ids, now);
            for action in &actions {
                insert_action!(tx, tenant_id, action, None::<&str>);
            }
            // A turn a moment later than the question, so the two always read in order.
            let later = now + chrono::Duration::microseconds(1);
            insert_turn!(tx, &conversation_id, Role::Assistant, ex.answer, ex.cited_task_ids, &action_ids, later);
            tx.commit().await?;
        });
        Ok(Recorded { conversation_id, actions })
    }

    pub async fn get_conversation(&self, tenant_id: &TenantId, id: &str) -> Result<Conversation> {
        let head: Option<(String, DateTime<Utc>, DateTime<Utc>)> = read!(self, |pool| {
            crate::store::query_as(
                "SELECT started_by, created_at, updated_at FROM ai_conversations WHERE id = $1 AND tenant_id = $2",
            )
            .bind(id)
            .bind(tenant_id)
            .fetch_optional(pool)
            .await?
        });
        let (started_by, created_at, updated_at) = head.ok_or(StoreError::NotFound)?;
        let rows: Vec<TurnRow> = read!(self, |pool| {
            crate::store::query_as(
                "SELECT role, content, cited_task_ids, action_ids, created_at FROM ai_turns
                 WHERE conversation_id = $1 ORDER BY created_at, id",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        let turns = rows
            .into_iter()
            .map(|r| ChatTurn {
                role: if r.role == "user" { Role::User } else { Role::Assistant },
                content: r.content,
                cited_task_ids: id_list(&r.cited_task_ids),
                actions: id_list(&r.action_ids),
                created_at: r.created_at,
            })
            .collect();
        Ok(Conversation { id: id.to_string(), started_by, turns, created_at, updated_at })
    }

    pub async fn get_action(&self, tenant_id: &TenantId, id: &str) -> Result<Action> {
        let sql = format!("SELECT {ACTION_COLUMNS} FROM ai_actions WHERE id = $1 AND tenant_id = $2");
        let row: Option<ActionRow> =
            read!(self, |pool| crate::store::query_as(&sql).bind(id).bind(tenant_id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)?.try_into()
    }

    /// The tenant's actions, newest first, optionally only those with `status`; one more
    /// than the page's limit, for the next cursor.
    pub async fn list_actions(
        &self,
        tenant_id: &TenantId,
        status: Option<ActionStatus>,
        page: &Page,
    ) -> Result<Vec<Action>> {
        let rows: Vec<ActionRow> = read!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(format!("SELECT {ACTION_COLUMNS} FROM ai_actions WHERE tenant_id = "));
            q.push_bind(tenant_id);
            if let Some(status) = status {
                q.push(" AND status = ").push_bind(status.as_str());
            }
            if let Some(after) = &page.after {
                q.push(" AND id < ").push_bind(after.id.as_str());
            }
            q.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(page.limit) + 1);
            q.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(Action::try_from).collect()
    }

    /// Approves (queuing `execute`, the job carrying it out, in the same transaction) or
    /// rejects a pending action, once: `Conflict` when it was already decided.
    pub async fn decide_action(
        &self,
        tenant_id: &TenantId,
        id: &str,
        approve: bool,
        decided_by: &str,
        execute: &NewJob,
    ) -> Result<Action> {
        let now = super::now();
        let status = if approve { ActionStatus::Approved } else { ActionStatus::Rejected };
        let decided = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let changed = crate::store::query(
                "UPDATE ai_actions SET status = $1, decided_by = $2, decided_at = $3, updated_at = $3
                 WHERE id = $4 AND tenant_id = $5 AND status = 'pending'",
            )
            .bind(status.as_str())
            .bind(decided_by)
            .bind(now)
            .bind(id)
            .bind(tenant_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 1 && approve {
                let _ = enqueue_job!(&mut *tx, tenant_id, execute, now);
            }
            tx.commit().await?;
            changed == 1
        });
        let action = self.get_action(tenant_id, id).await?;
        if !decided {
            return Err(StoreError::Conflict(format!("this action is already {}", action.status.as_str())));
        }
        Ok(action)
    }

    /// Records how carrying out an approved action went; false when it is no longer
    /// `approved` (already finished by an earlier run).
    pub async fn finish_action(
        &self,
        tenant_id: &TenantId,
        id: &str,
        outcome: std::result::Result<&Value, &str>,
    ) -> Result<bool> {
        let now = super::now();
        let (status, result, error) = match outcome {
            Ok(result) => (ActionStatus::Executed, Some(result.to_string()), None),
            Err(error) => (ActionStatus::Failed, None, Some(error)),
        };
        let changed = write!(self, |pool| {
            crate::store::query(
                "UPDATE ai_actions SET status = $1, result = $2, error = $3, updated_at = $4
                 WHERE id = $5 AND tenant_id = $6 AND status = 'approved'",
            )
            .bind(status.as_str())
            .bind(result)
            .bind(error)
            .bind(now)
            .bind(id)
            .bind(tenant_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if changed == 1 {
            self.announce(id).await;
        }
        Ok(changed == 1)
    }
}

/// A follow-up the coordinator proposes by itself, at most once per task and day.
#[derive(Debug)]
pub struct NewFollowUp<'a> {
    pub follow_up: &'a FollowUp,
    /// The day it is for (UTC).
    pub day: NaiveDate,
    /// Approved at once by this policy (and its job queued) instead of waiting for a person.
    pub approved_by: Option<&'a str>,
}

impl Store {
    /// Records a follow-up unless the task had one that day (its key `follow-up:{task}:{day}`),
    /// or an earlier one for the task still waits, is being sent, or was decided that day (a
    /// reminder approved late is still the day's only one); an approved one has its job
    /// queued (`execute`) in the same transaction. The action takes id `id`; answers it when
    /// it was made.
    pub async fn propose_follow_up(
        &self,
        tenant_id: &TenantId,
        id: &str,
        new: &NewFollowUp<'_>,
        execute: &NewJob,
    ) -> Result<Option<String>> {
        let now = super::now();
        let proposal = Proposal::SendFollowUp(new.follow_up.clone());
        let action = Action { id: id.to_string(), ..new_action(&proposal, None, "follow-ups", new.approved_by, now) };
        let task_prefix = format!("follow-up:{}:", new.follow_up.task_id);
        let dedupe_key = format!("{task_prefix}{}", new.day);
        let day_start = new.day.and_time(chrono::NaiveTime::MIN).and_utc();
        let made = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let earlier: Option<(String,)> = crate::store::query_as(
                "SELECT id FROM ai_actions WHERE tenant_id = $1 AND substr(dedupe_key, 1, $2) = $3
                 AND (status IN ('pending', 'approved') OR created_at >= $4 OR decided_at >= $4) LIMIT 1",
            )
            .bind(tenant_id)
            .bind(i32::try_from(task_prefix.chars().count()).unwrap_or(i32::MAX))
            .bind(&task_prefix)
            .bind(day_start)
            .fetch_optional(&mut *tx)
            .await?;
            if earlier.is_some() {
                return Ok(None);
            }
            let inserted = insert_action!(tx, tenant_id, &action, Some(dedupe_key.as_str()));
            if inserted == 1 && new.approved_by.is_some() {
                let _ = enqueue_job!(&mut *tx, tenant_id, execute, now);
            }
            tx.commit().await?;
            inserted == 1
        });
        Ok(made.then_some(action.id))
    }

    /// Where a task's request came from: the integration and reply address of the latest
    /// message that created it or was linked to it, if that came through a platform.
    pub async fn task_origin(&self, tenant_id: &TenantId, task_id: &TaskId) -> Result<Option<(IntegrationId, Value)>> {
        let row: Option<(IntegrationId, String)> = read!(self, |pool| {
            crate::store::query_as(
                "SELECT integration_id, reply_to FROM messages
                 WHERE tenant_id = $1 AND task_id = $2 AND integration_id IS NOT NULL AND reply_to IS NOT NULL
                 ORDER BY created_at DESC, id DESC LIMIT 1",
            )
            .bind(tenant_id)
            .bind(task_id)
            .fetch_optional(pool)
            .await?
        });
        row.map(|(integration, reply_to)| {
            serde_json::from_str(&reply_to)
                .map(|target| (integration, target))
                .map_err(|e| StoreError::Corrupt(format!("messages.reply_to: {e}")))
        })
        .transpose()
    }
}
