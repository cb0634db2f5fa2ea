//! Sync runs between trackers: a Confluence page tree's open tasks become Jira issues under
//! each page's work package, and a run can be undone. A run is a queued job working from a
//! plan fixed before its first write and a journal of every step it completed, so a
//! restart at any moment finishes the run without doing a step twice.

pub mod confluence_tasks;
pub mod generate;
pub mod import;
pub mod jira_project;
mod names;
pub mod pace;
pub mod poll;
pub mod preview;
mod steps;
pub mod tracker_undo;
pub mod undo;

use std::collections::HashMap;

use std::sync::Arc;

use serde_json::{Value, json};

use crate::domain::id::{IntegrationId, ProjectId, TenantId};
use crate::domain::integration::{IntegrationStatus, IntegrationType};
use crate::domain::sync_run::{SyncRunKind, SyncRunStatus};
use crate::integrations::{IntegrationError, Integrations};
use crate::jobs::{JobContext, JobError, JobKind, Registry};
use crate::store::{NewChange, NewRun, Store, StoreError, SyncRun};
use crate::trackers::Trackers;
use crate::trackers::confluence::Confluence;
use crate::trackers::jira::Jira;

/// A job that carries out sync run `run_id`, one type per kind of run.
macro_rules! run_job {
    ($(#[$doc:meta])* $name:ident = $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            pub run_id: String,
        }

        impl JobKind for $name {
            const KIND: &'static str = $kind;
            /// A run may wait out long rate limits; its steps are journaled, so retries are cheap.
            const MAX_ATTEMPTS: i32 = 12;

            fn idempotency_key(&self) -> String {
                format!("sync:{}", self.run_id)
            }
        }
    };
}

run_job!(
    /// A Confluence task sync run.
    ConfluenceTaskSync = "sync.confluence_tasks"
);
run_job!(
    /// A Jira project mirror run.
    JiraProjectSync = "sync.jira_project"
);
run_job!(
    /// The undo of a task sync or project mirror run.
    UndoSync = "sync.undo"
);

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Invalid(String),
    #[error("the project has no active {0} integration")]
    NotConnected(&'static str),
    #[error(
        "sync run {id} is a {kind} run that is {status}: only a finished task sync, project mirror or tracker run can be undone"
    )]
    NotUndoable { id: String, kind: String, status: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Integration(#[from] IntegrationError),
}

pub(crate) struct Shared {
    integrations: Integrations,
    http: reqwest::Client,
    /// Display names of Atlassian accounts, per Jira integration, for every run here.
    names: names::NameCache,
}

/// Registers the sync jobs: task syncs, project mirrors and their undo; tracker imports,
/// the undo of tracker runs and, every `poll` when set, tracker polls.
pub fn register(
    registry: &mut Registry,
    integrations: Integrations,
    http: reqwest::Client,
    trackers: &Arc<Trackers>,
    poll: Option<std::time::Duration>,
) {
    if let Some(interval) = poll {
        let for_polls = trackers.clone();
        registry.handle(move |ctx: JobContext, job: poll::PollTracker| {
            let shared = for_polls.clone();
            async move { poll::run(&shared, ctx, job, interval).await }
        });
    }
    let for_undo = trackers.clone();
    registry.handle(move |ctx: JobContext, job: tracker_undo::UndoTrackerRun| {
        let shared = for_undo.clone();
        async move { tracker_undo::run(&shared, ctx, &job.run_id).await }
    });
    let for_imports = trackers.clone();
    registry.handle(move |ctx: JobContext, job: import::ImportPage| {
        let shared = for_imports.clone();
        async move { import::run(&shared, ctx, job).await }
    });
    let shared = Arc::new(Shared { integrations, http, names: names::NameCache::default() });
    let for_sync = shared.clone();
    registry.handle(move |ctx: JobContext, job: ConfluenceTaskSync| {
        let shared = for_sync.clone();
        async move { confluence_tasks::run(&shared, ctx, &job.run_id).await }
    });
    let for_projects = shared.clone();
    registry.handle(move |ctx: JobContext, job: JiraProjectSync| {
        let shared = for_projects.clone();
        async move { jira_project::run(&shared, ctx, &job.run_id).await }
    });
    registry.handle(move |ctx: JobContext, job: UndoSync| {
        let shared = shared.clone();
        async move { undo::run(&shared, ctx, &job.run_id).await }
    });
}

/// Records run `new` with a new id and queues the job `of` makes of that id (the run's
/// kind of job), in one transaction.
async fn start<J: JobKind>(
    store: &Store,
    tenant_id: &TenantId,
    new: &NewRun<'_>,
    of: fn(String) -> J,
) -> Result<SyncRun, StoreError> {
    let id = crate::domain::new_id();
    store.create_sync_run(tenant_id, &id, new, &of(id.clone()).job()).await
}

/// A project-wide run of `kind`.
fn run<'a>(kind: SyncRunKind, project_id: &'a ProjectId, request: Value) -> NewRun<'a> {
    NewRun { kind, project_id, task_id: None, request }
}

