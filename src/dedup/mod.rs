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
pub mod judge;
pub mod semantic;
pub mod text;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

pub use details::Conflict;
pub use index::{Index, Scored};

use crate::domain::id::{ProjectId, TenantId};
use crate::domain::message::Candidate;
use crate::llm::embed::Embedder;
use crate::store::{Result, Store, StoreError, StoredVector};

/// How much of the runner-up's similarity is subtracted from the best one's.
pub const MARGIN: f64 = 0.25;
/// Decision scores at or above this are merged on their own, when no key detail conflicts
/// (chosen on the development sets for precision: a wrong merge loses a request; see
/// docs/benchmarks.md).
pub const DEFAULT_MERGE_AT: f64 = 0.65;
/// Decision scores at or above this (below [`DEFAULT_MERGE_AT`], or with a conflicting
/// detail) make a new task that names its likely duplicates for a person to merge.
pub const DEFAULT_SUGGEST_AT: f64 = 0.30;
/// Candidates reported with a decision.
pub const REPORTED: usize = 5;
/// Changes are re-read this far back, so a write that committed late is not missed.
const OVERLAP: chrono::Duration = chrono::Duration::seconds(2);

/// The bands of the decision score: merged at or above `merge_at`, suggested at or above
/// `suggest_at`, new below. A project may set its own (see `Project::duplicate_merge_at`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    pub merge_at: f64,
    pub suggest_at: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { merge_at: DEFAULT_MERGE_AT, suggest_at: DEFAULT_SUGGEST_AT }
    }
}

impl From<crate::domain::project::DuplicateBands> for Settings {
    fn from(b: crate::domain::project::DuplicateBands) -> Self {
        Settings { merge_at: b.merge_at, suggest_at: b.suggest_at }
    }
}

/// What a request is, next to the project's tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The same work as the best candidate, surely: merged into it.
    Duplicate,
    /// Perhaps the same work: a new task, with its candidates kept for a person to judge.
    PossibleDuplicate,
    New,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Duplicate => "duplicate",
            Verdict::PossibleDuplicate => "possible_duplicate",
            Verdict::New => "new",
        }
    }
}

/// The best candidates and the score the decision is made on.
#[derive(Debug, Clone)]
pub struct Decision {
    pub candidates: Vec<Scored>,
    pub score: f64,
    /// `Duplicate` only when the score reaches the merge band and no key detail of the
    /// request conflicts with the best candidate's; such a conflict makes a confident
    /// candidate a possible duplicate at most.
    pub verdict: Verdict,
    /// The key detail that kept a confident candidate from being merged.
    pub conflict: Option<Conflict>,
}

impl Decision {
    /// Whether the request is merged into the best candidate on its own.
    pub fn is_duplicate(&self) -> bool {
        self.verdict == Verdict::Duplicate
    }

    /// The candidates kept with the request's outcome, in the decision's order.
    pub fn reported(&self) -> Vec<Candidate> {
        self.candidates
            .iter()
            .take(REPORTED)
            .map(|c| Candidate { task_id: c.id.as_str().into(), title: c.title.clone(), score: round(c.similarity) })
            .collect()
    }
}

impl Settings {
    /// Searches `index` and decides, exactly as the live check does.
    pub fn decide(&self, index: &Index, query: &str) -> Decision {
        let candidates = index.search(query, REPORTED.max(2));
        let best = candidates.first().map(|c| c.similarity).unwrap_or(0.0);
        let second = candidates.get(1).map(|c| c.similarity).unwrap_or(0.0);
        let score = best - MARGIN * second;
        let found = !candidates.is_empty();
        let confident = found && score >= self.merge_at;
        let conflict = candidates.first().filter(|_| confident).and_then(|c| details::conflict(query, &c.title));
        let verdict = if confident && conflict.is_none() {
            Verdict::Duplicate
        } else if found && (confident || score >= self.suggest_at) {
            Verdict::PossibleDuplicate
        } else {
            Verdict::New
        };
        Decision { verdict, conflict, candidates, score }
    }
}

#[derive(Default)]
struct ProjectIndex {
    index: Index,
    /// The version (updated_at) of each indexed task.
    versions: HashMap<String, DateTime<Utc>>,
    /// The newest (updated_at, id) read from the database.
    seen: Option<(DateTime<Utc>, String)>,
    /// With embeddings: each task's normalised vector.
    vectors: HashMap<String, Vec<f32>>,
    /// With embeddings: the tasks whose vector is missing or out of date, with their text.
    unembedded: HashMap<String, String>,
}

impl ProjectIndex {
    fn forget(&mut self, id: &str) {
        self.index.remove(id);
        self.versions.remove(id);
        self.vectors.remove(id);
        self.unembedded.remove(id);
    }
}

/// The semantic candidate source: an embeddings server and the cosine from which a task is
/// suggested ([`semantic`]).
pub struct Semantic {
    pub embedder: Embedder,
    pub suggest_at: f64,
}

/// Tasks embedded during one search at most, so that a project's first search after a
/// start (or a model change) is not held up by all of its tasks: the rest follow in later
/// searches, 32 to a call.
const EMBED_PER_SEARCH: usize = 256;
const EMBED_BATCH: usize = 32;

/// Live duplicate search over the store's tasks.
pub struct Finder {
    store: Store,
    settings: Settings,
    semantic: Option<Semantic>,
    projects: Mutex<HashMap<String, Arc<tokio::sync::Mutex<ProjectIndex>>>>,
}

impl Finder {
    pub fn new(store: Store, settings: Settings) -> Arc<Self> {
        Self::with_semantic(store, settings, None)
    }

