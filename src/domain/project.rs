//! Projects: a named body of work with a status and an optional deadline.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::id::ProjectId;
use super::validate::{self, DomainError};

pub const NAME_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    #[default]
    Active,
    Completed,
    OnHold,
}

impl ProjectStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectStatus::Active => "active",
            ProjectStatus::Completed => "completed",
            ProjectStatus::OnHold => "on_hold",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "completed" => Some(Self::Completed),
            "on_hold" => Some(Self::OnHold),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Project {
    #[schema(value_type = String)]
    pub id: ProjectId,
    pub name: String,
    pub description: String,
    pub status: ProjectStatus,
    /// `YYYY-MM-DD`
    #[schema(value_type = Option<String>, format = Date)]
    pub deadline: Option<NaiveDate>,
    /// The coordinator sends reminders about overdue and stale tasks by itself instead of
    /// proposing them for approval.
    pub auto_follow_ups: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Body of a project creation.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewProjectInput {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Option<ProjectStatus>,
    /// `YYYY-MM-DD`
    #[serde(default)]
    pub deadline: Option<String>,
    /// Send reminders about overdue and stale tasks without asking first (default false).
    #[serde(default)]
    pub auto_follow_ups: Option<bool>,
}

/// A validated project creation.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub name: String,
    pub description: String,
    pub status: ProjectStatus,
    pub deadline: Option<NaiveDate>,
    pub auto_follow_ups: bool,
}

impl NewProjectInput {
    pub fn validate(self) -> Result<NewProject, DomainError> {
        Ok(NewProject {
            name: validate::required_line("name", &self.name, NAME_MAX)?,
            description: validate::free_text(
                "description",
                self.description.as_deref().unwrap_or(""),
                DESCRIPTION_MAX,
            )?,
            status: self.status.unwrap_or_default(),
            deadline: validate::optional_date("deadline", self.deadline.as_deref())?,
            auto_follow_ups: self.auto_follow_ups.unwrap_or(false),
        })
    }
}

/// Body of a partial project update: absent fields stay, `null` clears the deadline.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProjectPatchInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Option<ProjectStatus>,
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub deadline: Option<Option<String>>,
    #[serde(default)]
    pub auto_follow_ups: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: Option<ProjectStatus>,
    pub deadline: Option<Option<NaiveDate>>,
    pub auto_follow_ups: Option<bool>,
}

impl ProjectPatchInput {
    pub fn validate(self) -> Result<ProjectPatch, DomainError> {
        Ok(ProjectPatch {
            name: self.name.map(|n| validate::required_line("name", &n, NAME_MAX)).transpose()?,
            description: self
                .description
                .map(|d| validate::free_text("description", &d, DESCRIPTION_MAX))
                .transpose()?,
            status: self.status,
            deadline: self.deadline.map(|d| validate::optional_date("deadline", d.as_deref())).transpose()?,
            auto_follow_ups: self.auto_follow_ups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_needs_a_name() {
        let input: NewProjectInput = serde_json::from_str(r#"{"name": "  "}"#).expect("json");
        assert!(input.validate().is_err());
    }

    #[test]
    fn patch_tells_null_from_absent() {
        let clear: ProjectPatchInput = serde_json::from_str(r#"{"deadline": null}"#).expect("json");
        assert_eq!(clear.validate().expect("valid").deadline, Some(None));
        let keep: ProjectPatchInput = serde_json::from_str(r#"{}"#).expect("json");
        assert_eq!(keep.validate().expect("valid").deadline, None);
    }
}