/// The project's active integration of `kind`.
async fn integration(
    integrations: &Integrations,
    tenant_id: &TenantId,
    project_id: &ProjectId,
    kind: IntegrationType,
) -> Result<IntegrationId, SyncError> {
    integrations
        .list(tenant_id, project_id)
        .await?
        .into_iter()
        .find(|i| i.kind == kind && i.status == IntegrationStatus::Active)
        .map(|i| i.id)
        .ok_or(SyncError::NotConnected(kind.as_str()))
}

/// Starts a Confluence task sync of `project_id` (checked to have Jira and Confluence).
pub async fn start_task_sync(
    store: &Store,
    integrations: &Integrations,
    tenant_id: &TenantId,
    project_id: &ProjectId,
    request: &confluence_tasks::Request,
) -> Result<SyncRun, SyncError> {
    request.validate()?;
    integration(integrations, tenant_id, project_id, IntegrationType::Jira).await?;
    integration(integrations, tenant_id, project_id, IntegrationType::Confluence).await?;
    let request = serde_json::to_value(request).map_err(|e| SyncError::Invalid(e.to_string()))?;
    let new = run(SyncRunKind::ConfluenceTasks, project_id, request);
    Ok(start(store, tenant_id, &new, |run_id| ConfluenceTaskSync { run_id }).await?)
}

/// Starts mirroring a Jira project into a Confluence page tree.
pub async fn start_project_sync(
    store: &Store,
    integrations: &Integrations,
    tenant_id: &TenantId,
    project_id: &ProjectId,
    request: &jira_project::ProjectRequest,
) -> Result<SyncRun, SyncError> {
    request.validate()?;
    integration(integrations, tenant_id, project_id, IntegrationType::Jira).await?;
    integration(integrations, tenant_id, project_id, IntegrationType::Confluence).await?;
    let request = serde_json::to_value(request).map_err(|e| SyncError::Invalid(e.to_string()))?;
    let new = run(SyncRunKind::JiraProject, project_id, request);
    Ok(start(store, tenant_id, &new, |run_id| JiraProjectSync { run_id }).await?)
}

