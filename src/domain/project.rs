//! Projects: a named body of work with a status and an optional deadline.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::id::ProjectId;
use super::notify::{self, RequesterEvent};
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

/// How a project's requests become tasks: by themselves (`auto`, the default), or each one
/// waits as `needs_triage` until a person accepts, merges or declines it (`triage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum IntakeMode {
    #[default]
    Auto,
    Triage,
}

impl IntakeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            IntakeMode::Auto => "auto",
            IntakeMode::Triage => "triage",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "auto" => Some(Self::Auto),
            "triage" => Some(Self::Triage),
            _ => None,
        }
    }
}

/// Where a project's duplicate decisions fall (scores run from 0 to 1): a request whose best
/// candidate scores `merge_at` or more, with no key detail that differs, is merged into it;
/// one scoring `suggest_at` or more becomes a new task that names its likely duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DuplicateBands {
    pub merge_at: f64,
    pub suggest_at: f64,
}

impl DuplicateBands {
    /// Both within 0–1, and suggesting from no higher than merging.
    pub fn validate(self) -> Result<Self, DomainError> {
        let within = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
        if !within(self.merge_at) || !within(self.suggest_at) {
            return Err(DomainError::invalid("duplicate_bands", "merge_at and suggest_at must be between 0 and 1"));
        }
        if self.suggest_at > self.merge_at {
            return Err(DomainError::invalid("duplicate_bands", "suggest_at must not be above merge_at"));
        }
        Ok(self)
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
    /// The project's own duplicate bands; the service's defaults when null.
    pub duplicate_bands: Option<DuplicateBands>,
    pub intake_mode: IntakeMode,
    /// Which changes of a task made from a conversation are told in the request's thread.
    pub notify_requester_on: Vec<RequesterEvent>,
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
    /// Where duplicates are merged and suggested; the service's defaults when left out.
    #[serde(default)]
    pub duplicate_bands: Option<DuplicateBands>,
    /// `auto` (default) or `triage`.
    #[serde(default)]
    pub intake_mode: Option<IntakeMode>,
    /// Which changes of a task made from a conversation are told in the request's thread:
    /// `done`, `deleted`, `due_date`, `assigned`, `comment` (comments marked
    /// `notify_requester`). Default `["done", "deleted", "comment"]`.
    #[serde(default)]
    #[schema(value_type = Option<Vec<RequesterEvent>>)]
    pub notify_requester_on: Option<Vec<String>>,
}

/// A validated project creation.
#[derive(Debug, Clone)]
pub struct NewProject {
    pub name: String,
    pub description: String,
    pub status: ProjectStatus,
    pub deadline: Option<NaiveDate>,
    pub auto_follow_ups: bool,
    pub duplicate_bands: Option<DuplicateBands>,
    pub intake_mode: IntakeMode,
    pub notify_requester_on: Vec<RequesterEvent>,
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
            duplicate_bands: self.duplicate_bands.map(DuplicateBands::validate).transpose()?,
            intake_mode: self.intake_mode.unwrap_or_default(),
            notify_requester_on: match &self.notify_requester_on {
                Some(names) => notify::parse_setting(names)?,
                None => notify::DEFAULT_EVENTS.to_vec(),
            },
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
    /// `null` goes back to the service's defaults.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<DuplicateBands>)]
    pub duplicate_bands: Option<Option<DuplicateBands>>,
    #[serde(default)]
    pub intake_mode: Option<IntakeMode>,
    /// Which changes are told in the request's thread (see project creation); `[]` tells none.
    #[serde(default)]
    #[schema(value_type = Option<Vec<RequesterEvent>>)]
    pub notify_requester_on: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct ProjectPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: Option<ProjectStatus>,
    pub deadline: Option<Option<NaiveDate>>,
    pub auto_follow_ups: Option<bool>,
    pub duplicate_bands: Option<Option<DuplicateBands>>,
    pub intake_mode: Option<IntakeMode>,
    pub notify_requester_on: Option<Vec<RequesterEvent>>,
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
            duplicate_bands: self.duplicate_bands.map(|b| b.map(DuplicateBands::validate).transpose()).transpose()?,
            intake_mode: self.intake_mode,
            notify_requester_on: self.notify_requester_on.as_deref().map(notify::parse_setting).transpose()?,
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
    fn duplicate_bands_are_ordered_within_zero_to_one() {
        let ok = DuplicateBands { merge_at: 0.7, suggest_at: 0.4 };
        assert_eq!(ok.validate().ok(), Some(ok));
        for (merge_at, suggest_at) in [(0.4, 0.7), (1.2, 0.4), (0.7, -0.1), (f64::NAN, 0.1)] {
            assert!(DuplicateBands { merge_at, suggest_at }.validate().is_err(), "{merge_at} {suggest_at}");
        }
    }

    #[test]
    fn patch_tells_null_from_absent() {
        let clear: ProjectPatchInput = serde_json::from_str(r#"{"deadline": null}"#).expect("json");
        assert_eq!(clear.validate().expect("valid").deadline, Some(None));
        let keep: ProjectPatchInput = serde_json::from_str(r#"{}"#).expect("json");
        assert_eq!(keep.validate().expect("valid").deadline, None);
    }
}
