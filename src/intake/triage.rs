//! A person's decisions on requests: accept one waiting for triage (a task from its draft,
//! perhaps edited), merge it into any task of its project, or decline it. A possible
//! duplicate of an `auto` project can be merged later the same way. Each decision is made
//! once (the store claims the message in the state it was decided in), journaled with the
//! API key that made it, written with its task changes in one transaction, and answered in
//! the requester's thread.
//!
//! A possible duplicate merged later already has a task of its own. That task is closed
//! (status `done`, through the task service, so linked tracker items are transitioned too)
//! with a comment naming the task it was merged into, rather than deleted: a delete would
//! leave its tracker items open and orphan its comments and any requests merged into it,
//! and there is no `cancelled` status to set instead. The close follows the merge's
//! transaction: a process that dies in between leaves that task open, the safe side (a person
//! can close it; no request is lost).
//!
//! A merge (intake's or a person's) can be undone: the request's comment is removed from the
//! task it was merged into and the request is its own task again — made from its draft, or,
//! for a possible duplicate merged later, its closed task reopened. The comment's copies in
//! trackers stay, as for any comment deleted here.

use crate::domain::DomainError;
use crate::domain::comment::{Comment, NewComment};
use crate::domain::id::{TaskId, TenantId};
use crate::domain::message::{AcceptInput, Decision, DecisionAction, Message, MessageStatus};
use crate::domain::task::{TaskPatch, TaskStatus};
use crate::domain::tenant::Caller;
use crate::store::{MergeComment, OwnTask, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Decided already, or not in a state this decision applies to.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for DecisionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => DecisionError::NotFound("message"),
            other => DecisionError::Store(other),
        }
    }
}

/// Makes a task of a request waiting for triage, from its draft with `edits`.
pub async fn accept(
    store: &Store,
    caller: &Caller,
    message_id: &str,
    edits: AcceptInput,
) -> Result<Message, DecisionError> {
    let tenant = &caller.tenant_id;
    let message = store.get_message(tenant, message_id).await?;
    expect(&message, &[MessageStatus::NeedsTriage], "accepted")?;
    let draft = message.draft.as_ref().ok_or_else(|| DecisionError::Conflict("the request has no draft".into()))?;
    let task = edits.apply(&message.project_id, draft)?;
    let task_id = TaskId::generate();
    let decision = Decider::of(store, caller).await?.decision(DecisionAction::Accept, Some(task_id.clone()));
    let pushes = crate::tasks::new_task_pushes(store, tenant, &message.project_id, &task_id).await?;
    let reply = answer(&message, &decision);
    let decided = store.decide_accept(tenant, &message.id, &decision, &task, &pushes, reply.as_ref()).await;
    finish(store, tenant, &message, decided).await
}

/// Merges a request waiting for triage, or a possible duplicate, into `task_id`: any task of
/// the request's project (another project's or tenant's is not found).
pub async fn merge(
    store: &Store,
    caller: &Caller,
    message_id: &str,
    task_id: &TaskId,
) -> Result<Message, DecisionError> {
    merge_by(store, &Decider::of(store, caller).await?, message_id, task_id).await
}

