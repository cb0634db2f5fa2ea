//! Teams, as the replaced Teams service created them alongside a task.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::validate::{self, DomainError};

/// Channels every new team starts with.
pub const DEFAULT_CHANNELS: [&str; 3] = ["General", "Tasks", "Updates"];

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub description: String,
    pub channels: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewTeam {
    pub name: String,
    pub description: String,
}

impl NewTeam {
    pub fn validate(name: &str, description: Option<&str>) -> Result<Self, DomainError> {
        Ok(NewTeam {
            name: validate::required_line("team_name", name, 200)?,
            description: validate::free_text("team_description", description.unwrap_or(""), 5000)?,
        })
    }
}
