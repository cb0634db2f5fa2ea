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

#[derive(Debug, Clone)]
pub struct NewComment {
    pub task_id: TaskId,
    pub content: String,
    pub author: Option<String>,
}

impl NewCommentInput {
    pub fn validate(self) -> Result<NewComment, DomainError> {
        Ok(NewComment {
            task_id: validate::required_text("task_id", &self.task_id, 64)?.into(),
            content: validate::required_text("content", &self.content, CONTENT_MAX)?,
            author: validate::optional_name("author", self.author.as_deref(), AUTHOR_MAX)?,
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
