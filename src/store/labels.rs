//! Labels of a project.

use crate::domain::id::ProjectId;
use crate::domain::id::TenantId;
use chrono::{DateTime, Utc};

use super::{Result, Store, StoreError, read, write};
use crate::domain::label::{Label, LabelPatch, NewLabel};
use crate::domain::list::Page;
use crate::domain::new_id;

#[derive(sqlx::FromRow)]
struct LabelRow {
    id: String,
    project_id: ProjectId,
    name: String,
    color: String,
    created_at: DateTime<Utc>,
}

impl From<LabelRow> for Label {
    fn from(r: LabelRow) -> Self {
        Label { id: r.id, project_id: r.project_id, name: r.name, color: r.color, created_at: r.created_at }
    }
}

const COLUMNS: &str = "id, project_id, name, color, created_at";

impl Store {
    pub async fn create_label(&self, tenant_id: &TenantId, new: &NewLabel) -> Result<Label> {
        let label = Label {
            id: new_id(),
            project_id: new.project_id.clone(),
            name: new.name.clone(),
            color: new.color.clone(),
            created_at: super::now(),
        };
        let inserted = write!(self, |pool| {
            crate::store::query(
                "INSERT INTO labels (id, tenant_id, project_id, name, color, created_at)
                 SELECT $1, $2, $3, $4, $5, $6
                 WHERE EXISTS (SELECT 1 FROM projects WHERE id = $7 AND tenant_id = $8)",
            )
            .bind(&label.id)
            .bind(tenant_id)
            .bind(&label.project_id)
            .bind(&label.name)
            .bind(&label.color)
            .bind(label.created_at)
            .bind(&label.project_id)
            .bind(tenant_id)
            .execute(pool)
            .await
            .map_err(|e| StoreError::on_write(e, "a label with this name in the project"))?
            .rows_affected()
        });
        if inserted == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(label)
    }

    pub async fn get_label(&self, tenant_id: &TenantId, id: &str) -> Result<Label> {
        let sql = format!("SELECT {COLUMNS} FROM labels WHERE id = $1 AND tenant_id = $2");
        let row: Option<LabelRow> =
            read!(self, |pool| crate::store::query_as(&sql).bind(id).bind(tenant_id).fetch_optional(pool).await?);
        row.map(Label::from).ok_or(StoreError::NotFound)
    }

    pub async fn list_labels(&self, tenant_id: &TenantId, project_id: Option<&str>, page: &Page) -> Result<Vec<Label>> {
        let after = page.after.as_ref().map(|c| c.id.as_str()).unwrap_or("");
        let rows: Vec<LabelRow> = read!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM labels WHERE tenant_id = "));
            q.push_bind(tenant_id);
            if let Some(project_id) = project_id {
                q.push(" AND project_id = ").push_bind(project_id);
            }
            q.push(" AND id > ").push_bind(after);
            q.push(" ORDER BY id LIMIT ").push_bind(i64::from(page.limit) + 1);
            q.build_query_as().fetch_all(pool).await?
        });
        Ok(rows.into_iter().map(Label::from).collect())
    }

    pub async fn update_label(&self, tenant_id: &TenantId, id: &str, patch: &LabelPatch) -> Result<Label> {
        let affected = write!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new("UPDATE labels SET id = id");
            if let Some(name) = &patch.name {
                q.push(", name = ").push_bind(name);
            }
            if let Some(color) = &patch.color {
                q.push(", color = ").push_bind(color);
            }
            q.push(" WHERE id = ").push_bind(id).push(" AND tenant_id = ").push_bind(tenant_id);
            q.build()
                .execute(pool)
                .await
                .map_err(|e| StoreError::on_write(e, "a label with this name in the project"))?
                .rows_affected()
        });
        if affected == 0 {
            return Err(StoreError::NotFound);
        }
        self.get_label(tenant_id, id).await
    }

    /// Deletes the label and takes it off every task.
    pub async fn delete_label(&self, tenant_id: &TenantId, id: &str) -> Result<()> {
        self.delete_owned("labels", tenant_id, id).await
    }
}
