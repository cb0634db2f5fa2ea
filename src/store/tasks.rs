//! Tasks, their labels, and the filtered, keyset-paginated task list.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};

use super::{Result, Store, StoreError, parse_enum, read, write};
use crate::domain::id::{IntegrationId, ProjectId, TaskId, TenantId};
use crate::domain::job::NewJob;
use crate::domain::list::{SortValue, TaskQuery, TaskSortField};
use crate::domain::task::{NewTask, Priority, Task, TaskPatch, TaskStatus};

/// What duplicate search indexes of a task.
#[derive(Debug, sqlx::FromRow)]
pub struct IndexedTask {
    pub id: TaskId,
    pub title: String,
    pub description: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(super) struct TaskRow {
    id: TaskId,
    project_id: ProjectId,
    title: String,
    description: String,
    status: String,
    priority: String,
    assigned_to: Option<String>,
    time_estimate: Option<i64>,
    time_spent: i64,
    due_date: Option<NaiveDate>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl TaskRow {
    pub(super) fn into_task(self, labels: Vec<String>) -> Result<Task> {
        Ok(Task {
            status: parse_enum("tasks.status", &self.status, TaskStatus::parse)?,
            priority: parse_enum("tasks.priority", &self.priority, Priority::parse)?,
            id: self.id,
            project_id: self.project_id,
            title: self.title,
            description: self.description,
            assigned_to: self.assigned_to,
            time_estimate: self.time_estimate,
            time_spent: self.time_spent,
            due_date: self.due_date,
            labels,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

pub(super) const COLUMNS: &str = "t.id, t.project_id, t.title, t.description, t.status, t.priority, t.assigned_to, \
                       t.time_estimate, t.time_spent, t.due_date, t.created_at, t.updated_at";

const PRIORITY_RANK: &str = "CASE t.priority WHEN 'low' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END";
const DUE_DATE_KEY: &str = "COALESCE(t.due_date, '9999-12-31')";

/// Attaches labels to a task inside a transaction, creating missing labels in the task's
/// project (with the default colour).
macro_rules! add_labels {
    ($tx:expr, $tenant_id:expr, $project_id:expr, $task_id:expr, $names:expr, $now:expr) => {{
        for name in $names {
            crate::store::query(
                "INSERT INTO labels (id, tenant_id, project_id, name, color, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (project_id, name) DO NOTHING",
            )
            .bind(crate::domain::new_id())
            .bind($tenant_id)
            .bind($project_id)
            .bind(name)
            .bind(crate::domain::label::DEFAULT_COLOR)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
            crate::store::query(
                "INSERT INTO task_labels (task_id, label_id)
                 SELECT $1, id FROM labels WHERE project_id = $2 AND name = $3",
            )
            .bind($task_id)
            .bind($project_id)
            .bind(name)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

/// Inserts a task with its labels inside a transaction; `NotFound` (returned from the
/// enclosing function) when the project is not the tenant's.
/// The tenant's task `$id` with its labels, read inside transaction `$tx` (`None` when
/// there is none).
macro_rules! task_in_tx {
    ($tx:expr, $tenant_id:expr, $id:expr) => {
        task_in_tx!($tx, $tenant_id, $id, "")
    };
    // `$lock`: a suffix locking the row till the transaction ends (PostgreSQL's `FOR UPDATE`).
    ($tx:expr, $tenant_id:expr, $id:expr, $lock:expr) => {{
        let sql = format!(
            "SELECT {} FROM tasks t WHERE t.id = $1 AND t.tenant_id = $2{}",
            crate::store::tasks::COLUMNS,
            $lock
        );
        let row: Option<crate::store::tasks::TaskRow> =
            crate::store::query_as(&sql).bind($id).bind($tenant_id).fetch_optional(&mut *$tx).await?;
        match row {
            None => None,
            Some(row) => {
                let names: Vec<String> = crate::store::query_scalar(
                    "SELECT l.name FROM task_labels tl JOIN labels l ON l.id = tl.label_id WHERE tl.task_id = $1
                     ORDER BY l.name",
                )
                .bind($id)
                .fetch_all(&mut *$tx)
                .await?;
                Some(row.into_task(names)?)
            }
        }
    }};
}
pub(crate) use task_in_tx;

macro_rules! insert_task {
    ($tx:expr, $tenant_id:expr, $id:expr, $new:expr, $now:expr) => {{
        let new: &crate::domain::task::NewTask = $new;
        let inserted = crate::store::query(
            "INSERT INTO tasks (id, tenant_id, project_id, title, description, status, priority,
                                assigned_to, time_estimate, time_spent, due_date, created_at, updated_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
             WHERE EXISTS (SELECT 1 FROM projects WHERE id = $14 AND tenant_id = $15)",
        )
        .bind($id)
        .bind($tenant_id)
        .bind(&new.project_id)
        .bind(&new.title)
        .bind(&new.description)
        .bind(new.status.as_str())
        .bind(new.priority.as_str())
        .bind(&new.assigned_to)
        .bind(new.time_estimate)
        .bind(new.time_spent)
        .bind(new.due_date)
        .bind($now)
        .bind($now)
        .bind(&new.project_id)
        .bind($tenant_id)
        .execute(&mut *$tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(crate::store::StoreError::NotFound);
        }
        add_labels!($tx, $tenant_id, &new.project_id, $id, &new.labels, $now);
    }};
}
pub(crate) use {add_labels, insert_task};

/// What a freshly inserted task looks like, without reading it back.
pub(crate) fn new_task_view(id: TaskId, new: &NewTask, now: DateTime<Utc>) -> Task {
    Task {
        id,
        project_id: new.project_id.clone(),
        title: new.title.clone(),
        description: new.description.clone(),
        status: new.status,
        priority: new.priority,
        assigned_to: new.assigned_to.clone(),
        time_estimate: new.time_estimate,
        time_spent: new.time_spent,
        due_date: new.due_date,
        labels: new.labels.clone(),
        created_at: now,
        updated_at: now,
    }
}

/// What [`Store::update_task_syncing`] did.
#[derive(Debug)]
pub enum Updated {
    /// The task as the change left it.
    Task(Task),
    /// The task's tracker links are not those its jobs were made for: nothing was written.
    LinksChanged,
}

impl Store {
    /// Creates a task in one of the tenant's projects; `NotFound` when the project is not theirs.
    pub async fn create_task(&self, tenant_id: &TenantId, new: &NewTask) -> Result<Task> {
        self.create_task_syncing(tenant_id, &TaskId::generate(), new, &[]).await
    }

    /// Creates task `id` (a taken id fails) and, in the same transaction, enqueues `jobs`
    /// (pushing it to connected trackers) and announces it when the project has webhooks.
    pub async fn create_task_syncing(
        &self,
        tenant_id: &TenantId,
        id: &TaskId,
        new: &NewTask,
        jobs: &[NewJob],
    ) -> Result<Task> {
        let now = super::now();
        let task = new_task_view(id.clone(), new, now);
        let announcements = crate::domain::event::task_created(&task);
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            insert_task!(tx, tenant_id, &task.id, new, now);
            for job in jobs {
                let _ = super::jobs::enqueue_job!(&mut *tx, tenant_id, job, now);
            }
            super::integrations::enqueue_if_subscribed!(tx, tenant_id, &new.project_id, &announcements, now);
            tx.commit().await?;
        });
        Ok(task)
    }

    pub async fn get_task(&self, tenant_id: &TenantId, id: &TaskId) -> Result<Task> {
        let sql = format!("SELECT {COLUMNS} FROM tasks t WHERE t.id = $1 AND t.tenant_id = $2");
        let row: Option<TaskRow> =
            read!(self, |pool| crate::store::query_as(&sql).bind(id).bind(tenant_id).fetch_optional(pool).await?);
        let row = row.ok_or(StoreError::NotFound)?;
        let mut labels = self.labels_of(&[row.id.as_str()]).await?;
        let names = labels.remove(row.id.as_str()).unwrap_or_default();
        row.into_task(names)
    }

    /// The open (not done) tasks of the tenant, or of one project, at most `limit`, oldest
    /// first: what the coordinator analyses.
    pub async fn open_tasks(
        &self,
        tenant_id: &TenantId,
        project_id: Option<&ProjectId>,
        limit: i64,
    ) -> Result<Vec<Task>> {
        let rows: Vec<TaskRow> = read!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM tasks t WHERE t.tenant_id = "));
            q.push_bind(tenant_id).push(" AND t.status <> 'done'");
            if let Some(project_id) = project_id {
                q.push(" AND t.project_id = ").push_bind(project_id);
            }
            q.push(" ORDER BY t.created_at, t.id LIMIT ").push_bind(limit);
            q.build_query_as().fetch_all(pool).await?
        });
        self.with_labels(rows).await
    }

    /// The distinct assignees of the tenant's tasks, open or done, at most `limit`: the
    /// people a chat question can name.
    pub async fn assignees(&self, tenant_id: &TenantId, limit: i64) -> Result<Vec<String>> {
        let sql = "SELECT DISTINCT assigned_to FROM tasks WHERE tenant_id = $1 AND assigned_to IS NOT NULL \
                   ORDER BY assigned_to LIMIT $2";
        Ok(read!(self, |pool| crate::store::query_scalar(sql).bind(tenant_id).bind(limit).fetch_all(pool).await?))
    }

    /// The tenant's open tasks past their due date before `today`, or in progress and
    /// unchanged since `idle_since`, earliest due first, at most `limit`: what follow-ups
    /// look at.
    pub async fn tasks_to_follow_up(
        &self,
        tenant_id: &TenantId,
        today: chrono::NaiveDate,
        idle_since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<Task>> {
        // Tasks without a due date last: MySQL sorts NULL first unless told.
        let due = if self.mysql().is_some() { "t.due_date IS NULL, t.due_date" } else { "t.due_date" };
        let sql = format!(
            "SELECT {COLUMNS} FROM tasks t WHERE t.tenant_id = $1 AND t.status <> 'done'
             AND ((t.due_date IS NOT NULL AND t.due_date < $2) OR (t.status = 'in_progress' AND t.updated_at < $3))
             ORDER BY {due}, t.id LIMIT $4"
        );
        let rows: Vec<TaskRow> = read!(self, |pool| {
            crate::store::query_as(&sql)
                .bind(tenant_id)
                .bind(today)
                .bind(idle_since)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        self.with_labels(rows).await
    }

    /// One page of tasks (plus one row, to tell whether another page follows).
    pub async fn list_tasks(&self, tenant_id: &TenantId, query: &TaskQuery) -> Result<Vec<Task>> {
        let rows: Vec<TaskRow> = read!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM tasks t WHERE t.tenant_id = "));
            q.push_bind(tenant_id);
            let f = &query.filter;
            if let Some(project_id) = &f.project_id {
                q.push(" AND t.project_id = ").push_bind(project_id);
            }
            if !f.statuses.is_empty() {
                q.push(" AND t.status IN (");
                let mut list = q.separated(", ");
                for s in &f.statuses {
                    list.push_bind(s.as_str());
                }
                q.push(")");
            }
            if !f.priorities.is_empty() {
                q.push(" AND t.priority IN (");
                let mut list = q.separated(", ");
                for p in &f.priorities {
                    list.push_bind(p.as_str());
                }
                q.push(")");
            }
            if let Some(assignee) = &f.assigned_to {
                q.push(" AND t.assigned_to = ").push_bind(assignee);
            }
            if let Some(label) = &f.label {
                q.push(
                    " AND EXISTS (SELECT 1 FROM task_labels tl JOIN labels l ON l.id = tl.label_id \
                     WHERE tl.task_id = t.id AND l.name = ",
                )
                .push_bind(label)
                .push(")");
            }
            if let Some(due) = f.due_before {
                // Written on the sort key (undated tasks never pass it) so the due-date
                // index can start its range at `due`.
                q.push(format!(" AND {DUE_DATE_KEY} <= ")).push_bind(due);
            }
            if let Some(text) = &f.text {
                let pattern = like_pattern(text);
                q.push(" AND (lower(t.title) LIKE ")
                    .push_bind(pattern.clone())
                    .push(" ESCAPE '\\' OR lower(t.description) LIKE ")
                    .push_bind(pattern)
                    .push(" ESCAPE '\\')");
            }
            let dir = if query.sort.descending { "DESC" } else { "ASC" };
            let cmp = if query.sort.descending { "<" } else { ">" };
            let key = match query.sort.field {
                TaskSortField::CreatedAt => None,
                TaskSortField::UpdatedAt => Some("t.updated_at"),
                TaskSortField::DueDate => Some(DUE_DATE_KEY),
                TaskSortField::Priority => Some(PRIORITY_RANK),
                TaskSortField::Title => Some("t.title"),
            };
            if let Some(after) = &query.page.after {
                match key {
                    None => {
                        q.push(format!(" AND t.id {cmp} ")).push_bind(&after.id);
                    }
                    Some(key) => {
                        q.push(format!(" AND ({key} {cmp} "));
                        push_sort_value(&mut q, &after.key)?;
                        q.push(format!(" OR ({key} = "));
                        push_sort_value(&mut q, &after.key)?;
                        q.push(format!(" AND t.id {cmp} ")).push_bind(&after.id).push("))");
                    }
                }
            }
            match key {
                None => q.push(format!(" ORDER BY t.id {dir}")),
                Some(key) => q.push(format!(" ORDER BY {key} {dir}, t.id {dir}")),
            };
            q.push(" LIMIT ").push_bind(i64::from(query.page.limit) + 1);
            q.build_query_as().fetch_all(pool).await?
        });
        self.with_labels(rows).await
    }

    /// Updates a task and, in the same transaction, enqueues `jobs` (writing the change to
    /// the tracker items linked to it), announces it when the project has webhooks and tells
    /// the task's requesters what they care about of it, so a change cannot be applied here
    /// and lost on its way. `jobs` were made for the links
    /// in `links` (integration id, item id): when the task's links are no longer those,
    /// nothing is written and [`Updated::LinksChanged`] asks for jobs made again.
    pub async fn update_task_syncing(
        &self,
        tenant_id: &TenantId,
        id: &TaskId,
        patch: &TaskPatch,
        links: &[(IntegrationId, String)],
        jobs: &[NewJob],
    ) -> Result<Updated> {
        let now = super::now();
        // Concurrent changes of one task are told one after the other, each from what the
        // one before left (SQLite's writer is alone already).
        let lock = match self.backend() {
            super::Backend::Postgres | super::Backend::Mysql => " FOR UPDATE",
            super::Backend::Sqlite => "",
        };
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let before = task_in_tx!(tx, tenant_id, id, lock).ok_or(StoreError::NotFound)?;
            let mut q = sqlx::QueryBuilder::new("UPDATE tasks SET updated_at = ");
            q.push_bind(now);
            if let Some(v) = &patch.title {
                q.push(", title = ").push_bind(v);
            }
            if let Some(v) = &patch.description {
                q.push(", description = ").push_bind(v);
            }
            if let Some(v) = patch.status {
                q.push(", status = ").push_bind(v.as_str());
            }
            if let Some(v) = patch.priority {
                q.push(", priority = ").push_bind(v.as_str());
            }
            if let Some(v) = &patch.assigned_to {
                q.push(", assigned_to = ").push_bind(v);
            }
            if let Some(v) = patch.time_estimate {
                q.push(", time_estimate = ").push_bind(v);
            }
            if let Some(v) = patch.time_spent {
                q.push(", time_spent = ").push_bind(v);
            }
            if let Some(v) = patch.due_date {
                q.push(", due_date = ").push_bind(v);
            }
            q.push(" WHERE id = ").push_bind(id).push(" AND tenant_id = ").push_bind(tenant_id);
            let project_id: Option<String> = if self.mysql().is_some() {
                // No `UPDATE … RETURNING`; the row is locked since `before` was read, and a
                // change never moves a task to another project.
                let updated = q.build().execute(&mut *tx).await?.rows_affected();
                (updated == 1).then(|| before.project_id.as_str().to_string())
            } else {
                q.push(" RETURNING project_id");
                q.build_query_scalar().fetch_optional(&mut *tx).await?
            };
            let project_id = project_id.ok_or(StoreError::NotFound)?;
            if let Some(names) = &patch.labels {
                crate::store::query("DELETE FROM task_labels WHERE task_id = $1").bind(id).execute(&mut *tx).await?;
                add_labels!(tx, tenant_id, &project_id, id, names, now);
            }
            let mut now_linked: Vec<(IntegrationId, String)> = crate::store::query_as(
                "SELECT integration_id, external_id FROM task_links WHERE tenant_id = $1 AND task_id = $2",
            )
            .bind(tenant_id)
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            now_linked.sort();
            let mut seen = links.to_vec();
            seen.sort();
            if now_linked != seen {
                return Ok(Updated::LinksChanged);
            }
            for job in jobs {
                let _ = super::jobs::enqueue_job!(&mut *tx, tenant_id, job, now);
            }
            // The task as this change left it, read in the transaction: what it announces.
            let task = task_in_tx!(tx, tenant_id, id).ok_or(StoreError::NotFound)?;
            let announcements = crate::domain::event::task_updated(&task, patch.status.is_some());
            super::integrations::enqueue_if_subscribed!(tx, tenant_id, &project_id, &announcements, now);
            let news = crate::domain::notify::RequesterNews::of_update(&before, &task);
            super::requesters::tell_requesters!(tx, tenant_id, &project_id, news, now);
            tx.commit().await?;
            Ok(Updated::Task(task))
        })
    }

    /// Deletes a task and, in the same transaction, announces it (as it last was) when its
    /// project has webhooks and tells its requesters when the project tells deletions.
    pub async fn delete_task(&self, tenant_id: &TenantId, id: &TaskId) -> Result<()> {
        let now = super::now();
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let task = task_in_tx!(tx, tenant_id, id).ok_or(StoreError::NotFound)?;
            crate::store::query("DELETE FROM tasks WHERE id = $1 AND tenant_id = $2")
                .bind(id)
                .bind(tenant_id)
                .execute(&mut *tx)
                .await?;
            let announcements = crate::domain::event::task_deleted(&task);
            super::integrations::enqueue_if_subscribed!(tx, tenant_id, &task.project_id, &announcements, now);
            let news = Some(crate::domain::notify::RequesterNews::of_deletion(&task));
            super::requesters::tell_requesters!(tx, tenant_id, &task.project_id, news, now);
            tx.commit().await?;
        });
        Ok(())
    }

    /// Which of `ids` are tasks of the tenant.
    pub async fn existing_task_ids(&self, tenant_id: &TenantId, ids: &[String]) -> Result<HashSet<String>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let rows: Vec<String> = read!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new("SELECT id FROM tasks WHERE tenant_id = ");
            q.push_bind(tenant_id).push(" AND id IN (");
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(id);
            }
            q.push(")");
            q.build_query_scalar().fetch_all(pool).await?
        });
        Ok(rows.into_iter().collect())
    }

    /// The tenant's tasks among `ids` (in no particular order; missing ones are left out):
    /// the tasks a page of requests names.
    pub async fn tasks_by_ids(&self, tenant_id: &TenantId, ids: &[&str]) -> Result<Vec<Task>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<TaskRow> = read!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM tasks t WHERE t.tenant_id = "));
            q.push_bind(tenant_id).push(" AND t.id IN (");
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            q.push(")");
            q.build_query_as().fetch_all(pool).await?
        });
        self.with_labels(rows).await
    }

    /// Tasks of a project changed after `after` (updated_at, id), oldest first: what a
    /// search index needs to catch up.
    pub async fn tasks_changed_since(
        &self,
        tenant_id: &TenantId,
        project_id: &ProjectId,
        after: Option<&(DateTime<Utc>, String)>,
        limit: usize,
    ) -> Result<Vec<IndexedTask>> {
        Ok(read!(self, |pool| {
            let mut q =
                sqlx::QueryBuilder::new("SELECT id, title, description, updated_at FROM tasks t WHERE t.tenant_id = ");
            q.push_bind(tenant_id).push(" AND t.project_id = ").push_bind(project_id);
            if let Some((at, id)) = after {
                q.push(" AND (t.updated_at > ").push_bind(*at);
                q.push(" OR (t.updated_at = ").push_bind(*at).push(" AND t.id > ").push_bind(id.clone()).push("))");
            }
            q.push(" ORDER BY t.updated_at, t.id LIMIT ").push_bind(limit as i64);
            q.build_query_as().fetch_all(pool).await?
        }))
    }

    /// Label names per task id, sorted by name.
    /// The tasks of `rows`, each with its label names.
    async fn with_labels(&self, rows: Vec<TaskRow>) -> Result<Vec<Task>> {
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let mut labels = self.labels_of(&ids).await?;
        rows.into_iter()
            .map(|row| {
                let names = labels.remove(row.id.as_str()).unwrap_or_default();
                row.into_task(names)
            })
            .collect()
    }

    async fn labels_of(&self, task_ids: &[&str]) -> Result<HashMap<String, Vec<String>>> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        if task_ids.is_empty() {
            return Ok(out);
        }
        let rows: Vec<(String, String)> = read!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT tl.task_id, l.name FROM task_labels tl JOIN labels l ON l.id = tl.label_id WHERE tl.task_id IN (",
            );
            let mut list = q.separated(", ");
            for id in task_ids {
                list.push_bind(*id);
            }
            q.push(") ORDER BY l.name");
            q.build_query_as().fetch_all(pool).await?
        });
        for (task_id, name) in rows {
            out.entry(task_id).or_default().push(name);
        }
        Ok(out)
    }
}

/// A case-insensitive "contains" pattern with LIKE's wildcards escaped.
fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Binds a cursor's sort key with its own type, so both backends compare natively.
fn push_sort_value<'a, DB>(q: &mut sqlx::QueryBuilder<'a, DB>, value: &'a SortValue) -> Result<()>
where
    DB: sqlx::Database,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    NaiveDate: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    DateTime<Utc>: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    match value {
        SortValue::Text(v) => q.push_bind(v.clone()),
        SortValue::Int(v) => q.push_bind(*v),
        SortValue::Date(v) => q.push_bind(*v),
        SortValue::Time(v) => q.push_bind(*v),
        SortValue::None => return Err(StoreError::Corrupt("cursor without a sort key".into())),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_pattern("50%_Off"), "%50\\%\\_off%");
    }
}
