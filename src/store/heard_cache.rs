//! An in-process cache of rows read often and changed rarely (API keys' callers, webhooks'
//! integrations), so that a busy caller's requests do not each read the database.
//!
//! A change must take effect at once, on every instance. The instance that makes it
//! forgets the entries it touches itself; on PostgreSQL the change also sends `NOTIFY` in
//! its transaction ([`tell!`]) and every instance listens. While that listener is not
//! connected nothing is cached, and when it (re)connects the cache starts empty, so a missed
//! word cannot keep a changed row alive. Each entry also expires: after [`LOCAL_TTL`] on
//! SQLite, whose file another process may share without any way to hear of its changes,
//! after [`SHARED_TTL`] on PostgreSQL as a bound for anything unforeseen.
//!
//! A lookup that raced with a change must not put the old row back: each change bumps a
//! generation, and a lookup only stores its answer if no change happened since it read the
//! database.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::PgPool;

/// How long a cached entry is trusted without another look at the database.
pub(super) const LOCAL_TTL: Duration = Duration::from_secs(1);
pub(super) const SHARED_TTL: Duration = Duration::from_secs(30);

/// Past this many entries the cache starts over rather than grow without bound.
const CAPACITY: usize = 10_000;

/// Whether a cached value is about what a word names (the id a change was sent with).
pub(super) type Names<V> = fn(&V, &str) -> bool;

pub(super) struct HeardCache<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    generation: AtomicU64,
    ttl: Duration,
    /// Whether changes on other instances are heard (always, without PostgreSQL).
    trusted: AtomicBool,
    listening: super::notices::Listening,
    names: Names<V>,
}

impl<K: Eq + Hash + Send + 'static, V: Clone + Send + 'static> HeardCache<K, V> {
    /// A cache for SQLite: this process hears only its own changes.
    pub(super) fn local(names: Names<V>) -> Self {
        Self::new(true, LOCAL_TTL, names)
    }

    /// A cache that trusts nothing until its listener runs (PostgreSQL).
    pub(super) fn shared(names: Names<V>) -> Self {
        Self::new(false, SHARED_TTL, names)
    }

    fn new(trusted: bool, ttl: Duration, names: Names<V>) -> Self {
        HeardCache {
            entries: Mutex::default(),
            generation: AtomicU64::new(0),
            ttl,
            trusted: AtomicBool::new(trusted),
            listening: Default::default(),
            names,
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<K, (V, Instant)>> {
        // A poisoned lock only means another caller panicked; the map stays usable.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value under `key`, if cached and fresh.
    pub(super) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        if !self.trusted.load(Ordering::Acquire) {
            return None;
        }
        self.entries().get(key).filter(|(_, at)| at.elapsed() < self.ttl).map(|(value, _)| value.clone())
    }

    /// Marks the start of a database lookup; pass it to [`HeardCache::put`].
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Keeps a looked-up value, unless a change happened since `generation`.
    pub(super) fn put(&self, key: K, value: V, generation: u64) {
        if !self.trusted.load(Ordering::Acquire) {
            return;
        }
        let mut entries = self.entries();
        // Checked under the lock that `forget` takes too, so a change cannot slip between.
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.clear();
        }
        entries.insert(key, (value, Instant::now()));
    }

    /// Forgets every entry about what `word` names (changed here or on another instance).
    pub(super) fn forget(&self, word: &str) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        let names = self.names;
        entries.retain(|_, (value, _)| !names(value, word));
    }

    /// Forgets everything and sets whether the cache may be used from now on.
    fn reset(&self, trusted: bool) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.trusted.store(trusted, Ordering::Release);
        entries.clear();
    }

    /// Starts hearing other instances' changes on `channel`, once; it ends when the cache is
    /// dropped.
    pub(super) fn listen(self: &Arc<Self>, pool: &PgPool, channel: &'static str) {
        self.listening.start(pool, channel, || Changes(Arc::downgrade(self)));
    }
}

/// Sends `$word` on `$channel` inside the transaction `$tx` when the store is on PostgreSQL:
/// every instance's cache hears it once the change is committed, and not before.
macro_rules! tell {
    ($store:expr, $tx:expr, $channel:expr, $word:expr) => {
        if $store.backend() == crate::store::Backend::Postgres {
            crate::store::query("SELECT pg_notify($1, $2)").bind($channel).bind($word).execute($tx).await?;
        }
    };
}
pub(super) use tell;

struct Changes<K, V>(Weak<HeardCache<K, V>>);

impl<K: Eq + Hash + Send + 'static, V: Clone + Send + 'static> super::notices::Hearer for Changes<K, V> {
    fn word(&mut self, word: &str) -> bool {
        self.0.upgrade().map(|cache| cache.forget(word)).is_some()
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

    /// Values are `(id, group)`; a word names either.
    fn names(value: &(&'static str, &'static str), word: &str) -> bool {
        value.0 == word || value.1 == word
    }

    #[test]
    fn a_changed_entry_is_forgotten() {
        let cache = HeardCache::local(names);
        cache.put("h1".to_string(), ("k1", "g1"), cache.generation());
        cache.put("h2".to_string(), ("k2", "g1"), cache.generation());
        cache.put("h3".to_string(), ("k3", "g2"), cache.generation());
        cache.forget("k1");
        assert!(cache.get("h1").is_none());
        assert_eq!(cache.get("h2"), Some(("k2", "g1")));
        cache.forget("g1");
        assert!(cache.get("h2").is_none());
        assert_eq!(cache.get("h3"), Some(("k3", "g2")));
    }

    #[test]
    fn a_lookup_that_raced_a_change_is_not_kept() {
        let cache = HeardCache::local(names);
        let before = cache.generation();
        cache.forget("k1");
        cache.put("h1".to_string(), ("k1", "g1"), before);
        assert!(cache.get("h1").is_none());
    }

    #[test]
    fn a_shared_cache_keeps_nothing_until_it_hears_changes() {
        let cache = HeardCache::shared(names);
        cache.put("h1".to_string(), ("k1", "g1"), cache.generation());
        assert!(cache.get("h1").is_none());
        cache.reset(true);
        cache.put("h1".to_string(), ("k1", "g1"), cache.generation());
        assert!(cache.get("h1").is_some());
        // A gap in listening empties it and stops it until listening resumes.
        cache.reset(false);
        assert!(cache.get("h1").is_none());
        cache.put("h1".to_string(), ("k1", "g1"), cache.generation());
        assert!(cache.get("h1").is_none());
    }

    #[test]
    fn an_entry_expires() {
        let cache = HeardCache::new(true, Duration::from_millis(20), names);
        cache.put("h1".to_string(), ("k1", "g1"), cache.generation());
        assert!(cache.get("h1").is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert!(cache.get("h1").is_none());
    }
}
