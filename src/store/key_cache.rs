//! Callers of recently presented API keys, so that a busy client's requests do not each
//! read `api_keys`. A deleted key stops working at once here and, through `NOTIFY`, on every
//! instance: see [`super::heard_cache`] for how.

use super::heard_cache::HeardCache;
use crate::domain::tenant::Caller;

/// The PostgreSQL channel deletions travel on; the payload is the key's id.
pub(super) const CHANNEL: &str = "taskbridge_key_deleted";

/// Callers by their key's hash; a word names a key by its id.
pub(super) type KeyCache = HeardCache<String, Caller>;

fn names(caller: &Caller, key_id: &str) -> bool {
    caller.key_id == key_id
}

/// A cache for SQLite: this process hears only its own deletions.
pub(super) fn local() -> KeyCache {
    HeardCache::local(names)
}

/// A cache that trusts nothing until its listener runs (PostgreSQL).
pub(super) fn shared() -> KeyCache {
    HeardCache::shared(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenant::Role;

    fn caller(key_id: &str) -> Caller {
        Caller { role: Role::Member, tenant_id: "t1".to_string().into(), key_id: key_id.into() }
    }

    #[test]
    fn a_deleted_key_is_forgotten_by_its_id() {
        let cache = local();
        cache.put("h1".into(), caller("k1"), cache.generation());
        cache.put("h2".into(), caller("k2"), cache.generation());
        cache.forget("k1");
        assert!(cache.get("h1").is_none());
        assert_eq!(cache.get("h2").map(|c| c.key_id), Some("k2".to_string()));
    }
}