/// Undoes a finished run: a task sync by its results, a project mirror by deleting the
/// pages it made and restoring those it updated, a tracker push by deleting what it made, a
/// tracker transition by moving the item back. A run of the last three undone already
/// answers with that undo.
pub async fn undo_run(
    store: &Store,
    integrations: &Integrations,
    tenant_id: &TenantId,
    run: &SyncRun,
) -> Result<SyncRun, SyncError> {
    match (run.kind, run.status) {
        (kind, SyncRunStatus::Done) if kind.is_tracker_run() => match &run.undone_by {
            Some(by) => Ok(store.sync_run(tenant_id, by).await?.ok_or(StoreError::NotFound)?),
            None => Ok(tracker_undo::start(store, tenant_id, run).await?),
        },
        (SyncRunKind::JiraProject, SyncRunStatus::Done) => match &run.undone_by {
            Some(by) => Ok(store.sync_run(tenant_id, by).await?.ok_or(StoreError::NotFound)?),
            None => {
                integration(integrations, tenant_id, &run.project_id, IntegrationType::Confluence).await?;
                let request = json!({"of": run.id, "kind": SyncRunKind::JiraProject});
                let undo = crate::store::NewRun {
                    kind: SyncRunKind::Undo,
                    project_id: &run.project_id,
                    task_id: None,
                    request,
                };
                Ok(start(store, tenant_id, &undo, |run_id| UndoSync { run_id }).await?)
            }
        },
        (SyncRunKind::ConfluenceTasks, SyncRunStatus::Done) => {
            let items = match run.results.clone() {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            start_undo(store, integrations, tenant_id, &run.project_id, Some(&run.id), items).await
        }
        _ => Err(SyncError::NotUndoable {
            id: run.id.clone(),
            kind: run.kind.as_str().to_string(),
            status: run.status.as_str().to_string(),
        }),
    }
}

/// Starts undoing `items` (what a task sync answered), of run `of` — when not given, the
/// tenant's run the items came from, if they name one — which is marked undone.
pub async fn start_undo(
    store: &Store,
    integrations: &Integrations,
    tenant_id: &TenantId,
    project_id: &ProjectId,
    of: Option<&str>,
    items: Vec<Value>,
) -> Result<SyncRun, SyncError> {
    let items = undo::Item::parse_all(items)?;
    integration(integrations, tenant_id, project_id, IntegrationType::Jira).await?;
    integration(integrations, tenant_id, project_id, IntegrationType::Confluence).await?;
    let of = match of {
        Some(of) => Some(of.to_string()),
        None => undo::run_of(store, tenant_id, project_id, &items).await?,
    };
    let request = json!({"of": of, "items": items});
    let new = run(SyncRunKind::Undo, project_id, request);
    Ok(start(store, tenant_id, &new, |run_id| UndoSync { run_id }).await?)
}

/// The project's Jira and Confluence clients (for tools outside a run).
pub async fn atlassian(
    integrations: &Integrations,
    http: reqwest::Client,
    tenant_id: &TenantId,
    project_id: &ProjectId,
) -> Result<(Jira, Confluence), String> {
    let mut clients = Vec::new();
    for kind in [IntegrationType::Jira, IntegrationType::Confluence] {
        let id = integration(integrations, tenant_id, project_id, kind).await.map_err(|e| e.to_string())?;
        clients.push(integrations.with_secrets(tenant_id, &id).await.map_err(|e| e.to_string())?);
    }
    let (confluence, jira) = (&clients[1], &clients[0]);
    Ok((
        Jira::new(http.clone(), &jira.0.settings, &jira.1).map_err(|e| e.to_string())?,
        Confluence::new(http, &confluence.0.settings, &confluence.1).map_err(|e| e.to_string())?,
    ))
}

/// The run's answer: `{"run_id", "request_id", "status", "results", "error"}`.
pub fn answer(run: &SyncRun) -> Value {
    json!({
        "run_id": run.id,
        "request_id": run.id,
        "status": run.status,
        "results": run.results.clone().unwrap_or_else(|| json!([])),
        "error": run.error,
    })
}

/// What a job of a run has to work with.
pub(crate) struct Context<'a> {
    pub ctx: &'a JobContext,
    pub run: SyncRun,
    pub jira: Jira,
    /// The Jira integration's id (what its cached user names are kept under).
    pub jira_id: IntegrationId,
    pub jira_settings: crate::trackers::jira::JiraSettings,
    pub confluence: Confluence,
    /// How many calls the run keeps in flight against Jira and against Confluence.
    pub jira_in_flight: usize,
    pub confluence_in_flight: usize,
    /// Out of retries: a step that would be retried fails instead, so the run ends.
    pub last_attempt: bool,
}

