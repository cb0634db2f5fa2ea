//! The trackers a job works with: an integration's record and secrets read, its adapter
//! built. Shared by the task service (changes written to trackers) and sync (polls,
//! imports, undo); the adapters themselves only talk to their tracker.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use serde_json::json;

use super::jira::Jira;
use super::taiga::{Sessions, Taiga};
use super::zendesk::Zendesk;
use super::{External, Tracker};
use crate::domain::id::{IntegrationId, TenantId};
use crate::domain::integration::{IntegrationType, max_in_flight};
use crate::integrations::{IntegrationError, Integrations};
use crate::jobs::JobError;
use crate::store::StoreError;
use crate::store::integrations::IntegrationRecord;

/// The integration types that are trackers tasks are pushed to.
pub fn is_tracker(kind: IntegrationType) -> bool {
    matches!(kind, IntegrationType::Taiga | IntegrationType::Jira | IntegrationType::Zendesk)
}

/// What opening a tracker takes; one per instance (Taiga's sessions are cached in it).
pub struct Trackers {
    pub integrations: Integrations,
    pub http: reqwest::Client,
    sessions: Arc<Sessions>,
    slots: Mutex<HashMap<IntegrationId, (usize, Arc<Semaphore>)>>,
}

impl Trackers {
    pub fn new(integrations: Integrations, http: reqwest::Client) -> Arc<Self> {
        Arc::new(Trackers { integrations, http, sessions: Arc::default(), slots: Mutex::default() })
    }

    /// A turn to write to the tracker of `record`: at most its `max_in_flight` writes run at
    /// once in this instance, however many workers have one queued, so that many workers
    /// hide a slow tracker's latency without flooding it.
    pub async fn slot(&self, record: &IntegrationRecord) -> Option<OwnedSemaphorePermit> {
        let size = max_in_flight(&record.settings);
        let semaphore = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            let entry = slots.entry(record.id.clone()).or_insert_with(|| (size, Arc::new(Semaphore::new(size))));
            // A changed limit takes effect for new writes; those in flight finish on the old one.
            if entry.0 != size {
                *entry = (size, Arc::new(Semaphore::new(size)));
            }
            entry.1.clone()
        };
        // Never closed, so this only waits (`None` would mean no limit).
        semaphore.acquire_owned().await.ok()
    }
}

pub fn store_failure(e: StoreError) -> JobError {
    match e {
        StoreError::NotFound => JobError::Permanent("the task or its integration no longer exists".into()),
        other => JobError::Retry(other.to_string()),
    }
}

pub async fn with_secrets(
    shared: &Trackers,
    tenant: &TenantId,
    integration_id: &IntegrationId,
) -> Result<(IntegrationRecord, serde_json::Map<String, serde_json::Value>), JobError> {
    shared.integrations.with_secrets(tenant, integration_id).await.map_err(|e| match e {
        IntegrationError::Store(s) => store_failure(s),
        other => JobError::Permanent(other.to_string()),
    })
}

pub fn tracker_for(
    shared: &Trackers,
    record: &IntegrationRecord,
    secrets: &serde_json::Map<String, serde_json::Value>,
) -> Result<Box<dyn Tracker>, JobError> {
    match record.kind {
        IntegrationType::Taiga => Ok(Box::new(Taiga::new(
            shared.http.clone(),
            &record.id,
            &record.settings,
            secrets,
            shared.sessions.clone(),
        )?)),
        IntegrationType::Jira => Ok(Box::new(Jira::new(shared.http.clone(), &record.settings, secrets)?)),
        IntegrationType::Zendesk => Ok(Box::new(Zendesk::new(shared.http.clone(), &record.settings, secrets)?)),
        other => Err(JobError::Permanent(format!("{} is not a tracker", other.as_str()))),
    }
}

/// An item as a run's journal keeps it.
pub fn journaled(record: &IntegrationRecord, item: &External) -> serde_json::Value {
    json!({"tracker": record.kind.as_str(), "integration_id": record.id, "external_id": item.id,
           "external_ref": item.reference, "url": item.url, "title": item.title, "status": item.status})
}

/// Reaches the tracker with the integration's credentials (`taskbridge doctor`): the first
/// page of its items, as a poll would read them (Confluence: the current user). What it
/// answered in words, or why it could not be reached.
pub async fn check(
    integrations: &Integrations,
    http: &reqwest::Client,
    record: &IntegrationRecord,
    secrets: &serde_json::Map<String, serde_json::Value>,
) -> Result<String, String> {
    let kind = record.kind.as_str();
    if record.kind == IntegrationType::Confluence {
        let access = super::atlassian::Access::new("confluence", "confluence", &record.settings, secrets)
            .map_err(|e| format!("{kind}: {e}"))?;
        let base = if access.api.ends_with("/wiki") { access.api.clone() } else { format!("{}/wiki", access.api) };
        let request = access.authorize(http.get(format!("{base}/rest/api/user/current")));
        let me = crate::outbound::check_call("Confluence", request).await?;
        return Ok(format!("Confluence answers: signed in as {}", me["displayName"].as_str().unwrap_or("?")));
    }
    let shared = Trackers::new(integrations.clone(), http.clone());
    let tracker = tracker_for(&shared, record, secrets).map_err(|e| format!("{kind}: {e}"))?;
    let listing = tracker.list(None).await.map_err(|e| format!("{kind} cannot be read: {e}"))?;
    Ok(format!("{kind} answers: {} items on the first page", listing.items.len()))
}
