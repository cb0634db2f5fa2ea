//! Tasks' embedding vectors (migration 0030), kept so a restart or another instance does not
//! embed every task again.

use super::{Result, Store, read, write};
use crate::domain::id::TenantId;

/// A task's vector as stored: the model that made it, a digest of the text it was made
/// from, and its bytes (little-endian f32s).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredVector {
    pub task_id: String,
    pub model: String,
    pub text_key: String,
    pub vector: Vec<u8>,
}

impl Store {
    /// The stored vectors of the tenant's tasks among `ids`.
    pub async fn task_vectors(&self, tenant_id: &TenantId, ids: &[&str]) -> Result<Vec<StoredVector>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = read!(self, |pool| {
            let mut q =
                sqlx::QueryBuilder::new("SELECT task_id, model, text_key, vector FROM task_vectors WHERE tenant_id = ");
            q.push_bind(tenant_id).push(" AND task_id IN (");
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            q.push(")");
            q.build_query_as().fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// Keeps `vector` as the task's, replacing an older one. A task deleted meanwhile keeps
    /// nothing (`NotFound`).
    pub async fn save_task_vector(&self, tenant_id: &TenantId, v: &StoredVector) -> Result<()> {
        // MySQL's upsert names no conflict target and reads the new row through `VALUES()`.
        let replace = match self.backend() {
            super::Backend::Mysql => {
                " ON DUPLICATE KEY UPDATE model = VALUES(model), text_key = VALUES(text_key), vector = VALUES(vector)"
            }
            super::Backend::Sqlite | super::Backend::Postgres => {
                " ON CONFLICT (task_id) DO UPDATE SET model = excluded.model, text_key = excluded.text_key, \
                 vector = excluded.vector"
            }
        };
        write!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO task_vectors (task_id, tenant_id, model, text_key, vector) SELECT id, tenant_id, ",
            );
            q.push_bind(&v.model).push(", ").push_bind(&v.text_key).push(", ").push_bind(&v.vector);
            q.push(" FROM tasks WHERE id = ").push_bind(&v.task_id).push(" AND tenant_id = ").push_bind(tenant_id);
            q.push(replace);
            let done = q.build().execute(pool).await?;
            if done.rows_affected() == 0 {
                return Err(super::StoreError::NotFound);
            }
        });
        Ok(())
    }
}
