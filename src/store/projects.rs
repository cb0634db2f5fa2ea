//! Projects.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Result, Store, StoreError, parse_enum, read, write};
use crate::domain::id::{ProjectId, TenantId};
use crate::domain::list::Page;
use crate::domain::notify;
use crate::domain::project::{DuplicateBands, IntakeMode, NewProject, Project, ProjectPatch, ProjectStatus};

#[derive(sqlx::FromRow)]
struct ProjectRow {
    id: ProjectId,
    name: String,
    description: String,
    status: String,
    deadline: Option<NaiveDate>,
    auto_follow_ups: bool,
    duplicate_merge_at: Option<f64>,
    duplicate_suggest_at: Option<f64>,
    intake_mode: String,
    notify_requester_on: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TryFrom<ProjectRow> for Project {
    type Error = StoreError;

    fn try_from(r: ProjectRow) -> Result<Self> {
        Ok(Project {
            status: parse_enum("projects.status", &r.status, ProjectStatus::parse)?,
            id: r.id,
            name: r.name,
            description: r.description,
            deadline: r.deadline,
            auto_follow_ups: r.auto_follow_ups,
            duplicate_bands: bands(r.duplicate_merge_at, r.duplicate_suggest_at),
            intake_mode: parse_enum("projects.intake_mode", &r.intake_mode, IntakeMode::parse)?,
            notify_requester_on: notify::decode(&r.notify_requester_on),
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

/// A project's own duplicate bands, stored as two columns set together.
pub(crate) fn bands(merge_at: Option<f64>, suggest_at: Option<f64>) -> Option<DuplicateBands> {
    Some(DuplicateBands { merge_at: merge_at?, suggest_at: suggest_at? })
}

const COLUMNS: &str = "id, name, description, status, deadline, auto_follow_ups, duplicate_merge_at, \
                       duplicate_suggest_at, intake_mode, notify_requester_on, created_at, updated_at";

impl Store {
    pub async fn create_project(&self, tenant_id: &TenantId, new: &NewProject) -> Result<Project> {
        let now = super::now();
        let project = Project {
            id: ProjectId::generate(),
            name: new.name.clone(),
            description: new.description.clone(),
            status: new.status,
            deadline: new.deadline,
            auto_follow_ups: new.auto_follow_ups,
            duplicate_bands: new.duplicate_bands,
            intake_mode: new.intake_mode,
            notify_requester_on: new.notify_requester_on.clone(),
            created_at: now,
            updated_at: now,
        };
        write!(self, |pool| {
            crate::store::query(
                "INSERT INTO projects (id, tenant_id, name, description, status, deadline, auto_follow_ups,
                                       duplicate_merge_at, duplicate_suggest_at, intake_mode, notify_requester_on,
                                       created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(&project.id)
            .bind(tenant_id)
            .bind(&project.name)
            .bind(&project.description)
            .bind(project.status.as_str())
            .bind(project.deadline)
            .bind(project.auto_follow_ups)
            .bind(project.duplicate_bands.map(|b| b.merge_at))
            .bind(project.duplicate_bands.map(|b| b.suggest_at))
            .bind(project.intake_mode.as_str())
            .bind(notify::encode(&project.notify_requester_on))
            .bind(now)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(project)
    }

    pub async fn get_project(&self, tenant_id: &TenantId, id: &ProjectId) -> Result<Project> {
        let sql = format!("SELECT {COLUMNS} FROM projects WHERE id = $1 AND tenant_id = $2");
        let row: Option<ProjectRow> =
            read!(self, |pool| crate::store::query_as(&sql).bind(id).bind(tenant_id).fetch_optional(pool).await?);
        row.ok_or(StoreError::NotFound)?.try_into()
    }

    /// One page more than asked for is fetched, so the caller knows whether more follow.
    /// The tenant's project with the id `wanted` or, failing that, the name.
    pub async fn find_project(&self, tenant_id: &TenantId, wanted: &str) -> Result<Project> {
        if let Ok(project) = self.get_project(tenant_id, &wanted.to_string().into()).await {
            return Ok(project);
        }
        let projects = self.list_projects(tenant_id, &Page::first(1000)).await?;
        projects.into_iter().find(|p| p.name == wanted).ok_or(StoreError::NotFound)
    }

    pub async fn list_projects(&self, tenant_id: &TenantId, page: &Page) -> Result<Vec<Project>> {
        let after = page.after.as_ref().map(|c| c.id.as_str()).unwrap_or("");
        let sql = format!("SELECT {COLUMNS} FROM projects WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3");
        let rows: Vec<ProjectRow> = read!(self, |pool| {
            crate::store::query_as(&sql)
                .bind(tenant_id)
                .bind(after)
                .bind(i64::from(page.limit) + 1)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(Project::try_from).collect()
    }

    pub async fn update_project(&self, tenant_id: &TenantId, id: &ProjectId, patch: &ProjectPatch) -> Result<Project> {
        let now = super::now();
        let affected = write!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new("UPDATE projects SET updated_at = ");
            q.push_bind(now);
            if let Some(name) = &patch.name {
                q.push(", name = ").push_bind(name);
            }
            if let Some(description) = &patch.description {
                q.push(", description = ").push_bind(description);
            }
            if let Some(status) = patch.status {
                q.push(", status = ").push_bind(status.as_str());
            }
            if let Some(deadline) = patch.deadline {
                q.push(", deadline = ").push_bind(deadline);
            }
            if let Some(auto) = patch.auto_follow_ups {
                q.push(", auto_follow_ups = ").push_bind(auto);
            }
            if let Some(bands) = patch.duplicate_bands {
                q.push(", duplicate_merge_at = ").push_bind(bands.map(|b| b.merge_at));
                q.push(", duplicate_suggest_at = ").push_bind(bands.map(|b| b.suggest_at));
            }
            if let Some(mode) = patch.intake_mode {
                q.push(", intake_mode = ").push_bind(mode.as_str());
            }
            if let Some(events) = &patch.notify_requester_on {
                q.push(", notify_requester_on = ").push_bind(notify::encode(events));
            }
            q.push(" WHERE id = ").push_bind(id).push(" AND tenant_id = ").push_bind(tenant_id);
            q.build().execute(pool).await?.rows_affected()
        });
        if affected == 0 {
            return Err(StoreError::NotFound);
        }
        self.get_project(tenant_id, id).await
    }

    /// Deletes the project with its tasks, labels, comments and integrations (whose webhooks
    /// every instance stops accepting at once).
    pub async fn delete_project(&self, tenant_id: &TenantId, id: &ProjectId) -> Result<()> {
        let deleted = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let deleted = crate::store::query("DELETE FROM projects WHERE id = $1 AND tenant_id = $2")
                .bind(id)
                .bind(tenant_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted == 1 {
                super::heard_cache::tell!(self, &mut *tx, super::integration_cache::CHANNEL, id.as_str());
            }
            tx.commit().await?;
            deleted
        });
        self.webhook_integrations.forget(id.as_str());
        if deleted == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}