/// [`merge`], decided by `by` (a key, or the requester answering in their thread).
pub(crate) async fn merge_by(
    store: &Store,
    by: &Decider,
    message_id: &str,
    task_id: &TaskId,
) -> Result<Message, DecisionError> {
    let tenant = &by.tenant_id;
    let message = store.get_message(tenant, message_id).await?;
    let from = expect(&message, &[MessageStatus::NeedsTriage, MessageStatus::PossibleDuplicate], "merged")?;
    let target = match store.get_task(tenant, task_id).await {
        Ok(task) if task.project_id == message.project_id => task,
        Ok(_) | Err(StoreError::NotFound) => return Err(DecisionError::NotFound("task")),
        Err(e) => return Err(e.into()),
    };
    // A possible duplicate's own task is what the merge closes.
    let own = message.task_id.clone().filter(|_| from == MessageStatus::PossibleDuplicate);
    if own.as_ref() == Some(&target.id) {
        return Err(DomainError::invalid("task_id", "is the task made for this request itself").into());
    }
    let mut decision = by.decision(DecisionAction::Merge, Some(target.id.clone()));
    let now = crate::store::now();
    let comment = Comment {
        id: crate::domain::new_id(),
        task_id: target.id.clone(),
        content: super::also_requested(&message),
        author: message.author.clone(),
        created_at: now,
        updated_at: now,
    };
    decision.comment_id = Some(comment.id.clone());
    decision.closed_task_id = own.clone();
    let sync = crate::tasks::comment_job(&target.id, &comment.id);
    let reply = answer(&message, &decision);
    let merged = MergeComment { comment: &comment, sync: &sync };
    let decided = match store.decide_merge(tenant, &message, from, &decision, &merged, reply.as_ref()).await {
        // The message was there: a task that is not (any more) is what was not found.
        Err(StoreError::NotFound) => return Err(DecisionError::NotFound("task")),
        other => other,
    };
    let merged = finish(store, tenant, &message, decided).await?;
    if let Some(own) = own {
        let by = &decision.decided_by;
        let why = format!("Merged into “{}” ({}) by {by}: the same work is tracked there.", target.title, target.id);
        move_own_task(store, tenant, &own, TaskStatus::Done, why, by).await?;
    }
    Ok(merged)
}

/// Declines a request waiting for triage; `reason` is told to the requester.
pub async fn decline(
    store: &Store,
    caller: &Caller,
    message_id: &str,
    reason: String,
) -> Result<Message, DecisionError> {
    let tenant = &caller.tenant_id;
    let message = store.get_message(tenant, message_id).await?;
    expect(&message, &[MessageStatus::NeedsTriage], "declined")?;
    let mut decision = Decider::of(store, caller).await?.decision(DecisionAction::Decline, None);
    decision.reason = Some(reason);
    let reply = answer(&message, &decision);
    let decided = store.decide_decline(tenant, &message.id, &decision, reply.as_ref()).await;
    finish(store, tenant, &message, decided).await
}

/// Undoes the merge of a duplicate request, whoever merged it.
pub async fn unmerge(store: &Store, caller: &Caller, message_id: &str) -> Result<Message, DecisionError> {
    let tenant = &caller.tenant_id;
    let message = store.get_message(tenant, message_id).await?;
    expect(&message, &[MessageStatus::Duplicate], "unmerged")?;
    let comment_id = message.comment_id.clone().ok_or_else(|| {
        DecisionError::Conflict(format!(
            "message {} was merged before merges could be undone: its comment is not known",
            message.id
        ))
    })?;
    // A possible duplicate merged later gets its own task back, if it is still there.
    let closed = message.decision.as_ref().filter(|d| d.action == DecisionAction::Merge);
    let reopen = match closed.and_then(|d| d.closed_task_id.clone()) {
        Some(own) => match store.get_task(tenant, &own).await {
            Ok(_) => Some(own),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(DecisionError::Store(e)),
        },
        None => None,
    };
    let task_id = reopen.clone().unwrap_or_else(TaskId::generate);
    let mut decision = Decider::of(store, caller).await?.decision(DecisionAction::Unmerge, Some(task_id.clone()));
    decision.comment_id = Some(comment_id.clone());
    let reply = answer(&message, &decision);
    let decided = if reopen.is_some() {
        store.decide_unmerge(tenant, &message, &comment_id, &decision, &OwnTask::Reopened, reply.as_ref()).await
    } else {
        let draft = message.draft.as_ref().ok_or_else(|| DecisionError::Conflict("the request has no draft".into()))?;
        let task = AcceptInput::default().apply(&message.project_id, draft)?;
        let pushes = crate::tasks::new_task_pushes(store, tenant, &message.project_id, &task_id).await?;
        let own = OwnTask::Made { task: &task, pushes: &pushes };
        store.decide_unmerge(tenant, &message, &comment_id, &decision, &own, reply.as_ref()).await
    };
    let unmerged = finish(store, tenant, &message, decided).await?;
    if let Some(own) = reopen {
        let by = &decision.decided_by;
        let why = format!("Unmerged by {by}: this request is tracked here again.");
        move_own_task(store, tenant, &own, TaskStatus::Todo, why, by).await?;
    }
    Ok(unmerged)
}

