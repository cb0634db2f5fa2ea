//! Callers of recently presented API keys, so that a busy client's requests do not each
//! read `api_keys`.
//!
//! A deleted key must stop working at once, on every instance. The instance that deletes
//! it forgets it itself; on PostgreSQL the deletion also sends `NOTIFY` in its transaction
//! and every instance listens. While that listener is not connected nothing is cached, and
//! when it (re)connects the cache starts empty, so a missed word cannot keep a key alive.
//! Each entry also expires: after [`LOCAL_TTL`] on SQLite, whose file another process may
//! share without any way to hear of its deletions, after [`SHARED_TTL`] on PostgreSQL as a
//! bound for anything unforeseen.
//!
//! A lookup that raced with a deletion must not put the deleted key back: each deletion
//! bumps a generation, and a lookup only stores its answer if no deletion happened since
//! it read the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::domain::tenant::Caller;

/// The PostgreSQL channel deletions travel on; the payload is the key's id.
pub(super) const CHANNEL: &str = "taskbridge_key_deleted";

/// How long a cached caller is trusted without another look at the database.
const LOCAL_TTL: Duration = Duration::from_secs(1);
const SHARED_TTL: Duration = Duration::from_secs(30);

/// Past this many keys the cache starts over rather than grow without bound.
const CAPACITY: usize = 10_000;

pub(super) struct KeyCache {
    entries: Mutex<HashMap<String, (Caller, Instant)>>,
    generation: AtomicU64,
    ttl: Duration,
    /// Whether deletions on other instances are heard (always, without PostgreSQL).
    trusted: AtomicBool,
    listening: super::notices::Listening,
}

impl KeyCache {
    /// A cache for SQLite: this process hears only its own deletions.
    pub(super) fn local() -> Self {
        Self::new(true, LOCAL_TTL)
    }

    /// A cache that trusts nothing until its listener runs (PostgreSQL).
    pub(super) fn shared() -> Self {
        Self::new(false, SHARED_TTL)
    }

    fn new(trusted: bool, ttl: Duration) -> Self {
        KeyCache {
            entries: Mutex::default(),
            generation: AtomicU64::new(0),
            ttl,
            trusted: AtomicBool::new(trusted),
            listening: Default::default(),
        }
    }

    /// The caller of the key with this hash, if cached and fresh.
    pub(super) fn get(&self, hash: &str) -> Option<Caller> {
        if !self.trusted.load(Ordering::Acquire) {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(hash).filter(|(_, at)| at.elapsed() < self.ttl).map(|(caller, _)| caller.clone())
    }

    /// Marks the start of a database lookup; pass it to [`KeyCache::put`].
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps a looked-up caller, unless a deletion happened since `generation`.
    pub(super) fn put(&self, hash: String, caller: Caller, generation: u64) {
        if !self.trusted.load(Ordering::Acquire) {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock that `forget` takes too, so a deletion cannot slip between.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(hash, (caller, Instant::now()));
    }

    /// Forgets the key with this id (deleted here or on another instance).
    pub(super) fn forget(&self, key_id: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|_, (caller, _)| caller.key_id != key_id);
    }

    /// Forgets everything and sets whether the cache may be used from now on.
    fn reset(&self, trusted: bool) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.trusted.store(trusted, Ordering::Release);
        entries.clear();
    }

    /// Starts hearing other instances' deletions, once; it ends when the cache is dropped.
    pub(super) fn listen(self: &Arc<Self>, pool: &PgPool) {
        self.listening.start(pool, CHANNEL, || Deletions(Arc::downgrade(self)));
    }
}

struct Deletions(Weak<KeyCache>);

impl super::notices::Hearer for Deletions {
    fn word(&mut self, key_id: &str) -> bool {
        self.0.upgrade().map(|cache| cache.forget(key_id)).is_some()
    }

    fn listening(&mut self) {
        if let Some(cache) = self.0.upgrade() {
            cache.reset(true);
        }
    }

    fn gap(&mut self) {
        if let Some(cache) = self.0.upgrade() {
            cache.reset(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::tenant::Role;

    fn caller(key_id: &str) -> Caller {
        Caller { role: Role::Member, tenant_id: "t1".to_string().into(), key_id: key_id.into() }
    }

    #[test]
    fn a_deleted_key_is_forgotten() {
        let cache = KeyCache::local();
        cache.put("h1".into(), caller("k1"), cache.generation());
        cache.put("h2".into(), caller("k2"), cache.generation());
        cache.forget("k1");
        assert!(cache.get("h1").is_none());
        assert_eq!(cache.get("h2").map(|c| c.key_id), Some("k2".to_string()));
    }

    #[test]
    fn a_lookup_that_raced_a_deletion_is_not_kept() {
        let cache = KeyCache::local();
        let before = cache.generation();
        cache.forget("k1");
        cache.put("h1".into(), caller("k1"), before);
        assert!(cache.get("h1").is_none());
    }

    #[test]
    fn a_shared_cache_keeps_nothing_until_it_hears_deletions() {
        let cache = KeyCache::shared();
        cache.put("h1".into(), caller("k1"), cache.generation());
        assert!(cache.get("h1").is_none());
        cache.reset(true);
        cache.put("h1".into(), caller("k1"), cache.generation());
        assert!(cache.get("h1").is_some());
        // A gap in listening empties it and stops it until listening resumes.
        cache.reset(false);
        assert!(cache.get("h1").is_none());
        cache.put("h1".into(), caller("k1"), cache.generation());
        assert!(cache.get("h1").is_none());
    }
}
