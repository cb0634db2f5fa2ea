//! Default projects, and teams linked to tasks.

use chrono::{DateTime, Utc};

use super::tasks::{add_labels, insert_task, new_task_view};
use super::{Result, Store, StoreError, read, write};
use crate::domain::id::{ProjectId, TaskId, TenantId};
use crate::domain::new_id;
use crate::domain::project::{NewProject, ProjectStatus};
use crate::domain::task::{NewTask, Task};
use crate::domain::team::{DEFAULT_CHANNELS, NewTeam, Team};

#[derive(sqlx::FromRow)]
struct TeamRow {
    id: String,
    name: String,
    description: String,
    channels: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<TeamRow> for Team {
    type Error = StoreError;

    fn try_from(r: TeamRow) -> Result<Self> {
        Ok(Team {
            channels: serde_json::from_str(&r.channels)
                .map_err(|e| StoreError::Corrupt(format!("teams.channels: {e}")))?,
            id: r.id,
            name: r.name,
            description: r.description,
            created_at: r.created_at,
        })
    }
}

impl Store {
    /// The tenant's default project ("Inbox"), created on first use. Concurrent first uses
    /// agree on one project.
    pub async fn default_project(&self, tenant_id: &TenantId) -> Result<ProjectId> {
        let current: Option<Option<ProjectId>> = read!(self, |pool| {
            crate::store::query_scalar("SELECT default_project_id FROM tenants WHERE id = $1")
                .bind(tenant_id)
                .fetch_optional(pool)
                .await?
        });
        match current {
            None => return Err(StoreError::NotFound),
            Some(Some(id)) => return Ok(id),
            Some(None) => {}
        }
        let inbox = NewProject {
            name: "Inbox".into(),
            description: "Requests that named no project.".into(),
            status: ProjectStatus::Active,
            deadline: None,
            auto_follow_ups: false,
            duplicate_bands: None,
            intake_mode: Default::default(),
            notify_requester_on: crate::domain::notify::DEFAULT_EVENTS.to_vec(),
        };
        let project = self.create_project(tenant_id, &inbox).await?;
        let claimed = write!(self, |pool| {
            crate::store::query(
                "UPDATE tenants SET default_project_id = $1 WHERE id = $2 AND default_project_id IS NULL",
            )
            .bind(&project.id)
            .bind(tenant_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if claimed == 1 {
            return Ok(project.id);
        }
        // Another request was first: use its project and drop ours.
        self.delete_project(tenant_id, &project.id).await?;
        let id: Option<ProjectId> = read!(self, |pool| {
            crate::store::query_scalar("SELECT default_project_id FROM tenants WHERE id = $1")
                .bind(tenant_id)
                .fetch_one(pool)
                .await?
        });
        id.ok_or(StoreError::NotFound)
    }

    /// Creates a task and a team (with the default channels) linked to it, atomically.
    /// The task takes id `task_id`; `follow_ups` are enqueued in the same transaction
    /// (pushes to trackers), and the task is announced when the project has webhooks, as
    /// every other created task is.
    pub async fn create_task_with_team(
        &self,
        tenant_id: &TenantId,
        task_id: &TaskId,
        task: &NewTask,
        team: &NewTeam,
        follow_ups: &[crate::domain::job::NewJob],
    ) -> Result<(Task, Team)> {
        let now = super::now();
        let team = Team {
            id: new_id(),
            name: team.name.clone(),
            description: team.description.clone(),
            channels: DEFAULT_CHANNELS.iter().map(|c| c.to_string()).collect(),
            created_at: now,
        };
        let channels = serde_json::to_string(&team.channels).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let created = new_task_view(task_id.clone(), task, now);
        let announcements = crate::domain::event::task_created(&created);
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            insert_task!(tx, tenant_id, task_id, task, now);
            crate::store::query(
                "INSERT INTO teams (id, tenant_id, name, description, channels, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&team.id)
            .bind(tenant_id)
            .bind(&team.name)
            .bind(&team.description)
            .bind(&channels)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            crate::store::query("INSERT INTO task_teams (task_id, team_id) VALUES ($1, $2)")
                .bind(task_id)
                .bind(&team.id)
                .execute(&mut *tx)
                .await?;
            for job in follow_ups {
                let _ = super::jobs::enqueue_job!(&mut *tx, tenant_id, job, now);
            }
            super::integrations::enqueue_if_subscribed!(tx, tenant_id, &task.project_id, &announcements, now);
            tx.commit().await?;
        });
        Ok((created, team))
    }

    /// The team linked to one of the tenant's tasks, found by the task's id or by a tracker's id
    /// of it.
    pub async fn team_by_task(&self, tenant_id: &TenantId, task_id: &TaskId) -> Result<Team> {
        let row: Option<TeamRow> = read!(self, |pool| {
            crate::store::query_as(
                // `$1` is the task's id or, as the replaced service knew it, its tracker
                // id (Taiga's); the task's own id wins when both match.
                "SELECT t.id, t.name, t.description, t.channels, t.created_at
                 FROM task_teams tt JOIN teams t ON t.id = tt.team_id
                 WHERE t.tenant_id = $2
                   AND (tt.task_id = $1
                        OR tt.task_id IN (SELECT l.task_id FROM task_links l
                                          WHERE l.tenant_id = $2 AND l.external_id = $1))
                 ORDER BY CASE WHEN tt.task_id = $1 THEN 0 ELSE 1 END, t.created_at
                 LIMIT 1",
            )
            .bind(task_id)
            .bind(tenant_id)
            .fetch_optional(pool)
            .await?
        });
        row.ok_or(StoreError::NotFound)?.try_into()
    }
}
