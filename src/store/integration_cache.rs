//! The integrations that webhooks name, so that a busy integration's requests do not each
//! read `integrations`. Any change to an integration (settings, secrets, status, a key
//! rotation's re-sealing, its deletion or its project's) takes effect at once here and,
//! through `NOTIFY`, on every instance: see [`super::heard_cache`] for how.

use super::heard_cache::HeardCache;
use super::integrations::IntegrationRecord;
use crate::domain::id::TenantId;

/// The PostgreSQL channel changes travel on; the payload is the integration's id, or its
/// project's id when the project went with all its integrations.
pub(super) const CHANNEL: &str = "taskbridge_integration_changed";

/// Integrations with their tenant, by id.
pub(super) type IntegrationCache = HeardCache<String, (TenantId, IntegrationRecord)>;

fn names((_, record): &(TenantId, IntegrationRecord), id: &str) -> bool {
    record.id.as_str() == id || record.project_id.as_str() == id
}

/// A cache for SQLite: this process hears only its own changes.
pub(super) fn local() -> IntegrationCache {
    HeardCache::local(names)
}

/// A cache that trusts nothing until its listener runs (PostgreSQL).
pub(super) fn shared() -> IntegrationCache {
    HeardCache::shared(names)
}
