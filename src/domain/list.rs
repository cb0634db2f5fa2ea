//! Listing: filters, sort orders and opaque keyset cursors, so pages stay stable while
//! rows are added or removed.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::id::ProjectId;
use super::task::{Priority, Task, TaskStatus};
use super::validate::{self, DomainError};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// The sort key of the last row of a page; the next page starts strictly after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SortValue {
    None,
    Text(String),
    Int(i64),
    Date(NaiveDate),
    Time(DateTime<Utc>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// The sort the cursor was made for: a cursor is refused under another sort.
    pub sort: String,
    pub key: SortValue,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(raw: &str, sort: &str) -> Result<Self, DomainError> {
        let invalid = || DomainError::invalid("cursor", "is not a cursor this list gave out");
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if cursor.sort != sort {
            return Err(DomainError::invalid("cursor", "was made for another sort order"));
        }
        Ok(cursor)
    }
}

/// The cursor after the last item of a page ordered by id.
pub fn id_cursor(id: &str) -> String {
    Cursor { sort: "id".into(), key: SortValue::None, id: id.to_string() }.encode()
}

/// A validated page request.
#[derive(Debug, Clone)]
pub struct Page {
    pub limit: u32,
    pub after: Option<Cursor>,
}

impl Page {
    pub fn first(limit: u32) -> Self {
        Page { limit, after: None }
    }
}

fn limit(raw: Option<u32>) -> Result<u32, DomainError> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(l) if (1..=MAX_LIMIT).contains(&l) => Ok(l),
        Some(_) => Err(DomainError::invalid("limit", format!("must be between 1 and {MAX_LIMIT}"))),
    }
}

/// Paging of lists ordered by creation (projects, comments, labels, keys).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn validate(&self) -> Result<Page, DomainError> {
        Ok(Page {
            limit: limit(self.limit)?,
            after: self.cursor.as_deref().map(|c| Cursor::decode(c, "id")).transpose()?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskSortField {
    CreatedAt,
    UpdatedAt,
    DueDate,
    Priority,
    Title,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskSort {
    pub field: TaskSortField,
    pub descending: bool,
}

impl TaskSort {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let (descending, name) = match raw.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let field = match name {
            "created_at" => TaskSortField::CreatedAt,
            "updated_at" => TaskSortField::UpdatedAt,
            "due_date" => TaskSortField::DueDate,
            "priority" => TaskSortField::Priority,
            "title" => TaskSortField::Title,
            _ => {
                return Err(DomainError::invalid(
                    "sort",
                    "must be one of created_at, updated_at, due_date, priority, title, optionally prefixed with -",
                ));
            }
        };
        Ok(TaskSort { field, descending })
    }

    pub fn name(&self) -> String {
        let field = match self.field {
            TaskSortField::CreatedAt => "created_at",
            TaskSortField::UpdatedAt => "updated_at",
            TaskSortField::DueDate => "due_date",
            TaskSortField::Priority => "priority",
            TaskSortField::Title => "title",
        };
        if self.descending { format!("-{field}") } else { field.to_string() }
    }

    /// The key of `task` under this sort, as the store compares it.
    pub fn key_of(&self, task: &Task) -> SortValue {
        match self.field {
            TaskSortField::CreatedAt => SortValue::None,
            TaskSortField::UpdatedAt => SortValue::Time(task.updated_at),
            TaskSortField::DueDate => SortValue::Date(task.due_date.unwrap_or_else(no_due_date)),
            TaskSortField::Priority => SortValue::Int(priority_rank(task.priority)),
            TaskSortField::Title => SortValue::Text(task.title.clone()),
        }
    }
}

/// Tasks without a due date sort after every dated one, under this stand-in date.
pub fn no_due_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX)
}

pub const NO_DUE_DATE: &str = "9999-12-31";

pub fn priority_rank(p: Priority) -> i64 {
    match p {
        Priority::Low => 0,
        Priority::Medium => 1,
        Priority::High => 2,
    }
}

