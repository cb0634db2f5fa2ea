//! The AI coordinator: looks across projects and tasks for what is stuck. Findings come
//! from the data (see `analysis`); nothing here acts on its own.

pub mod analysis;

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::list::Page;
use crate::store::{Store, StoreError};
pub use analysis::{Finding, Kind};

/// The most open tasks one analysis reads.
pub const MAX_TASKS: i64 = 5000;

#[derive(Debug, Serialize, ToSchema)]
pub struct Analysis {
    pub summary: String,
    pub findings: Vec<Finding>,
    /// Open tasks looked at.
    pub tasks_analyzed: usize,
    /// More open tasks exist than one analysis reads (`MAX_TASKS`).
    pub truncated: bool,
    pub generated_at: chrono::DateTime<chrono::Utc>,
}

/// Analyses the tenant's workspace, or one project of it.
pub async fn analyze(store: &Store, tenant_id: &str, project_id: Option<&str>) -> Result<Analysis, StoreError> {
    let projects = match project_id {
        Some(id) => vec![store.get_project(tenant_id, id).await?],
        None => all_projects(store, tenant_id).await?,
    };
    let mut tasks = store.open_tasks(tenant_id, project_id, MAX_TASKS + 1).await?;
    let truncated = tasks.len() as i64 > MAX_TASKS;
    tasks.truncate(MAX_TASKS as usize);
    let now = chrono::Utc::now();
    let findings = analysis::analyze(&tasks, &projects, now);
    Ok(Analysis {
        summary: analysis::plain_summary(&findings, tasks.len()),
        findings,
        tasks_analyzed: tasks.len(),
        truncated,
        generated_at: now,
    })
}

async fn all_projects(store: &Store, tenant_id: &str) -> Result<Vec<crate::domain::project::Project>, StoreError> {
    let mut all = Vec::new();
    let mut page = Page::first(200);
    loop {
        let mut batch = store.list_projects(tenant_id, &page).await?;
        let more = batch.len() > 200;
        batch.truncate(200);
        let last = batch.last().map(|p| p.id.clone());
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
