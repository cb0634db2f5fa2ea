//! Tasks: the unit of tracked work.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::id::{ProjectId, TaskId};
use super::label;
use super::validate::{self, DomainError};

pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 50_000;
pub const ASSIGNEE_MAX: usize = 200;
pub const LABELS_MAX: usize = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    #[default]
    Todo,
    InProgress,
    Done,
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Todo => "todo",
            TaskStatus::InProgress => "in_progress",
            TaskStatus::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "todo" => Some(Self::Todo),
            "in_progress" => Some(Self::InProgress),
            "done" => Some(Self::Done),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Medium,
    High,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Task {
    #[schema(value_type = String)]
    pub id: TaskId,
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub priority: Priority,
    pub assigned_to: Option<String>,
    /// Estimated work in minutes.
    pub time_estimate: Option<i64>,
    /// Work spent so far in minutes.
    pub time_spent: i64,
    /// `YYYY-MM-DD`
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Option<NaiveDate>,
    /// Label names, sorted.
    pub labels: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Body of a task creation.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewTaskInput {
    pub project_id: String,
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Option<TaskStatus>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default)]
    pub assigned_to: Option<String>,
    #[serde(default)]
    pub time_estimate: Option<i64>,
    #[serde(default)]
    pub time_spent: Option<i64>,
    /// `YYYY-MM-DD`
    #[serde(default)]
    pub due_date: Option<String>,
    /// Label names; labels that do not exist in the project yet are created.
    #[serde(default)]
    pub labels: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct NewTask {
    pub project_id: ProjectId,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub priority: Priority,
    pub assigned_to: Option<String>,
    pub time_estimate: Option<i64>,
    pub time_spent: i64,
    pub due_date: Option<NaiveDate>,
    pub labels: Vec<String>,
}

impl NewTaskInput {
    pub fn validate(self) -> Result<NewTask, DomainError> {
        Ok(NewTask {
            project_id: validate::required_text("project_id", &self.project_id, 64)?.into(),
            title: validate::required_line("title", &self.title, TITLE_MAX)?,
            description: validate::free_text(
                "description",
                self.description.as_deref().unwrap_or(""),
                DESCRIPTION_MAX,
            )?,
            status: self.status.unwrap_or_default(),
            priority: self.priority.unwrap_or_default(),
            assigned_to: validate::optional_name("assigned_to", self.assigned_to.as_deref(), ASSIGNEE_MAX)?,
            time_estimate: self.time_estimate.map(|m| validate::minutes("time_estimate", m)).transpose()?,
            time_spent: validate::minutes("time_spent", self.time_spent.unwrap_or(0))?,
            due_date: validate::optional_date("due_date", self.due_date.as_deref())?,
            labels: label_names(self.labels.unwrap_or_default())?,
        })
    }
}

/// Body of a partial task update: absent fields stay; `null` clears the optional ones.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TaskPatchInput {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Option<TaskStatus>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub assigned_to: Option<Option<String>>,
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<i64>)]
    pub time_estimate: Option<Option<i64>>,
    #[serde(default)]
    pub time_spent: Option<i64>,
    /// `YYYY-MM-DD`, or `null` to clear.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub due_date: Option<Option<String>>,
    /// Replaces the task's labels.
    #[serde(default)]
    pub labels: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct TaskPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub status: Option<TaskStatus>,
    pub priority: Option<Priority>,
    pub assigned_to: Option<Option<String>>,
    pub time_estimate: Option<Option<i64>>,
    pub time_spent: Option<i64>,
    pub due_date: Option<Option<NaiveDate>>,
    pub labels: Option<Vec<String>>,
}

impl TaskPatch {
    pub fn status(status: TaskStatus) -> Self {
        TaskPatch { status: Some(status), ..TaskPatch::default() }
    }
}