/// Query string of a task list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskListParams {
    pub project_id: Option<String>,
    /// One status or several separated by commas.
    pub status: Option<String>,
    pub assigned_to: Option<String>,
    /// A label name.
    pub label: Option<String>,
    /// One priority or several separated by commas.
    pub priority: Option<String>,
    /// Tasks due on or before this date (`YYYY-MM-DD`).
    pub due_before: Option<String>,
    /// Text searched in title and description, case-insensitively.
    pub q: Option<String>,
    /// `created_at` (default), `updated_at`, `due_date`, `priority` or `title`; `-` in front for descending.
    pub sort: Option<String>,
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub project_id: Option<ProjectId>,
    pub statuses: Vec<TaskStatus>,
    pub assigned_to: Option<String>,
    pub label: Option<String>,
    pub priorities: Vec<Priority>,
    pub due_before: Option<NaiveDate>,
    pub text: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TaskQuery {
    pub filter: TaskFilter,
    pub sort: TaskSort,
    pub page: Page,
}

impl TaskListParams {
    pub fn validate(&self) -> Result<TaskQuery, DomainError> {
        let sort = TaskSort::parse(self.sort.as_deref().unwrap_or("created_at"))?;
        let filter = TaskFilter {
            project_id: non_blank(&self.project_id).map(Into::into),
            statuses: list_of("status", &self.status, TaskStatus::parse, "todo, in_progress, done")?,
            assigned_to: non_blank(&self.assigned_to),
            label: non_blank(&self.label),
            priorities: list_of("priority", &self.priority, Priority::parse, "low, medium, high")?,
            due_before: validate::optional_date("due_before", self.due_before.as_deref())?,
            text: non_blank(&self.q),
        };
        let after = self.cursor.as_deref().map(|c| Cursor::decode(c, &sort.name())).transpose()?;
        if let Some(cursor) = &after {
            let fits = matches!(
                (sort.field, &cursor.key),
                (TaskSortField::CreatedAt, SortValue::None)
                    | (TaskSortField::UpdatedAt, SortValue::Time(_))
                    | (TaskSortField::DueDate, SortValue::Date(_))
                    | (TaskSortField::Priority, SortValue::Int(_))
                    | (TaskSortField::Title, SortValue::Text(_))
            );
            if !fits {
                return Err(DomainError::invalid("cursor", "is not a cursor this list gave out"));
            }
        }
        let page = Page { limit: limit(self.limit)?, after };
        Ok(TaskQuery { filter, sort, page })
    }
}

fn non_blank(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

fn list_of<T>(
    field: &'static str,
    raw: &Option<String>,
    parse: fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<Vec<T>, DomainError> {
    let Some(raw) = raw.as_deref().filter(|s| !s.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(|part| {
            parse(part.trim())
                .ok_or_else(|| DomainError::invalid(field, format!("{:?} is not one of {allowed}", part.trim())))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_sort() {
        let c = Cursor { sort: "-title".into(), key: SortValue::Text("b".into()), id: "x".into() };
        let raw = c.encode();
        assert_eq!(Cursor::decode(&raw, "-title"), Ok(c));
        assert!(Cursor::decode(&raw, "title").is_err());
        assert!(Cursor::decode("not a cursor!", "title").is_err());
    }

    #[test]
    fn filters_parse_lists_and_refuse_unknown_values() {
        let params =
            TaskListParams { status: Some("todo, done".into()), priority: Some("high".into()), ..Default::default() };
        let q = params.validate().expect("valid");
        assert_eq!(q.filter.statuses, vec![TaskStatus::Todo, TaskStatus::Done]);
        assert_eq!(q.filter.priorities, vec![Priority::High]);
        let bad = TaskListParams { status: Some("closed".into()), ..Default::default() };
        assert!(bad.validate().is_err());
        let bad = TaskListParams { limit: Some(0), ..Default::default() };
        assert!(bad.validate().is_err());
        let bad = TaskListParams { sort: Some("colour".into()), ..Default::default() };
        assert!(bad.validate().is_err());
    }
}
