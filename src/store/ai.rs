//! What the AI coordinator keeps: its analyses.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Result, Store, read, write};

/// A kept analysis.
#[derive(Debug, Clone)]
pub struct StoredAnalysis {
    pub id: String,
    pub project_id: Option<String>,
    pub result: Value,
    pub created_at: DateTime<Utc>,
}

impl Store {
    pub async fn save_analysis(&self, tenant_id: &str, project_id: Option<&str>, result: &Value) -> Result<String> {
        let id = crate::domain::new_id();
        let now = super::now();
        write!(self, |pool| {
            sqlx::query(
                "INSERT INTO ai_analyses (id, tenant_id, project_id, result, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&id)
            .bind(tenant_id)
            .bind(project_id)
            .bind(result.to_string())
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(id)
    }

    /// The tenant's latest analysis (of `project_id` when given, else of the whole workspace).
    pub async fn latest_analysis(&self, tenant_id: &str, project_id: Option<&str>) -> Result<Option<StoredAnalysis>> {
        let row: Option<(String, Option<String>, String, DateTime<Utc>)> = read!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT id, project_id, result, created_at FROM ai_analyses WHERE tenant_id = ",
            );
            q.push_bind(tenant_id);
            match project_id {
                Some(p) => q.push(" AND project_id = ").push_bind(p),
                None => q.push(" AND project_id IS NULL"),
            };
            q.push(" ORDER BY created_at DESC, id DESC LIMIT 1");
            q.build_query_as().fetch_optional(pool).await?
        });
        Ok(row.map(|(id, project_id, result, created_at)| StoredAnalysis {
            id,
            project_id,
            result: serde_json::from_str(&result).unwrap_or(Value::Null),
            created_at,
        }))
    }
}
