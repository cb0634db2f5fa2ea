//! What the AI coordinator proposes and says: actions that wait for a person's decision,
//! and the conversations they come from. A proposal is checked by the same rules as the
//! API's own request bodies, so a model cannot propose what a person could not ask for.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::comment::{NewComment, NewCommentInput};
use super::id::{ProjectId, TaskId};
use super::task::{NewTask, NewTaskInput, Priority, TaskPatch, TaskPatchInput, TaskStatus};
use super::validate::{self, DomainError};

/// The author of comments an approved action writes.
pub const AUTHOR: &str = "taskbridge AI";
pub const MESSAGE_MAX: usize = 4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Proposed; waits for a person.
    Pending,
    /// Approved; being carried out.
    Approved,
    Rejected,
    Executed,
    /// Approved, but carrying it out failed (see `error`).
    Failed,
}

impl ActionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Pending => "pending",
            ActionStatus::Approved => "approved",
            ActionStatus::Rejected => "rejected",
            ActionStatus::Executed => "executed",
            ActionStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "rejected" => Some(Self::Rejected),
            "executed" => Some(Self::Executed),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A change the coordinator may propose, stored as `{kind, params}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "params", rename_all = "snake_case")]
pub enum Proposal {
    CreateTask(CreateTask),
    Assign(Assign),
    SetStatus(SetStatus),
    SetPriority(SetPriority),
    SetDueDate(SetDueDate),
    Comment(CommentOn),
    SendFollowUp(FollowUp),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    pub project_id: ProjectId,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
}

/// `assigned_to: null` unassigns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Assign {
    pub task_id: TaskId,
    pub assigned_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetStatus {
    pub task_id: TaskId,
    pub status: TaskStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPriority {
    pub task_id: TaskId,
    pub priority: Priority,
}

/// `due_date: null` clears it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetDueDate {
    pub task_id: TaskId,
    pub due_date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommentOn {
    pub task_id: TaskId,
    pub content: String,
}

/// A message about a task to its source conversation (or its assignee by e-mail).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowUp {
    pub task_id: TaskId,
    pub message: String,
}

/// What carrying out a proposal does, already validated.
#[derive(Debug, Clone)]
pub enum Change {
    Create(NewTask),
    Update { task_id: TaskId, patch: TaskPatch },
    Comment(NewComment),
    FollowUp { task_id: TaskId, message: String },
}

impl Proposal {
    /// Reads a proposal from its kind and parameters (a model's tool call, or a stored
    /// action), refusing unknown kinds, unknown fields and values the API would refuse.
    pub fn read(kind: &str, params: Value) -> Result<Proposal, DomainError> {
        let proposal: Proposal = serde_json::from_value(json!({"kind": kind, "params": params}))
            .map_err(|e| DomainError::invalid("params", format!("not a valid {kind} action: {e}")))?;
        proposal.change()?;
        Ok(proposal)
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Proposal::CreateTask(_) => "create_task",
            Proposal::Assign(_) => "assign",
            Proposal::SetStatus(_) => "set_status",
            Proposal::SetPriority(_) => "set_priority",
            Proposal::SetDueDate(_) => "set_due_date",
            Proposal::Comment(_) => "comment",
            Proposal::SendFollowUp(_) => "send_follow_up",
        }
    }

    /// The task it changes (none for a new task).
    pub fn task_id(&self) -> Option<&TaskId> {
        match self {
            Proposal::CreateTask(_) => None,
            Proposal::Assign(p) => Some(&p.task_id),
            Proposal::SetStatus(p) => Some(&p.task_id),
            Proposal::SetPriority(p) => Some(&p.task_id),
            Proposal::SetDueDate(p) => Some(&p.task_id),
            Proposal::Comment(p) => Some(&p.task_id),
            Proposal::SendFollowUp(p) => Some(&p.task_id),
        }
    }

    pub fn params(&self) -> Value {
        serde_json::to_value(self).map(|mut v| v["params"].take()).unwrap_or(Value::Null)
    }

    /// The validated change, by the rules of the task and comment request bodies.
    pub fn change(&self) -> Result<Change, DomainError> {
        let update = |task_id: &TaskId, patch: TaskPatchInput| -> Result<Change, DomainError> {
            let task_id = validate::required_text("task_id", task_id, 64)?.into();
            Ok(Change::Update { task_id, patch: patch.validate()? })
        };
        match self {
            Proposal::CreateTask(p) => Ok(Change::Create(
                NewTaskInput {
                    project_id: p.project_id.to_string(),
                    title: p.title.clone(),
                    description: p.description.clone(),
                    status: None,
                    priority: p.priority,
                    assigned_to: p.assigned_to.clone(),
                    time_estimate: None,
                    time_spent: None,
                    due_date: p.due_date.clone(),
                    labels: p.labels.clone(),
                }
                .validate()?,
            )),
            Proposal::Assign(p) => update(
                &p.task_id,
                TaskPatchInput { assigned_to: Some(p.assigned_to.clone()), ..TaskPatchInput::default() },
            ),
            Proposal::SetStatus(p) => {
                update(&p.task_id, TaskPatchInput { status: Some(p.status), ..TaskPatchInput::default() })
            }
            Proposal::SetPriority(p) => {
                update(&p.task_id, TaskPatchInput { priority: Some(p.priority), ..TaskPatchInput::default() })
            }
            Proposal::SetDueDate(p) => {
                update(&p.task_id, TaskPatchInput { due_date: Some(p.due_date.clone()), ..TaskPatchInput::default() })
            }
            Proposal::Comment(p) => Ok(Change::Comment(
                NewCommentInput {
                    task_id: p.task_id.to_string(),
                    content: p.content.clone(),
                    author: Some(AUTHOR.into()),
                }
                .validate()?,
            )),
            Proposal::SendFollowUp(p) => Ok(Change::FollowUp {
                task_id: validate::required_text("task_id", &p.task_id, 64)?.into(),
                message: validate::required_text("message", &p.message, super::delivery::TEXT_MAX)?,
            }),
        }
    }

    /// One line a person reads before deciding.
    pub fn describe(&self) -> String {
        match self {
            Proposal::CreateTask(p) => format!("create the task \"{}\"", p.title),
            Proposal::Assign(p) => match &p.assigned_to {
                Some(who) => format!("assign task {} to {who}", p.task_id),
                None => format!("unassign task {}", p.task_id),
            },
            Proposal::SetStatus(p) => format!("set the status of task {} to {}", p.task_id, p.status.as_str()),
            Proposal::SetPriority(p) => format!("set the priority of task {} to {}", p.task_id, p.priority.as_str()),
            Proposal::SetDueDate(p) => match &p.due_date {
                Some(d) => format!("set the due date of task {} to {d}", p.task_id),
                None => format!("clear the due date of task {}", p.task_id),
            },
            Proposal::Comment(p) => format!("comment on task {}: \"{}\"", p.task_id, p.content),
            Proposal::SendFollowUp(p) => format!("send a follow-up about task {}: \"{}\"", p.task_id, p.message),
        }
    }
}

/// A proposed change and what became of it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Action {
    pub id: String,
    /// `create_task`, `assign`, `set_status`, `set_priority`, `set_due_date`, `comment` or
    /// `send_follow_up`.
    pub kind: String,
    #[schema(value_type = Object)]
    pub params: Value,
    pub status: ActionStatus,
    /// `ai:{provider}` for a model's proposal, `builtin` for a chat command.
    pub proposed_by: String,
    /// `key:{api key id}` of whoever approved or rejected it.
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub conversation_id: Option<String>,
    /// What executing it produced (the task or comment).
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who spoke in a chat; named `ChatRole` in the API document, apart from a key's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ChatRole)]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatTurn {
    pub role: Role,
    pub content: String,
    pub cited_task_ids: Vec<String>,
    /// Ids of the actions proposed in this turn.
    pub actions: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Conversation {
    pub id: String,
    pub started_by: String,
    pub turns: Vec<ChatTurn>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatInput {
    pub message: String,
    /// Continue this conversation (default: start one).
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// Look only at this project; new tasks go there (default: the whole workspace, and
    /// the tenant's default project for new tasks).
    #[serde(default)]
    pub project_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Chat {
    pub message: String,
    pub conversation_id: Option<String>,
    pub project_id: Option<ProjectId>,
}

impl ChatInput {
    pub fn validate(self) -> Result<Chat, DomainError> {
        let id = |field, v: Option<String>| validate::optional_name(field, v.as_deref(), 64);
        Ok(Chat {
            message: validate::required_text("message", &self.message, MESSAGE_MAX)?,
            conversation_id: id("conversation_id", self.conversation_id)?,
            project_id: id("project_id", self.project_id)?.map(Into::into),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proposals_are_read_by_the_api_rules() {
        let p = Proposal::read("set_status", json!({"task_id": "t1", "status": "done"})).expect("valid");
        assert_eq!(p, Proposal::SetStatus(SetStatus { task_id: "t1".into(), status: TaskStatus::Done }));
        assert_eq!(p.params(), json!({"task_id": "t1", "status": "done"}));
        assert_eq!(p.kind(), "set_status");

        let unassign = Proposal::read("assign", json!({"task_id": "t1", "assigned_to": null})).expect("valid");
        assert!(matches!(unassign.change(), Ok(Change::Update { patch, .. }) if patch.assigned_to == Some(None)));

        for (kind, params) in [
            ("delete_everything", json!({})),
            ("set_status", json!({"task_id": "t1", "status": "archived"})),
            ("set_status", json!({"task_id": "t1", "status": "done", "approve": true})),
            ("create_task", json!({"project_id": "p", "title": "  "})),
            ("set_due_date", json!({"task_id": "t1", "due_date": "next blue moon"})),
            ("comment", json!({"task_id": "", "content": "hi"})),
        ] {
            assert!(Proposal::read(kind, params.clone()).is_err(), "{kind} {params}");
        }
    }

    #[test]
    fn chat_input_trims_optional_ids() {
        let chat =
            ChatInput { message: " hi ".into(), conversation_id: Some(" ".into()), project_id: Some(" p ".into()) }
                .validate()
                .expect("valid");
        assert_eq!((chat.message.as_str(), chat.conversation_id, chat.project_id.as_deref()), ("hi", None, Some("p")));
        assert!(ChatInput { message: "".into(), conversation_id: None, project_id: None }.validate().is_err());
    }
}
