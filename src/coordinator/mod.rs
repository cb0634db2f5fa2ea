//! The AI coordinator: looks across projects and tasks for what is stuck. Findings come
//! from the data (see `analysis`); nothing here acts on its own.

pub mod actions;
pub mod analysis;
mod answer;
mod chat;
mod commands;
pub mod follow_up;
mod model;
mod question;
mod retrieve;
pub mod route;
mod tools;

use std::sync::Arc;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::id::{ProjectId, TenantId};
use crate::domain::list::Page;
use crate::llm::WithFallback;
use crate::store::{Store, StoreError};
pub use analysis::{Finding, Kind};
pub use chat::ChatAnswer;

/// Chat and actions, over the workspace in `store`, with `llm` where a model helps.
pub struct Coordinator {
    store: Store,
    llm: Arc<WithFallback>,
}

#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    /// Names what is missing: `conversation`, `project`, `action`.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A conflict (an action decided already) or the store's own failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CoordinatorError {
    /// Maps a store's `NotFound` to the missing `what`.
    fn or_missing(what: &'static str) -> impl Fn(StoreError) -> CoordinatorError {
        move |e| match e {
            StoreError::NotFound => CoordinatorError::NotFound(what),
            other => other.into(),
        }
    }
}

impl Coordinator {
    pub fn new(store: Store, llm: Arc<WithFallback>) -> Arc<Self> {
        Arc::new(Coordinator { store, llm })
    }
}

/// The most open tasks one analysis reads.
pub const MAX_TASKS: i64 = 5000;

#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct Analysis {
    /// Kept: the suggestions list follows the latest one.
    pub id: String,
    pub summary: String,
    pub findings: Vec<Finding>,
    /// Open tasks looked at.
    pub tasks_analyzed: usize,
    /// More open tasks exist than one analysis reads (`MAX_TASKS`).
    pub truncated: bool,
    pub generated_at: chrono::DateTime<chrono::Utc>,
}

impl Coordinator {
    /// Analyses the tenant's workspace, or one project of it; a language model, when one
    /// is configured, writes the summary.
    pub async fn analyze(&self, tenant_id: &TenantId, project_id: Option<&ProjectId>) -> Result<Analysis, StoreError> {
        let store = &self.store;
        let projects = match project_id {
            Some(id) => vec![store.get_project(tenant_id, id).await?],
            None => all_projects(store, tenant_id).await?,
        };
        let mut tasks = store.open_tasks(tenant_id, project_id, MAX_TASKS + 1).await?;
        let truncated = tasks.len() as i64 > MAX_TASKS;
        tasks.truncate(MAX_TASKS as usize);
        let now = chrono::Utc::now();
        let findings = analysis::analyze(&tasks, &projects, now);
        let written = self.summarize(&findings, tasks.len()).await;
        let mut result = Analysis {
            id: String::new(),
            summary: written.unwrap_or_else(|| analysis::plain_summary(&findings, tasks.len())),
            findings,
            tasks_analyzed: tasks.len(),
            truncated,
            generated_at: now,
        };
        let value = serde_json::to_value(&result).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        result.id = store.save_analysis(tenant_id, project_id, &value).await?;
        Ok(result)
    }

    /// The follow-ups of the latest analysis (of the project, or of the whole workspace); an
    /// analysis is made first when there is none yet.
    pub async fn suggestions(
        &self,
        tenant_id: &TenantId,
        project_id: Option<&ProjectId>,
    ) -> Result<Suggestions, StoreError> {
        let store = &self.store;
        if let Some(project) = project_id {
            store.get_project(tenant_id, project).await?;
        }
        let latest = match store.latest_analysis(tenant_id, project_id).await? {
            Some(kept) => kept_analysis(kept)?,
            None => self.analyze(tenant_id, project_id).await?,
        };
        Ok(suggest(latest))
    }

    /// A kept analysis of the tenant, as it was made, and the project it was of (none for
    /// the whole workspace); `NotFound` for another tenant's.
    pub async fn analysis(&self, tenant_id: &TenantId, id: &str) -> Result<(Analysis, Option<ProjectId>), StoreError> {
        let kept = self.store.get_analysis(tenant_id, id).await?;
        let project_id = kept.project_id.clone();
        Ok((kept_analysis(kept)?, project_id))
    }
}

/// An analysis read back from what was kept of it.
fn kept_analysis(kept: crate::store::coordinator::StoredAnalysis) -> Result<Analysis, StoreError> {
    serde_json::from_value::<Analysis>(kept.result)
        .map(|mut a| {
            a.id = kept.id;
            a
        })
        .map_err(|e| StoreError::Corrupt(format!("ai_analyses.result: {e}")))
}

/// A follow-up the latest analysis proposes; nothing is sent or changed by listing it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Suggestion {
    /// `remind` (ask the assignee), `assign`, `rebalance`, `replan` or `re_estimate`.
    pub action: &'static str,
    pub finding_kind: Kind,
    pub task_ids: Vec<String>,
    pub assignee: Option<String>,
    #[schema(value_type = Option<String>)]
    pub project_id: Option<ProjectId>,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Suggestions {
    pub analysis_id: String,
    pub generated_at: chrono::DateTime<chrono::Utc>,
    pub suggestions: Vec<Suggestion>,
}

/// The follow-ups an analysis proposes.
fn suggest(latest: Analysis) -> Suggestions {
    let suggestions = latest
        .findings
        .into_iter()
        .map(|f| {
            let action = match f.kind {
                Kind::Overdue | Kind::Stale => "remind",
                Kind::UnassignedHighPriority => "assign",
                Kind::Overloaded => "rebalance",
                Kind::ProjectAtRisk => "replan",
                Kind::OverEstimate => "re_estimate",
            };
            let message = match (&f.assignee, action) {
                (Some(who), "remind") => format!("@{who}: {}", f.recommendation),
                _ => f.recommendation.clone(),
            };
            Suggestion {
                action,
                finding_kind: f.kind,
                task_ids: f.task_ids,
                assignee: f.assignee,
                project_id: f.project_id,
                message,
            }
        })
        .collect();
    Suggestions { analysis_id: latest.id, generated_at: latest.generated_at, suggestions }
}

async fn all_projects(store: &Store, tenant_id: &TenantId) -> Result<Vec<crate::domain::project::Project>, StoreError> {
    let mut all = Vec::new();
    let mut page = Page::first(200);
    loop {
        let mut batch = store.list_projects(tenant_id, &page).await?;
        let more = batch.len() > 200;
        batch.truncate(200);
        let last = batch.last().map(|p| p.id.to_string());
        all.extend(batch);
        match (more, last) {
            (true, Some(id)) => {
                page.after = Some(crate::domain::list::Cursor {
                    sort: "id".into(),
                    key: crate::domain::list::SortValue::None,
                    id,
                });
            }
            _ => return Ok(all),
        }
    }
}