    /// A finder that also looks for candidates by meaning, through `semantic`'s embeddings.
    pub fn with_semantic(store: Store, settings: Settings, semantic: Option<Semantic>) -> Arc<Self> {
        Arc::new(Finder { store, settings, semantic, projects: Mutex::new(HashMap::new()) })
    }

    /// Whether candidates are also found by meaning (an embeddings server is configured).
    pub fn finds_by_meaning(&self) -> bool {
        self.semantic.is_some()
    }

    /// The vector of a request's `text` for [`Finder::decide`], when embeddings are
    /// configured and the server answers (a failure is logged; the words alone decide).
    pub async fn embed_query(&self, text: &str) -> Option<Vec<f32>> {
        let semantic = self.semantic.as_ref()?;
        match semantic.embedder.embed(&[text.to_string()]).await {
            Ok(mut vectors) => vectors.pop().map(semantic::normalized),
            Err(err) => {
                tracing::warn!(error = %err, "embeddings failed; duplicates are found by their words alone");
                None
            }
        }
    }

    fn project(&self, project_id: &ProjectId) -> Arc<tokio::sync::Mutex<ProjectIndex>> {
        let mut projects = self.projects.lock().unwrap_or_else(|e| e.into_inner());
        projects.entry(project_id.to_string()).or_default().clone()
    }

    /// The service's default bands, for a project that sets none of its own.
    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// Candidates for `text` among the project's tasks, best first, and the decision made
    /// with `bands`; with `vector` (the text's, from [`Finder::embed_query`]), tasks near it
    /// in meaning are suggested too ([`semantic`]).
    pub async fn decide(
        &self,
        tenant_id: &TenantId,
        project_id: &ProjectId,
        text: &str,
        bands: Settings,
        vector: Option<&[f32]>,
    ) -> Result<(Vec<Candidate>, Decision)> {
        let project = self.project(project_id);
        let mut guard = project.lock().await;
        self.refresh(tenant_id, project_id, &mut guard).await?;
        let mut decision = bands.decide(&guard.index, text);
        // Tasks deleted since they were indexed drop out here.
        let ids: Vec<String> = decision.candidates.iter().map(|c| c.id.clone()).collect();
        let existing = self.store.existing_task_ids(tenant_id, &ids).await?;
        if existing.len() != ids.len() {
            for gone in ids.iter().filter(|id| !existing.contains(*id)) {
                guard.forget(gone);
            }
            decision = bands.decide(&guard.index, text);
        }
        if let (Some(semantic), Some(vector)) = (&self.semantic, vector) {
            self.catch_up(tenant_id, &mut guard, semantic).await;
            let near = semantic::nearest(vector, guard.vectors.iter(), semantic.suggest_at, REPORTED);
            let ids: Vec<String> = near.iter().map(|(id, _)| id.clone()).collect();
            let existing = self.store.existing_task_ids(tenant_id, &ids).await?;
            let mut found = Vec::new();
            for (id, cosine) in near {
                match guard.index.title(&id) {
                    Some(title) if existing.contains(&id) => found.push((id.clone(), title.to_string(), cosine)),
                    _ => guard.forget(&id),
                }
            }
            semantic::add(&mut decision, found);
        }
        Ok((decision.reported(), decision))
    }

    /// Gives tasks whose vector is missing or out of date one: the stored one when it was made
    /// by this model from the same text, else a new one from the embeddings server (stored).
    /// A failure is logged and left for a later search.
    async fn catch_up(&self, tenant_id: &TenantId, project: &mut ProjectIndex, semantic: &Semantic) {
        if project.unembedded.is_empty() {
            return;
        }
        let model = semantic.embedder.model();
        let ids: Vec<String> = project.unembedded.keys().cloned().collect();
        for chunk in ids.chunks(500) {
            let wanted: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let stored = match self.store.task_vectors(tenant_id, &wanted).await {
                Ok(stored) => stored,
                Err(err) => return tracing::warn!(error = %err, "cannot read task vectors"),
            };
            for s in stored {
                let Some(text) = project.unembedded.get(&s.task_id) else { continue };
                if s.model != model || s.text_key != crate::domain::message::text_key(text) {
                    continue;
                }
                if let Some(v) = semantic::decode(&s.vector) {
                    project.unembedded.remove(&s.task_id);
                    project.vectors.insert(s.task_id, semantic::normalized(v));
                }
            }
        }
        let mut todo: Vec<(String, String)> = project.unembedded.iter().map(|(i, t)| (i.clone(), t.clone())).collect();
        todo.sort();
        todo.truncate(EMBED_PER_SEARCH);
        for batch in todo.chunks(EMBED_BATCH) {
            let texts: Vec<String> = batch.iter().map(|(_, t)| t.clone()).collect();
            let vectors = match semantic.embedder.embed(&texts).await {
                Ok(vectors) => vectors,
                Err(err) => {
                    return tracing::warn!(error = %err, "embeddings failed; tasks stay without vectors for now");
                }
            };
            for ((id, text), v) in batch.iter().zip(vectors) {
                let v = semantic::normalized(v);
                let row = StoredVector {
                    task_id: id.clone(),
                    model: model.to_string(),
                    text_key: crate::domain::message::text_key(text),
                    vector: semantic::encode(&v),
                };
                match self.store.save_task_vector(tenant_id, &row).await {
                    Ok(()) | Err(StoreError::NotFound) => {}
                    Err(err) => tracing::warn!(error = %err, task_id = %id, "cannot store a task vector"),
                }
                project.unembedded.remove(id);
                project.vectors.insert(id.clone(), v);
            }
        }
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
                    if self.semantic.is_some() {
                        // Its text may have changed: its vector is made again (or read back).
                        project.vectors.remove(&key.1);
                        project.unembedded.insert(key.1.clone(), semantic::task_text(&t.title, &t.description));
                    }
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
