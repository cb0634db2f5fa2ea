//! What undoing a run would put back, read from its journal before anything is done, so a
//! person can confirm it: the same changes the undo jobs invert (`undo`, `tracker_undo`).

use crate::domain::id::TenantId;
use crate::domain::integration::{IntegrationStatus, IntegrationType};
use crate::domain::sync_run::{SyncRunKind, SyncRunStatus};
use crate::integrations::Integrations;
use crate::store::{Store, SyncChange, SyncRun};
use crate::trackers::jira::JiraSettings;

use super::SyncError;

/// One thing an undo would restore: where, which item, and what becomes of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restoration {
    /// `confluence-page`, `jira-issue`, or the tracker (`taiga`, `jira`, `zendesk`).
    pub target: String,
    /// The page id, issue key or item reference.
    pub reference: String,
    /// What the undo does to it, in words ("back to version 3", "moved to Backlog").
    pub becomes: String,
}

/// What undoing `run` would restore. Refused as the undo itself would be (`NotUndoable`)
/// for a run that is not a finished task sync, project mirror or tracker run.
pub async fn undo_preview(
    store: &Store,
    integrations: &Integrations,
    tenant_id: &TenantId,
    run: &SyncRun,
) -> Result<Vec<Restoration>, SyncError> {
    let undoable = run.status == SyncRunStatus::Done
        && (run.kind.is_tracker_run() || matches!(run.kind, SyncRunKind::ConfluenceTasks | SyncRunKind::JiraProject));
    if !undoable {
        return Err(SyncError::NotUndoable {
            id: run.id.clone(),
            kind: run.kind.as_str().to_string(),
            status: run.status.as_str().to_string(),
        });
    }
    let changes = store.sync_changes(&run.id).await?;
    let undo_status = match run.kind {
        SyncRunKind::ConfluenceTasks => jira_undo_status(integrations, tenant_id, run).await?,
        _ => String::new(),
    };
    Ok(restorations(run.kind, &changes, &undo_status))
}

/// The status a task sync's issues go back to: the project's Jira's `undo_status`.
async fn jira_undo_status(
    integrations: &Integrations,
    tenant_id: &TenantId,
    run: &SyncRun,
) -> Result<String, SyncError> {
    let jira = integrations
        .list(tenant_id, &run.project_id)
        .await?
        .into_iter()
        .find(|i| i.kind == IntegrationType::Jira && i.status == IntegrationStatus::Active)
        .ok_or(SyncError::NotConnected(IntegrationType::Jira.as_str()))?;
    Ok(JiraSettings::read(&jira.settings).undo_status.unwrap_or_else(|| "Backlog".into()))
}

/// The journal's changes as their undo would invert them.
fn restorations(kind: SyncRunKind, changes: &[SyncChange], undo_status: &str) -> Vec<Restoration> {
    let restore = |c: &SyncChange, becomes: String| Restoration {
        target: c.target.clone(),
        reference: c.reference.clone(),
        becomes,
    };
    let version_before = |c: &SyncChange| c.before.as_ref().and_then(|b| b["version"].as_i64());
    changes
        .iter()
        .filter_map(|c| match (kind, c.action.as_str()) {
            (SyncRunKind::ConfluenceTasks, "rewrite") => {
                version_before(c).map(|v| restore(c, format!("back to version {v}, as before the run")))
            }
            (SyncRunKind::ConfluenceTasks, "create") => Some(restore(c, format!("moved to {undo_status}"))),
            (SyncRunKind::JiraProject, "create") => Some(restore(c, "deleted (the run made it)".into())),
            (SyncRunKind::JiraProject, "update") => {
                version_before(c).map(|v| restore(c, format!("back to version {v}, as before the run")))
            }
            (SyncRunKind::TrackerPush, "created") => Some(restore(c, "deleted (the run made it)".into())),
            (SyncRunKind::TrackerTransition, "transitioned") => {
                let status = c.before.as_ref().and_then(|b| b["status"].as_str()).unwrap_or("its status before");
                Some(restore(c, format!("moved back to {status}")))
            }
            (SyncRunKind::TrackerUpdate, "updated") => Some(restore(c, "its fields put back as before the run".into())),
            (SyncRunKind::TrackerComment, "commented") => Some(restore(c, "the comment taken back".into())),
            _ => None, // failed steps changed nothing
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn change(target: &str, reference: &str, action: &str, before: Option<serde_json::Value>) -> SyncChange {
        SyncChange {
            step: format!("{action}:{reference}"),
            seq: 1,
            target: target.into(),
            reference: reference.into(),
            action: action.into(),
            before,
            after: None,
            created_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_task_sync_restores_its_pages_and_moves_its_issues_but_not_what_failed() {
        let journal = [
            change("jira-issue", "WP-7", "create", None),
            change("jira-issue", "page 101 task 1", "failed", None),
            change("confluence-page", "100", "rewrite", Some(json!({"version": 1}))),
        ];
        let restored = restorations(SyncRunKind::ConfluenceTasks, &journal, "Open");
        let words: Vec<(&str, &str)> = restored.iter().map(|r| (r.reference.as_str(), r.becomes.as_str())).collect();
        assert_eq!(words, [("WP-7", "moved to Open"), ("100", "back to version 1, as before the run")]);
    }

    #[test]
    fn a_mirror_deletes_what_it_made_and_a_tracker_run_puts_its_item_back() {
        let mirror = [
            change("confluence-page", "300", "create", None),
            change("confluence-page", "301", "update", Some(json!({"version": 4}))),
        ];
        let restored = restorations(SyncRunKind::JiraProject, &mirror, "");
        assert_eq!(restored[0].becomes, "deleted (the run made it)");
        assert_eq!(restored[1].becomes, "back to version 4, as before the run");
        let moved = [change("taiga", "#12", "transitioned", Some(json!({"status": "New"})))];
        assert_eq!(restorations(SyncRunKind::TrackerTransition, &moved, "")[0].becomes, "moved back to New");
        let pushed = [change("zendesk", "ZD-1", "created", None)];
        assert_eq!(restorations(SyncRunKind::TrackerPush, &pushed, "")[0].becomes, "deleted (the run made it)");
    }
}
