//! Display names of Atlassian accounts, as the replaced automator reported them: each
//! account looked up once per run, and kept a while per integration in a bounded cache that
//! this instance's runs share. A lookup that fails leaves the account id as the name.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::trackers::TrackerFuture;

/// Where names come from: a site's user lookup.
pub(crate) trait UserLookup: Sync {
    fn user_name<'a>(&'a self, account_id: &'a str) -> TrackerFuture<'a, String>;
}

impl UserLookup for crate::trackers::jira::Jira {
    fn user_name<'a>(&'a self, account_id: &'a str) -> TrackerFuture<'a, String> {
        Box::pin(crate::trackers::jira::Jira::user_name(self, account_id))
    }
}

/// How long a name is trusted: people rarely rename themselves, and a stale name only
/// labels a result.
const TTL: Duration = Duration::from_secs(3600);
/// The most names kept, whatever the runs meet.
const CAPACITY: usize = 10_000;

/// Names by (integration, account id), with when they were looked up.
pub(crate) struct NameCache {
    entries: Mutex<HashMap<(String, String), (String, Instant)>>,
    ttl: Duration,
    capacity: usize,
}

impl Default for NameCache {
    fn default() -> Self {
        NameCache::new(TTL, CAPACITY)
    }
}

impl NameCache {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        NameCache { entries: Mutex::new(HashMap::new()), ttl, capacity: capacity.max(1) }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), (String, Instant)>> {
        // A panic elsewhere while holding the lock leaves a map that is still a valid cache.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, integration: &str, account: &str) -> Option<String> {
        let entries = self.entries();
        let (name, at) = entries.get(&(integration.to_string(), account.to_string()))?;
        (at.elapsed() < self.ttl).then(|| name.clone())
    }

    fn put(&self, integration: &str, account: &str, name: &str) {
        let mut entries = self.entries();
        if entries.len() >= self.capacity {
            entries.retain(|_, (_, at)| at.elapsed() < self.ttl);
        }
        if entries.len() >= self.capacity {
            let oldest = entries.iter().min_by_key(|(_, (_, at))| *at).map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert((integration.to_string(), account.to_string()), (name.to_string(), Instant::now()));
    }

    /// The name of each of `accounts` by its id: from the cache, else from `lookup` (once per
    /// account, however often it is named). A failed lookup names the account by its id, is
    /// logged, and is not cached, so a later run asks again. Once the site itself fails
    /// (not a 4xx about one account), the rest are not asked: a sync never waits on names.
    pub async fn names<'a>(
        &self,
        integration: &str,
        accounts: impl IntoIterator<Item = &'a str>,
        lookup: &impl UserLookup,
    ) -> HashMap<String, String> {
        let mut names: HashMap<String, String> = HashMap::new();
        let mut site_down = false;
        for account in accounts {
            if account.is_empty() || names.contains_key(account) {
                continue;
            }
            let cached = self.get(integration, account);
            let name = match cached {
                Some(name) => name,
                None if site_down => account.to_string(),
                None => match lookup.user_name(account).await {
                    Ok(name) => {
                        self.put(integration, account, &name);
                        name
                    }
                    Err(e) => {
                        site_down = !e.is_permanent();
                        tracing::warn!(integration, account, error = %e, skipping_the_rest = site_down,
                            "user lookup failed: the account id stands for the display name");
                        account.to_string()
                    }
                },
            };
            names.insert(account.to_string(), name);
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::jobs::JobError;

    /// Names every account but `gone` (unknown) and `down` (the site fails), counting the
    /// questions.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    impl UserLookup for Counting {
        fn user_name<'a>(&'a self, account_id: &'a str) -> TrackerFuture<'a, String> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                match account_id {
                    "gone" => Err(JobError::Permanent("Jira answered 404".into())),
                    "down" => Err(JobError::Retry("Jira answered 503".into())),
                    other => Ok(format!("Name of {other}")),
                }
            })
        }
    }

    #[tokio::test]
    async fn a_failing_site_is_not_asked_again_within_the_call() {
        let cache = NameCache::default();
        let lookup = Counting::default();
        cache.names("j", ["a"], &lookup).await;
        let names = cache.names("j", ["down", "b", "a", "c"], &lookup).await;
        assert_eq!((names["down"].as_str(), names["b"].as_str(), names["c"].as_str()), ("down", "b", "c"));
        assert_eq!(names["a"], "Name of a", "what is cached is still named");
        assert_eq!(lookup.0.load(Ordering::SeqCst), 2, "a once, then down; b and c not asked");
    }

    #[tokio::test]
    async fn each_account_is_looked_up_once_and_failures_fall_back_to_the_id() {
        let cache = NameCache::default();
        let lookup = Counting::default();
        let calls = || lookup.0.load(Ordering::SeqCst);
        let names = cache.names("jira-1", ["a", "b", "a", "gone", "a"], &lookup).await;
        assert_eq!(names["a"], "Name of a");
        assert_eq!(names["gone"], "gone");
        assert_eq!(calls(), 3, "a, b and gone once each");

        let again = cache.names("jira-1", ["a", "b", "gone"], &lookup).await;
        assert_eq!(again["b"], "Name of b");
        assert_eq!(calls(), 4, "only the failed one is asked again");
        cache.names("jira-2", ["a"], &lookup).await;
        assert_eq!(calls(), 5, "each integration has its own names");
    }

    #[tokio::test]
    async fn names_expire_and_the_cache_stays_bounded() {
        let cache = NameCache::new(Duration::from_millis(30), 2);
        cache.names("j", ["a", "b", "c"], &Counting::default()).await;
        assert_eq!(cache.entries().len(), 2);
        assert!(cache.get("j", "c").is_some(), "the newest stays");
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(cache.get("j", "c").is_none(), "expired");
    }
}