impl Context<'_> {
    fn tenant(&self) -> &TenantId {
        &self.ctx.job.tenant_id
    }

    pub fn store(&self) -> &Store {
        &self.ctx.store
    }

    /// The journaled step, if it was completed before.
    pub async fn done(&self, step: &str) -> Result<Option<crate::store::SyncChange>, JobError> {
        self.store().sync_change(&self.run.id, step).await.map_err(retry)
    }

    /// Every step the run's journal holds, by step: one read instead of one per step.
    pub async fn journaled(&self) -> Result<HashMap<String, crate::store::SyncChange>, JobError> {
        let changes = self.store().sync_changes(&self.run.id).await.map_err(retry)?;
        Ok(changes.into_iter().map(|change| (change.step.clone(), change)).collect())
    }

    pub async fn journal(&self, change: NewChange<'_>) -> Result<(), JobError> {
        self.store().record_sync_change(&self.run.id, &change).await.map_err(retry)?;
        Ok(())
    }

    /// A step's failure: a retryable one is retried unless the run is out of attempts;
    /// `Ok(message)` is a failure to record for the step.
    pub fn settle(&self, e: JobError) -> Result<String, JobError> {
        match e {
            JobError::Permanent(m) | JobError::Gone(m) => Ok(m),
            JobError::Retry(m) | JobError::RetryAfter { message: m, .. } if self.last_attempt => Ok(m),
            other => Err(other),
        }
    }
}

fn retry(e: StoreError) -> JobError {
    JobError::Retry(e.to_string())
}

/// Loads the run and the project's Jira and Confluence for a job; `None` when the run
/// has already ended.
pub(crate) async fn context<'a>(
    shared: &Shared,
    ctx: &'a JobContext,
    run_id: &str,
) -> Result<Option<Context<'a>>, JobError> {
    let tenant = &ctx.job.tenant_id;
    let run = ctx
        .store
        .sync_run(tenant, run_id)
        .await
        .map_err(retry)?
        .ok_or_else(|| JobError::Permanent(format!("sync run {run_id} does not exist")))?;
    if run.status != SyncRunStatus::Running {
        return Ok(None);
    }
    let connected = async |kind| {
        let id = integration(&shared.integrations, tenant, &run.project_id, kind).await.map_err(|e| match e {
            SyncError::Store(s) => retry(s),
            other => JobError::Permanent(other.to_string()),
        })?;
        shared.integrations.with_secrets(tenant, &id).await.map_err(|e| match e {
            IntegrationError::Store(s) => retry(s),
            other => JobError::Permanent(other.to_string()),
        })
    };
    let loaded = async {
        let (jira_record, jira_secrets) = connected(IntegrationType::Jira).await?;
        let (confluence_record, confluence_secrets) = connected(IntegrationType::Confluence).await?;
        let jira = Jira::new(shared.http.clone(), &jira_record.settings, &jira_secrets)?;
        let confluence = Confluence::new(shared.http.clone(), &confluence_record.settings, &confluence_secrets)?;
        let in_flight = crate::domain::integration::max_in_flight;
        let in_flight = (in_flight(&jira_record.settings), in_flight(&confluence_record.settings));
        Ok::<_, JobError>((jira, jira_record.id, jira_record.settings, confluence, in_flight))
    };
    match loaded.await {
        Ok((jira, jira_id, jira_settings, confluence, (jira_in_flight, confluence_in_flight))) => Ok(Some(Context {
            jira_settings: crate::trackers::jira::JiraSettings::read(&jira_settings),
            jira_in_flight,
            confluence_in_flight,
            ctx,
            last_attempt: ctx.job.attempts >= ctx.job.max_attempts,
            run,
            jira,
            jira_id,
            confluence,
        })),
        Err(JobError::Permanent(m) | JobError::Gone(m)) => {
            // The run cannot start at all: it ends failed, visibly.
            ctx.store.finish_sync_run(tenant, run_id, Err(&m)).await.map_err(retry)?;
            Err(JobError::Permanent(m))
        }
        Err(other) => Err(other),
    }
}

/// Ends the run with `results`.
pub(crate) async fn finish(c: &Context<'_>, results: &Value) -> Result<(), JobError> {
    c.store().finish_sync_run(c.tenant(), &c.run.id, Ok(results)).await.map_err(retry)
}

/// Ends the run as failed (a whole-run failure, such as Confluence refusing the credentials).
pub(crate) async fn fail(c: &Context<'_>, e: JobError) -> Result<(), JobError> {
    match c.settle(e) {
        Ok(message) => {
            c.store().finish_sync_run(c.tenant(), &c.run.id, Err(&message)).await.map_err(retry)?;
            Err(JobError::Permanent(message))
        }
        Err(retry) => Err(retry),
    }
}
