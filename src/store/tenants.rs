//! Tenants and API keys.

use chrono::{DateTime, Utc};

use super::{Result, Store, StoreError, parse_enum, read, write};
use crate::domain::id::TenantId;
use crate::domain::list::Page;
use crate::domain::new_id;
use crate::domain::tenant::{ApiKey, Caller, DEFAULT_TENANT_ID, NewApiKey, Role, Tenant, hash_key};

/// Inserts an API key row (hashed) and yields its id; a macro so one text serves both
/// backends and both plain pools and transactions.
macro_rules! insert_key {
    ($executor:expr, $tenant_id:expr, $name:expr, $role:expr, $key:expr, $now:expr) => {{
        let id = new_id();
        crate::store::query(
            "INSERT INTO api_keys (id, tenant_id, name, role, key_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind($tenant_id)
        .bind($name)
        .bind($role.as_str())
        .bind(hash_key($key))
        .bind($now)
        .execute($executor)
        .await
        .map_err(|e| StoreError::on_write(e, "api key"))?;
        id
    }};
}

/// What the first start created.
pub enum Bootstrap {
    /// The default tenant already existed.
    Existing,
    /// The default tenant was created with the key given in the configuration.
    Seeded,
    /// The default tenant was created with this generated key, to be shown once.
    Generated(String),
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: String,
    tenant_id: TenantId,
    name: String,
    role: String,
    key_hash: String,
    created_at: DateTime<Utc>,
}

impl KeyRow {
    fn into_key(self) -> Result<ApiKey> {
        Ok(ApiKey {
            role: parse_enum("api_keys.role", &self.role, Role::parse)?,
            id: self.id,
            name: self.name,
            created_at: self.created_at,
        })
    }
}

impl Store {
    /// Creates the default tenant and its admin key on the very first start. Safe when
    /// several instances start at once: only the one that inserts the tenant adds the key.
    pub async fn bootstrap(&self, configured_key: Option<&str>) -> Result<Bootstrap> {
        let generated = match configured_key {
            Some(_) => None,
            None => Some(crate::domain::tenant::generate_key()?),
        };
        let key = configured_key.or(generated.as_deref()).unwrap_or_default();
        let now = super::now();
        let created = write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let inserted = crate::store::query(
                "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
            )
            .bind(DEFAULT_TENANT_ID)
            .bind("default")
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1 {
                insert_key!(&mut *tx, DEFAULT_TENANT_ID, "bootstrap admin", Role::Admin, key, now);
            }
            tx.commit().await?;
            inserted == 1
        });
        Ok(match (created, generated) {
            (false, _) => Bootstrap::Existing,
            (true, None) => Bootstrap::Seeded,
            (true, Some(k)) => Bootstrap::Generated(k),
        })
    }

    /// Resolves a presented key to its caller, or `None` when no key matches. Callers of
    /// keys seen lately come from the key cache (see `key_cache` for why that is safe).
    pub async fn authenticate(&self, presented: &str) -> Result<Option<Caller>> {
        use subtle::ConstantTimeEq;
        let hash = hash_key(presented);
        if let Some(caller) = self.keys.get(&hash) {
            return Ok(Some(caller));
        }
        if let super::Db::Postgres(pool) = &self.db {
            self.keys.listen(pool, super::key_cache::CHANNEL);
        }
        let generation = self.keys.generation();
        let row: Option<KeyRow> = read!(self, |pool| {
            crate::store::query_as("SELECT * FROM api_keys WHERE key_hash = $1")
                .bind(&hash)
                .fetch_optional(pool)
                .await?
        });
        let Some(row) = row else { return Ok(None) };
        // The lookup went through an index; the final comparison does not leak timing.
        if !bool::from(row.key_hash.as_bytes().ct_eq(hash.as_bytes())) {
            return Ok(None);
        }
        let caller = Caller {
            role: parse_enum("api_keys.role", &row.role, Role::parse)?,
            tenant_id: row.tenant_id,
            key_id: row.id,
        };
        self.keys.put(hash, caller.clone(), generation);
        Ok(Some(caller))
    }

    /// The caller's tenant and key as listed (never the key's secret).
    pub async fn caller_details(&self, caller: &Caller) -> Result<(Tenant, ApiKey)> {
        let tenant: Option<(String, String, DateTime<Utc>)> = read!(self, |pool| {
            crate::store::query_as("SELECT id, name, created_at FROM tenants WHERE id = $1")
                .bind(&caller.tenant_id)
                .fetch_optional(pool)
                .await?
        });
        let (id, name, created_at) = tenant.ok_or(StoreError::NotFound)?;
        let key: Option<KeyRow> = read!(self, |pool| {
            crate::store::query_as("SELECT * FROM api_keys WHERE id = $1 AND tenant_id = $2")
                .bind(&caller.key_id)
                .bind(&caller.tenant_id)
                .fetch_optional(pool)
                .await?
        });
        Ok((Tenant { id: id.into(), name, created_at }, key.ok_or(StoreError::NotFound)?.into_key()?))
    }

    /// Creates a tenant with its first (admin) key; answers the key in clear, once.
    pub async fn create_tenant(&self, name: &str) -> Result<(Tenant, String)> {
        let key = crate::domain::tenant::generate_key()?;
        let tenant = Tenant { id: TenantId::generate(), name: name.to_string(), created_at: super::now() };
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            crate::store::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(&tenant.id)
                .bind(&tenant.name)
                .bind(tenant.created_at)
                .execute(&mut *tx)
                .await?;
            insert_key!(&mut *tx, &tenant.id, "admin", Role::Admin, &key, tenant.created_at);
            tx.commit().await?;
        });
        Ok((tenant, key))
    }

    /// Tenant ids after `after`, in order, at most `limit`: for work done per tenant.
    pub async fn tenant_ids(&self, after: &str, limit: i64) -> Result<Vec<TenantId>> {
        Ok(read!(self, |pool| {
            crate::store::query_scalar("SELECT id FROM tenants WHERE id > $1 ORDER BY id LIMIT $2")
                .bind(after)
                .bind(limit)
                .fetch_all(pool)
                .await?
        }))
    }

    pub async fn create_api_key(&self, tenant_id: &TenantId, new: &NewApiKey) -> Result<(ApiKey, String)> {
        let key = crate::domain::tenant::generate_key()?;
        let now = super::now();
        let id = write!(self, |pool| insert_key!(pool, tenant_id, &new.name, new.role, &key, now));
        Ok((ApiKey { id, name: new.name.clone(), role: new.role, created_at: now }, key))
    }

    pub async fn list_api_keys(&self, tenant_id: &TenantId, page: &Page) -> Result<Vec<ApiKey>> {
        let after = page.after.as_ref().map(|c| c.id.as_str()).unwrap_or("");
        let rows: Vec<KeyRow> = read!(self, |pool| {
            crate::store::query_as("SELECT * FROM api_keys WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3")
                .bind(tenant_id)
                .bind(after)
                .bind(i64::from(page.limit) + 1)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(KeyRow::into_key).collect()
    }

    /// Deletes a key of the tenant. The tenant's last admin key cannot go: nobody could
    /// manage the tenant afterwards.
    pub async fn delete_api_key(&self, tenant_id: &TenantId, key_id: &str) -> Result<()> {
        write!(self, |pool| {
            let mut tx = pool.begin().await?;
            let role: Option<String> =
                crate::store::query_scalar("SELECT role FROM api_keys WHERE id = $1 AND tenant_id = $2")
                    .bind(key_id)
                    .bind(tenant_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let role = role.ok_or(StoreError::NotFound)?;
            if role == Role::Admin.as_str() {
                let admins: i64 =
                    crate::store::query_scalar("SELECT COUNT(*) FROM api_keys WHERE tenant_id = $1 AND role = $2")
                        .bind(tenant_id)
                        .bind(Role::Admin.as_str())
                        .fetch_one(&mut *tx)
                        .await?;
                if admins <= 1 {
                    return Err(StoreError::Conflict("the last admin key of a tenant cannot be deleted".into()));
                }
            }
            crate::store::query("DELETE FROM api_keys WHERE id = $1 AND tenant_id = $2")
                .bind(key_id)
                .bind(tenant_id)
                .execute(&mut *tx)
                .await?;
            // Sent on commit, to every instance's key cache.
            super::heard_cache::tell!(self, &mut *tx, super::key_cache::CHANNEL, key_id);
            tx.commit().await?;
        });
        self.keys.forget(key_id);
        Ok(())
    }
}
