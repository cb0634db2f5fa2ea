//! Comments on tasks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::id::TaskId;
use super::validate::{self, DomainError};

pub const CONTENT_MAX: usize = 20_000;
pub const AUTHOR_MAX: usize = 200;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Comment {
    pub id: String,
    #[schema(value_type = String)]
    pub task_id: TaskId,
    pub content: String,
    pub author: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCommentInput {
    pub task_id: String,
    pub content: String,
    #[serde(default)]
    pub author: Option<String>,
}

/// Body of `POST /api/v1/comments`: a comment, which may be written for the requesters.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateCommentInput {
    #[serde(flatten)]
    pub comment: NewCommentInput,
    /// Written for the people who asked for the task in a conversation: sent to each
    /// request's thread (when the project tells `comment`s, as it does by default).
    /// Default false.
    #[serde(default)]
    pub notify_requester: Option<bool>,
}

impl CreateCommentInput {
    pub fn validate(self) -> Result<NewComment, DomainError> {
        Ok(NewComment { notify_requester: self.notify_requester.unwrap_or(false), ..self.comment.validate()? })
    }
}

#[derive(Debug, Clone)]
pub struct NewComment {
    pub task_id: TaskId,
    pub content: String,
    pub author: Option<String>,
    /// Told to the task's requesters in their threads.
    pub notify_requester: bool,
}

impl NewCommentInput {
    pub fn validate(self) -> Result<NewComment, DomainError> {
        Ok(NewComment {
            task_id: validate::required_text("task_id", &self.task_id, 64)?.into(),
            content: validate::required_text("content", &self.content, CONTENT_MAX)?,
            author: validate::optional_name("author", self.author.as_deref(), AUTHOR_MAX)?,
            notify_requester: false,
        })
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CommentPatchInput {
    #[serde(default)]
    pub content: Option<String>,
}

impl CommentPatchInput {
    /// The new content, if any.
    pub fn validate(self) -> Result<Option<String>, DomainError> {
        self.content.map(|c| validate::required_text("content", &c, CONTENT_MAX)).transpose()
    }
}
