//! Labels: per-project names with a colour, attached to tasks.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::id::ProjectId;
use super::validate::{self, DomainError};

pub const NAME_MAX: usize = 50;
pub const DEFAULT_COLOR: &str = "#6b7280";

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Label {
    pub id: String,
    #[schema(value_type = String)]
    pub project_id: ProjectId,
    pub name: String,
    /// `#rrggbb`
    pub color: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewLabelInput {
    pub project_id: String,
    pub name: String,
    /// `#rrggbb`; grey when left out.
    #[serde(default)]
    pub color: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewLabel {
    pub project_id: ProjectId,
    pub name: String,
    pub color: String,
}

impl NewLabelInput {
    pub fn validate(self) -> Result<NewLabel, DomainError> {
        Ok(NewLabel {
            project_id: validate::required_text("project_id", &self.project_id, 64)?.into(),
            name: validate::required_line("name", &self.name, NAME_MAX)?,
            color: match self.color {
                None => DEFAULT_COLOR.to_string(),
                Some(c) => color(&c)?,
            },
        })
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LabelPatchInput {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct LabelPatch {
    pub name: Option<String>,
    pub color: Option<String>,
}

impl LabelPatchInput {
    pub fn validate(self) -> Result<LabelPatch, DomainError> {
        Ok(LabelPatch {
            name: self.name.map(|n| validate::required_line("name", &n, NAME_MAX)).transpose()?,
            color: self.color.map(|c| color(&c)).transpose()?,
        })
    }
}

/// A colour as `#rrggbb`, stored lower-case.
fn color(value: &str) -> Result<String, DomainError> {
    let hex = value.strip_prefix('#').unwrap_or("");
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DomainError::invalid("color", "must be a colour written #rrggbb"));
    }
    Ok(value.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_checked() {
        assert_eq!(color("#A0b1C2").as_deref(), Ok("#a0b1c2"));
        assert!(color("red").is_err());
        assert!(color("#12345").is_err());
        assert!(color("#12345g").is_err());
    }
}
