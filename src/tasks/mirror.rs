//! The one rule for a change made in a tracker, whether its webhook told of it or a poll
//! found it: the linked task takes the item's status, and its assignee when the tracker
//! says, unless the task was changed here after the tracker changed the item (that change
//! is on its way there and wins). The tracker the change came from is not sent it back.

use chrono::{DateTime, Utc};

use crate::domain::id::{IntegrationId, TenantId};
use crate::domain::task::{Task, TaskPatch, TaskStatus};
use crate::store::{Store, StoreError};

/// What a tracker says its item now is.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackerChange {
    pub status: TaskStatus,
    /// The new assignee (`Some(None)`: unassigned), when the tracker says.
    pub assignee: Option<Option<String>>,
    /// When the tracker changed the item, when it says.
    pub changed_at: Option<DateTime<Utc>>,
}

/// What mirroring a change did.
#[derive(Debug, Clone, PartialEq)]
pub enum Mirrored {
    /// The linked task took the change (and is queued to go to its other trackers).
    Changed,
    /// The task already says so, was changed here since, or is gone.
    Unchanged,
    /// No task here is linked to the item.
    NotLinked,
}

/// The patch the change makes to `task`, if any.
pub fn patch_for(task: &Task, change: &TrackerChange) -> Option<TaskPatch> {
    if change.changed_at.is_some_and(|at| at <= task.updated_at) {
        return None;
    }
    let mut patch = TaskPatch::default();
    if task.status != change.status {
        patch.status = Some(change.status);
    }
    if let Some(assignee) = change.assignee.clone().filter(|a| *a != task.assigned_to) {
        patch.assigned_to = Some(assignee);
    }
    (patch.status.is_some() || patch.assigned_to.is_some()).then_some(patch)
}

/// Mirrors a change of item `external_id` in tracker `integration_id` to the task linked to it.
pub async fn mirror(
    store: &Store,
    tenant_id: &TenantId,
    integration_id: &IntegrationId,
    external_id: &str,
    change: &TrackerChange,
) -> Result<Mirrored, StoreError> {
    let Some(task_id) = store.linked_task(tenant_id, integration_id, external_id).await? else {
        return Ok(Mirrored::NotLinked);
    };
    let task = match store.get_task(tenant_id, &task_id).await {
        Ok(task) => task,
        Err(StoreError::NotFound) => return Ok(Mirrored::Unchanged),
        Err(e) => return Err(e),
    };
    let Some(patch) = patch_for(&task, change) else { return Ok(Mirrored::Unchanged) };
    super::update_task(store, tenant_id, &task_id, &patch, Some(integration_id)).await?;
    tracing::info!(%task_id, %integration_id, "task changed in the tracker");
    Ok(Mirrored::Changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000 + s, 0).expect("time")
    }

    fn task(status: TaskStatus, assigned_to: Option<&str>) -> Task {
        crate::domain::task::fixture(status, assigned_to, at(100))
    }

    fn change(status: TaskStatus, assignee: Option<Option<&str>>, changed_at: Option<i64>) -> TrackerChange {
        TrackerChange { status, assignee: assignee.map(|a| a.map(str::to_string)), changed_at: changed_at.map(at) }
    }

    #[test]
    fn a_task_takes_a_different_status_and_the_assignee_the_tracker_names() {
        let todo = task(TaskStatus::Todo, Some("ana"));
        let patch = patch_for(&todo, &change(TaskStatus::Done, Some(Some("bo")), None)).expect("a change");
        assert_eq!((patch.status, patch.assigned_to), (Some(TaskStatus::Done), Some(Some("bo".into()))));
        let patch = patch_for(&todo, &change(TaskStatus::Todo, Some(None), None)).expect("unassigned");
        assert_eq!((patch.status, patch.assigned_to), (None, Some(None)));
        let patch = patch_for(&todo, &change(TaskStatus::Done, None, Some(150))).expect("a later status");
        assert_eq!((patch.status, patch.assigned_to), (Some(TaskStatus::Done), None));
    }

    #[test]
    fn nothing_changes_when_the_task_says_so_already_or_changed_here_since() {
        let todo = task(TaskStatus::Todo, Some("ana"));
        assert!(patch_for(&todo, &change(TaskStatus::Todo, None, None)).is_none());
        assert!(patch_for(&todo, &change(TaskStatus::Todo, Some(Some("ana")), Some(150))).is_none());
        // Changed here after the tracker changed the item: this change is on its way there.
        assert!(patch_for(&todo, &change(TaskStatus::Done, Some(Some("bo")), Some(100))).is_none());
        assert!(patch_for(&todo, &change(TaskStatus::Done, None, Some(50))).is_none());
    }
}
