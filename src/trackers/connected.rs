//! The trackers a job works with: an integration's record and secrets read, its adapter
//! built. Shared by the task service (changes written to trackers) and sync (polls,
//! imports, undo); the adapters themselves only talk to their tracker.

use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;

use serde_json::json;

use super::jira::Jira;
use super::taiga::{Sessions, Taiga};
use super::zendesk::Zendesk;
use super::{External, Tracker};
use crate::domain::id::{IntegrationId, TenantId};
use crate::domain::integration::IntegrationType;
use crate::integrations::in_flight::InFlight;
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
    in_flight: InFlight,
}

impl Trackers {
    pub fn new(integrations: Integrations, http: reqwest::Client) -> Arc<Self> {
        Arc::new(Trackers { integrations, http, sessions: Arc::default(), in_flight: InFlight::default() })
    }

    /// A turn to write to the tracker of `record` (its `max_in_flight` at once).
    pub async fn slot(&self, record: &IntegrationRecord) -> Option<OwnedSemaphorePermit> {
        self.in_flight.slot(record).await
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