/// The message's status if it is one of `allowed`, else the conflict to answer.
fn expect(message: &Message, allowed: &[MessageStatus], what: &str) -> Result<MessageStatus, DecisionError> {
    if allowed.contains(&message.status) {
        return Ok(message.status);
    }
    Err(DecisionError::Conflict(conflict(message, what)))
}

fn conflict(message: &Message, what: &str) -> String {
    match &message.decision {
        Some(d) => format!(
            "message {} was already decided ({} by {} at {}); it cannot be {what}",
            message.id,
            d.action.as_str(),
            d.decided_by,
            d.decided_at.to_rfc3339()
        ),
        None => format!("message {} is {}; it cannot be {what}", message.id, message.status.as_str()),
    }
}

/// Who decides: an API key, or the requester answering the question asked in their thread.
pub(crate) struct Decider {
    pub tenant_id: TenantId,
    /// The key's id; [`REQUESTER`] for the requester.
    pub key_id: String,
    /// The key's name when it decided, or the requester's.
    pub name: String,
}

/// The `decided_by_key_id` of a decision the requester made by answering in their thread.
pub const REQUESTER: &str = "requester";

impl Decider {
    /// The caller's key.
    async fn of(store: &Store, caller: &Caller) -> Result<Decider, DecisionError> {
        let (_, key) = store.caller_details(caller).await.map_err(DecisionError::Store)?;
        Ok(Decider { tenant_id: caller.tenant_id.clone(), key_id: key.id, name: key.name })
    }

    /// The requester of `message`, answering in its conversation.
    pub(crate) fn requester(tenant_id: &TenantId, message: &Message) -> Decider {
        let who = message.author.as_deref().unwrap_or("unknown");
        Decider {
            tenant_id: tenant_id.clone(),
            key_id: REQUESTER.into(),
            name: format!("the requester ({who}, in {})", message.source),
        }
    }

    /// A new decision of this decider, not yet written.
    fn decision(&self, action: DecisionAction, task_id: Option<TaskId>) -> Decision {
        Decision {
            id: crate::domain::new_id(),
            action,
            task_id,
            closed_task_id: None,
            comment_id: None,
            reason: None,
            decided_by_key_id: self.key_id.clone(),
            decided_by: self.name.clone(),
            decided_at: crate::store::now(),
        }
    }
}

/// The answer in the requester's thread, for a request that came from one.
fn answer(message: &Message, decision: &Decision) -> Option<crate::jobs::NewJob> {
    message.integration_id.as_ref().map(|_| crate::channels::decision_job(&message.id, &decision.id))
}

/// The message as decided; a decision that lost to another made at once is a conflict
/// naming the one that won.
async fn finish(
    store: &Store,
    tenant: &TenantId,
    before: &Message,
    decided: Result<(), StoreError>,
) -> Result<Message, DecisionError> {
    match decided {
        Ok(()) => Ok(store.get_message(tenant, &before.id).await?),
        Err(StoreError::Conflict(_)) => {
            let now = store.get_message(tenant, &before.id).await?;
            Err(DecisionError::Conflict(conflict(&now, "decided again")))
        }
        Err(e) => Err(e.into()),
    }
}

/// Moves a possible duplicate's own task to `status` with a comment saying why (closed when
/// its request was merged elsewhere, reopened when that merge is undone); a task deleted
/// meanwhile is left alone.
async fn move_own_task(
    store: &Store,
    tenant: &TenantId,
    own: &TaskId,
    status: TaskStatus,
    why: String,
    by: &str,
) -> Result<(), DecisionError> {
    let note = NewComment { task_id: own.clone(), content: why, author: Some(by.to_string()), notify_requester: false };
    match crate::tasks::add_comment(store, tenant, &note).await {
        Ok(_) => {}
        Err(StoreError::NotFound) => return Ok(()),
        Err(e) => return Err(DecisionError::Store(e)),
    }
    match crate::tasks::update_task(store, tenant, own, &TaskPatch::status(status), None).await {
        Ok(_) | Err(StoreError::NotFound) => Ok(()),
        Err(e) => Err(DecisionError::Store(e)),
    }
}
