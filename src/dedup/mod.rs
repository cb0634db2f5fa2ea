//! Duplicate detection: does an existing task of the project already describe this work?
//!
//! Each project's tasks are kept in an in-memory [`Index`] that every search first brings
//! up to date from the database (tasks changed since the last look, by any instance), so a
//! task created a moment ago elsewhere is seen. The decision score is the best candidate's
//! similarity less a quarter of the runner-up's: a request that resembles many tasks a
//! little is less likely a duplicate of one than a request that resembles one task clearly.
//! A confident candidate is still not merged when a key detail of the request differs from
//! the candidate's ([`details`]: "… into Japanese" is not "… into German").

pub mod details;
pub mod eval;
mod index;
pub mod text;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

pub use details::Conflict;
pub use index::{Index, Scored};

use crate::domain::id::{ProjectId, TenantId};
use crate::domain::message::Candidate;
use crate::store::{Result, Store};

/// How much of the runner-up's similarity is subtracted from the best one's.
pub const MARGIN: f64 = 0.25;
/// Decision scores at or above this are duplicates (chosen on the development set, see
/// docs/benchmarks.md).
pub const DEFAULT_THRESHOLD: f64 = 0.42;
/// Candidates reported with a decision.
pub const REPORTED: usize = 5;
/// Changes are re-read this far back, so a write that committed late is not missed.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(2);

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub threshold: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { threshold: DEFAULT_THRESHOLD }
    }
}

/// The best candidates and the score the decision is made on.
#[derive(Debug, Clone)]
pub struct Decision {
    pub candidates: Vec<Scored>,
    pub score: f64,
    /// True only for an automatic merge: the score reaches the threshold and no key detail
    /// of the request conflicts with the best candidate's.
    pub is_duplicate: bool,
    /// The key detail that kept a confident candidate from being merged.
    pub conflict: Option<Conflict>,
}

impl Settings {
    /// Searches `index` and decides, exactly as the live check does.
    pub fn decide(&self, index: &Index, query: &str) -> Decision {
        let candidates = index.search(query, REPORTED.max(2));
        let best = candidates.first().map(|c| c.similarity).unwrap_or(0.0);
        let second = candidates.get(1).map(|c| c.similarity).unwrap_or(0.0);
        let score = best - MARGIN * second;
        let confident = !candidates.is_empty() && score >= self.threshold;
        let conflict = candidates.first().filter(|_| confident).and_then(|c| details::conflict(query, &c.title));
        Decision { is_duplicate: confident && conflict.is_none(), conflict, candidates, score }
    }
}

struct ProjectIndex {
    index: Index,
    /// The version (updated_at) of each indexed task.
    versions: HashMap<String, DateTime<Utc>>,
    /// The newest (updated_at, id) read from the database.
    seen: Option<(DateTime<Utc>, String)>,
}

/// Live duplicate search over the store's tasks.
pub struct Finder {
    store: Store,
    settings: Settings,
    projects: Mutex<HashMap<String, Arc<tokio::sync::Mutex<ProjectIndex>>>>,
}

impl Finder {
    pub fn new(store: Store, settings: Settings) -> Arc<Self> {
        Arc::new(Finder { store, settings, projects: Mutex::new(HashMap::new()) })
    }

    fn project(&self, project_id: &ProjectId) -> Arc<tokio::sync::Mutex<ProjectIndex>> {
        let mut projects = self.projects.lock().unwrap_or_else(|e| e.into_inner());
        projects
            .entry(project_id.to_string())
            .or_insert_with(|| {
                let empty = ProjectIndex { index: Index::new(), versions: HashMap::new(), seen: None };
                Arc::new(tokio::sync::Mutex::new(empty))
            })
            .clone()
    }

    /// Candidates for `text` among the project's tasks, best first, and the decision.
    pub async fn decide(
        &self,
        tenant_id: &TenantId,
        project_id: &ProjectId,
        text: &str,
    ) -> Result<(Vec<Candidate>, Decision)> {
        let project = self.project(project_id);
        let mut guard = project.lock().await;
        self.refresh(tenant_id, project_id, &mut guard).await?;
        let mut decision = self.settings.decide(&guard.index, text);
        // Tasks deleted since they were indexed drop out here.
        let ids: Vec<String> = decision.candidates.iter().map(|c| c.id.clone()).collect();
        let existing = self.store.existing_task_ids(tenant_id, &ids).await?;
        if existing.len() != ids.len() {
            for gone in ids.iter().filter(|id| !existing.contains(*id)) {
                guard.index.remove(gone);
                guard.versions.remove(gone);
            }
            decision = self.settings.decide(&guard.index, text);
        }
        let candidates = decision
            .candidates
            .iter()
            .take(REPORTED)
            .map(|c| Candidate { task_id: c.id.as_str().into(), title: c.title.clone(), score: round(c.similarity) })
            .collect();
        Ok((candidates, decision))
    }

    /// Reads the tasks changed since the last look into the index. The last
    /// [`OVERLAP`] is read again, so a write that committed after a later one is not missed;
    /// rows already indexed at their version are skipped.
    async fn refresh(&self, tenant_id: &TenantId, project_id: &ProjectId, project: &mut ProjectIndex) -> Result<()> {
        const BATCH: usize = 5000;
        let mut cursor = project.seen.as_ref().map(|(at, _)| (*at - OVERLAP, String::new()));
        loop {
            let batch = self.store.tasks_changed_since(tenant_id, project_id, cursor.as_ref(), BATCH).await?;
            let n = batch.len();
            for t in batch {
                let key = (t.updated_at, t.id.into_string());
                if project.versions.get(&key.1) != Some(&key.0) {
                    project.index.upsert(&key.1, &t.title, &t.description);
                    project.versions.insert(key.1.clone(), key.0);
                }
                if project.seen.as_ref().is_none_or(|seen| key > *seen) {
                    project.seen = Some(key.clone());
                }
                cursor = Some(key);
            }
            if n < BATCH {
                return Ok(());
            }
        }
    }
}

pub fn round(x: f64) -> f64 {
    (x * 1_000_000.0).round() / 1_000_000.0
}
