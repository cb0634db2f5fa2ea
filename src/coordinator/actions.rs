//! Carrying out approved actions: the `ai.action` job, queued by the approval itself, makes
//! the change through the same code paths as the API (trackers and webhooks included).
//! A task, comment or delivery an action creates takes the action's id, so a run after a
//! crash between the change and the action's outcome finds it instead of making it twice.
//! An edit run again writes the same values again (at least once): only a person's edit
//! in that instant between would be written over.

use serde_json::{Value, json};

use super::{Coordinator, CoordinatorError};
use crate::domain::coordinator::{Action, ActionStatus, Change, Proposal};
use crate::domain::id::{TaskId, TenantId};
use crate::domain::tenant::Caller;
use crate::jobs::{JobContext, JobError, JobKind, NewJob, Registry};
use crate::store::{Store, StoreError};

/// The `ai.action` job: carries out approved action `action_id`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunAction {
    pub action_id: String,
}

impl JobKind for RunAction {
    const KIND: &'static str = "ai.action";

    fn idempotency_key(&self) -> String {
        format!("ai-action:{}", self.action_id)
    }
}

/// The job carrying out approved action `action_id`.
pub fn action_job(action_id: &str) -> NewJob {
    RunAction { action_id: action_id.to_string() }.job()
}

pub fn register(registry: &mut Registry) {
    registry.handle(|ctx, job: RunAction| run(ctx, job.action_id));
}

impl Coordinator {
    /// Approves or rejects a pending action as `caller`; an approval queues its execution.
    pub async fn decide(&self, caller: &Caller, id: &str, approve: bool) -> Result<Action, CoordinatorError> {
        let by = format!("key:{}", caller.key_id);
        self.store
            .decide_action(&caller.tenant_id, id, approve, &by, &action_job(id))
            .await
            .map_err(CoordinatorError::or_missing("action"))
    }
}

/// Why carrying out an action failed.
enum Failure {
    /// Retrying cannot help: the task is gone, the values are refused.
    Refused(String),
    Transient(String),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Failure::Refused("its task or project no longer exists".into()),
            StoreError::Conflict(why) => Failure::Refused(why),
            other => Failure::Transient(other.to_string()),
        }
    }
}

async fn run(ctx: JobContext, id: String) -> Result<(), JobError> {
    let tenant = &ctx.job.tenant_id;
    let id = id.as_str();
    let action = match ctx.store.get_action(tenant, id).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(JobError::Retry(e.to_string())),
    };
    if action.status != ActionStatus::Approved {
        return Ok(()); // finished by an earlier run
    }
    let finished = match execute(&ctx.store, tenant, &action).await {
        Ok(result) => ctx.store.finish_action(tenant, id, Ok(&result)).await,
        Err(Failure::Refused(why)) => ctx.store.finish_action(tenant, id, Err(&why)).await,
        Err(Failure::Transient(why)) => {
            if ctx.job.attempts >= ctx.job.max_attempts {
                let _ = ctx.store.finish_action(tenant, id, Err(&why)).await;
            }
            return Err(JobError::Retry(why));
        }
    };
    finished.map(|_| ()).map_err(|e| JobError::Retry(e.to_string()))
}

async fn execute(store: &Store, tenant: &TenantId, action: &Action) -> Result<Value, Failure> {
    let refused = |e: crate::domain::DomainError| Failure::Refused(e.to_string());
    let proposal = Proposal::read(&action.kind, action.params.clone()).map_err(refused)?;
    Ok(match proposal.change().map_err(refused)? {
        Change::Create(new) => {
            let id = TaskId::from(&action.id);
            let task = once(store.get_task(tenant, &id).await, async || {
                Ok(crate::tasks::create_task_as(store, tenant, Some(&id), &new).await?)
            })
            .await?;
            json!({"task": task})
        }
        Change::Update { task_id, patch } => {
            json!({"task": crate::tasks::update_task(store, tenant, &task_id, &patch, None).await?})
        }
        Change::Comment(new) => {
            let comment = once(store.get_comment(tenant, &action.id).await, async || {
                Ok(crate::tasks::comment::add_comment_as(store, tenant, Some(&action.id), &new).await?)
            })
            .await?;
            json!({"comment": comment})
        }
        Change::FollowUp { task_id, message } => {
            let earlier = store.delivery(tenant, &action.id).await.map(|(delivery, _)| delivery);
            let delivery = once(earlier, async || {
                let task = store.get_task(tenant, &task_id).await?;
                let integrations = store.list_integrations(tenant, &task.project_id).await?;
                let Some(new) = super::route::route(store, tenant, &task, &integrations, &message).await? else {
                    return Err(Failure::Refused(
                        "the task has no conversation to answer in, and no assignee e-mail address with an \
                         e-mail integration in its project"
                            .into(),
                    ));
                };
                Ok(store.create_delivery(tenant, &action.id, &new, &crate::channels::send_job(&action.id)).await?)
            })
            .await?;
            json!({"delivery": delivery})
        }
    })
}

/// What an earlier run of the action made (`found`, looked up by the action's id), or what
/// `make` makes now: a run after a crash finds it instead of making it twice.
async fn once<T>(found: Result<T, StoreError>, make: impl AsyncFnOnce() -> Result<T, Failure>) -> Result<T, Failure> {
    match found {
        Ok(made_by_an_earlier_run) => Ok(made_by_an_earlier_run),
        Err(StoreError::NotFound) => make().await,
        Err(e) => Err(e.into()),
    }
}