impl TaskPatchInput {
    pub fn validate(self) -> Result<TaskPatch, DomainError> {
        Ok(TaskPatch {
            title: self.title.map(|t| validate::required_line("title", &t, TITLE_MAX)).transpose()?,
            description: self
                .description
                .map(|d| validate::free_text("description", &d, DESCRIPTION_MAX))
                .transpose()?,
            status: self.status,
            priority: self.priority,
            assigned_to: self
                .assigned_to
                .map(|a| validate::optional_name("assigned_to", a.as_deref(), ASSIGNEE_MAX))
                .transpose()?,
            time_estimate: self
                .time_estimate
                .map(|m| m.map(|m| validate::minutes("time_estimate", m)).transpose())
                .transpose()?,
            time_spent: self.time_spent.map(|m| validate::minutes("time_spent", m)).transpose()?,
            due_date: self.due_date.map(|d| validate::optional_date("due_date", d.as_deref())).transpose()?,
            labels: self.labels.map(label_names).transpose()?,
        })
    }
}

/// Body of `PATCH /tasks/{id}/status`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusInput {
    pub status: TaskStatus,
}

/// Validates label names and removes repeats, keeping a stable order.
fn label_names(names: Vec<String>) -> Result<Vec<String>, DomainError> {
    if names.len() > LABELS_MAX {
        return Err(DomainError::invalid("labels", format!("at most {LABELS_MAX} labels per task")));
    }
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        let name = validate::required_line("labels", &name, label::NAME_MAX)?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// A task in `status`, assigned to `assigned_to`, last changed at `updated_at`: what the rules
/// about tasks (mirroring, polling, telling requesters) are tested against.
#[cfg(test)]
pub(crate) fn fixture(
    status: TaskStatus,
    assigned_to: Option<&str>,
    updated_at: chrono::DateTime<chrono::Utc>,
) -> Task {
    Task {
        id: "t".into(),
        project_id: "p".into(),
        title: "Task".into(),
        description: String::new(),
        status,
        priority: Priority::Medium,
        assigned_to: assigned_to.map(str::to_string),
        time_estimate: None,
        time_spent: 0,
        due_date: None,
        labels: Vec::new(),
        created_at: updated_at,
        updated_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> Result<NewTask, DomainError> {
        serde_json::from_str::<NewTaskInput>(json).expect("json").validate()
    }

    #[test]
    fn defaults_fill_what_is_left_out() {
        let task = input(r#"{"project_id": "p", "title": "Ship it"}"#).expect("valid");
        assert_eq!(task.status, TaskStatus::Todo);
        assert_eq!(task.priority, Priority::Medium);
        assert_eq!(task.time_spent, 0);
        assert!(task.labels.is_empty());
    }

    #[test]
    fn bad_fields_are_named() {
        let err = input(r#"{"project_id": "p", "title": "x", "due_date": "tomorrow"}"#).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { field: "due_date", .. }));
        let err = input(r#"{"project_id": "p", "title": "x", "time_spent": -5}"#).unwrap_err();
        assert!(matches!(err, DomainError::Invalid { field: "time_spent", .. }));
        let long = format!(r#"{{"project_id": "p", "title": "{}"}}"#, "t".repeat(TITLE_MAX + 1));
        assert!(matches!(input(&long).unwrap_err(), DomainError::Invalid { field: "title", .. }));
    }

    #[test]
    fn labels_are_deduplicated_and_sorted() {
        let task = input(r#"{"project_id": "p", "title": "x", "labels": ["ui", " bug", "ui"]}"#).expect("valid");
        assert_eq!(task.labels, vec!["bug", "ui"]);
    }

    #[test]
    fn enum_values_round_trip() {
        for s in [TaskStatus::Todo, TaskStatus::InProgress, TaskStatus::Done] {
            assert_eq!(TaskStatus::parse(s.as_str()), Some(s));
        }
        for p in [Priority::Low, Priority::Medium, Priority::High] {
            assert_eq!(Priority::parse(p.as_str()), Some(p));
        }
    }
}
