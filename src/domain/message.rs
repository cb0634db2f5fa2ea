//! Messages: requests that arrived from a conversation, and what intake made of them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::id::{IntegrationId, ProjectId, TaskId};
use super::task::Priority;
use super::validate::{self, DomainError};

pub const TEXT_MAX: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Queued,
    Processing,
    /// A new task was created: `task_id`.
    Created,
    /// The same work was already tracked: `task_id` is the existing task.
    Duplicate,
    /// A new task was created (`task_id`), though it may be the same work as one of its
    /// `candidates`: a person can merge it.
    PossibleDuplicate,
    Failed,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Processing => "processing",
            MessageStatus::Created => "created",
            MessageStatus::Duplicate => "duplicate",
            MessageStatus::PossibleDuplicate => "possible_duplicate",
            MessageStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(Self::Queued),
            "processing" => Some(Self::Processing),
            "created" => Some(Self::Created),
            "duplicate" => Some(Self::Duplicate),
            "possible_duplicate" => Some(Self::PossibleDuplicate),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            MessageStatus::Created
                | MessageStatus::Duplicate
                | MessageStatus::PossibleDuplicate
                | MessageStatus::Failed
        )
    }

    /// Whether the message made a task of its own.
    pub fn made_task(self) -> bool {
        matches!(self, MessageStatus::Created | MessageStatus::PossibleDuplicate)
    }
}

/// The task a language model wrote from a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskDraft {
    pub title: String,
    pub description: String,
    pub priority: Priority,
    /// `YYYY-MM-DD`
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Option<NaiveDate>,
    pub labels: Vec<String>,
    pub assigned_to: Option<String>,
}

/// An existing task that may describe the same work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Candidate {
    #[schema(value_type = String)]
    pub task_id: TaskId,
    pub title: String,
    pub score: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    pub id: String,
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    pub text: String,
    pub author: Option<String>,
    pub source: String,
    pub channel: Option<String>,
    pub thread_ref: Option<String>,
    /// The integration it came through, if it came through a webhook.
    #[schema(value_type = Option<String>)]
    pub integration_id: Option<IntegrationId>,
    pub received_at: DateTime<Utc>,
    pub status: MessageStatus,
    /// The created task, or the existing one for a duplicate.
    #[schema(value_type = Option<String>)]
    pub task_id: Option<TaskId>,
    /// Similarity of the best candidate.
    pub score: Option<f64>,
    pub error: Option<String>,
    pub draft: Option<TaskDraft>,
    pub candidates: Vec<Candidate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewMessageInput {
    pub text: String,
    pub project_id: String,
    #[serde(default)]
    pub author: Option<String>,
    /// Where it came from: `api` (default), `slack`, `teams`, `email`, …
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    /// The platform's reference to the thread or message, for replies and links.
    #[serde(default)]
    pub thread_ref: Option<String>,
    /// When it was said (RFC 3339); now when left out. Due dates like "Friday" count from it.
    #[serde(default)]
    pub received_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub text: String,
    pub project_id: ProjectId,
    pub author: Option<String>,
    pub source: String,
    pub channel: Option<String>,
    pub thread_ref: Option<String>,
    pub received_at: Option<DateTime<Utc>>,
    /// Set for messages that arrived through a platform's webhook.
    pub origin: Option<Origin>,
}

/// Where a webhook message came from, and where its answer goes.
#[derive(Debug, Clone)]
pub struct Origin {
    pub integration_id: IntegrationId,
    /// The platform's id of the event; a redelivery with the same id is the same message.
    pub external_id: String,
    /// Platform-specific reply address (channel and thread, response URL, chat id, …).
    pub reply_to: serde_json::Value,
}

impl NewMessageInput {
    pub fn validate(self) -> Result<NewMessage, DomainError> {
        Ok(NewMessage {
            text: validate::required_text("text", &self.text, TEXT_MAX)?,
            project_id: validate::required_text("project_id", &self.project_id, 64)?.into(),
            author: validate::optional_name("author", self.author.as_deref(), 200)?,
            source: validate::optional_name("source", self.source.as_deref(), 50)?.unwrap_or_else(|| "api".into()),
            channel: validate::optional_name("channel", self.channel.as_deref(), 200)?,
            thread_ref: validate::optional_name("thread_ref", self.thread_ref.as_deref(), 500)?,
            received_at: self.received_at,
            origin: None,
        })
    }
}
