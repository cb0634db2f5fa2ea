//! Comments on tasks.

use crate::domain::id::TaskId;
use crate::domain::id::TenantId;
use chrono::{DateTime, Utc};

use super::links::enqueue_if_linked;
use super::{Result, Store, StoreError, read, write};
use crate::domain::comment::{Comment, NewComment};
use crate::domain::job::NewJob;
use crate::domain::list::Page;

#[derive(sqlx::FromRow)]
struct CommentRow {
    id: String,
    task_id: TaskId,
    content: String,
    author: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<CommentRow> for Comment {
    fn from(r: CommentRow) -> Self {
        Comment {
            id: r.id,
            task_id: r.task_id,
            content: r.content,
            author: r.author,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str = "id, task_id, content, author, created_at, updated_at";

/// Inserts `comment` inside the caller's transaction and answers its task's project; the
/// enclosing function returns `NotFound` when the task is not the tenant's.
macro_rules! insert_comment {
    ($tx:expr, $tenant_id:expr, $comment:expr) => {{
        let c: &crate::domain::comment::Comment = $comment;
        let project_id: Option<crate::domain::id::ProjectId> =
            crate::store::query_scalar("SELECT project_id FROM tasks WHERE id = $1 AND tenant_id = $2")
                .bind(&c.task_id)
                .bind($tenant_id)
                .fetch_optional(&mut *$tx)
                .await?;
        let project_id = project_id.ok_or(crate::store::StoreError::NotFound)?;
        crate::store::query(
            "INSERT INTO comments (id, tenant_id, task_id, content, author, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&c.id)
        .bind($tenant_id)
        .bind(&c.task_id)
        .bind(&c.content)
        .bind(&c.author)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *$tx)
        .await?;
        project_id
    }};
}
pub(crate) use insert_comment;

impl Store {
    /// Adds comment `id` (a taken id fails) to one of the tenant's tasks; `NotFound` when the
    /// task is not theirs. In the same transaction it enqueues `sync` when the task is linked
    /// to tracker items (the comment is written there too), announces the comment when
    /// the project has webhooks, and tells the task's requesters when it is marked for them.
    pub async fn create_comment(
        &self,
        tenant_id: &TenantId,
        id: &str,
        new: &NewComment,
        sync: &NewJob,
    ) -> Result<Comment> {
        let now = super::now();
        let comment = Comment {
            id: id.to_string(),
            task_id: new.task_id.clone(),
            content: new.content.clone(),
            author: new.author.clone(),
            created_at: now,
            updated_at: now,
        };
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let project_id = insert_comment!(tx, tenant_id, &comment);
            enqueue_if_linked!(tx, tenant_id, &comment.task_id, sync, now);
            let announcements = crate::domain::event::comment_created(&project_id, &comment);
            super::integrations::enqueue_if_subscribed!(tx, tenant_id, &project_id, &announcements, now);
            if new.notify_requester {
                let title: String = crate::store::query_scalar("SELECT title FROM tasks WHERE id = $1")
                    .bind(&comment.task_id)
                    .fetch_one(&mut *tx)
                    .await?;
                let news = crate::domain::notify::RequesterNews::of_comment(&comment.task_id, &title, &comment.id);
                super::requesters::tell_requesters!(tx, tenant_id, &project_id, Some(news), now);
            }
            tx.commit().await?;
        });
        Ok(comment)
    }

    pub async fn get_comment(&self, tenant_id: &TenantId, id: &str) -> Result<Comment> {
        let sql = format!("SELECT {COLUMNS} FROM comments WHERE id = $1 AND tenant_id = $2");
        let row: Option<CommentRow> =
            read!(self, |pool| crate::store::query_as(&sql).bind(id).bind(tenant_id).fetch_optional(pool).await?);
        row.map(Comment::from).ok_or(StoreError::NotFound)
    }

    pub async fn list_comments(
        &self,
        tenant_id: &TenantId,
        task_id: Option<&str>,
        page: &Page,
    ) -> Result<Vec<Comment>> {
        let after = page.after.as_ref().map(|c| c.id.as_str()).unwrap_or("");
        let rows: Vec<CommentRow> = read!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM comments WHERE tenant_id = "));
            q.push_bind(tenant_id);
            if let Some(task_id) = task_id {
                q.push(" AND task_id = ").push_bind(task_id);
            }
            q.push(" AND id > ").push_bind(after);
            q.push(" ORDER BY id LIMIT ").push_bind(i64::from(page.limit) + 1);
            q.build_query_as().fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(Comment::from).collect())
    }

    pub async fn update_comment(&self, tenant_id: &TenantId, id: &str, content: Option<&str>) -> Result<Comment> {
        let now = super::now();
        let affected = write!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new("UPDATE comments SET updated_at = ");
            q.push_bind(now);
            if let Some(content) = content {
                q.push(", content = ").push_bind(content);
            }
            q.push(" WHERE id = ").push_bind(id).push(" AND tenant_id = ").push_bind(tenant_id);
            q.build().execute(pool).await?.rows_affected()
        });
        if affected == 0 {
            return Err(StoreError::NotFound);
        }
        self.get_comment(tenant_id, id).await
    }

    /// The latest comments (newest first, at most `limit`) that are on one of `task_ids`
    /// or mention one of `words` (lower-case), for grounding the coordinator's answers.
    pub async fn comments_about(
        &self,
        tenant_id: &TenantId,
        task_ids: &[String],
        words: &[String],
        limit: i64,
    ) -> Result<Vec<Comment>> {
        if task_ids.is_empty() && words.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Vec<CommentRow> = read!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM comments WHERE tenant_id = "));
            q.push_bind(tenant_id).push(" AND (1 = 0");
            if !task_ids.is_empty() {
                q.push(" OR task_id IN (");
                let mut ids = q.separated(", ");
                for id in task_ids {
                    ids.push_bind(id.as_str());
                }
                q.push(")");
            }
            for word in words {
                let escaped = word.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                q.push(" OR LOWER(content) LIKE ").push_bind(format!("%{escaped}%")).push(" ESCAPE '\\'");
            }
            q.push(") ORDER BY created_at DESC, id DESC LIMIT ").push_bind(limit);
            q.build_query_as().fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(Comment::from).collect())
    }

    pub async fn delete_comment(&self, tenant_id: &TenantId, id: &str) -> Result<()> {
        self.delete_owned("comments", tenant_id, id).await
    }
}
